// Tests of the shared core (include/memkv/core/): tagged pointers, allocator policies, key
// helpers, the Node16 search; and self-tests of the differential harness (tests/differential.hpp),
// which must catch the bug classes it exists for.
#include <memkv/core/allocator.hpp>
#include <memkv/core/entry.hpp>
#include <memkv/core/error.hpp>
#include <memkv/core/key.hpp>
#include <memkv/core/simd.hpp>
#include <memkv/core/tagged_ptr.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <map>
#include <optional>
#include <ranges>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "differential.hpp"

using namespace std::literals;

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

TEST_CASE("core: error types derive as the contract says", "[core][error]") {
  STATIC_REQUIRE(std::is_base_of_v<std::runtime_error, memkv::error>);
  STATIC_REQUIRE(std::is_base_of_v<memkv::error, memkv::format_error>);
  CHECK_THROWS_AS(memkv::detail::throw_error("x"), memkv::error);
  CHECK_THROWS_AS(memkv::detail::throw_format_error("y"), memkv::format_error);
  CHECK_THROWS_WITH(memkv::detail::throw_error("what and where"), Catch::Contains("what and where"));
}

// ---------------------------------------------------------------------------------------------
// Tagged pointers
// ---------------------------------------------------------------------------------------------

namespace {
struct alignas(8) InnerNode {
  int x;
};
struct alignas(8) LeafNode {
  int y;
};
using Tagged = memkv::detail::TaggedPtr<InnerNode, LeafNode>;
}  // namespace

static_assert(sizeof(Tagged) == sizeof(void*));
static_assert(std::is_trivially_copyable_v<Tagged>);

TEST_CASE("core: a default tagged pointer is null, neither leaf nor inner", "[core][tagged_ptr]") {
  constexpr Tagged t;
  CHECK(t.is_null());
  CHECK_FALSE(static_cast<bool>(t));
  CHECK_FALSE(t.is_leaf());
  CHECK_FALSE(t.is_inner());
  CHECK(t.raw() == 0);
  CHECK(t == Tagged{});
}

TEST_CASE("core: a tagged pointer round-trips inner nodes and leaves", "[core][tagged_ptr]") {
  InnerNode inner[2];
  LeafNode leaf[2];
  const Tagged i = Tagged::from_inner(&inner[1]);
  const Tagged l = Tagged::from_leaf(&leaf[1]);
  CHECK(i.is_inner());
  CHECK_FALSE(i.is_leaf());
  CHECK(i.inner() == &inner[1]);
  CHECK(i.raw() == reinterpret_cast<std::uintptr_t>(&inner[1]));
  CHECK(l.is_leaf());
  CHECK_FALSE(l.is_inner());
  CHECK(l.leaf() == &leaf[1]);
  CHECK((l.raw() & 1) == 1);
  CHECK(static_cast<bool>(i));
  CHECK(static_cast<bool>(l));
  CHECK(i == Tagged::from_inner(&inner[1]));
  CHECK_FALSE(i == Tagged::from_inner(&inner[0]));
  // The same address tagged as a leaf and as an inner node are different references.
  const Tagged as_leaf = Tagged::from_leaf(reinterpret_cast<LeafNode*>(&inner[1]));
  CHECK_FALSE(as_leaf == i);
}

// ---------------------------------------------------------------------------------------------
// Allocator policies
// ---------------------------------------------------------------------------------------------

namespace {

template <class P>
void allocate_everything_then_free(P& p) {
  const std::size_t initial = p.bytes_in_use();
  std::vector<std::pair<void*, std::size_t>> blocks;
  std::set<void*> distinct;
  std::size_t requested = 0;
  memkv_test::Rng rng(7);
  std::vector<std::size_t> sizes;
  for (std::size_t s = 1; s <= 300; ++s) sizes.push_back(s);
  for (std::size_t s : {512u, 656u, 2064u, 2072u, 4096u, 70000u}) sizes.push_back(s);
  for (int round = 0; round < 4; ++round) {
    for (std::size_t s : sizes) {
      void* b = p.allocate(s);
      REQUIRE(b != nullptr);
      CHECK(reinterpret_cast<std::uintptr_t>(b) % 8 == 0);
      CHECK(distinct.insert(b).second);
      std::memset(b, 0xab, s);  // the whole block is writable (ASan checks the bounds)
      blocks.emplace_back(b, s);
      requested += s;
    }
  }
  CHECK(p.bytes_in_use() >= initial + requested);
  for (std::size_t i = blocks.size(); i > 1; --i) std::swap(blocks[i - 1], blocks[rng.below(i)]);
  for (auto [b, s] : blocks) p.deallocate(b, s);
  CHECK(p.bytes_in_use() == initial);
}

template <class P>
void copy_is_a_new_empty_pool() {
  P a;
  void* x = a.allocate(64);
  const std::size_t used = a.bytes_in_use();
  CHECK(used >= 64);
  P b(a);
  CHECK(b.bytes_in_use() == 0);
  void* y = b.allocate(64);
  CHECK(y != x);
  CHECK(a.bytes_in_use() == used);
  b.deallocate(y, 64);
  CHECK(b.bytes_in_use() == 0);
  // Move hands the pool over and leaves the source empty.
  P c(std::move(a));
  CHECK(c.bytes_in_use() == used);
  CHECK(a.bytes_in_use() == 0);  // NOLINT(bugprone-use-after-move)
  P d;
  d = std::move(c);
  CHECK(d.bytes_in_use() == used);
  CHECK(c.bytes_in_use() == 0);  // NOLINT(bugprone-use-after-move)
  d.deallocate(x, 64);
  CHECK(d.bytes_in_use() == 0);
}

}  // namespace

static_assert(std::is_nothrow_move_constructible_v<memkv::SlabAllocator>);
static_assert(std::is_nothrow_move_constructible_v<memkv::MallocAllocator>);
static_assert(std::is_default_constructible_v<memkv::SlabAllocator>);

TEST_CASE("core: SlabAllocator gives distinct 8-aligned blocks and counts them back to zero", "[core][allocator]") {
  memkv::SlabAllocator p;
  CHECK(p.bytes_in_use() == 0);
  allocate_everything_then_free(p);
  CHECK(p.chunk_count() == 0);
  allocate_everything_then_free(p);  // a second round over the released classes
}

TEST_CASE("core: MallocAllocator gives distinct 8-aligned blocks and counts them back to zero", "[core][allocator]") {
  memkv::MallocAllocator p;
  CHECK(p.bytes_in_use() == 0);
  allocate_everything_then_free(p);
}

TEST_CASE("core: copying a policy gives a new empty pool; moving hands it over", "[core][allocator]") {
  SECTION("SlabAllocator") { copy_is_a_new_empty_pool<memkv::SlabAllocator>(); }
  SECTION("MallocAllocator") { copy_is_a_new_empty_pool<memkv::MallocAllocator>(); }
}

// Built into memkv_mimalloc_tests only (see tests/CMakeLists.txt).
#if MEMKV_HAS_MIMALLOC && defined(MEMKV_TEST_MIMALLOC)
TEST_CASE("core: MimallocAllocator gives distinct 8-aligned blocks and counts them back to zero", "[core][allocator][mimalloc]") {
  memkv::MimallocAllocator p;
  CHECK(p.bytes_in_use() == 0);
  allocate_everything_then_free(p);
  copy_is_a_new_empty_pool<memkv::MimallocAllocator>();
}
#endif

TEST_CASE("core: SlabAllocator reuses a freed slot of the same size class first", "[core][allocator]") {
  memkv::SlabAllocator p;
  void* keep = p.allocate(40);  // keeps the class (33..40 bytes) alive
  void* a = p.allocate(40);
  const std::size_t used = p.bytes_in_use();
  p.deallocate(a, 40);
  CHECK(p.bytes_in_use() == used);  // free slots still count: the chunk is held
  void* b = p.allocate(33);         // same class
  CHECK(b == a);
  void* c = p.allocate(41);  // the next class: not the freed slot
  CHECK(c != a);
  CHECK(c != keep);
  p.deallocate(b, 33);
  p.deallocate(c, 41);
  p.deallocate(keep, 40);
  CHECK(p.bytes_in_use() == 0);
}

TEST_CASE("core: SlabAllocator gives a class's chunks back when its last block is freed", "[core][allocator]") {
  memkv::SlabAllocator p;
  void* a = p.allocate(24);
  CHECK(p.chunk_count() == 1);
  CHECK(p.bytes_in_use() >= memkv::SlabAllocator::kFirstChunk);
  void* b = p.allocate(100);
  CHECK(p.chunk_count() == 2);
  p.deallocate(a, 24);
  CHECK(p.chunk_count() == 1);
  p.deallocate(b, 100);
  CHECK(p.chunk_count() == 0);
  CHECK(p.bytes_in_use() == 0);
}

TEST_CASE("core: SlabAllocator packs small blocks without a per-block header", "[core][allocator]") {
  memkv::SlabAllocator p;
  const std::size_t n = 200000;
  std::vector<void*> blocks;
  blocks.reserve(n);
  for (std::size_t i = 0; i < n; ++i) blocks.push_back(p.allocate(16));
  // At most the last chunk (64 KiB) is unused slack, plus chunk headers.
  CHECK(p.bytes_in_use() >= n * 16);
  CHECK(p.bytes_in_use() <= n * 16 + memkv::SlabAllocator::kMaxChunk + 64 * p.chunk_count());
  // chunks double in size up to kMaxChunk, then stay there
  CHECK(p.chunk_count() < 8 + n * 16 / (memkv::SlabAllocator::kMaxChunk / 2));
  for (void* b : blocks) p.deallocate(b, 16);
  CHECK(p.bytes_in_use() == 0);
}

TEST_CASE("core: SlabAllocator sends blocks over 256 bytes to malloc, counted like MallocAllocator", "[core][allocator]") {
  memkv::SlabAllocator slab;
  memkv::MallocAllocator plain;
  void* a = slab.allocate(257);
  void* b = plain.allocate(257);
  CHECK(slab.chunk_count() == 0);
  CHECK(slab.bytes_in_use() == plain.bytes_in_use());
  CHECK(slab.bytes_in_use() >= 257 + 8);
  CHECK(slab.bytes_in_use() <= 257 + 128);
  slab.deallocate(a, 257);
  plain.deallocate(b, 257);
  CHECK(slab.bytes_in_use() == 0);
  CHECK(plain.bytes_in_use() == 0);
}

// ---------------------------------------------------------------------------------------------
// Key helpers
// ---------------------------------------------------------------------------------------------

namespace {
std::size_t naive_common_prefix(std::string_view a, std::string_view b) {
  std::size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  return i;
}
int naive_compare(std::string_view a, std::string_view b) {
  for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]), y = static_cast<unsigned char>(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return a.size() == b.size() ? 0 : a.size() < b.size() ? -1 : 1;
}
int sign(int x) { return (x > 0) - (x < 0); }
}  // namespace

TEST_CASE("core: common_prefix_length matches a byte loop at every position", "[core][key]") {
  using memkv::detail::common_prefix_length;
  CHECK(common_prefix_length("", "") == 0);
  CHECK(common_prefix_length("", "abc") == 0);
  CHECK(common_prefix_length("abc", "abc") == 3);
  CHECK(common_prefix_length("abc", "abcd") == 3);
  // A difference at every position of keys spanning several 8-byte words, with every bit.
  const std::string base = "0123456789abcdef\x80\xff\x00xyz0123456789"s;
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string other = base;
      other[i] = static_cast<char>(other[i] ^ (1 << bit));
      INFO("position " << i << " bit " << bit);
      CHECK(common_prefix_length(base, other) == i);
      CHECK(common_prefix_length(other, base) == i);
      CHECK(common_prefix_length(base.substr(0, i), other) == i);
    }
    CHECK(common_prefix_length(base, base.substr(0, i)) == i);
  }
  memkv_test::Rng rng(3);
  for (int t = 0; t < 20000; ++t) {
    std::string a, b;
    const std::size_t shared = rng.below(40);
    for (std::size_t i = 0; i < shared; ++i) a += rng.byte();
    b = a;
    for (std::size_t i = rng.below(10); i > 0; --i) a += rng.byte();
    for (std::size_t i = rng.below(10); i > 0; --i) b += rng.byte();
    // Unaligned views too.
    const std::size_t off = rng.below(2);
    std::string_view va = std::string_view(a).substr(std::min(off, a.size()));
    std::string_view vb = std::string_view(b).substr(std::min(off, b.size()));
    REQUIRE(common_prefix_length(va, vb) == naive_common_prefix(va, vb));
  }
}

TEST_CASE("core: compare_keys orders bytes unsigned and prefixes first", "[core][key]") {
  using memkv::detail::compare_keys;
  CHECK(compare_keys("", "") == 0);
  CHECK(compare_keys("", "\0"s) < 0);
  CHECK(compare_keys("a", "a\0"s) < 0);
  CHECK(compare_keys("\x7f", "\x80") < 0);
  CHECK(compare_keys("\xff", "\x01") > 0);
  CHECK(compare_keys("ab\xff", "ab\x00z"s) > 0);
  for (int x = 0; x < 256; ++x) {
    for (int y = 0; y < 256; y += 17) {
      const std::string a(1, static_cast<char>(x)), b(1, static_cast<char>(y));
      REQUIRE(sign(compare_keys(a, b)) == sign(naive_compare(a, b)));
      REQUIRE(sign(compare_keys(a + "z", b)) == sign(naive_compare(a + "z", b)));
    }
  }
}

TEST_CASE("core: prefix_successor bounds exactly the keys starting with a prefix", "[core][key]") {
  using memkv::detail::prefix_successor;
  CHECK_FALSE(prefix_successor("").has_value());
  CHECK_FALSE(prefix_successor("\xff").has_value());
  CHECK_FALSE(prefix_successor("\xff\xff\xff").has_value());
  CHECK(prefix_successor("a") == "b");
  CHECK(prefix_successor("a\xff") == "b");
  CHECK(prefix_successor("a\xff\xff") == "b");
  CHECK(prefix_successor("\x7f") == "\x80");
  CHECK(prefix_successor("ab\0"s) == "ab\x01");
  CHECK(prefix_successor("\xfe\xff") == "\xff");
  // Property: k starts with p  <=>  p <= k < successor(p).
  const auto keys = memkv_test::nasty_keys(11, 3000);
  memkv_test::Rng rng(12);
  for (int t = 0; t < 300; ++t) {
    std::string p = keys[rng.below(keys.size())];
    p.resize(rng.below(p.size() + 1));
    const auto succ = prefix_successor(p);
    for (std::size_t i = 0; i < keys.size(); i += 7) {
      const std::string_view k = keys[i];
      const bool in = k >= std::string_view(p) && (!succ || k < std::string_view(*succ));
      REQUIRE(in == memkv::detail::starts_with(k, p));
    }
  }
}

TEST_CASE("core: starts_with", "[core][key]") {
  using memkv::detail::starts_with;
  CHECK(starts_with("", ""));
  CHECK(starts_with("abc", ""));
  CHECK(starts_with("abc", "ab"));
  CHECK(starts_with("abc", "abc"));
  CHECK_FALSE(starts_with("abc", "abcd"));
  CHECK_FALSE(starts_with("ab", "b"));
  CHECK(starts_with("a\0b"s, "a\0"s));
  CHECK_FALSE(starts_with("a", "a\0"s));
}

// ---------------------------------------------------------------------------------------------
// Node16 search: SIMD against scalar against a naive loop, for all 256 byte values
// ---------------------------------------------------------------------------------------------

namespace {
void check_node16(const std::vector<std::uint8_t>& sorted, std::uint8_t filler, std::size_t offset) {
  // Unused slots hold filler (possibly equal to the probe) and must be ignored.
  alignas(32) std::uint8_t buffer[48];
  std::memset(buffer, filler, sizeof buffer);
  std::uint8_t* keys = buffer + offset;
  std::copy(sorted.begin(), sorted.end(), keys);
  const auto n = static_cast<unsigned>(sorted.size());
  for (unsigned b = 0; b < 256; ++b) {
    const auto byte = static_cast<std::uint8_t>(b);
    int want_find = -1;
    unsigned want_lb = 0;
    for (unsigned i = 0; i < n; ++i) {
      if (sorted[i] == byte && want_find < 0) want_find = static_cast<int>(i);
      if (sorted[i] < byte) ++want_lb;
    }
    INFO("n " << n << ", byte " << b << ", filler " << int(filler) << ", offset " << offset);
    REQUIRE(memkv::detail::node16_find_scalar(keys, n, byte) == want_find);
    REQUIRE(memkv::detail::node16_find(keys, n, byte) == want_find);
    REQUIRE(memkv::detail::node16_lower_bound_scalar(keys, n, byte) == want_lb);
    REQUIRE(memkv::detail::node16_lower_bound(keys, n, byte) == want_lb);
  }
}
}  // namespace

TEST_CASE("core: Node16 search agrees with the scalar search for all 256 byte values", "[core][simd]") {
  std::vector<std::vector<std::uint8_t>> sets;
  sets.push_back({});
  for (unsigned n = 1; n <= 16; ++n) {
    std::vector<std::uint8_t> low, high, spread, around;
    for (unsigned i = 0; i < n; ++i) {
      low.push_back(static_cast<std::uint8_t>(i));
      high.push_back(static_cast<std::uint8_t>(240 + i));
      spread.push_back(static_cast<std::uint8_t>(n == 1 ? 0x80 : i * 255 / (n - 1)));
      around.push_back(static_cast<std::uint8_t>(0x80 - n / 2 + i));  // straddles 0x7f/0x80
    }
    sets.push_back(low);
    sets.push_back(high);
    sets.push_back(spread);
    sets.push_back(around);
  }
  memkv_test::Rng rng(16);
  for (int t = 0; t < 200; ++t) {
    std::set<std::uint8_t> s;
    const std::size_t n = 1 + rng.below(16);
    while (s.size() < n) s.insert(static_cast<std::uint8_t>(rng.next()));
    sets.emplace_back(s.begin(), s.end());
  }
  for (const auto& set : sets) {
    for (std::uint8_t filler : {std::uint8_t{0}, std::uint8_t{0x80}, std::uint8_t{0xff}}) {
      check_node16(set, filler, 0);
      check_node16(set, filler, 1);  // unaligned
    }
  }
}

TEST_CASE("core: bytes_below_at_bit reads 16 bytes at any bit and compares them unsigned", "[core][simd]") {
  // Against a naive bit-by-bit reading, for every shift, every probe byte and bytes around
  // 0x7f/0x80 (where a signed compare would go wrong).
  memkv_test::Rng rng(17);
  for (int t = 0; t < 60; ++t) {
    std::byte buf[17 + 3];
    for (auto& b : buf) b = static_cast<std::byte>(t < 20 ? 0x70 + rng.below(32) : rng.next());
    for (unsigned off = 0; off < 3; ++off) {
      const std::byte* p = buf + off;
      for (unsigned shift = 0; shift < 8; ++shift) {
        std::uint8_t source[16] = {};
        for (unsigned i = 0; i < 16; ++i)
          for (unsigned bit = 0; bit < 8; ++bit) {
            const unsigned at = 8 * i + shift + bit;
            if ((std::to_integer<unsigned>(p[at / 8]) >> (at % 8)) & 1u)
              source[i] = static_cast<std::uint8_t>(source[i] | (1u << bit));
          }
        for (unsigned b = 0; b < 256; ++b) {
          unsigned want = 0;
          for (unsigned i = 0; i < 16; ++i)
            if (source[i] < b) want |= 1u << i;
          INFO("trial " << t << ", offset " << off << ", shift " << shift << ", byte " << b);
          REQUIRE(memkv::detail::bytes_below_at_bit_scalar(p, shift, static_cast<std::uint8_t>(b)) == want);
          REQUIRE(memkv::detail::bytes_below_at_bit(p, shift, static_cast<std::uint8_t>(b)) == want);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The harness catches what it is meant to catch
// ---------------------------------------------------------------------------------------------

namespace {

enum class Bug { none, signed_bytes, truncate_at_nul, leaks_memory, no_empty_key,
                 batch_assigns,      // insert_many overwrites keys it holds
                 batch_miscounts };  // insert_many counts a repeated key twice

// A mutable map over std::map with the FastArt interface, optionally with a planted bug.
template <class V, Bug bug = Bug::none>
class ModelMap {
  struct Less {
    bool operator()(const std::string& a, const std::string& b) const {
      if constexpr (bug == Bug::signed_bytes) {
        const std::size_t n = std::min(a.size(), b.size());
        for (std::size_t i = 0; i < n; ++i)
          if (a[i] != b[i]) return static_cast<signed char>(a[i]) < static_cast<signed char>(b[i]);
        return a.size() < b.size();
      } else {
        return a < b;
      }
    }
  };
  using Map = std::map<std::string, V, Less>;

public:
  using mapped_type = V;
  class const_iterator {
  public:
    using value_type = memkv::basic_entry<const V&>;
    using difference_type = std::ptrdiff_t;
    using iterator_concept = std::forward_iterator_tag;
    const_iterator() = default;
    explicit const_iterator(typename Map::const_iterator it) : it_(it) {}
    value_type operator*() const { return {it_->first, it_->second}; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++it_;
      return old;
    }
    bool operator==(const const_iterator&) const = default;

  private:
    typename Map::const_iterator it_;
  };
  using range_type = std::ranges::subrange<const_iterator>;

  bool insert(std::string_view k, V v) { return note(m_.try_emplace(norm(k), std::move(v)).second); }
  bool insert_or_assign(std::string_view k, V v) {
    return note(m_.insert_or_assign(norm(k), std::move(v)).second);
  }
  std::size_t insert_many(std::span<const std::string_view> ks, std::span<const V> vs) {
    return many(ks, vs, bug == Bug::batch_assigns);
  }
  std::size_t insert_or_assign_many(std::span<const std::string_view> ks, std::span<const V> vs) {
    return many(ks, vs, true);
  }
  V* find(std::string_view k) noexcept {
    auto it = m_.find(norm(k));
    return it == m_.end() ? nullptr : &it->second;
  }
  const V* find(std::string_view k) const noexcept { return const_cast<ModelMap*>(this)->find(k); }
  std::optional<V> get(std::string_view k) const {
    if (const V* p = find(k)) return *p;
    return std::nullopt;
  }
  bool contains(std::string_view k) const noexcept { return find(k) != nullptr; }
  bool erase(std::string_view k) { return m_.erase(norm(k)) != 0; }
  std::size_t size() const noexcept { return m_.size(); }
  bool empty() const noexcept { return m_.empty(); }
  void clear() noexcept { m_.clear(); }
  std::size_t memory_usage() const noexcept { return sizeof(*this) + 8 * high_water_; }
  const_iterator begin() const { return const_iterator(m_.begin()); }
  const_iterator end() const { return const_iterator(m_.end()); }
  const_iterator lower_bound(std::string_view k) const {
    return const_iterator(m_.lower_bound(norm(k)));
  }
  range_type prefix(std::string_view p) const {
    auto it = m_.lower_bound(norm(p));
    auto last = std::find_if(it, m_.end(), [&](const auto& kv) {
      return !memkv::detail::starts_with(kv.first, p);
    });
    return {const_iterator(it), const_iterator(last)};
  }
  range_type range(std::string_view lo, std::string_view hi) const {
    if (!Less()(std::string(lo), std::string(hi))) return {end(), end()};
    return {lower_bound(lo), lower_bound(hi)};
  }
  void check_invariants() const {}
  void swap(ModelMap& o) noexcept {
    m_.swap(o.m_);
    std::swap(high_water_, o.high_water_);
  }
  friend void swap(ModelMap& a, ModelMap& b) noexcept { a.swap(b); }

private:
  static std::string norm(std::string_view k) {
    if constexpr (bug == Bug::truncate_at_nul) return std::string(k.substr(0, k.find('\0')));
    return std::string(k);
  }
  std::size_t many(std::span<const std::string_view> ks, std::span<const V> vs, bool assign) {
    if (ks.size() != vs.size()) memkv::detail::throw_error("insert_many: spans differ");
    std::size_t n = 0;
    for (std::size_t i = 0; i < ks.size(); ++i) {
      const bool repeat = bug == Bug::batch_miscounts && std::find(ks.begin(), ks.begin() + i, ks[i]) != ks.begin() + i;
      n += (assign ? insert_or_assign(ks[i], vs[i]) : insert(ks[i], vs[i])) || repeat;
    }
    return n;
  }
  bool note(bool inserted) {
    if (bug == Bug::no_empty_key && m_.count(std::string()) != 0) m_.erase(std::string());
    if (bug == Bug::leaks_memory) high_water_ = std::max(high_water_, m_.size());
    return inserted;
  }
  Map m_;
  std::size_t high_water_ = 0;
};

// A static structure over a sorted vector, optionally with a planted bug.
enum class StaticBug { none, inclusive_range, lower_bound_skips_equal, prefix_misses_last };
template <StaticBug bug = StaticBug::none>
class ModelStatic {
  using Vec = std::vector<std::pair<std::string, std::uint64_t>>;

public:
  explicit ModelStatic(const std::map<std::string, std::uint64_t>& m) : v_(m.begin(), m.end()) {}
  class const_iterator {
  public:
    using value_type = memkv::basic_entry<std::uint64_t>;
    using difference_type = std::ptrdiff_t;
    const_iterator() = default;
    explicit const_iterator(typename Vec::const_iterator it) : it_(it) {}
    value_type operator*() const { return {it_->first, it_->second}; }
    const_iterator& operator++() {
      ++it_;
      return *this;
    }
    const_iterator operator++(int) {
      auto old = *this;
      ++it_;
      return old;
    }
    bool operator==(const const_iterator&) const = default;

  private:
    typename Vec::const_iterator it_;
  };
  std::size_t size() const { return v_.size(); }
  std::optional<std::uint64_t> get(std::string_view k) const {
    auto it = raw_lower_bound(k);
    if (it != v_.end() && it->first == k) return it->second;
    return std::nullopt;
  }
  bool contains(std::string_view k) const { return get(k).has_value(); }
  const_iterator begin() const { return const_iterator(v_.begin()); }
  const_iterator end() const { return const_iterator(v_.end()); }
  const_iterator lower_bound(std::string_view k) const {
    auto it = raw_lower_bound(k);
    if (bug == StaticBug::lower_bound_skips_equal && it != v_.end() && it->first == k &&
        !k.empty() && k.back() == '\xff') {
      ++it;
    }
    return const_iterator(it);
  }
  std::ranges::subrange<const_iterator> prefix(std::string_view p) const {
    auto it = raw_lower_bound(p);
    auto last = std::find_if(it, v_.end(), [&](const auto& kv) {
      return !memkv::detail::starts_with(kv.first, p);
    });
    if (bug == StaticBug::prefix_misses_last && last != it && p.size() == 1) --last;
    return {const_iterator(it), const_iterator(last)};
  }
  std::ranges::subrange<const_iterator> range(std::string_view lo, std::string_view hi) const {
    if (lo >= hi) return {end(), end()};
    auto last = raw_lower_bound(hi);
    if (bug == StaticBug::inclusive_range && last != v_.end() && last->first == hi) ++last;
    return {const_iterator(raw_lower_bound(lo)), const_iterator(last)};
  }

private:
  typename Vec::const_iterator raw_lower_bound(std::string_view k) const {
    return std::lower_bound(v_.begin(), v_.end(), k,
                            [](const auto& kv, std::string_view x) { return kv.first < x; });
  }
  Vec v_;
};

memkv_test::DiffOptions small_run(std::uint64_t seed) {
  memkv_test::DiffOptions o;
  o.seed = seed;
  o.ops = 60000;
  o.copy_every = 20000;
  o.clear_every = 50000;
  o.full_compare_every = 10000;
  o.long_keys = 2;
  return o;
}

}  // namespace

TEST_CASE("harness: a correct model map passes the differential run", "[harness]") {
  memkv_test::DiffStats s;
  REQUIRE_NOTHROW(s = memkv_test::run_differential<ModelMap<std::uint64_t>>(small_run(1)));
  INFO(memkv_test::describe(s));
  CHECK(s.inserted > 1000);
  CHECK(s.erased > 1000);
  CHECK(s.erase_misses > 100);
  CHECK(s.hits > 1000);
  CHECK(s.misses > 1000);
  CHECK(s.scans > 1000);
  CHECK(s.times_empty > 0);
  CHECK(s.insert_batches > 50);
  REQUIRE_NOTHROW(memkv_test::run_differential<ModelMap<std::string>>(small_run(2)));
}

TEST_CASE("harness: the differential run catches planted bugs", "[harness]") {
  using memkv_test::failure;
  using memkv_test::run_differential;
  using SignedBytes = ModelMap<std::uint64_t, Bug::signed_bytes>;
  using TruncatesAtNul = ModelMap<std::uint64_t, Bug::truncate_at_nul>;
  using LeaksMemory = ModelMap<std::uint64_t, Bug::leaks_memory>;
  using LosesEmptyKey = ModelMap<std::uint64_t, Bug::no_empty_key>;
  CHECK_THROWS_AS(run_differential<SignedBytes>(small_run(3)), failure);
  CHECK_THROWS_AS(run_differential<TruncatesAtNul>(small_run(4)), failure);
  CHECK_THROWS_AS(run_differential<LeaksMemory>(small_run(5)), failure);
  CHECK_THROWS_AS(run_differential<LosesEmptyKey>(small_run(6)), failure);
  using BatchAssigns = ModelMap<std::uint64_t, Bug::batch_assigns>;
  using BatchMiscounts = ModelMap<std::uint64_t, Bug::batch_miscounts>;
  CHECK_THROWS_WITH(run_differential<BatchAssigns>(small_run(7)), Catch::Contains("batch insert"));
  CHECK_THROWS_WITH(run_differential<BatchMiscounts>(small_run(8)), Catch::Contains("batch insert returned"));
  // The message names the seed and the operation, for replay.
  CHECK_THROWS_WITH(run_differential<SignedBytes>(small_run(3)),
                    Catch::Contains("seed 3") && Catch::Contains(", op "));
}

TEST_CASE("harness: nasty_keys gives distinct keys including the special ones", "[harness]") {
  const auto keys = memkv_test::nasty_keys(1, 5000, 2);
  CHECK(keys.size() == 5000);
  const std::set<std::string> set(keys.begin(), keys.end());
  CHECK(set.size() == keys.size());
  CHECK(set.count("") == 1);
  for (int b = 0; b < 256; ++b) CHECK(set.count(std::string(1, static_cast<char>(b))) == 1);
  CHECK(set.count(std::string(10, '\0')) == 1);
  CHECK(set.count(std::string(10, '\xff')) == 1);
  CHECK(std::count_if(keys.begin(), keys.end(), [](const std::string& k) { return k.size() > 65536; }) == 2);
  CHECK(memkv_test::nasty_keys(1, 5000, 2) == keys);  // deterministic
  CHECK(memkv_test::nasty_keys(2, 100).size() == 100);
  const auto m = memkv_test::nasty_map<std::uint64_t>(1, 3000);
  CHECK(m.size() == 3000);
}

TEST_CASE("harness: check_static_against passes a correct structure and catches planted bugs", "[harness]") {
  const auto ref = memkv_test::nasty_map<std::uint64_t>(7, 4000, 2);
  REQUIRE_NOTHROW(memkv_test::check_static_against(ModelStatic<>(ref), ref));
  const std::map<std::string, std::uint64_t> none;
  REQUIRE_NOTHROW(memkv_test::check_static_against(ModelStatic<>(none), none));
  const std::map<std::string, std::uint64_t> one{{"", 1}};
  REQUIRE_NOTHROW(memkv_test::check_static_against(ModelStatic<>(one), one));
  using memkv_test::failure;
  CHECK_THROWS_AS(memkv_test::check_static_against(ModelStatic<StaticBug::inclusive_range>(ref), ref), failure);
  CHECK_THROWS_AS(memkv_test::check_static_against(ModelStatic<StaticBug::lower_bound_skips_equal>(ref), ref), failure);
  CHECK_THROWS_AS(memkv_test::check_static_against(ModelStatic<StaticBug::prefix_misses_last>(ref), ref), failure);
  // Against a reference that differs by one key.
  auto other = ref;
  other.erase(std::next(other.begin(), 100));
  CHECK_THROWS_AS(memkv_test::check_static_against(ModelStatic<>(ref), other), failure);
}
