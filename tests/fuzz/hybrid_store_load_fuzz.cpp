// libFuzzer target: HybridStore::open on files made from the input: arbitrary bytes, and valid
// images with bits flipped, bytes set, truncated or extended, with or without their checksums
// recomputed. Whatever opens must behave as a map; whatever does not must throw
// memkv::format_error (CONTRACT: never a crash, an out-of-bounds read, a hang or UB).
//
// Build and run (from the repository root; .ci/fuzz.sh does both for every target):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/hybrid_store_load_fuzz.cpp -o build-fuzz/hybrid_store_load_fuzz
//   mkdir -p build-fuzz/corpus/hybrid_store_load
//   build-fuzz/hybrid_store_load_fuzz -max_total_time=600 -max_len=8192 -timeout=10 \
//     -rss_limit_mb=2048 build-fuzz/corpus/hybrid_store_load tests/fuzz/hybrid_store_load
//
// Input byte 0 (the mode) and the rest:
//   0x00..0x3f  the rest is the file, as is
//   0x40..0x7f  the rest is the file; its outer checksums (and, when bit 0x20 is set, the
//               header checksum of the FST image inside at offset 64) are recomputed first, so
//               mutations reach the structural checks
//   0x80..0xff  a valid image is built: (mode & 7) mutations of 4 bytes each follow
//               [kind, position lo, position hi, argument], then keys separated by '\n' (at most
//               256; values are their positions; the key "\x01erase" ... see build_image). The
//               image is saved, mutated (kind % 4: flip bit argument % 8 at position, set the byte
//               at position to argument, truncate to position, append argument bytes), its
//               checksums recomputed when mode & 0x40 (the FST's too when mode & 0x20), and opened.
//               Unmutated: the store must equal the keys exactly. Mutated with stale checksums:
//               open must throw. Mode bit 0x08: the image is a FrontCodedHybridStore's (else a
//               HybridStore's over a FrozenLayer); the other kind of store must refuse it.
//               Modes below 0x80 open the bytes as both kinds of store.
// The file lives in /dev/shm when it exists (no disk traffic per input), else the temp directory.
#include "clang14_ranges_compat.hpp"  // first: the clang-14 std::ranges workaround

#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "memkv/hybrid_store.hpp"

namespace {

using FstStore = memkv::HybridStore<>;
using FcStore = memkv::FrontCodedHybridStore<>;

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "hybrid_store_load_fuzz: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

const std::filesystem::path& file_path() {
  static const std::filesystem::path p = [] {
    std::error_code ec;
    std::filesystem::path dir = std::filesystem::is_directory("/dev/shm", ec)
                                    ? std::filesystem::path("/dev/shm")
                                    : std::filesystem::temp_directory_path();
    return dir / ("memkv_hybrid_load_fuzz." + std::to_string(::getpid()) + ".hyb");
  }();
  static const bool cleanup = [] {  // libFuzzer exits through exit(): remove the file then
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove(file_path(), ec);
    });
    return true;
  }();
  (void)cleanup;
  return p;
}

void write_file(const std::vector<std::byte>& bytes) {
  std::ofstream out(file_path(), std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  if (!out) fail("cannot write " + file_path().string());
}

std::vector<std::byte> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::vector<char> c((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::vector<std::byte> b(c.size());
  if (!c.empty()) std::memcpy(b.data(), c.data(), c.size());
  return b;
}

// Recomputes the length and both checksums of the 48-byte memkv header at image[at, at + len).
void fix_header(std::vector<std::byte>& img, std::size_t at, std::size_t len) {
  using namespace memkv::io;
  if (at > img.size() || len > img.size() - at || len < image_header_size) return;
  const std::span<const std::byte> whole(img.data() + at, len);
  store_le<std::uint64_t>(img.data() + at + 16, len);
  store_le<std::uint64_t>(img.data() + at + 32, checksum64(whole.subspan(image_header_size)));
  store_le<std::uint64_t>(img.data() + at + 40, checksum64(whole.first(40)));
}

// The FST image inside a HybridStore file: [48-byte header][u64 fst_bytes][u64 value size][FST].
void fix_checksums(std::vector<std::byte>& img, bool inner) {
  using namespace memkv::io;
  if (inner && img.size() >= image_header_size + 16) {
    const std::uint64_t fst = load_le<std::uint64_t>(img.data() + image_header_size);
    const std::size_t at = image_header_size + 16;
    if (fst <= img.size() - at) fix_header(img, at, static_cast<std::size_t>(fst));
  }
  fix_header(img, 0, img.size());
}

// The store opened without error: it must answer as a map (any query on a corrupt-but-accepted
// image may still throw format_error, as FrozenLayer's do).
template <class Store>
void exercise(Store& s, const std::map<std::string, std::uint64_t>* expect) {
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  for (auto e : s) {
    if (!seen.empty() && !(seen.back().first < e.key)) fail("iteration not strictly increasing");
    seen.emplace_back(std::string(e.key), e.value);
    if (seen.size() > (std::size_t{1} << 20)) fail("iteration does not end");
  }
  if (seen.size() != s.size()) {
    fail("size() is " + std::to_string(s.size()) + ", iteration gives " + std::to_string(seen.size()));
  }
  if (expect != nullptr) {
    if (seen.size() != expect->size()) fail("the intact image lost or gained keys");
    auto it = expect->begin();
    for (auto& [k, v] : seen) {
      if (k != it->first || v != it->second) fail("the intact image changed a key or a value");
      ++it;
    }
  }
  for (auto& [k, v] : seen) {
    const std::optional<std::uint64_t> g = s.get(k);
    if (!g || *g != v) fail("get() disagrees with iteration");
    auto lb = s.lower_bound(k);
    if (lb == s.end() || (*lb).key != k) fail("lower_bound(key) is not the key");
  }
  if (!seen.empty()) {
    const std::string& first = seen.front().first;
    auto r = s.prefix(first);
    if (r.begin() == r.end() || (*r.begin()).key != first) fail("prefix(first key) misses it");
  }
  s.check_invariants();
  // Mutations on top of the loaded base, then a merge, checked against a std::map.
  std::map<std::string, std::uint64_t> ref(seen.begin(), seen.end());
  const std::string fresh = "\xff\xff-fuzz-new";
  if (s.insert(fresh, 7) != ref.emplace(fresh, 7).second) fail("insert() on the loaded store");
  const std::string first = seen.empty() ? std::string() : seen.front().first;
  if (s.erase(first) != (ref.erase(first) != 0)) fail("erase() on the loaded store");
  if (!seen.empty()) {
    s.insert_or_assign(seen.back().first, 9);
    ref.insert_or_assign(seen.back().first, 9);
  }
  s.merge();
  s.check_invariants();
  if (s.size() != ref.size()) fail("size after insert/erase/merge is wrong");
  auto it = ref.begin();
  for (auto e : s) {
    if (it == ref.end() || e.key != it->first || e.value != it->second) {
      fail("the merged store differs from the reference");
    }
    ++it;
  }
}

template <class Store>
void open_and_check(const std::vector<std::byte>& file, bool must_throw,
                    const std::map<std::string, std::uint64_t>* expect) {
  write_file(file);
  std::optional<Store> s;
  try {
    s.emplace(Store::open(file_path()));
  } catch (const memkv::format_error&) {
    return;
  } catch (const std::exception& e) {
    fail(std::string("open threw something other than format_error: ") + e.what());
  }
  if (must_throw) fail("a mutated image with stale checksums opened");
  try {
    exercise(*s, expect);
  } catch (const memkv::format_error&) {
    if (expect != nullptr) fail("an intact image threw format_error on use");
  }
}

template <class Store>
void save_store(const std::map<std::string, std::uint64_t>& keys) {
  Store s;
  for (auto& [k, v] : keys) s.insert(k, v);
  s.save(file_path());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t mode = data[0];
  const auto* rest = reinterpret_cast<const std::byte*>(data + 1);
  std::size_t n = size - 1;
  if (mode < 0x80) {
    std::vector<std::byte> file(rest, rest + n);
    if (mode >= 0x40) fix_checksums(file, (mode & 0x20) != 0);
    open_and_check<FstStore>(file, false, nullptr);
    open_and_check<FcStore>(file, false, nullptr);
    return 0;
  }
  // Build a valid image from keys, then mutate it.
  const std::size_t mutations = mode & 7;
  if (n < 4 * mutations) return 0;
  const std::uint8_t* muts = data + 1;
  const std::string_view text(reinterpret_cast<const char*>(data + 1 + 4 * mutations),
                              n - 4 * mutations);
  std::map<std::string, std::uint64_t> keys;
  std::size_t pos = 0, i = 0;
  while (pos <= text.size() && keys.size() < 256) {
    std::size_t stop = text.find('\n', pos);
    if (stop == std::string_view::npos) stop = text.size();
    keys.emplace(std::string(text.substr(pos, stop - pos)), i++ * 0x9e3779b97f4a7c15ULL);
    pos = stop + 1;
  }
  const bool front_coded = (mode & 0x08) != 0;
  if (front_coded)
    save_store<FcStore>(keys);
  else
    save_store<FstStore>(keys);
  std::vector<std::byte> file = read_file(file_path());
  const std::vector<std::byte> original = file;
  for (std::size_t m = 0; m < mutations; ++m) {
    const std::uint8_t kind = muts[4 * m] % 4;
    const std::size_t at = muts[4 * m + 1] | (std::size_t{muts[4 * m + 2]} << 8);
    const std::uint8_t arg = muts[4 * m + 3];
    if (file.empty()) break;
    switch (kind) {
      case 0: file[at % file.size()] ^= std::byte{static_cast<unsigned char>(1u << (arg % 8))}; break;
      case 1: file[at % file.size()] = std::byte{arg}; break;
      case 2: file.resize(at % file.size()); break;
      default: file.insert(file.end(), arg, std::byte{static_cast<unsigned char>(at)}); break;
    }
  }
  if ((mode & 0x40) != 0) fix_checksums(file, (mode & 0x20) != 0);
  const bool intact = file == original;
  const bool must_throw = !intact && (mode & 0x40) == 0;
  // The other kind of store must refuse the file while its magic (bytes 0..7) is unchanged.
  const bool magic_kept = file.size() >= 8 && std::equal(file.begin(), file.begin() + 8, original.begin());
  if (front_coded) {
    open_and_check<FcStore>(file, must_throw, intact ? &keys : nullptr);
    open_and_check<FstStore>(file, magic_kept, nullptr);
  } else {
    open_and_check<FstStore>(file, must_throw, intact ? &keys : nullptr);
    open_and_check<FcStore>(file, magic_kept, nullptr);
  }
  return 0;
}
