// memkv/core/simd.hpp - Node16 child search: one 16-byte compare instead of a loop; and the
// same compare over 16 bytes that start at any bit (FrozenLayer's bit-packed label arrays).
//
// A Node16 keeps up to 16 child bytes sorted ascending. Two queries are needed:
//   node16_find(keys, n, b)        index i < n with keys[i] == b, or -1
//   node16_lower_bound(keys, n, b) number of keys[i] < b (unsigned), i.e. where b would go
// With SSE2 (every x86-64) the 16 bytes are compared at once through xsimd's 128-bit batch; an
// AVX2 build uses the same batch, VEX-encoded (a 256-bit batch would be half wasted on 16 keys).
// Other targets use the scalar versions, which are always available for tests.
//   bytes_below_at_bit(p, shift, b) mask of the 16 bytes read from bit `shift` (0..7) of p on
//                                  whose value is < b (unsigned); bit i = byte i
// Bytes >= 0x80 order as unsigned: the lower bound uses unsigned max (pmaxub), never a signed
// compare, the bug class of libart issues #37/#47/#48/#55.
#pragma once

#include <cstddef>
#include <cstdint>

#if defined(__SSE2__)
#include <emmintrin.h>
#include <xsimd/xsimd.hpp>
#define MEMKV_SIMD_SSE2 1
#else
#define MEMKV_SIMD_SSE2 0
#endif

namespace memkv::detail {

inline int node16_find_scalar(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  for (unsigned i = 0; i < n; ++i)
    if (keys[i] == b) return static_cast<int>(i);
  return -1;
}

inline unsigned node16_lower_bound_scalar(const std::uint8_t* keys, unsigned n,
                                          std::uint8_t b) noexcept {
  unsigned i = 0;
  while (i < n && keys[i] < b) ++i;
  return i;
}

// Byte i of the result's source = bits [8i + shift, 8i + shift + 8) of p (bit j = bit j % 8 of
// p[j / 8]); 17 bytes must be readable from p.
inline unsigned bytes_below_at_bit_scalar(const std::byte* p, unsigned shift, std::uint8_t b) noexcept {
  unsigned mask = 0;
  for (unsigned i = 0; i < 16; ++i) {
    const unsigned two = std::to_integer<unsigned>(p[i]) | (std::to_integer<unsigned>(p[i + 1]) << 8);
    if (((two >> shift) & 0xffu) < b) mask |= 1u << i;
  }
  return mask;
}

#if MEMKV_SIMD_SSE2
namespace simd {
using byte16 = xsimd::batch<std::uint8_t, xsimd::sse2>;
inline unsigned movemask(xsimd::batch_bool<std::uint8_t, xsimd::sse2> m) noexcept {
  return static_cast<unsigned>(_mm_movemask_epi8(static_cast<__m128i>(m)));
}
}  // namespace simd

// keys must point at 16 readable bytes (a Node16's key array); only the first n count.
inline int node16_find(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  const auto k = simd::byte16::load_unaligned(keys);
  const unsigned mask = simd::movemask(k == simd::byte16(b)) & ((1u << n) - 1u);
  return mask ? __builtin_ctz(mask) : -1;
}

inline unsigned node16_lower_bound(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  const auto k = simd::byte16::load_unaligned(keys);
  // keys[i] >= b  <=>  max(keys[i], b) == keys[i]  (unsigned max)
  const unsigned ge = simd::movemask(xsimd::max(k, simd::byte16(b)) == k) & ((1u << n) - 1u);
  return ge ? static_cast<unsigned>(__builtin_ctz(ge)) : n;
}

// Two overlapping loads, p and p + 1, seen as 16-bit lanes: lane j of the first holds bytes 2j and
// 2j + 1, shifted right by `shift` its low byte is source byte 2j; lane j of the second holds
// bytes 2j + 1 and 2j + 2, giving source byte 2j + 1. Then one compare for all 16 (xsimd's
// unsigned less-than: both sides sign-flipped, then a signed compare).
inline unsigned bytes_below_at_bit(const std::byte* p, unsigned shift, std::uint8_t b) noexcept {
  using lanes = xsimd::batch<std::uint16_t, xsimd::sse2>;
  const auto* q = reinterpret_cast<const std::uint16_t*>(p);
  const auto* q1 = reinterpret_cast<const std::uint16_t*>(p + 1);
  const int s = static_cast<int>(shift);
  const lanes even = (lanes::load_unaligned(q) >> s) & lanes(0x00ff);
  const lanes odd = (lanes::load_unaligned(q1) >> s) << 8;
  const simd::byte16 x(static_cast<__m128i>(even | odd));
  return simd::movemask(x < simd::byte16(b));
}
#else
inline unsigned bytes_below_at_bit(const std::byte* p, unsigned shift, std::uint8_t b) noexcept {
  return bytes_below_at_bit_scalar(p, shift, b);
}
inline int node16_find(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  return node16_find_scalar(keys, n, b);
}
inline unsigned node16_lower_bound(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  return node16_lower_bound_scalar(keys, n, b);
}
#endif

}  // namespace memkv::detail
