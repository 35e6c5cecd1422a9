// Checks of a map's point index (hot_options::point_index / art_options::point_index,
// detail/point_index.hpp) shared by the HotArt and ART tests: M is HotArt, ArenaHotArt, FastArt
// or ArenaArt, Options its options struct ({code_sample_keys, point_index}).
#pragma once

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <memkv/detail/point_index.hpp>

#include "differential.hpp"

namespace memkv_test {

// Differential runs against std::map with the index on, in three sections: Arena (an arena map,
// 32-bit slots) with keys coded from 4096 on; Pointer (64-bit slots) with a code learnt at 16
// keys in small maps that empty often; Str (std::string values) with raw keys, small maps.
template <class Arena, class Pointer, class Str, class Options>
void point_index_differentials(std::uint64_t seed_offset) {
  DiffOptions o;
  o.seed = base_seed() + seed_offset;
  o.ops = std::max<std::size_t>(1, test_ops() / 3);
  auto small_maps = [&o](std::uint64_t seed_plus) {  // maps of <= 300 keys that empty often
    o.seed += seed_plus;
    o.max_size = 300;
    o.invariant_every = 500;
    o.copy_every = 20000;
  };
  DiffStats st;
  SECTION("an arena map, keys coded from 4096 on (32-bit slots)") {
    INFO("seed " << o.seed << ", " << o.ops << " ops");
    Arena m(Options{4096, true});
    REQUIRE_NOTHROW(st = run_differential(m, o));
    CHECK(m.point_index_active());
    CHECK(st.find_batches > 0);
  }
  SECTION("a pointer map, keys coded from 16 on, small maps that empty often (64-bit slots)") {
    small_maps(1);
    INFO("seed " << o.seed << ", " << o.ops << " ops");
    Pointer m(Options{16, true});
    REQUIRE_NOTHROW(st = run_differential(m, o));
    CHECK(st.times_empty > 0);
    CHECK(m.point_index_active());
  }
  SECTION("std::string values, raw keys, small maps that empty often") {
    small_maps(2);
    INFO("seed " << o.seed << ", " << o.ops << " ops");
    Str m(Options{0, true});
    REQUIRE_NOTHROW(st = run_differential(m, o));
    CHECK(st.times_empty > 0);
  }
}

// The index answers like the tree, is counted in memory_usage(), grows, shrinks and is freed;
// copies and clear() build it again. Nasty keys: empty, NUL, 0xff, 1000 bytes (coded over 160),
// 200 bytes.
template <class M, class Options>
void check_point_index_life() {
  M m(Options{100, true});
  M plain(Options{100, false});
  CHECK(m.options().point_index);
  CHECK_FALSE(plain.options().point_index);
  CHECK_FALSE(plain.point_index_active());
  CHECK(m.point_index_bytes() == 0);
  const std::size_t empty = m.memory_usage();
  std::vector<std::string> keys;
  for (int i = 0; i < 8000; ++i) keys.push_back("https://example.org/p/" + std::to_string(i * 7919 % 8000) + "/x");
  keys.push_back("");
  keys.push_back(std::string(1, '\0'));
  keys.push_back(std::string(3, '\xff'));
  keys.push_back(std::string(1000, 'q'));  // coded longer than 160 bytes: compared by equals()
  keys.push_back(std::string(200, 'e'));   // > 160 raw bytes, coded shorter
  for (std::size_t i = 0; i < keys.size(); ++i) {
    REQUIRE(m.insert(keys[i], i));
    REQUIRE(plain.insert(keys[i], i));
    if (i == 50 || i == 5000) REQUIRE_NOTHROW(m.check_invariants());
  }
  CHECK(m.keys_coded());
  CHECK(m.point_index_active());
  CHECK(m.point_index_bytes() > 0);
  {
    // Leaves inserted through the index are made from the coded form the index computed for
    // its lookup (LeafIndex::make_leaf_for): they read back exactly as the plain map's.
    auto a = m.begin(), b = plain.begin();
    std::size_t n = 0;
    for (; a != m.end() && b != plain.end(); ++a, ++b, ++n) {
      REQUIRE((*a).key == (*b).key);
      REQUIRE((*a).value == (*b).value);
    }
    CHECK((a == m.end() && b == plain.end()));
    CHECK(n == keys.size());
  }
  // Slot bytes / load (point_index.hpp, "Size"): at most 4 / 0.6 = 6.7 bytes a key with 32-bit
  // slots (arena maps), 13.3 with 64-bit ones (pointer maps), right after a rebuild to the load
  // of 0.6 (FastArt, ArenaArt; HotArt's 0.7 gives less), plus a page of rounding. Where in its
  // growth cycle the table ends depends on the heap's addresses for pointer maps (a leaf at a
  // higher address than any before rebuilds the table: its ids need more bits): under valgrind
  // it ended right after such a rebuild, at 13.3 (2026-12-04).
  CHECK(m.point_index_bytes() <= keys.size() * 8 * 10 / 6 + 4096);
  // The rest is the same map (blocks over 256 bytes come from malloc, whose usable sizes depend
  // on what else was allocated: a few bytes either way).
  CHECK(m.memory_usage() + 1024 >= plain.memory_usage() + m.point_index_bytes());
  CHECK(m.memory_usage() <= plain.memory_usage() + m.point_index_bytes() + 1024);
  REQUIRE_NOTHROW(m.check_invariants());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    REQUIRE(m.find(keys[i]) != nullptr);
    CHECK(*m.find(keys[i]) == i);
    CHECK_FALSE(m.insert(keys[i], 7));  // found through the index: value kept
    CHECK_FALSE(m.insert_or_assign(keys[i], i + 1));
    CHECK(*m.get(keys[i]) == i + 1);
    CHECK_FALSE(m.contains(keys[i] + "!"));
    CHECK_FALSE(m.erase(keys[i] + "!"));
  }
  const std::size_t full = m.point_index_bytes();
  for (std::size_t i = 0; i + 100 < keys.size(); ++i) REQUIRE(m.erase(keys[i]));
  CHECK(m.point_index_bytes() < full / 4);  // shrunk
  REQUIRE_NOTHROW(m.check_invariants());
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(m.contains(keys[i]) == (i + 100 >= keys.size()));
  M copy(m);
  CHECK(copy.point_index_active());
  REQUIRE_NOTHROW(copy.check_invariants());
  for (std::size_t i = keys.size() - 100; i < keys.size(); ++i) REQUIRE(m.erase(keys[i]));
  CHECK(m.empty());
  CHECK(m.point_index_bytes() == 0);
  CHECK(m.memory_usage() == empty);
  CHECK(copy.size() == 100);
  copy.clear();
  CHECK(copy.point_index_bytes() == 0);
  CHECK(copy.insert("again", 1));
  CHECK(copy.point_index_active());
  CHECK(*copy.find("again") == 1);
}

// An index whose table cannot be allocated is dropped: nothing is lost, the tree answers, and
// clear() and copies build it again.
template <class M, class Options>
void check_point_index_failure() {
  M m(Options{64, true});
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i) keys.push_back("k/" + std::to_string(i * 37 % 3000) + std::string(i % 7, '\xff'));
  for (std::size_t i = 0; i < 1000; ++i) REQUIRE(m.insert(keys[i], i));
  REQUIRE(m.point_index_active());
  // The next growth of the index fails: it is dropped, and nothing the map holds is lost.
  memkv::detail::g_point_index_fail_allocations = 1;
  for (std::size_t i = 1000; i < keys.size(); ++i) REQUIRE(m.insert(keys[i], i));
  memkv::detail::g_point_index_fail_allocations = 0;
  CHECK_FALSE(m.point_index_active());
  CHECK(m.point_index_bytes() == 0);
  REQUIRE_NOTHROW(m.check_invariants());
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(m.get(keys[i]) == i);
  CHECK(m.erase(keys[5]));
  CHECK_FALSE(m.contains(keys[5]));
  // A copy builds its own; if that fails too, the copy still answers through its tree.
  memkv::detail::g_point_index_fail_allocations = 1;
  M broken_copy(m);
  memkv::detail::g_point_index_fail_allocations = 0;
  CHECK_FALSE(broken_copy.point_index_active());
  CHECK(broken_copy.get(keys[6]) == 6u);
  M copy(m);
  CHECK(copy.point_index_active());
  REQUIRE_NOTHROW(copy.check_invariants());
  for (std::size_t i = 0; i < keys.size(); ++i) CHECK(copy.contains(keys[i]) == (i != 5));
  m.clear();
  CHECK(m.insert("a", 1));
  CHECK(m.point_index_active());
  CHECK(m.get("a") == 1u);
}

}  // namespace memkv_test
