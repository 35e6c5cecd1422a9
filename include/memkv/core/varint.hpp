// memkv/core/varint.hpp - LEB128 varints and a bounds-checked byte reader.
//
// API (namespace memkv::io):
//   constexpr std::size_t varint_size(std::uint64_t v) noexcept;        // 1..10 bytes
//   std::byte* encode_varint(std::uint64_t v, std::byte* out) noexcept;  // returns one past the end
//   void append_varint(std::vector<std::byte>& out, std::uint64_t v);
//   bool try_decode_varint(const std::byte*& p, const std::byte* end, std::uint64_t& v) noexcept;
//   std::uint64_t decode_varint(const std::byte*& p, const std::byte* end);  // throws format_error
//   class byte_reader;  // cursor over [begin, end): u8(), le<T>(), varint(), bytes(n), skip(n),
//                       // offset(), remaining(); every read is bounds-checked and throws
//                       // memkv::format_error naming the absolute offset of what was wrong.
//   T load_le<T>(const std::byte*) noexcept; void store_le<T>(std::byte*, T) noexcept;
//   void append_le<T>(std::vector<std::byte>&, T);  // unsigned T, little-endian, any alignment
//
// Encoding: unsigned LEB128, 7 bits per byte, least significant group first, high bit set on
// every byte but the last. Decoding accepts only the canonical (shortest) form of each value:
// a multi-byte encoding whose last byte is 0 is "overlong" and rejected, as is an encoding of
// more than 10 bytes or a 10th byte above 1 (more than 64 bits). So one value has exactly one
// encoding, and a decoder never reads past `end`.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <type_traits>
#include <vector>

#include "memkv/core/error.hpp"

namespace memkv::io {

constexpr std::size_t varint_size(std::uint64_t v) noexcept {
  // bits needed (at least 1), 7 per byte
  const int bits = 64 - std::countl_zero(v | 1);
  return static_cast<std::size_t>((bits + 6) / 7);
}

inline std::byte* encode_varint(std::uint64_t v, std::byte* out) noexcept {
  while (v >= 0x80) {
    *out++ = static_cast<std::byte>((v & 0x7f) | 0x80);
    v >>= 7;
  }
  *out++ = static_cast<std::byte>(v);
  return out;
}

inline void append_varint(std::vector<std::byte>& out, std::uint64_t v) {
  std::byte tmp[10];
  std::byte* e = encode_varint(v, tmp);
  out.insert(out.end(), tmp, e);
}

// Decodes one varint from [p, end). On success advances p and returns true; on truncation,
// overlong or out-of-range input returns false and leaves p unchanged.
inline bool try_decode_varint(const std::byte*& p, const std::byte* end, std::uint64_t& v) noexcept {
  const std::byte* q = p;
  if (q < end) {  // fast path: one byte
    const auto b = static_cast<std::uint8_t>(*q);
    if (b < 0x80) {
      v = b;
      p = q + 1;
      return true;
    }
  }
  std::uint64_t result = 0;
  for (int shift = 0; shift < 70; shift += 7) {
    if (q >= end) return false;  // truncated
    const auto b = static_cast<std::uint8_t>(*q++);
    if (shift == 63 && b > 1) return false;  // more than 64 bits
    result |= static_cast<std::uint64_t>(b & 0x7f) << shift;
    if (b < 0x80) {
      if (b == 0 && shift != 0) return false;  // overlong: a trailing zero group
      v = result;
      p = q;
      return true;
    }
  }
  return false;  // more than 10 bytes
}

namespace detail {
[[noreturn]] inline void throw_bad_varint(const std::byte* p, const std::byte* end,
                                          std::size_t offset) {
  // tell truncation apart from overlong for the message
  bool terminated = false;
  for (const std::byte* q = p; q < end && q < p + 10; ++q)
    if (static_cast<std::uint8_t>(*q) < 0x80) { terminated = true; break; }
  memkv::detail::throw_format_error(std::string(terminated ? "overlong or out-of-range varint"
                                                           : "truncated varint") +
                                    " at offset " + std::to_string(offset));
}
}  // namespace detail

// Throwing form; the message gives the offset of p from `base` (pass the image start).
inline std::uint64_t decode_varint(const std::byte*& p, const std::byte* end,
                                   const std::byte* base = nullptr) {
  std::uint64_t v;
  if (!try_decode_varint(p, end, v))
    detail::throw_bad_varint(p, end, base ? static_cast<std::size_t>(p - base) : 0);
  return v;
}

// Reverses the bytes of an unsigned integer (std::byteswap is C++23).
template <class T>
constexpr T byteswap_unsigned(T v) noexcept {
  static_assert(std::is_unsigned_v<T>);
  T r = 0;
  for (std::size_t i = 0; i < sizeof(T); ++i) {
    r = static_cast<T>((r << 8) | (v & 0xff));
    v = static_cast<T>(v >> 8);
  }
  return r;
}

// Little-endian load/store of unsigned integers through memcpy: any alignment is fine.
template <class T>
inline T load_le(const std::byte* p) noexcept {
  static_assert(std::is_unsigned_v<T>);
  T v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = byteswap_unsigned(v);
  return v;
}

template <class T>
inline void store_le(std::byte* p, T v) noexcept {
  static_assert(std::is_unsigned_v<T>);
  if constexpr (std::endian::native == std::endian::big) v = byteswap_unsigned(v);
  std::memcpy(p, &v, sizeof v);
}

template <class T>
inline void append_le(std::vector<std::byte>& out, T v) {
  std::byte tmp[sizeof(T)];
  store_le(tmp, v);
  out.insert(out.end(), tmp, tmp + sizeof(T));
}

// A cursor over [begin, end) whose reads are all bounds-checked. Offsets in error messages are
// absolute: measured from `base` (the image start), which defaults to `begin`.
class byte_reader {
public:
  byte_reader(const std::byte* begin, const std::byte* end, const std::byte* base = nullptr) noexcept
      : p_(begin), end_(end), base_(base ? base : begin) {}

  std::size_t offset() const noexcept { return static_cast<std::size_t>(p_ - base_); }
  std::size_t remaining() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  bool at_end() const noexcept { return p_ == end_; }
  const std::byte* position() const noexcept { return p_; }

  std::uint8_t u8() {
    need(1, "byte");
    return static_cast<std::uint8_t>(*p_++);
  }
  template <class T>
  T le() {
    need(sizeof(T), "integer");
    T v = load_le<T>(p_);
    p_ += sizeof(T);
    return v;
  }
  std::uint64_t varint() { return decode_varint(p_, end_, base_); }
  // A varint that must be <= limit; `what` names the field in the error message.
  std::uint64_t varint_at_most(std::uint64_t limit, const char* what) {
    const std::size_t at = offset();
    const std::uint64_t v = varint();
    if (v > limit)
      memkv::detail::throw_format_error(std::string(what) + " " + std::to_string(v) +
                                        " exceeds its limit " + std::to_string(limit) +
                                        " at offset " + std::to_string(at));
    return v;
  }
  const std::byte* bytes(std::size_t n) {
    need(n, "bytes");
    const std::byte* r = p_;
    p_ += n;
    return r;
  }
  void skip(std::size_t n) { (void)bytes(n); }

private:
  void need(std::size_t n, const char* what) const {
    if (n > remaining())
      memkv::detail::throw_format_error("truncated: " + std::to_string(n) + " " + what +
                                        " needed at offset " + std::to_string(offset()) + ", " +
                                        std::to_string(remaining()) + " left");
  }
  const std::byte* p_;
  const std::byte* end_;
  const std::byte* base_;
};

}  // namespace memkv::io
