// libFuzzer target: FrozenLayer loading (from_bytes, without the checksum) and every query on
// whatever loads; also the builder, on key sets decoded from the same bytes.
//
// Build and run (from the repository root; clang-14 + libfuzzer-14-dev):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/frozen_layer_fuzz.cpp -o build-fst/frozen_layer_fuzz
//   mkdir -p build-fst/fst-corpus
//   build-fst/frozen_layer_fuzz -max_total_time=600 -max_len=8192 -timeout=10 -rss_limit_mb=2048 \
//     build-fst/fst-corpus tests/fuzz/frozen_layer
// The seed corpus tests/fuzz/frozen_layer/ holds small valid images (rank values, packed values,
// empty, long chains, wide states) and is regenerated with
//   build-fst/frozen_layer_fuzz -memkv_write_seeds=tests/fuzz/frozen_layer
//
// Input: byte 0 selects the mode. Mode 0..191 (most inputs): the rest is an image; the payload
// checksum is not verified (image_check::structure) so mutations reach the structural checks, and
// the 48-byte header's own checksum and the payload checksum are recomputed first so that
// mutations are not all rejected there. What is checked: loading throws memkv::format_error or
// yields a map whose iteration gives strictly increasing keys with ranks 0, 1, 2, ..., whose
// size matches, and whose get/get_many/rank/lower_bound/nth agree with that iteration (any of them may
// throw format_error instead). Modes 192..255: the rest is a list of keys (split at byte 0x0a),
// built with a tiny registry and compared with std::map. Sanitizers catch out-of-bounds reads
// and undefined behaviour; -timeout catches hangs.
// prefix() and range() are not called: their std::ranges::subrange return type does not compile
// with clang-14 against libstdc++ 12 (llvm/llvm-project#44178); they are two lower_bound() calls.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memkv/frozen_layer.hpp"

namespace {

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "frozen_layer_fuzz: %s\n", what);
  std::abort();
}

void fix_checksums(std::vector<std::byte>& img) {
  using namespace memkv::io;
  if (img.size() < image_header_size) return;
  store_le<std::uint64_t>(img.data() + 16, img.size());
  store_le<std::uint64_t>(img.data() + 32,
                          checksum64(std::span<const std::byte>(img).subspan(image_header_size)));
  store_le<std::uint64_t>(img.data() + 40, checksum64(std::span<const std::byte>(img).first(40)));
}

// get_many over the keys seen and a neighbour of each: the answers of get(), or format_error
// from both.
void check_get_many(const memkv::FrozenLayer& f, const std::vector<std::pair<std::string, std::uint64_t>>& seen) {
  std::vector<std::string> keys;
  for (const auto& kv : seen) {
    keys.push_back(kv.first);
    keys.push_back(kv.first + '\x02');
  }
  keys.push_back("https://github.com/");
  std::vector<std::string_view> views(keys.begin(), keys.end());
  std::vector<std::optional<std::uint64_t>> want(views.size()), got(views.size());
  bool throws = false;
  for (std::size_t i = 0; i < views.size(); ++i) {
    try {
      want[i] = f.get(views[i]);
    } catch (const memkv::format_error&) {
      throws = true;
    }
  }
  try {
    f.get_many(views, got);
  } catch (const memkv::format_error&) {
    if (!throws) fail("get_many throws where get does not");
    return;
  }
  if (throws) fail("get_many answers where get throws");
  if (got != want) fail("get_many disagrees with get");
  // rank_many against rank
  bool rank_throws = false;
  for (std::size_t i = 0; i < views.size(); ++i) {
    try {
      want[i] = f.rank(views[i]);
    } catch (const memkv::format_error&) {
      rank_throws = true;
    }
  }
  try {
    f.rank_many(views, got);
  } catch (const memkv::format_error&) {
    if (!rank_throws) fail("rank_many throws where rank does not");
    return;
  }
  if (rank_throws) fail("rank_many answers where rank throws");
  if (got != want) fail("rank_many disagrees with rank");
}

void check_loaded(const memkv::FrozenLayer& f) {
  std::vector<std::pair<std::string, std::uint64_t>> seen;
  std::uint64_t expect = 0;
  for (auto it = f.begin(); it != f.end(); ++it) {
    if (it.index() != expect) fail("rank out of sequence");
    if (!seen.empty() && !(seen.back().first < it->key)) fail("keys not increasing");
    seen.emplace_back(std::string(it->key), it->value);
    ++expect;
    if (seen.size() > 100000) return;
  }
  if (seen.size() != f.size()) fail("iteration count differs from size()");
  for (std::size_t i = 0; i < seen.size(); ++i) {
    const auto& [k, v] = seen[i];
    if (f.get(k) != v) fail("get disagrees with iteration");
    if (f.rank(k) != i) fail("rank disagrees with iteration");
    auto lb = f.lower_bound(k);
    if (lb == f.end() || lb->key != k) fail("lower_bound(key) is not key");
    auto nt = f.nth(i);
    if (nt == f.end() || nt->key != k) fail("nth disagrees with iteration");
    std::string past = k + '\x01';
    auto lb2 = f.lower_bound(past);
    if (i + 1 < seen.size()) {
      if (lb2 == f.end() || lb2->key < past) fail("lower_bound past key too small");
    }
    if (!f.contains(k)) fail("contains disagrees");
  }
  check_get_many(f, seen);
}

void run_image(const std::byte* p, std::size_t n) {
  std::vector<std::byte> img(p, p + n);
  fix_checksums(img);
  try {
    memkv::FrozenLayer f = memkv::FrozenLayer::from_bytes(img, memkv::image_check::structure);
    try {
      check_loaded(f);
    } catch (const memkv::format_error&) {
    }
    try {
      (void)f.get("https://github.com/");
      (void)f.lower_bound("m");
      (void)f.contains(std::string_view("\0\xff", 2));
      f.check_invariants();
    } catch (const memkv::format_error&) {
    }
  } catch (const memkv::format_error&) {
  }
}

void run_keys(const std::byte* p, std::size_t n) {
  std::map<std::string, std::uint64_t> m;
  std::string cur;
  std::uint64_t i = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const char c = static_cast<char>(p[j]);
    if (c == '\n') {
      m[cur] = (i++ * 0x9e3779b97f4a7c15ULL) >> (static_cast<unsigned>(p[0]) & 63u);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  m[cur] = i;
  memkv::frozen_layer_options o;
  o.registry_cells = n % 2 ? 8 : 64;
  o.front_registry_cells = 4;  // a two-level registry with a one-bucket front
  o.sample_bytes = n % 97;
  memkv::FrozenLayerBuilder b(o);
  for (const auto& [k, v] : m) b.insert(k, v);
  memkv::FrozenLayer f = b.finish();
  f.check_invariants();
  std::size_t r = 0;
  auto it = f.begin();
  for (const auto& [k, v] : m) {
    if (it == f.end() || it->key != k || it->value != v) fail("built map differs from std::map");
    if (f.get(k) != v || f.rank(k) != r) fail("built map lookup differs");
    ++it;
    ++r;
  }
  check_get_many(f, std::vector<std::pair<std::string, std::uint64_t>>(m.begin(), m.end()));
  memkv::FrozenLayer g = memkv::FrozenLayer::from_bytes(f.bytes());
  if (g.size() != m.size()) fail("reloaded size differs");
}

std::vector<std::vector<std::pair<std::string, std::uint64_t>>> seed_sets() {
  std::vector<std::vector<std::pair<std::string, std::uint64_t>>> sets;
  sets.push_back({});
  sets.push_back({{"", 0}});
  sets.push_back({{"", 0}, {"a", 1}, {"ab", 2}, {"abc", 3}, {"b", 4}});
  sets.push_back({{"apple", 17}, {"apricot", 3}, {"banana", 99999}, {"band", 5}});
  std::vector<std::pair<std::string, std::uint64_t>> wide;
  for (int c = 0; c < 256; ++c) wide.push_back({std::string(1, static_cast<char>(c)) + "x", static_cast<std::uint64_t>(c)});
  sets.push_back(wide);
  std::vector<std::pair<std::string, std::uint64_t>> urls;
  const char* users[] = {"alice", "bob", "carol"};
  const char* repos[] = {"core", "utils", "web-utils", "zip"};
  for (auto u : users)
    for (auto r : repos) urls.push_back({std::string("https://github.com/") + u + "/" + r, 0});
  for (std::size_t i = 0; i < urls.size(); ++i) urls[i].second = i;
  sets.push_back(urls);
  auto hashed = urls;
  for (auto& kv : hashed) kv.second = std::hash<std::string>{}(kv.first);
  sets.push_back(hashed);
  sets.push_back({{std::string(300, 'z'), 1}, {std::string(301, 'z'), 2}});
  return sets;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    const std::string a = (*argv)[i];
    const std::string flag = "-memkv_write_seeds=";
    if (a.rfind(flag, 0) != 0) continue;
    const std::filesystem::path dir = a.substr(flag.size());
    std::filesystem::create_directories(dir);
    int n = 0;
    for (const auto& set : seed_sets()) {
      memkv::frozen_layer_options o;
      o.sample_bytes = n % 2 ? 0 : 1 << 20;
      memkv::FrozenLayerBuilder b(o);
      for (const auto& [k, v] : set) b.insert(k, v);
      memkv::FrozenLayer f = b.finish();
      std::ofstream out(dir / ("seed-" + std::to_string(n++) + ".fst"), std::ios::binary);
      out.put('\0');
      out.write(reinterpret_cast<const char*>(f.bytes().data()),
                static_cast<std::streamsize>(f.bytes().size()));
    }
    std::ofstream keys(dir / "seed-keys.txt", std::ios::binary);
    keys << "\xf0" << "\nab\nabc\nb\n\xff\xff\n";
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const auto* p = reinterpret_cast<const std::byte*>(data);
  if (data[0] < 192)
    run_image(p + 1, size - 1);
  else if (size < 4096)
    run_keys(p + 1, size - 1);
  return 0;
}
