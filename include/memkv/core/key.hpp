// memkv/core/key.hpp - byte-string key helpers shared by every structure.
//
// Keys are arbitrary byte strings ordered bytewise unsigned (memcmp order; a prefix sorts
// before its extensions). std::string_view's compare already has that order for char.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace memkv::detail {

// Length of the longest common prefix of a and b, eight bytes at a time.
inline std::size_t common_prefix_length(std::string_view a, std::string_view b) noexcept {
  const std::size_t n = std::min(a.size(), b.size());
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      const std::uint64_t diff = x ^ y;
      if constexpr (std::endian::native == std::endian::little) {
        return i + static_cast<std::size_t>(__builtin_ctzll(diff) / 8);
      } else {
        return i + static_cast<std::size_t>(__builtin_clzll(diff) / 8);
      }
    }
  }
  while (i < n && a[i] == b[i]) ++i;
  return i;
}

// Three-way bytewise unsigned comparison: <0, 0, >0.
inline int compare_keys(std::string_view a, std::string_view b) noexcept { return a.compare(b); }

// The smallest key greater than every key starting with p, or nullopt when none exists
// (p empty or all 0xff). prefix(p) == range(p, *prefix_successor(p)).
inline std::optional<std::string> prefix_successor(std::string_view p) {
  std::string s(p);
  while (!s.empty() && static_cast<unsigned char>(s.back()) == 0xff) s.pop_back();
  if (s.empty()) return std::nullopt;
  s.back() = static_cast<char>(static_cast<unsigned char>(s.back()) + 1);
  return s;
}

// A fast 64-bit hash of a byte string (8 bytes a step, multiply-xorshift mixing). In-memory use
// only (HybridStore's filters, the trees' point index): nothing stores it, so it may change.
inline std::uint64_t hash_key(std::string_view key) noexcept {
  constexpr std::uint64_t m = 0x9fb21c651e98df25ULL;
  const char* p = key.data();
  std::size_t n = key.size();
  std::uint64_t h = 0x6d656d6b76ULL ^ (n * m);
  for (; n >= 8; n -= 8, p += 8) {
    std::uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * m;
    h ^= h >> 32;
  }
  if (n != 0) {
    std::uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * m;
  }
  h ^= h >> 29;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 32);
}

inline bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size() && std::memcmp(s.data(), p.data(), p.size()) == 0;
}

// Gives a per-thread scratch string (a decoded key, reused from insert to insert) back when it
// goes out of scope holding more than 64 KiB: one long key, up to the contract's 16 MiB, must
// not stay pinned in every thread that once inserted near it.
struct scratch_trim {
  std::string& s;
  ~scratch_trim() {
    if (s.capacity() > (std::size_t{64} << 10)) std::string().swap(s);
  }
};

}  // namespace memkv::detail
