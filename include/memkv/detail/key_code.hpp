// memkv/detail/key_code.hpp - key_code: an order-0 Huffman code of key bytes, learnt from a
// sample of a map's own keys, with which HotArt and ArenaHotArt store their leaves' keys.
//
// Coded form of a key: the codes of its bytes, most significant bit first, then one 1 bit, then
// 0 bits up to a byte boundary. The 1 bit marks the end, so two keys are equal exactly when their
// coded forms are (no length needed beside them), and a coded form takes
// floor(sum of code lengths / 8) + 1 bytes. Every byte value has a code of 1..12 bits (the
// lengths of FrozenLayer's label code, detail/fst_codec.hpp, from the sample's byte counts), so
// any key can be coded, whatever the sample held; a key whose coded form would not be shorter
// than the key is stored as it is (the leaf says which: see hot_art.hpp).
//
// Measured (a code learnt from 4,096 shuffled keys, then every key coded; scratch program): npm-urls
// (1,685,458 URLs, 44.47 bytes on average) code in 27.15 bytes on average, every one shorter than
// itself (order-0 entropy of their bytes: 4.6 bits); npm-names (4,499,322 names, 20.02 bytes)
// in 12.45, 99.4% of them shorter. Speed (g++ 12 -O2 -march=native, 200,000 URLs): decode ~130
// ns a key when a table of the next 12 bits gave one or two bytes a step, ~88 ns since it gives
// up to three (2026-12-04; ~105 ns just before, in the same runs); encode ~70 ns.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "memkv/core/key.hpp"
#include "memkv/detail/fst_codec.hpp"

namespace memkv::detail {

class key_code {
public:
  // A code for keys whose bytes occur about as often as in `freq` (byte counts of a sample).
  static std::shared_ptr<const key_code> learn(const std::array<std::uint64_t, 256>& freq) {
    const fst::label_code c = fst::label_code::from_frequencies(freq);
    auto k = std::make_shared<key_code>();
    k->max_ = c.max_length;
    k->min_ = *std::min_element(c.length.begin(), c.length.end());
    for (unsigned s = 0; s < 256; ++s) k->enc_[s] = (std::uint32_t{c.code[s]} << 4) | c.length[s];
    // The byte whose code starts each max_-bit index.
    std::array<std::uint16_t, 1u << fst::max_code_length> one{};  // length << 8 | byte
    for (unsigned s = 0; s < 256; ++s) {
      const unsigned shift = k->max_ - c.length[s];
      const std::uint32_t first = std::uint32_t{c.code[s]} << shift;
      for (std::uint32_t i = 0; i < (1u << shift); ++i)
        one[first + i] = static_cast<std::uint16_t>((c.length[s] << 8) | s);
    }
    const std::uint32_t all = (1u << k->max_) - 1;
    for (std::uint32_t i = 0; i <= all; ++i) {
      // Up to three bytes whose codes fit, one after another, in the max_ bits of i.
      std::uint32_t e = 0;
      unsigned used = 0, count = 0;
      while (count < 3) {
        const std::uint16_t sym = one[(i << used) & all];
        const unsigned len = sym >> 8;
        if (count > 0 && used + len > k->max_) break;
        e |= std::uint32_t{sym & 0xffu} << (8 * count);
        used += len;
        ++count;
      }
      k->dec_[i] = e | ((count - 1) << 24) | (used << 26);
    }
    return k;
  }

  unsigned length(std::uint8_t b) const noexcept { return enc_[b] & 15u; }

  // Decoding another key after one already decoded reuses the bytes they share: if `prev_coded`
  // decoded to `prev`, the bytes of prev whose codes lie wholly within the leading bits that
  // `next_coded` shares with it, and before next_coded's end mark, are the next key's first
  // bytes too (the code is prefix-free: both parse those bits alike), and its other bytes are
  // decode(next_coded, out, bit). Returns {keep, bit}. Any two keys, in any order (the end mark
  // matters when the next key is a prefix of prev: its end mark and padding may agree with
  // prev's next code for a byte or more).
  std::pair<std::size_t, std::uint64_t> resume_point(std::string_view prev, std::string_view prev_coded,
                                                     std::string_view next_coded) const noexcept {
    const std::size_t common = common_prefix_length(prev_coded, next_coded);
    std::uint64_t limit = std::uint64_t{common} * 8;
    if (!next_coded.empty()) limit = std::min(limit, content_bits(next_coded));
    std::uint64_t bit = 0;
    const auto* p = reinterpret_cast<const unsigned char*>(prev.data());
    const std::size_t n = prev.size();
    std::size_t keep = 0;
    for (; keep < n; ++keep) {
      const unsigned len = enc_[p[keep]] & 15u;
      if (bit + len > limit) break;
      bit += len;
    }
    return {keep, bit};
  }
  // Bits before the end mark of a (non-empty) coded form: the last byte's lowest 1 bit.
  static std::uint64_t content_bits(std::string_view coded) noexcept {
    const auto last = static_cast<unsigned char>(coded.back());
    return 8 * std::uint64_t{coded.size()} - 1 - static_cast<unsigned>(std::countr_zero(last));
  }

  // Bits of the codes of key's bytes (its coded form without the end mark).
  std::uint64_t code_bits(std::string_view key) const noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(key.data());
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < key.size(); ++i) bits += enc_[p[i]] & 15u;
    return bits;
  }
  // Bytes of key's coded form.
  std::size_t coded_bytes(std::string_view key) const noexcept {
    return static_cast<std::size_t>(code_bits(key) / 8 + 1);
  }

  // A coding in progress, for callers that code a key a few bytes at a time (HotArt's lookup
  // codes the search key while it waits for the trie's nodes).
  struct encoder {
    explicit encoder(char* out) noexcept : start(out), p(out) {}
    char* start;
    char* p;
    std::uint64_t acc = 0;  // pending bits, left-aligned
    unsigned n = 0;         // how many (< 8 between key bytes)
    std::size_t i = 0;      // key bytes coded so far
  };
  // Codes up to `count` more bytes of key.
  void encode_some(std::string_view key, encoder& e, std::size_t count) const noexcept {
    const std::size_t end = key.size() - e.i < count ? key.size() : e.i + count;
    std::uint64_t acc = e.acc;
    unsigned n = e.n;
    char* p = e.p;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    const std::uint32_t* enc = enc_;
    for (std::size_t i = e.i; i < end; ++i) {
      const std::uint32_t c = enc[k[i]];
      const unsigned len = c & 15u;
      acc |= std::uint64_t{c >> 4} << (64 - n - len);
      n += len;
      store_be(p, acc);
      p += n >> 3;
      acc <<= n & ~7u;
      n &= 7u;
    }
    e.acc = acc;
    e.n = n;
    e.p = p;
    e.i = end;
  }
  // Codes the rest of key and the end mark; returns the coded form's length.
  std::size_t encode_rest(std::string_view key, encoder& e) const noexcept {
    encode_some(key, e, key.size());
    store_be(e.p, e.acc | (std::uint64_t{1} << (63 - e.n)));  // the end mark
    return static_cast<std::size_t>(e.p - e.start) + 1;
  }

  // Writes key's coded form (coded_bytes(key) bytes) to out, which must have room for 8 bytes
  // more (it writes 8 bytes at a time); returns its length.
  std::size_t encode(std::string_view key, char* out) const noexcept {
    encoder e(out);
    return encode_rest(key, e);
  }

  // encode() into exactly coded_bytes(key) bytes at out (n: that count, when the caller has it).
  void encode_exact(std::string_view key, char* out) const { encode_exact(key, out, coded_bytes(key)); }
  void encode_exact(std::string_view key, char* out, std::size_t n) const {
    char local[264];
    if (key.size() <= 160) {  // <= 12 bits a byte: at most 241 bytes + 8
      encode(key, local);
      std::memcpy(out, local, n);
      return;
    }
    std::string heap(n + 8, '\0');
    encode(key, heap.data());
    std::memcpy(out, heap.data(), n);
  }

  // Whether `coded` is the coded form of key (without writing it anywhere).
  bool equals(std::string_view coded, std::string_view key) const noexcept {
    const auto* c = reinterpret_cast<const unsigned char*>(coded.data());
    const auto* const end = c + coded.size();
    std::uint64_t acc = 0;
    unsigned n = 0;
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    for (std::size_t i = 0; i < key.size(); ++i) {
      const std::uint32_t e = enc_[k[i]];
      acc = (acc << (e & 15u)) | (e >> 4);
      n += e & 15u;
      while (n >= 8) {
        n -= 8;
        if (c == end || *c != static_cast<unsigned char>(acc >> n)) return false;
        ++c;
      }
    }
    acc = (acc << 1) | 1u;
    ++n;
    const auto last = static_cast<unsigned char>(n == 8 ? acc : acc << (8 - n));
    return end - c == 1 && *c == last;
  }

  // How far the key whose coded form is `coded` (a non-empty result of encode) agrees with key,
  // decoding it only that far, from byte `from` on: the caller knows their first `from` bytes
  // are equal (from <= key.size()). Returns the length of their common prefix and the coded key's
  // byte there, or -1 when the coded key ends there; the two are equal exactly when common ==
  // key.size() and next == -1.
  struct mismatch {
    std::size_t common;
    int next;
  };
  mismatch mismatch_with(std::string_view coded, std::string_view key, std::size_t from) const noexcept {
    const auto* k = reinterpret_cast<const unsigned char*>(key.data());
    std::uint64_t pos = code_bits(key.substr(0, from));
    const std::uint64_t total = content_bits(coded);
    const bit_reader in(coded);
    const unsigned drop = 64 - max_;
    std::size_t i = from;
    while (pos < total) {
      const std::uint32_t e = dec_[in.window(pos) >> drop];
      // The entry's later bytes count only if their codes end before the end mark; the first
      // byte's code always does (a code that starts before the end mark is a byte of the key).
      unsigned count = ((e >> 24) & 3u) + 1, bits = e >> 26;
      if (pos + bits > total) {
        count = 1;
        bits = enc_[e & 0xffu] & 15u;
      }
      for (unsigned j = 0; j < count; ++j, ++i) {
        const unsigned b = (e >> (8 * j)) & 0xffu;
        if (i == key.size() || b != k[i]) return {i, static_cast<int>(b)};
      }
      pos += bits;
    }
    return {i, -1};
  }

  // Appends the key whose coded form is `coded` (a non-empty result of encode) to out; with
  // from > 0, only its bytes whose codes start at bit `from` or later (a byte boundary of the
  // code: see resume_point).
  void decode(std::string_view coded, std::string& out, std::uint64_t from = 0) const {
    const std::size_t n = coded.size();
    if (n == 0) return;
    const bit_reader in(coded);
    const std::uint64_t total = content_bits(coded);
    const std::size_t at = out.size();
    out.resize(at + total / min_ + 3);  // at most a byte per shortest code, + 3 of slack
    char* o = out.data() + at;
    const unsigned max_bits = max_;  // locals: the char stores below could alias members
    const unsigned drop = 64 - max_bits;
    const std::uint32_t* dec = dec_;
    std::uint64_t pos = from;
    // Whole windows of >= 57 bits, up to three bytes a step, while a whole entry surely fits
    // before the end mark (pos + used + max_bits <= total).
    if (total >= max_bits) {
      const std::uint64_t last_start = total - max_bits;
      while (pos <= last_start) {
        std::uint64_t win = in.window(pos);
        unsigned used = 0;
        const unsigned room = 57 - max_bits;
        do {
          const std::uint32_t e = dec[win >> drop];
          o[0] = static_cast<char>(e & 0xff);  // the first byte
          o[1] = static_cast<char>((e >> 8) & 0xff);  // the second and third, if any
          o[2] = static_cast<char>((e >> 16) & 0xff);
          o += 1 + ((e >> 24) & 3u);
          win <<= e >> 26;
          used += e >> 26;
        } while (used <= room && pos + used <= last_start);
        pos += used;
      }
    }
    // The last few bits: one byte a step.
    while (pos < total) {
      const std::uint32_t e = dec[in.window(pos) >> drop];
      *o++ = static_cast<char>(e & 0xff);
      pos += enc_[e & 0xffu] & 15u;
    }
    out.resize(static_cast<std::size_t>(o - out.data()));
  }

private:
  // A coded form read 64 bits at a time, in place: window(pos) is the 64 bits from bit pos, most
  // significant first (at least 57 of them from the coded form, then zeros). Loads that would
  // read past its end read a copy of its last 8 bytes with zeros after them.
  class bit_reader {
  public:
    explicit bit_reader(std::string_view coded) noexcept
        : c_(reinterpret_cast<const unsigned char*>(coded.data())), n_(coded.size()),
          tail_at_(n_ > 8 ? n_ - 8 : 0) {
      std::memcpy(tail_, c_ + tail_at_, n_ - tail_at_);
    }
    std::uint64_t window(std::uint64_t pos) const noexcept {
      const auto q = static_cast<std::size_t>(pos >> 3);
      return (q + 8 <= n_ ? load_be(c_ + q) : load_be(tail_ + (q - tail_at_))) << (pos & 7);
    }

  private:
    const unsigned char* c_;
    std::size_t n_;
    std::size_t tail_at_;
    unsigned char tail_[16] = {};
  };

  static void store_be(char* p, std::uint64_t v) noexcept {
    if constexpr (std::endian::native == std::endian::little) v = byteswap(v);
    std::memcpy(p, &v, 8);
  }
  static std::uint64_t load_be(const unsigned char* p) noexcept {
    std::uint64_t v;
    std::memcpy(&v, p, 8);
    if constexpr (std::endian::native == std::endian::little) v = byteswap(v);
    return v;
  }
  static std::uint64_t byteswap(std::uint64_t v) noexcept {
#if defined(__GNUC__) || defined(__clang__)
    return __builtin_bswap64(v);
#else
    std::uint64_t r = 0;
    for (int i = 0; i < 8; ++i, v >>= 8) r = (r << 8) | (v & 0xff);
    return r;
#endif
  }

  // Plain arrays, indexed through pointers in the loops: unoptimized (Debug, sanitizer) builds
  // then run them without a function call per byte.
  std::uint32_t enc_[256] = {};                              // code << 4 | length
  // By the next max_ bits: the bytes whose codes fill them, up to three (first byte in bits 0-7,
  // then 8-15, 16-23) | (count - 1) << 24 | their code lengths' sum << 26.
  std::uint32_t dec_[1u << fst::max_code_length] = {};
  unsigned max_ = 8;  // longest code
  unsigned min_ = 8;  // shortest code
};

}  // namespace memkv::detail
