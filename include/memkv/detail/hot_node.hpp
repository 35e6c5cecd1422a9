// memkv/detail/hot_node.hpp - the compound node of HotArt (memkv/hot_art.hpp): bit strings,
// partial-key extraction, SIMD partial-key search, and the decoded form that insert, erase and
// split work on. Read hot_art.hpp's header comment first: it draws the layout.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

#include "../core/key.hpp"
#include "../core/simd.hpp"

// pext: the BMI2 instruction when the build targets it (-mbmi2, -march=native, -march=haswell
// and later); otherwise, with GCC or Clang on x86-64, chosen at run time (a call to a function
// compiled for BMI2 when the CPU has it, checked once per process), and a portable loop
// elsewhere. Builds with default flags (what a package manager gives) thus still use the
// instruction. Measured (scratch program: ArenaHotArt of npm-urls, 1.69M shuffled lookups, g++ 12
// -O2, medians of 5 passes, the three binaries alternating twice): 2292 and 2535 ns a lookup
// with the portable loop and std::popcount (a libgcc call without -mpopcnt), 1799 and 2112 with
// this dispatch and popcount16, 1456 and 1612 with -march=native. Define
// MEMKV_NO_RUNTIME_DISPATCH to keep the portable loop.
#if defined(__BMI2__)
#include <immintrin.h>
#define MEMKV_HOT_BMI2 1
#define MEMKV_HOT_BMI2_DISPATCH 0
#elif defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__)) && \
    !defined(MEMKV_NO_RUNTIME_DISPATCH)  // (_pext_u64 is x86-64 only)
#include <immintrin.h>
#define MEMKV_HOT_BMI2 0
#define MEMKV_HOT_BMI2_DISPATCH 1
#else
#define MEMKV_HOT_BMI2 0
#define MEMKV_HOT_BMI2_DISPATCH 0
#endif

namespace memkv::detail::hot {

// ---------------------------------------------------------------------------------------------
// The virtual bit string of a key
// ---------------------------------------------------------------------------------------------
// Byte i of a key becomes the 9-bit unit 0x100 | key[i]; every unit past the key's end is 0.
// Bit position p is bit (8 - p % 9) of unit p / 9: first the "present" bit, then the byte MSB
// first. A key that ends sorts before its extensions (its present bit is 0 where theirs is 1),
// so comparing these strings is exactly memcmp order, and two distinct keys always differ at
// some bit, with no terminator byte reserved.
inline constexpr unsigned kUnitBits = 9;
inline constexpr unsigned kMaxFanout = 32;
inline constexpr unsigned kWindowUnits = 7;  // 7 units x 9 bits fill one 64-bit pext word

inline unsigned unit_value(std::string_view key, std::uint64_t unit) noexcept {
  return unit < key.size() ? 0x100u | static_cast<unsigned char>(key[unit]) : 0u;
}
inline unsigned key_bit(std::string_view key, std::uint64_t pos) noexcept {
  return (unit_value(key, pos / kUnitBits) >> (8 - pos % kUnitBits)) & 1u;
}
// The first bit position where key a and another key differ, given their common prefix length
// l and the other key's unit l (b_unit: unit_value of it, 0 where it ends). They must differ.
inline std::uint64_t mismatch_bit_at(std::string_view a, std::size_t l, unsigned b_unit) noexcept {
  const unsigned x = unit_value(a, l) ^ b_unit;
  assert(x != 0);
  return std::uint64_t{l} * kUnitBits + (8u - static_cast<unsigned>(std::bit_width(x) - 1));
}
// The first bit position where two distinct keys differ.
inline std::uint64_t mismatch_bit(std::string_view a, std::string_view b) noexcept {
  const std::size_t l = common_prefix_length(a, b);
  return mismatch_bit_at(a, l, unit_value(b, l));
}

// ---------------------------------------------------------------------------------------------
// Bit extraction: pext/pdep with BMI2, portable loops otherwise
// ---------------------------------------------------------------------------------------------
inline std::uint64_t pext_portable(std::uint64_t x, std::uint64_t mask) noexcept {
  std::uint64_t r = 0;
  for (unsigned k = 0; mask != 0; ++k) {
    const std::uint64_t low = mask & (~mask + 1);
    if (x & low) r |= std::uint64_t{1} << k;
    mask ^= low;
  }
  return r;
}
#if MEMKV_HOT_BMI2_DISPATCH
__attribute__((target("bmi2"))) inline std::uint64_t pext_bmi2(std::uint64_t x,
                                                               std::uint64_t mask) noexcept {
  return _pext_u64(x, mask);
}
inline bool cpu_has_bmi2() noexcept {
  static const bool has = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("bmi2") != 0;
  }();
  return has;
}
#endif
inline std::uint64_t pext64(std::uint64_t x, std::uint64_t mask) noexcept {
#if MEMKV_HOT_BMI2
  return _pext_u64(x, mask);
#elif MEMKV_HOT_BMI2_DISPATCH
  return cpu_has_bmi2() ? pext_bmi2(x, mask) : pext_portable(x, mask);
#else
  return pext_portable(x, mask);
#endif
}

// Set bits of a unit mask (9 bits): popcnt when the build targets it, else a few shifts and adds
// (std::popcount without -mpopcnt is a call into libgcc).
inline unsigned popcount16(unsigned x) noexcept {
#if defined(__POPCNT__)
  return static_cast<unsigned>(std::popcount(x));
#else
  x = x - ((x >> 1) & 0x5555u);
  x = (x & 0x3333u) + ((x >> 2) & 0x3333u);
  x = (x + (x >> 4)) & 0x0f0fu;
  return (x + (x >> 8)) & 0x1fu;
#endif
}

// Unit r of a window sits at bits [9*(6-r), 9*(6-r)+9) of the window word: earlier units higher.
inline constexpr std::uint64_t kSpreadMask = [] {
  std::uint64_t m = 0;
  for (unsigned s = 0; s < kWindowUnits; ++s) m |= std::uint64_t{0xff} << (kUnitBits * s);
  return m;
}();
inline constexpr std::uint64_t presence_bits(unsigned units) noexcept {
  std::uint64_t m = 0;
  for (unsigned r = 0; r < units; ++r) m |= std::uint64_t{1} << (kUnitBits * (6 - r) + 8);
  return m;
}

// Bytes [base, base+7) of key, big-endian in the low 56 bits (missing bytes read as 0).
inline std::uint64_t load_window_bytes(std::string_view key, std::size_t base,
                                       unsigned n) noexcept {
  std::uint64_t x = 0;
  if (n == kWindowUnits && key.size() - base >= 8) {
    std::memcpy(&x, key.data() + base, 8);
    if constexpr (std::endian::native == std::endian::little) x = __builtin_bswap64(x);
    return x >> 8;
  }
  for (unsigned r = 0; r < n; ++r)
    x |= std::uint64_t{static_cast<unsigned char>(key[base + r])} << (8 * (6 - r));
  return x;
}

// Spreads 7 bytes into the low 8 bits of 7 9-bit slots (the portable twin of pdep).
inline std::uint64_t spread_portable(std::uint64_t x) noexcept {
  std::uint64_t w = 0;
  for (unsigned s = 0; s < kWindowUnits; ++s) w |= ((x >> (8 * s)) & 0xff) << (kUnitBits * s);
  return w;
}

// Units [base, base+7) of key's bit string as one word (see kSpreadMask).
inline std::uint64_t window_word(std::string_view key, std::uint64_t base) noexcept {
  if (base >= key.size()) return 0;
  const std::size_t avail = key.size() - base;
  const unsigned n = avail < kWindowUnits ? static_cast<unsigned>(avail) : kWindowUnits;
  const std::uint64_t x = load_window_bytes(key, base, n);
#if MEMKV_HOT_BMI2
  const std::uint64_t spread = _pdep_u64(x, kSpreadMask);
#else
  const std::uint64_t spread = spread_portable(x);
#endif
  return spread | presence_bits(n);
}

// ---------------------------------------------------------------------------------------------
// Node layout (drawn in hot_art.hpp)
// ---------------------------------------------------------------------------------------------
struct NodeHeader {
  std::uint8_t layout;  // bits 0-1: partial-key width (0: 8, 1: 16, 2: 32 bits); bit 2: multi-mask
  std::uint8_t count;   // entries, 2..32
  std::uint8_t cap;     // entry slots allocated, count..32
  std::uint8_t height;  // >= 1 + the children's heights (leaves count 0); saturates at 255
  std::uint32_t base;   // the first unit holding a position (single-mask: of the 7-unit window)
};
static_assert(sizeof(NodeHeader) == 8);

struct MultiHeader {    // follows NodeHeader in a multi-mask node
  std::uint8_t units;   // units holding discriminative bits, 1..31, ascending
  std::uint8_t ucap;    // unit slots allocated
  std::uint16_t pad;
  // uint16_t unit_delta[ucap] (unit - base), or with kWideUnits uint32_t unit[ucap];
  // uint16_t unit_mask[ucap]; padding to 8
};

inline constexpr std::uint8_t kMultiMask = 4;
inline constexpr std::uint8_t kWideUnits = 8;  // multi-mask units span more than 65535 bytes

// Child references: a node's child slots hold the tree's Ref type (HotArt: a 64-bit tagged
// pointer; ArenaHotArt: a 32-bit arena reference), so every function that touches the slots is a
// template on it. A Ref is trivially copyable, null when value-initialised, and sizeof(Ref) is 4
// or 8 (the slots follow the 8-aligned partial keys, so either is aligned).
template <class Ref>
inline constexpr bool valid_ref =
    std::is_trivially_copyable_v<Ref> && (sizeof(Ref) == 4 || sizeof(Ref) == 8);

struct Shape {
  unsigned width_code;  // 0, 1, 2: 1 << width_code bytes per partial key
  bool multi;
  unsigned cap;
  unsigned ucap;        // multi only
  bool wide;            // multi only: 32-bit unit offsets
};

inline constexpr std::size_t align8(std::size_t n) noexcept { return (n + 7) & ~std::size_t{7}; }
inline constexpr std::size_t ext_bytes(bool multi, unsigned ucap, bool wide) noexcept {
  return multi ? align8(sizeof(MultiHeader) + (wide ? 6 : 4) * std::size_t{ucap}) : 8;
}
template <class Ref>
inline constexpr std::size_t shape_bytes(const Shape& s) noexcept {
  static_assert(valid_ref<Ref>);
  return sizeof(NodeHeader) + ext_bytes(s.multi, s.ucap, s.wide) +
         align8(std::size_t{s.cap} << s.width_code) + std::size_t{s.cap} * sizeof(Ref);
}

inline bool is_multi(const NodeHeader* h) noexcept { return (h->layout & kMultiMask) != 0; }
inline unsigned width_code(const NodeHeader* h) noexcept { return h->layout & 3u; }
inline const MultiHeader* multi_header(const NodeHeader* h) noexcept {
  return reinterpret_cast<const MultiHeader*>(h + 1);
}
inline bool wide_units(const NodeHeader* h) noexcept { return (h->layout & kWideUnits) != 0; }
inline const char* multi_offsets(const NodeHeader* h) noexcept {
  return reinterpret_cast<const char*>(h + 1) + sizeof(MultiHeader);
}
// Unit i of a multi-mask node.
inline std::uint64_t multi_unit(const NodeHeader* h, unsigned i) noexcept {
  if (wide_units(h)) return reinterpret_cast<const std::uint32_t*>(multi_offsets(h))[i];
  return std::uint64_t{h->base} + reinterpret_cast<const std::uint16_t*>(multi_offsets(h))[i];
}
inline const std::uint16_t* multi_masks(const NodeHeader* h) noexcept {
  return reinterpret_cast<const std::uint16_t*>(multi_offsets(h) +
                                                std::size_t{multi_header(h)->ucap} * (wide_units(h) ? 4 : 2));
}
inline std::uint64_t single_mask(const NodeHeader* h) noexcept {
  std::uint64_t m;
  std::memcpy(&m, h + 1, 8);
  return m;
}
inline Shape shape_of(const NodeHeader* h) noexcept {
  return {width_code(h), is_multi(h), h->cap, is_multi(h) ? multi_header(h)->ucap : 0u, wide_units(h)};
}
template <class Ref>
inline std::size_t node_bytes(const NodeHeader* h) noexcept { return shape_bytes<Ref>(shape_of(h)); }
// The partial keys follow the extraction data, so that a search reads one or two cache lines
// before the single child slot it needs.
inline const void* partial_keys(const NodeHeader* h) noexcept {
  const bool multi = is_multi(h);
  return reinterpret_cast<const char*>(h) + sizeof(NodeHeader) +
         ext_bytes(multi, multi ? multi_header(h)->ucap : 0u, wide_units(h));
}
template <class Ref>
inline Ref* children(NodeHeader* h) noexcept {
  return reinterpret_cast<Ref*>(const_cast<char*>(static_cast<const char*>(partial_keys(h))) +
                                align8(std::size_t{h->cap} << width_code(h)));
}
template <class Ref>
inline const Ref* children(const NodeHeader* h) noexcept {
  return children<Ref>(const_cast<NodeHeader*>(h));
}

inline std::uint32_t partial_key(const NodeHeader* h, unsigned j) noexcept {
  const void* p = partial_keys(h);
  switch (width_code(h)) {
    case 0: return static_cast<const std::uint8_t*>(p)[j];
    case 1: return static_cast<const std::uint16_t*>(p)[j];
    default: return static_cast<const std::uint32_t*>(p)[j];
  }
}

// The node's discriminative bit positions, ascending; returns their number k (1..31).
inline unsigned node_positions(const NodeHeader* h, std::uint64_t* out) noexcept {
  unsigned k = 0;
  if (!is_multi(h)) {
    std::uint64_t m = single_mask(h);
    while (m != 0) {
      const unsigned b = static_cast<unsigned>(std::bit_width(m) - 1);
      m &= ~(std::uint64_t{1} << b);
      const unsigned slot = b / kUnitBits;
      out[k++] = (std::uint64_t{h->base} + (6 - slot)) * kUnitBits + (8 - b % kUnitBits);
    }
    return k;
  }
  const unsigned units = multi_header(h)->units;
  const std::uint16_t* mask = multi_masks(h);
  for (unsigned r = 0; r < units; ++r)
    for (int b = 8; b >= 0; --b)
      if (mask[r] >> b & 1u) out[k++] = multi_unit(h, r) * kUnitBits + (8 - b);
  return k;
}
inline std::uint64_t min_position(const NodeHeader* h) noexcept {
  if (!is_multi(h)) {
    const unsigned b = static_cast<unsigned>(std::bit_width(single_mask(h)) - 1);
    return (std::uint64_t{h->base} + (6 - b / kUnitBits)) * kUnitBits + (8 - b % kUnitBits);
  }
  const unsigned b = static_cast<unsigned>(std::bit_width(unsigned{multi_masks(h)[0]}) - 1);
  return std::uint64_t{h->base} * kUnitBits + (8 - b);
}

// The dense partial key of `key` in node h: its bits at h's positions, the first one highest.
inline std::uint32_t extract(const NodeHeader* h, std::string_view key) noexcept {
  if (!is_multi(h)) return static_cast<std::uint32_t>(pext64(window_word(key, h->base), single_mask(h)));
  const unsigned units = multi_header(h)->units;
  const std::uint16_t* mask = multi_masks(h);
  std::uint32_t r = 0;
  if (!wide_units(h)) {
    const auto* delta = reinterpret_cast<const std::uint16_t*>(multi_offsets(h));
    const std::uint64_t base = h->base;
    if (base + delta[units - 1] < key.size()) {  // every unit inside the key: no bounds checks
      const char* at = key.data() + base;
      for (unsigned i = 0; i < units; ++i) {
        const unsigned v = 0x100u | static_cast<unsigned char>(at[delta[i]]);
        r = (r << popcount16(mask[i])) | static_cast<std::uint32_t>(pext64(v, mask[i]));
      }
      return r;
    }
  }
  for (unsigned i = 0; i < units; ++i) {
    const unsigned v = unit_value(key, multi_unit(h, i));
    r = (r << popcount16(mask[i])) | static_cast<std::uint32_t>(pext64(v, mask[i]));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Partial-key search: the last entry j with (pk[j] & dense) == pk[j]
// ---------------------------------------------------------------------------------------------
// Entry 0's partial key is 0, so some entry always matches. Sparse partial keys have a 1 only
// where their path goes right; the entry the key's path reaches is the highest-indexed match.
template <class T>
unsigned match_scalar(const T* pk, unsigned n, T dense) noexcept {
  for (unsigned j = n; j-- > 1;)
    if ((pk[j] & dense) == pk[j]) return j;
  return 0;
}

#if MEMKV_SIMD_SSE2
template <class T>
unsigned lane_mask(__m128i eq) noexcept {
  if constexpr (sizeof(T) == 1) {
    return static_cast<unsigned>(_mm_movemask_epi8(eq));
  } else if constexpr (sizeof(T) == 2) {
    return static_cast<unsigned>(_mm_movemask_epi8(_mm_packs_epi16(eq, _mm_setzero_si128()))) & 0xffu;
  } else {
    return static_cast<unsigned>(_mm_movemask_ps(_mm_castsi128_ps(eq)));
  }
}

// Blocks of 16 bytes are read backwards from the end of the partial keys; the last block may
// start before them, inside the same node (the header and the extraction data, >= 16 bytes,
// precede them), and those lanes are dropped. So no read leaves the node's allocation.
template <class T>
unsigned match_simd(const T* pk, unsigned n, T dense) noexcept {
  using Batch = xsimd::batch<T, xsimd::sse2>;
  constexpr int kLanes = 16 / sizeof(T);
  const Batch d(dense);
  std::uint32_t bits = 0;
  for (int first = static_cast<int>(n) - kLanes;; first -= kLanes) {
    const auto* at = reinterpret_cast<const T*>(reinterpret_cast<const char*>(pk) +
                                                static_cast<std::ptrdiff_t>(first) * static_cast<std::ptrdiff_t>(sizeof(T)));
    const Batch v = Batch::load_unaligned(at);
    const unsigned m = lane_mask<T>(static_cast<__m128i>((v & d) == v));
    bits |= first >= 0 ? m << first : m >> -first;
    if (first <= 0) break;
  }
  return static_cast<unsigned>(std::bit_width(bits) - 1);
}
#endif

template <class T>
unsigned match_keys(const T* pk, unsigned n, T dense) noexcept {
#if MEMKV_SIMD_SSE2
  return match_simd(pk, n, dense);
#else
  return match_scalar(pk, n, dense);
#endif
}

inline unsigned match(const NodeHeader* h, std::uint32_t dense) noexcept {
  const void* p = partial_keys(h);
  switch (width_code(h)) {
    case 0: return match_keys(static_cast<const std::uint8_t*>(p), h->count, static_cast<std::uint8_t>(dense));
    case 1: return match_keys(static_cast<const std::uint16_t*>(p), h->count, static_cast<std::uint16_t>(dense));
    default: return match_keys(static_cast<const std::uint32_t*>(p), h->count, dense);
  }
}

// ---------------------------------------------------------------------------------------------
// The decoded node: what insert, erase and split rewrite before encoding a new node
// ---------------------------------------------------------------------------------------------
// Partial keys are left-aligned in 64 bits: bit 63 - t stands for pos[t]. Up to 33 entries
// (an overflowing node before its split) and 32 positions.
template <class Ref>
struct Decoded {
  unsigned n = 0, k = 0;
  std::uint64_t pos[kMaxFanout + 1];
  std::uint64_t pk[kMaxFanout + 1];
  Ref child[kMaxFanout + 1];
};

inline constexpr std::uint64_t column(unsigned t) noexcept { return std::uint64_t{1} << (63 - t); }
// The columns before t (positions pos[0..t)).
inline constexpr std::uint64_t columns_before(unsigned t) noexcept {
  return t == 0 ? 0 : ~std::uint64_t{0} << (64 - t);
}

template <class Ref>
inline void decode(const NodeHeader* h, Decoded<Ref>& d) noexcept {
  d.k = node_positions(h, d.pos);
  d.n = h->count;
  const Ref* c = children<Ref>(h);
  for (unsigned j = 0; j < d.n; ++j) {
    d.pk[j] = std::uint64_t{partial_key(h, j)} << (64 - d.k);
    d.child[j] = c[j];
  }
}

// Index of position m's column, added (all zeros) when absent.
template <class Ref>
inline unsigned ensure_column(Decoded<Ref>& d, std::uint64_t m) noexcept {
  unsigned t = 0;
  while (t < d.k && d.pos[t] < m) ++t;
  if (t < d.k && d.pos[t] == m) return t;
  for (unsigned s = d.k; s > t; --s) d.pos[s] = d.pos[s - 1];
  d.pos[t] = m;
  ++d.k;
  const std::uint64_t hi = columns_before(t);
  for (unsigned j = 0; j < d.n; ++j) d.pk[j] = (d.pk[j] & hi) | ((d.pk[j] & ~hi) >> 1);
  return t;
}

template <class Ref>
inline void remove_column(Decoded<Ref>& d, unsigned t) noexcept {
  for (unsigned s = t; s + 1 < d.k; ++s) d.pos[s] = d.pos[s + 1];
  --d.k;
  const std::uint64_t hi = columns_before(t);
  const std::uint64_t after = ~columns_before(t + 1);
  for (unsigned j = 0; j < d.n; ++j) d.pk[j] = (d.pk[j] & hi) | ((d.pk[j] & after) << 1);
}

// Drops the columns no entry has a 1 in: a position is a BiNode of the node iff some entry
// goes right there.
template <class Ref>
inline void drop_unused_columns(Decoded<Ref>& d) noexcept {
  std::uint64_t used = 0;
  for (unsigned j = 0; j < d.n; ++j) used |= d.pk[j];
  for (unsigned t = d.k; t-- > 0;)
    if ((used & column(t)) == 0) {
      remove_column(d, t);
      used = (used & columns_before(t)) | ((used & ~columns_before(t + 1)) << 1);
    }
}

// Entries [a, b] are the subtree below the edge that a new BiNode at position m splits; the new
// entry `c` goes right of them when `right`, else left. Returns the new entry's index.
template <class Ref>
inline unsigned insert_entry(Decoded<Ref>& d, unsigned a, unsigned b, std::uint64_t m, bool right,
                             Ref c) noexcept {
  const unsigned t = ensure_column(d, m);
  const std::uint64_t path = d.pk[a] & columns_before(t);
  if (!right)
    for (unsigned j = a; j <= b; ++j) d.pk[j] |= column(t);
  const unsigned at = right ? b + 1 : a;
  for (unsigned j = d.n; j > at; --j) {
    d.pk[j] = d.pk[j - 1];
    d.child[j] = d.child[j - 1];
  }
  d.pk[at] = path | (right ? column(t) : 0);
  d.child[at] = c;
  ++d.n;
  return at;
}

// The column of entry i's deepest BiNode (its parent in the binary trie); n >= 2.
template <class Ref>
inline unsigned parent_column(const Decoded<Ref>& d, unsigned i) noexcept {
  unsigned t = 0;
  if (i > 0) t = static_cast<unsigned>(std::countl_zero(d.pk[i - 1] ^ d.pk[i]));
  if (i + 1 < d.n) t = std::max(t, static_cast<unsigned>(std::countl_zero(d.pk[i] ^ d.pk[i + 1])));
  return t;
}

// Removes entry i and its parent BiNode: the sibling subtree takes the BiNode's place.
template <class Ref>
inline void remove_entry(Decoded<Ref>& d, unsigned i) noexcept {
  const unsigned t = parent_column(d, i);
  const std::uint64_t above = columns_before(t);
  for (unsigned j = 0; j < d.n; ++j)
    if (j != i && ((d.pk[j] ^ d.pk[i]) & above) == 0) d.pk[j] &= ~column(t);
  for (unsigned j = i; j + 1 < d.n; ++j) {
    d.pk[j] = d.pk[j + 1];
    d.child[j] = d.child[j + 1];
  }
  --d.n;
  drop_unused_columns(d);
}

// Splits d (unused columns dropped) at its root BiNode, column 0: left gets the entries with a 0
// there, right the others. Returns the root BiNode's position.
template <class Ref>
inline std::uint64_t split(const Decoded<Ref>& d, Decoded<Ref>& left, Decoded<Ref>& right) noexcept {
  unsigned s = 0;
  while (s < d.n && (d.pk[s] & column(0)) == 0) ++s;
  assert(s > 0 && s < d.n);
  for (Decoded<Ref>* part : {&left, &right}) {
    const unsigned from = part == &left ? 0 : s;
    const unsigned to = part == &left ? s : d.n;
    part->n = to - from;
    part->k = d.k;
    std::copy(d.pos, d.pos + d.k, part->pos);
    for (unsigned j = from; j < to; ++j) {
      part->pk[j - from] = d.pk[j];
      part->child[j - from] = d.child[j];
    }
    remove_column(*part, 0);
    drop_unused_columns(*part);
  }
  return d.pos[0];
}

// The smallest shape that holds d.
template <class Ref>
inline Shape exact_shape(const Decoded<Ref>& d) noexcept {
  Shape s{};
  s.width_code = d.k <= 8 ? 0 : d.k <= 16 ? 1 : 2;
  s.cap = d.n;
  unsigned units = 0;
  std::uint64_t last = ~std::uint64_t{0};
  for (unsigned t = 0; t < d.k; ++t)
    if (d.pos[t] / kUnitBits != last) {
      last = d.pos[t] / kUnitBits;
      ++units;
    }
  const std::uint64_t span = d.pos[d.k - 1] / kUnitBits - d.pos[0] / kUnitBits;
  s.multi = span >= kWindowUnits;
  s.ucap = s.multi ? units : 0;
  s.wide = s.multi && span > 0xffff;
  return s;
}

// Writes d into mem, a block of shape_bytes<Ref>(s) bytes; s must hold d (s.multi may be set
// even when a single mask would do: erase rewrites a node in place in its old shape).
// height: the node's height, one more than its tallest child's (leaves count 0); saturates at 255.
template <class Ref>
inline NodeHeader* encode(const Decoded<Ref>& d, const Shape& s, void* mem, unsigned height) noexcept {
  assert(d.n >= 2 && d.n <= s.cap && s.cap <= kMaxFanout && d.k >= 1 && d.k <= 31);
  std::memset(mem, 0, shape_bytes<Ref>(s));
  auto* h = static_cast<NodeHeader*>(mem);
  h->layout = static_cast<std::uint8_t>(s.width_code | (s.multi ? kMultiMask : 0) |
                                        (s.multi && s.wide ? kWideUnits : 0));
  h->count = static_cast<std::uint8_t>(d.n);
  h->cap = static_cast<std::uint8_t>(s.cap);
  const std::uint64_t base = d.pos[0] / kUnitBits;
  h->base = static_cast<std::uint32_t>(base);
  if (!s.multi) {
    std::uint64_t m = 0;
    for (unsigned t = 0; t < d.k; ++t) {
      const std::uint64_t r = d.pos[t] / kUnitBits - base;
      m |= std::uint64_t{1} << (kUnitBits * (6 - r) + (8 - d.pos[t] % kUnitBits));
    }
    std::memcpy(h + 1, &m, 8);
  } else {
    auto* mh = reinterpret_cast<MultiHeader*>(h + 1);
    mh->ucap = static_cast<std::uint8_t>(s.ucap);
    char* offsets = reinterpret_cast<char*>(mh) + sizeof(MultiHeader);
    auto* mask = reinterpret_cast<std::uint16_t*>(offsets + std::size_t{s.ucap} * (s.wide ? 4 : 2));
    unsigned u = 0;
    std::uint64_t last = ~std::uint64_t{0};
    for (unsigned t = 0; t < d.k; ++t) {
      const std::uint64_t un = d.pos[t] / kUnitBits;
      if (un != last) {
        if (s.wide)
          reinterpret_cast<std::uint32_t*>(offsets)[u] = static_cast<std::uint32_t>(un);
        else
          reinterpret_cast<std::uint16_t*>(offsets)[u] = static_cast<std::uint16_t>(un - base);
        last = un;
        ++u;
      }
      mask[u - 1] = static_cast<std::uint16_t>(mask[u - 1] | (1u << (8 - d.pos[t] % kUnitBits)));
    }
    assert(u <= s.ucap);
    mh->units = static_cast<std::uint8_t>(u);
  }
  Ref* c = children<Ref>(h);
  for (unsigned j = 0; j < d.n; ++j) c[j] = d.child[j];
  h->height = static_cast<std::uint8_t>(std::min(height, 255u));
  void* pk = const_cast<void*>(partial_keys(h));
  for (unsigned j = 0; j < d.n; ++j) {
    const std::uint64_t v = d.pk[j] >> (64 - d.k);
    switch (s.width_code) {
      case 0: static_cast<std::uint8_t*>(pk)[j] = static_cast<std::uint8_t>(v); break;
      case 1: static_cast<std::uint16_t*>(pk)[j] = static_cast<std::uint16_t>(v); break;
      default: static_cast<std::uint32_t*>(pk)[j] = static_cast<std::uint32_t>(v); break;
    }
  }
  return h;
}

// Whether shape s (a node's current one) can hold d after entries were removed from it.
template <class Ref>
inline bool shape_holds(const Shape& s, const Decoded<Ref>& d) noexcept {
  const Shape e = exact_shape(d);
  if (d.n > s.cap || e.width_code > s.width_code) return false;
  if (!s.multi) return !e.multi;
  if (e.wide && !s.wide) return false;
  unsigned units = 0;
  for (unsigned t = 0; t < d.k; ++t)
    if (t == 0 || d.pos[t] / kUnitBits != d.pos[t - 1] / kUnitBits) ++units;
  return units <= s.ucap;
}

// Statistics of the tree's shape (tests, benchmarks).
struct Stats {
  std::size_t nodes = 0, single_mask = 0, multi_mask = 0, wide_units = 0;
  std::size_t pk8 = 0, pk16 = 0, pk32 = 0;
  std::size_t leaves = 0, entries = 0, max_depth = 0, root_height = 0;
  std::size_t leaf_depth_sum = 0;  // nodes above each leaf, summed: / leaves = a lookup's nodes
  std::size_t node_bytes = 0;
};

}  // namespace memkv::detail::hot
