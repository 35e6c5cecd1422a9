// Tests of the huge-page chunks (memkv/core/huge_pages.hpp): the SlabAllocator (FastArt, HotArt)
// and the ChunkArena (ArenaArt) take their largest chunks from 2 MiB regions once they hold the
// threshold; the regions are counted whole, reused, and all unmapped when the last block goes.
// Each TEST_CASE runs in its own process (catch_discover_tests), and each restores the default
// setting, so the process-wide setting never leaks into other tests.
#include <memkv/arena_art.hpp>
#include <memkv/core/allocator.hpp>
#include <memkv/core/arena.hpp>
#include <memkv/core/huge_pages.hpp>
#include <memkv/fast_art.hpp>
#include <memkv/hot_art.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "differential.hpp"

namespace {

constexpr std::size_t kRegion = memkv::detail::HugeChunks::kRegion;
constexpr bool kHugeBuilt = MEMKV_HUGE_PAGES != 0;

// Sets the process-wide setting for one test and restores the default afterwards.
struct HugeSetting {
  HugeSetting(bool on, std::size_t threshold) { memkv::set_huge_pages(on, threshold); }
  ~HugeSetting() { memkv::set_huge_pages(true); }
};

std::uint64_t pattern(std::size_t i) { return 0x9e3779b97f4a7c15ull * (i + 1); }
// A 64-byte block of arena a holding pattern(i) in its first 8 bytes, and the check of one.
std::uint32_t patterned_block(memkv::ChunkArena& a, std::size_t i) {
  const std::uint32_t r = a.allocate(64);
  const std::uint64_t v = pattern(i);
  std::memcpy(a.at(r), &v, 8);
  return r;
}
bool has_pattern(const memkv::ChunkArena& a, std::uint32_t r, std::size_t i) {
  std::uint64_t v;
  std::memcpy(&v, a.at(r), 8);
  return v == pattern(i);
}

}  // namespace

TEST_CASE("SlabAllocator: past the threshold its 64 KiB chunks come from huge-page regions, counted whole and all given back",
          "[huge_pages][core]") {
  HugeSetting on(true, 0);
  const std::size_t mapped_before = memkv::huge_page_bytes_mapped();
  memkv::SlabAllocator a;
  // One size class: chunks of 4, 8, 16 and 32 KiB from malloc, then 64 KiB ones from regions.
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 200'000; ++i) {
    void* p = a.allocate(24);
    std::uint64_t v = pattern(i);
    std::memcpy(p, &v, 8);
    blocks.push_back(p);
  }
  if (kHugeBuilt) {
    // 200,000 * 24 bytes = 4.6 MB: at least 2 regions, all counted by bytes_in_use().
    REQUIRE(a.huge_regions() >= 2);
    CHECK(a.bytes_in_use() >= a.huge_regions() * kRegion);
    CHECK(memkv::huge_page_bytes_mapped() == mapped_before + a.huge_regions() * kRegion);
    // Chunks from a region are 64 KiB-aligned and inside it: blocks stay 8-aligned.
    bool aligned = true;
    for (void* p : blocks) aligned = aligned && reinterpret_cast<std::uintptr_t>(p) % 8 == 0;
    CHECK(aligned);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i) {
    std::uint64_t v;
    std::memcpy(&v, blocks[i], 8);
    if (v != pattern(i)) FAIL("block " << i << " overwritten");
  }
  // Free in an order that empties the class only at the very end.
  for (void* p : blocks) a.deallocate(p, 24);
  CHECK(a.huge_regions() == 0);
  CHECK(a.bytes_in_use() == 0);
  CHECK(memkv::huge_page_bytes_mapped() == mapped_before);
}

TEST_CASE("SlabAllocator: below the threshold, or with huge pages off, no region is mapped", "[huge_pages][core]") {
  for (const bool on : {true, false}) {
    HugeSetting s(on, on ? std::size_t{64} << 20 : 0);
    memkv::SlabAllocator a;
    std::vector<void*> blocks;
    for (std::size_t i = 0; i < 200'000; ++i) blocks.push_back(a.allocate(24));
    CHECK(a.huge_regions() == 0);
    for (void* p : blocks) a.deallocate(p, 24);
    CHECK(a.bytes_in_use() == 0);
  }
}

TEST_CASE("SlabAllocator: a move hands the regions over; the source is empty", "[huge_pages][core]") {
  HugeSetting on(true, 0);
  const std::size_t mapped_before = memkv::huge_page_bytes_mapped();
  memkv::SlabAllocator a;
  std::vector<void*> blocks;
  for (std::size_t i = 0; i < 100'000; ++i) blocks.push_back(a.allocate(40));
  const std::size_t regions = a.huge_regions();
  const std::size_t bytes = a.bytes_in_use();
  memkv::SlabAllocator b(std::move(a));
  CHECK(b.huge_regions() == regions);
  CHECK(b.bytes_in_use() == bytes);
  CHECK(a.huge_regions() == 0);
  CHECK(a.bytes_in_use() == 0);
  memkv::SlabAllocator c;
  c = std::move(b);
  CHECK(c.huge_regions() == regions);
  for (void* p : blocks) c.deallocate(p, 40);
  CHECK(c.bytes_in_use() == 0);
  CHECK(memkv::huge_page_bytes_mapped() == mapped_before);
}

TEST_CASE("ChunkArena: past the threshold its 1 MiB chunks come from huge-page regions, counted whole and all given back",
          "[huge_pages][arena]") {
  HugeSetting on(true, 0);
  const std::size_t mapped_before = memkv::huge_page_bytes_mapped();
  memkv::ChunkArena a;
  std::vector<std::uint32_t> blocks;
  // 4 + 8 + ... + 512 KiB from malloc (~1 MiB), then 1 MiB chunks, two to a region.
  for (std::size_t i = 0; i < 100'000; ++i) blocks.push_back(patterned_block(a, i));
  if (kHugeBuilt) {
    REQUIRE(a.huge_regions() >= 1);
    CHECK(a.bytes_in_use() >= a.huge_regions() * kRegion);
    CHECK(memkv::huge_page_bytes_mapped() == mapped_before + a.huge_regions() * kRegion);
  }
  for (std::size_t i = 0; i < blocks.size(); ++i)
    if (!has_pattern(a, blocks[i], i)) FAIL("block " << i << " overwritten");
  // A large block (its own malloc'd chunk) among them, freed first.
  const std::uint32_t big = a.allocate(100'000);
  std::memset(a.at(big), 0x5a, 100'000);
  a.deallocate(big, 100'000);
  for (std::uint32_t r : blocks) a.deallocate(r, 64);
  CHECK(a.huge_regions() == 0);
  CHECK(a.bytes_in_use() == 0);
  CHECK(memkv::huge_page_bytes_mapped() == mapped_before);
}

TEST_CASE("ChunkArena: a huge-page region whose chunks all empty is unmapped while the arena lives on",
          "[huge_pages][arena]") {
  HugeSetting on(true, 0);
  const std::size_t mapped_before = memkv::huge_page_bytes_mapped();
  memkv::ChunkArena a;
  std::vector<std::uint32_t> blocks;
  for (std::size_t i = 0; i < 200'000; ++i) blocks.push_back(patterned_block(a, i));  // 12.8 MB: several regions
  const std::size_t regions = a.huge_regions();
  if (kHugeBuilt) REQUIRE(regions >= 5);
  // Free the first 90%: the regions of their chunks go back to the system.
  const std::size_t cut = blocks.size() * 9 / 10;
  for (std::size_t i = 0; i < cut; ++i) a.deallocate(blocks[i], 64);
  a.sweep();
  INFO("regions " << regions << " -> " << a.huge_regions());
  if (kHugeBuilt) {
    CHECK(a.huge_regions() <= 2);
    CHECK(memkv::huge_page_bytes_mapped() == mapped_before + a.huge_regions() * kRegion);
    CHECK(a.bytes_in_use() >= a.huge_regions() * kRegion);
  }
  for (std::size_t i = cut; i < blocks.size(); ++i)
    if (!has_pattern(a, blocks[i], i)) FAIL("block " << i << " overwritten");
  // Growing again maps new regions as needed.
  for (std::size_t i = 0; i < cut; ++i) blocks[i] = patterned_block(a, i);
  for (std::size_t i = 0; i < blocks.size(); ++i)
    if (!has_pattern(a, blocks[i], i)) FAIL("block " << i << " overwritten after regrowth");
  for (std::uint32_t r : blocks) a.deallocate(r, 64);
  CHECK(a.huge_regions() == 0);
  CHECK(a.bytes_in_use() == 0);
  CHECK(memkv::huge_page_bytes_mapped() == mapped_before);
}

namespace {
template <class M>
void big_map_round_trip(const char* name) {
  INFO(name);
  HugeSetting on(true, 0);
  const std::size_t mapped_before = memkv::huge_page_bytes_mapped();
  std::mt19937_64 rng(7);
  std::map<std::string, std::uint64_t> ref;
  while (ref.size() < 60'000) {
    std::string k = "https://github.com/" + std::to_string(rng() % 100000) + "/" + std::to_string(rng());
    ref.emplace(std::move(k), ref.size());
  }
  {
    M m;
    for (const auto& [k, v] : ref) REQUIRE(m.insert(k, v));
    if (kHugeBuilt) CHECK(memkv::huge_page_bytes_mapped() > mapped_before);
    const M copy(m);  // its own allocator: regions of its own
    for (const auto& [k, v] : ref) {
      REQUIRE(m.find(k) != nullptr);
      REQUIRE(*m.find(k) == v);
      REQUIRE(copy.get(k) == v);
    }
    auto it = m.begin();
    for (const auto& [k, v] : ref) {
      REQUIRE(it != m.end());
      REQUIRE((*it).key == k);
      ++it;
    }
    CHECK(it == m.end());
    const std::size_t empty = M().memory_usage();
    for (const auto& [k, v] : ref) REQUIRE(m.erase(k));
    CHECK(m.memory_usage() == empty);
    REQUIRE_NOTHROW(m.check_invariants());
  }
  CHECK(memkv::huge_page_bytes_mapped() == mapped_before);
}
}  // namespace

TEST_CASE("Huge-page chunks: FastArt, ArenaArt and HotArt of 60,000 keys insert, copy, find, iterate and give all back",
          "[huge_pages][maps]") {
  big_map_round_trip<memkv::FastArt<>>("FastArt");
  big_map_round_trip<memkv::ArenaArt<>>("ArenaArt");
  big_map_round_trip<memkv::HotArt<>>("HotArt");
}

TEST_CASE("Huge-page chunks from the first 64 KiB / 1 MiB chunk on: differential runs", "[huge_pages][differential]") {
  HugeSetting on(true, 0);
  memkv_test::DiffOptions o;
  o.seed = memkv_test::base_seed() + 9100;
  o.ops = std::max<std::size_t>(50'000, memkv_test::test_ops() / 4);
  o.max_size = 40'000;
  {
    INFO("FastArt seed " << o.seed << ", " << o.ops << " ops");
    REQUIRE_NOTHROW(memkv_test::run_differential<memkv::FastArt<>>(o));
  }
  {
    INFO("ArenaArt seed " << o.seed << ", " << o.ops << " ops");
    REQUIRE_NOTHROW(memkv_test::run_differential<memkv::ArenaArt<>>(o));
  }
  {
    INFO("HotArt seed " << o.seed << ", " << o.ops << " ops");
    REQUIRE_NOTHROW(memkv_test::run_differential<memkv::HotArt<>>(o));
  }
}
