// Tests of memkv/frozen_layer.hpp (owner: fst).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <set>
#include <ranges>
#include <string>
#include <utility>
#include <vector>

#include "differential.hpp"
#include "memkv/frozen_layer.hpp"

namespace {

using memkv::FrozenLayer;
using memkv::FrozenLayerBuilder;
using Ref = std::map<std::string, std::uint64_t>;

static_assert(std::forward_iterator<FrozenLayer::const_iterator>);
static_assert(std::ranges::forward_range<FrozenLayer>);
static_assert(std::ranges::forward_range<FrozenLayer::range_type>);
static_assert(std::is_nothrow_move_constructible_v<FrozenLayer>);

FrozenLayer build_from(const Ref& m, memkv::frozen_layer_options o = {}) {
  FrozenLayerBuilder b(o);
  for (const auto& [k, v] : m) b.insert(k, v);
  return b.finish();
}

Ref with_ranks(Ref m) {
  std::uint64_t i = 0;
  for (auto& kv : m) kv.second = i++;
  return m;
}

std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  return x;
}

// get_many of queries against get of each, and rank_many against rank, when get/rank throw for
// none of them; else the batch must throw format_error too (a damaged image).
void check_get_many(const FrozenLayer& fl, const std::vector<std::string_view>& queries) {
  std::vector<std::optional<std::uint64_t>> want, want_rank;
  bool throws = false, rank_throws = false;
  for (auto q : queries) {
    try {
      want.push_back(fl.get(q));
    } catch (const memkv::format_error&) {
      throws = true;
      want.push_back(std::nullopt);
    }
    try {
      want_rank.push_back(fl.rank(q));
    } catch (const memkv::format_error&) {
      rank_throws = true;
      want_rank.push_back(std::nullopt);
    }
  }
  std::vector<std::optional<std::uint64_t>> got(queries.size(), std::uint64_t{12345});
  if (rank_throws) {
    REQUIRE_THROWS_AS(fl.rank_many(queries, got), memkv::format_error);
  } else {
    std::vector<std::uint64_t> found;
    REQUIRE_NOTHROW(fl.rank_many(queries, got, [&found](std::uint64_t r) noexcept {
      try {
        found.push_back(r);
      } catch (...) {
      }
    }));
    std::vector<std::uint64_t> want_found;
    for (std::size_t i = 0; i < queries.size(); ++i) {
      INFO("query " << i << " of " << queries.size());
      REQUIRE(got[i] == want_rank[i]);
      if (want_rank[i]) want_found.push_back(*want_rank[i]);
    }
    // on_found saw exactly the ranks found (in the order the walks ended)
    std::sort(found.begin(), found.end());
    std::sort(want_found.begin(), want_found.end());
    REQUIRE(found == want_found);
  }
  std::fill(got.begin(), got.end(), std::uint64_t{12345});
  if (throws) {
    REQUIRE_THROWS_AS(fl.get_many(queries, got), memkv::format_error);
    return;
  }
  REQUIRE_NOTHROW(fl.get_many(queries, got));
  for (std::size_t i = 0; i < queries.size(); ++i) {
    INFO("query " << i << " of " << queries.size());
    REQUIRE(got[i] == want[i]);
  }
}

// Every key of m, absent neighbours of some (a byte more, a byte less, the empty key), repeats,
// shuffled: more than a block of get_many when m is large.
std::vector<std::string> queries_for(const Ref& m, std::uint64_t seed) {
  std::vector<std::string> q;
  std::mt19937_64 rng(seed);
  for (const auto& kv : m) {
    q.push_back(kv.first);
    if (rng() % 4 == 0) q.push_back(kv.first + '\x01');
    if (rng() % 4 == 0 && !kv.first.empty()) q.push_back(kv.first.substr(0, kv.first.size() - 1));
    if (rng() % 16 == 0) q.push_back(kv.first);
  }
  q.emplace_back();
  std::shuffle(q.begin(), q.end(), rng);
  return q;
}

// The options of check_all's check_static_against: the harness's defaults in Release. Under a
// sanitizer (Debug, 10-20x slower), where check_static_against took 70-80% of the larger
// FrozenLayer tests' time, it samples: 2,000 keys with their neighbours instead of 20,000, as
// many random probes as the layer has keys (100 to 400, instead of 2,000), a prefix and a range
// scan per 4 keys (40 to 100 of each, instead of 500; the first 20 of each still unbounded).
// Every kind of check (iteration, lookups, neighbours, lower_bound, get_many/rank_many, prefix
// and range scans) still runs on every layer.
memkv_test::StaticCheckOptions static_check_options(std::size_t keys) {
  memkv_test::StaticCheckOptions o;
  if (memkv_test::kSanitized) {
    o.max_keys = 2000;
    o.random_probes = std::clamp<std::size_t>(keys, 100, 400);
    o.scans = std::clamp<std::size_t>(keys / 4, 40, 100);
  }
  return o;
}

// Checks everything a FrozenLayer answers against m, including nth/rank and get_many.
void check_all(const FrozenLayer& fl, const Ref& m) {
  REQUIRE_NOTHROW(fl.check_invariants());
  {
    const std::vector<std::string> q = queries_for(m, m.size());
    check_get_many(fl, std::vector<std::string_view>(q.begin(), q.end()));
  }
  REQUIRE_NOTHROW(memkv_test::check_static_against(fl, m, static_check_options(m.size())));
  const std::size_t step = m.size() > 3000 ? m.size() / 1500 : 1;
  std::uint64_t i = 0;
  for (auto mit = m.begin(); mit != m.end(); ++mit, ++i) {
    if (i % step != 0) continue;
    auto it = fl.nth(i);
    REQUIRE(it != fl.end());
    REQUIRE(it->key == mit->first);
    REQUIRE(it->value == mit->second);
    REQUIRE(fl.rank(mit->first) == i);
  }
  CHECK(fl.nth(m.size()) == fl.end());
}

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("memkv_fst_test_" + std::to_string(::getpid()) + "_" + name);
}

}  // namespace

TEST_CASE("FrozenLayer: empty", "[frozen_layer]") {
  FrozenLayer e;
  CHECK(e.size() == 0);
  CHECK(e.empty());
  CHECK(e.begin() == e.end());
  CHECK(!e.get(""));
  CHECK(!e.contains("a"));
  CHECK(e.lower_bound("") == e.end());
  CHECK(std::ranges::empty(e.prefix("")));
  CHECK(e.nth(0) == e.end());
  REQUIRE_NOTHROW(e.check_invariants());
  FrozenLayerBuilder b;
  FrozenLayer f = b.finish();
  CHECK(f.empty());
  FrozenLayer g = FrozenLayer::from_bytes(f.bytes());
  CHECK(g.empty());
}

TEST_CASE("FrozenLayer: basic queries", "[frozen_layer]") {
  Ref m{{"", 5}, {"a", 1}, {"ab", 2}, {"abc", 3}, {"abd", 4}, {"b", 100}, {"ba\xff", 7}};
  FrozenLayer fl = build_from(m);
  CHECK(fl.size() == m.size());
  CHECK(fl.get("") == 5u);
  CHECK(fl.get("abd") == 4u);
  CHECK(!fl.get("abe"));
  CHECK(!fl.get("abcd"));
  CHECK(fl.contains("b"));
  CHECK(!fl.contains("ba"));
  CHECK(fl.lower_bound("abca")->key == "abd");
  CHECK(fl.lower_bound("abz")->key == "b");
  CHECK(fl.lower_bound("c") == fl.end());
  std::vector<std::string> p;
  for (auto e : fl.prefix("ab")) p.emplace_back(e.key);
  CHECK(p == std::vector<std::string>{"ab", "abc", "abd"});
  p.clear();
  for (auto e : fl.range("a", "abd")) p.emplace_back(e.key);
  CHECK(p == std::vector<std::string>{"a", "ab", "abc"});
  CHECK(std::ranges::empty(fl.range("b", "a")));
  CHECK(fl.nth(3)->key == "abc");
  CHECK(fl.rank("b") == 5u);
  CHECK(!fl.values_are_ranks());
  check_all(fl, m);
}

TEST_CASE("FrozenLayer: values equal to ranks need no column", "[frozen_layer]") {
  Ref m = with_ranks(memkv_test::nasty_map(3, 2000));
  FrozenLayer fl = build_from(m);
  CHECK(fl.values_are_ranks());
  CHECK(fl.image_size() < fl.fst_bytes() + 300);
  check_all(fl, m);
  // A single deviation switches to a packed column, still exact.
  Ref m2 = m;
  std::next(m2.begin(), 1000)->second = 123456789;
  FrozenLayer f2 = build_from(m2);
  CHECK(!f2.values_are_ranks());
  check_all(f2, m2);
}

TEST_CASE("FrozenLayer: arbitrary 64-bit values", "[frozen_layer]") {
  Ref m = memkv_test::nasty_map(4, 3000);
  for (auto& kv : m) kv.second = mix(kv.second + 1);
  FrozenLayer fl = build_from(m);
  CHECK(fl.value_width() == 64);
  check_all(fl, m);
  Ref small = m;
  for (auto& kv : small) kv.second = 1000 + (kv.second & 0xfff);
  FrozenLayer f2 = build_from(small);
  CHECK(f2.value_width() == 12);
  check_all(f2, small);
}

TEST_CASE("FrozenLayer: builder rejects unordered and repeated keys", "[frozen_layer]") {
  {
    FrozenLayerBuilder b;
    b.insert("b", 1);
    try {
      b.insert("a", 2);
      FAIL("no throw");
    } catch (const memkv::error& e) {
      CHECK(std::string(e.what()).find("position 1") != std::string::npos);
    }
    CHECK_THROWS_AS(b.insert("c", 3), memkv::error);
    CHECK_THROWS_AS(b.finish(), memkv::error);
  }
  {
    memkv::frozen_layer_options o;
    o.sample_bytes = 0;  // past the sampling phase
    FrozenLayerBuilder b(o);
    b.insert("", 0);
    b.insert("x", 1);
    try {
      b.insert("x", 2);
      FAIL("no throw");
    } catch (const memkv::error& e) {
      CHECK(std::string(e.what()).find("position 2") != std::string::npos);
      CHECK(std::string(e.what()).find("repeats") != std::string::npos);
    }
  }
  {
    FrozenLayerBuilder b;
    b.insert("abc", 0);
    CHECK_THROWS_AS(b.insert("ab", 1), memkv::error);  // a prefix sorts first
  }
  std::vector<std::pair<std::string, std::uint64_t>> bad{{"a", 1}, {"a", 2}};
  CHECK_THROWS_AS(FrozenLayer::build(bad), memkv::error);
}

TEST_CASE("FrozenLayer: a builder whose output cannot grow fails for good", "[frozen_layer][exceptions]") {
  // bad_alloc while the image grows leaves the bit writer ahead of the bytes written: the
  // builder must refuse to go on rather than finish a damaged image.
  memkv::frozen_layer_options o;
  o.sample_bytes = 0;  // no sampling: output from the first key on
  FrozenLayerBuilder b(o);
  memkv::detail::fst::g_sink_fail_allocations.store(1);
  std::mt19937_64 rng(23);
  bool threw = false;
  std::size_t i = 0;
  for (; i < 200000 && !threw; ++i) {  // the first 64 KiB chunk fills after a few thousand keys
    char key[40];
    std::snprintf(key, sizeof key, "%08zu/%016llx", i, static_cast<unsigned long long>(rng()));
    try {
      b.insert(key, rng());
    } catch (const std::bad_alloc&) {
      threw = true;
    }
  }
  memkv::detail::fst::g_sink_fail_allocations.store(0);
  REQUIRE(threw);
  CHECK(i > 100);
  CHECK_THROWS_AS(b.insert("~", 1), memkv::error);
  CHECK_THROWS_AS(b.finish(), memkv::error);
  // Nothing else is affected: the next builder works.
  FrozenLayerBuilder c(o);
  c.insert("a", 5);
  c.insert("b", 6);
  const FrozenLayer f = c.finish();
  CHECK(f.get("b") == 6u);
}

TEST_CASE("FrozenLayer: build() over ranges of pairs", "[frozen_layer]") {
  std::vector<std::pair<std::string_view, int>> v{{"x", 1}, {"y", 2}, {"z", 3}};
  FrozenLayer fl = FrozenLayer::build(v);
  CHECK(fl.get("y") == 2u);
  Ref m{{"k1", 9}, {"k2", 8}};
  FrozenLayer f2 = FrozenLayer::build(m);
  CHECK(f2.get("k2") == 8u);
}

TEST_CASE("FrozenLayer: differential against std::map (nasty keys)", "[frozen_layer][differential]") {
  const std::size_t seeds = memkv_test::test_seeds();
  for (std::size_t s = 0; s < seeds; ++s) {
    const std::uint64_t seed = memkv_test::base_seed() + s;
    INFO("seed " << seed);
    // Under a sanitizer the largest layer has 10,000 keys instead of 40,000: the same options
    // (n % 2, n % 3), and its 64 Ki-cell registry still fills up and evicts (seed 1: some 119,000
    // states go into it; 487,000 with 40,000 keys).
    const std::size_t largest = memkv_test::kSanitized ? 10000 : 40000;
    for (std::size_t n : {std::size_t{1}, std::size_t{2}, std::size_t{17}, std::size_t{300},
                          std::size_t{5000}, largest}) {
      Ref m = memkv_test::nasty_map(seed, n);
      // small registries and samples too: eviction and flat codes must stay exact
      memkv::frozen_layer_options o;
      o.registry_cells = n % 2 ? 16 : 1 << 16;
      o.sample_bytes = n % 3 ? 64 : 1 << 20;
      FrozenLayer fl = build_from(m, o);
      check_all(fl, m);
      Ref r = with_ranks(m);
      check_all(build_from(r, o), r);
    }
  }
}

TEST_CASE("FrozenLayer: random small alphabets (deep sharing)", "[frozen_layer][differential]") {
  std::mt19937_64 rng(memkv_test::base_seed());
  for (int round = 0; round < 200; ++round) {
    Ref m;
    const int n = static_cast<int>(rng() % 400);
    for (int i = 0; i < n; ++i) {
      std::string k;
      const int len = static_cast<int>(rng() % 9);
      for (int j = 0; j < len; ++j) k.push_back("ab\0\xff"[rng() % 4]);
      m[k] = round % 2 ? rng() % 1000 : 0;
    }
    if (round % 4 == 0) m = with_ranks(m);
    memkv::frozen_layer_options o;
    o.registry_cells = std::size_t{4} << (rng() % 12);
    o.front_registry_cells = std::size_t{4} << (rng() % 6);  // often a two-level registry
    o.sample_bytes = rng() % 64;
    INFO("round " << round);
    check_all(build_from(m, o), m);
  }
}

TEST_CASE("FrozenLayer: every byte value, prefixes and long keys", "[frozen_layer]") {
  Ref m;
  for (int c = 0; c < 256; ++c) m[std::string(1, static_cast<char>(c))] = static_cast<std::uint64_t>(c) * 3;
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  m[all] = 1;
  std::string chain;
  for (int i = 0; i < 50; ++i) m[chain += "\xff"] = static_cast<std::uint64_t>(i) + 1000;
  std::string big(70000, 'q');
  big[35000] = '\0';
  m[big] = 77;
  m[big + "tail"] = 78;
  // Every scan of check_all near this key walks all its states: under a sanitizer (about 20x
  // slower) a shorter one keeps the test to seconds; the 70,000-byte key stays either way.
  const std::size_t zeros = memkv_test::kSanitized ? 20000 : 200000;
  m[std::string(zeros, '\0')] = 79;
  FrozenLayer fl = build_from(m);
  check_all(fl, m);
  CHECK(fl.get(big) == 77u);
  CHECK(fl.get(std::string(zeros, '\0')) == 79u);
  CHECK(!fl.get(std::string(zeros - 1, '\0')));
  std::size_t cnt = 0;
  for (auto e : fl.prefix("\xff\xff")) {
    CHECK(e.key.substr(0, 2) == "\xff\xff");
    ++cnt;
  }
  CHECK(cnt == 49);
  Ref l = memkv_test::nasty_map(11, 300, 5);
  check_all(build_from(l), l);
}

TEST_CASE("FrozenLayer: a 16 MiB key round-trips, beside its prefixes and extensions", "[frozen_layer][keys]") {
  // The contract's longest key: one state a byte. Until 2026-12-03 building these keys took
  // 15.5 s and 1.35 GB of RSS (the builder held a pass's 16M new states until its end), and
  // prefix(huge) 16 s and ~0.9 GB more (lower_bound kept a 32-byte frame a byte); now 6.1 s and
  // 0.85 GB, and 1.6 s (scratch program, -O2). Under a sanitizer or valgrind 256 KiB: the same
  // code paths.
  const std::size_t size = memkv_test::kSanitized ? std::size_t{256} << 10 : std::size_t{16} << 20;
  std::string huge(size, '\0');
  for (std::size_t i = 0; i < huge.size(); i += 4097) huge[i] = static_cast<char>(i * 31);
  const Ref m = {{"", 1}, {huge, 2}, {huge + "x", 3}, {huge.substr(0, 100) + "\xff", 4}};
  const FrozenLayer fl = build_from(m);
  CHECK(fl.size() == 4);
  CHECK(fl.image_size() < size / 2);
  CHECK(fl.get(huge) == 2u);
  CHECK(fl.get(huge + "x") == 3u);
  CHECK(fl.get("") == 1u);
  CHECK(!fl.get(huge.substr(0, size - 1)));
  CHECK(!fl.get(huge + std::string(1, '\0')));
  std::size_t i = 0;
  for (auto it = m.begin(); auto e : fl) {
    REQUIRE(it != m.end());
    CHECK(e.key == it->first);  // byte for byte
    CHECK(e.value == it->second);
    ++it;
    ++i;
  }
  CHECK(i == 4);
  auto lb = fl.lower_bound(huge.substr(0, 50));
  REQUIRE(lb != fl.end());
  CHECK((*lb).key == huge);
  CHECK(std::ranges::distance(fl.prefix(huge)) == 2);
  CHECK(fl.rank(huge + "x") == 2u);
  const FrozenLayer copy = FrozenLayer::from_bytes(fl.bytes());
  CHECK(copy.get(huge + "x") == 3u);
}

TEST_CASE("FrozenLayer: get_many and rank_many", "[frozen_layer]") {
  const FrozenLayer empty;
  std::vector<std::string_view> none;
  std::vector<std::optional<std::uint64_t>> no_answers;
  REQUIRE_NOTHROW(empty.get_many(none, no_answers));
  const std::vector<std::string_view> two = {"a", ""};
  std::vector<std::optional<std::uint64_t>> answers(2, std::uint64_t{1});
  empty.get_many(two, answers);
  CHECK(answers == std::vector<std::optional<std::uint64_t>>{std::nullopt, std::nullopt});
  answers.assign(2, std::uint64_t{1});
  empty.rank_many(two, answers);
  CHECK(answers == std::vector<std::optional<std::uint64_t>>{std::nullopt, std::nullopt});

  // Both value modes, a key set of several blocks of 256, every lane refilled many times.
  for (bool ranks : {true, false}) {
    Ref m = memkv_test::nasty_map(3, 5000, 9);
    if (ranks) m = with_ranks(m); else for (auto& kv : m) kv.second = mix(kv.second + 1);
    const FrozenLayer fl = build_from(m);
    const std::vector<std::string> q = queries_for(m, 77);
    check_get_many(fl, std::vector<std::string_view>(q.begin(), q.end()));
    // Spans of any length: 1, a few, one block and one more.
    for (std::size_t len : {std::size_t{1}, std::size_t{17}, std::size_t{256}, std::size_t{257}}) {
      const std::vector<std::string_view> part(q.begin(), q.begin() + static_cast<std::ptrdiff_t>(len));
      check_get_many(fl, part);
    }
    std::vector<std::optional<std::uint64_t>> short_out(q.size() - 1);
    const std::vector<std::string_view> all(q.begin(), q.end());
    CHECK_THROWS_AS(fl.get_many(all, short_out), memkv::error);
    CHECK_THROWS_AS(fl.rank_many(all, short_out), memkv::error);
  }
}

TEST_CASE("FrozenLayer: states of every width, searched for every byte", "[frozen_layer]") {
  // A state's labels are compared 16 at a time from any bit offset: states with 2..256
  // transitions (chunk edges 15/16/17, 31/32/33, ...), at many bit offsets (the prefixes before
  // them differ in length and the sets below them in shape), some near the region's start (the
  // label-by-label path), every probe byte, hits and misses, lower_bound on each.
  memkv_test::Rng rng(29);
  for (unsigned k : {2u, 3u, 8u, 9u, 15u, 16u, 17u, 31u, 32u, 33u, 47u, 48u, 49u, 100u, 200u, 255u, 256u}) {
    for (int trial = 0; trial < 3; ++trial) {
      Ref m;
      std::set<unsigned> bytes;
      if (trial == 0) {
        for (unsigned b = 0; b < k; ++b) bytes.insert(255 - b);  // the top k, 0x80..0xff included
      } else {
        while (bytes.size() < k) bytes.insert(static_cast<unsigned>(rng.below(256)));
      }
      const std::string prefix(trial, 'p');
      std::uint64_t v = 0;
      for (unsigned b : bytes) {
        std::string key = prefix + static_cast<char>(b);
        m[key] = v++;
        if (b % 3 == 0) m[key + std::string(1 + b % 5, static_cast<char>(b ^ 0x5a))] = v++;
      }
      // Keys before and after the wide state, so it sits at varying depths and offsets.
      for (int i = 0; i < trial * 7; ++i) m["a" + std::to_string(rng.below(1000))] = v++;
      m["zz" + prefix] = v++;
      m = with_ranks(m);
      const FrozenLayer fl = build_from(m);
      check_all(fl, m);
      for (unsigned b = 0; b < 256; ++b) {
        const std::string probe = prefix + static_cast<char>(b);
        const auto want = m.find(probe);
        INFO("k " << k << ", trial " << trial << ", probe byte " << b);
        REQUIRE(fl.get(probe) == (want == m.end() ? std::nullopt : std::optional<std::uint64_t>(want->second)));
        const auto lb = m.lower_bound(probe);
        const auto it = fl.lower_bound(probe);
        REQUIRE((it == fl.end()) == (lb == m.end()));
        if (lb != m.end()) REQUIRE(it->key == lb->first);
      }
    }
  }
}

TEST_CASE("FrozenLayer: files, bytes, copies and moves", "[frozen_layer]") {
  // Five handles on one image (opened with either check, moved copy, view, built to a file) are
  // each checked in full: under a sanitizer an image of 1,500 keys instead of 4,000.
  Ref m = memkv_test::nasty_map(5, memkv_test::kSanitized ? 1500 : 4000);
  FrozenLayer fl = build_from(m);
  const auto p = temp_path("save.fst");
  fl.save(p);
  FrozenLayer o = FrozenLayer::open(p);
  CHECK(std::ranges::equal(o.bytes(), fl.bytes()));
  check_all(o, m);
  FrozenLayer o2 = FrozenLayer::open(p, memkv::image_check::structure);
  check_all(o2, m);
  FrozenLayer c = fl;  // copy
  FrozenLayer mv = std::move(c);
  check_all(mv, m);
  auto it = mv.lower_bound("");
  FrozenLayer moved_again = std::move(mv);  // iterators survive moves
  CHECK(it->key == m.begin()->first);
  FrozenLayer v = FrozenLayer::view_bytes(fl.bytes());
  check_all(v, m);
  CHECK(fl.memory_usage() >= fl.image_size());
  CHECK(v.memory_usage() < fl.image_size());  // a borrowed image is the caller's
  {
    // An owned copy of 2 MiB or more is a mapping of its own, 2 MiB aligned for huge pages, as
    // long as the image rounded up to 4 KiB pages (on Linux; elsewhere whole 2 MiB units).
    FrozenLayerBuilder big;
    std::uint64_t h = 1;
    std::size_t i = 0;
    while (true) {
      char key[32];
      std::snprintf(key, sizeof key, "k%09zu", i++);
      h = h * 6364136223846793005ULL + 1442695040888963407ULL;
      big.insert(key, h);
      if (i == 300000) break;
    }
    const FrozenLayer b = big.finish();
    const std::size_t huge = std::size_t{2} << 20;
    REQUIRE(b.image_size() >= huge);
    const std::size_t unit = MEMKV_HUGE_PAGES ? 4096 : huge;
    const std::size_t counted = (b.image_size() + unit - 1) / unit * unit;
    CHECK(b.memory_usage() >= counted);
    CHECK(b.memory_usage() < counted + 16384);  // + the reader and its label table (~8.5 KiB)
    CHECK(reinterpret_cast<std::uintptr_t>(b.bytes().data()) % huge == 0);
    const FrozenLayer copy = FrozenLayer::from_bytes(b.bytes());
    CHECK(copy.memory_usage() == b.memory_usage());
  }
  // straight to a file
  const auto q = temp_path("direct.fst");
  {
    FrozenLayerBuilder b(q);
    for (const auto& [k, val] : m) b.insert(k, val);
    FrozenLayer d = b.finish();
    check_all(d, m);
  }
  FrozenLayer d2 = FrozenLayer::open(q);
  CHECK(std::ranges::equal(d2.bytes(), fl.bytes()));
  // an abandoned file builder leaves nothing behind
  const auto r = temp_path("abandoned.fst");
  {
    FrozenLayerBuilder b(r);
    b.insert("a", 1);
  }
  CHECK(!std::filesystem::exists(r));
  CHECK_THROWS_AS(FrozenLayer::open(temp_path("missing.fst")), memkv::error);
  std::filesystem::remove(p);
  std::filesystem::remove(q);
}

TEST_CASE("FrozenLayer: a builder to memory and one to a file write the same bytes", "[frozen_layer][file]") {
  // The memory builder keeps its output in chunks (64 KiB doubling to 2 MiB): an image of several
  // MiB crosses every chunk size, and its value column (hashed values) crosses chunks too.
  const std::size_t n = memkv_test::kSanitized ? 60000 : 250000;
  const auto q = temp_path("same_bytes.fst");
  FrozenLayerBuilder mem, file(q);
  std::vector<std::pair<std::string, std::uint64_t>> kv;
  std::mt19937_64 rng(17);
  for (std::size_t i = 0; i < n; ++i) {  // random tails: little to share, ~8 bytes a key
    char key[64];
    std::snprintf(key, sizeof key, "https://host%03zu.example/%016llx", i % 997,
                  static_cast<unsigned long long>(rng()));
    kv.emplace_back(key, 0);
  }
  std::sort(kv.begin(), kv.end());
  kv.erase(std::unique(kv.begin(), kv.end()), kv.end());
  std::uint64_t h = 3;
  for (auto& [k, v] : kv) {
    h = h * 6364136223846793005ULL + 1442695040888963407ULL;
    v = h;
    mem.insert(k, v);
    file.insert(k, v);
  }
  const FrozenLayer a = mem.finish();
  const FrozenLayer b = file.finish();
  REQUIRE(a.image_size() > (memkv_test::kSanitized ? std::size_t{1} << 20 : std::size_t{4} << 20));
  CHECK(std::ranges::equal(a.bytes(), b.bytes()));
  CHECK(a.size() == kv.size());
  for (std::size_t i = 0; i < kv.size(); i += 97) {
    REQUIRE(a.get(kv[i].first) == kv[i].second);
    REQUIRE(b.get(kv[i].first) == kv[i].second);
  }
  std::size_t i = 0;
  for (auto e : a) {
    REQUIRE(e.key == kv[i].first);
    REQUIRE(e.value == kv[i].second);
    ++i;
  }
  CHECK(i == kv.size());
  std::filesystem::remove(q);
}

TEST_CASE("FrozenLayer: smaller than the raw keys on URL-like keys", "[frozen_layer]") {
  std::mt19937_64 rng(9);
  const char* hosts[] = {"github.com", "gitlab.com", "bitbucket.org"};
  const char* words[] = {"node", "react", "util", "js", "core", "plugin", "cli", "web", "api"};
  Ref m;
  for (int i = 0; i < 20000; ++i) {
    std::string k = std::string("https://") + hosts[rng() % 3] + "/";
    k += words[rng() % 9] + std::to_string(rng() % 500) + "/";
    k += std::string(words[rng() % 9]) + "-" + words[rng() % 9];
    if (rng() % 2) k += ".git";
    m[k] = 0;
  }
  m = with_ranks(m);
  std::size_t raw = 0;
  for (const auto& kv : m) raw += kv.first.size();
  FrozenLayer fl = build_from(m);
  CHECK(fl.image_size() < raw / 2);
  check_all(fl, m);
}

TEST_CASE("FrozenLayer: truncated, extended and bit-flipped images", "[frozen_layer]") {
  Ref m = memkv_test::nasty_map(6, 500);
  FrozenLayer fl = build_from(m);
  const std::vector<std::byte> img(fl.bytes().begin(), fl.bytes().end());
  for (std::size_t len : {std::size_t{0}, std::size_t{10}, std::size_t{48}, std::size_t{100},
                          img.size() / 2, img.size() - 1}) {
    CHECK_THROWS_AS(FrozenLayer::from_bytes(std::span(img).first(len)), memkv::format_error);
  }
  std::vector<std::byte> ext = img;
  ext.push_back(std::byte{0});
  CHECK_THROWS_AS(FrozenLayer::from_bytes(ext), memkv::format_error);
  // Every flipped bit is caught by the checksum.
  std::mt19937_64 rng(1);
  for (int i = 0; i < 300; ++i) {
    std::vector<std::byte> bad = img;
    bad[rng() % bad.size()] ^= std::byte{static_cast<unsigned char>(1u << (rng() % 8))};
    CHECK_THROWS_AS(FrozenLayer::from_bytes(bad), memkv::format_error);
  }
  // Without the checksum: a flip in the payload either throws format_error (at load or at use)
  // or yields a map that still answers without crashing; get_many then answers as get does.
  // Every image that loads is queried in full (iteration, every key, get_many and rank_many of
  // some 800 queries), so the flips cost about 12 ms each under a sanitizer (Debug, 10-20x
  // slower). Release: 3,000 flips of a random bit at a random byte from offset 48 on. Sanitized:
  // one flip in every byte of the FST header (offsets 48..223: region sizes, root, longest key,
  // value base, value mode and width, reserved bytes, code lengths), the bit moving on by one from
  // byte to byte so that each 8-byte field sees all eight; then one random bit at a random byte of
  // each of 600 equal slices of the rest (FST region, its padding, value column), so that every
  // part of the body is hit, ~10 bytes apart, not 3,000 times at random.
  const std::vector<std::string> bad_query_keys = queries_for(m, 5);
  const std::vector<std::string_view> bad_queries(bad_query_keys.begin(), bad_query_keys.end());
  constexpr std::size_t kRegion = memkv::detail::fst::region_offset;  // 224: the headers' end
  constexpr std::size_t kSlices = 600;
  REQUIRE(img.size() >= kRegion + kSlices);  // no slice is empty
  std::vector<std::pair<std::size_t, unsigned>> flips;  // (byte, bit)
  if (memkv_test::kSanitized) {
    for (std::size_t at = 48; at < kRegion; ++at) {
      flips.emplace_back(at, static_cast<unsigned>(at % 8));
    }
    const std::size_t body = img.size() - kRegion;
    for (std::size_t s = 0; s < kSlices; ++s) {
      const std::size_t lo = kRegion + body * s / kSlices, hi = kRegion + body * (s + 1) / kSlices;
      const std::size_t at = lo + rng() % (hi - lo);
      flips.emplace_back(at, static_cast<unsigned>(rng() % 8));
    }
  } else {
    for (int i = 0; i < 3000; ++i) {
      const std::size_t at = 48 + rng() % (img.size() - 48);
      flips.emplace_back(at, static_cast<unsigned>(rng() % 8));
    }
  }
  std::size_t answered = 0, rejected = 0;
  for (const auto& [at, bit] : flips) {
    INFO("bit " << bit << " of byte " << at << " flipped");
    std::vector<std::byte> bad = img;
    bad[at] ^= std::byte{static_cast<unsigned char>(1u << bit)};
    try {
      FrozenLayer f = FrozenLayer::from_bytes(bad, memkv::image_check::structure);
      std::size_t n = 0;
      for (auto e : f) n += e.key.size() > 0;
      for (const auto& kv : m) (void)f.get(kv.first);
      check_get_many(f, bad_queries);
      (void)f.lower_bound("\x7f");
      (void)n;
      ++answered;
    } catch (const memkv::format_error&) {
      ++rejected;
    }
  }
  // Both outcomes were exercised: damaged images that were queried in full, and rejected ones.
  CHECK(answered > 0);
  CHECK(rejected > 0);
}

TEST_CASE("FrozenLayer: error messages name the offset and the path", "[frozen_layer]") {
  FrozenLayer fl = build_from({{"a", 1}});
  std::vector<std::byte> img(fl.bytes().begin(), fl.bytes().end());
  img[0] = std::byte{'X'};
  try {
    (void)FrozenLayer::from_bytes(img);
    FAIL("no throw");
  } catch (const memkv::format_error& e) {
    CHECK(std::string(e.what()).find("offset 0") != std::string::npos);
  }
  const auto p = temp_path("bad.fst");
  memkv::io::atomic_write_file(p, img);
  try {
    (void)FrozenLayer::open(p);
    FAIL("no throw");
  } catch (const memkv::format_error& e) {
    CHECK(std::string(e.what()).find(p.string()) != std::string::npos);
  }
  std::filesystem::remove(p);
}

TEST_CASE("FrozenLayer: header fields that disagree with the image are rejected at open", "[frozen_layer]") {
  // image_check::structure skips the payload checksum, so these reach the FST header's own checks
  // (the default check rejects them earlier, by the checksum).
  using memkv::image_check;
  constexpr std::size_t kFst = memkv::detail::fst::header_offset;  // the FST header: offset 48
  auto reject = [](const std::vector<std::byte>& img, const char* what) {
    INFO(what);
    CHECK_THROWS_AS(FrozenLayer::from_bytes(img, image_check::structure), memkv::format_error);
    CHECK_THROWS_WITH(FrozenLayer::from_bytes(img, image_check::structure), Catch::Contains(what));
    CHECK_THROWS_AS(FrozenLayer::from_bytes(img), memkv::format_error);
  };
  {
    // An empty map whose root is not the final leaf.
    const FrozenLayer empty = build_from({});
    std::vector<std::byte> img(empty.bytes().begin(), empty.bytes().end());
    REQUIRE(FrozenLayer::from_bytes(img, image_check::structure).size() == 0);
    // The 16 bytes after the FST region's padding, split 8 + 8 between FST and values (so the
    // region sizes still add up and the root fits in the region), and a root at bit 1.
    REQUIRE(memkv::io::load_le<std::uint64_t>(img.data() + kFst) == 0);        // fst_bytes
    REQUIRE(memkv::io::load_le<std::uint64_t>(img.data() + kFst + 32) == 16);  // values_bytes
    memkv::io::store_le<std::uint64_t>(img.data() + kFst, 8);
    memkv::io::store_le<std::uint64_t>(img.data() + kFst + 32, 8);
    memkv::io::store_le<std::uint64_t>(img.data() + kFst + 8, 1);  // root
    reject(img, "empty image with a root state");
  }
  {
    // Values packed narrower than the header claims: the column is too short for them.
    Ref m;
    for (int i = 0; i < 200; ++i) m.emplace("k" + std::to_string(1000 + i), static_cast<std::uint64_t>(i) * 7919 % 1000);
    const FrozenLayer fl = build_from(m);
    std::vector<std::byte> img(fl.bytes().begin(), fl.bytes().end());
    REQUIRE(std::to_integer<unsigned>(img[kFst + 40]) == 1);  // value mode packed
    REQUIRE(std::to_integer<unsigned>(img[kFst + 41]) < 16);  // value width
    img[kFst + 41] = std::byte{64};
    reject(img, "value column shorter than key count x width");
    img[kFst + 41] = std::byte{65};
    reject(img, "bad value mode/width");
  }
  {
    // A valid 48-byte header over fewer bytes than the fixed parts that follow it.
    std::vector<std::byte> img(100);
    memkv::io::finish_image(img, memkv::detail::fst::magic, memkv::detail::fst::version, 0, 0);
    reject(img, "shorter than its fixed parts");
  }
}

TEST_CASE("FrozenLayer: a builder whose file cannot be put in place throws and leaves no temporary", "[frozen_layer][file]") {
  const auto dir = temp_path("builder_dir");
  std::filesystem::create_directories(dir / "inner");  // the target is a non-empty directory
  {
    FrozenLayerBuilder b(dir);
    b.insert("a", 1);
    b.insert("b", 2);
    CHECK_THROWS_WITH(b.finish(), Catch::Contains("cannot rename") && Catch::Contains(dir.string()));
  }
  CHECK(std::filesystem::is_directory(dir / "inner"));
  std::size_t leftovers = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.parent_path()))
    leftovers += e.path().filename().string().rfind(dir.filename().string() + ".tmp.", 0) == 0;
  CHECK(leftovers == 0);
  std::filesystem::remove_all(dir);
}
