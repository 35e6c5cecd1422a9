// memkv/detail/fst_codec.hpp - bit-level pieces of the FrozenLayer format (see frozen_layer.hpp
// for the format itself): a bit writer, a bounds-checked downward bit reader, and the canonical
// Huffman code of transition labels.
//
// Bit numbering: the FST region is one long little-endian bit string; bit `b` is bit (b % 8) of
// byte (b / 8). A field of width w "at top p" occupies bits [p - w, p) and its value is read as
// an integer whose least significant bit is bit p - w. States are decoded from their top (their
// address) downward, so the first field read is the one written last.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <queue>
#include <string>
#include <string_view>
#include <vector>

#include "memkv/core/error.hpp"
#include "memkv/core/varint.hpp"

namespace memkv::detail::fst {

inline constexpr unsigned max_code_length = 12;  // Huffman codes of labels: 1..12 bits
inline constexpr unsigned max_field_width = 56;  // widths of output/target fields

[[noreturn]] inline void corrupt(const char* what, std::uint64_t bit) {
  throw_format_error(std::string("corrupt FrozenLayer image: ") + what + " at FST bit " +
                     std::to_string(bit));
}

// Reads bits [lo, lo + w), w <= 56. The caller guarantees lo < region bits and that 8 bytes are
// readable from byte lo / 8 (the image keeps 8 zero bytes after the FST region).
inline std::uint64_t read_bits(const std::byte* base, std::uint64_t lo, unsigned w) noexcept {
  std::uint64_t v = io::load_le<std::uint64_t>(base + (lo >> 3)) >> (lo & 7);
  return w == 0 ? 0 : v & (~std::uint64_t{0} >> (64 - w));
}

// Reads w <= 64 bits at bit offset lo (two loads); 16 bytes readable from byte lo / 8.
inline std::uint64_t read_bits64(const std::byte* base, std::uint64_t lo, unsigned w) noexcept {
  if (w == 0) return 0;
  const std::byte* p = base + (lo >> 3);
  const unsigned s = static_cast<unsigned>(lo & 7);
  std::uint64_t v = io::load_le<std::uint64_t>(p) >> s;
  if (s != 0) v |= io::load_le<std::uint64_t>(p + 8) << (64 - s);
  return w == 64 ? v : v & (~std::uint64_t{0} >> (64 - w));
}

inline unsigned bit_width(std::uint64_t v) noexcept {
  return static_cast<unsigned>(std::bit_width(v));
}

// Appends fields at increasing bit positions into a byte sink (anything with
// put(const std::byte*, std::size_t) and put(std::byte)). Bytes reach the sink four at a time;
// flush() writes what is left.
template <class Sink>
class bit_writer {
public:
  explicit bit_writer(Sink& sink) noexcept : sink_(&sink) {}
  std::uint64_t position() const noexcept { return bits_; }
  void put(std::uint64_t v, unsigned w) {
    if (w > 32) {
      put(v & 0xffffffffu, 32);
      put(v >> 32, w - 32);
      return;
    }
    if (w == 0) return;
    acc_ |= (v & (~std::uint64_t{0} >> (64 - w))) << fill_;  // fill_ < 32: no overflow
    fill_ += w;
    bits_ += w;
    if (fill_ >= 32) {
      std::byte b[4];
      for (unsigned i = 0; i < 4; ++i) b[i] = static_cast<std::byte>((acc_ >> (8 * i)) & 0xff);
      sink_->put(b, 4);
      acc_ >>= 32;
      fill_ -= 32;
    }
  }
  // Writes the whole bytes held, then pads the last partial byte with zero bits.
  void flush() {
    while (fill_ >= 8) {
      sink_->put(static_cast<std::byte>(acc_ & 0xff));
      acc_ >>= 8;
      fill_ -= 8;
    }
    if (fill_ > 0) {
      sink_->put(static_cast<std::byte>(acc_ & 0xff));
      bits_ += 8 - fill_;
      acc_ = 0;
      fill_ = 0;
    }
  }

private:
  Sink* sink_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
  std::uint64_t bits_ = 0;
};

// ---------------------------------------------------------------------------------------------
// Canonical, length-limited Huffman code over the 256 byte values. Every byte value has a code
// (1..max_code_length bits), so any key can be encoded whatever the sample said. The code value's
// most significant bit is the first bit a reader meets (the topmost one).
struct label_code {
  std::array<std::uint8_t, 256> length{};
  std::array<std::uint16_t, 256> code{};
  unsigned max_length = 8;

  // Lengths from byte frequencies (each counted at least once), limited to max_code_length.
  static label_code from_frequencies(std::array<std::uint64_t, 256> freq) {
    for (auto& f : freq) f = f + 1;
    label_code c;
    for (;;) {
      c.length = huffman_lengths(freq);
      unsigned mx = *std::max_element(c.length.begin(), c.length.end());
      if (mx <= max_code_length) break;
      for (auto& f : freq) f = (f >> 1) | 1;  // flatten and retry
    }
    c.assign_codes();
    return c;
  }
  static label_code flat() {  // 8 bits per byte: the code when there is nothing to learn from
    label_code c;
    c.length.fill(8);
    c.assign_codes();
    return c;
  }

  void assign_codes() {
    max_length = *std::max_element(length.begin(), length.end());
    std::array<std::uint16_t, 256> order;
    for (unsigned i = 0; i < 256; ++i) order[i] = static_cast<std::uint16_t>(i);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::uint16_t a, std::uint16_t b) { return length[a] < length[b]; });
    std::uint32_t next = 0;
    unsigned prev = length[order[0]];
    for (std::uint16_t s : order) {
      next <<= (length[s] - prev);
      prev = length[s];
      code[s] = static_cast<std::uint16_t>(next++);
    }
  }

private:
  static std::array<std::uint8_t, 256> huffman_lengths(const std::array<std::uint64_t, 256>& freq) {
    struct node { std::uint64_t w; int left, right; };
    std::vector<node> nodes;
    nodes.reserve(512);
    using item = std::pair<std::uint64_t, int>;
    std::priority_queue<item, std::vector<item>, std::greater<item>> q;
    for (int s = 0; s < 256; ++s) {
      nodes.push_back({freq[static_cast<std::size_t>(s)], -1, -1});
      q.push({freq[static_cast<std::size_t>(s)], s});
    }
    while (q.size() > 1) {
      auto [wa, a] = q.top(); q.pop();
      auto [wb, b] = q.top(); q.pop();
      nodes.push_back({wa + wb, a, b});
      q.push({wa + wb, static_cast<int>(nodes.size() - 1)});
    }
    std::array<std::uint8_t, 256> len{};
    std::vector<std::pair<int, unsigned>> stack{{q.top().second, 0u}};
    while (!stack.empty()) {
      auto [n, d] = stack.back();
      stack.pop_back();
      if (nodes[static_cast<std::size_t>(n)].left < 0) {
        len[static_cast<std::size_t>(n)] = static_cast<std::uint8_t>(std::min(d, 255u));
      } else {
        stack.push_back({nodes[static_cast<std::size_t>(n)].left, d + 1});
        stack.push_back({nodes[static_cast<std::size_t>(n)].right, d + 1});
      }
    }
    return len;
  }
};

// The reader's decode table: entry = (length << 8) | symbol, indexed by the next max_length bits.
struct label_decoder {
  std::array<std::uint16_t, 1u << max_code_length> table{};
  unsigned max_length = 0;

  // Validates code lengths read from an image: each in 1..max_code_length, a complete prefix
  // code (Kraft sum exactly 1). Throws format_error otherwise.
  void init(const std::array<std::uint8_t, 256>& length) {
    max_length = 0;
    for (unsigned s = 0; s < 256; ++s) {
      if (length[s] == 0 || length[s] > max_code_length)
        throw_format_error("corrupt FrozenLayer image: label code length " +
                           std::to_string(length[s]) + " for byte " + std::to_string(s));
      max_length = std::max<unsigned>(max_length, length[s]);
    }
    std::uint64_t kraft = 0;
    for (unsigned s = 0; s < 256; ++s) kraft += std::uint64_t{1} << (max_code_length - length[s]);
    if (kraft != (std::uint64_t{1} << max_code_length))
      throw_format_error("corrupt FrozenLayer image: label code is not a complete prefix code");
    label_code c;
    c.length = length;
    c.assign_codes();
    table.fill(0);
    for (unsigned s = 0; s < 256; ++s) {
      const unsigned shift = max_length - length[s];
      const std::uint32_t first = static_cast<std::uint32_t>(c.code[s]) << shift;
      for (std::uint32_t i = 0; i < (1u << shift); ++i)
        table[first + i] = static_cast<std::uint16_t>((length[s] << 8) | s);
    }
  }

  // Decodes one label whose code's top is at bit p; returns the entry (length << 8 | symbol).
  std::uint32_t decode(const std::byte* base, std::uint64_t p) const {
    std::uint64_t v;
    if (p >= max_length) {
      v = read_bits(base, p - max_length, max_length);
    } else {
      if (p == 0) corrupt("label code below the region start", p);
      v = read_bits(base, 0, static_cast<unsigned>(p)) << (max_length - p);
    }
    const std::uint32_t e = table[v];
    if ((e >> 8) > p) corrupt("label code below the region start", p);
    return e;
  }
};

}  // namespace memkv::detail::fst
