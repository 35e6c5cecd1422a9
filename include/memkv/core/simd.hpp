// memkv/core/simd.hpp - Node16 child search: one 16-byte compare instead of a loop.
//
// A Node16 keeps up to 16 child bytes sorted ascending. Two queries are needed:
//   node16_find(keys, n, b)        index i < n with keys[i] == b, or -1
//   node16_lower_bound(keys, n, b) number of keys[i] < b (unsigned), i.e. where b would go
// With SSE2 (every x86-64) the 16 bytes are compared at once through xsimd's 128-bit batch; an
// AVX2 build uses the same batch, VEX-encoded (a 256-bit batch would be half wasted on 16 keys).
// Other targets use the scalar versions, which are always available for tests.
// Bytes >= 0x80 order as unsigned: the lower bound uses unsigned max (pmaxub), never a signed
// compare, the bug class of libart issues #37/#47/#48/#55.
#pragma once

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
#else
inline int node16_find(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  return node16_find_scalar(keys, n, b);
}
inline unsigned node16_lower_bound(const std::uint8_t* keys, unsigned n, std::uint8_t b) noexcept {
  return node16_lower_bound_scalar(keys, n, b);
}
#endif

}  // namespace memkv::detail
