// libFuzzer target: FrontCodedIndex loading (from_bytes / view_bytes) and every query on what loads.
//
// Build and run (from the repository root; clang-14 + libfuzzer-14-dev):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/front_coded_index_fuzz.cpp -o build-fci/front_coded_index_fuzz
//   mkdir -p build-fci/fci-corpus
//   build-fci/front_coded_index_fuzz -max_total_time=300 -max_len=4096 -rss_limit_mb=2048 \
//     -timeout=10 -artifact_prefix=build-fci/ build-fci/fci-corpus tests/fuzz/front_coded_index
// The seed corpus in tests/fuzz/front_coded_index/ holds small valid images (raw and Huffman
// remainders, keys-only and 8-byte values); regenerate it with
//   build-fci/front_coded_index_fuzz -memkv_write_seeds=tests/fuzz/front_coded_index
// (handled in LLVMFuzzerInitialize below, before libFuzzer parses its flags).
//
// Checksums are turned off (verify_checksum = false) so that mutated images reach the
// structural validation; the first input byte is not special. What is checked: loading either
// throws memkv::format_error or yields an index whose iteration is strictly increasing, whose
// size matches the iteration, and whose get/rank/lower_bound/prefix/range/nth answers agree
// with that iteration. Sanitizers catch out-of-bounds reads; -timeout catches hangs.
// prefix() and range() are not called here: they return std::ranges::subrange, which clang-14
// cannot compile against libstdc++ 12 (llvm/llvm-project#44178). Both are two lower_bound()
// calls, fuzzed here, and are covered by tests/front_coded_index_test.cpp.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "memkv/front_coded_index.hpp"

namespace {

[[noreturn]] void fuzz_fail(const char* what) {
  std::fprintf(stderr, "front_coded_index_fuzz: %s\n", what);
  std::abort();
}
#define FUZZ_CHECK(cond) \
  do {                   \
    if (!(cond)) fuzz_fail(#cond); \
  } while (0)

template <class Index>
void exercise(std::span<const std::byte> data) {
  Index idx;
  try {
    idx = Index::view_bytes(data, {.verify_checksum = false});
  } catch (const memkv::format_error&) {
    return;
  }
  // iteration: strictly increasing keys, ranks 0..n-1
  std::vector<std::string> keys;
  std::vector<typename Index::mapped_type> values;
  for (auto it = idx.begin(); it != idx.end(); ++it) {
    const auto e = *it;
    FUZZ_CHECK(it.rank() == keys.size());
    if (!keys.empty()) FUZZ_CHECK(keys.back() < std::string(e.key));
    keys.emplace_back(e.key);
    values.push_back(e.value);
    FUZZ_CHECK(keys.size() <= idx.size());
  }
  FUZZ_CHECK(keys.size() == idx.size());
  // lookups of every key (bounded), and of neighbours
  const std::size_t limit = std::min<std::size_t>(keys.size(), 512);
  for (std::size_t i = 0; i < limit; ++i) {
    const std::string& k = keys[i];
    const auto got = idx.get(k);
    FUZZ_CHECK(got.has_value());
    FUZZ_CHECK(std::memcmp(&*got, &values[i], sizeof(*got)) == 0);
    FUZZ_CHECK(idx.rank(k) == std::optional<std::size_t>(i));
    FUZZ_CHECK(idx.nth(i).first == k);
    FUZZ_CHECK(idx.lower_bound(k).rank() == i);
    const std::string longer = k + '\0';
    FUZZ_CHECK(!idx.contains(longer) || (i + 1 < keys.size() && keys[i + 1] == longer));
    FUZZ_CHECK(idx.lower_bound(longer).rank() == i + 1);
    if (!k.empty()) {
      const std::string shorter = k.substr(0, k.size() - 1);
      const bool present = std::binary_search(keys.begin(), keys.begin() + i, shorter);
      FUZZ_CHECK(idx.contains(shorter) == present);
      std::size_t n = 0;
      for (auto it = idx.lower_bound(shorter); it != idx.end() && n < 4; ++it, ++n)
        FUZZ_CHECK(it->key >= shorter);
    }
  }
  // get_many and rank_many of those keys, a neighbour of each and the input's own bytes, against
  // get and rank
  {
    std::vector<std::string> qs;
    for (std::size_t i = 0; i < limit; ++i) {
      qs.push_back(keys[i]);
      qs.push_back(keys[i] + '\x01');
    }
    qs.emplace_back(reinterpret_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 48));
    const std::vector<std::string_view> views(qs.begin(), qs.end());
    std::vector<std::optional<typename Index::mapped_type>> got(views.size());
    std::vector<std::optional<std::uint64_t>> ranks(views.size());
    idx.get_many(views, got);
    idx.rank_many(views, ranks);
    for (std::size_t i = 0; i < views.size(); ++i) {
      const auto want = idx.get(views[i]);
      FUZZ_CHECK(got[i].has_value() == want.has_value());
      if (want) FUZZ_CHECK(std::memcmp(&*got[i], &*want, sizeof(*want)) == 0);
      const auto want_rank = idx.rank(views[i]);
      FUZZ_CHECK(ranks[i].has_value() == want_rank.has_value());
      if (want_rank) FUZZ_CHECK(*ranks[i] == *want_rank);
    }
  }
  // queries made of the input itself
  const std::string_view raw(reinterpret_cast<const char*>(data.data()), std::min<std::size_t>(data.size(), 64));
  for (std::size_t cut = 0; cut <= raw.size(); cut += 7) {
    const std::string_view q = raw.substr(0, cut);
    const auto lb = idx.lower_bound(q);
    const std::size_t r = lb.rank();
    FUZZ_CHECK(r == keys.size() || std::string_view(keys[r]) >= q);
    FUZZ_CHECK(r == 0 || std::string_view(keys[r - 1]) < q);
    FUZZ_CHECK(idx.contains(q) == (r < keys.size() && keys[r] == q));
    std::size_t n = 0;
    for (auto it = lb; it != idx.end() && n < 8; ++it, ++n) FUZZ_CHECK(it->key >= q);
  }
}

std::vector<std::byte> image_of(const std::vector<std::pair<std::string, std::uint64_t>>& items,
                                std::uint32_t bucket, memkv::fci_coding coding, bool keys_only) {
  std::span<const std::byte> b;
  if (keys_only) {
    auto s = memkv::FrontCodedSet::build(items, bucket, coding);
    return {s.bytes().begin(), s.bytes().end()};
  }
  auto s = memkv::FrontCodedIndex<>::build(items, bucket, coding);
  return {s.bytes().begin(), s.bytes().end()};
}

void write_seeds(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  std::vector<std::pair<std::string, std::uint64_t>> small = {
      {"", 1}, {std::string(1, '\0'), 2}, {"a", 3}, {"ab", 4}, {"abc", 5}, {"abd", 6}, {"b", 7}, {"\xff", 8}};
  std::vector<std::pair<std::string, std::uint64_t>> urls;
  for (int i = 0; i < 40; ++i)
    urls.push_back({"https://github.com/u" + std::to_string(100 + i) + "/r" + std::to_string(i % 7), std::uint64_t(i)});
  int n = 0;
  for (const auto* items : {&small, &urls})
    for (auto coding : {memkv::fci_coding::raw, memkv::fci_coding::huffman})
      for (std::uint32_t bucket : {1u, 3u, 16u})
        for (bool ko : {false, true}) {
          const auto img = image_of(*items, bucket, coding, ko);
          std::ofstream(dir / ("seed-" + std::to_string(n++) + ".fci"), std::ios::binary)
              .write(reinterpret_cast<const char*>(img.data()), static_cast<std::streamsize>(img.size()));
        }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* argc, char*** argv) {
  for (int i = 1; i < *argc; ++i) {
    const std::string_view a = (*argv)[i];
    constexpr std::string_view flag = "-memkv_write_seeds=";
    if (a.substr(0, flag.size()) == flag) {
      write_seeds(std::string(a.substr(flag.size())));
      std::exit(0);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(data), size);
  exercise<memkv::FrontCodedIndex<>>(bytes);
  exercise<memkv::FrontCodedSet>(bytes);
  exercise<memkv::FrontCodedIndex<std::uint32_t>>(bytes);
  // with the checksums on, only intact images load
  try {
    (void)memkv::FrontCodedIndex<>::from_bytes(bytes);
  } catch (const memkv::format_error&) {
  }
  return 0;
}
