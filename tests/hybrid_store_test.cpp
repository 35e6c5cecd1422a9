// Tests of memkv::HybridStore: the merged view of a base (FrozenLayer, or FrontCodedSet in
// FrontCodedHybridStore: every test runs on both) and a FastArt delta,
// merges (forced at random points in the differential runs), files, and crash safety of save().
#include <catch2/catch.hpp>

#include <memkv/hybrid_store.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <ranges>
#include <span>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "differential.hpp"

namespace {

// The same store over another value type.
template <class V, class S>
using with_value = memkv::HybridStore<V, memkv::SlabAllocator, typename S::base_type>;

std::filesystem::path temp_path(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("memkv_hybrid_" + std::to_string(::getpid()) + "_" + name);
}

// A store of n keys "key/<i>" -> i saved to `path`; returns the file's bytes.
template <class Store>
std::vector<char> saved_file(const std::filesystem::path& path, int n) {
  Store s;
  for (int i = 0; i < n; ++i) s.insert("key/" + std::to_string(i), static_cast<std::uint64_t>(i));
  s.save(path);
  std::ifstream f(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

// A HybridStore that also merges at random points (1 in `period` mutations), so the differential
// harness sees every mix of base, delta, tombstones and merges.
template <class V, class BaseLayer>
class RandomlyMergingStore : public memkv::HybridStore<V, memkv::SlabAllocator, BaseLayer> {
  using Base = memkv::HybridStore<V, memkv::SlabAllocator, BaseLayer>;

public:
  RandomlyMergingStore() : Base(small_options()) {}
  bool insert(std::string_view k, V v) {
    const bool r = Base::insert(k, std::move(v));
    tick();
    return r;
  }
  bool insert_or_assign(std::string_view k, V v) {
    const bool r = Base::insert_or_assign(k, std::move(v));
    tick();
    return r;
  }
  bool erase(std::string_view k) {
    const bool r = Base::erase(k);
    tick();
    return r;
  }
  std::size_t insert_many(std::span<const std::string_view> ks, std::span<const V> vs) {
    const std::size_t r = Base::insert_many(ks, vs);
    tick();
    return r;
  }
  std::size_t insert_or_assign_many(std::span<const std::string_view> ks, std::span<const V> vs) {
    const std::size_t r = Base::insert_or_assign_many(ks, vs);
    tick();
    return r;
  }

private:
  static memkv::hybrid_options small_options() {
    memkv::hybrid_options o;
    o.min_merge_keys = 512;  // automatic merges happen too
    o.delta_share = 0.25;
    return o;
  }
  void tick() {
    state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
    if ((state_ >> 33) % 4096 == 0) Base::merge();
  }
  std::uint64_t state_ = 12345;
};

template <class M>
void differential(const char* name, memkv_test::DiffOptions o, std::size_t seeds) {
  for (std::size_t s = 0; s < seeds; ++s) {
    memkv_test::DiffOptions run = o;
    run.seed = o.seed + s;
    INFO(name << " seed " << run.seed << ", " << run.ops << " ops");
    memkv_test::DiffStats stats;
    REQUIRE_NOTHROW(stats = memkv_test::run_differential<M>(run));
    CHECK(stats.inserted > 0);
    CHECK(stats.batches > 0);  // get_many was checked too
    CHECK(stats.insert_batches > 0);  // and insert_many
  }
}

}  // namespace

TEMPLATE_TEST_CASE("HybridStore: a new store is empty", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  CHECK(s.empty());
  CHECK(s.size() == 0);
  CHECK(s.begin() == s.end());
  CHECK_FALSE(s.contains(""));
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: keys move from the delta to the base and stay reachable", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  CHECK(s.insert("b", 2));
  CHECK(s.insert("a", 1));
  CHECK_FALSE(s.insert("a", 9));
  CHECK(s.stats().delta_entries == 2);
  s.merge();
  CHECK(s.stats().delta_entries == 0);
  CHECK(s.stats().base_keys == 2);
  CHECK(s.get("a") == 1u);
  CHECK(s.get("b") == 2u);
  CHECK(s.size() == 2);
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: assigning to a base key writes in place, the delta does not grow", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  s.insert("k", 1);
  s.merge();
  CHECK_FALSE(s.insert_or_assign("k", 5));
  CHECK(s.get("k") == 5u);
  CHECK(s.stats().delta_entries == 0);
  *s.find("k") = 6;
  CHECK(s.get("k") == 6u);
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: erasing a base key leaves a tombstone; inserting revives it", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  s.insert("x", 1);
  s.insert("y", 2);
  s.merge();
  CHECK(s.erase("x"));
  CHECK_FALSE(s.erase("x"));
  CHECK_FALSE(s.contains("x"));
  CHECK(s.size() == 1);
  CHECK(s.stats().delta_tombstones == 1);
  std::vector<std::string> keys;
  for (auto e : s) keys.emplace_back(e.key);
  CHECK(keys == std::vector<std::string>{"y"});
  CHECK(s.insert("x", 7));
  CHECK(s.get("x") == 7u);
  CHECK(s.size() == 2);
  CHECK(s.stats().delta_tombstones == 0);
  s.check_invariants();
  s.merge();
  CHECK(s.get("x") == 7u);
  CHECK(s.size() == 2);
}

TEMPLATE_TEST_CASE("HybridStore: get_many answers as get does, from the delta, its tombstones and the base", "[hybrid]",
                   memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  using opt = std::optional<std::uint64_t>;
  Store s;
  std::vector<std::string_view> none;
  std::vector<opt> no_answers;
  REQUIRE_NOTHROW(s.get_many(none, no_answers));
  const std::vector<std::string_view> two = {"a", ""};
  std::vector<opt> answers(2, 5u);
  s.get_many(two, answers);  // no base, no delta
  CHECK(answers == std::vector<opt>{std::nullopt, std::nullopt});
  s.insert("", 100);
  s.get_many(two, answers);  // a delta only
  CHECK(answers == std::vector<opt>{std::nullopt, 100u});

  // 1,000 keys in the base; then overwritten in place, erased (tombstones), revived and new ones.
  std::vector<std::string> keys;
  for (int i = 0; i < 1000; ++i) keys.push_back("https://example.org/" + std::to_string(i * 7919));
  for (std::size_t i = 0; i < keys.size(); ++i) s.insert(keys[i], i);
  s.merge();
  for (std::size_t i = 0; i < keys.size(); i += 3) s.insert_or_assign(keys[i], i + 5000);
  for (std::size_t i = 1; i < keys.size(); i += 5) s.erase(keys[i]);
  for (std::size_t i = 1; i < keys.size(); i += 25) s.insert(keys[i], i + 9000);
  for (int i = 0; i < 300; ++i) s.insert("https://example.org/new/" + std::to_string(i), 77);
  REQUIRE(s.stats().delta_tombstones > 0);
  REQUIRE(s.stats().base_keys == 1001);
  std::vector<std::string> q = keys;
  for (int i = 0; i < 300; i += 2) q.push_back("https://example.org/new/" + std::to_string(i));
  for (const auto& k : keys) q.push_back(k + '\0');  // absent neighbours
  q.push_back("");
  q.push_back(keys[3]);  // a repeat
  std::mt19937_64 rng(7);
  std::shuffle(q.begin(), q.end(), rng);
  const std::vector<std::string_view> views(q.begin(), q.end());
  std::vector<opt> got(views.size(), 12345u);
  s.get_many(views, got);
  std::size_t hits = 0;
  for (std::size_t i = 0; i < views.size(); ++i) {
    INFO("key " << i);
    CHECK(got[i] == s.get(views[i]));
    hits += got[i].has_value();
  }
  CHECK(hits == 1000 - 200 + 40 + 150 + 1 + 1);  // erased, revived, new, "" and the repeat
  std::vector<opt> short_out(views.size() - 1);
  CHECK_THROWS_AS(s.get_many(views, short_out), memkv::error);

  // std::string values, copied out
  with_value<std::string, Store> t;
  t.insert("k1", "one");
  t.insert("k2", "two");
  t.merge();
  t.insert_or_assign("k2", "deux");
  t.insert("k3", "three");
  const std::vector<std::string_view> tq = {"k3", "k2", "k1", "k0"};
  std::vector<std::optional<std::string>> tg(tq.size());
  t.get_many(tq, tg);
  CHECK(tg == std::vector<std::optional<std::string>>{"three", "deux", "one", std::nullopt});
}

TEMPLATE_TEST_CASE("HybridStore: erasing a delta-only key removes it from the delta", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  s.insert("base", 1);
  s.merge();
  s.insert("new", 2);
  CHECK(s.erase("new"));
  CHECK(s.stats().delta_entries == 0);
  CHECK(s.size() == 1);
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: erasing the last key gives all memory back", "[hybrid][memory]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  const std::size_t empty = s.memory_usage();
  for (int i = 0; i < 1000; ++i) s.insert("key" + std::to_string(i), i);
  s.merge();
  for (int i = 0; i < 1000; ++i) CHECK(s.erase("key" + std::to_string(i)));
  CHECK(s.empty());
  CHECK(s.memory_usage() == empty);
}

TEMPLATE_TEST_CASE("HybridStore: merged iteration, lower_bound, prefix and range", "[hybrid][scan]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  std::map<std::string, std::uint64_t> ref;
  for (int i = 0; i < 200; ++i) {
    const std::string k = "p/" + std::to_string(i * 7 % 200);
    s.insert(k, i);
    ref.emplace(k, i);
    if (i == 100) s.merge();
  }
  for (int i = 0; i < 200; i += 3) {
    const std::string k = "p/" + std::to_string(i);
    s.erase(k);
    ref.erase(k);
  }
  s.insert("", 1);
  ref.emplace("", 1);
  memkv_test::detail::compare_all(s, ref, "merged view");
  std::vector<std::string> got;
  for (auto e : s.prefix("p/1")) got.emplace_back(e.key);
  std::vector<std::string> want;
  for (auto& [k, v] : ref)
    if (k.rfind("p/1", 0) == 0) want.push_back(k);
  CHECK(got == want);
  got.clear();
  for (auto e : s.range("p/2", "p/5")) got.emplace_back(e.key);
  want.clear();
  for (auto it = ref.lower_bound("p/2"); it != ref.lower_bound("p/5"); ++it) want.push_back(it->first);
  CHECK(got == want);
  auto lb = s.lower_bound("p/150");
  REQUIRE(lb != s.end());
  CHECK((*lb).key == ref.lower_bound("p/150")->first);
  CHECK(std::ranges::distance(s.begin(), s.end()) == static_cast<std::ptrdiff_t>(ref.size()));
}

TEMPLATE_TEST_CASE("HybridStore: std::string values through merges", "[hybrid][values]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  with_value<std::string, Store> s;
  s.insert("a", std::string(100, 'x'));
  s.insert("b", "short");
  s.merge();
  s.insert_or_assign("a", "changed");
  s.insert("c", "delta");
  CHECK(s.get("a") == std::string("changed"));
  s.merge();
  CHECK(s.get("a") == std::string("changed"));
  CHECK(s.get("b") == std::string("short"));
  CHECK(s.get("c") == std::string("delta"));
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: automatic merges keep the delta bounded", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  memkv::hybrid_options o;
  o.min_merge_keys = 1000;
  o.delta_share = 0.5;
  Store s(o);
  for (int i = 0; i < 20000; ++i) s.insert("u/" + std::to_string(i), i);
  CHECK(s.stats().merges > 0);
  CHECK(s.stats().delta_entries <= std::max<std::size_t>(1000, s.stats().base_keys / 2) + 1);
  CHECK(s.size() == 20000);
  s.check_invariants();
}

TEMPLATE_TEST_CASE("HybridStore: merge() rebuilds a base from an automatic merge once, then only for new keys", "[hybrid]",
                   memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  // An automatic merge of an FST base builds it fast; merge() rebuilds it small even with an
  // empty delta. A front-coded base has one way to be built: nothing to redo.
  constexpr bool rebuilds = std::is_same_v<typename Store::base_type, memkv::FrozenLayer>;
  memkv::hybrid_options o;
  o.min_merge_keys = 1000;
  o.delta_share = 0.5;
  Store s(o);
  o.auto_merge = false;
  Store once(o);
  int i = 0;
  do {
    const std::string k = "k/" + std::to_string(i * 7919 % 100003);
    s.insert(k, i);
    once.insert(k, i);
    ++i;
  } while (s.stats().merges == 0 || s.stats().delta_entries != 0);
  const std::size_t automatic = s.stats().merges;
  s.merge();
  CHECK(s.stats().merges == automatic + (rebuilds ? 1 : 0));
  s.merge();
  CHECK(s.stats().merges == automatic + (rebuilds ? 1 : 0));
  once.merge();
  CHECK(once.stats().merges == 1);
  CHECK(s.stats().base_bytes == once.stats().base_bytes);
  CHECK(s.size() == once.size());
  CHECK(std::ranges::equal(s, once, [](const auto& a, const auto& b) { return a.key == b.key && a.value == b.value; }));
  s.check_invariants();
  s.insert("k/new", 1);
  s.merge();
  CHECK(s.stats().merges == automatic + (rebuilds ? 2 : 1));
  CHECK(s.get("k/new") == std::uint64_t{1});
}

TEMPLATE_TEST_CASE("HybridStore: max_delta_bytes caps the delta; by default only the share does", "[hybrid]",
                   memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  memkv::hybrid_options o;
  o.min_merge_keys = 1u << 20;  // the share trigger never fires below a million keys
  Store uncapped(o);
  o.max_delta_bytes = 64 * 1024;
  Store capped(o);
  for (int i = 0; i < 20000; ++i) {
    uncapped.insert("u/" + std::to_string(i), i);
    capped.insert("u/" + std::to_string(i), i);
    REQUIRE(capped.stats().delta_bytes <= o.max_delta_bytes + 4096);  // one insert past the cap at most
  }
  CHECK(uncapped.stats().merges == 0);
  CHECK(uncapped.stats().delta_entries == 20000);
  CHECK(capped.stats().merges > 5);
  CHECK(capped.size() == 20000);
  capped.check_invariants();
  for (int i = 0; i < 20000; i += 97) CHECK(capped.get("u/" + std::to_string(i)) == static_cast<std::uint64_t>(i));
}

TEMPLATE_TEST_CASE("HybridStore: the base and delta filters change no answer; built lazily, counted", "[hybrid]",
                   memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  memkv::hybrid_options off;
  off.filter_bits_per_key = 0;
  off.delta_filter_bits_per_key = 0;
  off.min_merge_keys = 300;
  memkv::hybrid_options on = off;
  on.filter_bits_per_key = 2;  // small filters: many false positives go on to the lookup
  on.delta_filter_bits_per_key = 2;
  Store a(off), b(on);
  std::map<std::string, std::uint64_t> ref;
  std::mt19937_64 rng(21);
  for (int i = 0; i < 6000; ++i) {
    const std::string k = "k/" + std::to_string(rng() % 3000);
    const std::uint64_t v = rng();
    switch (rng() % 4) {
      case 0: {
        const bool r = ref.erase(k) != 0;
        CHECK(a.erase(k) == r);
        CHECK(b.erase(k) == r);
        break;
      }
      case 1: {
        const bool r = ref.insert_or_assign(k, v).second;
        CHECK(a.insert_or_assign(k, v) == r);
        CHECK(b.insert_or_assign(k, v) == r);
        break;
      }
      default: {
        const bool r = ref.emplace(k, v).second;
        CHECK(a.insert(k, v) == r);
        CHECK(b.insert(k, v) == r);
      }
    }
  }
  CHECK(a.stats().filter_bytes == 0);
  CHECK(b.stats().filter_bytes > 0);
  a.check_invariants();
  b.check_invariants();
  memkv_test::detail::compare_all(a, ref, "no filter");
  memkv_test::detail::compare_all(b, ref, "2-bit filter");
  const auto path = temp_path("filter");
  b.save(path);
  memkv::hybrid_options manual = on;
  manual.auto_merge = false;  // the delta below grows past the merge trigger
  Store c = Store::open(path, manual);
  CHECK(c.stats().filter_bytes == 0);  // not built by open()
  CHECK(c.get(ref.begin()->first) == ref.begin()->second);
  CHECK(c.stats().filter_bytes == 0);  // nor by lookups
  CHECK_FALSE(c.insert(ref.begin()->first, 1));  // in the base: found past the filter
  CHECK(c.stats().filter_bytes > 0);
  CHECK(c.stats().delta_filter_bytes == 0);  // the delta is empty after open()
  CHECK(c.insert("k/new", 1));
  CHECK(c.size() == ref.size() + 1);
  // The delta's filter: built with the delta's first key, counted, dropped by a merge; a store
  // without filters has none.
  CHECK(c.stats().delta_filter_bytes > 0);
  CHECK(c.memory_usage() >= c.stats().delta_filter_bytes + c.stats().delta_bytes + c.stats().filter_bytes);
  CHECK(a.stats().delta_filter_bytes == 0);
  if (b.stats().delta_entries != 0) CHECK(b.stats().delta_filter_bytes > 0);
  // Past its first size (1,024 keys) it is rebuilt larger, and every delta key stays found.
  const std::size_t first = c.stats().delta_filter_bytes;
  for (int i = 0; i < 5000; ++i) CHECK(c.insert("d/" + std::to_string(i), static_cast<std::uint64_t>(i)));
  CHECK(c.stats().delta_filter_bytes > first);
  for (int i = 0; i < 5000; ++i) CHECK(c.get("d/" + std::to_string(i)) == static_cast<std::uint64_t>(i));
  CHECK(c.get("k/new") == 1u);
  CHECK_FALSE(c.contains("d/5000"));
  c.merge();
  CHECK(c.stats().delta_filter_bytes == 0);
  CHECK(c.size() == ref.size() + 5001);
  c.check_invariants();
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore: copies are deep, moves leave an empty store", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  Store s;
  s.insert("a", 1);
  s.merge();
  s.insert("b", 2);
  Store c = s;
  c.insert_or_assign("a", 10);
  c.erase("b");
  CHECK(s.get("a") == 1u);
  CHECK(s.get("b") == 2u);
  Store m = std::move(s);
  CHECK(m.size() == 2);
  CHECK(s.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
}

TEMPLATE_TEST_CASE("HybridStore: copy and move assignment, swap, with a mapped base too", "[hybrid]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  // A store in every state at once: base keys, a delta, a tombstone, an overwritten base value.
  auto fill = [](Store& s, const std::string& tag) {
    for (int i = 0; i < 300; ++i) s.insert(tag + std::to_string(i), i);
    s.merge();
    s.insert(tag + "delta", 1000);
    s.erase(tag + "7");
    s.insert_or_assign(tag + "8", 888);
  };
  auto expect = [](const Store& s, const std::string& tag) {
    CHECK(s.size() == 300);
    CHECK(s.get(tag + "delta") == 1000u);
    CHECK_FALSE(s.contains(tag + "7"));
    CHECK(s.get(tag + "8") == 888u);
    CHECK(s.get(tag + "299") == 299u);
    std::size_t n = 0;
    for (auto e : s) n += e.key.substr(0, tag.size()) == tag;
    CHECK(n == 300);
    s.check_invariants();
  };
  Store a, b;
  fill(a, "a/");
  fill(b, "b/");
  b = a;  // copy assignment over a non-empty store
  expect(b, "a/");
  CHECK_FALSE(b.contains("b/1"));
  b.insert("a/new", 1);  // deep: a is untouched
  CHECK_FALSE(a.contains("a/new"));
  const Store& same = b;
  b = same;  // self-assignment keeps everything
  CHECK(b.size() == 301);
  CHECK(b.get("a/new") == 1u);
  Store c;
  fill(c, "c/");
  b = std::move(c);  // move assignment releases b's old contents
  expect(b, "c/");
  CHECK_FALSE(b.contains("a/new"));
  CHECK(c.empty());  // NOLINT(bugprone-use-after-move): documented moved-from state
  c.insert("again", 2);  // and it is usable
  CHECK(c.size() == 1);

  // An opened store's base views its mapping: swap and assignment carry the mapping along.
  const auto path = temp_path("assign");
  a.save(path);
  {
    Store other;
    fill(other, "o/");
    {
      Store opened = Store::open(path);
      swap(opened, other);
      expect(opened, "o/");
    }  // the store that opened the file is gone: other must hold the mapping now
    expect(other, "a/");
    Store copy;
    copy = other;  // a deep copy of a mapped base
    Store moved;
    fill(moved, "m/");
    moved = std::move(other);
    { Store gone = std::move(other); }  // NOLINT(bugprone-use-after-move): moved-from, empty
    expect(moved, "a/");
    { Store drop = std::move(moved); }
    expect(copy, "a/");
  }
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore: files whose checksum holds but whose parts disagree throw format_error", "[hybrid][file]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  // Fields changed and the header resealed (a new checksum), so that open() gets past the
  // checksum to the checks of the body's own fields.
  using Store = TestType;
  const auto path = temp_path("resealed");
  const std::vector<char> chars = saved_file<Store>(path, 400);
  std::vector<std::byte> good(chars.size());
  std::memcpy(good.data(), chars.data(), chars.size());
  const auto magic = memkv::io::load_le<std::uint64_t>(good.data());
  const auto version = memkv::io::load_le<std::uint32_t>(good.data() + 8);
  const auto flags = memkv::io::load_le<std::uint32_t>(good.data() + 12);
  const auto keys = memkv::io::load_le<std::uint64_t>(good.data() + 24);
  REQUIRE(keys == 400);
  auto reseal_and_open = [&](std::vector<std::byte> bytes, std::uint64_t key_count) {
    memkv::io::finish_image(bytes, magic, version, flags, key_count);
    memkv::io::atomic_write_file(path, bytes);
    return Store::open(path);
  };
  CHECK(reseal_and_open(good, keys).size() == 400);  // resealing alone changes nothing
  {
    auto bad = good;  // the base image's length runs past the end
    memkv::io::store_le<std::uint64_t>(bad.data() + 48, bad.size());
    CHECK_THROWS_WITH(reseal_and_open(bad, keys), Catch::Contains("runs past the end"));
  }
  {
    auto bad = good;  // one value too many
    bad.resize(bad.size() + 8);
    CHECK_THROWS_WITH(reseal_and_open(bad, keys), Catch::Contains("does not hold exactly 400 values"));
  }
  {
    auto bad = good;  // a value cut in half
    bad.resize(bad.size() - 4);
    CHECK_THROWS_AS(reseal_and_open(bad, keys), memkv::format_error);
  }
  {
    auto bad = good;  // a key count that agrees with the value column but not with the base
    bad.resize(bad.size() + 8);
    CHECK_THROWS_WITH(reseal_and_open(bad, keys + 1), Catch::Contains("key count at offset 24"));
  }
  {
    auto bad = good;  // the base image's length cuts the base short
    const auto base_len = memkv::io::load_le<std::uint64_t>(good.data() + 48);
    memkv::io::store_le<std::uint64_t>(bad.data() + 48, base_len - 8);
    CHECK_THROWS_AS(reseal_and_open(bad, keys), memkv::format_error);
  }
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore: save and open round-trip, the delta starts empty", "[hybrid][file]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  const auto path = temp_path("roundtrip");
  auto ref = memkv_test::nasty_map<std::uint64_t>(7, 3000);
  {
    Store s;
    for (auto& [k, v] : ref) s.insert(k, v);
    s.merge();
    s.erase(ref.begin()->first);
    s.insert("zzz-after-merge", 5);
    ref.erase(ref.begin());
    ref.emplace("zzz-after-merge", 5);
    s.save(path);
  }
  Store t = Store::open(path);
  CHECK(t.stats().delta_entries == 0);
  memkv_test::detail::compare_all(t, ref, "opened store");
  t.check_invariants();
  // Writes after open go to the delta; the file is untouched until the next save.
  t.insert("new", 1);
  *t.find("zzz-after-merge") = 6;
  CHECK(t.get("zzz-after-merge") == 6u);
  Store u = Store::open(path);
  CHECK_FALSE(u.contains("new"));
  CHECK(u.get("zzz-after-merge") == 5u);
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore: a 16 MiB key through the delta, merges, scans and a file", "[hybrid][keys]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  // The contract's longest key (256 KiB under a sanitizer or valgrind: the same code paths).
  using Store = TestType;
  const std::size_t size = memkv_test::kSanitized ? std::size_t{256} << 10 : std::size_t{16} << 20;
  std::string huge(size, '\0');
  for (std::size_t i = 0; i < huge.size(); i += 4097) huge[i] = static_cast<char>(i * 31);
  const auto path = temp_path("huge");
  {
    Store s;
    CHECK(s.insert(huge, 5));
    CHECK(s.insert("a", 6));
    s.merge();
    CHECK(s.insert(huge + "y", 7));  // in the delta, sharing the base key's 16 MiB
    CHECK(s.erase("a"));
    CHECK(s.size() == 2);
    CHECK(s.get(huge) == 5u);
    CHECK(s.get(huge + "y") == 7u);
    CHECK_FALSE(s.contains(huge.substr(0, size - 1)));
    std::vector<std::size_t> sizes;
    for (auto e : s) sizes.push_back(e.key.size());
    CHECK(sizes == std::vector<std::size_t>{size, size + 1});
    auto lb = s.lower_bound(huge.substr(0, 10));
    REQUIRE(lb != s.end());
    CHECK((*lb).key == huge);
    s.save(path);
  }
  Store t = Store::open(path);
  CHECK(t.size() == 2);
  CHECK(t.get(huge + "y") == 7u);
  CHECK((*t.begin()).key == huge);
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore: corrupt, truncated or foreign files throw format_error", "[hybrid][file]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  const auto path = temp_path("corrupt");
  const std::vector<char> good = saved_file<Store>(path, 500);
  auto write = [&](const std::vector<char>& bytes) {
    std::ofstream f(path, std::ios::binary | std::ios::trunc);
    f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  };
  std::mt19937_64 rng(3);
  for (int i = 0; i < 200; ++i) {
    std::vector<char> bad = good;
    switch (i % 3) {
      case 0: bad.resize(rng() % bad.size()); break;
      case 1: bad[rng() % bad.size()] ^= static_cast<char>(1 + rng() % 255); break;
      default: bad.push_back(static_cast<char>(rng())); break;
    }
    write(bad);
    CHECK_THROWS_AS(Store::open(path), memkv::format_error);
  }
  write(good);
  CHECK(Store::open(path).size() == 500);
  CHECK_THROWS_AS((with_value<std::uint32_t, Store>::open(path)), memkv::format_error);
  // the other base's store refuses the file (its own magic)
  using Other = std::conditional_t<std::is_same_v<Store, memkv::HybridStore<>>,
                                   memkv::FrontCodedHybridStore<>, memkv::HybridStore<>>;
  CHECK_THROWS_AS(Other::open(path), memkv::format_error);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(Store::open(path), memkv::error);
}

TEMPLATE_TEST_CASE("HybridStore: a process killed during save leaves the old file or the new one", "[hybrid][file][crash]", memkv::HybridStore<>, memkv::FrontCodedHybridStore<>) {
  using Store = TestType;
  const auto path = temp_path("crash");
  // Two states the file may hold; the child alternates between them, saving as fast as it can.
  Store a, b;
  for (int i = 0; i < 20000; ++i) a.insert("a/" + std::to_string(i), i);
  for (int i = 0; i < 15000; ++i) b.insert("b/" + std::to_string(i), i * 2);
  a.save(path);
  std::mt19937_64 rng(11);
  int opened = 0;
  for (int round = 0; round < 40; ++round) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      for (int i = 0;; ++i) (i % 2 ? a : b).save(path);
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 20000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    Store t = Store::open(path);  // must never throw: the old image or the new one
    const bool is_a = t.size() == 20000 && t.get("a/19999") == 19999u;
    const bool is_b = t.size() == 15000 && t.get("b/14999") == 29998u;
    CHECK((is_a || is_b));
    ++opened;
  }
  CHECK(opened == 40);
  // Leftover temporary files of killed saves are the only debris.
  for (auto& e : std::filesystem::directory_iterator(path.parent_path()))
    if (e.path().string().rfind(path.string() + ".tmp.", 0) == 0) std::filesystem::remove(e.path());
  std::filesystem::remove(path);
}

TEMPLATE_TEST_CASE("HybridStore differential: uint64 values, merges at random points", "[hybrid][differential]",
                   memkv::FrozenLayer, memkv::FrontCodedSet) {
  memkv_test::DiffOptions o;
  o.seed = memkv_test::base_seed() + 500;
  o.ops = std::max<std::size_t>(1000, memkv_test::test_ops() / 4);
  o.max_size = 8000;
  differential<RandomlyMergingStore<std::uint64_t, TestType>>("HybridStore<uint64>", o,
                                                              memkv_test::test_seeds());
}

TEMPLATE_TEST_CASE("HybridStore differential: std::string values, merges at random points", "[hybrid][differential]",
                   memkv::FrozenLayer, memkv::FrontCodedSet) {
  memkv_test::DiffOptions o;
  o.seed = memkv_test::base_seed() + 600;
  o.ops = std::max<std::size_t>(1000, memkv_test::test_ops() / 8);
  o.max_size = 8000;
  differential<RandomlyMergingStore<std::string, TestType>>("HybridStore<string>", o, 1);
}
