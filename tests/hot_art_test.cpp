// Tests of memkv::HotArt: the bit-string and node primitives, one behaviour per TEST_CASE, then
// the randomized differential runs.
#include <memkv/hot_art.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <map>
#include <memory>
#include <new>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "differential.hpp"
#include "value_checks.hpp"
#include "point_index_checks.hpp"

namespace {

using Hot = memkv::HotArt<>;
using StrHot = memkv::HotArt<std::string>;
using ArenaHot = memkv::ArenaHotArt<>;             // the same trie with 32-bit arena references
using StrArenaHot = memkv::ArenaHotArt<std::string>;
using namespace std::string_literals;
using namespace std::string_view_literals;
using memkv_test::show;
namespace hot = memkv::detail::hot;

template <class M>
std::vector<std::pair<std::string, typename M::mapped_type>> contents(const M& m) {
  std::vector<std::pair<std::string, typename M::mapped_type>> out;
  for (auto&& e : m) out.emplace_back(std::string(e.key), e.value);
  return out;
}

template <class R>
std::vector<std::string> keys_of(R&& r) {
  std::vector<std::string> out;
  for (auto&& e : r) out.emplace_back(e.key);
  return out;
}

template <class V>
std::vector<std::pair<std::string, V>> contents(const std::map<std::string, V>& m) {
  return {m.begin(), m.end()};
}

template <class M, class V = typename M::mapped_type>
void require_same(const M& m, const std::map<std::string, V>& ref) {
  REQUIRE_NOTHROW(m.check_invariants());
  REQUIRE(m.size() == ref.size());
  REQUIRE(m.empty() == ref.empty());
  REQUIRE(contents(m) == contents(ref));
  for (const auto& [k, v] : ref) {
    INFO("key " << show(k));
    const V* p = m.find(k);
    REQUIRE(p != nullptr);
    REQUIRE(*p == v);
  }
}

template <class M, class V = typename M::mapped_type>
void check_lower_bounds(const M& m, const std::map<std::string, V>& ref, const std::vector<std::string>& probes) {
  for (const std::string& p : probes) {
    INFO("lower_bound " << show(p));
    auto it = m.lower_bound(p);
    auto rit = ref.lower_bound(p);
    if (rit == ref.end()) {
      CHECK(it == m.end());
    } else {
      REQUIRE(it != m.end());
      CHECK((*it).key == rit->first);
    }
  }
}

std::string byte_key(std::string_view prefix, std::uint8_t b) {
  std::string k(prefix);
  k += static_cast<char>(b);
  return k;
}
std::uint8_t scrambled(unsigned i) { return static_cast<std::uint8_t>((i * 167u + 89u) & 0xff); }

// An allocator policy over SlabAllocator that throws std::bad_alloc on a chosen allocation.
struct ThrowingSlab {
  static inline long countdown = -1;  // allocations left before the failing one; -1: never fail
  static inline bool always = false;  // every allocation fails
  static void fail_at(long k) { countdown = k - 1; }
  static void never_fail() {
    countdown = -1;
    always = false;
  }

  ThrowingSlab() = default;
  ThrowingSlab(const ThrowingSlab& other) noexcept : inner(other.inner) {}
  ThrowingSlab(ThrowingSlab&&) noexcept = default;
  ThrowingSlab& operator=(ThrowingSlab&&) noexcept = default;

  void* allocate(std::size_t bytes) {
    if (always || (countdown >= 0 && countdown-- == 0)) throw std::bad_alloc();
    return inner.allocate(bytes);
  }
  void deallocate(void* p, std::size_t bytes) noexcept { inner.deallocate(p, bytes); }
  std::size_t bytes_in_use() const noexcept { return inner.bytes_in_use(); }

  memkv::SlabAllocator inner;
};

struct NeverFailGuard {
  ~NeverFailGuard() { ThrowingSlab::never_fail(); }
};

// Keys whose discriminative bits spread over many bytes: a multi-mask node.
std::vector<std::string> spread_keys(unsigned n) {
  std::vector<std::string> keys;
  for (unsigned i = 0; i < n; ++i) {
    std::string k(40, 'x');
    k[i % 40] = static_cast<char>('a' + i / 40);
    keys.push_back(k);
  }
  return keys;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Types and concepts
// ---------------------------------------------------------------------------------------------

static_assert(std::is_same_v<memkv::HotArt<>, memkv::HotArt<std::uint64_t, memkv::SlabAllocator>>);
static_assert(std::forward_iterator<Hot::const_iterator>);
static_assert(std::forward_iterator<StrHot::const_iterator>);
static_assert(std::ranges::forward_range<Hot::range_type>);
static_assert(std::ranges::forward_range<const Hot>);
static_assert(std::ranges::common_range<const Hot>);
static_assert(std::is_same_v<std::iter_reference_t<Hot::const_iterator>, memkv::basic_entry<const std::uint64_t&>>);
static_assert(std::is_nothrow_move_constructible_v<Hot> && std::is_nothrow_move_assignable_v<Hot>);
static_assert(std::is_nothrow_move_constructible_v<StrHot> && std::is_nothrow_move_assignable_v<StrHot>);
static_assert(std::is_nothrow_swappable_v<Hot>);
static_assert(std::is_copy_constructible_v<Hot> && std::is_copy_assignable_v<Hot>);
static_assert(std::forward_iterator<ArenaHot::const_iterator>);
static_assert(std::ranges::common_range<const ArenaHot>);
static_assert(std::is_nothrow_move_constructible_v<ArenaHot> && std::is_nothrow_move_assignable_v<ArenaHot>);
static_assert(std::is_nothrow_swappable_v<StrArenaHot>);
static_assert(std::is_copy_constructible_v<ArenaHot> && std::is_copy_assignable_v<ArenaHot>);
static_assert(std::is_same_v<ArenaHot::allocator_type, memkv::ChunkArena>);

// ---------------------------------------------------------------------------------------------
// Primitives: the keys' bit strings, extraction, partial-key search
// ---------------------------------------------------------------------------------------------

TEST_CASE("HotArt: the 9-bit-unit bit strings order keys exactly like memcmp", "[hot_art][bits]") {
  auto keys = memkv_test::nasty_keys(21, 400);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    for (std::size_t j = 0; j < keys.size(); j += 7) {
      const std::string& a = keys[i];
      const std::string& b = keys[j];
      if (a == b) continue;
      INFO(show(a) << " vs " << show(b));
      const std::uint64_t m = hot::mismatch_bit(a, b);
      // Equal before m, different at m, and the bit at m orders them.
      for (std::uint64_t p = m >= 40 ? m - 40 : 0; p < m; ++p) REQUIRE(hot::key_bit(a, p) == hot::key_bit(b, p));
      REQUIRE(hot::key_bit(a, m) != hot::key_bit(b, m));
      REQUIRE((hot::key_bit(a, m) < hot::key_bit(b, m)) == (a < b));
    }
  }
  CHECK(hot::mismatch_bit("", "a") == 0);       // the present bit of unit 0
  CHECK(hot::mismatch_bit("a", "a\0"s) == 9);   // a prefix differs in the next unit's present bit
  CHECK(hot::mismatch_bit("\x80", "\0"s) == 1); // the byte's top bit
  CHECK(hot::mismatch_bit("\x01", "\0"s) == 8); // the byte's low bit
}

TEST_CASE("HotArt: portable pext and the window word agree with the key's bits", "[hot_art][bits]") {
  memkv_test::Rng rng(5);
  for (int round = 0; round < 2000; ++round) {
    const std::uint64_t x = rng.next(), mask = rng.next() & rng.next();
    std::uint64_t expect = 0;
    unsigned k = 0;
    for (unsigned b = 0; b < 64; ++b)
      if (mask >> b & 1) expect |= ((x >> b) & 1) << k++;
    REQUIRE(hot::pext_portable(x, mask) == expect);
    REQUIRE(hot::pext64(x, mask) == expect);  // _pext_u64 when built with BMI2 or when the CPU has it
#if MEMKV_HOT_BMI2_DISPATCH
    if (hot::cpu_has_bmi2()) REQUIRE(hot::pext_bmi2(x, mask) == expect);
#endif
    const std::uint64_t bytes = x >> 8;
    std::uint64_t spread = 0;
    for (unsigned s = 0; s < 7; ++s) spread |= ((bytes >> (8 * s)) & 0xff) << (9 * s);
    REQUIRE(hot::spread_portable(bytes) == spread);
  }
  for (unsigned v = 0; v < 0x10000; ++v) REQUIRE(hot::popcount16(v) == static_cast<unsigned>(std::popcount(v)));
  for (const std::string& key : memkv_test::nasty_keys(8, 300)) {
    for (std::uint64_t base : {0u, 1u, 3u, 7u, 20u}) {
      INFO(show(key) << " base " << base);
      const std::uint64_t w = hot::window_word(key, base);
      for (unsigned r = 0; r < 7; ++r)
        for (unsigned j = 0; j < 9; ++j)
          REQUIRE(((w >> (9 * (6 - r) + (8 - j))) & 1) == hot::key_bit(key, (base + r) * 9 + j));
      REQUIRE(w >> 63 == 0);
    }
  }
}

TEST_CASE("HotArt: SIMD partial-key search agrees with the scalar one", "[hot_art][bits]") {
  memkv_test::Rng rng(9);
  auto run = [&](auto tag) {
    using T = decltype(tag);
    // A buffer standing for a node: bytes before the keys exist, as the child array does.
    std::vector<T> buf(64 + 40);
    for (int round = 0; round < 3000; ++round) {
      const unsigned n = 2 + static_cast<unsigned>(rng.below(31));
      T* pk = buf.data() + 64;
      for (auto& x : buf) x = static_cast<T>(rng.next());
      pk[0] = 0;
      for (unsigned j = 1; j < n; ++j) pk[j] = static_cast<T>(rng.next() & rng.next() & rng.next());
      const T dense = static_cast<T>(rng.next());
      INFO("n " << n << ", width " << sizeof(T));
      REQUIRE(hot::match_keys(pk, n, dense) == hot::match_scalar(pk, n, dense));
    }
  };
  run(std::uint8_t{});
  run(std::uint16_t{});
  run(std::uint32_t{});
}

// ---------------------------------------------------------------------------------------------
// The map interface
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: a new map is empty", "[hot_art]", Hot, ArenaHot) {
  const TestType m;
  CHECK(m.size() == 0);
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
  CHECK(m.find("") == nullptr);
  CHECK_FALSE(m.get("a").has_value());
  CHECK_FALSE(m.contains(""));
  CHECK(m.lower_bound("") == m.end());
  CHECK(m.prefix("").begin() == m.prefix("").end());
  CHECK(m.memory_usage() == sizeof(TestType));
  CHECK_NOTHROW(m.check_invariants());
  TestType n;
  CHECK_FALSE(n.erase("a"));
  CHECK_FALSE(n.erase(""));
}

TEMPLATE_TEST_CASE("HotArt: insert, insert_or_assign, find, get, contains", "[hot_art]", Hot, ArenaHot) {
  TestType m;
  CHECK(m.insert("apple", 1));
  CHECK_FALSE(m.insert("apple", 2));
  CHECK(m.get("apple") == 1u);
  CHECK(m.insert("apples", 3));
  CHECK(m.insert("app", 4));
  CHECK(m.insert_or_assign("k", 1));
  CHECK_FALSE(m.insert_or_assign("k", 2));
  CHECK(m.get("k") == 2u);
  require_same(m, std::map<std::string, std::uint64_t>{{"app", 4}, {"apple", 1}, {"apples", 3}, {"k", 2}});
  std::uint64_t* p = m.find("apple");
  REQUIRE(p != nullptr);
  *p = 42;
  CHECK(m.get("apple") == 42u);
  const TestType& cm = m;
  CHECK(cm.find("apple") == p);
  for (const char* k : {"", "a", "ap", "appl", "applesauce", "kk"}) {
    INFO(k);
    CHECK_FALSE(m.contains(k));
    CHECK(m.find(k) == nullptr);
  }
}

TEMPLATE_TEST_CASE("HotArt: find pointers stay valid while other keys are inserted and erased", "[hot_art]", Hot, ArenaHot) {
  TestType m;
  m.insert("stable", 7);
  const std::uint64_t* p = m.find("stable");
  for (unsigned i = 0; i < 3000; ++i) m.insert("stable" + std::to_string(i * 7919), i);
  CHECK(m.find("stable") == p);
  for (unsigned i = 0; i < 3000; ++i) m.erase("stable" + std::to_string(i * 7919));
  CHECK(m.find("stable") == p);
  CHECK(*p == 7);
  CHECK(m.size() == 1);
}

TEMPLATE_TEST_CASE("HotArt: erase removes exactly the given key", "[hot_art]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  for (const char* k : {"", "a", "ab", "abc", "abd", "b", "bcdefghijklmnop", "bcdefghijklmnoq"}) {
    m.insert(k, ref.size());
    ref.emplace(k, ref.size());
  }
  for (const char* k : {"abcd", "aa", "bc", "bcdefghijklmno", "bcdefghijklmnor", "c"}) {
    INFO(k);
    CHECK_FALSE(m.erase(k));
  }
  require_same(m, ref);
  for (const char* k : {"ab", "", "bcdefghijklmnop", "abd", "a", "b", "abc", "bcdefghijklmnoq"}) {
    INFO(k);
    CHECK(m.erase(k));
    CHECK_FALSE(m.erase(k));
    ref.erase(k);
    require_same(m, ref);
  }
  CHECK(m.empty());
  CHECK(m.memory_usage() == sizeof(TestType));
}

TEMPLATE_TEST_CASE("HotArt: clear empties the map and gives its memory back", "[hot_art]", Hot, ArenaHot) {
  TestType m;
  const std::size_t empty = m.memory_usage();
  for (unsigned i = 0; i < 5000; ++i) m.insert("key" + std::to_string(i * 7919), i);
  CHECK(m.memory_usage() > empty);
  m.clear();
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
  CHECK(m.memory_usage() == empty);
  CHECK_NOTHROW(m.check_invariants());
  CHECK(m.insert("again", 1));
}

// ---------------------------------------------------------------------------------------------
// Nasty keys
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: the empty key, NUL and 0xff bytes round-trip exactly", "[hot_art][keys]", Hot, ArenaHot) {
  const std::vector<std::string> keys = {"",        "\0"s,       "\0\0"s,   "\0\0\0"s,  "\xff",
                                         "\xff\xff", "a\0"s,      "a\0b"s,   "a\xff",    "a\xff\0"s,
                                         "\0\xff"s,  "\xff\0"s,   "a",       "a\0\0"s,   "\x7f",
                                         "\x80",     "\x80\0"s,   "\x7f\xff"s, "abc\0def"s};
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(m.insert(keys[i], i));
    ref.emplace(keys[i], i);
    require_same(m, ref);
  }
  CHECK((*m.begin()).key.empty());
  CHECK_FALSE(m.contains("abc"));
  CHECK_FALSE(m.contains("\0\0\0\0"s));
  std::vector<std::string> probes = keys;
  for (const auto& k : keys) probes.push_back(k + '\0'), probes.push_back(k + '\x01'), probes.push_back(k + '\xff');
  check_lower_bounds(m, ref, probes);
  for (const auto& k : keys) {
    CHECK(m.erase(k));
    ref.erase(k);
    require_same(m, ref);
  }
}

TEMPLATE_TEST_CASE("HotArt: keys that are prefixes of each other", "[hot_art][keys]", Hot, ArenaHot) {
  for (const char c : {'a', '\0', '\xff'}) {
    INFO("chain of byte " << int(static_cast<unsigned char>(c)));
    TestType m;
    std::map<std::string, std::uint64_t> ref;
    for (std::size_t n = 200; n-- > 100;) {
      m.insert(std::string(n, c), n);
      ref.emplace(std::string(n, c), n);
    }
    for (std::size_t n = 0; n < 100; ++n) {
      m.insert(std::string(n, c), n);
      ref.emplace(std::string(n, c), n);
    }
    require_same(m, ref);
    CHECK((*m.lower_bound(std::string(7, c))).key == std::string(7, c));
    for (std::size_t n : {100u, 99u, 101u, 0u, 199u}) {
      CHECK(m.erase(std::string(n, c)));
      ref.erase(std::string(n, c));
      require_same(m, ref);
    }
    for (std::size_t n = 1; n < 200; n += 2) {
      m.erase(std::string(n, c));
      ref.erase(std::string(n, c));
    }
    require_same(m, ref);
    for (std::size_t n = 0; n < 200; ++n) m.erase(std::string(n, c));
    CHECK(m.empty());
    CHECK(m.memory_usage() == sizeof(TestType));
  }
}

TEMPLATE_TEST_CASE("HotArt: all 256 single-byte keys iterate in unsigned byte order", "[hot_art][keys]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  for (unsigned i = 0; i < 256; ++i) {
    const std::uint8_t b = scrambled(i);
    m.insert(byte_key("", b), b);
    ref.emplace(byte_key("", b), b);
  }
  require_same(m, ref);
  unsigned expect = 0;
  for (auto&& e : m) CHECK(static_cast<unsigned char>(e.key[0]) == expect++);
  std::vector<std::string> probes;
  for (unsigned b = 0; b < 256; ++b) probes.push_back(byte_key("", static_cast<std::uint8_t>(b)) + "z");
  check_lower_bounds(m, ref, probes);
}

TEMPLATE_TEST_CASE("HotArt: keys over 64 KiB sharing long prefixes, and a 16 MiB key", "[hot_art][keys]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  const std::string base(70000, 'L');
  for (const std::string& k : {base, base + "a", base + "b", base.substr(0, 65537) + "x",
                               base.substr(0, 65536), base.substr(0, 69999) + "\xff"}) {
    m.insert(k, k.size());
    ref.emplace(k, k.size());
  }
  require_same(m, ref);
  std::vector<std::string> probes;
  for (const auto& [k, v] : ref) {
    probes.push_back(k + '\0');
    probes.push_back(k.substr(0, k.size() - 1));
    probes.push_back(k.substr(0, 65535));
  }
  check_lower_bounds(m, ref, probes);
  CHECK(keys_of(m.prefix(base.substr(0, 65537))).size() == 5);
  std::string huge(16u << 20, '\0');
  for (std::size_t i = 0; i < huge.size(); i += 4093) huge[i] = static_cast<char>(i * 31);
  CHECK(m.insert(huge, 3));
  std::string sibling = huge;
  sibling.back() = '\x01';
  CHECK(m.insert(sibling, 4));
  CHECK(m.get(huge) == 3u);
  CHECK(m.get(sibling) == 4u);
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(m.erase(huge));
  CHECK(m.erase(sibling));
  for (const auto& [k, v] : ref) REQUIRE(m.erase(k));
  CHECK(m.memory_usage() == sizeof(TestType));
}

// ---------------------------------------------------------------------------------------------
// Node shapes and the height-optimizing insert
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: 32 entries fit one node; the 33rd splits it under a new root", "[hot_art][nodes]", Hot, ArenaHot) {
  TestType m;
  for (unsigned i = 0; i < 32; ++i) m.insert(byte_key("k", static_cast<std::uint8_t>(i * 8)), i);
  auto s = m.stats();
  CHECK(s.nodes == 1);
  CHECK(s.entries == 32);
  CHECK(s.root_height == 1);
  CHECK(s.leaf_depth_sum == 32);  // every leaf right under the root
  m.insert(byte_key("k", 255), 32);
  REQUIRE_NOTHROW(m.check_invariants());
  s = m.stats();
  CHECK(s.root_height == 2);
  CHECK(s.max_depth == 2);
  CHECK(s.leaves == 33);
  CHECK(s.leaf_depth_sum == 66);  // halves of 16 and 17 leaves, each a node under the new root
}

TEMPLATE_TEST_CASE("HotArt: partial keys of 8, 16 and 32 bits, single- and multi-mask nodes all occur", "[hot_art][nodes]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  // Few positions (8-bit), then more (16, 32 bits) within one window of 7 bytes.
  for (unsigned i = 0; i < 5; ++i) m.insert(byte_key("w", static_cast<std::uint8_t>(i * 50)), i), ref.emplace(byte_key("w", static_cast<std::uint8_t>(i * 50)), i);
  CHECK(m.stats().pk8 == 1);
  CHECK(m.stats().single_mask == 1);
  TestType multi;
  std::map<std::string, std::uint64_t> mref;
  unsigned i = 0;
  for (const auto& k : spread_keys(30)) multi.insert(k, i), mref.emplace(k, i++);
  require_same(multi, mref);
  const auto s = multi.stats();
  CHECK(s.multi_mask >= 1);
  CHECK(s.pk32 + s.pk16 >= 1);
  TestType wide;
  std::map<std::string, std::uint64_t> wref;
  memkv_test::Rng rng(3);
  for (unsigned j = 0; j < 32; ++j) {
    std::string k(8, '\0');
    for (auto& c : k) c = static_cast<char>(rng.next());
    wide.insert(k, j), wref.emplace(k, j);
  }
  require_same(wide, wref);
  CHECK(wide.stats().pk32 + wide.stats().pk16 >= 1);
  require_same(m, ref);
}

TEMPLATE_TEST_CASE("HotArt: a node whose positions span more than 64 KiB of key", "[hot_art][nodes]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  const std::string tail(70000, 'z');
  for (const std::string& k : {"a"s, "b"s, "a" + tail + "1", "a" + tail + "2", "a" + tail + "1\0"s, ""s}) {
    m.insert(k, k.size());
    ref.emplace(k, k.size());
  }
  require_same(m, ref);
  CHECK(m.stats().wide_units >= 1);
  check_lower_bounds(m, ref, {"a" + tail, "a" + tail + "0", "a" + tail + "15", "a" + tail + "3", "a\0"s, "c"});
  for (const auto& [k, v] : ref) {
    REQUIRE(m.erase(k));
    REQUIRE_NOTHROW(m.check_invariants());
  }
  CHECK(m.memory_usage() == sizeof(TestType));
}

TEMPLATE_TEST_CASE("HotArt: the tree stays low: 100k keys in at most 4 levels", "[hot_art][nodes]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  for (unsigned i = 0; i < 100000; ++i) {
    const std::string k = "https://example.org/u" + std::to_string((i * 2654435761u) % 1000003u);
    m.insert(k, i);
  }
  REQUIRE_NOTHROW(m.check_invariants());
  const auto s = m.stats();
  INFO("nodes " << s.nodes << ", entries " << s.entries << ", height " << s.root_height);
  CHECK(s.max_depth <= 4);
  CHECK(s.entries / s.nodes >= 10);  // compound nodes are well filled
}

TEMPLATE_TEST_CASE("HotArt: sequential, reverse and random insertion orders give the same map", "[hot_art][nodes]", Hot, ArenaHot) {
  std::vector<std::string> keys;
  for (unsigned i = 0; i < 20000; ++i) keys.push_back("key/" + std::to_string(i));
  std::map<std::string, std::uint64_t> ref;
  for (const auto& k : keys) ref.emplace(k, k.size());
  std::vector<std::string> sorted(keys);
  std::sort(sorted.begin(), sorted.end());
  for (int order = 0; order < 3; ++order) {
    std::vector<std::string> ks = sorted;
    if (order == 1) std::reverse(ks.begin(), ks.end());
    if (order == 2) {
      memkv_test::Rng rng(4);
      for (std::size_t i = ks.size(); i > 1; --i) std::swap(ks[i - 1], ks[rng.below(i)]);
    }
    TestType m;
    for (const auto& k : ks) m.insert(k, k.size());
    require_same(m, ref);
    CHECK(m.stats().max_depth <= 4);
  }
}

// ---------------------------------------------------------------------------------------------
// Ordered traversal
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: lower_bound, prefix and range edge cases", "[hot_art][scan]", Hot, ArenaHot) {
  TestType m;
  std::map<std::string, std::uint64_t> ref;
  for (const std::string& k : {""s, "a"s, "aa"s, "ab"s, "abcdefghijklmnopq1"s, "abcdefghijklmnopq2"s,
                               "b\0"s, "b\xff"s, "c"s, "\xff"s, "\xff\xff"s, "\xff\xfe"s, "x\0"s, "x\0\0"s}) {
    m.insert(k, k.size());
    ref.emplace(k, k.size());
  }
  check_lower_bounds(m, ref, {"", "a", "a\0"s, "aaa", "abc", "abcdefghijklmnopq", "abcdefghijklmnopq10",
                              "abcdefghijklmnopq3", "abcdefgz", "b", "b\x01", "b\xff\0"s, "c", "c\0"s,
                              "\xff\xff\xff", "x", "x\0\0\0"s, "zzz"});
  auto expect = [&](std::string_view p) {
    std::vector<std::string> out;
    for (const auto& [k, v] : ref)
      if (k.substr(0, p.size()) == p) out.push_back(k);
    return out;
  };
  CHECK(keys_of(m.prefix("")) == keys_of(m));
  for (std::string_view p : {"a"sv, "ab"sv, "abc"sv, "abcd"sv, "b"sv, "c"sv, "\xff"sv, "\xff\xff"sv,
                             "\xff\xff\xff"sv, "x"sv, "x\0"sv, "x\0\0\0"sv}) {
    INFO("prefix " << show(p));
    CHECK(keys_of(m.prefix(p)) == expect(p));
  }
  using VS = std::vector<std::string>;
  CHECK(keys_of(m.range("b", "c\0"s)) == VS{"b\0"s, "b\xff", "c"});
  CHECK(keys_of(m.range("a", "a")).empty());
  CHECK(keys_of(m.range("d", "a")).empty());
  CHECK(keys_of(m.range("", "a")) == VS{""});
}

TEMPLATE_TEST_CASE("HotArt: iterators work with range-for and std::ranges algorithms", "[hot_art][scan]", Hot, ArenaHot) {
  TestType m;
  for (unsigned i = 0; i < 100; ++i) m.insert("k" + std::to_string(i), i);
  std::uint64_t sum = 0;
  for (auto [key, value] : m) sum += value;
  CHECK(sum == 99 * 100 / 2);
  CHECK(std::ranges::distance(m) == 100);
  CHECK(std::ranges::distance(m.prefix("k1")) == 11);
  auto it = std::ranges::find_if(m, [](auto e) { return e.key == "k42"; });
  REQUIRE(it != m.end());
  CHECK(it->value == 42);
  auto r = m.range("k5", "k6");
  std::vector<std::uint64_t> values;
  std::ranges::transform(r, std::back_inserter(values), [](auto e) { return e.value; });
  CHECK(values == std::vector<std::uint64_t>{5, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59});
  auto a = m.begin();
  auto b = a++;
  CHECK(b == m.begin());
  CHECK(a != b);
  CHECK(typename TestType::const_iterator() == m.end());
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: erasing every key returns memory_usage to the empty map's", "[hot_art][memory]",
                   Hot, StrHot, ArenaHot, StrArenaHot) {
  using M = TestType;
  using V = typename M::mapped_type;
  for (std::size_t n : {1u, 2u, 5u, 33u, 300u, 20000u}) {
    INFO(n << " keys");
    M m;
    const std::size_t empty = m.memory_usage();
    auto keys = memkv_test::nasty_keys(n, n);
    for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], memkv_test::make_value<V>(i));
    CHECK(m.size() == n);
    memkv_test::Rng rng(n);
    for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[rng.below(i)]);
    for (const auto& k : keys) REQUIRE(m.erase(k));
    CHECK(m.empty());
    REQUIRE_NOTHROW(m.check_invariants());
    CHECK(m.memory_usage() == empty);
  }
}

TEST_CASE("HotArt: the MallocAllocator policy counts memory back to zero", "[hot_art][memory]") {
  memkv::HotArt<std::uint64_t, memkv::MallocAllocator> m;
  const std::size_t empty = m.memory_usage();
  CHECK(empty == sizeof(m));
  const auto keys = memkv_test::nasty_keys(5, 3000);
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  CHECK(m.memory_usage() > empty + 3000 * 8);
  REQUIRE_NOTHROW(m.check_invariants());
  for (const auto& k : keys) REQUIRE(m.erase(k));
  CHECK(m.memory_usage() == empty);
}

TEST_CASE("ArenaHotArt: 4-byte child slots make every node 4 bytes an entry smaller", "[hot_art][memory]") {
  using memkv::detail::art::ArenaRef;
  using Ptr = memkv::detail::TaggedPtr<hot::NodeHeader, memkv::detail::art::LeafTag>;
  for (unsigned cap = 2; cap <= 32; ++cap)
    for (unsigned w = 0; w < 3; ++w) {
      const hot::Shape s{w, false, cap, 0, false};
      REQUIRE(hot::shape_bytes<Ptr>(s) - hot::shape_bytes<ArenaRef>(s) == 4u * cap);
    }
  // The same keys give the same trie shape in both; only the node bytes differ.
  Hot p;
  ArenaHot a;
  std::size_t raw = 0;
  for (int i = 0; i < 50000; ++i) {
    const std::string k = "https://example.org/" + std::to_string(i * 7919 % 100003) + "/page";
    raw += k.size();
    p.insert(k, static_cast<std::uint64_t>(i));
    a.insert(k, static_cast<std::uint64_t>(i));
  }
  const auto sp = p.stats(), sa = a.stats();
  CHECK(sa.nodes == sp.nodes);
  CHECK(sa.entries == sp.entries);
  CHECK(sa.leaf_depth_sum == sp.leaf_depth_sum);
  CHECK(sp.node_bytes - sa.node_bytes == 4 * sa.entries);
  CHECK(a.memory_usage() >= sa.node_bytes + 50000 * 16);  // counted: nodes, leaves (>= 16 B each)
  INFO("overhead per key: HotArt " << (double(p.memory_usage()) - double(raw)) / 50000.0 << ", ArenaHotArt "
                                   << (double(a.memory_usage()) - double(raw)) / 50000.0);
  CHECK(contents(a) == contents(p));
  REQUIRE_NOTHROW(a.check_invariants());
}

// ---------------------------------------------------------------------------------------------
// Exception safety
// ---------------------------------------------------------------------------------------------

namespace {

struct InsertCase {
  const char* what;
  std::vector<std::string> setup;
  std::string key;
};

std::vector<InsertCase> insert_cases() {
  std::vector<InsertCase> cases;
  auto bytes = [](std::string_view p, unsigned n) {
    std::vector<std::string> v;
    for (unsigned i = 0; i < n; ++i) v.push_back(byte_key(p, static_cast<std::uint8_t>(i * 7)));
    return v;
  };
  cases.push_back({"into an empty map", {}, "k"});
  cases.push_back({"splitting a root leaf", {"key"}, "kez"});
  cases.push_back({"a key that is a prefix of a leaf", {"key"}, "ke"});
  cases.push_back({"into a node with room", bytes("p", 5), "p\x03"});
  cases.push_back({"overflowing the root node", bytes("p", 32), "p\x03"});
  cases.push_back({"a new BiNode above the root node", bytes("p", 10), "\x01"});
  // A root of height 2 with full children: the overflow pulls a BiNode up into the root.
  std::vector<std::string> two_level = bytes("p", 32);
  for (auto& k : bytes("q", 31)) two_level.push_back(k);
  cases.push_back({"pulling a BiNode up into the parent", two_level, "p\x03"});
  // A leaf beside a taller subtree: pushed down into a new node.
  std::vector<std::string> pushdown = bytes("p", 40);
  pushdown.push_back("z");
  cases.push_back({"pushing a leaf down", pushdown, "zz"});
  cases.push_back({"multi-mask keys", spread_keys(32), std::string(40, 'y')});
  cases.push_back({"a long key", {"a", "b"}, std::string(70000, 'a')});
  return cases;
}

template <class V>
void check_strong_guarantee(bool assign) {
  using M = memkv::HotArt<V, ThrowingSlab>;
  NeverFailGuard guard;
  for (const InsertCase& c : insert_cases()) {
    INFO("insert " << c.what << (assign ? " (insert_or_assign)" : " (insert)"));
    for (long k = 1;; ++k) {
      INFO("allocation " << k << " fails");
      ThrowingSlab::never_fail();
      M m;
      std::map<std::string, V> ref;
      for (std::size_t i = 0; i < c.setup.size(); ++i) {
        m.insert(c.setup[i], memkv_test::make_value<V>(i + 1));
        ref.emplace(c.setup[i], memkv_test::make_value<V>(i + 1));
      }
      const std::size_t memory = m.memory_usage();
      const V value = memkv_test::make_value<V>(1000 + k);
      ThrowingSlab::fail_at(k);
      bool threw = false;
      try {
        if (assign) m.insert_or_assign(c.key, value); else m.insert(c.key, value);
      } catch (const std::bad_alloc&) {
        threw = true;
      }
      ThrowingSlab::never_fail();
      if (threw) {
        require_same(m, ref);
        CHECK(m.memory_usage() == memory);
        CHECK_FALSE(m.contains(c.key));
        m.insert(c.key, value);
        ref.emplace(c.key, value);
        require_same(m, ref);
      } else {
        REQUIRE(k > 1);
        ref.emplace(c.key, value);
        require_same(m, ref);
        break;
      }
      REQUIRE(k < 20);
    }
  }
}

}  // namespace

TEST_CASE("HotArt: insert gives the strong guarantee when allocation fails", "[hot_art][exceptions]") {
  check_strong_guarantee<std::uint64_t>(false);
  check_strong_guarantee<std::string>(false);
}

TEST_CASE("HotArt: insert_or_assign gives the strong guarantee when allocation fails", "[hot_art][exceptions]") {
  check_strong_guarantee<std::uint64_t>(true);
  check_strong_guarantee<std::string>(true);
}

TEST_CASE("HotArt: erase succeeds when no smaller node can be allocated", "[hot_art][exceptions]") {
  using M = memkv::HotArt<std::uint64_t, ThrowingSlab>;
  NeverFailGuard guard;
  M m;
  std::map<std::string, std::uint64_t> ref;
  auto keys = memkv_test::nasty_keys(17, 3000);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    m.insert(keys[i], i);
    ref.emplace(keys[i], i);
  }
  memkv_test::Rng rng(2);
  for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[rng.below(i)]);
  ThrowingSlab::always = true;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    bool erased = false;
    REQUIRE_NOTHROW(erased = m.erase(keys[i]));
    REQUIRE(erased);
    ref.erase(keys[i]);
    if (i % 300 == 0) require_same(m, ref);
  }
  ThrowingSlab::never_fail();
  CHECK(m.empty());
  CHECK(m.memory_usage() == sizeof(M));
}

TEST_CASE("HotArt: a copy that cannot allocate throws and leaves the original intact", "[hot_art][exceptions]") {
  using M = memkv::HotArt<std::string, ThrowingSlab>;
  NeverFailGuard guard;
  M m;
  std::map<std::string, std::string> ref;
  for (const auto& k : memkv_test::nasty_keys(9, 400)) {
    m.insert(k, "v" + k);
    ref.emplace(k, "v" + k);
  }
  bool copied = false;
  for (long k = 1; !copied; k += 37) {
    INFO("allocation " << k << " fails");
    ThrowingSlab::fail_at(k);
    try {
      M copy(m);
      ThrowingSlab::never_fail();
      require_same(copy, ref);
      copied = true;
    } catch (const std::bad_alloc&) {
      ThrowingSlab::never_fail();
    }
    require_same(m, ref);
    REQUIRE(k < 100000);
  }
}

// ---------------------------------------------------------------------------------------------
// Values, copy, move, swap
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("HotArt: std::string values are stored, assigned and freed", "[hot_art][values]", StrHot, StrArenaHot) {
  TestType m;
  const std::string big(1000, 'v');
  CHECK(m.insert("a", "short"));
  CHECK(m.insert("b", big));
  CHECK(m.insert("", "\0binary\xff"s));
  CHECK(*m.find("b") == big);
  CHECK_FALSE(m.insert("a", "ignored"));
  CHECK_FALSE(m.insert_or_assign("a", big + big));
  CHECK(*m.find("a") == big + big);
  CHECK(m.erase("b"));
  require_same(m, std::map<std::string, std::string>{{"", "\0binary\xff"s}, {"a", big + big}});
  m.clear();
  CHECK(m.memory_usage() == sizeof(TestType));
}

TEMPLATE_TEST_CASE("HotArt: copy is deep; move leaves the source empty; swap exchanges", "[hot_art][values]", StrHot, StrArenaHot) {
  TestType m;
  for (const auto& k : memkv_test::nasty_keys(3, 2000)) m.insert(k, "v" + k);
  const auto before = contents(m);
  TestType c(m);
  CHECK(contents(c) == before);
  REQUIRE_NOTHROW(c.check_invariants());
  const std::string first(before.front().first);
  *c.find(first) = "changed";
  c.insert("only in the copy", "x");
  c.erase(before.back().first);
  CHECK(contents(m) == before);
  TestType d;
  d.insert("replaced", "x");
  d = m;
  CHECK(contents(d) == before);
  m = m;
  CHECK(contents(m) == before);
  TestType n(std::move(d));
  CHECK(contents(n) == before);
  CHECK(d.empty());  // NOLINT(bugprone-use-after-move)
  CHECK(d.memory_usage() == sizeof(TestType));
  CHECK(d.insert("again", "x"));
  TestType o;
  o.insert("overwritten", "y");
  o = std::move(n);
  CHECK(contents(o) == before);
  CHECK(n.empty());
  TestType& self = o;
  o = std::move(self);
  CHECK(contents(o) == before);
  swap(o, d);
  CHECK(contents(d) == before);
  CHECK(keys_of(o) == std::vector<std::string>{"again"});
  REQUIRE_NOTHROW(o.check_invariants());
  REQUIRE_NOTHROW(d.check_invariants());
}

// ---------------------------------------------------------------------------------------------
// Differential runs against std::map
// ---------------------------------------------------------------------------------------------

namespace {

template <class M>
void differential(const char* name, memkv_test::DiffOptions base, std::size_t seeds) {
  for (std::size_t s = 0; s < seeds; ++s) {
    memkv_test::DiffOptions o = base;
    o.seed = base.seed + s;
    INFO(name << " seed " << o.seed << ", " << o.ops << " ops (MEMKV_TEST_SEED/MEMKV_TEST_OPS replay it)");
    memkv_test::DiffStats stats;
    REQUIRE_NOTHROW(stats = memkv_test::run_differential<M>(o));
    CHECK(stats.ops == o.ops);
    CHECK(stats.inserted > 0);
    if (o.ops >= 10000) CHECK(stats.find_batches > 0);  // find_many was checked too
    if (o.ops >= 10000) CHECK(stats.insert_batches > 0);  // and insert_many
    if (o.ops >= 100000) {
      CHECK(stats.erased > 0);
      CHECK(stats.times_empty > 0);
    }
  }
}

memkv_test::DiffOptions default_options() {
  memkv_test::DiffOptions o;
  o.seed = memkv_test::base_seed();
  o.ops = memkv_test::test_ops();
  return o;
}

}  // namespace

TEST_CASE("HotArt differential: uint64 values", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 5000;
  differential<Hot>("HotArt<uint64>", o, memkv_test::test_seeds());
}

TEST_CASE("HotArt differential: std::string values", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 6000;
  differential<StrHot>("HotArt<string>", o, std::max<std::size_t>(1, memkv_test::test_seeds() - 1));
}

TEST_CASE("HotArt differential: small maps that empty often", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 7000;
  o.ops = std::max<std::size_t>(1, o.ops / 2);
  o.max_size = 300;
  o.invariant_every = 500;
  o.copy_every = 20000;
  differential<Hot>("HotArt<uint64> small", o, 1);
}

TEST_CASE("ArenaHotArt differential: uint64 values", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 9000;
  differential<ArenaHot>("ArenaHotArt<uint64>", o, memkv_test::test_seeds());
}

TEST_CASE("ArenaHotArt differential: std::string values, small maps that empty often", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 9500;
  o.ops = std::max<std::size_t>(1, o.ops / 2);
  o.max_size = 300;
  o.invariant_every = 500;
  o.copy_every = 20000;
  differential<StrArenaHot>("ArenaHotArt<string> small", o, 1);
}

TEST_CASE("HotArt differential: the MallocAllocator policy", "[hot_art][differential]") {
  auto o = default_options();
  o.seed += 8000;
  o.ops = std::max<std::size_t>(1, o.ops / 4);
  differential<memkv::HotArt<std::uint64_t, memkv::MallocAllocator>>("HotArt<uint64, Malloc>", o, 1);
}

// ---------------------------------------------------------------------------------------------
// Coded keys (detail/key_code.hpp, hot_options::code_sample_keys)
// ---------------------------------------------------------------------------------------------

namespace {

std::shared_ptr<const memkv::detail::key_code> url_code() {
  std::array<std::uint64_t, 256> freq{};
  for (int i = 0; i < 2000; ++i)
    for (unsigned char c : "https://github.com/user" + std::to_string(i * 7919 % 1000) + "/repo-" + std::to_string(i))
      ++freq[c];
  return memkv::detail::key_code::learn(freq);
}

std::string coded(const memkv::detail::key_code& c, std::string_view key) {
  std::string out(c.coded_bytes(key), '?');
  c.encode_exact(key, out.data());
  return out;
}

}  // namespace

TEST_CASE("key_code: every key codes and decodes back, and equals() tells coded forms apart", "[hot_art][key_code]") {
  const auto code = url_code();
  std::vector<std::string> keys = {""s, "h"s, "https://github.com/a/b"s, std::string(1, '\0'),
                                   std::string(300, '\xff'), std::string(161, 'z'), std::string(4000, '/')};
  for (unsigned b = 0; b < 256; ++b) keys.push_back(byte_key("https://", static_cast<std::uint8_t>(b)));
  std::string all;
  for (unsigned b = 0; b < 256; ++b) all += static_cast<char>(b);
  keys.push_back(all);
  for (const auto& k : memkv_test::nasty_keys(41, 3000, 3)) keys.push_back(k);
  std::size_t shorter = 0;
  for (const std::string& k : keys) {
    INFO("key " << show(k));
    const std::string c = coded(*code, k);
    REQUIRE(c.size() == code->coded_bytes(k));
    REQUIRE(c.back() != '\0');  // the end mark is in the last byte
    if (k.size() <= 160) {  // encode() itself: 8 bytes of slack, the same bytes
      std::vector<char> buf(c.size() + 8, '\x5a');
      REQUIRE(code->encode(k, buf.data()) == c.size());
      REQUIRE(std::string_view(buf.data(), c.size()) == c);
    }
    std::string back = "prefix:";
    code->decode(c, back);
    REQUIRE(back == "prefix:" + k);
    REQUIRE(code->equals(c, k));
    std::size_t bits = 0;
    for (unsigned char ch : k) bits += code->length(ch);
    REQUIRE(c.size() == bits / 8 + 1);
    if (c.size() < k.size()) ++shorter;
    // One byte more, one byte less, one byte changed: never equal.
    CHECK_FALSE(code->equals(c, k + "a"));
    CHECK_FALSE(code->equals(c, k + '\0'));
    if (!k.empty()) {
      CHECK_FALSE(code->equals(c, std::string_view(k).substr(0, k.size() - 1)));
      std::string changed = k;
      changed[changed.size() / 2] = static_cast<char>(changed[changed.size() / 2] ^ 1);
      CHECK_FALSE(code->equals(c, changed));
      CHECK(coded(*code, changed) != c);
    }
  }
  // URL-like keys take about 5 bits a byte; keys of rare bytes take more than 8.
  CHECK(coded(*code, "https://github.com/user123/repo-4567").size() * 8 < 36 * 6);
  CHECK(code->coded_bytes(std::string(100, '\x01')) > 100);
  CHECK(shorter > 0);
}

TEST_CASE("key_code: mismatch_with() finds where a coded key and a key part, decoding no further", "[hot_art][key_code]") {
  const auto code = url_code();
  std::vector<std::string> keys = {""s, "h"s, "https://github.com/a/b"s, std::string(1, '\0'),
                                   std::string(300, '\xff'), std::string(4000, '/')};
  for (const auto& k : memkv_test::nasty_keys(43, 400, 3)) keys.push_back(k);
  std::mt19937_64 rng(7);
  std::size_t checked = 0, equal = 0, ends = 0;
  for (const std::string& a : keys) {
    const std::string c = coded(*code, a);
    // Against every key sharing a random prefix with a: a itself, extended, cut, changed.
    std::vector<std::string> others = {a, a + "x", a + '\0', a + '\xff', keys[rng() % keys.size()]};
    if (!a.empty()) {
      others.push_back(a.substr(0, rng() % a.size()));
      std::string changed = a;
      const std::size_t at = rng() % a.size();
      changed[at] = static_cast<char>(changed[at] + 1 + rng() % 255);
      others.push_back(changed);
      others.push_back(changed.substr(0, at + 1 + rng() % (a.size() - at)));
    }
    for (const std::string& b : others) {
      const std::size_t lcp = memkv::detail::common_prefix_length(a, b);
      const int next = lcp < a.size() ? static_cast<unsigned char>(a[lcp]) : -1;
      for (std::size_t from : {std::size_t{0}, lcp / 2, lcp}) {
        INFO("a " << show(a) << " b " << show(b) << " from " << from);
        const auto m = code->mismatch_with(c, b, from);
        REQUIRE(m.common == lcp);
        REQUIRE(m.next == next);
        ++checked;
      }
      equal += a == b;
      ends += lcp == a.size() && a != b;
    }
  }
  CHECK(checked > 3000);
  CHECK(equal >= keys.size());  // a itself, and the random pick when it is a
  CHECK(ends > 0);
}

TEST_CASE("key_code: decoding resumed from another key's decoding gives the key, in either order", "[hot_art][key_code]") {
  const auto code = url_code();
  std::vector<std::string> keys = {"h"s, "https://github.com/a/b"s, std::string(1, '\0'), std::string(300, '\xff')};
  for (const auto& k : memkv_test::nasty_keys(47, 300, 3)) keys.push_back(k);
  std::mt19937_64 rng(11);
  std::size_t resumed = 0, prefix_pairs = 0;
  for (const std::string& a : keys) {
    if (a.size() < 2) continue;  // one-byte keys are never stored coded
    const std::string ca = coded(*code, a);
    // b: a prefix of a (it sorts before a), an extension, a neighbour, any key.
    std::vector<std::string> others = {a.substr(0, 2 + rng() % (a.size() - 1)), a + "p", a + '\0',
                                       keys[rng() % keys.size()]};
    std::string next = a;
    next.back() = static_cast<char>(next.back() + 1);
    others.push_back(next);
    for (std::string& b : others) {
      if (b.size() < 2) b += "zz";
      INFO("from " << show(a) << " to " << show(b));
      const std::string cb = coded(*code, b);
      const auto [keep, bit] = code->resume_point(a, ca, cb);
      REQUIRE(keep <= a.size());
      std::string out = a.substr(0, keep);
      code->decode(cb, out, bit);
      REQUIRE(out == b);
      resumed += keep > 0;
      prefix_pairs += b.size() < a.size() && a.compare(0, b.size(), b) == 0;
    }
  }
  CHECK(resumed > keys.size());
  CHECK(prefix_pairs > keys.size() / 2);
}

TEMPLATE_TEST_CASE("HotArt: keys are stored coded once the map holds code_sample_keys keys", "[hot_art][key_code]",
                   Hot, ArenaHot) {
  std::vector<std::string> keys;
  for (int i = 0; i < 3000; ++i)
    keys.push_back("https://github.com/user" + std::to_string(i * 7919 % 1000) + "/repo-" + std::to_string(i));
  for (const auto& k : memkv_test::nasty_keys(43, 500, 2)) keys.push_back(k);
  memkv_test::Rng rng(44);
  for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[rng.below(i)]);

  TestType plain(memkv::hot_options{0});
  TestType m(memkv::hot_options{1000});
  std::map<std::string, std::uint64_t> ref;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    plain.insert(keys[i], i);
    m.insert(keys[i], i);
    ref.emplace(keys[i], i);
    REQUIRE(m.keys_coded() == (i + 1 >= 1000));
  }
  CHECK_FALSE(plain.keys_coded());
  require_same(m, ref);
  require_same(plain, ref);
  // The same trie (positions are over the keys themselves); only the leaves shrink.
  CHECK(m.stats().node_bytes == plain.stats().node_bytes);
  CHECK(m.stats().leaf_depth_sum == plain.stats().leaf_depth_sum);
  {
    // On URLs alone the leaves shrink by more than 10 bytes a key (~19 measured; enough keys
    // that the arena's chunks, up to 1 MiB, do not hide it).
    TestType u(memkv::hot_options{1000}), p(memkv::hot_options{0});
    for (int i = 0; i < 60000; ++i) {
      const std::string k = "https://github.com/user" + std::to_string(i * 7919 % 1000) + "/repo-" + std::to_string(i);
      u.insert(k, 1);
      p.insert(k, 1);
    }
    INFO("memory: coded " << u.memory_usage() << ", plain " << p.memory_usage());
    CHECK(u.memory_usage() + 60000 * 10 < p.memory_usage());
    std::size_t pools = u.allocator().bytes_in_use();
    if constexpr (requires { u.node_allocator(); }) pools += u.node_allocator().bytes_in_use();  // HotArt
    CHECK(u.memory_usage() - pools > 10000);  // the code's tables count
  }
  std::vector<std::string> probes;
  for (const auto& k : keys) {
    probes.push_back(k);
    probes.push_back(k + '\0');
    probes.push_back(k.substr(0, k.size() / 2));
  }
  check_lower_bounds(m, ref, probes);
  for (const char* p : {"https://github.com/user1", "https://", "", "\xff"}) {
    std::vector<std::string> got, want;
    for (auto e : m.prefix(p)) got.emplace_back(e.key);
    for (auto it = ref.lower_bound(p); it != ref.end() && it->first.starts_with(p); ++it) want.push_back(it->first);
    CHECK(got == want);
  }
  // An entry's key stays valid while its iterator stays put, also when it was decoded.
  auto it = m.begin();
  auto first = *it;
  auto copy = it;
  ++copy;
  CHECK(first.key == ref.begin()->first);
  CHECK((*copy).key == std::next(ref.begin())->first);
  // Copies share the code; erasing everything forgets it, and the map learns again.
  TestType c(m);
  require_same(c, ref);
  CHECK(c.keys_coded());
  c.insert("https://github.com/new/one", 1);
  CHECK(*c.find("https://github.com/new/one") == 1);
  CHECK_FALSE(m.contains("https://github.com/new/one"));
  const std::size_t empty = TestType(memkv::hot_options{1000}).memory_usage();
  for (const auto& k : keys) REQUIRE(m.erase(k));
  CHECK_FALSE(m.keys_coded());
  CHECK(m.memory_usage() == empty);
  for (std::size_t i = 0; i < 1000; ++i) m.insert(keys[i], i);
  CHECK(m.keys_coded());
  m.clear();
  CHECK_FALSE(m.keys_coded());
  CHECK(m.memory_usage() == empty);
}

TEMPLATE_TEST_CASE("HotArt: moves and swaps carry the key code and the options", "[hot_art][key_code]", Hot, ArenaHot) {
  std::vector<std::string> keys;
  for (int i = 0; i < 600; ++i) keys.push_back("https://example.org/a/" + std::to_string(i * 31 % 600) + "/b");
  std::map<std::string, std::uint64_t> ref;
  TestType m(memkv::hot_options{500});
  for (std::size_t i = 0; i < keys.size(); ++i) {
    m.insert(keys[i], i);
    ref.emplace(keys[i], i);
  }
  REQUIRE(m.keys_coded());
  // Move construction: the code goes along; the moved-from map is empty, raw, keeps its options
  // and learns again once it holds enough keys.
  TestType moved(std::move(m));
  CHECK(moved.keys_coded());
  require_same(moved, ref);
  CHECK(m.empty());
  CHECK_FALSE(m.keys_coded());
  CHECK(m.options().code_sample_keys == 500);
  for (std::size_t i = 0; i < 500; ++i) m.insert(keys[i], i);
  CHECK(m.keys_coded());
  m.check_invariants();
  // Move assignment over a coded map, and swap with a raw one that never codes.
  TestType target(memkv::hot_options{0});
  target.insert("x", 1);
  target = std::move(moved);
  CHECK(target.keys_coded());
  CHECK(target.options().code_sample_keys == 500);
  require_same(target, ref);
  TestType raw(memkv::hot_options{0});
  raw.insert("only", 7);
  swap(raw, target);
  CHECK_FALSE(target.keys_coded());
  CHECK(target.options().code_sample_keys == 0);
  CHECK(*target.find("only") == 7);
  CHECK(raw.keys_coded());
  CHECK(raw.options().code_sample_keys == 500);
  require_same(raw, ref);
  for (std::size_t i = 0; i < keys.size(); ++i) target.insert(keys[i], i);
  CHECK_FALSE(target.keys_coded());
  target.check_invariants();
  raw.check_invariants();
}

TEST_CASE("HotArt and ArenaHotArt: values whose copies throw, in a key code's rebuild and in a copy", "[hot_art][key_code][exceptions]") {
  memkv_test::check_fragile_values<memkv::HotArt<memkv_test::FragileValue>>(memkv::hot_options{64});
  memkv_test::check_fragile_values<memkv::ArenaHotArt<memkv_test::FragileValue>>(memkv::hot_options{64});
}

TEST_CASE("HotArt and ArenaHotArt: move-only values keep their keys raw", "[hot_art][key_code]") {
  memkv_test::check_move_only_values<memkv::HotArt<std::unique_ptr<int>>>(memkv::hot_options{16});
  memkv_test::check_move_only_values<memkv::ArenaHotArt<std::unique_ptr<int>>>(memkv::hot_options{16});
}

TEST_CASE("HotArt: a key code that cannot be learnt for lack of memory is learnt later", "[hot_art][key_code][exceptions]") {
  using M = memkv::HotArt<std::string, ThrowingSlab>;
  NeverFailGuard guard;
  for (long k : {1L, 2L, 7L, 40L}) {
    INFO("allocation " << k << " of the learning fails");
    M m(memkv::hot_options{50});
    std::map<std::string, std::string> ref;
    for (int i = 0; i < 49; ++i) {
      const std::string key = "https://example.org/page/" + std::to_string(i * 37);
      m.insert(key, "v" + key);
      ref.emplace(key, "v" + key);
    }
    // The 50th insert: its own allocations succeed (one leaf; no node split on this key), the
    // k-th of the learning fails.
    const std::string key50 = "https://example.org/page/x";
    ThrowingSlab::fail_at(2 + k);
    bool added = false;
    REQUIRE_NOTHROW(added = m.insert(key50, "v50"));
    ThrowingSlab::never_fail();
    CHECK(added);
    ref.emplace(key50, "v50");
    require_same(m, ref);
    CHECK_FALSE(m.keys_coded());
    for (int i = 0; i < 60; ++i) {
      const std::string key = "https://example.org/more/" + std::to_string(i);
      m.insert(key, "w");
      ref.emplace(key, "w");
    }
    CHECK(m.keys_coded());  // at twice the size
    require_same(m, ref);
  }
}

TEST_CASE("HotArt differential: coded keys, a code learnt from 16 keys, maps that empty often", "[hot_art][differential][key_code]") {
  auto o = default_options();
  o.seed += 9700;
  o.ops = std::max<std::size_t>(1, o.ops / 4);
  o.max_size = 300;
  o.invariant_every = 500;
  o.copy_every = 20000;
  INFO("seed " << o.seed << ", " << o.ops << " ops");
  Hot h(memkv::hot_options{16});
  StrArenaHot a(memkv::hot_options{16});
  memkv_test::DiffStats st;
  REQUIRE_NOTHROW(st = memkv_test::run_differential(h, o));
  CHECK(st.times_empty > 0);
  o.seed += 1;
  REQUIRE_NOTHROW(st = memkv_test::run_differential(a, o));
  CHECK(st.times_empty > 0);
}

// ---------------------------------------------------------------------------------------------
// The point index (hot_options::point_index, detail/point_index.hpp)
// ---------------------------------------------------------------------------------------------

TEST_CASE("HotArt differential: the point index, raw and coded keys", "[hot_art][differential][point_index]") {
  memkv_test::point_index_differentials<ArenaHot, Hot, StrArenaHot, memkv::hot_options>(9800);
}

TEMPLATE_TEST_CASE("HotArt: the point index answers like the trie, is counted, grows, shrinks and is freed",
                   "[hot_art][point_index]", Hot, ArenaHot) {
  memkv_test::check_point_index_life<TestType, memkv::hot_options>();
}

// What point_index asks of a tree, for ids standing for keys: the hash of id's decimal form.
struct IdSource {
  std::uint64_t hash(std::uint64_t id) const { return memkv::detail::hash_key(std::to_string(id)); }
  void prefetch(std::uint64_t) const noexcept {}
};

TEST_CASE("point_index: slots of 32 bits for small ids, 64 for large; ids that outgrow them rebuild", "[hot_art][point_index]") {
  using memkv::detail::point_index;
  const IdSource src;
  point_index ix(true);
  auto is = [](std::uint64_t want) { return [want](std::uint64_t id) { return id == want; }; };
  for (std::uint64_t id = 1; id <= 1000; ++id) ix.add(src.hash(id), id, src);
  CHECK(ix.slot_bits() == 32);
  CHECK(ix.fingerprint_bits() >= 6);
  CHECK(ix.size() == 1000);
  for (std::uint64_t id = 1; id <= 1000; ++id) CHECK(ix.find(src.hash(id), is(id)) == id);
  CHECK(ix.find(src.hash(5000), is(5000)) == point_index::npos);
  const std::uint64_t big = std::uint64_t{1} << 40;
  ix.add(src.hash(big), big, src);  // no longer fits 32-bit slots with a fingerprint
  CHECK(ix.slot_bits() == 64);
  for (std::uint64_t id = 1; id <= 1000; ++id) CHECK(ix.find(src.hash(id), is(id)) == id);
  CHECK(ix.find(src.hash(big), is(big)) == big);
  for (std::uint64_t id = 1; id <= 1000; id += 2) ix.remove(src.hash(id), id, src);
  CHECK(ix.size() == 501);
  for (std::uint64_t id = 1; id <= 1000; ++id) CHECK((ix.find(src.hash(id), is(id)) == id) == (id % 2 == 0));
  std::size_t n = ix.for_each_id([](std::uint64_t) {});
  CHECK(n == 501);
  // Tombstones: many erase/insert rounds at a constant size do not fill the table.
  for (int round = 0; round < 50; ++round)
    for (std::uint64_t id = 2; id <= 1000; id += 2) {
      ix.remove(src.hash(id), id, src);
      ix.add(src.hash(id), id, src);
    }
  CHECK(ix.size() == 501);
  for (std::uint64_t id = 2; id <= 1000; id += 2) CHECK(ix.find(src.hash(id), is(id)) == id);
  CHECK(ix.usable());
}

TEST_CASE("point_index: a growth rebuild leaves the table at the load the tree asked for (refill_percent)", "[hot_art][point_index]") {
  using memkv::detail::point_index;
  const IdSource src;
  for (const unsigned refill : {60u, 70u}) {
    point_index ix(true, refill);
    std::size_t growths = 0;
    for (std::uint64_t id = 1; id <= 60000; ++id) {
      const std::size_t before = ix.buckets();
      ix.add(src.hash(id), id, src);
      if (ix.buckets() != before && id > 1000) {
        // Just after a growth: the table's 16-slot buckets are about refill% full (tables of
        // 128 KiB and more are rounded up to whole 4 KiB pages: at most ~1% emptier here).
        ++growths;
        const double load = static_cast<double>(ix.size()) / static_cast<double>(ix.buckets() * 16);
        CHECK(load <= refill / 100.0 + 0.002);  // the integer sizing rounds by a slot or so
        CHECK(load >= refill / 100.0 - 0.02);
      }
    }
    CHECK(growths >= (refill == 60 ? 5u : 8u));
    CHECK(ix.size() == 60000);
    auto is = [](std::uint64_t want) { return [want](std::uint64_t id) { return id == want; }; };
    for (std::uint64_t id = 1; id <= 60000; id += 7) CHECK(ix.find(src.hash(id), is(id)) == id);
    // Never fuller than 0.9 (the growth trigger), whatever the refill.
    CHECK(static_cast<double>(ix.size()) / static_cast<double>(ix.buckets() * 16) <= 0.9);
  }
}

TEMPLATE_TEST_CASE("HotArt: a point index that cannot allocate is dropped; the trie answers; clear() brings it back",
                   "[hot_art][point_index][exceptions]", Hot, ArenaHot) {
  memkv_test::check_point_index_failure<TestType, memkv::hot_options>();
}
