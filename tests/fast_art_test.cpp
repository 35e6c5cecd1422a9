// Tests of memkv::FastArt: one behaviour per TEST_CASE, then the randomized differential runs.
#include <memkv/fast_art.hpp>
#include <memkv/arena_art.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <map>
#include <memory>
#include <new>
#include <optional>
#include <random>
#include <ranges>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif

#include "differential.hpp"
#include "value_checks.hpp"

namespace {

using Art = memkv::FastArt<>;
using StrArt = memkv::FastArt<std::string>;
using namespace std::literals;
using memkv_test::show;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

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

// The map equals ref: iteration, size, every lookup; and its invariants hold.
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

// The type of the only inner node of m (which must have exactly one), from stats().
enum class Only { none, n4, n16, n48, n256, several };
template <class M>
Only only_node(const M& m) {
  const auto s = m.stats();
  const std::size_t inner = s.node4 + s.node16 + s.node48 + s.node256;
  if (inner == 0) return Only::none;
  if (inner > 1) return Only::several;
  return s.node4 ? Only::n4 : s.node16 ? Only::n16 : s.node48 ? Only::n48 : Only::n256;
}

// A byte permutation that visits insertion positions all over a sorted node, high bytes included.
std::uint8_t scrambled(unsigned i) { return static_cast<std::uint8_t>((i * 167u + 89u) & 0xff); }

// prefix + decimal n (appending, not "literal" + std::string: GCC 12 warns falsely on that).
std::string numbered(std::string_view prefix, std::uint64_t n) {
  std::string k(prefix);
  k += std::to_string(n);
  return k;
}

std::string byte_key(std::string_view prefix, std::uint8_t b) {
  std::string k(prefix);
  k += static_cast<char>(b);
  return k;
}

// An allocator policy over SlabAllocator that throws std::bad_alloc on a chosen allocation.
struct ThrowingSlab {
  static inline long countdown = -1;  // allocations left before the failing one; -1: never fail
  static void fail_at(long k) { countdown = k - 1; }  // the k-th allocation from now throws
  static void never_fail() { countdown = -1; }

  ThrowingSlab() = default;
  ThrowingSlab(const ThrowingSlab& other) noexcept : inner(other.inner) {}
  ThrowingSlab(ThrowingSlab&&) noexcept = default;
  ThrowingSlab& operator=(ThrowingSlab&&) noexcept = default;

  void* allocate(std::size_t bytes) {
    if (countdown >= 0 && countdown-- == 0) throw std::bad_alloc();
    return inner.allocate(bytes);
  }
  void deallocate(void* p, std::size_t bytes) noexcept { inner.deallocate(p, bytes); }
  std::size_t bytes_in_use() const noexcept { return inner.bytes_in_use(); }

  memkv::SlabAllocator inner;
};

struct NeverFailGuard {
  ~NeverFailGuard() { ThrowingSlab::never_fail(); }
};

// An allocator policy over SlabAllocator that fails one allocation in `one_in`, at random.
struct RandomFailSlab {
  static inline std::uint64_t one_in = 0;  // 0: never fail
  static inline memkv_test::Rng rng{1};

  RandomFailSlab() = default;
  RandomFailSlab(const RandomFailSlab& other) noexcept : inner(other.inner) {}
  RandomFailSlab(RandomFailSlab&&) noexcept = default;
  RandomFailSlab& operator=(RandomFailSlab&&) noexcept = default;

  void* allocate(std::size_t bytes) {
    if (one_in != 0 && rng.one_in(one_in)) throw std::bad_alloc();
    return inner.allocate(bytes);
  }
  void deallocate(void* p, std::size_t bytes) noexcept { inner.deallocate(p, bytes); }
  std::size_t bytes_in_use() const noexcept { return inner.bytes_in_use(); }

  memkv::SlabAllocator inner;
};

}  // namespace

// ---------------------------------------------------------------------------------------------
// Types and concepts
// ---------------------------------------------------------------------------------------------

static_assert(std::is_same_v<memkv::FastArt<>, memkv::FastArt<std::uint64_t, memkv::SlabAllocator>>);
static_assert(std::forward_iterator<Art::const_iterator>);
static_assert(std::forward_iterator<StrArt::const_iterator>);
static_assert(std::sentinel_for<Art::const_iterator, Art::const_iterator>);
static_assert(std::ranges::forward_range<Art::range_type>);
static_assert(std::ranges::forward_range<const Art>);
static_assert(std::ranges::forward_range<const StrArt>);
static_assert(std::ranges::common_range<const Art>);
static_assert(std::is_same_v<std::iter_reference_t<Art::const_iterator>, memkv::basic_entry<const std::uint64_t&>>);
static_assert(std::is_nothrow_move_constructible_v<Art> && std::is_nothrow_move_assignable_v<Art>);
static_assert(std::is_nothrow_move_constructible_v<StrArt> && std::is_nothrow_move_assignable_v<StrArt>);
static_assert(std::is_nothrow_swappable_v<Art>);
static_assert(std::is_copy_constructible_v<Art> && std::is_copy_assignable_v<Art>);

TEST_CASE("FastArt: a new map is empty", "[fast_art]") {
  const Art m;
  CHECK(m.size() == 0);
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
  CHECK(m.find("") == nullptr);
  CHECK(m.find("a") == nullptr);
  CHECK_FALSE(m.get("a").has_value());
  CHECK_FALSE(m.contains(""));
  CHECK(m.lower_bound("") == m.end());
  CHECK(m.prefix("").begin() == m.prefix("").end());
  CHECK(m.memory_usage() == sizeof(Art));
  CHECK_NOTHROW(m.check_invariants());
  Art n;
  CHECK_FALSE(n.erase("a"));
  CHECK_FALSE(n.erase(""));
}

TEST_CASE("FastArt: insert adds a key and keeps the first value", "[fast_art]") {
  Art m;
  CHECK(m.insert("apple", 1));
  CHECK(m.size() == 1);
  CHECK_FALSE(m.insert("apple", 2));
  CHECK(m.size() == 1);
  CHECK(m.get("apple") == 1u);
  CHECK(m.insert("apples", 3));
  CHECK(m.insert("app", 4));
  CHECK(m.size() == 3);
  require_same(m, std::map<std::string, std::uint64_t>{{"app", 4}, {"apple", 1}, {"apples", 3}});
}

TEST_CASE("FastArt: insert_or_assign inserts then overwrites", "[fast_art]") {
  Art m;
  CHECK(m.insert_or_assign("k", 1));
  CHECK_FALSE(m.insert_or_assign("k", 2));
  CHECK(m.get("k") == 2u);
  CHECK(m.insert_or_assign("k2", 3));
  CHECK_FALSE(m.insert_or_assign("k", 4));
  require_same(m, std::map<std::string, std::uint64_t>{{"k", 4}, {"k2", 3}});
}

TEST_CASE("FastArt: find gives a pointer through which the value can change", "[fast_art]") {
  Art m;
  m.insert("x", 1);
  std::uint64_t* p = m.find("x");
  REQUIRE(p != nullptr);
  *p = 42;
  CHECK(m.get("x") == 42u);
  const Art& cm = m;
  CHECK(cm.find("x") == p);
  CHECK(m.find("y") == nullptr);
  CHECK(m.find("xx") == nullptr);
  CHECK(m.find("") == nullptr);
}

TEST_CASE("FastArt: find pointers stay valid while other keys are inserted and erased", "[fast_art]") {
  Art m;
  m.insert("stable", 7);
  const std::uint64_t* p = m.find("stable");
  // Enough neighbours to grow the node above the leaf through every type, and shrink it again.
  for (unsigned i = 0; i < 256; ++i) m.insert(byte_key("stabl", scrambled(i)), i);
  for (unsigned i = 0; i < 256; ++i) m.insert(byte_key("stable", scrambled(i)), i);
  CHECK(m.find("stable") == p);
  for (unsigned i = 0; i < 256; ++i) {
    if (byte_key("stabl", scrambled(i)) != "stable") m.erase(byte_key("stabl", scrambled(i)));
    m.erase(byte_key("stable", scrambled(i)));
  }
  CHECK(m.find("stable") == p);
  CHECK(*p == 7);
  CHECK(m.size() == 1);
}

TEST_CASE("FastArt: get and contains answer hits and misses", "[fast_art]") {
  Art m;
  for (const char* k : {"a", "ab", "abc", "b", "ba"}) m.insert(k, std::string_view(k).size());
  CHECK(m.get("ab") == 2u);
  CHECK(m.contains("abc"));
  CHECK(m.contains("b"));
  for (const char* k : {"", "abcd", "aa", "bb", "c", "abd"}) {
    INFO(k);
    CHECK_FALSE(m.get(k).has_value());
    CHECK_FALSE(m.contains(k));
  }
}

TEST_CASE("FastArt: erase removes exactly the given key", "[fast_art]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (const char* k : {"", "a", "ab", "abc", "abd", "b", "bcdefghijklmnop", "bcdefghijklmnoq"}) {
    m.insert(k, ref.size());
    ref.emplace(k, ref.size());
  }
  // Absent keys next to present ones: nothing changes.
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
}

TEST_CASE("FastArt: clear empties the map and gives its memory back", "[fast_art]") {
  Art m;
  const std::size_t empty = m.memory_usage();
  for (unsigned i = 0; i < 5000; ++i) m.insert("key" + std::to_string(i * 7919), i);
  CHECK(m.memory_usage() > empty);
  m.clear();
  CHECK(m.size() == 0);
  CHECK(m.empty());
  CHECK(m.begin() == m.end());
  CHECK_FALSE(m.contains("key0"));
  CHECK(m.memory_usage() == empty);
  CHECK_NOTHROW(m.check_invariants());
  CHECK(m.insert("again", 1));
  CHECK(m.size() == 1);
}

// ---------------------------------------------------------------------------------------------
// Nasty keys
// ---------------------------------------------------------------------------------------------

TEST_CASE("FastArt: the empty key is a key like any other", "[fast_art][keys]") {
  Art m;
  CHECK(m.insert("", 1));
  CHECK(m.contains(""));
  CHECK(m.size() == 1);
  CHECK((*m.begin()).key.empty());
  CHECK(m.insert("a", 2));
  CHECK(m.insert(std::string_view("\0", 1), 3));
  CHECK_FALSE(m.insert("", 4));
  CHECK(m.get("") == 1u);
  auto ks = keys_of(m);
  REQUIRE(ks == std::vector<std::string>{"", "\0"s, "a"});
  CHECK(m.lower_bound("") == m.begin());
  CHECK(m.erase(""));
  CHECK_FALSE(m.contains(""));
  CHECK(m.contains("a"));
  CHECK(m.contains("\0"s));
  CHECK_NOTHROW(m.check_invariants());
  CHECK(m.insert("", 5));
  CHECK(m.get("") == 5u);
  CHECK_NOTHROW(m.check_invariants());
}

TEST_CASE("FastArt: keys that are prefixes of each other", "[fast_art][keys]") {
  for (const char c : {'a', '\0', '\xff'}) {
    INFO("chain of byte " << int(static_cast<unsigned char>(c)));
    Art m;
    std::map<std::string, std::uint64_t> ref;
    // Insert longest first, then shortest first: both orders split leaves differently.
    for (std::size_t n = 40; n-- > 20;) {
      m.insert(std::string(n, c), n);
      ref.emplace(std::string(n, c), n);
    }
    for (std::size_t n = 0; n < 20; ++n) {
      m.insert(std::string(n, c), n);
      ref.emplace(std::string(n, c), n);
    }
    require_same(m, ref);
    // lower_bound between chain members lands on the next longer one.
    CHECK((*m.lower_bound(std::string(7, c))).key == std::string(7, c));
    // Erase from the middle, then odd lengths, then the rest.
    for (std::size_t n : {20u, 19u, 21u, 0u, 39u}) {
      CHECK(m.erase(std::string(n, c)));
      ref.erase(std::string(n, c));
      require_same(m, ref);
    }
    for (std::size_t n = 1; n < 40; n += 2) {
      m.erase(std::string(n, c));
      ref.erase(std::string(n, c));
    }
    require_same(m, ref);
    for (std::size_t n = 0; n < 40; ++n) m.erase(std::string(n, c));
    CHECK(m.empty());
    CHECK(m.memory_usage() == sizeof(Art));
  }
}

TEST_CASE("FastArt: keys holding NUL and 0xff bytes round-trip exactly", "[fast_art][keys]") {
  const std::vector<std::string> keys = {"\0"s,       "\0\0"s,     "\0\0\0"s, "\xff",     "\xff\xff",
                                         "a\0"s,      "a\0b"s,     "a\xff",   "a\xff\0"s, "\0\xff"s,
                                         "\xff\0"s,   "a",         "a\0\0"s,  "\x7f",     "\x80",
                                         "\x80\0"s,   "\x7f\xff"s, "abc\0def"s};
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    CHECK(m.insert(keys[i], i));
    ref.emplace(keys[i], i);
  }
  require_same(m, ref);
  for (auto&& e : m) CHECK(ref.count(std::string(e.key)) == 1);  // no terminator byte leaks
  CHECK_FALSE(m.contains("abc"));
  CHECK_FALSE(m.contains("\0\0\0\0"s));
}

TEST_CASE("FastArt: all 256 single-byte keys iterate in unsigned byte order", "[fast_art][keys]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (unsigned i = 0; i < 256; ++i) {
    const std::uint8_t b = scrambled(i);
    m.insert(byte_key("", b), b);
    ref.emplace(byte_key("", b), b);
  }
  require_same(m, ref);
  unsigned expect = 0;
  for (auto&& e : m) {
    REQUIRE(e.key.size() == 1);
    CHECK(static_cast<unsigned char>(e.key[0]) == expect);
    CHECK(e.value == expect);
    ++expect;
  }
  CHECK(expect == 256);
}

TEST_CASE("FastArt: each node type orders child bytes >= 0x80 correctly", "[fast_art][keys]") {
  // For every fan-out (one node of each type) and every byte value, lower_bound and find must
  // agree with std::map, in particular around 0x7f/0x80 where a signed compare goes wrong.
  for (unsigned fanout : {2u, 3u, 4u, 5u, 9u, 16u, 17u, 40u, 48u, 49u, 200u, 256u}) {
    INFO("fan-out " << fanout);
    Art m;
    std::map<std::string, std::uint64_t> ref;
    for (unsigned i = 0; i < fanout; ++i) {
      // Spread the bytes over the whole range, 0x7f, 0x80 and 0xff included.
      const auto b = static_cast<std::uint8_t>(fanout == 256 ? i : (i * 255u) / (fanout - 1));
      const std::string k = byte_key("n", b) + "tail";
      m.insert(k, b);
      ref.emplace(k, b);
    }
    require_same(m, ref);
    for (unsigned b = 0; b < 256; ++b) {
      INFO("byte " << b);
      const std::string probe = byte_key("n", static_cast<std::uint8_t>(b));
      auto it = m.lower_bound(probe);
      auto rit = ref.lower_bound(probe);
      if (rit == ref.end()) {
        CHECK(it == m.end());
      } else {
        REQUIRE(it != m.end());
        CHECK((*it).key == rit->first);
      }
      CHECK(m.contains(probe + "tail") == (ref.count(probe + "tail") == 1));
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Node transitions (observed through stats() and check_invariants())
// ---------------------------------------------------------------------------------------------

TEST_CASE("FastArt: a node grows Node4 -> Node16 -> Node48 -> Node256", "[fast_art][nodes]") {
  Art m;
  for (unsigned i = 0; i < 256; ++i) {
    m.insert(byte_key("p", scrambled(i)), i);
    const unsigned n = i + 1;
    INFO(n << " children");
    REQUIRE_NOTHROW(m.check_invariants());
    const Only want = n == 1   ? Only::none
                      : n <= 4  ? Only::n4
                      : n <= 16 ? Only::n16
                      : n <= 48 ? Only::n48
                                : Only::n256;
    REQUIRE(only_node(m) == want);
    CHECK(m.stats().leaves == n);
  }
  // Order after all the growing.
  unsigned b = 0;
  for (auto&& e : m) CHECK(static_cast<unsigned char>(e.key[1]) == b++);
}

TEST_CASE("FastArt: a node shrinks Node256 -> Node48 -> Node16 -> Node4 -> leaf", "[fast_art][nodes]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (unsigned b = 0; b < 256; ++b) {
    m.insert(byte_key("p", static_cast<std::uint8_t>(b)), b);
    ref.emplace(byte_key("p", static_cast<std::uint8_t>(b)), b);
  }
  REQUIRE(only_node(m) == Only::n256);
  std::vector<Only> seen{Only::n256};
  std::size_t memory_at_256 = m.memory_usage();
  for (unsigned i = 0; i < 256; ++i) {
    const std::string k = byte_key("p", scrambled(i));
    REQUIRE(m.erase(k));
    ref.erase(k);
    const unsigned left = 255 - i;
    INFO(left << " children left");
    REQUIRE_NOTHROW(m.check_invariants());
    const Only now = only_node(m);
    if (left <= 1) {
      REQUIRE(now == Only::none);  // the last Node4 collapsed into its leaf
    } else {
      REQUIRE(now != Only::several);
      REQUIRE(now <= seen.back());  // never grows while shrinking (enum order: none < n4 < ...)
      // A node never holds fewer children than the next smaller type could take... by much:
      // at the latest, a node moves down once its children fit the smaller type.
      if (left <= 3) REQUIRE(now == Only::n4);
    }
    if (now != seen.back()) seen.push_back(now);
    if (left % 16 == 0) require_same(m, ref);
  }
  CHECK(seen == std::vector<Only>{Only::n256, Only::n48, Only::n16, Only::n4, Only::none});
  CHECK(m.size() == 0);
  CHECK(m.memory_usage() == sizeof(Art));
  CHECK(memory_at_256 > sizeof(Art));
}

TEST_CASE("FastArt: a Node4 left with one inner child merges into the child's path", "[fast_art][nodes]") {
  // For joined paths shorter than, equal to and longer than the 8 stored prefix bytes.
  for (const std::string& base : {"ab"s, "abc"s, "abcdefg"s, "abcdefghijklmnopqrstu"s}) {
    INFO("base " << base);
    Art m;
    m.insert(base + "X-one", 1);
    m.insert(base + "X-two", 2);
    m.insert(base + "Y", 3);
    REQUIRE(m.stats().node4 == 2);  // root {X, Y} and the node below X {o, t}
    CHECK(m.erase(base + "Y"));
    REQUIRE_NOTHROW(m.check_invariants());
    const auto s = m.stats();
    CHECK(s.node4 == 1);  // merged
    CHECK(s.max_depth == 1);
    CHECK(m.get(base + "X-one") == 1u);
    CHECK(m.get(base + "X-two") == 2u);
    CHECK_FALSE(m.contains(base + "X-"));
    CHECK_FALSE(m.contains(base + "Y"));
    CHECK_FALSE(m.contains(base + "X-onf"));
    // A key differing inside the merged path, before and after the stored bytes.
    for (std::size_t i = 0; i < base.size() + 2; ++i) {
      std::string probe = base + "X-one";
      probe[i] = static_cast<char>(probe[i] + 1);
      CHECK_FALSE(m.contains(probe));
      m.insert(probe, 9);
      REQUIRE_NOTHROW(m.check_invariants());
      CHECK(m.get(probe) == 9u);
      CHECK(m.get(base + "X-one") == 1u);
      CHECK(m.erase(probe));
      REQUIRE_NOTHROW(m.check_invariants());
    }
    CHECK(keys_of(m) == std::vector<std::string>{base + "X-one", base + "X-two"});
    CHECK(keys_of(m.prefix(base + "X-")) == std::vector<std::string>{base + "X-one", base + "X-two"});
    CHECK((*m.lower_bound(base)).key == base + "X-one");
    CHECK(m.lower_bound(base + "X-two\x01") == m.end());
  }
}

TEST_CASE("FastArt: a key ending at a node uses the node's end slot and gives it back", "[fast_art][nodes]") {
  Art m;
  m.insert("abc", 1);
  m.insert("abd", 2);
  CHECK(m.stats().end_slots == 0);
  m.insert("ab", 3);  // ends exactly at the node below "ab"
  CHECK(m.stats().end_slots == 1);
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(keys_of(m) == std::vector<std::string>{"ab", "abc", "abd"});
  CHECK(m.erase("ab"));
  CHECK(m.stats().end_slots == 0);
  m.insert("ab", 3);
  CHECK(m.erase("abc"));
  CHECK(m.erase("abd"));  // the node is left with only its end leaf: it collapses into it
  const auto s = m.stats();
  CHECK(s.node4 == 0);
  CHECK(s.leaves == 1);
  CHECK(m.get("ab") == 3u);
  REQUIRE_NOTHROW(m.check_invariants());
}

TEST_CASE("FastArt: a key leaving a long compressed path splits it at every position", "[fast_art][nodes]") {
  const std::string path = "0123456789abcdefghijklmnop";  // longer than the stored prefix
  for (std::size_t at = 0; at <= path.size(); ++at) {
    INFO("diverging at " << at);
    Art m;
    std::map<std::string, std::uint64_t> ref;
    for (const std::string& k : {path + "A", path + "B"}) {
      m.insert(k, k.size());
      ref.emplace(k, k.size());
    }
    std::string k = path.substr(0, at);
    if (at < path.size()) {
      // Both a sibling (differs at `at`) and a prefix (ends at `at`).
      m.insert(k + "~", 7);
      ref.emplace(k + "~", 7);
    }
    m.insert(k, 8);
    ref.emplace(k, 8);
    require_same(m, ref);
    for (const auto& [rk, rv] : ref) {
      auto it = m.lower_bound(rk);
      REQUIRE(it != m.end());
      CHECK((*it).key == rk);
    }
    CHECK(keys_of(m.prefix(k)) == keys_of(m));
  }
}

// ---------------------------------------------------------------------------------------------
// Ordered traversal
// ---------------------------------------------------------------------------------------------

TEST_CASE("FastArt: lower_bound finds the first key not less than its argument", "[fast_art][scan]") {
  Art m;
  const std::vector<std::string> keys = {"",      "a",      "aa",  "ab",         "abcdefghijklmnopq1",
                                         "abcdefghijklmnopq2", "b\0"s, "b\xff", "c"};
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  auto lb = [&](std::string_view k) -> std::string {
    auto it = m.lower_bound(k);
    return it == m.end() ? "<end>" : std::string((*it).key);
  };
  CHECK(lb("") == "");
  CHECK(lb("a") == "a");
  CHECK(lb("a\0"s) == "aa");
  CHECK(lb("aaa") == "ab");
  CHECK(lb("abc") == "abcdefghijklmnopq1");
  CHECK(lb("abcdefghijklmnopq") == "abcdefghijklmnopq1");
  CHECK(lb("abcdefghijklmnopq10") == "abcdefghijklmnopq2");
  CHECK(lb("abcdefghijklmnopq3") == "b\0"s);
  CHECK(lb("abcdefgz") == "b\0"s);       // differs inside the stored prefix bytes
  CHECK(lb("abcdefghijz") == "b\0"s);    // differs after the stored prefix bytes
  CHECK(lb("abcdefghij\0"s) == "abcdefghijklmnopq1");
  CHECK(lb("b") == "b\0"s);
  CHECK(lb("b\x01") == "b\xff");
  CHECK(lb("b\xff\0"s) == "c");
  CHECK(lb("c") == "c");
  CHECK(lb("c\0"s) == "<end>");
  CHECK(lb("\xff") == "<end>");
}

TEST_CASE("FastArt: prefix() edge cases", "[fast_art][scan]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (const std::string& k : {""s, "a"s, "ab"s, "abc"s, "abd"s, "b"s, "\xff"s, "\xff\xff"s,
                               "\xff\xff\xff"s, "\xff\xfe"s, "x\0"s, "x\0\0"s}) {
    m.insert(k, k.size());
    ref.emplace(k, k.size());
  }
  auto expect = [&](std::string_view p) {
    std::vector<std::string> out;
    for (const auto& [k, v] : ref)
      if (k.substr(0, p.size()) == p) out.push_back(k);
    return out;
  };
  CHECK(keys_of(m.prefix("")) == keys_of(m));  // the empty prefix is everything
  CHECK(keys_of(m.prefix("")).size() == ref.size());
  for (std::string_view p : {"a"sv, "ab"sv, "abc"sv, "abcd"sv, "b"sv, "c"sv, "\xff"sv, "\xff\xff"sv,
                             "\xff\xff\xff"sv, "\xff\xff\xff\xff"sv, "x"sv, "x\0"sv, "x\0\0\0"sv}) {
    INFO("prefix " << show(p));
    CHECK(keys_of(m.prefix(p)) == expect(p));
  }
  const Art empty;
  CHECK(keys_of(empty.prefix("")).empty());
  CHECK(keys_of(empty.prefix("\xff\xff")).empty());
}

TEST_CASE("FastArt: range() edge cases", "[fast_art][scan]") {
  Art m;
  for (const std::string& k : {""s, "a"s, "b"s, "c"s, "c\0"s, "d"s}) m.insert(k, k.size());
  using V = std::vector<std::string>;
  CHECK(keys_of(m.range("b", "d")) == V{"b", "c", "c\0"s});      // hi is exclusive
  CHECK(keys_of(m.range("", "b")) == V{"", "a"});
  CHECK(keys_of(m.range("a", "a")).empty());                      // lo == hi: empty
  CHECK(keys_of(m.range("d", "a")).empty());                      // lo > hi: empty
  CHECK(keys_of(m.range("", "")).empty());
  CHECK(keys_of(m.range("c", "c\0"s)) == V{"c"});
  CHECK(keys_of(m.range("a\0"s, "c")) == V{"b"});
  CHECK(keys_of(m.range("", "\xff")) == keys_of(m));
  CHECK(keys_of(m.range("d\0"s, "\xff")).empty());
  auto r = m.range("z", "a");
  CHECK(r.begin() == r.end());
  CHECK(r.empty());
}

TEST_CASE("FastArt: iterators work with range-for and std::ranges algorithms", "[fast_art][scan]") {
  Art m;
  for (unsigned i = 0; i < 100; ++i) m.insert(numbered("k", i), i);
  std::uint64_t sum = 0;
  for (auto [key, value] : m) {
    CHECK(key.substr(0, 1) == "k");
    sum += value;
  }
  CHECK(sum == 99 * 100 / 2);
  CHECK(std::ranges::distance(m) == 100);
  CHECK(std::ranges::distance(m.prefix("k1")) == 11);  // k1, k10..k19
  CHECK(std::ranges::count_if(m, [](auto e) { return e.value % 2 == 0; }) == 50);
  auto it = std::ranges::find_if(m, [](auto e) { return e.key == "k42"; });
  REQUIRE(it != m.end());
  CHECK(it->value == 42);
  CHECK(std::ranges::is_sorted(m | std::views::transform([](auto e) { return std::string(e.key); })));
  auto r = m.range("k5", "k6");
  std::vector<std::uint64_t> values;
  std::ranges::transform(r, std::back_inserter(values), [](auto e) { return e.value; });
  CHECK(values == std::vector<std::uint64_t>{5, 50, 51, 52, 53, 54, 55, 56, 57, 58, 59});
  // Post-increment returns the old position; a default iterator is the end.
  auto a = m.begin();
  auto b = a++;
  CHECK(b == m.begin());
  CHECK(a != b);
  CHECK(Art::const_iterator() == m.end());
  // A copied iterator walks independently.
  auto c = a;
  ++c;
  CHECK((*a).key != (*c).key);
}

// ---------------------------------------------------------------------------------------------
// Memory
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("FastArt and ArenaArt: keys branching off one long key at many places (deep paths, long compressed prefixes)", "[fast_art][arena_art][keys]",
                   memkv::FastArt<>, memkv::ArenaArt<>) {
  // Each key is a long base string changed at one random place and cut a little after it, so
  // the tree is a spine of hundreds of nodes whose compressed paths are longer than the 4 bytes
  // a node stores: inserts, erases and lower_bound must take those paths from a leaf below
  // (leaf_on_path). Until 2026-12-03 each such node cost a leftmost descent of its own, which
  // made 2,000 keys of 32 KiB take 2.7 s to insert into a FastArt; 0.27 s now.
  using M = TestType;
  std::mt19937_64 rng(11);
  const std::size_t base_len = memkv_test::kSanitized ? 3000 : 20000;
  std::string base(base_len, 'a');
  for (auto& c : base) c = "ab"[rng() % 2];
  std::map<std::string, std::uint64_t> ref;
  M m;
  for (std::uint64_t i = 0; i < 1500; ++i) {
    std::string k = base;
    const std::size_t p = rng() % k.size();
    k[p] = static_cast<char>('c' + rng() % 20);
    k.resize(std::min(k.size(), p + 1 + rng() % 100));
    if (i % 5 == 0) k = base.substr(0, rng() % base.size());  // prefixes of the base too
    CHECK(m.insert(k, i) == ref.emplace(k, i).second);
  }
  REQUIRE_NOTHROW(m.check_invariants());
  memkv_test::detail::compare_all(m, ref, "after inserts");
  for (int q = 0; q < 300; ++q) {
    std::string k = base.substr(0, rng() % base.size());
    if (q % 3 == 0 && !k.empty()) k.back() = static_cast<char>('a' + rng() % 26);
    auto it = m.lower_bound(k);
    auto rit = ref.lower_bound(k);
    if (rit == ref.end()) {
      CHECK(it == m.end());
    } else {
      REQUIRE(it != m.end());
      CHECK((*it).key == rit->first);
    }
  }
  std::size_t n = 0;
  for (auto it = ref.begin(); it != ref.end();) {
    if (n++ % 2 == 0) {
      CHECK(m.erase(it->first));
      it = ref.erase(it);
    } else {
      ++it;
    }
  }
  REQUIRE_NOTHROW(m.check_invariants());
  memkv_test::detail::compare_all(m, ref, "after erases");
}

TEMPLATE_TEST_CASE("FastArt: erasing every key returns memory_usage to the empty map's", "[fast_art][memory]",
                   std::uint64_t, std::string) {
  using M = memkv::FastArt<TestType>;
  for (std::size_t n : {1u, 2u, 5u, 17u, 300u, 20000u}) {
    INFO(n << " keys");
    M m;
    const std::size_t empty = m.memory_usage();
    auto keys = memkv_test::nasty_keys(n, n);
    for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], memkv_test::make_value<TestType>(i));
    CHECK(m.size() == n);
    memkv_test::Rng rng(n);
    for (std::size_t i = keys.size(); i > 1; --i) std::swap(keys[i - 1], keys[rng.below(i)]);
    for (const auto& k : keys) REQUIRE(m.erase(k));
    CHECK(m.empty());
    REQUIRE_NOTHROW(m.check_invariants());
    CHECK(m.memory_usage() == empty);
  }
}

TEST_CASE("FastArt: the MallocAllocator policy counts memory back to zero", "[fast_art][memory]") {
  memkv::FastArt<std::uint64_t, memkv::MallocAllocator> m;
  const std::size_t empty = m.memory_usage();
  CHECK(empty == sizeof(m));
  const auto keys = memkv_test::nasty_keys(5, 3000);
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  CHECK(m.memory_usage() > empty + 3000 * 8);
  REQUIRE_NOTHROW(m.check_invariants());
  for (const auto& k : keys) REQUIRE(m.erase(k));
  CHECK(m.memory_usage() == empty);
}

// ---------------------------------------------------------------------------------------------
// Exception safety (a policy that fails the k-th allocation)
// ---------------------------------------------------------------------------------------------

namespace {

// Inserts that each take a different path through the tree.
struct InsertCase {
  const char* what;
  std::vector<std::string> setup;
  std::string key;
};

std::vector<InsertCase> insert_cases() {
  std::vector<InsertCase> cases;
  auto bytes = [](std::string_view p, unsigned n) {
    std::vector<std::string> v;
    for (unsigned i = 0; i < n; ++i) v.push_back(byte_key(p, scrambled(i)));
    return v;
  };
  cases.push_back({"into an empty map", {}, "k"});
  cases.push_back({"splitting a root leaf", {"key"}, "kez"});
  cases.push_back({"a key that is a prefix of a leaf", {"key"}, "ke"});
  cases.push_back({"an extension of a leaf", {"ke"}, "key"});
  cases.push_back({"into a Node4 with room", bytes("p", 2), byte_key("p", scrambled(2))});
  cases.push_back({"growing Node4 to Node16", bytes("p", 4), byte_key("p", scrambled(4))});
  cases.push_back({"growing Node16 to Node48", bytes("p", 16), byte_key("p", scrambled(16))});
  cases.push_back({"growing Node48 to Node256", bytes("p", 48), byte_key("p", scrambled(48))});
  cases.push_back({"into a Node256", bytes("p", 100), byte_key("p", scrambled(100))});
  cases.push_back({"splitting a compressed path", {"abcdefghijklmnop1", "abcdefghijklmnop2"},
                   "abcdefghijXY"});
  cases.push_back({"ending inside a compressed path", {"abcdefghijklmnop1", "abcdefghijklmnop2"},
                   "abcdef"});
  cases.push_back({"adding an end slot to a Node48", bytes("p", 30), "p"});
  cases.push_back({"a long key", {"a", "b"}, std::string(70000, 'a')});
  return cases;
}

template <class V>
void check_strong_guarantee(bool assign) {
  using M = memkv::FastArt<V, ThrowingSlab>;
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
        require_same(m, ref);  // unchanged
        CHECK(m.memory_usage() == memory);
        CHECK_FALSE(m.contains(c.key));
        // And the map still works.
        m.insert(c.key, value);
        ref.emplace(c.key, value);
        require_same(m, ref);
      } else {
        REQUIRE(k > 1);  // the first allocation of an insert of a new key must be the one failing
        ref.emplace(c.key, value);
        require_same(m, ref);
        break;
      }
      REQUIRE(k < 20);
    }
  }
}

}  // namespace

TEST_CASE("FastArt: insert gives the strong guarantee when allocation fails", "[fast_art][exceptions]") {
  check_strong_guarantee<std::uint64_t>(false);
  check_strong_guarantee<std::string>(false);
}

TEST_CASE("FastArt: insert_or_assign gives the strong guarantee when allocation fails", "[fast_art][exceptions]") {
  check_strong_guarantee<std::uint64_t>(true);
  check_strong_guarantee<std::string>(true);
}

TEST_CASE("FastArt: erase succeeds even when shrinking a node cannot allocate", "[fast_art][exceptions]") {
  using M = memkv::FastArt<std::uint64_t, ThrowingSlab>;
  NeverFailGuard guard;
  // Erases that want a new, smaller node: Node4 and Node16 one slot smaller, Node16 -> Node4,
  // Node48 -> Node16, Node256 -> Node48, and a node giving its end slot back.
  struct Case {
    const char* what;
    unsigned children;  // "ab" + byte 0..children-1
    unsigned erase_first;  // erased normally before the failing erase (from the top)
    bool end_slot;
  };
  const Case cases[] = {{"Node4 slot", 3, 0, false},   {"Node16 slot", 10, 0, false},
                        {"Node16 -> Node4", 5, 0, false}, {"Node48 -> Node16", 17, 4, false},
                        {"Node256 -> Node48", 49, 11, false}, {"end slot", 5, 0, true}};
  for (const Case& c : cases) {
    for (const bool fail : {true, false}) {
      INFO(c.what << (fail ? ", the allocation fails" : ""));
      ThrowingSlab::never_fail();
      M m;
      std::map<std::string, std::uint64_t> ref;
      for (unsigned b = 0; b < c.children; ++b) {
        m.insert(byte_key("ab", static_cast<std::uint8_t>(b)), b);
        ref.emplace(byte_key("ab", static_cast<std::uint8_t>(b)), b);
      }
      if (c.end_slot) {
        m.insert("ab", 99);
        ref.emplace("ab", 99);
      }
      for (unsigned i = 0; i < c.erase_first; ++i) {
        const std::string k = byte_key("ab", static_cast<std::uint8_t>(c.children - 2 - i));
        REQUIRE(m.erase(k));
        ref.erase(k);
      }
      const std::string victim = c.end_slot ? "ab" : byte_key("ab", static_cast<std::uint8_t>(c.children - 1));
      const auto before = m.stats();
      if (fail) ThrowingSlab::fail_at(1);
      bool erased = false;
      CHECK_NOTHROW(erased = m.erase(victim));
      ThrowingSlab::never_fail();
      CHECK(erased);
      ref.erase(victim);
      require_same(m, ref);
      const auto after = m.stats();
      if (fail && !c.end_slot) {  // the node stayed as it was
        CHECK(after.node4 == before.node4);
        CHECK(after.node16 == before.node16);
        CHECK(after.node48 == before.node48);
        CHECK(after.node256 == before.node256);
      }
      if (c.end_slot) CHECK(after.end_slots == 0);
      // The kept node takes the key back, and everything can still be erased.
      m.insert(victim, 7);
      ref.emplace(victim, 7);
      require_same(m, ref);
      for (const auto& [key, v] : ref) REQUIRE(m.erase(key));
      CHECK(m.memory_usage() == sizeof(M));
    }
  }
}

TEST_CASE("FastArt: a copy that cannot allocate throws and leaves the original intact", "[fast_art][exceptions]") {
  using M = memkv::FastArt<std::string, ThrowingSlab>;
  NeverFailGuard guard;
  M m;
  std::map<std::string, std::string> ref;
  for (const auto& k : memkv_test::nasty_keys(9, 400)) {
    m.insert(k, "v" + k);
    ref.emplace(k, "v" + k);
  }
  M target;
  target.insert("old", "value");
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
    ThrowingSlab::fail_at(k);
    try {
      target = m;  // copy assignment: strong guarantee
      ThrowingSlab::never_fail();
      require_same(target, ref);
      target = M();
      target.insert("old", "value");
    } catch (const std::bad_alloc&) {
      ThrowingSlab::never_fail();
      require_same(target, std::map<std::string, std::string>{{"old", "value"}});
    }
    REQUIRE(k < 100000);
  }
}

// ---------------------------------------------------------------------------------------------
// Values, copy, move, swap
// ---------------------------------------------------------------------------------------------

TEST_CASE("FastArt: std::string values are stored, assigned and freed", "[fast_art][values]") {
  StrArt m;
  const std::string big(1000, 'v');
  CHECK(m.insert("a", "short"));
  CHECK(m.insert("b", big));
  CHECK(m.insert("c", ""));
  CHECK(m.insert("", "\0binary\xff"s));
  CHECK(*m.find("b") == big);
  CHECK(m.get("c") == std::optional<std::string>(""));
  CHECK(m.get("") == "\0binary\xff"s);
  CHECK_FALSE(m.insert("a", "ignored"));
  CHECK(*m.find("a") == "short");
  CHECK_FALSE(m.insert_or_assign("a", big + big));
  CHECK(*m.find("a") == big + big);
  *m.find("c") = "changed through find";
  CHECK(m.get("c") == "changed through find");
  CHECK(m.erase("b"));
  require_same(m, std::map<std::string, std::string>{
                      {"", "\0binary\xff"s}, {"a", big + big}, {"c", "changed through find"}});
  m.clear();
  CHECK(m.memory_usage() == sizeof(StrArt));
}

TEST_CASE("FastArt: move-only values", "[fast_art][values]") {
  memkv::FastArt<std::unique_ptr<int>> m;
  CHECK(m.insert("a", std::make_unique<int>(1)));
  CHECK_FALSE(m.insert("a", std::make_unique<int>(9)));
  CHECK(**m.find("a") == 1);
  CHECK_FALSE(m.insert_or_assign("a", std::make_unique<int>(2)));
  CHECK(m.insert("ab", std::make_unique<int>(3)));
  CHECK(**m.find("a") == 2);
  int sum = 0;
  for (auto&& e : m) sum += *e.value;
  CHECK(sum == 5);
  auto n = std::move(m);
  CHECK(n.erase("a"));
  CHECK(**n.find("ab") == 3);
  REQUIRE_NOTHROW(n.check_invariants());
}

TEST_CASE("FastArt: values smaller than a word", "[fast_art][values]") {
  memkv::FastArt<bool> b;
  memkv::FastArt<char> c;
  for (unsigned i = 0; i < 300; ++i) {
    const std::string k = numbered("k", i * 37);
    b.insert(k, i % 3 == 0);
    c.insert(k, static_cast<char>(i));
  }
  for (unsigned i = 0; i < 300; ++i) {
    const std::string k = numbered("k", i * 37);
    REQUIRE(b.get(k) == (i % 3 == 0));
    REQUIRE(c.get(k) == static_cast<char>(i));
  }
  REQUIRE_NOTHROW(b.check_invariants());
  REQUIRE_NOTHROW(c.check_invariants());
  CHECK(std::ranges::distance(b) == 300);
}

TEST_CASE("FastArt: const lookups and scans run from several threads at once", "[fast_art][values]") {
  Art m;
  const auto keys = memkv_test::nasty_keys(41, 20000);
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  const Art& cm = m;
  std::vector<std::size_t> found(4, 0), scanned(4, 0);
  std::vector<std::thread> threads;
  for (std::size_t t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (std::size_t i = t; i < keys.size(); i += 2) {
        const std::uint64_t* v = cm.find(keys[i]);
        if (v != nullptr && *v == i) ++found[t];
      }
      for (auto&& e : cm.prefix(keys[t])) scanned[t] += e.key.substr(0, keys[t].size()) == keys[t];
    });
  }
  for (auto& th : threads) th.join();
  for (std::size_t t = 0; t < 4; ++t) {
    CHECK(found[t] == (keys.size() - t + 1) / 2);
    CHECK(scanned[t] == static_cast<std::size_t>(std::ranges::distance(cm.prefix(keys[t]))));
  }
}

TEST_CASE("FastArt: a map built with an allocator copy owns its own pool", "[fast_art][values]") {
  memkv::SlabAllocator pool;
  Art m(pool);
  CHECK(m.memory_usage() == sizeof(Art));
  m.insert("k", 1);
  CHECK(m.allocator().bytes_in_use() > 0);       // the leaf
  CHECK(m.node_allocator().bytes_in_use() == 0);  // no inner node yet
  m.insert("kz", 2);
  CHECK(m.node_allocator().bytes_in_use() > 0);   // the Node4 above both leaves
  CHECK(pool.bytes_in_use() == 0);
  CHECK(m.memory_usage() == m.allocator().bytes_in_use() + m.node_allocator().bytes_in_use() + sizeof(Art));
}

TEST_CASE("FastArt: compact keeps the content and gives back scattered memory", "[fast_art][memory]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  const auto keys = memkv_test::nasty_keys(51, 30000);
  for (std::size_t i = 0; i < keys.size(); ++i) {
    m.insert(keys[i], i);
    if (i % 10 == 0) ref.emplace(keys[i], i);
  }
  for (std::size_t i = 0; i < keys.size(); ++i)
    if (i % 10 != 0) REQUIRE(m.erase(keys[i]));
  const std::size_t scattered = m.memory_usage();
  m.compact();
  require_same(m, ref);
  CHECK(m.memory_usage() < scattered);
  Art empty;
  empty.compact();
  CHECK(empty.empty());
  CHECK(empty.memory_usage() == sizeof(Art));
}

TEST_CASE("FastArt: a copy is deep", "[fast_art][values]") {
  StrArt m;
  for (const auto& k : memkv_test::nasty_keys(3, 500)) m.insert(k, "v" + k);
  const auto before = contents(m);
  StrArt c(m);
  CHECK(contents(c) == before);
  REQUIRE_NOTHROW(c.check_invariants());
  const std::string first(before.front().first);
  *c.find(first) = "changed";
  c.insert("only in the copy", "x");
  c.erase(before.back().first);
  CHECK(contents(m) == before);
  CHECK(*m.find(first) == before.front().second);
  CHECK_FALSE(m.contains("only in the copy"));
  // Copy assignment onto a map with content, and from an empty map.
  StrArt d;
  d.insert("replaced", "x");
  d = m;
  CHECK(contents(d) == before);
  d = StrArt();
  CHECK(d.empty());
  const StrArt& self = d;
  d = self;
  CHECK(d.empty());
  m = m;  // self copy-assignment keeps everything
  CHECK(contents(m) == before);
}

TEST_CASE("FastArt: move leaves the source empty and usable", "[fast_art][values]") {
  StrArt m;
  for (const auto& k : memkv_test::nasty_keys(4, 300)) m.insert(k, "v" + k);
  const auto before = contents(m);
  const std::size_t memory = m.memory_usage();
  StrArt n(std::move(m));
  CHECK(contents(n) == before);
  CHECK(n.memory_usage() == memory);
  CHECK(m.empty());                       // NOLINT(bugprone-use-after-move)
  CHECK(m.size() == 0);
  CHECK(m.begin() == m.end());
  CHECK(m.memory_usage() == sizeof(StrArt));
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(m.insert("again", "x"));
  CHECK(m.size() == 1);
  StrArt o;
  o.insert("overwritten", "y");
  o = std::move(n);
  CHECK(contents(o) == before);
  CHECK(n.empty());
  REQUIRE_NOTHROW(n.check_invariants());
  StrArt& self = o;
  o = std::move(self);  // self move-assignment must not lose the content
  CHECK(contents(o) == before);
}

TEST_CASE("FastArt: swap exchanges contents and memory", "[fast_art][values]") {
  Art a, b;
  for (unsigned i = 0; i < 1000; ++i) a.insert(numbered("a", i), i);
  b.insert("b", 1);
  const auto ca = contents(a), cb = contents(b);
  const std::size_t ma = a.memory_usage(), mb = b.memory_usage();
  a.swap(b);
  CHECK(contents(a) == cb);
  CHECK(contents(b) == ca);
  CHECK(a.memory_usage() == mb);
  CHECK(b.memory_usage() == ma);
  swap(a, b);  // the ADL swap
  CHECK(contents(a) == ca);
  std::swap(a, b);
  CHECK(contents(a) == cb);
  REQUIRE_NOTHROW(a.check_invariants());
  REQUIRE_NOTHROW(b.check_invariants());
  // Both still allocate and free correctly from their swapped pools.
  for (unsigned i = 0; i < 1000; ++i) b.erase(numbered("a", i));
  CHECK(b.memory_usage() == sizeof(Art));
}

TEST_CASE("FastArt: erase accepts a key that views the map's own storage", "[fast_art][keys]") {
  Art m;
  const auto keys = memkv_test::nasty_keys(31, 2000);
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  // The entry's key points into the leaf that erase frees.
  while (!m.empty()) {
    const std::string_view k = (*m.begin()).key;
    REQUIRE(m.erase(k));
  }
  CHECK(m.memory_usage() == sizeof(Art));
}

TEST_CASE("FastArt: insert accepts a key that views the map's own storage", "[fast_art][keys]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  for (const auto& k : memkv_test::nasty_keys(32, 500)) {
    m.insert(k, 1);
    ref.emplace(k, 1);
  }
  // Insert prefixes of stored keys, passing views into the stored leaves.
  std::vector<std::string> stored;
  for (auto&& e : m) stored.emplace_back(e.key);
  for (const std::string& k : stored) {
    const std::string_view own = (*m.lower_bound(k)).key;
    REQUIRE(own == k);
    const std::string_view cut = own.substr(0, own.size() / 2);
    const std::string copy(cut);
    m.insert(cut, 2);
    ref.emplace(copy, 2);
  }
  require_same(m, ref);
}

TEST_CASE("FastArt: a tree thousands of levels deep copies, iterates and frees", "[fast_art][nodes]") {
  // Keys "", "a", "aa", ...: every key is a prefix of the next, each one a level deeper.
  const std::size_t n = 4000;
  Art m;
  for (std::size_t i = 0; i < n; ++i) m.insert(std::string(i, 'a'), i);
  REQUIRE(m.stats().max_depth >= n - 1);
  REQUIRE_NOTHROW(m.check_invariants());
  Art copy(m);
  std::size_t i = 0;
  for (auto&& e : copy) {
    REQUIRE(e.key.size() == i);
    REQUIRE(e.value == i);
    ++i;
  }
  CHECK(i == n);
  CHECK((*m.lower_bound(std::string(n / 2, 'a') + '\0')).key.size() == n / 2 + 1);
  for (std::size_t j = 0; j < n; j += 2) REQUIRE(m.erase(std::string(j, 'a')));
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(m.size() == n / 2);
  m.clear();
  CHECK(m.memory_usage() == sizeof(Art));
}

// ---------------------------------------------------------------------------------------------
// Long keys
// ---------------------------------------------------------------------------------------------

TEST_CASE("FastArt: keys over 64 KiB sharing long prefixes", "[fast_art][keys]") {
  Art m;
  std::map<std::string, std::uint64_t> ref;
  const std::string base(70000, 'L');
  for (const std::string& k : {base, base + "a", base + "b", base.substr(0, 65537) + "x",
                               base.substr(0, 65536), base.substr(0, 69999) + "\xff"}) {
    m.insert(k, k.size());
    ref.emplace(k, k.size());
  }
  require_same(m, ref);
  for (const auto& [k, v] : ref) {
    for (const std::string& probe : {k + '\0', k.substr(0, k.size() - 1), k.substr(0, 65535)}) {
      auto it = m.lower_bound(probe);
      auto rit = ref.lower_bound(probe);
      if (rit == ref.end()) {
        CHECK(it == m.end());
      } else {
        REQUIRE(it != m.end());
        CHECK((*it).key == rit->first);
      }
    }
  }
  CHECK(keys_of(m.prefix(base.substr(0, 65537))).size() == 5);
  for (const auto& [k, v] : ref) REQUIRE(m.erase(k));
  CHECK(m.memory_usage() == sizeof(Art));
}

TEST_CASE("FastArt: a 16 MiB key can be inserted, found and erased", "[fast_art][keys]") {
  Art m;
  std::string huge(16u << 20, '\0');
  for (std::size_t i = 0; i < huge.size(); i += 4093) huge[i] = static_cast<char>(i * 31);
  m.insert("a", 1);
  m.insert("", 2);
  CHECK(m.insert(huge, 3));
  std::string sibling = huge;
  sibling.back() = '\x01';
  CHECK(m.insert(sibling, 4));
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(m.get(huge) == 3u);
  CHECK(m.get(sibling) == 4u);
  CHECK_FALSE(m.contains(std::string_view(huge).substr(0, huge.size() - 1)));
  auto it = m.lower_bound(std::string_view(huge).substr(0, 100));
  REQUIRE(it != m.end());
  CHECK((*it).key == huge);
  CHECK((*it).key.size() == huge.size());
  CHECK(m.erase(huge));
  CHECK_FALSE(m.contains(huge));
  CHECK(m.erase(sibling));
  CHECK(keys_of(m) == std::vector<std::string>{"", "a"});
  m.erase("a");
  m.erase("");
  CHECK(m.memory_usage() == sizeof(Art));
}

#if defined(__linux__)
TEST_CASE("FastArt: a key of 4 GiB is refused with memkv::error", "[fast_art][keys]") {
  // 2^32 readable zero bytes without committing memory.
  const std::size_t n = std::size_t{1} << 32;
  void* p = ::mmap(nullptr, n, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    WARN("mmap of 4 GiB failed; skipped");
    return;
  }
  const std::string_view key(static_cast<const char*>(p), n);
  Art m;
  CHECK_THROWS_AS(m.insert(key, 1), memkv::error);
  CHECK(m.empty());
  m.insert("a", 1);
  CHECK_THROWS_AS(m.insert_or_assign(key, 2), memkv::error);
  CHECK(m.size() == 1);
  REQUIRE_NOTHROW(m.check_invariants());
  ::munmap(p, n);
}
#endif

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

TEST_CASE("FastArt differential: uint64 values", "[fast_art][differential]") {
  differential<Art>("FastArt<uint64>", default_options(), memkv_test::test_seeds());
}

TEST_CASE("FastArt differential: std::string values", "[fast_art][differential]") {
  auto o = default_options();
  o.seed += 1000;
  differential<StrArt>("FastArt<string>", o, std::max<std::size_t>(1, memkv_test::test_seeds() - 1));
}

TEST_CASE("FastArt differential: small maps that empty often", "[fast_art][differential]") {
  auto o = default_options();
  o.seed += 2000;
  o.ops = std::max<std::size_t>(1, o.ops / 2);
  o.max_size = 300;
  o.invariant_every = 500;
  o.copy_every = 20000;
  differential<Art>("FastArt<uint64> small", o, 1);
}

#if MEMKV_HAS_MIMALLOC && defined(MEMKV_TEST_MIMALLOC)
// Built into memkv_mimalloc_tests only (see tests/CMakeLists.txt).
TEST_CASE("FastArt: the MimallocAllocator policy", "[fast_art][mimalloc]") {
  using M = memkv::FastArt<std::string, memkv::MimallocAllocator>;
  M m;
  const auto keys = memkv_test::nasty_keys(21, 5000);
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], numbered("v", i));
  REQUIRE_NOTHROW(m.check_invariants());
  CHECK(m.memory_usage() > sizeof(M) + 5000 * 8);
  for (const auto& k : keys) REQUIRE(m.erase(k));
  CHECK(m.memory_usage() == sizeof(M));
  auto o = memkv_test::DiffOptions{};
  o.seed = memkv_test::base_seed() + 4000;
  o.ops = std::max<std::size_t>(1, memkv_test::test_ops() / 4);
  REQUIRE_NOTHROW(memkv_test::run_differential<memkv::FastArt<std::uint64_t, memkv::MimallocAllocator>>(o));
}
#endif

TEST_CASE("FastArt differential: random allocation failures", "[fast_art][differential]") {
  // Every insert, insert_or_assign, copy and compact that meets a failing allocation must leave
  // the map as it was; erase must succeed regardless.
  struct Reset {
    ~Reset() { RandomFailSlab::one_in = 0; }
  } reset;
  auto o = default_options();
  o.seed += 5000;
  o.ops = std::max<std::size_t>(1, o.ops / 4);
  o.allocation_failures = true;
  o.copy_every = 50000;
  RandomFailSlab::rng = memkv_test::Rng(o.seed);
  RandomFailSlab::one_in = 500;
  memkv_test::DiffStats stats;
  INFO("seed " << o.seed);
  REQUIRE_NOTHROW(stats = memkv_test::run_differential<memkv::FastArt<std::string, RandomFailSlab>>(o));
  INFO(memkv_test::describe(stats));
  // About one failed allocation per 1,850 operations at one_in = 500 (54 in 100,000).
  if (o.ops >= 100000) CHECK(stats.bad_allocs > o.ops / 4000);
  if (o.ops >= 100000) CHECK(stats.insert_batch_bad_allocs > 0);  // some inside insert_many
}

TEST_CASE("FastArt differential: the MallocAllocator policy", "[fast_art][differential]") {
  auto o = default_options();
  o.seed += 3000;
  o.ops = std::max<std::size_t>(1, o.ops / 4);
  differential<memkv::FastArt<std::uint64_t, memkv::MallocAllocator>>("FastArt<uint64, Malloc>", o, 1);
}

// ---------------------------------------------------------------------------------------------
// Coded keys (art_options::code_sample_keys; detail/key_code.hpp, shared with HotArt)
// ---------------------------------------------------------------------------------------------

TEMPLATE_TEST_CASE("FastArt and ArenaArt: moves and swaps carry the key code and the options", "[fast_art][arena_art][key_code]",
                   memkv::FastArt<>, memkv::ArenaArt<>) {
  std::vector<std::string> keys;
  for (int i = 0; i < 600; ++i) keys.push_back("https://example.org/a/" + std::to_string(i * 31 % 600) + "/b");
  TestType m(memkv::art_options{500});
  for (std::size_t i = 0; i < keys.size(); ++i) m.insert(keys[i], i);
  REQUIRE(m.keys_coded());
  TestType moved(std::move(m));
  CHECK(moved.keys_coded());
  CHECK(moved.size() == keys.size());
  CHECK(m.empty());
  CHECK_FALSE(m.keys_coded());
  CHECK(m.options().code_sample_keys == 500);
  for (std::size_t i = 0; i < 500; ++i) m.insert(keys[i], i);
  CHECK(m.keys_coded());  // learns again
  m.check_invariants();
  TestType raw(memkv::art_options{0});
  raw.insert("only", 7);
  swap(raw, moved);
  CHECK_FALSE(moved.keys_coded());
  CHECK(moved.options().code_sample_keys == 0);
  CHECK(*moved.find("only") == 7);
  CHECK(raw.keys_coded());
  CHECK(raw.options().code_sample_keys == 500);
  for (std::size_t i = 0; i < keys.size(); ++i) REQUIRE(*raw.find(keys[i]) == i);
  for (std::size_t i = 0; i < keys.size(); ++i) moved.insert(keys[i], i);
  CHECK_FALSE(moved.keys_coded());
  TestType assigned;
  assigned = std::move(raw);
  CHECK(assigned.keys_coded());
  CHECK(assigned.options().code_sample_keys == 500);
  std::size_t n = 0;
  for (auto e : assigned) {
    REQUIRE(e.key == keys[e.value]);
    ++n;
  }
  CHECK(n == keys.size());
  assigned.check_invariants();
  moved.check_invariants();
}

TEMPLATE_TEST_CASE("FastArt and ArenaArt: values whose copies throw, in a key code's rebuild and in a copy", "[fast_art][arena_art][key_code][exceptions]",
                   memkv::FastArt<memkv_test::FragileValue>, memkv::ArenaArt<memkv_test::FragileValue>) {
  memkv_test::check_fragile_values<TestType>(memkv::art_options{64});
}

TEST_CASE("FastArt and ArenaArt: move-only values keep their keys raw", "[fast_art][arena_art][key_code]") {
  memkv_test::check_move_only_values<memkv::FastArt<std::unique_ptr<int>>>(memkv::art_options{16});
  memkv_test::check_move_only_values<memkv::ArenaArt<std::unique_ptr<int>>>(memkv::art_options{16});
}

TEST_CASE("FastArt and ArenaArt: keys stored coded once the tree holds code_sample_keys keys", "[fast_art][arena_art][key_code]") {
  std::vector<std::string> urls;
  for (int i = 0; i < 60000; ++i)
    urls.push_back("https://github.com/user" + std::to_string(i * 7919 % 1000) + "/repo-" + std::to_string(i));
  std::size_t raw = 0;
  for (const auto& u : urls) raw += u.size();
  memkv::FastArt<> fast, fast_coded(memkv::art_options{1000});
  memkv::ArenaArt<> arena, arena_plain(memkv::art_options{0});
  std::map<std::string, std::uint64_t> ref;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    fast.insert(urls[i], i);
    fast_coded.insert(urls[i], i);
    arena.insert(urls[i], i);
    arena_plain.insert(urls[i], i);
    ref.emplace(urls[i], i);
    if (i + 1 == 999) CHECK_FALSE(fast_coded.keys_coded());
    if (i + 1 == 1000) CHECK(fast_coded.keys_coded());
  }
  CHECK_FALSE(fast.keys_coded());  // FastArt: raw unless asked
  CHECK(arena.keys_coded());       // ArenaArt: coded from 4096 keys
  CHECK_FALSE(arena_plain.keys_coded());
  CHECK(arena.options().code_sample_keys == 4096);
  CHECK(fast.options().code_sample_keys == 0);
  for (auto* m : {&fast, &fast_coded}) {
    REQUIRE_NOTHROW(m->check_invariants());
    REQUIRE(contents(*m) == std::vector<std::pair<std::string, std::uint64_t>>(ref.begin(), ref.end()));
  }
  for (auto* m : {&arena, &arena_plain}) {
    REQUIRE_NOTHROW(m->check_invariants());
    REQUIRE(contents(*m) == std::vector<std::pair<std::string, std::uint64_t>>(ref.begin(), ref.end()));
  }
  for (std::size_t i = 0; i < urls.size(); i += 7) {
    REQUIRE(fast_coded.get(urls[i]) == i);
    REQUIRE(arena.get(urls[i]) == i);
    REQUIRE_FALSE(arena.contains(urls[i] + "x"));
    const std::string shorter = urls[i].substr(0, urls[i].size() - 1);
    REQUIRE(fast_coded.contains(shorter) == ref.contains(shorter));
    REQUIRE(arena.contains(shorter) == ref.contains(shorter));
  }
  // The same trie; the leaves shrink by more than 10 bytes a URL (~17).
  CHECK(fast.stats().node4 == fast_coded.stats().node4);
  CHECK(arena.stats().leaves == arena_plain.stats().leaves);
  INFO("B/key: FastArt " << (double(fast.memory_usage()) - double(raw)) / 60000.0 << ", coded "
                         << (double(fast_coded.memory_usage()) - double(raw)) / 60000.0 << "; ArenaArt raw "
                         << (double(arena_plain.memory_usage()) - double(raw)) / 60000.0 << ", coded "
                         << (double(arena.memory_usage()) - double(raw)) / 60000.0);
  CHECK(fast_coded.memory_usage() + 60000 * 10 < fast.memory_usage());
  CHECK(arena.memory_usage() + 60000 * 10 < arena_plain.memory_usage());
  // Scans and bounds see the keys themselves.
  for (const char* p : {"https://github.com/user7", "https://github.com/user99/repo-1", "https://", "", "i"}) {
    std::vector<std::string> got, want;
    for (auto e : arena.prefix(p)) got.emplace_back(e.key);
    for (auto it = ref.lower_bound(p); it != ref.end() && it->first.starts_with(p); ++it) want.push_back(it->first);
    CHECK(got == want);
    auto lb = fast_coded.lower_bound(std::string(p) + "\x01");
    auto rlb = ref.lower_bound(std::string(p) + "\x01");
    REQUIRE((lb == fast_coded.end()) == (rlb == ref.end()));
    if (rlb != ref.end()) CHECK((*lb).key == rlb->first);
  }
  // Copies share the code; erasing every key forgets it; compact() keeps it.
  memkv::ArenaArt<> copy(arena);
  CHECK(copy.keys_coded());
  copy.compact();
  CHECK(copy.keys_coded());
  REQUIRE(contents(copy) == contents(arena));
  const std::size_t empty = memkv::ArenaArt<>().memory_usage();
  for (const auto& u : urls) REQUIRE(copy.erase(u));
  CHECK_FALSE(copy.keys_coded());
  CHECK(copy.memory_usage() <= empty + 4096 * 2);  // the arena keeps its first chunk
  arena.clear();
  CHECK_FALSE(arena.keys_coded());
}

TEST_CASE("FastArt differential: coded keys, a code learnt from 16 keys", "[fast_art][differential][key_code]") {
  auto o = default_options();
  o.seed += 6000;
  o.ops = std::max<std::size_t>(1, o.ops / 2);
  o.max_size = 300;
  o.invariant_every = 500;
  o.copy_every = 20000;
  {
    INFO("seed " << o.seed << ", " << o.ops << " ops");
    Art a(memkv::art_options{16});
    memkv_test::DiffStats st;
    REQUIRE_NOTHROW(st = memkv_test::run_differential(a, o));
    CHECK(st.times_empty > 0);
  }
  {
    o.seed += 1;
    o.max_size = 20000;
    o.ops = std::max<std::size_t>(1, memkv_test::test_ops() / 4);
    INFO("seed " << o.seed << ", " << o.ops << " ops");
    memkv::ArenaArt<std::string> a(memkv::art_options{64});
    REQUIRE_NOTHROW(memkv_test::run_differential(a, o));
  }
}

TEST_CASE("FastArt differential: coded keys and random allocation failures", "[fast_art][differential][key_code]") {
  // Learning the code rebuilds the tree: when an allocation fails there, the insert that
  // triggered it still succeeds and the map stays raw until it tries again.
  struct Reset {
    ~Reset() { RandomFailSlab::one_in = 0; }
  } reset;
  auto o = default_options();
  o.seed += 7000;
  o.ops = std::max<std::size_t>(1, o.ops / 8);
  o.max_size = 500;
  o.allocation_failures = true;
  o.copy_every = 50000;
  RandomFailSlab::rng = memkv_test::Rng(o.seed);
  RandomFailSlab::one_in = 500;
  INFO("seed " << o.seed);
  memkv::FastArt<std::string, RandomFailSlab> m(memkv::art_options{32});
  memkv_test::DiffStats stats;
  REQUIRE_NOTHROW(stats = memkv_test::run_differential(m, o));
  INFO(memkv_test::describe(stats));
  if (o.ops >= 100000) CHECK(stats.bad_allocs > 10);
}
