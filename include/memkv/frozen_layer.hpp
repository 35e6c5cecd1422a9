// memkv/frozen_layer.hpp - FrozenLayer: an immutable ordered map from byte-string keys to
// std::uint64_t, stored as a minimal-ish acyclic finite-state transducer (an FST, after the Rust
// `fst` crate) that shares both prefixes and suffixes, so the image is usually smaller than the
// raw keys. Build it with FrozenLayerBuilder (streaming, keys in strictly increasing order) or
// FrozenLayer::build(range); use it from memory, from bytes, or straight from an mmap'ed file.
//
//   memkv::FrozenLayerBuilder b;                 // or FrozenLayerBuilder b("dict.fst"): to a file
//   b.insert("apple", 7); b.insert("apricot", 9);
//   memkv::FrozenLayer fl = b.finish();
//   fl.get("apple");                              // std::optional<std::uint64_t>{7}
//   for (auto e : fl.prefix("ap")) use(e.key, e.value);
//   fl.save("dict.fst"); auto m = memkv::FrozenLayer::open("dict.fst");   // mmap, no copy
//
// ## Design, in one paragraph
// The transducer maps every key to its RANK (its index in key order): the output of a transition
// is the number of keys in the subtrees of the earlier transitions of its state (a state that is
// itself final adds one more), pushed as close to the root as it can go, so the rank of a key is
// the sum of the outputs along its path plus the number of final states passed. Rank outputs
// depend only on the shape of the subtree below a state, so they never prevent suffix sharing:
// the transducer is exactly as small as the automaton of the key set. The user's values then
// live beside it: nothing at all when every value equals its key's rank (value mode `rank`), else
// a flat bit-packed column `value = base + column[rank]` with the smallest width that holds
// max - min (mode `packed`). This is the choice ANCHORS.md argues for: arbitrary 64-bit values
// (hashes) cost an FST 12-16 B/key as outputs because they defeat sharing, more than the 8 B/key
// of a flat column beside a rank FST; monotone values (file offsets) pack to a few bytes.
//
// States are bit-packed, and transition labels are Huffman-coded with a code learnt from the
// first few MiB of keys (stored in the header): most states of a key set are links of a chain
// (one transition, not final, its target written just before it) and cost 1 bit + the label's
// code, about 5-6 bits for text keys instead of the 8-16 of a byte-aligned format.
//
// ## Measured (bench/run_fst_peer.sh npm-urls 3: memkv-compare and the Rust fst crate on the same
// 1,685,458 keys, 74.9 MB raw, values and query order; 2026-12-01 19:30 UTC, 2-vCPU machine, load
// 1.0, CPU-time throughputs, medians of 3; static builds read the sorted keys sequentially)
//   values = rank:   image 25.3 MB (0.337x raw; fst 31.9 MB: 0.79x), build 1.72 s (0.98 M
//                    keys/s; fst 10.35 s), lookup 0.43 Mops/s (fst 0.37: 1.16x; sorted
//                    std::vector<std::string> + lower_bound 0.32: 1.33x), miss 0.83 (vector 1.50x)
//   values = hash64: image 38.7 MB (0.517x raw; fst 49.6 MB: 0.78x): the same FST + a 64-bit
//                    column; build 1.64 s (fst 12.24 s), lookup 0.37 (fst 0.26: 1.42x; vector
//                    1.16x): the column costs one more cache miss per lookup
// A lookup is bound by memory latency: ~19 cache lines a URL key (perf: the loads of a new
// state's bits dominate). A URL key of npm-urls passes ~19 states of 2+ transitions (21 on
// average, weighted by visits), whose labels are compared 16 at a time with SSE2 (see
// first_at_least; a binary search of bit fields before 2026-12-02). Scratch program, npm-urls,
// -O3 -march=native, old and new alternating: 100 keys looked up over and over (all in cache)
// 611-619 -> 481-490 ns a lookup (-O2 without -march: 611/633 -> 552/556); 20,000 random keys
// over and over 1.88-1.94 -> 1.73-1.75 us; all keys in random order 1.87-1.99 us against
// 1.78-2.04 (noise). memkv-micro's lookup_hit/frozen-layer (100,000 synthetic keys): no change.
// A cache simulation of that walk: 42.6 distinct lines a lookup, 7.0 misses a lookup with a
// 512 KiB LRU cache, 3.4 with 4 MiB, 0.9 with 16 MiB, and packing the states ideally by visit
// count would leave 8.0 cold state visits at 512 KiB: the layout is not what costs.
// Registry (the suffix-sharing memory) vs image and build time, rank values: 4 Ki cells 26.5 MB,
// 16 Ki 25.9 MB, 64 Ki (the default) 25.3 MB, 1 Mi 24.0 MB. Up to `front_registry_cells` (64 Ki,
// 2 MiB) it is one table that mostly stays in cache; above, every new state also goes into a
// second, large level and every front miss looks there: a cache miss each, which doubles the
// build time (1 Mi: ~3.2 s against ~1.3-1.8 s for 64 Ki, scratch program, keys in memory) for a
// 5% smaller image. HybridStore uses up to 1 Mi in merge() and save(), whose base it keeps, and
// at most 64 Ki in its automatic merges, whose base the next one rewrites.
// Tried and dropped (no gain measured): prefetching the next pass's first registry bucket when a
// key is added; the buckets' tags in a dense array apart from their ways; inserting into the
// second level in batches, each a batch after its prefetches; for lookups, counting the labels
// below the key byte 7 at a time (SWAR), decoding a state's header from one load, and
// prefetching all of a wide state's lines once its header is read; and a
// cache-line-blocked relayout of the finished FST (every state re-placed top down, parents before
// children as the format needs, each 64-byte block filled with the state's likeliest descendants
// first, chains kept adjacent; a scratch pass over npm-urls' 16.0M states took 2.2-2.9 s): it cut
// the cache lines a lookup may touch only from 44 to 41 a key (counting every line of a state's
// header, label array, output and target read; the DAG's shared states can sit next to one parent
// only) and lookups were no faster in alternating runs, so it was not kept.
// Batches: get_many(keys, out) walks up to 16 keys at once, one step of each in turn, prefetching
// the state each walk needs next, so the misses of different keys overlap (a single lookup's
// misses cannot: each address comes from the previous state). Scratch program, npm-urls, all
// keys in random order, get() against one get_many() over them, same process, 2026-12-02:
// values = rank 1.46-1.83 us -> 0.84-0.92 us a key; hash64 1.75-1.81 -> 1.19-1.20 us.
// memkv-micro lookup_hit vs lookup_hit_many, frozen-layer/urls (100,000 synthetic keys, mostly
// in cache): 1.48 -> 1.93 M keys/s.
// rank_many(keys, out[, on_found]) is the same walk giving ranks (HybridStore's batches use it).
// Prefetches go through detail::prefetch (memkv/core/prefetch.hpp): with a plain
// __builtin_prefetch GCC 12 had silently deleted the value prefetch of get() (and would have
// deleted get_many's), see that header.
//
// ## Complexity and guarantees
// get/contains/rank: O(|key|) state decodes (a multi-transition state: O(transitions) labels).
// get_many/rank_many: the same per key, with O(1) extra memory (16 walks on the stack).
// lower_bound/prefix/range/nth: O(|key| + transitions on the path). ++it: amortised O(1) states.
// Builder: O(total key bytes) with a bounded registry; its memory is the registry (32 B per cell
// + 8 B of ring, `registry_cells` cells at most, 64 Ki by default: 2.5 MiB; 1 Mi: 42 MiB with its
// front) + 32 B per byte of the longest key (its path: one transition and one node a byte, up
// to twice that while they grow) + the states written by one freeze pass but not yet registered
// (at most 4,096) + the sample buffer (`sample_bytes`, 4 MiB by default) + (memory output) the
// image itself, in chunks, and at finish() once more while they are copied into one block (the
// peak is about twice the image). When writing to a file, the value column is spooled to an
// anonymous temporary file, so memory does not grow with the key count.
// Thread safety: const members may be called concurrently. Iterators hold a pointer to an
// internal object that survives moves of the FrozenLayer; they are invalidated by its
// destruction or assignment. An entry's key lives in the iterator and is valid until the
// iterator moves on or dies. Exceptions: builder errors throw memkv::error (the builder is then
// usable only for destruction); image errors throw memkv::format_error; bad_alloc passes through.
// After any exception from insert() or finish() (bad_alloc included) the builder is failed:
// later calls throw memkv::error, so a damaged image can never be finished.
//
// ## What open()/from_bytes() check, and what it costs
// image_check::checksum (the default): the 48-byte memkv header (magic, version, header checksum,
// length), the XXH64 checksum of the whole payload (one sequential pass, ~10 GB/s: 3 ms for a
// 30 MB image; an mmap'ed file is read once), then the FST header below: region sizes that add
// up, the Huffman code (complete, lengths 1..12), root address and value column inside their
// regions. No state is parsed. image_check::structure skips only the payload checksum: O(1),
// nothing of an mmap'ed file is touched beyond its first page.
// Every later read is bounds-checked against its region, every transition must point strictly
// below its own state (so every walk ends), paths are capped at the recorded longest key length,
// ranks must stay below the key count and go 0, 1, 2, ... during iteration. So no byte
// sequence can cause an out-of-bounds read, a crash or a hang; a damaged image whose checksum was
// not verified may answer wrongly or throw memkv::format_error from get()/iteration (contains()
// answers false then).
//
// ## Image format, version 1 (all integers little-endian; position independent)
//
//   offset 0   memkv image header, 48 bytes (memkv/core/file_io.hpp): magic "MKVFST\0\1",
//              version 1, flags 0, total length, key count n, payload checksum, header checksum
//   offset 48  struct fst_header {            // 176 bytes
//                u64 fst_bytes;      // bytes of the FST region (a whole number of bytes)
//                u64 root;           // bit address of the root state (0: the final leaf)
//                u64 max_key_length; // longest key: caps every walk
//                u64 value_base;     // mode packed: value = value_base + column[rank]
//                u64 values_bytes;   // bytes of the value region, 16 zero bytes included
//                u8  value_mode;     // 0 = rank (value == rank, no column), 1 = packed
//                u8  value_width;    // bits per packed value, 0..64
//                u8  reserved[6];    // 0
//                u8  code_length[128];  // Huffman code length of byte b in nibble b (low first)
//              };
//   offset 224 FST region: fst_bytes bytes, then 8 zero bytes (so 8-byte loads stay inside)
//   then       value region: ceil(n * value_width / 8) bytes + 16 zero bytes
//   total      224 + fst_bytes + 8 + values_bytes
//
// The FST region is a bit string (bit b = bit b % 8 of byte b / 8). States are written children
// first; a state's ADDRESS is the bit just above its last bit (its top), and it is decoded from
// the top down. Address 0 is the "final leaf" (final, no transitions), which is never written.
// A target is encoded relative to the state's START s (its lowest bit): t = 0 means the leaf,
// t >= 1 means address s - (t - 1), so a target is always strictly below its state. Shapes, as
// read from the top (H(x) = Huffman code of label byte x):
//
//   chain link   "1"   H(label)                                  1 transition, not final,
//                                                                 target = s (written just before)
//   leaf link    "01"  H(label)                                  1 transition to the leaf
//   one          "001" final:1 H(label) w:6 t:w                  1 transition, anything else
//   many         "000" final:1 (k-2):8 wo:6 wt:6                 k = 2..256 transitions
//                      label[0..k):8 each, strictly increasing
//                      out[1..k):wo each   (out[0] = 0: output of transition i = number of keys
//                                           under transitions 0..i-1)
//                      t[0..k):wt each
//
// Arrays are read top down: element 0 is the topmost. Output of taking transition i from a
// state = final + out[i]. Widths wo, wt <= 56.
#pragma once

#include <algorithm>
#include <array>
#include <atomic>
#include <bit>
#include <cassert>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <memory>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "memkv/core/entry.hpp"
#include "memkv/core/error.hpp"
#include "memkv/core/file_io.hpp"
#include "memkv/core/huge_pages.hpp"
#include "memkv/core/key.hpp"
#include "memkv/core/prefetch.hpp"
#include "memkv/core/simd.hpp"
#include "memkv/detail/fst_codec.hpp"

namespace memkv {

// What open()/from_bytes() verify before answering (see the header comment).
enum class image_check { checksum, structure };

class FrozenLayer;
class FrozenLayerBuilder;

// Tuning of FrozenLayerBuilder.
struct frozen_layer_options {
  // States remembered for suffix sharing. Up to front_registry_cells they sit in one small,
  // cache-resident table; more cells add a large second level, which finds more shared states
  // (a smaller image) at the price of a cache miss for each state it looks up or stores.
  std::size_t registry_cells = std::size_t{1} << 16;
  std::size_t front_registry_cells = std::size_t{1} << 16;
  std::size_t sample_bytes = std::size_t{4} << 20;    // key bytes used to learn the label code
};

namespace detail::fst {

inline constexpr std::uint64_t magic = 0x0100'5453'4656'4b4dULL;  // "MKVFST\0\1"
inline constexpr std::uint32_t version = 1;
inline constexpr std::size_t header_offset = io::image_header_size;  // 48
inline constexpr std::size_t fst_header_size = 176;
inline constexpr std::size_t region_offset = header_offset + fst_header_size;  // 224
inline constexpr std::size_t fst_pad = 8;
inline constexpr std::size_t value_pad = 16;

struct fst_header {
  std::uint64_t fst_bytes = 0, root = 0, max_key_length = 0, value_base = 0, values_bytes = 0;
  std::uint8_t value_mode = 0, value_width = 0;
  std::array<std::uint8_t, 256> code_length{};

  void store(std::byte* p) const {
    std::memset(p, 0, fst_header_size);
    io::store_le<std::uint64_t>(p + 0, fst_bytes);
    io::store_le<std::uint64_t>(p + 8, root);
    io::store_le<std::uint64_t>(p + 16, max_key_length);
    io::store_le<std::uint64_t>(p + 24, value_base);
    io::store_le<std::uint64_t>(p + 32, values_bytes);
    p[40] = static_cast<std::byte>(value_mode);
    p[41] = static_cast<std::byte>(value_width);
    for (unsigned i = 0; i < 128; ++i)
      p[48 + i] = static_cast<std::byte>(code_length[2 * i] | (code_length[2 * i + 1] << 4));
  }
  static fst_header load(const std::byte* p) {
    fst_header h;
    h.fst_bytes = io::load_le<std::uint64_t>(p + 0);
    h.root = io::load_le<std::uint64_t>(p + 8);
    h.max_key_length = io::load_le<std::uint64_t>(p + 16);
    h.value_base = io::load_le<std::uint64_t>(p + 24);
    h.values_bytes = io::load_le<std::uint64_t>(p + 32);
    h.value_mode = static_cast<std::uint8_t>(p[40]);
    h.value_width = static_cast<std::uint8_t>(p[41]);
    for (unsigned i = 0; i < 128; ++i) {
      const auto b = static_cast<std::uint8_t>(p[48 + i]);
      h.code_length[2 * i] = b & 0xf;
      h.code_length[2 * i + 1] = b >> 4;
    }
    return h;
  }
};

// One decoded state. For one-transition shapes the transition is in label0/target0.
struct state {
  std::uint64_t start = 0;  // lowest bit
  std::uint32_t ntrans = 0;
  bool final = false;
  std::uint8_t label0 = 0;
  std::uint64_t target0 = 0;
  std::uint64_t labels_top = 0, outs_top = 0, tgts_top = 0;
  unsigned w_out = 0, w_tgt = 0;
};

// An in-memory copy of an image in 2 MiB-aligned memory advised to use transparent huge pages:
// lookups jump between distant states, and with 4 KiB pages most jumps also miss the TLB.
// From 2 MiB up (on Linux) it is a mapping of its own as long as the image rounded up to 4 KiB
// (memkv/core/huge_pages.hpp's map_region_bytes, counted in huge_page_bytes_mapped()): the
// whole 2 MiB parts get huge pages, the last part under 2 MiB small ones. Until 2026-12-04 it
// was aligned_alloc'd and rounded up to a whole 2 MiB, which memory_usage() counted: up to
// 2 MiB of slack (npm-urls' 24.3 MB base in HybridStore held 25.17 MB, 0.5 B/key).
struct huge_copy_free {
  std::size_t mapped = 0;  // length of a mapping of its own; 0: from aligned_alloc
  void operator()(std::byte* p) const noexcept {
    if (mapped != 0)
      unmap_region_bytes(p, mapped);
    else
      std::free(p);
  }
};
struct huge_copy {
  std::unique_ptr<std::byte, huge_copy_free> data;
  std::size_t size = 0;
  std::size_t allocated = 0;  // what memory_usage() counts: the mapping, or the aligned block

  // `size` bytes, uninitialized: 2 MiB aligned on transparent huge pages from 2 MiB up.
  static huge_copy allocate(std::size_t size) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    huge_copy h;
#if MEMKV_HUGE_PAGES
    if (size >= huge) {
      const std::size_t bytes = (size + 4095) / 4096 * 4096;
      h.data = std::unique_ptr<std::byte, huge_copy_free>(
          static_cast<std::byte*>(map_region_bytes(bytes, true)), huge_copy_free{bytes});
      h.size = size;
      h.allocated = bytes;
      return h;
    }
#endif
    const std::size_t align = size >= huge ? huge : 64;
    const std::size_t allocated = (std::max<std::size_t>(size, 1) + align - 1) / align * align;
    void* p = std::aligned_alloc(align, allocated);
    if (!p) throw std::bad_alloc();
#if MEMKV_HAS_POSIX_IO && defined(MADV_HUGEPAGE)
    if (size >= huge) ::madvise(p, size, MADV_HUGEPAGE);
#endif
    h.data.reset(static_cast<std::byte*>(p));
    h.size = size;
    h.allocated = allocated;
    return h;
  }
  static huge_copy of(std::span<const std::byte> bytes) {
    huge_copy h = allocate(bytes.size());
    if (!bytes.empty()) std::memcpy(h.data.get(), bytes.data(), bytes.size());
    return h;
  }
};

// The read side: an image plus its decode table. Lives behind a unique_ptr in FrozenLayer so
// iterators survive moves of the FrozenLayer.
class reader {
public:
  huge_copy owned;           // the image, when this object owns a copy of it
  io::byte_source source;    // where the image is: owned (a span over `owned`), mapped, borrowed
  const std::byte* fst = nullptr;      // FST region
  const std::byte* values = nullptr;   // value region
  std::uint64_t fst_bits = 0;
  std::uint64_t n = 0;
  fst_header hdr;
  label_decoder labels;

  void init(io::byte_source src, image_check check) {
    source = std::move(src);
    const std::span<const std::byte> img = source.span();
    const io::image_header ih =
        io::parse_image_header(img, magic, version, check == image_check::checksum);
    if (img.size() < region_offset + fst_pad + value_pad)
      throw_format_error("FrozenLayer image of " + std::to_string(img.size()) +
                         " bytes is shorter than its fixed parts (offset 48)");
    n = ih.key_count;
    hdr = fst_header::load(img.data() + header_offset);
    const std::uint64_t room = img.size() - region_offset - fst_pad;
    if (hdr.fst_bytes > room || hdr.values_bytes != room - hdr.fst_bytes)
      throw_format_error("FrozenLayer region sizes (offsets 48 and 80) do not add up to the "
                         "image length " + std::to_string(img.size()));
    if (hdr.fst_bytes > (~std::uint64_t{0} >> 4))
      throw_format_error("FrozenLayer FST region too large (offset 48)");
    fst_bits = hdr.fst_bytes * 8;
    fst = img.data() + region_offset;
    values = fst + hdr.fst_bytes + fst_pad;
    if (hdr.root > fst_bits)
      throw_format_error("FrozenLayer root address " + std::to_string(hdr.root) +
                         " outside the FST region (offset 56)");
    if (hdr.value_mode > 1 || hdr.value_width > 64 || (hdr.value_mode == 0 && hdr.value_width))
      throw_format_error("FrozenLayer bad value mode/width (offset 88)");
    if (hdr.value_mode == 1) {
      const unsigned __int128 need =
          (static_cast<unsigned __int128>(n) * hdr.value_width + 7) / 8 + value_pad;
      if (need > hdr.values_bytes)
        throw_format_error("FrozenLayer value column shorter than key count x width (offset 80)");
    }
    if (n > 0 && hdr.max_key_length > fst_bits + 1 && hdr.max_key_length > 0)
      throw_format_error("FrozenLayer longest key length larger than possible (offset 64)");
    if (n == 0 && hdr.root != 0)
      throw_format_error("FrozenLayer empty image with a root state (offset 56)");
    labels.init(hdr.code_length);
  }

  // Starts loading the packed value of `rank` into the cache (nothing in rank mode).
  void prefetch_value(std::uint64_t rank) const noexcept {
    if (hdr.value_mode == 1 && rank < n) detail::prefetch(values + ((rank * hdr.value_width) >> 3));
  }
  std::uint64_t value_at(std::uint64_t rank) const {
    if (rank >= n) corrupt("rank beyond the key count", rank);
    if (hdr.value_mode == 0) return rank;
    return hdr.value_base +
           read_bits64(values, rank * hdr.value_width, hdr.value_width);
  }

  std::uint64_t field(std::uint64_t& p, unsigned w) const {
    if (p < w) corrupt("field below the region start", p);
    p -= w;
    return read_bits(fst, p, w);
  }

  std::uint64_t resolve(std::uint64_t t, std::uint64_t start, std::uint64_t at) const {
    if (t == 0) return 0;
    if (t - 1 > start) corrupt("target below the region start", at);
    return start - (t - 1);
  }

  state decode(std::uint64_t e) const {
    state s;
    if (e == 0) {
      s.final = true;
      return s;
    }
    if (e > fst_bits) corrupt("state address outside the region", e);
    std::uint64_t h = e >= 3 ? read_bits(fst, e - 3, 3)
                             : read_bits(fst, 0, static_cast<unsigned>(e)) << (3 - e);
    std::uint64_t p;
    if (h & 4) {  // chain link
      p = e - 1;
      const std::uint32_t c = labels.decode(fst, p);
      s.start = p - (c >> 8);
      s.ntrans = 1;
      s.label0 = static_cast<std::uint8_t>(c);
      s.target0 = s.start;
      return s;
    }
    if (e < 3 && (h & 2) == 0) corrupt("truncated state", e);
    if (h & 2) {  // leaf link
      p = e - 2;
      const std::uint32_t c = labels.decode(fst, p);
      s.start = p - (c >> 8);
      s.ntrans = 1;
      s.label0 = static_cast<std::uint8_t>(c);
      s.target0 = 0;
      return s;
    }
    p = e - 3;
    s.final = field(p, 1) != 0;
    if (h & 1) {  // one transition
      const std::uint32_t c = labels.decode(fst, p);
      p -= c >> 8;
      s.label0 = static_cast<std::uint8_t>(c);
      const unsigned w = static_cast<unsigned>(field(p, 6));
      if (w > max_field_width) corrupt("field width too large", p);
      const std::uint64_t t = field(p, w);
      s.start = p;
      s.ntrans = 1;
      s.target0 = resolve(t, p, e);
      return s;
    }
    s.ntrans = static_cast<std::uint32_t>(field(p, 8)) + 2;
    s.w_out = static_cast<unsigned>(field(p, 6));
    s.w_tgt = static_cast<unsigned>(field(p, 6));
    if (s.w_out > max_field_width || s.w_tgt > max_field_width) corrupt("field width too large", p);
    const std::uint64_t k = s.ntrans;
    const std::uint64_t size = 8 * k + s.w_out * (k - 1) + s.w_tgt * k;
    if (size > p) corrupt("state extends below the region start", e);
    s.labels_top = p;
    s.outs_top = p - 8 * k;
    s.tgts_top = s.outs_top - s.w_out * (k - 1);
    s.start = p - size;
    return s;
  }

  std::uint8_t label(const state& s, std::uint32_t i) const {
    if (s.ntrans == 1) return s.label0;
    return static_cast<std::uint8_t>(read_bits(fst, s.labels_top - 8 * (i + 1), 8));
  }
  std::uint64_t out(const state& s, std::uint32_t i) const {
    if (i == 0) return 0;
    return read_bits(fst, s.outs_top - std::uint64_t{s.w_out} * i, s.w_out);
  }
  std::uint64_t target(const state& s, std::uint32_t i) const {
    if (s.ntrans == 1) return s.target0;
    const std::uint64_t t =
        read_bits(fst, s.tgts_top - std::uint64_t{s.w_tgt} * (i + 1), s.w_tgt);
    return resolve(t, s.start, s.tgts_top);
  }
  // Index of the first transition whose label is >= c (ntrans if none). The labels, 8 bits each
  // at any bit offset, are compared 16 at a time (detail::bytes_below_at_bit: SSE2, else a
  // loop): label m + 15 - j is byte j of the 16 read from the bit labels_top - 8 (m + 16), so
  // the labels below c are the mask's leading ones. A chunk that would start below the region
  // (a state in its first 16 bytes) is searched label by label. On a damaged image (labels not
  // increasing) the answer is some index <= ntrans, which the caller's label check then tests.
  std::uint32_t first_at_least(const state& s, std::uint8_t c) const {
    if (s.ntrans <= 1) return (s.ntrans == 1 && s.label0 >= c) ? 0 : s.ntrans;
    const std::uint32_t k = s.ntrans;
    std::uint32_t m = 0;
    for (; m < k && s.labels_top >= 8 * std::uint64_t{m + 16}; m += 16) {
      const std::uint64_t lo = s.labels_top - 8 * std::uint64_t{m + 16};
      const unsigned r = std::min<std::uint32_t>(16, k - m);
      const unsigned valid = (0xffffu << (16 - r)) & 0xffffu;
      const unsigned below =
          detail::bytes_below_at_bit(fst + (lo >> 3), static_cast<unsigned>(lo & 7), c) & valid;
      if (below != valid) return m + static_cast<std::uint32_t>(std::countl_one(static_cast<std::uint16_t>(below)));
    }
    if (m >= k) return k;  // every label is below c
    while (m < k && label(s, m) < c) ++m;
    return m;
  }

  // The run of chain links from the state at addr >= 57, decoded from one 57-bit window below
  // it: each link is a 1 bit and its label's code, its target right below it. Calls
  // on_link(label, target) for each in turn; a false return leaves that link untaken and ends
  // the run, as do a state of another shape and the window's end. Returns the bits taken: the
  // run ends at the state addr - result.
  template <class F>
  unsigned chain_run(std::uint64_t addr, F&& on_link) const {
    const unsigned L = labels.max_length;
    const std::uint64_t lmask = (std::uint64_t{1} << L) - 1;
    const std::uint64_t win = read_bits(fst, addr - 57, 57);  // bit 56 = bit addr - 1
    unsigned used = 0;
    while (used + 1 + L <= 57 && ((win >> (56 - used)) & 1)) {
      const std::uint32_t c = labels.table[(win >> (56 - used - L)) & lmask];
      const unsigned next = used + 1 + (c >> 8);
      if (!on_link(static_cast<std::uint8_t>(c & 0xff), addr - next)) break;
      used = next;
    }
    return used;
  }

  // One key's walk down the transducer, advanced a step at a time (see step()).
  struct walk {
    const std::uint8_t* key;
    std::size_t len, i;    // key bytes matched so far
    std::uint64_t addr;    // the state reached
    std::uint64_t rank;    // the rank so far
  };
  enum class walk_result { more, found, absent };
  walk start_walk(std::string_view key) const noexcept {
    return {reinterpret_cast<const std::uint8_t*>(key.data()), key.size(), 0, hdr.root, 0};
  }
  // Advances w by a run of chain links (the bulk of most keys) or, if none, one state; at the key's
  // end, answers whether the state reached is final (w.rank is then the key's rank). Throws
  // format_error on a damaged image. on_rank(r) is called with the rank so far after each run of
  // chain links: the final rank is usually the last of them (only final states and
  // multi-transition states further down add to it), so a caller can prefetch what it will read
  // at that rank while the rest of the key is matched.
  template <class OnRank>
  walk_result step(walk& w, OnRank& on_rank) const {
    if (w.i == w.len) {
      if (!decode(w.addr).final) return walk_result::absent;
      if (w.rank >= n) corrupt("rank beyond the key count", w.addr);
      return walk_result::found;
    }
    if (w.addr >= 57) {
      bool mismatch = false;
      const unsigned used = chain_run(w.addr, [&](std::uint8_t label, std::uint64_t) {
        if (w.i == w.len) return false;
        if (label != w.key[w.i]) {
          mismatch = true;
          return false;
        }
        ++w.i;
        return true;
      });
      if (mismatch) return walk_result::absent;
      w.addr -= used;
      if (used > 0) {
        on_rank(w.rank);
        return walk_result::more;
      }
    }
    const auto c = w.key[w.i++];
    const state s = decode(w.addr);
    if (s.ntrans == 1) {
      if (s.label0 != c) return walk_result::absent;
      w.rank += s.final;
      w.addr = s.target0;
      return walk_result::more;
    }
    const std::uint32_t j = first_at_least(s, c);
    if (j == s.ntrans || label(s, j) != c) return walk_result::absent;
    w.rank += s.final + out(s, j);
    w.addr = target(s, j);
    return walk_result::more;
  }
  // Starts loading the first lines of the state a walk goes to next (its top is at the highest
  // address: it is decoded downward).
  void prefetch_state(std::uint64_t addr) const noexcept {
    if (addr == 0) return;
    const std::byte* top = fst + ((addr - 1) >> 3);
    detail::prefetch(top);
    if (addr > 512) detail::prefetch(top - 64);
  }

  // Rank of key, or nullopt (see step() for on_rank).
  std::optional<std::uint64_t> rank_of(std::string_view key) const {
    return rank_of(key, [](std::uint64_t) noexcept {});
  }
  template <class OnRank>
  std::optional<std::uint64_t> rank_of(std::string_view key, OnRank&& on_rank) const {
    if (n == 0) return std::nullopt;
    walk w = start_walk(key);
    for (;;) {
      switch (step(w, on_rank)) {
        case walk_result::more: continue;
        case walk_result::found: return w.rank;
        case walk_result::absent: return std::nullopt;
      }
    }
  }
};

// ---------------------------------------------------------------------------------------------
// Builder internals.

// A transition on the builder's path: label in the top byte, target address below.
inline constexpr std::uint64_t target_mask = (std::uint64_t{1} << 56) - 1;

// Tests set this to make the next chunk allocations of an in-memory builder fail with
// std::bad_alloc (each failing one counts it down).
inline std::atomic<unsigned> g_sink_fail_allocations{0};

// Byte sink: to memory, or buffered to a file descriptor. Memory mode keeps the bytes in chunks
// (64 KiB doubling to 2 MiB, then 2 MiB each, on huge pages from 2 MiB), so growing never copies
// what is written; copy_to() assembles them once at the end. (Until 2026-12-04 it appended to a
// std::vector, 4 bytes at a time, through a call to memmove each time, and the vector's doubling
// copied the image and faulted in fresh pages. Scratch program, npm-urls sorted, in memory, 3
// builds each in one process: 1.55-1.60 s -> 1.38-1.43 s, minor page faults 6.5-13.7 thousand
// -> 0.6-2.7 thousand.) File mode stages 64 KiB and write()s it.
class byte_sink {
public:
  std::uint64_t written = 0;

  void to_memory() { memory_ = true; }
  void to_file(int fd) { fd_ = fd; }
  bool in_memory() const noexcept { return memory_; }
  int fd() const noexcept { return fd_; }
  void close_fd() noexcept { fd_ = -1; }

  void put(std::byte b) {
    if (pos_ == end_) next();
    *pos_++ = b;
    ++written;
  }
  void put(const std::byte* p, std::size_t len) {
    if (len == 0) return;
    // The common case, the bit writer's 4 bytes: with a constant len the memcpy is inlined
    // (the loop below would call memmove for every 4 bytes, which is what this sink replaced).
    if (static_cast<std::size_t>(end_ - pos_) >= len) {
      std::memcpy(pos_, p, len);
      pos_ += len;
      written += len;
      return;
    }
    while (len > 0) {
      if (pos_ == end_) next();
      const std::size_t n = std::min<std::size_t>(len, static_cast<std::size_t>(end_ - pos_));
      std::memcpy(pos_, p, n);
      pos_ += n;
      p += n;
      len -= n;
      written += n;
    }
  }
  // Memory mode: copies the `written` bytes to dst.
  void copy_to(std::byte* dst) const noexcept {
    std::uint64_t left = written;
    for (const huge_copy& c : chunks_) {
      const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(left, c.size));
      if (n) std::memcpy(dst, c.data.get(), n);
      dst += n;
      left -= n;
    }
  }
  // Memory mode: gives the chunks back.
  void release() noexcept {
    chunks_.clear();
    pos_ = end_ = nullptr;
  }
  // File mode: writes out what is staged.
  void drain() {
#if MEMKV_HAS_POSIX_IO
    if (!stage_.data) return;
    const std::byte* p = stage_.data.get();
    std::size_t left = static_cast<std::size_t>(pos_ - p);
    while (left > 0) {
      const ::ssize_t w = ::write(fd_, p, left);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw_error(std::string("FrozenLayerBuilder: cannot write output file: ") +
                    std::strerror(errno));
      }
      p += w;
      left -= static_cast<std::size_t>(w);
    }
    pos_ = stage_.data.get();
#endif
  }

private:
  static constexpr std::size_t kFirstChunk = std::size_t{64} << 10;
  static constexpr std::size_t kMaxChunk = std::size_t{2} << 20;
  void next() {
    if (memory_) {
      if (unsigned f = g_sink_fail_allocations.load(std::memory_order_relaxed); f != 0) {
        g_sink_fail_allocations.store(f - 1, std::memory_order_relaxed);
        throw std::bad_alloc();
      }
      const std::size_t size =
          chunks_.empty() ? kFirstChunk : std::min(kMaxChunk, 2 * chunks_.back().size);
      chunks_.push_back(huge_copy::allocate(size));
      pos_ = chunks_.back().data.get();
      end_ = pos_ + size;
      return;
    }
    if (!stage_.data) {
      stage_ = huge_copy::allocate(kFirstChunk);
      pos_ = stage_.data.get();
      end_ = pos_ + kFirstChunk;
      return;
    }
    drain();
  }

  bool memory_ = false;
  int fd_ = -1;
  std::vector<huge_copy> chunks_;  // memory mode
  huge_copy stage_;                // file mode
  std::byte* pos_ = nullptr;
  std::byte* end_ = nullptr;
};

// A set-associative cache of frozen states (4 ways per bucket, least recently used evicted):
// the "registry" that finds an equal, already written state for suffix sharing. Bounded: it
// grows by doubling up to max_cells and then evicts, which only costs some sharing (the
// automaton stays correct, just less minimal). A bucket is one 128-byte block, so a lookup
// costs one cache miss (two adjacent lines, prefetched together):
//
//   struct bucket {                 // alignas(128)
//     u64 meta;                     // 4 x 14-bit tags from the hash (0 = empty way), and the
//                                   // LRU order of the ways in the top byte (2 bits each)
//     struct { u64 key;             // one transition: label << 56 | target; else ring offset
//              u64 addr_k;          // address | (transitions - 1) << 56
//              u64 count_final;     // keys below | final << 63
//     } way[4];
//   };
// States of two or more transitions keep their transitions in a bounded ring buffer; an entry
// that the ring has since overwritten simply stops matching.
class registry {
public:
  struct found {
    std::uint64_t addr, count;
  };

  explicit registry(std::size_t max_cells)
      : max_buckets_(std::bit_floor(std::max<std::size_t>(max_cells / 4, 1))),
        ring_(std::max<std::size_t>(max_buckets_ * 4, 1024)) {
    resize(std::min<std::size_t>(1024, max_buckets_));
  }

  static std::uint64_t hash_of(bool final, const std::uint64_t* t, std::size_t k) {
    std::uint64_t h = 0x9e3779b97f4a7c15ULL ^ (final ? 0x51ed27 : 0) ^ (k << 40);
    for (std::size_t i = 0; i < k; ++i) {
      h ^= t[i];
      h *= 0xff51afd7ed558ccdULL;
      h ^= h >> 32;
    }
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 29);
  }

  // Finds an equal state.
  std::optional<found> find(std::uint64_t h, bool final, const std::uint64_t* t, std::uint32_t k) {
    bucket& bk = buckets_[h & mask_];
    const std::uint64_t m = bk.meta;
    const std::uint64_t tag = tag_of(h);
    for (unsigned pos = 0; pos < 4; ++pos) {
      const unsigned way = (m >> (56 + 2 * pos)) & 3;
      if (((m >> (14 * way)) & 0x3fff) != tag) continue;
      const std::uint64_t* w = bk.w + 3 * way;
      if ((w[1] >> 56) + 1 != k || (w[2] >> 63) != static_cast<std::uint64_t>(final)) continue;
      bool eq;
      if (k == 1) {
        eq = w[0] == t[0];
      } else {
        eq = head_ - w[0] <= ring_.size() &&
             std::equal(t, t + k, ring_.data() + w[0] % ring_.size());
      }
      if (eq) {
        promote(bk, pos);
        return found{w[1] & target_mask, w[2] & ~(std::uint64_t{1} << 63)};
      }
    }
    return std::nullopt;
  }

  void prefetch(std::uint64_t h) const noexcept {
#if defined(__GNUC__)
    const char* p = reinterpret_cast<const char*>(&buckets_[h & mask_]);
    detail::prefetch_for_write(p);
    detail::prefetch_for_write(p + 64);
#else
    (void)h;
#endif
  }

  void insert(std::uint64_t h, bool final, const std::uint64_t* t, std::uint32_t k,
              std::uint64_t addr, std::uint64_t count) {
    if (++inserted_ > nbuckets_ * 4 && nbuckets_ < max_buckets_) resize(nbuckets_ * 2);
    std::uint64_t key = t[0];
    if (k > 1) {
      const std::size_t r = ring_.size();
      if (head_ % r + k > r) head_ += r - head_ % r;  // keep each entry contiguous
      key = head_;
      std::copy(t, t + k, ring_.data() + head_ % r);
      head_ += k;
    }
    place(h, key, addr | (std::uint64_t{k - 1} << 56), count | (std::uint64_t{final} << 63));
  }

  std::size_t cells() const noexcept { return nbuckets_ * 4; }

private:
  struct alignas(128) bucket {
    std::uint64_t meta;
    std::uint64_t w[12];
  };

  static std::uint64_t tag_of(std::uint64_t h) noexcept {
    const std::uint64_t t = h >> 50;
    return t ? t : 1;  // 0 marks an empty way
  }
  static void promote(bucket& bk, unsigned pos) noexcept {
    const std::uint64_t m = bk.meta;
    std::uint64_t order = m >> 56;
    const std::uint64_t way = (order >> (2 * pos)) & 3;
    const std::uint64_t below = order & ((std::uint64_t{1} << (2 * pos)) - 1);  // ways before pos
    const std::uint64_t above = order >> (2 * pos + 2) << (2 * pos + 2);
    order = above | (below << 2) | way;
    bk.meta = (m & ((std::uint64_t{1} << 56) - 1)) | (order << 56);
  }
  void place(std::uint64_t h, std::uint64_t key, std::uint64_t addr_k, std::uint64_t count_final) {
    bucket& bk = buckets_[h & mask_];
    const unsigned way = (bk.meta >> 62) & 3;  // least recently used
    bk.w[3 * way] = key;
    bk.w[3 * way + 1] = addr_k;
    bk.w[3 * way + 2] = count_final;
    bk.meta = (bk.meta & ~(std::uint64_t{0x3fff} << (14 * way))) | (tag_of(h) << (14 * way));
    promote(bk, 3);
  }
  // Bucket storage: 2 MiB aligned and advised to use transparent huge pages where available,
  // since lookups touch random buckets and 4 KiB pages would add a TLB miss to each. Large
  // arrays are mapped directly, so that freeing them gives the memory back to the system.
  struct free_buckets {
    std::size_t bytes;  // mapped length, 0: from aligned_alloc
    void operator()(bucket* p) const noexcept {
#if MEMKV_HAS_POSIX_IO
      if (bytes) {
        ::munmap(p, bytes);
        return;
      }
#endif
      std::free(p);
    }
  };
  using bucket_array = std::unique_ptr<bucket[], free_buckets>;
  static bucket_array allocate(std::size_t nbuckets) {
    constexpr std::size_t huge = std::size_t{2} << 20;
    const std::size_t bytes = nbuckets * sizeof(bucket);
    bucket* b = nullptr;
    std::size_t mapped = 0;
#if MEMKV_HAS_POSIX_IO && defined(MAP_ANONYMOUS)
    if (bytes >= huge) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
#if defined(MADV_HUGEPAGE)
      ::madvise(p, bytes, MADV_HUGEPAGE);
#endif
      b = static_cast<bucket*>(p);
      mapped = bytes;
    }
#endif
    if (!b) {
      void* p = std::aligned_alloc(alignof(bucket), bytes);
      if (!p) throw std::bad_alloc();
      b = static_cast<bucket*>(p);
    }
    for (std::size_t i = 0; i < nbuckets; ++i) {
      ::new (b + i) bucket();
      b[i].meta = std::uint64_t{0xE4} << 56;  // order 0,1,2,3
    }
    return bucket_array(b, free_buckets{mapped});
  }

  void resize(std::size_t nbuckets) {
    bucket_array old_array = std::move(buckets_);
    const std::span<const bucket> old(old_array.get(), nbuckets_);
    buckets_ = allocate(nbuckets);
    nbuckets_ = nbuckets;
    mask_ = nbuckets - 1;
    for (const bucket& ob : old)
      for (unsigned pos = 4; pos-- > 0;) {  // least recent first, so recency survives
        const unsigned way = (ob.meta >> (56 + 2 * pos)) & 3;
        if (((ob.meta >> (14 * way)) & 0x3fff) == 0) continue;
        const std::uint64_t* w = ob.w + 3 * way;
        const std::uint32_t k = static_cast<std::uint32_t>(w[1] >> 56) + 1;
        const std::uint64_t* t = w;
        if (k > 1) {
          if (head_ - w[0] > ring_.size()) continue;
          t = ring_.data() + w[0] % ring_.size();
        }
        place(hash_of(w[2] >> 63, t, k), w[0], w[1], w[2]);
      }
  }

  std::size_t max_buckets_;
  bucket_array buckets_;
  std::size_t nbuckets_ = 0;
  std::size_t mask_ = 0;
  std::size_t inserted_ = 0;
  std::vector<std::uint64_t> ring_;  // transitions of states with two or more
  std::uint64_t head_ = 0;
};

}  // namespace detail::fst

// =============================================================================================
// FrozenLayer: the read side.
class FrozenLayer {
public:
  using key_type = std::string_view;
  using mapped_type = std::uint64_t;
  using size_type = std::size_t;
  using value_type = basic_entry<std::uint64_t>;

  // Forward iterator over entries in key order. Holds the current key in its own buffer and the
  // stack of states on its path; *it returns an entry by value whose key views that buffer.
  class const_iterator {
  public:
    using iterator_category = std::input_iterator_tag;  // *it is a prvalue
    using iterator_concept = std::forward_iterator_tag;
    using value_type = basic_entry<std::uint64_t>;
    using difference_type = std::ptrdiff_t;
    using reference = value_type;
    using pointer = arrow_proxy<value_type>;

    const_iterator() noexcept : r_(nullptr), rank_(0) {}
    value_type operator*() const { return {key_, r_->value_at(rank_)}; }
    pointer operator->() const { return {**this}; }
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
      return a.rank_ == b.rank_;
    }
    // Rank of the current entry (size() at the end).
    std::uint64_t index() const noexcept { return rank_; }
    std::string_view key() const noexcept { return key_; }

  private:
    friend class FrozenLayer;
    struct frame {
      std::uint64_t addr;  // the state
      std::uint64_t base;  // rank of the first key at or below it
      std::uint32_t idx;   // transition taken from it (frames below the top)
      std::uint32_t ntrans;  // its transition count (frames below the top)
      std::uint32_t links;   // key bytes from it to the next frame: 1, or a run of chain links
    };

    explicit const_iterator(const detail::fst::reader* r) : r_(r), rank_(r->n) {}

    void set_end() {
      stack_.clear();
      key_.clear();
      rank_ = r_->n;
    }
    void push(std::uint64_t addr, std::uint64_t base) {
      if (key_.size() > r_->hdr.max_key_length)
        detail::fst::corrupt("path longer than the longest key", addr);
      stack_.push_back({addr, base, 0, 0, 1});
    }
    // Takes transition i of the top state s and pushes its target.
    void take(const detail::fst::state& s, std::uint32_t i) {
      frame& f = stack_.back();
      f.idx = i;
      f.ntrans = s.ntrans;
      f.links = 1;
      const std::uint64_t base = f.base + s.final + r_->out(s, i);
      key_.push_back(static_cast<char>(r_->label(s, i)));
      push(r_->target(s, i), base);
    }
    // Takes the run of chain links from the top state (most of a key's tail) for as long as
    // accept(label, links taken so far) allows, as ONE frame: their states have no other
    // transition to come back for, and a chain link is never final and outputs 0, so the run's
    // last target gets the next frame with the same base. Returns the links taken (0: the top
    // state is not a chain link, or accept refused its first). One frame a run, not a state,
    // keeps an iterator on a 16 MiB key at a few frames instead of 16M (512 MiB).
    template <class Accept>
    std::uint32_t take_chain(Accept&& accept) {
      const std::uint64_t a = stack_.back().addr;
      if (a < 57) return 0;
      std::uint32_t links = 0;
      std::uint64_t last = 0;
      r_->chain_run(a, [&](std::uint8_t label, std::uint64_t target) {
        if (!accept(label, links)) return false;
        key_.push_back(static_cast<char>(label));
        ++links;
        last = target;
        return true;
      });
      if (links == 0) return 0;
      frame& f = stack_.back();
      f.idx = 0;
      f.ntrans = 1;
      f.links = links;
      push(last, f.base);
      return links;
    }
    // From the top state, follow first transitions down to the first final state.
    void leftmost() {
      for (;;) {
        if (take_chain([](std::uint8_t, std::uint32_t) { return true; }) > 0) continue;
        const detail::fst::state s = r_->decode(stack_.back().addr);
        if (s.final) break;
        if (s.ntrans == 0) detail::fst::corrupt("dead-end state", stack_.back().addr);
        take(s, 0);
      }
      rank_ = stack_.back().base;
      if (rank_ >= r_->n) detail::fst::corrupt("rank beyond the key count", stack_.back().addr);
    }
    // Leaves the top state's subtree: the next sibling subtree of some ancestor, or the end.
    void next_subtree() {
      for (;;) {
        stack_.pop_back();
        if (stack_.empty()) {
          set_end();
          return;
        }
        key_.resize(key_.size() - stack_.back().links);
        const std::uint32_t j = stack_.back().idx + 1;
        if (j >= stack_.back().ntrans) continue;  // no later sibling: no need to decode it
        const detail::fst::state s = r_->decode(stack_.back().addr);
        if (r_->label(s, j) <= r_->label(s, j - 1))
          detail::fst::corrupt("labels not increasing", stack_.back().addr);
        take(s, j);
        leftmost();
        return;
      }
    }
    void advance() {
      const std::uint64_t old = rank_;
      const detail::fst::state s = r_->decode(stack_.back().addr);
      if (s.ntrans > 0) {
        take(s, 0);
        leftmost();
      } else {
        next_subtree();
      }
      // In a valid image ranks go 0, 1, 2, ... n-1: checking it keeps iteration, size(), nth()
      // and get() consistent with each other on any image.
      if (stack_.empty() ? old + 1 != r_->n : rank_ != old + 1)
        detail::fst::corrupt("ranks out of sequence during iteration", old);
    }

    const detail::fst::reader* r_;
    std::string key_;
    std::vector<frame> stack_;
    std::uint64_t rank_;
  };
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;

  // An empty map.
  FrozenLayer();
  FrozenLayer(FrozenLayer&&) noexcept = default;
  FrozenLayer& operator=(FrozenLayer&&) noexcept = default;
  FrozenLayer(const FrozenLayer& o) { *this = from_bytes(o.bytes(), image_check::structure); }
  FrozenLayer& operator=(const FrozenLayer& o) {
    if (this != &o) *this = from_bytes(o.bytes(), image_check::structure);
    return *this;
  }
  void swap(FrozenLayer& o) noexcept { r_.swap(o.r_); }

  // Any input range of pairs (.first converts to std::string_view, .second to std::uint64_t),
  // keys strictly increasing.
  template <std::ranges::input_range R>
  static FrozenLayer build(R&& range);

  // Maps the file read-only (no copy); see the header comment for what `check` verifies.
  static FrozenLayer open(const std::filesystem::path& path,
                          image_check check = image_check::checksum) {
    FrozenLayer f(nullptr);
    try {
      f.r_->init(io::byte_source::mapped(path), check);
    } catch (const format_error& e) {
      throw format_error(std::string(e.what()) + " (file '" + path.string() + "')");
    }
    return f;
  }
  // Copies the image.
  static FrozenLayer from_bytes(std::span<const std::byte> image,
                                image_check check = image_check::checksum) {
    FrozenLayer f(nullptr);
    f.r_->owned = detail::fst::huge_copy::of(image);
    f.r_->init(io::byte_source::borrowed({f.r_->owned.data.get(), f.r_->owned.size}), check);
    return f;
  }
  // Views the image in place: the caller keeps it alive and unchanged while this is used.
  static FrozenLayer view_bytes(std::span<const std::byte> image,
                                image_check check = image_check::checksum) {
    FrozenLayer f(nullptr);
    f.r_->init(io::byte_source::borrowed(image), check);
    return f;
  }

  std::span<const std::byte> bytes() const noexcept { return r_->source.span(); }
  void save(const std::filesystem::path& path) const { io::atomic_write_file(path, bytes()); }

  std::optional<std::uint64_t> get(std::string_view key) const {
    const detail::fst::reader& r = *r_;
    const auto rk = r.rank_of(key, [&r](std::uint64_t partial) noexcept { r.prefetch_value(partial); });
    if (!rk) return std::nullopt;
    return r.value_at(*rk);
  }
  // get() of every key of `keys`, its answer written to the same index of `out`. A lookup is a
  // chain of dependent cache misses (see "Measured" above); get_many walks up to 16 keys at once,
  // a step of each in turn (a run of chain links or one state), and starts loading the state a
  // walk needs next before it goes on to the others, so that their misses overlap. Keys are
  // taken in blocks of 256: their values are read (mode packed) once the block's walks are done,
  // each prefetched when its walk ended. Any order and repeats are fine; an empty span is.
  // Throws memkv::error when out.size() != keys.size(), memkv::format_error on a damaged image
  // (out is then partly written).
  void get_many(std::span<const std::string_view> keys,
                std::span<std::optional<std::uint64_t>> out) const {
    check_many("get_many", keys, out);
    const detail::fst::reader& r = *r_;
    walk_many(keys, out, [&r](std::uint64_t rank) noexcept { r.prefetch_value(rank); },
              [&r, out](std::size_t b0, std::size_t b1) {
                if (r.hdr.value_mode != 0)
                  for (std::size_t i = b0; i < b1; ++i)
                    if (out[i]) out[i] = r.value_at(*out[i]);
              });
  }
  // rank() of every key of `keys` into `out`, walked as get_many walks them; on_found(rank)
  // (noexcept) is called as each walk that finds its key ends, while other walks go on: a caller
  // that keeps data indexed by rank (HybridStore's values) prefetches it there. Same errors as
  // get_many.
  void rank_many(std::span<const std::string_view> keys,
                 std::span<std::optional<std::uint64_t>> out) const {
    rank_many(keys, out, [](std::uint64_t) noexcept {});
  }
  template <class OnFound>
  void rank_many(std::span<const std::string_view> keys,
                 std::span<std::optional<std::uint64_t>> out, OnFound&& on_found) const {
    check_many("rank_many", keys, out);
    walk_many(keys, out, on_found, [](std::size_t, std::size_t) noexcept {});
  }
  bool contains(std::string_view key) const noexcept {
    try {
      return r_->rank_of(key).has_value();
    } catch (...) {
      return false;
    }
  }
  // Index of key in key order, if present.
  std::optional<std::uint64_t> rank(std::string_view key) const { return r_->rank_of(key); }
  // The same, calling on_rank(r) (noexcept) with the rank so far after each run of one-transition
  // states on the key's path: the final rank is usually the last such r, so a caller that keeps
  // data indexed by rank (HybridStore's values) can prefetch it while the rest of the key is
  // matched. Measured on npm-urls (rank + a read of a separate 8-byte value array, alternating
  // passes in one process, medians of 8): 2368-2545 ns a lookup without the prefetch,
  // 2188-2340 ns with it; the value read alone costs ~400 ns without, ~200 with. get() does the
  // same for the packed value column (since 2026-12-02 for real: GCC had deleted that prefetch,
  // see memkv/core/prefetch.hpp).
  template <class OnRank>
  std::optional<std::uint64_t> rank(std::string_view key, OnRank&& on_rank) const {
    return r_->rank_of(key, on_rank);
  }

private:
  static void check_many(const char* what, std::span<const std::string_view> keys,
                         std::span<std::optional<std::uint64_t>> out) {
    if (out.size() != keys.size())
      detail::throw_error(std::string("FrozenLayer::") + what + ": " + std::to_string(keys.size()) +
                          " keys but " + std::to_string(out.size()) + " answer slots");
  }
  // The interleaved walks of get_many/rank_many: out[i] = the rank of keys[i] or nullopt;
  // on_found(rank) as a walk finds its key, on_block(b0, b1) once keys [b0, b1) are all answered.
  template <class OnFound, class OnBlock>
  void walk_many(std::span<const std::string_view> keys, std::span<std::optional<std::uint64_t>> out,
                 OnFound&& on_found, OnBlock&& on_block) const {
    const detail::fst::reader& r = *r_;
    if (r.n == 0) {
      std::fill(out.begin(), out.end(), std::nullopt);
      return;
    }
    using walk_result = detail::fst::reader::walk_result;
    constexpr std::size_t block = 256;
    auto no_prefetch = [](std::uint64_t) noexcept {};
    struct lane {
      detail::fst::reader::walk w;
      std::size_t who;
    };
    for (std::size_t b0 = 0; b0 < keys.size(); b0 += block) {
      const std::size_t b1 = std::min(keys.size(), b0 + block);
      detail::interleave<16, lane>(
          b1 - b0,
          [&](lane& x, std::size_t i) {
            x.who = b0 + i;
            detail::prefetch(keys[x.who].data());
            x.w = r.start_walk(keys[x.who]);
          },
          [&](lane& x) {
            const walk_result res = r.step(x.w, no_prefetch);
            if (res == walk_result::more) {
              r.prefetch_state(x.w.addr);
              return false;
            }
            if (res == walk_result::found) {
              out[x.who] = x.w.rank;
              on_found(x.w.rank);
            } else {
              out[x.who] = std::nullopt;
            }
            return true;
          });
      on_block(b0, b1);
    }
  }

public:

  std::size_t size() const noexcept { return static_cast<std::size_t>(r_->n); }
  bool empty() const noexcept { return r_->n == 0; }
  // Heap bytes of this object plus the image: an owned copy as allocated (from 2 MiB up on
  // Linux, the image rounded up to 4 KiB pages; see detail::fst::huge_copy), a mapped one by its
  // size, a borrowed one not at all.
  std::size_t memory_usage() const noexcept {
    std::size_t img = r_->owned.data ? r_->owned.allocated
                      : r_->source.kind() == io::byte_source::kind_type::borrowed ? 0
                                                                                   : r_->source.size();
    return sizeof(*this) + sizeof(detail::fst::reader) + img;
  }
  std::size_t image_size() const noexcept { return r_->source.size(); }

  const_iterator begin() const {
    const_iterator it(r_.get());
    if (r_->n == 0) return it;
    it.push(r_->hdr.root, 0);
    it.leftmost();
    if (it.rank_ != 0) detail::fst::corrupt("first key's rank is not 0", r_->hdr.root);
    return it;
  }
  const_iterator end() const { return const_iterator(r_.get()); }

  const_iterator lower_bound(std::string_view key) const {
    const_iterator it(r_.get());
    if (r_->n == 0) return it;
    it.push(r_->hdr.root, 0);
    for (std::size_t d = 0;; ++d) {
      // The chain links that the key follows byte for byte: one frame (see take_chain).
      const std::uint32_t run = it.take_chain([&](std::uint8_t label, std::uint32_t j) {
        return d + j < key.size() && label == static_cast<std::uint8_t>(key[d + j]);
      });
      d += run;
      const detail::fst::state s = r_->decode(it.stack_.back().addr);
      if (d == key.size()) {
        it.leftmost();  // the key itself if final, else its smallest extension
        return it;
      }
      const auto c = static_cast<std::uint8_t>(key[d]);
      const std::uint32_t i = r_->first_at_least(s, c);
      if (i == s.ntrans) {
        it.next_subtree();
        return it;
      }
      const bool exact = r_->label(s, i) == c;
      it.take(s, i);
      if (!exact) {
        it.leftmost();
        return it;
      }
    }
  }
  // prefix() and range() are templates only so that their subrange is instantiated on use:
  // clang-14 with libstdc++ 12 cannot instantiate std::ranges::subrange (llvm/llvm-project#44178),
  // and this way the rest of the class still compiles there.
  template <class Range = range_type>
  Range prefix(std::string_view p) const {
    const auto succ = detail::prefix_successor(p);
    return {lower_bound(p), succ ? lower_bound(*succ) : end()};
  }
  template <class Range = range_type>
  Range range(std::string_view lo, std::string_view hi) const {
    const_iterator a = lower_bound(lo);
    if (!(lo < hi)) return {a, a};
    return {std::move(a), lower_bound(hi)};
  }
  // The entry of rank i (end() if i >= size()).
  const_iterator nth(std::uint64_t i) const {
    const_iterator it(r_.get());
    if (i >= r_->n) return it;
    it.push(r_->hdr.root, 0);
    for (;;) {
      // Chain links are not final and output 0: a run of them is taken whatever i is.
      it.take_chain([](std::uint8_t, std::uint32_t) { return true; });
      const detail::fst::state s = r_->decode(it.stack_.back().addr);
      const std::uint64_t base = it.stack_.back().base;
      if (s.final && base == i) break;
      if (s.ntrans == 0) detail::fst::corrupt("dead-end state", it.stack_.back().addr);
      // last transition whose first rank <= i
      const std::uint64_t rel = i - base - s.final;
      std::uint32_t lo = 0, hi = s.ntrans;  // find last j with out(j) <= rel
      while (hi - lo > 1) {
        const std::uint32_t mid = (lo + hi) / 2;
        if (r_->out(s, mid) <= rel) lo = mid; else hi = mid;
      }
      it.take(s, lo);
      if (it.stack_.back().base > i) detail::fst::corrupt("bad outputs", it.stack_.back().addr);
    }
    it.rank_ = i;
    return it;
  }

  // Walks the whole automaton and checks every structural property a correct image has (throws
  // memkv::format_error naming the first violation): keys strictly increasing, ranks 0..n-1 in
  // order, exactly n keys, no key longer than the recorded longest.
  void check_invariants() const {
    std::uint64_t count = 0;
    std::string prev;
    std::size_t longest = 0;
    for (auto it = begin(); it != end(); ++it) {
      if (it.index() != count)
        detail::throw_format_error("FrozenLayer invariant: rank " + std::to_string(it.index()) +
                                   " at position " + std::to_string(count));
      if (count > 0 && !(prev < it.key()))
        detail::throw_format_error("FrozenLayer invariant: keys out of order at position " +
                                   std::to_string(count));
      prev.assign(it.key());
      longest = std::max(longest, prev.size());
      ++count;
    }
    if (count != r_->n)
      detail::throw_format_error("FrozenLayer invariant: " + std::to_string(count) +
                                 " keys found, header says " + std::to_string(r_->n));
    if (r_->n > 0 && longest != r_->hdr.max_key_length)
      detail::throw_format_error("FrozenLayer invariant: longest key length mismatch");
  }

  // Format details, for tests and benchmarks.
  bool values_are_ranks() const noexcept { return r_->hdr.value_mode == 0; }
  unsigned value_width() const noexcept { return r_->hdr.value_width; }
  std::size_t fst_bytes() const noexcept { return static_cast<std::size_t>(r_->hdr.fst_bytes); }

private:
  friend class FrozenLayerBuilder;
  explicit FrozenLayer(std::nullptr_t) : r_(std::make_unique<detail::fst::reader>()) {}
  std::unique_ptr<detail::fst::reader> r_;
};

// =============================================================================================
// FrozenLayerBuilder: streaming construction.
class FrozenLayerBuilder {
public:
  using options = frozen_layer_options;

  FrozenLayerBuilder() : FrozenLayerBuilder(options{}) {}
  explicit FrozenLayerBuilder(options o) : opt_(o), reg_(front_cells(o)), back_(make_back(o)) {
    sink_.to_memory();
    init();
  }
  // Writes the image straight to `path` (atomically, at finish()).
  explicit FrozenLayerBuilder(const std::filesystem::path& path, options o = {})
      : opt_(o), reg_(front_cells(o)), back_(make_back(o)), path_(path) {
#if MEMKV_HAS_POSIX_IO
    static unsigned counter = 0;
    tmp_ = path;
    tmp_ += ".tmp." + std::to_string(::getpid()) + "." +
            std::to_string(__atomic_fetch_add(&counter, 1u, __ATOMIC_RELAXED));
    sink_.to_file(::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (sink_.fd() < 0)
      detail::throw_error("FrozenLayerBuilder: cannot create '" + tmp_.string() +
                          "': " + std::strerror(errno));
#else
    sink_.to_memory();
#endif
    init();
  }
  FrozenLayerBuilder(const FrozenLayerBuilder&) = delete;
  FrozenLayerBuilder& operator=(const FrozenLayerBuilder&) = delete;
  ~FrozenLayerBuilder() { discard(); }

  // Adds key with value; keys must be strictly increasing (bytewise). Throws memkv::error naming
  // the position (0-based count of keys inserted before) otherwise.
  void insert(std::string_view key, std::uint64_t value) {
    if (state_ != phase::open) detail::throw_error("FrozenLayerBuilder: insert after an error or finish()");
    std::size_t lcp = 0;  // with the previous key: the order check, and add()'s shared path
    if (count_ > 0) {
      const std::string_view last = last_key();
      lcp = detail::common_prefix_length(last, key);
      const bool increasing = lcp < last.size() ? lcp < key.size() && static_cast<unsigned char>(key[lcp]) >
                                                                         static_cast<unsigned char>(last[lcp])
                                                : key.size() > lcp;
      if (!increasing) {
        state_ = phase::failed;
        discard();
        detail::throw_error("FrozenLayerBuilder: key at position " + std::to_string(count_) +
                            (last == key ? " repeats the previous key" : " is smaller than the previous key") +
                            " (keys must be strictly increasing)");
      }
    }
    if (key.size() >= (std::uint64_t{1} << 32) * 4)
      detail::throw_error("FrozenLayerBuilder: key too long at position " + std::to_string(count_));
    // Anything thrown from here on (bad_alloc, a failed write) can leave the path, the bit writer
    // or the output half updated: the builder is then failed, like after an order error, so
    // that no later call can finish a damaged image.
    try {
      if (sampling_) {
        sample_off_.push_back(sample_.size());
        sample_.append(key);
        sample_values_.push_back(value);
        ++count_;
        if (sample_.size() >= opt_.sample_bytes) end_sampling();
        return;
      }
      add(key, value, lcp);
      ++count_;
    } catch (...) {
      state_ = phase::failed;
      discard();
      throw;
    }
  }
  template <class K>
  void insert(const std::pair<K, std::uint64_t>& kv) { insert(std::string_view(kv.first), kv.second); }

  std::size_t size() const noexcept { return static_cast<std::size_t>(count_); }

  // Finishes the image: in memory (returns a FrozenLayer owning it) or in the file (renamed into
  // place atomically; returns the file opened read-only).
  FrozenLayer finish() {
    if (state_ != phase::open) detail::throw_error("FrozenLayerBuilder: finish() after an error or finish()");
    state_ = phase::failed;  // until done
    if (sampling_) end_sampling();
    const std::size_t depth = last_.size();
    bool fresh = false;
    for (std::size_t d = depth; d >= 1; --d) freeze_into_parent(d, fresh);
    std::uint64_t root = 0;
    if (count_ > 0) root = compile(0, fresh).addr;
    flush_pending();
    bits_.flush();
    hdr_.fst_bytes = (bits_.position() + 7) / 8;
    hdr_.root = root;
    hdr_.max_key_length = max_len_;
    for (std::size_t i = 0; i < detail::fst::fst_pad; ++i) sink_.put(std::byte{0});
    write_values();
    std::byte fh[detail::fst::fst_header_size];
    hdr_.store(fh);
    FrozenLayer result(nullptr);
    if (sink_.in_memory()) {
      detail::fst::huge_copy img =
          detail::fst::huge_copy::allocate(static_cast<std::size_t>(sink_.written));
      sink_.copy_to(img.data.get());
      sink_.release();
      std::memcpy(img.data.get() + detail::fst::header_offset, fh, sizeof fh);
      io::finish_image(std::span<std::byte>(img.data.get(), img.size), detail::fst::magic,
                       detail::fst::version, 0, count_);
      result.r_->owned = std::move(img);
      result.r_->init(io::byte_source::borrowed({result.r_->owned.data.get(), result.r_->owned.size}),
                      image_check::structure);
      if (!path_.empty()) result.save(path_);
    } else {
      finish_file(fh);
      result = FrozenLayer::open(path_, image_check::structure);
    }
    state_ = phase::finished;
    return result;
  }

private:
  enum class phase { open, failed, finished };
  struct path_node {
    std::uint64_t first = 0;  // index of its first transition in trans_
    bool final = false;
  };
  struct frozen {
    std::uint64_t addr, count;
  };
  struct pending_state {
    std::uint64_t hash, off, addr, count;
    std::uint32_t k;
    bool final;
  };

  // The registry is two-level: a small front (`front_registry_cells`, cache-resident) answers
  // most lookups; only its misses go to the large back (`registry_cells`), whose every lookup is
  // a cache miss. Every new state goes into both.
  static std::size_t front_cells(const options& o) {
    return std::min(o.registry_cells, std::max<std::size_t>(o.front_registry_cells, 4));
  }
  static std::unique_ptr<detail::fst::registry> make_back(const options& o) {
    if (o.registry_cells <= front_cells(o)) return nullptr;
    return std::make_unique<detail::fst::registry>(o.registry_cells);
  }

  void init() {
    const std::byte zeros[detail::fst::region_offset] = {};  // the headers, filled in at finish()
    sink_.put(zeros, sizeof zeros);
    nodes_.push_back({0, false});
    code_ = detail::fst::label_code::flat();
  }
  std::string_view last_key() const {
    if (sampling_) return std::string_view(sample_).substr(sample_off_.back());
    return last_;
  }

  void end_sampling() {
    sampling_ = false;
    std::array<std::uint64_t, 256> freq{};
    std::string_view prev;
    for (std::size_t i = 0; i < sample_off_.size(); ++i) {
      const std::size_t b = sample_off_[i], e = i + 1 < sample_off_.size() ? sample_off_[i + 1] : sample_.size();
      const std::string_view k = std::string_view(sample_).substr(b, e - b);
      const std::size_t l = detail::common_prefix_length(k, prev);
      for (std::size_t j = l; j < k.size(); ++j) ++freq[static_cast<unsigned char>(k[j])];
      prev = k;
    }
    code_ = detail::fst::label_code::from_frequencies(freq);
    hdr_.code_length = code_.length;
    for (std::size_t i = 0; i < sample_off_.size(); ++i) {
      const std::size_t b = sample_off_[i], e = i + 1 < sample_off_.size() ? sample_off_[i + 1] : sample_.size();
      const std::string_view k = std::string_view(sample_).substr(b, e - b);
      add(k, sample_values_[i], detail::common_prefix_length(k, last_));
    }
    added_ = sample_off_.size();
    std::string().swap(sample_);
    std::vector<std::size_t>().swap(sample_off_);
    std::vector<std::uint64_t>().swap(sample_values_);
  }

  // Adds one key, already checked to be larger than last_ (the previous key added); l is the
  // length of their common prefix.
  void add(std::string_view key, std::uint64_t value, std::size_t l) {
    assert(l == detail::common_prefix_length(key, last_));
    if (added_ > 0) {
      bool fresh = false;
      for (std::size_t d = last_.size(); d > l; --d) freeze_into_parent(d, fresh);
      flush_pending();
    }
    nodes_.resize(l + 1);
    // Room for the key's new path at once (a long key would otherwise be copied at each doubling).
    reserve_more(trans_, key.size() - l);
    reserve_more(nodes_, key.size() - l);
    for (std::size_t d = l; d < key.size(); ++d) {
      trans_.push_back({(std::uint64_t{static_cast<unsigned char>(key[d])} << 56), 0});
      nodes_.push_back({trans_.size(), false});
    }
    nodes_[key.size()].final = true;
    last_.assign(key);
    max_len_ = std::max<std::uint64_t>(max_len_, key.size());
    add_value(value);
    ++added_;
  }

  template <class T>
  static void reserve_more(std::vector<T>& v, std::size_t more) {
    const std::size_t need = v.size() + more;
    if (need > v.capacity()) v.reserve(std::max(need, 2 * v.capacity()));
  }

  // Compiles node d (the deepest) and points its parent's last transition at it. A pass that
  // writes more than kMaxPending new states (the tail of a very long key: one state a byte)
  // registers them as it goes, so the pass's memory stays bounded. That changes no answer: once
  // a pass has written a new state, every later state of the pass points at a new one and skips
  // the registry lookup (child_fresh), so no lookup of the pass can see the early entries.
  static constexpr std::size_t kMaxPending = 4096;
  void freeze_into_parent(std::size_t d, bool& child_fresh) {
    const frozen f = compile(d, child_fresh);
    auto& t = trans_[nodes_[d].first - 1];
    t.lt |= f.addr;
    t.count = f.count;
    trans_.resize(nodes_[d].first);
    nodes_.pop_back();
    if (pending_.size() >= kMaxPending) flush_pending();
  }

  // Compiles node d. `child_fresh`: its last transition points to a state written during this
  // freeze pass, which no registered state can point to yet, so the lookup is skipped. New
  // states are registered at the end of the pass (flush_pending), with their buckets prefetched
  // first, so the cache misses of a pass overlap instead of following one another.
  frozen compile(std::size_t d, bool& child_fresh) {
    const path_node& nd = nodes_[d];
    const std::size_t first = nd.first;
    const auto k = static_cast<std::uint32_t>(trans_.size() - first);
    std::uint64_t count = nd.final ? 1 : 0;
    for (std::size_t i = first; i < trans_.size(); ++i) count += trans_[i].count;
    if (k == 0) {  // the final leaf
      child_fresh = false;
      return {0, count};
    }
    const std::size_t off = pending_lt_.size();
    for (std::uint32_t i = 0; i < k; ++i) pending_lt_.push_back(trans_[first + i].lt);
    const std::uint64_t h = detail::fst::registry::hash_of(nd.final, pending_lt_.data() + off, k);
    if (!child_fresh) {
      const std::uint64_t* t = pending_lt_.data() + off;
      auto c = reg_.find(h, nd.final, t, k);
      if (!c && back_) {
        c = back_->find(h, nd.final, t, k);
        if (c) reg_.insert(h, nd.final, t, k, c->addr, c->count);  // keep it at hand
      }
      if (c) {
        pending_lt_.resize(off);
        return {c->addr, c->count};
      }
    }
    const std::uint64_t addr = emit(nd.final, first, k);
    reg_.prefetch(h);
    if (back_) back_->prefetch(h);
    pending_.push_back({h, off, addr, count, k, nd.final});
    child_fresh = true;
    return {addr, count};
  }
  void flush_pending() {
    for (const pending_state& p : pending_) {
      const std::uint64_t* t = pending_lt_.data() + p.off;
      reg_.insert(p.hash, p.final, t, p.k, p.addr, p.count);
      if (back_) back_->insert(p.hash, p.final, t, p.k, p.addr, p.count);
    }
    pending_.clear();
    pending_lt_.clear();
  }

  void put_label(std::uint8_t c) { bits_.put(code_.code[c], code_.length[c]); }
  static std::uint64_t tcode(std::uint64_t target, std::uint64_t start) {
    return target == 0 ? 0 : start - target + 1;
  }

  // Writes a state; returns its address.
  std::uint64_t emit(bool final, std::size_t first, std::uint32_t k) {
    using detail::fst::bit_width;
    const std::uint64_t s = bits_.position();
    if (k == 1) {
      const std::uint64_t lt = trans_[first].lt;
      const auto label = static_cast<std::uint8_t>(lt >> 56);
      const std::uint64_t target = lt & detail::fst::target_mask;
      if (!final && target == s) {
        put_label(label);
        bits_.put(1, 1);
      } else if (!final && target == 0) {
        put_label(label);
        bits_.put(1, 2);
      } else {
        const std::uint64_t t = tcode(target, s);
        const unsigned w = bit_width(t);
        bits_.put(t, w);
        bits_.put(w, 6);
        put_label(label);
        bits_.put(final, 1);
        bits_.put(1, 3);
      }
      check_address();
      return bits_.position();
    }
    std::uint64_t max_t = 0, cum = 0, max_out = 0;
    outs_.resize(k);
    for (std::uint32_t i = 0; i < k; ++i) {
      max_t = std::max(max_t, tcode(trans_[first + i].lt & detail::fst::target_mask, s));
      outs_[i] = cum;
      cum += trans_[first + i].count;
    }
    max_out = outs_[k - 1];
    const unsigned wt = bit_width(max_t), wo = bit_width(max_out);
    for (std::uint32_t i = k; i-- > 0;) bits_.put(tcode(trans_[first + i].lt & detail::fst::target_mask, s), wt);
    for (std::uint32_t i = k; i-- > 1;) bits_.put(outs_[i], wo);
    for (std::uint32_t i = k; i-- > 0;) bits_.put(trans_[first + i].lt >> 56, 8);
    bits_.put(wt, 6);
    bits_.put(wo, 6);
    bits_.put(k - 2, 8);
    bits_.put(final, 1);
    bits_.put(0, 3);
    check_address();
    return bits_.position();
  }
  void check_address() {
    if (bits_.position() > detail::fst::target_mask)
      detail::throw_error("FrozenLayerBuilder: image larger than 2^53 bytes");
  }

  // Values: mode rank while value == rank, then a spooled column.
  void add_value(std::uint64_t v) {
    const std::uint64_t i = added_;
    if (rank_mode_) {
      if (v == i) return;
      rank_mode_ = false;
      vmin_ = 0;
      vmax_ = i ? i - 1 : 0;
      if (i == 0) vmin_ = vmax_ = v;
      for (std::uint64_t j = 0; j < i; ++j) spool(j);
    }
    vmin_ = std::min(vmin_, v);
    vmax_ = std::max(vmax_, v);
    spool(v);
  }
  void spool(std::uint64_t v) {
    if (sink_.in_memory()) {
      spool_mem_.push_back(v);
      return;
    }
    if (!spool_file_) {
      spool_file_ = std::tmpfile();
      if (!spool_file_) detail::throw_error("FrozenLayerBuilder: cannot create a temporary file");
    }
    std::byte b[8];
    io::store_le(b, v);
    if (std::fwrite(b, 1, 8, spool_file_) != 8)
      detail::throw_error("FrozenLayerBuilder: cannot write the temporary value file");
  }
  void write_values() {
    using detail::fst::bit_width;
    hdr_.value_mode = rank_mode_ ? 0 : 1;
    std::uint64_t bytes = detail::fst::value_pad;
    if (!rank_mode_) {
      hdr_.value_base = vmin_;
      const unsigned w = bit_width(vmax_ - vmin_);
      hdr_.value_width = static_cast<std::uint8_t>(w);
      const std::uint64_t before = sink_.written;
      detail::fst::bit_writer<detail::fst::byte_sink> vw(sink_);
      if (sink_.in_memory()) {
        for (std::uint64_t v : spool_mem_) vw.put(v - vmin_, w);
        std::vector<std::uint64_t>().swap(spool_mem_);
      } else {
        std::rewind(spool_file_);
        std::byte b[8];
        for (std::uint64_t j = 0; j < added_; ++j) {
          if (std::fread(b, 1, 8, spool_file_) != 8)
            detail::throw_error("FrozenLayerBuilder: cannot read the temporary value file");
          vw.put(io::load_le<std::uint64_t>(b) - vmin_, w);
        }
      }
      vw.flush();
      bytes += sink_.written - before;
    }
    for (std::size_t i = 0; i < detail::fst::value_pad; ++i) sink_.put(std::byte{0});
    hdr_.values_bytes = bytes;
  }

  void finish_file(const std::byte* fh) {
#if MEMKV_HAS_POSIX_IO
    sink_.drain();
    auto pw = [&](const std::byte* p, std::size_t len, std::size_t off) {
      if (::pwrite(sink_.fd(), p, len, static_cast<off_t>(off)) != static_cast<::ssize_t>(len))
        detail::throw_error("FrozenLayerBuilder: cannot write '" + tmp_.string() +
                            "': " + std::strerror(errno));
    };
    pw(fh, detail::fst::fst_header_size, detail::fst::header_offset);
    {
      io::mapped_file m(tmp_);
      std::byte h[io::image_header_size];
      io::store_le<std::uint64_t>(h + 0, detail::fst::magic);
      io::store_le<std::uint32_t>(h + 8, detail::fst::version);
      io::store_le<std::uint32_t>(h + 12, 0);
      io::store_le<std::uint64_t>(h + 16, m.size());
      io::store_le<std::uint64_t>(h + 24, count_);
      io::store_le<std::uint64_t>(h + 32, io::checksum64(m.span().subspan(io::image_header_size)));
      io::store_le<std::uint64_t>(h + 40, io::checksum64(std::span<const std::byte>(h, 40)));
      pw(h, sizeof h, 0);
    }
    if (::fsync(sink_.fd()) != 0 || ::close(sink_.fd()) != 0) {
      sink_.close_fd();
      detail::throw_error("FrozenLayerBuilder: cannot sync '" + tmp_.string() + "'");
    }
    sink_.close_fd();
    if (::rename(tmp_.c_str(), path_.c_str()) != 0)
      detail::throw_error("FrozenLayerBuilder: cannot rename onto '" + path_.string() +
                          "': " + std::strerror(errno));
    tmp_.clear();
    const std::filesystem::path dir = path_.has_parent_path() ? path_.parent_path() : ".";
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
      ::fsync(dfd);
      ::close(dfd);
    }
#else
    (void)fh;
#endif
  }

  // Drops everything held (temporary files included).
  void discard() noexcept {
#if MEMKV_HAS_POSIX_IO
    if (sink_.fd() >= 0) {
      ::close(sink_.fd());
      sink_.close_fd();
    }
    if (!tmp_.empty()) {
      ::unlink(tmp_.c_str());
      tmp_.clear();
    }
#endif
    if (spool_file_) {
      std::fclose(spool_file_);
      spool_file_ = nullptr;
    }
  }

  struct ptrans {
    std::uint64_t lt;     // label << 56 | target address
    std::uint64_t count;  // keys below the target
  };

  options opt_;
  detail::fst::registry reg_;                            // front
  std::unique_ptr<detail::fst::registry> back_;          // back, or null
  std::filesystem::path path_, tmp_;
  detail::fst::byte_sink sink_;
  detail::fst::bit_writer<detail::fst::byte_sink> bits_{sink_};
  detail::fst::label_code code_;
  detail::fst::fst_header hdr_;
  phase state_ = phase::open;

  std::vector<path_node> nodes_;
  std::vector<ptrans> trans_;
  std::vector<std::uint64_t> outs_, pending_lt_;
  std::vector<pending_state> pending_;
  std::string last_;
  std::uint64_t count_ = 0, added_ = 0, max_len_ = 0;

  bool sampling_ = true;
  std::string sample_;
  std::vector<std::size_t> sample_off_;
  std::vector<std::uint64_t> sample_values_;

  bool rank_mode_ = true;
  std::uint64_t vmin_ = 0, vmax_ = 0;
  std::vector<std::uint64_t> spool_mem_;
  std::FILE* spool_file_ = nullptr;
};

inline FrozenLayer::FrozenLayer() : FrozenLayer(FrozenLayerBuilder(FrozenLayerBuilder::options{.registry_cells = 64, .sample_bytes = 0}).finish()) {}

template <std::ranges::input_range R>
FrozenLayer FrozenLayer::build(R&& range) {
  FrozenLayerBuilder b;
  for (auto&& kv : range) b.insert(std::string_view(kv.first), static_cast<std::uint64_t>(kv.second));
  return b.finish();
}

}  // namespace memkv
