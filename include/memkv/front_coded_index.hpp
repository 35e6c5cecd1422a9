// memkv/front_coded_index.hpp - FrontCodedIndex: an immutable, sorted, front-coded string map.
//
// An immutable map from byte-string keys to trivially copyable values (default std::uint64_t),
// built once from keys in strictly increasing order, stored as one serialized image that can be
// saved, memory-mapped and queried in place. FrontCodedIndex<memkv::keys_only> (alias
// FrontCodedSet) stores no values: every key maps to its rank, its 0-based position in key order.
// Values are copied into the image byte for byte: a V with padding bytes puts whatever those bytes
// hold into the image (and into saved files), so give such a V explicit, zeroed padding members.
//
//   FrontCodedIndex<V>::builder b(bucket_size = 32, coding = fci_coding::automatic);
//   b.insert(key, value);                 // keys_only: b.insert(key); strictly increasing keys,
//   FrontCodedIndex<V> idx = b.finish();  // else memkv::error naming the position
//   FrontCodedIndex<V>::build(range, bucket_size, coding)  // range of pairs (.first, .second);
//                                         // keys_only also takes a range of keys
//   get(k) -> optional<V>   contains(k)   rank(k) -> optional<size_t>   nth(i) -> {string, V}
//   get_many(keys, out)   rank_many(keys, out[, on_found])   // batches, searches interleaved
//   at_rank(i) -> iterator  size() empty() memory_usage() bucket_size() coding()
//   begin() end() lower_bound(k) prefix(p) range(lo, hi)   // range_type = std::ranges::subrange
//   bytes() save(path) open(path) from_bytes(span|vector&&) view_bytes(span) check_invariants()
//
// Loading: open(path) maps the file read-only (no copy); from_bytes(span) COPIES the bytes;
// from_bytes(std::vector&&) takes the vector; view_bytes(span) VIEWS them (the caller keeps
// them alive and unchanged). All four validate the image as described below.
//
// ---- Image layout (little-endian; every offset and length is validated at load) ------------
//
//   offset 0   memkv image header, 48 bytes (memkv/core/file_io.hpp): magic "MMKVFCI1",
//              version 1, flags 0, total length, key count n, XXH64 of the payload, XXH64 of
//              the header
//   offset 48  params, 24 bytes:
//                u32 bucket_size b (1..65536)      u32 value_size (sizeof(V); 0 = keys_only)
//                u8 offset_width (4 | 8)           u8 coding (0 raw | 1 huffman)
//                u16 0, u32 0 (reserved)           u64 body_size
//   [coding 1] 256 bytes: Huffman code length of each byte value (0 = unused, 1..11)
//   offsets    (buckets + 1) x offset_width: start of each bucket in the body; the last = body_size
//   values     n x value_size bytes, in key order (memcpy'd, so native representation of V)
//   body       the buckets, ceil(n / b) of them, b keys each (the last one may hold fewer):
//                struct bucket {
//                  varint head_len; byte head[head_len];   // first key, whole and raw
//                  varint meta_size;                       // bytes of meta[]
//                  struct { varint lcp;                    // bytes shared with the previous key
//                           varint code_len; } meta[count - 1];  // remainder: bytes (raw) or bits
//                  byte data[];  // the remainders, concatenated: raw bytes, or one LSB-first
//                };              // Huffman bitstream zero-padded to a byte
//   padding    8 zero bytes (so 8-byte unaligned bit-reader loads never leave the image)
//
// Built at load, in memory (16 bytes a bucket, counted by memory_usage()): the search tree over
// the heads, in Eytzinger (BFS) order so that a node's four grandchildren share one cache line,
// prefetched two levels ahead:
//   struct search_node { u64 window << 16 | skip;  // a query reaching this node lies strictly
//                                                  // between its ancestors' heads, so shares
//                                                  // their lcp (skip bytes) with this head; the
//                                                  // window = the next 6 head bytes, big-endian
//                        u32 bucket; u32 offset; } // the head's bucket and its body offset
// A step compares the query's 6 bytes at depth skip with the window: URL heads share ~20-byte
// prefixes, which a plain first-bytes array could not see past. The head itself is read only
// when the windows are equal (~3 times a query on npm-urls, mostly the cached top levels).
// Each right turn prefetches its bucket's head line: the last right turn is the bucket.

// ---- Algorithms and costs (b = bucket size, L = key length) ---------------------------------
//   get/contains/rank/lower_bound: log2(n/b) node probes (16-byte nodes), then one bucket,
//     whose lines are prefetched together: a forward scan that skips a key without
//     decoding it when its lcp exceeds the bytes matched so far, stops when the lcp is smaller,
//     and otherwise decodes the remainder only up to its first byte differing from the query.
//     O(log(n/b) + b + L).
//   get_many/rank_many: the same per key, up to 16 searches at a time, one step of each in turn
//     (a tree level, or the bucket scan once its lines were asked for), so that their cache
//     misses overlap. The bucket scan (remainder decoding) is compute and gains nothing, so the
//     gain is smaller than FrozenLayer's. Scratch program, npm-urls, every key in random order,
//     get() against get_many() in spans of 1,024, best of 5, two runs: 1,685,458 keys (34.4 MB
//     image) 667/668 -> 533/516 ns a key; 100,000 of them (2.3 MB, in cache) 483/507 -> 432/444.
//     memkv-micro lookup_hit vs lookup_hit_many, front-coded/urls: 1.94 -> 2.05 M keys/s.
//   iteration: O(1) amortized per key plus its remainder; the iterator owns the current key.
//   nth(i)/at_rank(i): O(b + L). build: O(total key bytes), two encodings compared (automatic).
//   load: O(image): header + payload checksums (XXH64, ~10 GB/s; off with verify_checksum =
//     false), then the structural pass that decodes every key once (~the cost of a full scan).
//
// ---- Validation: what load checks (any byte sequence loads correctly or throws format_error) --
//   header magic/version/length/checksums; params ranges, reserved bytes zero, value_size ==
//   sizeof(V); every section fits (sizes checked before any multiplication), body_size + 8 zero
//   padding bytes end the image exactly; offsets start at 0, strictly increase, end at body_size;
//   Huffman lengths form a prefix code (Kraft sum <= 1, lengths <= 11); in every bucket: head
//   and meta inside the bucket, exactly count - 1 meta pairs filling meta_size, lcp <= previous
//   key length, code_len > 0 and inside the data, every Huffman code valid and ending exactly at
//   code_len, data fully used (padding bits zero); keys strictly increasing, inside buckets
//   (remainder's first byte > previous key's byte at lcp, unless the previous key is a prefix)
//   and across them (head > previous bucket's last key). After this pass queries use
//   non-throwing decoders that rely on these facts; every read stays inside the image.
//   The builder's own images skip this pass in NDEBUG builds (they are correct by construction).
//
// ---- Guarantees ----------------------------------------------------------------------------
//   Immutable: every const member may run concurrently. Iterators and ranges stay valid while
//   the index (or a moved-to index: they point at its heap core) lives; an entry's key stays
//   valid until its iterator moves on. Exceptions: memkv::error (builder misuse, I/O),
//   memkv::format_error (bad images; the message names the offset, open() adds the path),
//   std::bad_alloc passes through; a failed builder insert leaves the builder usable only for
//   destruction. nth() throws memkv::error for i >= size().
//   Copying copies (and re-validates) the image; moving is noexcept and leaves the source
//   empty (default-constructed and moved-from indexes share one static empty image).
//
// ---- Limits --------------------------------------------------------------------------------
//   bucket size 1..65536; sizeof(V) <= 65536; keys of any length (tested to 16 MiB); offsets
//   switch to 8 bytes when the body exceeds 4 GiB. On big-endian machines images are portable
//   but V is stored in native representation. Values are not validated: with untrusted images,
//   use a V for which every bit pattern is valid (integers, arrays of bytes; not bool or enums).
//   A file truncated by another process while mapped raises SIGBUS (as with any mmap reader);
//   save() itself replaces files atomically.
//
// ---- Size: what was tried (npm-urls, 1,685,458 keys, 74,946,161 raw bytes, keys_only) -------
//   image size / raw key bytes, by bucket size b and remainder coding (scratch measure program,
//   g++ -O3; sizes are exact, deterministic):
//                       b=8     b=16    b=32    b=64
//     raw remainders    0.481x  0.434x  0.411x  0.399x   (plain front coding, varint metadata)
//     Huffman           0.363x  0.307x  0.279x  0.265x   (kept: the default, coding=automatic)
//   npm-names (4,499,322 keys, avg 20 B), Huffman: b=8 0.481x, b=16 0.421x, b=32 0.391x,
//   b=64 0.376x. Synthetic URL-like keys (1M, avg 41 B): raw 0.409x, Huffman 0.291x at b=16.
//   Where the bytes go on npm-urls, Huffman (bytes per key), b=16 | b=32: heads + framing
//   2.90 | 1.45, metadata 1.97 | 2.04, remainder bits 8.54 | 8.78 (4.8 bits a byte instead of
//   8), bucket offsets 0.25 | 0.13. memory_usage() adds the 16-byte search nodes: 0.330x at
//   b=16, 0.290x at b=32 (npm-names: 0.471x, 0.416x).
//   - Varint metadata: lcp < 128 for 99.998% of keys, so one byte; packing lcp and length into
//     one byte (both < 16) would fit only 0.1% of URL keys: not done.
//   - Huffman over the remainder bytes (one static code per image, length-limited to 11 bits,
//     table-decoded several symbols per 64-bit load): -29% at b=16, -32% at b=32. Kept; the
//     builder keeps raw when Huffman saves less than 2% (e.g. random binary keys). Heads stay
//     raw so that a search compares them with memcmp.
//   - Bucket size, measured (CPU time, 300k shuffled hits, median of 5 interleaved rounds, ratio
//     to a sorted std::vector<std::string> + lower_bound in the same run, 2-vCPU VM under load):
//       npm-urls   b=8 2.44x, b=16 2.55x, b=32 2.58x, b=64 2.44x; scan 850-920 MB/s of keys
//       npm-names  b=8 2.50x, b=16 2.44x, b=32 2.60x, b=64 2.51x; scan 570-620 MB/s
//     Lookups are bound by the tree descent (~60% of the time), not the bucket scan, so b=32
//     costs no speed and saves 9-12%: it is the default.
//   - memkv-compare (bench/, 8-byte values, default b=32; 2026-12-01, 2 vCPUs with one other
//     benchmark running; medians of 3; query keys laid out in lookup order, see bench/README.md):
//       npm-urls: image 34.4 MB = 0.459x raw (keys 0.279x + 8 B/key of values), -23.6 B/key;
//       lookups 2.69x (values = rank) and 3.03x (hash64) the sorted vector, misses 3.1-3.2x;
//       FrontCodedSet (keys only) 20.9 MB = 0.279x raw, lookups 3.52x.
//       npm-names: 0.791x raw with values, 0.391x keys only; lookups 2.69x, 2.94x, set 4.16x.
//     A third npm-urls run, with compiles and profiling beside it, gave 2.40x and 2.27x.
//     Before the harness laid the query keys out in order (each lookup then also paid two cache
//     misses of the harness), the same index measured 1.60x and 1.88x on a quiet machine.
//   - Search: a plain binary search over heads via the offsets array measured 1.4-2.0x the
//     vector; the window nodes, then Eytzinger order with the bucket offset in the node (which
//     removed a dependent miss on the offsets array), brought it to ~2.5x.
//   Not tried (time): Huffman-coding heads and metadata (~1.9 B/key more at b=16), Re-Pair/BPE
//   tokens, a B-tree-shaped node layout (fewer cache lines than Eytzinger).
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <compare>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <queue>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "memkv/core/entry.hpp"
#include "memkv/core/error.hpp"
#include "memkv/core/file_io.hpp"
#include "memkv/core/prefetch.hpp"
#include "memkv/core/varint.hpp"

namespace memkv {

// Tag: FrontCodedIndex<keys_only> stores no values; every key maps to its rank (0-based
// position in key order), so get() returns the rank and iteration yields it as .value.
struct keys_only {};

// How FrontCodedIndex stores the bytes of each key that front coding leaves (the remainders).
enum class fci_coding : std::uint8_t {
  raw = 0,      // plain bytes
  huffman = 1,  // one canonical Huffman code over all remainder bytes, at most 11 bits a symbol
  automatic = 255,  // builder only: the smaller of the two (Huffman unless it saves < 2%)
};

struct fci_open_options {
  // Verify the XXH64 checksums of the header and the payload: O(image) at ~10 GB/s.
  // Structural validation is always done (it is what keeps every query in bounds and every
  // answer consistent), so turning this off only stops detecting bit flips that leave a
  // structurally valid image (the fuzz target turns it off to reach the structural checks).
  bool verify_checksum = true;
};

namespace detail::fci {

inline constexpr std::uint64_t magic = 0x3149434656'4B4D4DULL;  // "MMKVFCI1" little-endian
inline constexpr std::uint32_t format_version = 1;
inline constexpr std::size_t params_size = 24;        // bytes after the 48-byte image header
inline constexpr std::size_t tail_padding = 8;        // zero bytes after the body
inline constexpr unsigned max_code_len = 11;          // Huffman codes: 1..11 bits
inline constexpr std::size_t table_size = std::size_t{1} << max_code_len;
inline constexpr std::uint32_t max_bucket_size = 1u << 16;
inline constexpr std::uint32_t max_value_size = 1u << 16;

// ---- Huffman code construction (builder side) ----------------------------------------------

// Code lengths (0 = symbol unused) of a length-limited Huffman code for `freq`. When the optimal
// code is deeper than max_code_len the frequencies are halved (keeping them >= 1) and the code
// rebuilt: with 256 symbols and an 11-bit limit this loses well under 1%.
inline std::array<std::uint8_t, 256> huffman_lengths(std::array<std::uint64_t, 256> freq) {
  std::array<std::uint8_t, 256> len{};
  std::vector<int> used;
  for (int s = 0; s < 256; ++s)
    if (freq[s]) used.push_back(s);
  if (used.empty()) return len;
  if (used.size() == 1) {
    len[used[0]] = 1;
    return len;
  }
  for (;;) {
    // nodes 0..255 are leaves; parents follow
    std::vector<std::uint64_t> weight(freq.begin(), freq.end());
    std::vector<int> parent(256, -1);
    using item = std::pair<std::uint64_t, int>;
    std::priority_queue<item, std::vector<item>, std::greater<item>> pq;
    for (int s : used) pq.push({freq[s], s});
    while (pq.size() > 1) {
      auto [wa, a] = pq.top();
      pq.pop();
      auto [wb, b] = pq.top();
      pq.pop();
      const int p = static_cast<int>(weight.size());
      weight.push_back(wa + wb);
      parent.push_back(-1);
      parent[a] = p;
      parent[b] = p;
      pq.push({wa + wb, p});
    }
    unsigned deepest = 0;
    for (int s : used) {
      unsigned d = 0;
      for (int x = s; parent[x] >= 0; x = parent[x]) ++d;
      len[s] = static_cast<std::uint8_t>(std::min(d, 255u));
      deepest = std::max(deepest, d);
    }
    if (deepest <= max_code_len) return len;
    for (int s : used) freq[s] = (freq[s] >> 1) | 1;
  }
}

// Canonical codes (bit-reversed, for an LSB-first stream) from code lengths.
inline std::array<std::uint16_t, 256> canonical_codes(const std::array<std::uint8_t, 256>& len) {
  std::array<std::uint16_t, 256> code{};
  unsigned next = 0, prev_len = 0;
  for (unsigned l = 1; l <= max_code_len; ++l) {
    for (unsigned s = 0; s < 256; ++s) {
      if (len[s] != l) continue;
      next <<= (l - prev_len);
      prev_len = l;
      unsigned rev = 0;
      for (unsigned i = 0; i < l; ++i) rev |= ((next >> i) & 1u) << (l - 1 - i);
      code[s] = static_cast<std::uint16_t>(rev);
      ++next;
    }
  }
  return code;
}

// Decode table: entry = symbol | (code length << 8); 0 length = no code starts with these bits.
// Returns false if the lengths over-subscribe the code space (not a prefix code).
inline bool build_decode_table(const std::array<std::uint8_t, 256>& len,
                               std::array<std::uint16_t, table_size>& table) {
  table.fill(0);
  std::uint64_t kraft = 0;
  for (unsigned s = 0; s < 256; ++s) {
    if (len[s] > max_code_len) return false;
    if (len[s]) kraft += table_size >> len[s];
  }
  if (kraft > table_size) return false;
  const auto code = canonical_codes(len);
  for (unsigned s = 0; s < 256; ++s) {
    const unsigned l = len[s];
    if (!l) continue;
    for (std::size_t i = code[s]; i < table_size; i += std::size_t{1} << l)
      table[i] = static_cast<std::uint16_t>(s | (l << 8));
  }
  return true;
}

// LSB-first bit writer.
class bit_writer {
public:
  explicit bit_writer(std::vector<std::byte>& out) : out_(out) {}
  void put(std::uint32_t bits, unsigned n) {
    acc_ |= static_cast<std::uint64_t>(bits) << fill_;
    fill_ += n;
    while (fill_ >= 8) {
      out_.push_back(static_cast<std::byte>(acc_ & 0xff));
      acc_ >>= 8;
      fill_ -= 8;
    }
  }
  void flush() {
    if (fill_) out_.push_back(static_cast<std::byte>(acc_ & 0xff));
    acc_ = 0;
    fill_ = 0;
  }

private:
  std::vector<std::byte>& out_;
  std::uint64_t acc_ = 0;
  unsigned fill_ = 0;
};

// ---- the loaded index ----------------------------------------------------------------------

// One node of the search tree over the bucket heads, kept in Eytzinger (BFS) order: node k has
// children 2k and 2k+1, so the four grandchildren of a node share one cache line and are
// prefetched two levels ahead. A query reaches node k only while it lies strictly between the
// heads of k's nearest left and right ancestors, so it shares their common prefix (length
// `skip`, 0 when an ancestor is missing or the prefix is 65536 bytes or more) with the node's
// head. The node keeps the 6 head bytes after that prefix, big-endian and zero-padded:
// comparing them with the query's 6 bytes at the same depth decides the step without touching
// the body, unless they are equal. It also keeps the bucket's offset, so that the search can
// prefetch a bucket as soon as it turns right at its node.
struct alignas(16) search_node {
  std::uint64_t window_skip;  // window (6 bytes, big-endian) << 16 | skip
  std::uint32_t bucket;       // the bucket whose head this is
  std::uint32_t offset;       // its offset in the body (offset_width 4; else 0, unused)
  std::size_t skip() const noexcept { return static_cast<std::size_t>(window_skip & 0xffff); }
  std::uint64_t window() const noexcept { return window_skip & ~std::uint64_t{0xffff}; }
};
static_assert(sizeof(search_node) == 16);

// 8 bytes of s from `at`, big-endian, zero-padded.
inline std::uint64_t window_at(std::string_view s, std::size_t at) noexcept {
  if (at >= s.size()) return 0;
  const std::size_t left = s.size() - at;
  std::uint64_t w = 0;
  if (left >= 8) {
    std::memcpy(&w, s.data() + at, 8);
    if constexpr (std::endian::native == std::endian::little) w = __builtin_bswap64(w);
    return w;
  }
  for (std::size_t i = 0; i < 8; ++i)
    w = (w << 8) | (i < left ? static_cast<unsigned char>(s[at + i]) : 0u);
  return w;
}

// Everything a query needs. Heap-allocated once per index so that iterators (which point to it)
// survive moves of the FrontCodedIndex object.
struct core {
  io::byte_source source;
  const std::byte* image = nullptr;
  std::size_t image_size = 0;
  std::uint64_t n = 0;             // keys
  std::uint64_t buckets = 0;       // ceil(n / bucket_size)
  std::uint32_t bucket_size = 16;
  std::uint32_t value_size = 0;
  std::uint8_t offset_width = 4;   // 4 or 8
  fci_coding coding = fci_coding::raw;
  const std::byte* offsets = nullptr;  // (buckets + 1) offsets into body
  const std::byte* values = nullptr;   // n * value_size bytes
  const std::byte* body = nullptr;
  std::size_t body_size = 0;
  std::array<std::uint8_t, 256> code_len{};
  std::array<std::uint16_t, table_size> table{};
  unsigned min_code_len = 1;  // shortest code: decoded bytes <= code bits / min_code_len
  // The search tree over the bucket heads, built at load (16 bytes a bucket, see search_node):
  // nodes[1..buckets], nodes 64-byte aligned inside node_storage.
  std::vector<search_node> node_storage;
  const search_node* nodes = nullptr;

  std::size_t bucket_begin(std::uint64_t k) const noexcept {
    return offset_width == 4 ? io::load_le<std::uint32_t>(offsets + 4 * k)
                             : static_cast<std::size_t>(io::load_le<std::uint64_t>(offsets + 8 * k));
  }
  std::uint32_t bucket_count(std::uint64_t k) const noexcept {
    return k + 1 < buckets ? bucket_size
                           : static_cast<std::uint32_t>(n - (buckets - 1) * std::uint64_t{bucket_size});
  }
  // Reads `nbits` bits at bit offset `pos` of the stream starting at `base`. The 8-byte load
  // stays inside the image thanks to the tail padding (validated at open).
  std::uint32_t peek(const std::byte* base, std::uint64_t pos) const noexcept {
    const std::uint64_t w = io::load_le<std::uint64_t>(base + (pos >> 3));
    return static_cast<std::uint32_t>(w >> (pos & 7)) & static_cast<std::uint32_t>(table_size - 1);
  }
};

// A bucket's parsed framing:
//   varint head_len | head bytes | varint meta_size | meta: (count-1) x (varint lcp, varint
//   code_len) | data: the remainders (raw bytes, or one LSB-first Huffman bitstream, zero-padded
//   to a byte)
struct bucket_view {
  const std::byte* head;
  std::size_t head_len;
  const std::byte* meta;      // next (lcp, code_len) pair
  const std::byte* meta_end;
  const std::byte* data;      // start of the remainder data
  const std::byte* end;       // end of the bucket
};

// Unchecked framing parse, used after validation (the varint decoder itself stays in bounds).
inline bucket_view open_bucket(const core& c, std::uint64_t k) noexcept {
  const std::byte* p = c.body + c.bucket_begin(k);
  const std::byte* end = c.body + c.bucket_begin(k + 1);
  bucket_view b{};
  std::uint64_t v = 0;
  io::try_decode_varint(p, end, v);
  b.head = p;
  b.head_len = static_cast<std::size_t>(v);
  p += v;
  io::try_decode_varint(p, end, v);
  b.meta = p;
  b.meta_end = p + v;
  b.data = b.meta_end;
  b.end = end;
  return b;
}

// Next (lcp, code_len) of a validated bucket.
inline void next_meta(bucket_view& b, std::uint64_t& lcp, std::uint64_t& code_len) noexcept {
  io::try_decode_varint(b.meta, b.meta_end, lcp);
  io::try_decode_varint(b.meta, b.meta_end, code_len);
}

// Appends a remainder to `out` (raw: code_len bytes; Huffman: the symbols of code_len bits).
// `pos` is the position in the data stream (bytes for raw, bits for Huffman) and is advanced.
// Returns the number of bytes appended. `out` must have room for code_len bytes (an upper bound
// either way, every code being at least one bit long).
inline std::size_t decode_remainder(const core& c, const bucket_view& b, std::uint64_t& pos,
                                    std::uint64_t code_len, char* out) noexcept {
  if (c.coding == fci_coding::raw) {
    std::memcpy(out, b.data + pos, code_len);
    pos += code_len;
    return static_cast<std::size_t>(code_len);
  }
  const std::uint64_t stop = pos + code_len;
  char* o = out;
  // several symbols per 64-bit load: 64 - 7 bits are usable after the byte-aligned load
  while (pos < stop) {
    std::uint64_t w = io::load_le<std::uint64_t>(b.data + (pos >> 3)) >> (pos & 7);
    unsigned avail = 64 - static_cast<unsigned>(pos & 7);
    while (avail >= max_code_len && pos < stop) {
      const std::uint16_t e = c.table[w & (table_size - 1)];
      const unsigned l = e >> 8;
      *o++ = static_cast<char>(e & 0xff);
      w >>= l;
      avail -= l;
      pos += l;
    }
  }
  return static_cast<std::size_t>(o - out);
}

// Compares a remainder with `q` (the rest of the query), decoding no more than needed.
// Returns <0, 0, >0 as remainder <=> q; `common` receives their common prefix length.
// `pos` is advanced past the whole remainder.
inline int compare_remainder(const core& c, const bucket_view& b, std::uint64_t& pos,
                             std::uint64_t code_len, std::string_view q,
                             std::size_t& common) noexcept {
  const std::uint64_t stop = pos + code_len;
  if (c.coding == fci_coding::raw) {
    const std::size_t m = static_cast<std::size_t>(std::min<std::uint64_t>(code_len, q.size()));
    const char* r = reinterpret_cast<const char*>(b.data + pos);
    pos = stop;
    std::size_t i = 0;
    while (i < m && r[i] == q[i]) ++i;
    common = i;
    if (i < m) return static_cast<unsigned char>(r[i]) < static_cast<unsigned char>(q[i]) ? -1 : 1;
    return code_len < q.size() ? -1 : (code_len > q.size() ? 1 : 0);
  }
  std::size_t i = 0;
  while (pos < stop) {
    const std::uint16_t e = c.table[c.peek(b.data, pos)];
    pos += e >> 8;
    if (i == q.size()) {  // q is a proper prefix of the remainder
      common = i;
      pos = stop;
      return 1;
    }
    const auto sym = static_cast<unsigned char>(e & 0xff);
    const auto qc = static_cast<unsigned char>(q[i]);
    if (sym != qc) {
      common = i;
      pos = stop;
      return sym < qc ? -1 : 1;
    }
    ++i;
  }
  common = i;
  return i < q.size() ? -1 : 0;
}

inline int compare_bytes(std::string_view a, std::string_view b) noexcept {
  const std::size_t m = std::min(a.size(), b.size());
  if (m) {
    const int r = std::memcmp(a.data(), b.data(), m);
    if (r) return r;
  }
  return a.size() < b.size() ? -1 : (a.size() > b.size() ? 1 : 0);
}

inline std::size_t common_prefix(std::string_view a, std::string_view b) noexcept {
  const std::size_t m = std::min(a.size(), b.size());
  std::size_t i = 0;
  while (i + 8 <= m) {
    std::uint64_t x, y;
    std::memcpy(&x, a.data() + i, 8);
    std::memcpy(&y, b.data() + i, 8);
    if (x != y) {
      if constexpr (std::endian::native == std::endian::little)
        return i + static_cast<std::size_t>(std::countr_zero(x ^ y) >> 3);
      break;
    }
    i += 8;
  }
  while (i < m && a[i] == b[i]) ++i;
  return i;
}

// Result of a search: `rank` is the lower bound (first key >= q); found says key == q.
struct search_result {
  std::uint64_t rank;
  bool found;
};

// One level of the descent of the Eytzinger tree (see the doc comment): node k compared with q,
// k moves to the child the query goes to. Returns true when q equals node k's head (hit is set).
inline bool descend_one(const core& c, std::string_view q, std::uint64_t& k, search_result& hit) noexcept {
  const search_node* nodes = c.nodes;
  // the 4 grandchildren of k: one line (prefetch never faults; no pointer is formed)
  detail::prefetch(reinterpret_cast<const void*>(reinterpret_cast<std::uintptr_t>(nodes) + 64 * k));
  const search_node& nd = nodes[k];
  const std::uint64_t qw = window_at(q, nd.skip()) & ~std::uint64_t{0xffff};
  bool right;
  if (qw != nd.window()) {
    right = qw > nd.window();
  } else {
    const bucket_view hb = open_bucket(c, nd.bucket);
    const int r = compare_bytes({reinterpret_cast<const char*>(hb.head), hb.head_len}, q);
    if (r == 0) {
      hit = {std::uint64_t{nd.bucket} * c.bucket_size, true};
      return true;
    }
    right = r < 0;
  }
  if (right) detail::prefetch(c.body + nd.offset);  // maybe our bucket: its head line
  k = 2 * k + (right ? 1 : 0);
  return false;
}

// After the descent (k > buckets): the node of the query's bucket, the last where it went right,
// or 0 when the query is below the first head.
inline std::uint64_t bucket_node(std::uint64_t k) noexcept { return k >> (std::countr_zero(k) + 1); }

// Asks for the lines of node k's bucket that its scan reads (and, want_value, its values).
template <bool want_value>
inline void prefetch_bucket(const core& c, std::uint64_t k) noexcept {
  const std::uint64_t lo = c.nodes[k].bucket;
  if (c.offset_width == 4) {  // the bucket's other lines are read next: ask for them at once
    const auto p = reinterpret_cast<std::uintptr_t>(c.body + c.nodes[k].offset);
    for (int i = 1; i < 6; ++i) detail::prefetch(reinterpret_cast<const void*>(p + 64 * i));
  }
  if constexpr (want_value) {
    const auto v = reinterpret_cast<std::uintptr_t>(c.values) + lo * c.bucket_size * c.value_size;
    const std::size_t span = std::min<std::size_t>(std::size_t{c.bucket_size} * c.value_size, 512);
    for (std::size_t i = 0; i < span; i += 64) detail::prefetch(reinterpret_cast<const void*>(v + i));
  }
}

// The scan of node k's bucket (k != 0) for q, which lies between its head and the next one.
inline search_result scan_bucket(const core& c, std::uint64_t k, std::string_view q) noexcept {
  const std::uint64_t lo = c.nodes[k].bucket;
  bucket_view b = open_bucket(c, lo);
  const std::string_view head{reinterpret_cast<const char*>(b.head), b.head_len};
  if (head == q) return {lo * c.bucket_size, true};
  // invariant: the current key < q and shares exactly m bytes with q
  std::size_t m = common_prefix(head, q);
  const std::uint32_t count = c.bucket_count(lo);
  std::uint64_t pos = 0;
  for (std::uint32_t j = 1; j < count; ++j) {
    std::uint64_t lcp = 0, code_len = 0;
    next_meta(b, lcp, code_len);
    if (lcp > m) {  // same byte as the previous key at position m: still < q
      pos += code_len;
      continue;
    }
    if (lcp < m) return {lo * c.bucket_size + j, false};  // bigger byte at position lcp: > q
    std::size_t common = 0;
    const int r = compare_remainder(c, b, pos, code_len, q.substr(m), common);
    if (r == 0) return {lo * c.bucket_size + j, true};
    if (r > 0) return {lo * c.bucket_size + j, false};
    m += common;
  }
  return {lo * c.bucket_size + count, false};
}

// Binary search over the bucket heads, then a scan inside one bucket (see the doc comment).
// want_value: also prefetch the bucket's values (get() reads one of them next).
template <bool want_value = false>
inline search_result search(const core& c, std::string_view q) noexcept {
  if (c.n == 0) return {0, false};
  std::uint64_t k = 1;
  search_result hit{0, false};
  while (k <= c.buckets)
    if (descend_one(c, q, k, hit)) return hit;
  k = bucket_node(k);
  if (k == 0) return {0, false};
  prefetch_bucket<want_value>(c, k);
  return scan_bucket(c, k, q);
}

// search() of every query, up to 16 at a time, a step of each in turn (one tree level, or the
// bucket scan once the bucket's lines were asked for), so that their cache misses overlap.
// done(i, result) is called as query i's search ends.
template <bool want_value, class Done>
inline void search_many(const core& c, std::span<const std::string_view> qs, Done&& done) {
  if (c.n == 0) {
    for (std::size_t i = 0; i < qs.size(); ++i) done(i, search_result{0, false});
    return;
  }
  struct lane {
    std::uint64_t k;
    std::size_t who;
    bool scan;  // the descent is over: k is the bucket's node
  };
  interleave<16, lane>(
      qs.size(),
      [&](lane& x, std::size_t i) {
        detail::prefetch(qs[i].data());
        x = {1, i, false};
      },
      [&](lane& x) {
        const std::string_view q = qs[x.who];
        search_result res{0, false};
        if (x.scan) {
          res = scan_bucket(c, x.k, q);
        } else if (!descend_one(c, q, x.k, res)) {
          if (x.k <= c.buckets) return false;
          x.k = bucket_node(x.k);
          if (x.k != 0) {
            prefetch_bucket<want_value>(c, x.k);
            x.scan = true;
            return false;
          }
          // below the first head: res = {0, false}
        }
        done(x.who, res);
        return true;
      });
}

inline std::string_view head_of(const core& c, std::uint64_t k) noexcept {
  const bucket_view b = open_bucket(c, k);
  return {reinterpret_cast<const char*>(b.head), b.head_len};
}

// Fills c.nodes (see search_node): in-order numbering of the Eytzinger tree gives each node its
// bucket, then each node's window is taken after the lcp of its ancestors' heads.
inline void build_search_nodes(core& c) {
  const std::uint64_t nb = c.buckets;
  c.node_storage.assign(static_cast<std::size_t>(nb + 1 + 4), search_node{0, 0, 0});
  auto addr = reinterpret_cast<std::uintptr_t>(c.node_storage.data());
  const std::size_t shift = ((64 - addr % 64) % 64) / sizeof(search_node);
  search_node* nodes = c.node_storage.data() + shift;
  c.nodes = nodes;
  if (nb == 0) return;
  if (nb > 0xffffffffu) memkv::detail::throw_format_error("FrontCodedIndex: more than 2^32 buckets");
  // pass 1: in-order numbering (iterative: walk left, visit, go right)
  {
    std::vector<std::uint64_t> stack;
    std::uint64_t k = 1, next = 0;
    while (k <= nb || !stack.empty()) {
      while (k <= nb) {
        stack.push_back(k);
        k *= 2;
      }
      k = stack.back();
      stack.pop_back();
      nodes[k].bucket = static_cast<std::uint32_t>(next++);
      k = 2 * k + 1;
    }
  }
  // pass 2: windows, with the bounds of each node (UINT64_MAX = none)
  constexpr std::uint64_t none = ~std::uint64_t{0};
  struct frame { std::uint64_t k, lo, hi; };
  std::vector<frame> stack{{1, none, none}};
  while (!stack.empty()) {
    const frame f = stack.back();
    stack.pop_back();
    if (f.k > nb) continue;
    search_node& nd = nodes[f.k];
    std::size_t skip = 0;
    if (f.lo != none && f.hi != none) skip = common_prefix(head_of(c, f.lo), head_of(c, f.hi));
    if (skip > 0xffff) skip = 0;  // still correct, only less selective
    nd.window_skip = (window_at(head_of(c, nd.bucket), skip) & ~std::uint64_t{0xffff}) | skip;
    nd.offset = c.offset_width == 4 ? static_cast<std::uint32_t>(c.bucket_begin(nd.bucket)) : 0;
    stack.push_back({2 * f.k, f.lo, nd.bucket});
    stack.push_back({2 * f.k + 1, nd.bucket, f.hi});
  }
}

// ---- validation ---------------------------------------------------------------------------

[[noreturn]] inline void fail_at(const std::string& what, std::size_t offset) {
  memkv::detail::throw_format_error("FrontCodedIndex: " + what + " at offset " +
                                    std::to_string(offset));
}

// Parses and fully validates an image; fills `c` (whose source must already hold the bytes).
inline void load(core& c, std::uint32_t expected_value_size, const fci_open_options& opt,
                 bool check_buckets = true) {
  const std::span<const std::byte> img = c.source.span();
  c.image = img.data();
  c.image_size = img.size();
  const io::image_header h = io::parse_image_header(img, magic, format_version, opt.verify_checksum,
                                                    opt.verify_checksum);
  io::byte_reader r(img.data() + io::image_header_size, img.data() + img.size(), img.data());
  c.n = h.key_count;
  const std::size_t bs_at = r.offset();
  c.bucket_size = r.le<std::uint32_t>();
  if (c.bucket_size == 0 || c.bucket_size > max_bucket_size)
    fail_at("bucket size " + std::to_string(c.bucket_size) + " out of range 1..65536", bs_at);
  const std::size_t vs_at = r.offset();
  c.value_size = r.le<std::uint32_t>();
  if (c.value_size != expected_value_size)
    fail_at("value size " + std::to_string(c.value_size) + " does not match this type's " +
                std::to_string(expected_value_size),
            vs_at);
  const std::size_t ow_at = r.offset();
  c.offset_width = r.u8();
  if (c.offset_width != 4 && c.offset_width != 8) fail_at("offset width not 4 or 8", ow_at);
  const std::size_t cd_at = r.offset();
  const std::uint8_t coding = r.u8();
  if (coding > 1) fail_at("unknown remainder coding " + std::to_string(coding), cd_at);
  c.coding = static_cast<fci_coding>(coding);
  const std::size_t rs_at = r.offset();
  if (r.le<std::uint16_t>() != 0 || r.le<std::uint32_t>() != 0) fail_at("reserved bytes not zero", rs_at);
  const std::size_t body_at = r.offset();
  const std::uint64_t body_size = r.le<std::uint64_t>();
  if (c.coding == fci_coding::huffman) {
    const std::size_t at = r.offset();
    const std::byte* lens = r.bytes(256);
    for (int s = 0; s < 256; ++s) c.code_len[s] = static_cast<std::uint8_t>(lens[s]);
    if (!build_decode_table(c.code_len, c.table)) fail_at("code lengths are not a prefix code", at);
  }
  // Sections: every size is checked against what remains before it is multiplied or used.
  const std::uint64_t avail = r.remaining();
  c.buckets = c.n == 0 ? 0 : (c.n - 1) / c.bucket_size + 1;
  if (c.buckets >= avail / c.offset_width)  // (buckets + 1) offsets must fit
    fail_at("key count " + std::to_string(c.n) + " needs more bucket offsets than the image holds",
            24);
  const std::size_t off_at = r.offset();
  c.offsets = r.bytes(static_cast<std::size_t>((c.buckets + 1) * c.offset_width));
  if (c.value_size && c.n > r.remaining() / c.value_size)
    fail_at("values of " + std::to_string(c.n) + " keys do not fit", r.offset());
  c.values = r.bytes(static_cast<std::size_t>(c.n * c.value_size));
  if (body_size != r.remaining() - std::min<std::uint64_t>(r.remaining(), tail_padding) ||
      r.remaining() < tail_padding)
    fail_at("body size " + std::to_string(body_size) + " disagrees with the image length", body_at);
  const std::size_t body_off = r.offset();
  c.body = r.bytes(static_cast<std::size_t>(body_size));
  c.body_size = static_cast<std::size_t>(body_size);
  const std::byte* pad = r.bytes(tail_padding);
  for (std::size_t i = 0; i < tail_padding; ++i)
    if (pad[i] != std::byte{0}) fail_at("tail padding not zero", body_off + body_size + i);

  // Offsets: start at 0, strictly increasing (no bucket is empty), end at body_size.
  std::size_t prev = 0;
  for (std::uint64_t k = 0; k <= c.buckets; ++k) {
    const std::uint64_t o = c.offset_width == 4 ? io::load_le<std::uint32_t>(c.offsets + 4 * k)
                                                : io::load_le<std::uint64_t>(c.offsets + 8 * k);
    const bool ok = k == 0 ? o == 0 : (o > prev && o <= body_size);
    if (!ok) fail_at("bucket offset " + std::to_string(k) + " is " + std::to_string(o), off_at + k * c.offset_width);
    prev = static_cast<std::size_t>(o);
  }
  if (prev != body_size) fail_at("last bucket offset is not the body size", off_at + c.buckets * c.offset_width);

  c.min_code_len = 1;
  if (c.coding == fci_coding::huffman) {
    c.min_code_len = max_code_len;
    for (unsigned l : c.code_len)
      if (l) c.min_code_len = std::min(c.min_code_len, l);
  }
  if (!check_buckets) {
    build_search_nodes(c);
    return;
  }
  // Every bucket: framing, metadata, remainders, and strictly increasing keys.
  std::string prev_key, key;
  for (std::uint64_t k = 0; k < c.buckets; ++k) {
    const std::size_t start = c.bucket_begin(k), stop = c.bucket_begin(k + 1);
    io::byte_reader br(c.body + start, c.body + stop, c.image);
    const std::size_t head_at = br.offset();
    const std::uint64_t head_len = br.varint_at_most(br.remaining(), "head length");
    const std::byte* head = br.bytes(static_cast<std::size_t>(head_len));
    key.assign(reinterpret_cast<const char*>(head), static_cast<std::size_t>(head_len));
    if (k > 0 && compare_bytes(prev_key, key) >= 0)
      fail_at("bucket " + std::to_string(k) + " head is not greater than the key before it", head_at);
    const std::uint64_t meta_size = br.varint_at_most(br.remaining(), "metadata size");
    io::byte_reader mr(br.position(), br.position() + meta_size, c.image);
    br.skip(static_cast<std::size_t>(meta_size));
    const std::byte* data = br.position();
    const std::uint64_t data_size = br.remaining();
    const std::uint64_t data_units = c.coding == fci_coding::raw ? data_size : data_size * 8;
    std::uint64_t pos = 0;
    const std::uint32_t count = c.bucket_count(k);
    for (std::uint32_t j = 1; j < count; ++j) {
      const std::size_t at = mr.offset();
      const std::uint64_t lcp = mr.varint_at_most(key.size(), "shared prefix length");
      const std::uint64_t code_len = mr.varint_at_most(data_units - pos, "remainder length");
      if (code_len == 0) fail_at("empty remainder (duplicate or unordered key)", at);
      std::string_view rem;
      std::string decoded;
      if (c.coding == fci_coding::raw) {
        rem = {reinterpret_cast<const char*>(data + pos), static_cast<std::size_t>(code_len)};
        pos += code_len;
      } else {
        const std::uint64_t end_bit = pos + code_len;
        while (pos < end_bit) {
          // bits past the data are read as zeros here, and must not be used
          std::uint32_t bits = 0;
          for (unsigned i = 0; i < max_code_len && pos + i < data_units; ++i) {
            const std::uint64_t bit = pos + i;
            bits |= ((static_cast<unsigned>(data[bit >> 3]) >> (bit & 7)) & 1u) << i;
          }
          const std::uint16_t e = c.table[bits];
          const unsigned l = e >> 8;
          if (l == 0 || pos + l > end_bit)
            fail_at("invalid Huffman code in bucket " + std::to_string(k), static_cast<std::size_t>(data - c.image + (pos >> 3)));
          decoded.push_back(static_cast<char>(e & 0xff));
          pos += l;
        }
        rem = decoded;
      }
      // strictly greater than the previous key, and lcp exact: rem[0] > key[lcp] unless the
      // previous key is a prefix of this one
      if (lcp < key.size() &&
          static_cast<unsigned char>(rem[0]) <= static_cast<unsigned char>(key[lcp]))
        fail_at("key " + std::to_string(k * c.bucket_size + j) + " is not greater than the key before it", at);
      key.resize(static_cast<std::size_t>(lcp));
      key.append(rem);
    }
    if (!mr.at_end()) fail_at("bucket " + std::to_string(k) + " metadata longer than its keys", mr.offset());
    // data fully used: raw exactly; Huffman up to the zero padding of the last byte
    const bool exact = c.coding == fci_coding::raw ? pos == data_units : (pos + 7) / 8 == data_size;
    if (!exact) fail_at("bucket " + std::to_string(k) + " data size does not match its remainders", static_cast<std::size_t>(data - c.image));
    if (c.coding == fci_coding::huffman && (pos & 7)) {
      const unsigned last = static_cast<unsigned>(data[data_size - 1]);
      if (last >> (pos & 7)) fail_at("nonzero padding bits", static_cast<std::size_t>(data - c.image + data_size - 1));
    }
    prev_key.swap(key);
  }
  build_search_nodes(c);
}

// A growable byte buffer without zero-filling (the iterator's key).
class key_buffer {
public:
  key_buffer() = default;
  key_buffer(const key_buffer& o) { assign(o.data_.get(), o.size_); }
  key_buffer& operator=(const key_buffer& o) {
    if (this != &o) {
      size_ = 0;
      assign(o.data_.get(), o.size_);
    }
    return *this;
  }
  key_buffer(key_buffer&&) noexcept = default;
  key_buffer& operator=(key_buffer&&) noexcept = default;
  void reserve(std::size_t n) {
    if (n <= cap_) return;
    std::size_t cap = std::max<std::size_t>(n, cap_ * 2);
    cap = std::max<std::size_t>(cap, 64);
    auto p = std::make_unique_for_overwrite<char[]>(cap);
    if (size_) std::memcpy(p.get(), data_.get(), size_);
    data_ = std::move(p);
    cap_ = cap;
  }
  void assign(const char* p, std::size_t n) {
    reserve(n);
    if (n) std::memcpy(data_.get(), p, n);
    size_ = n;
  }
  char* data() noexcept { return data_.get(); }
  std::size_t size() const noexcept { return size_; }
  void set_size(std::size_t n) noexcept { size_ = n; }
  std::string_view view() const noexcept { return {data_.get(), size_}; }

private:
  std::unique_ptr<char[]> data_;
  std::size_t size_ = 0, cap_ = 0;
};

}  // namespace detail::fci

// =============================================================================================

template <class V = std::uint64_t>
class FrontCodedIndex {
  static constexpr bool is_keys_only = std::is_same_v<V, keys_only>;
  static_assert(is_keys_only || std::is_trivially_copyable_v<V>,
                "FrontCodedIndex<V> needs a trivially copyable V (or memkv::keys_only)");
  using core = detail::fci::core;

public:
  using key_type = std::string_view;
  using mapped_type = std::conditional_t<is_keys_only, std::uint64_t, V>;  // keys_only: rank
  using value_type = basic_entry<mapped_type>;
  using size_type = std::size_t;
  static constexpr std::uint32_t value_size = is_keys_only ? 0u : static_cast<std::uint32_t>(sizeof(V));
  static constexpr std::uint32_t default_bucket_size = 32;
  static_assert(value_size <= detail::fci::max_value_size);

  class const_iterator;
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;
  class builder;

  // ---- construction ----
  // An empty index (its image is one shared static empty image). A moved-from index is empty.
  FrontCodedIndex() : c_(empty_core()) {}
  FrontCodedIndex(FrontCodedIndex&& o) noexcept : owner_(std::move(o.owner_)), c_(o.c_) {
    o.c_ = empty_core();
  }
  FrontCodedIndex& operator=(FrontCodedIndex&& o) noexcept {
    if (this != &o) {
      owner_ = std::move(o.owner_);
      c_ = o.c_;
      o.c_ = empty_core();
    }
    return *this;
  }
  FrontCodedIndex(const FrontCodedIndex& o) : FrontCodedIndex(from_bytes(o.bytes())) {}
  FrontCodedIndex& operator=(const FrontCodedIndex& o) {
    if (this != &o) *this = FrontCodedIndex(o);
    return *this;
  }
  void swap(FrontCodedIndex& o) noexcept {
    owner_.swap(o.owner_);
    std::swap(c_, o.c_);
  }

  template <std::ranges::input_range R>
  static FrontCodedIndex build(R&& items, std::uint32_t bucket_size = default_bucket_size,
                               fci_coding coding = fci_coding::automatic) {
    builder b(bucket_size, coding);
    for (auto&& item : items) {
      if constexpr (requires { item.first; item.second; }) {
        if constexpr (is_keys_only)
          b.insert(std::string_view(item.first));
        else
          b.insert(std::string_view(item.first), static_cast<V>(item.second));
      } else {
        static_assert(is_keys_only, "build(range): a range of pairs (key, value) is needed");
        b.insert(std::string_view(item));
      }
    }
    return b.finish();
  }

  // Copies the image (the result owns its bytes).
  static FrontCodedIndex from_bytes(std::span<const std::byte> image, fci_open_options opt = {}) {
    return load(io::byte_source::owned(std::vector<std::byte>(image.begin(), image.end())), opt);
  }
  // Takes the vector (no copy).
  static FrontCodedIndex from_bytes(std::vector<std::byte>&& image, fci_open_options opt = {}) {
    return load(io::byte_source::owned(std::move(image)), opt);
  }
  // Views the bytes in place (no copy): the caller keeps them alive and unchanged.
  static FrontCodedIndex view_bytes(std::span<const std::byte> image, fci_open_options opt = {}) {
    return load(io::byte_source::borrowed(image), opt);
  }
  // Maps the file read-only (no copy).
  static FrontCodedIndex open(const std::filesystem::path& path, fci_open_options opt = {}) {
    try {
      return load(io::byte_source::mapped(path), opt);
    } catch (const format_error& e) {
      memkv::detail::throw_format_error(std::string(e.what()) + " (file '" + path.string() + "')");
    }
  }

  // ---- the image ----
  std::span<const std::byte> bytes() const noexcept { return {c_->image, c_->image_size}; }
  void save(const std::filesystem::path& path) const { io::atomic_write_file(path, bytes()); }

  // ---- lookups ----
  std::optional<mapped_type> get(std::string_view key) const {
    const auto r = detail::fci::search<!is_keys_only>(*c_, key);
    if (!r.found) return std::nullopt;
    return value_at(r.rank);
  }
  bool contains(std::string_view key) const noexcept { return detail::fci::search(*c_, key).found; }
  std::optional<std::size_t> rank(std::string_view key) const noexcept {
    const auto r = detail::fci::search(*c_, key);
    if (!r.found) return std::nullopt;
    return static_cast<std::size_t>(r.rank);
  }
  // get() of every key of `keys`, its answer written to the same index of `out`: up to 16
  // searches at a time, a step of each in turn (a level of the head tree, or the bucket scan),
  // so that their cache misses overlap. Any order and repeats are fine; an empty span is.
  // Throws memkv::error when out.size() != keys.size().
  void get_many(std::span<const std::string_view> keys, std::span<std::optional<mapped_type>> out) const {
    check_many("get_many", keys.size(), out.size());
    detail::fci::search_many<!is_keys_only>(*c_, keys, [this, out](std::size_t i, detail::fci::search_result r) {
      if (r.found) out[i] = value_at(r.rank);
      else out[i] = std::nullopt;
    });
  }
  // rank() of every key of `keys` into `out`, searched as get_many searches them; on_found(rank)
  // (noexcept) as each search that finds its key ends. Same errors as get_many.
  template <class OnFound>
  void rank_many(std::span<const std::string_view> keys, std::span<std::optional<std::uint64_t>> out,
                 OnFound&& on_found) const {
    check_many("rank_many", keys.size(), out.size());
    detail::fci::search_many<false>(*c_, keys, [out, &on_found](std::size_t i, detail::fci::search_result r) {
      if (r.found) {
        out[i] = r.rank;
        on_found(r.rank);
      } else {
        out[i] = std::nullopt;
      }
    });
  }
  void rank_many(std::span<const std::string_view> keys, std::span<std::optional<std::uint64_t>> out) const {
    rank_many(keys, out, [](std::uint64_t) noexcept {});
  }
  // The i-th entry in key order (the key copied out); throws memkv::error when i >= size().
  std::pair<std::string, mapped_type> nth(std::size_t i) const {
    if (i >= size())
      memkv::detail::throw_error("FrontCodedIndex::nth(" + std::to_string(i) + ") with size " +
                                 std::to_string(size()));
    const const_iterator it(c_, i);
    return {std::string(it.key()), value_at(c_, i)};
  }
  // An iterator at rank i (end() when i >= size()): nth without copying the key out.
  const_iterator at_rank(std::size_t i) const {
    return const_iterator(c_, std::min<std::uint64_t>(i, c_->n));
  }

  std::size_t size() const noexcept { return static_cast<std::size_t>(c_->n); }
  bool empty() const noexcept { return c_->n == 0; }
  std::uint32_t bucket_size() const noexcept { return c_->bucket_size; }
  fci_coding coding() const noexcept { return c_->coding; }
  // sizeof(*this) + the core (decode table included) + the image when owned or mapped.
  std::size_t memory_usage() const noexcept {
    if (!owner_) return sizeof(*this);
    std::size_t m = sizeof(*this) + sizeof(core) + c_->source.heap_bytes() +
                    c_->node_storage.capacity() * sizeof(detail::fci::search_node);
    if (c_->source.kind() == io::byte_source::kind_type::mapped) m += c_->image_size;
    return m;
  }

  // ---- ordered traversal ----
  const_iterator begin() const { return const_iterator(c_, 0); }
  const_iterator end() const noexcept { return const_iterator(c_); }
  const_iterator lower_bound(std::string_view key) const {
    return const_iterator(c_, detail::fci::search(*c_, key).rank);
  }
  range_type range(std::string_view lo, std::string_view hi) const {
    if (detail::fci::compare_bytes(lo, hi) >= 0) {
      auto e = end();
      return {e, e};
    }
    return {lower_bound(lo), lower_bound(hi)};
  }
  range_type prefix(std::string_view p) const {
    // the end is the lower bound of the smallest string greater than every extension of p
    std::string succ(p);
    while (!succ.empty() && static_cast<unsigned char>(succ.back()) == 0xff) succ.pop_back();
    if (succ.empty()) return {lower_bound(p), end()};
    succ.back() = static_cast<char>(static_cast<unsigned char>(succ.back()) + 1);
    return {lower_bound(p), lower_bound(succ)};
  }

  // Re-validates the image (everything open does, checksum included); throws format_error.
  void check_invariants() const {
    core tmp;
    tmp.source = io::byte_source::borrowed(bytes());
    detail::fci::load(tmp, value_size, {});
  }

private:
  static void check_many(const char* what, std::size_t keys, std::size_t answers) {
    if (keys != answers)
      memkv::detail::throw_error(std::string("FrontCodedIndex::") + what + ": " + std::to_string(keys) +
                                 " keys but " + std::to_string(answers) + " answer slots");
  }
  explicit FrontCodedIndex(std::unique_ptr<core> c) noexcept : owner_(std::move(c)), c_(owner_.get()) {}

  // The core of the empty index: built once, never freed (so no static destruction order).
  static const core* empty_core() {
    static const core* const empty = [] {
      std::vector<std::byte> image = builder().encode();
      auto c = std::make_unique<core>();
      c->source = io::byte_source::owned(std::move(image));
      detail::fci::load(*c, value_size, {}, true);
      return c.release();
    }();
    return empty;
  }

  static FrontCodedIndex load(io::byte_source src, const fci_open_options& opt) {
    auto c = std::make_unique<core>();
    c->source = std::move(src);
    detail::fci::load(*c, value_size, opt);
    return FrontCodedIndex(std::move(c));
  }
  // The builder's own image: correct by construction, so release builds skip the checksum
  // and the per-bucket pass (debug builds run them to catch builder bugs).
  static FrontCodedIndex adopt_built(std::vector<std::byte>&& image) {
    auto c = std::make_unique<core>();
    c->source = io::byte_source::owned(std::move(image));
#ifdef NDEBUG
    detail::fci::load(*c, value_size, {.verify_checksum = false}, /*check_buckets=*/false);
#else
    detail::fci::load(*c, value_size, {}, /*check_buckets=*/true);
#endif
    return FrontCodedIndex(std::move(c));
  }

  mapped_type value_at(std::uint64_t rank) const noexcept { return value_at(c_, rank); }
  static mapped_type value_at(const core* c, std::uint64_t rank) noexcept {
    if constexpr (is_keys_only) {
      return rank;
    } else {
      V v;
      std::memcpy(static_cast<void*>(&v), c->values + rank * sizeof(V), sizeof(V));
      return v;
    }
  }

  std::unique_ptr<core> owner_;  // null for the shared empty core
  const core* c_;
};

// ---- iterator ------------------------------------------------------------------------------

template <class V>
class FrontCodedIndex<V>::const_iterator {
public:
  using iterator_concept = std::forward_iterator_tag;
  using iterator_category = std::input_iterator_tag;  // *it is a prvalue entry
  using value_type = basic_entry<mapped_type>;
  using reference = value_type;
  using pointer = arrow_proxy<value_type>;
  using difference_type = std::ptrdiff_t;

  const_iterator() = default;

  reference operator*() const noexcept { return {key_.view(), value_at(c_, rank_)}; }
  pointer operator->() const noexcept { return {**this}; }
  // The current key; valid until this iterator moves on or is destroyed.
  std::string_view key() const noexcept { return key_.view(); }
  // The position of the current entry in key order (size() at the end).
  std::size_t rank() const noexcept { return static_cast<std::size_t>(rank_); }

  const_iterator& operator++() {
    advance();
    return *this;
  }
  const_iterator operator++(int) {
    const_iterator t = *this;
    advance();
    return t;
  }
  friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
    return a.rank_ == b.rank_ && a.c_ == b.c_;
  }

private:
  friend class FrontCodedIndex;
  // end()
  explicit const_iterator(const core* c) noexcept : c_(c), rank_(c->n) {}
  // the entry of rank r (end() when r == n)
  const_iterator(const core* c, std::uint64_t r) : c_(c), rank_(r) {
    if (r >= c->n) {
      rank_ = c->n;
      return;
    }
    enter_bucket(r / c->bucket_size);
    const std::uint64_t steps = r % c->bucket_size;
    for (std::uint64_t i = 0; i < steps; ++i) step_in_bucket();
  }

  void enter_bucket(std::uint64_t k) {
    b_ = detail::fci::open_bucket(*c_, k);
    key_.assign(reinterpret_cast<const char*>(b_.head), b_.head_len);
    j_ = 0;
    count_ = c_->bucket_count(k);
    pos_ = 0;
  }
  void step_in_bucket() {
    std::uint64_t lcp = 0, code_len = 0;
    detail::fci::next_meta(b_, lcp, code_len);
    const std::size_t keep = static_cast<std::size_t>(lcp);
    key_.reserve(keep + static_cast<std::size_t>(code_len / c_->min_code_len));
    key_.set_size(keep);
    const std::size_t got =
        detail::fci::decode_remainder(*c_, b_, pos_, code_len, key_.data() + keep);
    key_.set_size(keep + got);
    ++j_;
  }
  void advance() {
    ++rank_;
    if (rank_ >= c_->n) {
      rank_ = c_->n;
      return;
    }
    if (j_ + 1 < count_)
      step_in_bucket();
    else
      enter_bucket(rank_ / c_->bucket_size);
  }

  const core* c_ = nullptr;
  std::uint64_t rank_ = 0;
  std::uint32_t j_ = 0, count_ = 0;
  std::uint64_t pos_ = 0;  // in the bucket's remainder data: bytes (raw) or bits (Huffman)
  detail::fci::bucket_view b_{};
  detail::fci::key_buffer key_;
};

// ---- builder -------------------------------------------------------------------------------

// Collects strictly increasing keys (front-coded, raw) and their values; finish() chooses the
// remainder coding, encodes the buckets and returns the index. A key out of order throws
// memkv::error naming its position, after which the builder is good only for destruction.
template <class V>
class FrontCodedIndex<V>::builder {
public:
  explicit builder(std::uint32_t bucket_size = default_bucket_size,
                   fci_coding coding = fci_coding::automatic)
      : bucket_size_(bucket_size), coding_(coding) {
    if (bucket_size == 0 || bucket_size > detail::fci::max_bucket_size)
      memkv::detail::throw_error("FrontCodedIndex: bucket size " + std::to_string(bucket_size) +
                                 " out of range 1..65536");
  }

  void insert(std::string_view key, const mapped_type& value) requires(!is_keys_only) {
    add_key(key);
    const std::size_t at = values_.size();
    values_.resize(at + sizeof(V));
    std::memcpy(values_.data() + at, static_cast<const void*>(&value), sizeof(V));
  }
  void insert(std::string_view key) requires is_keys_only { add_key(key); }

  std::size_t size() const noexcept { return static_cast<std::size_t>(n_); }

  FrontCodedIndex finish() {
    check_usable();
    state_ = state::finished;
    std::vector<std::byte> image = encode();
    records_ = {};
    values_ = {};
    return adopt_built(std::move(image));
  }

private:
  friend class FrontCodedIndex;
  enum class state { open, failed, finished };

  void check_usable() const {
    if (state_ == state::failed)
      memkv::detail::throw_error("FrontCodedIndex builder: used after a failed insert");
    if (state_ == state::finished)
      memkv::detail::throw_error("FrontCodedIndex builder: used after finish()");
  }

  void add_key(std::string_view key) {
    check_usable();
    if (n_ > 0 && detail::fci::compare_bytes(prev_, key) >= 0) {
      state_ = state::failed;
      memkv::detail::throw_error(
          "FrontCodedIndex builder: key at position " + std::to_string(n_) +
          (prev_ == key ? " repeats the key before it" : " is smaller than the key before it"));
    }
    // one record per key: varint lcp, varint remainder length, remainder bytes (the head of a
    // bucket has lcp 0 and the whole key)
    const bool head = n_ % bucket_size_ == 0;
    const std::size_t lcp = head ? 0 : detail::fci::common_prefix(prev_, key);
    io::append_varint(records_, lcp);
    io::append_varint(records_, key.size() - lcp);
    const auto* rem = reinterpret_cast<const std::byte*>(key.data() + lcp);
    records_.insert(records_.end(), rem, rem + (key.size() - lcp));
    if (!head)
      for (std::size_t i = lcp; i < key.size(); ++i) ++freq_[static_cast<unsigned char>(key[i])];
    prev_.assign(key.data(), key.size());
    ++n_;
  }

  // Walks the records bucket by bucket: on_key(j, lcp, remainder, remainder length) for the
  // j-th key of each bucket (j = 0: the head, whole), then on_bucket_end().
  template <class OnKey, class OnBucketEnd>
  void walk_records(OnKey&& on_key, OnBucketEnd&& on_bucket_end) const {
    const std::byte* p = records_.data();
    const std::byte* const end = p + records_.size();
    std::uint64_t i = 0;
    while (i < n_) {
      const std::uint64_t count = std::min<std::uint64_t>(bucket_size_, n_ - i);
      for (std::uint64_t j = 0; j < count; ++j, ++i) {
        const std::uint64_t lcp = io::decode_varint(p, end);
        const std::uint64_t rlen = io::decode_varint(p, end);
        on_key(j, lcp, p, rlen);
        p += rlen;
      }
      on_bucket_end();
    }
  }

  // Encodes all buckets with `coding` into body/offsets.
  void encode_body(fci_coding coding, const std::array<std::uint8_t, 256>& len,
                   std::vector<std::byte>& body, std::vector<std::uint64_t>& offsets) const {
    const auto code = detail::fci::canonical_codes(len);
    body.clear();
    offsets.clear();
    std::vector<std::byte> meta, data;
    detail::fci::bit_writer bits(data);
    walk_records(
        [&](std::uint64_t j, std::uint64_t lcp, const std::byte* rem, std::uint64_t rlen) {
          if (j == 0) {
            offsets.push_back(body.size());
            meta.clear();
            data.clear();
            io::append_varint(body, rlen);
            body.insert(body.end(), rem, rem + rlen);
            return;
          }
          io::append_varint(meta, lcp);
          if (coding == fci_coding::raw) {
            io::append_varint(meta, rlen);
            data.insert(data.end(), rem, rem + rlen);
          } else {
            std::uint64_t nbits = 0;
            for (std::uint64_t x = 0; x < rlen; ++x) {
              const auto sym = static_cast<unsigned char>(rem[x]);
              bits.put(code[sym], len[sym]);
              nbits += len[sym];
            }
            io::append_varint(meta, nbits);
          }
        },
        [&] {
          bits.flush();
          io::append_varint(body, meta.size());
          body.insert(body.end(), meta.begin(), meta.end());
          body.insert(body.end(), data.begin(), data.end());
        });
    offsets.push_back(body.size());
  }

  // The body encode_body(coding, len, ...) would produce, in bytes, without producing it.
  std::uint64_t body_size(fci_coding coding, const std::array<std::uint8_t, 256>& len) const {
    std::uint64_t total = 0, meta = 0, data = 0;  // data: bytes (raw) or bits (Huffman)
    walk_records(
        [&](std::uint64_t j, std::uint64_t lcp, const std::byte* rem, std::uint64_t rlen) {
          if (j == 0) {
            total += io::varint_size(rlen) + rlen;
            return;
          }
          std::uint64_t code_len = rlen;
          if (coding != fci_coding::raw) {
            code_len = 0;
            for (std::uint64_t x = 0; x < rlen; ++x) code_len += len[static_cast<unsigned char>(rem[x])];
          }
          meta += io::varint_size(lcp) + io::varint_size(code_len);
          data += code_len;
        },
        [&] {
          if (coding != fci_coding::raw) data = (data + 7) / 8;
          total += io::varint_size(meta) + meta + data;
          meta = data = 0;
        });
    return total;
  }

  std::vector<std::byte> encode() const {
    std::array<std::uint8_t, 256> len{};
    std::vector<std::byte> body;
    std::vector<std::uint64_t> offsets;
    fci_coding coding = coding_;
    if (coding != fci_coding::raw) {
      len = detail::fci::huffman_lengths(freq_);
      if (coding == fci_coding::automatic) {
        // Huffman must pay for its 256-byte table and its slower decoding. The two body sizes
        // are computed exactly without encoding, and only the chosen coding is encoded.
        const std::uint64_t huffman = body_size(fci_coding::huffman, len);
        const std::uint64_t raw = body_size(fci_coding::raw, len);
        coding = static_cast<double>(huffman + 256) > 0.98 * static_cast<double>(raw)
                     ? fci_coding::raw
                     : fci_coding::huffman;
      }
    }
    encode_body(coding, len, body, offsets);
    const std::uint8_t width = body.size() <= 0xffffffffu ? 4 : 8;
    std::vector<std::byte> img = io::begin_image();
    img.reserve(io::image_header_size + detail::fci::params_size + 256 +
                offsets.size() * width + values_.size() + body.size() + detail::fci::tail_padding);
    io::append_le<std::uint32_t>(img, bucket_size_);
    io::append_le<std::uint32_t>(img, value_size);
    img.push_back(std::byte{width});
    img.push_back(static_cast<std::byte>(coding));
    io::append_le<std::uint16_t>(img, 0);
    io::append_le<std::uint32_t>(img, 0);
    io::append_le<std::uint64_t>(img, body.size());
    if (coding == fci_coding::huffman)
      for (auto l : len) img.push_back(static_cast<std::byte>(l));
    for (auto o : offsets) {
      if (width == 4)
        io::append_le<std::uint32_t>(img, static_cast<std::uint32_t>(o));
      else
        io::append_le<std::uint64_t>(img, o);
    }
    img.insert(img.end(), values_.begin(), values_.end());
    img.insert(img.end(), body.begin(), body.end());
    img.resize(img.size() + detail::fci::tail_padding);
    io::finish_image(img, detail::fci::magic, detail::fci::format_version, 0, n_);
    return img;
  }

  std::uint32_t bucket_size_;
  fci_coding coding_;
  state state_ = state::open;
  std::uint64_t n_ = 0;
  std::string prev_;
  std::vector<std::byte> records_;
  std::vector<std::byte> values_;
  std::array<std::uint64_t, 256> freq_{};
};

template <class V = std::uint64_t>
using FrontCodedIndexBuilder = typename FrontCodedIndex<V>::builder;
using FrontCodedSet = FrontCodedIndex<keys_only>;

}  // namespace memkv
