// memkv/hybrid_store.hpp - HybridStore<V>: a mutable ordered map whose bulk lives in a compressed,
// immutable FrozenLayer, with a small FastArt taking the writes (the dual-stage "hybrid index" of
// Zhang et al., SIGMOD 2016).
//
//   memkv::HybridStore<> s;
//   s.insert("https://a.example/x", 1);   s.erase("https://a.example/x");
//   for (auto e : s.prefix("https://")) use(e.key, e.value);
//   s.save("urls.hyb");                   auto t = memkv::HybridStore<>::open("urls.hyb");
//
// ## Layout
//
//   class HybridStore<V> {
//     io::mapped_file               file_;    // the file the base came from (open()), else empty
//     std::optional<BaseLayer>      base_;    // key -> rank (its index in key order): a
//                                             //   FrozenLayer in rank mode (no value bits at
//                                             //   all) or a FrontCodedSet (see "Bases");
//                                             //   nullopt while no merge has happened
//     std::vector<V>                values_;  // base values by rank (exactly base_.size() of them)
//     hybrid_key_filter             filter_;  // Bloom filter of the base's keys (see below)
//     FastArt<std::optional<V>>     delta_;   // recent writes: a value, or nullopt = tombstone
//     std::size_t                   size_;    // exact number of live keys
//   };
//
// The delta overrides the base; a tombstone hides an erased base key. Only base keys ever get a
// tombstone (erasing a key that lives only in the delta removes it from the delta). Assigning to a
// key of the base writes values_[rank] in place: overwrites never grow the delta.
//
// ## Bases
// HybridStore<V, Alloc, BaseLayer>: BaseLayer = FrozenLayer (the default) or FrontCodedSet
// (alias FrontCodedHybridStore<V>). Measured on npm-urls (bench/results/npm-urls.md, 2026-12-02
// 03:37 UTC, medians of 3, ratios to std::map in the same run):
//                              B/key (mu)  inserts  lookups  misses  mixed life
//     HybridStore (FST base)      -20.8     0.43x    1.96x    2.08x     0.59x
//     FrontCodedHybridStore       -22.3     1.21x    4.44x    5.01x     1.32x
// (std::map ran at 0.24 M inserts/s and 0.20 M lookups/s in that run; at 0.28 and 0.25 in
// another, where the ratios were lower by as much.) The 2026-12-02 15:32 UTC table, std::map at
// 0.27 M inserts/s and 0.32 M lookups/s:
//     HybridStore (FST base)      -20.8     0.67x    1.57x    1.96x     0.65x
//     FrontCodedHybridStore       -22.3     1.23x    2.93x    4.28x     1.37x
// The FrontCodedSet base is smaller here (0.279x of the raw keys against the FST's 0.322x),
// builds ~4.5x faster (0.83 s against 3.86 s for 1.7M keys), so merges cost less, and looks up
// ~3x faster. The FrozenLayer base is the FST the library is built around: it shares suffixes
// as well as prefixes, which can make it the smaller base for key sets with long shared
// suffixes (not measured here: on both npm datasets front coding is smaller).
// Files of the two are not interchangeable: each has its own magic, and opening one as the other
// throws memkv::format_error.
//
// ## Base filter
// An insert must know whether its key is in the base (to count size() exactly and to write a
// base key's value in place). For a new key that question is a base lookup that misses: a
// quarter of FrontCodedHybridStore's load time on npm-urls (perf). A blocked Bloom filter over
// the base's keys (options.filter_bits_per_key, default 10: 1.25 bytes a base key; measured on
// npm-urls with each key + "\x01" as the absent keys: 0.97% false positives at 10 bits, 7.7% at 6,
// 0.10% at 16) answers
// "not in the base" for most such keys from one cache line. merge() builds it while it streams
// the keys; after open() it is built on the first insert or erase (one pass over the base's
// keys). Lookups (find/get/contains) do not consult it: for keys that are present it would only
// add a hash and a cache miss. Measured: loading npm-urls (1.7M shuffled inserts with automatic
// merges, then merge()) into a FrontCodedHybridStore took 6.35 s with the filter and 6.96 s
// without (CPU time, medians of 6 interleaved runs on the shared 2-vCPU VM): ~9% faster, for
// 1.25 B a key.
//
// ## Delta filter
// Every lookup asks the delta first, and for a key the delta does not hold that is a descent of
// its tree that finds nothing: several cache misses once the delta is large (up to delta_share
// of the base between automatic merges). A second filter of the same kind, over every key put
// into the delta since it was last empty (tombstones included; erased entries stay in it, which
// only costs the descent they would have cost anyway), rules most such keys out from one cache
// line: find/get/contains, get_many, insert and erase consult it. It is made with the delta's
// first key, for max(1,024, base keys / 16) keys at options.delta_filter_bits_per_key (default
// 10; 0: off), and rebuilt from the delta's keys for 4 times as many whenever full, but never
// for more keys than the delta can hold before an automatic merge (so for a load, from
// base / 16 to base / 4 to delta_share * base: the rebuilds read about 0.3 base keys a merge);
// a merge or clear() drops it. If a rebuild cannot allocate, the filter is dropped and every key
// "may" be in the delta until the next merge. Its bytes are in memory_usage() (stats():
// delta_filter_bytes): at most 1.25 bytes a key the delta can hold at 10 bits, and none after a
// merge. Measured (scratch program, npm-urls, 2026-12-03, the same binary but for the filter):
// 80% of the keys inserted and merged, then the other 20% inserted, every 7th key overwritten
// and every 11th erased (a delta of 429,026 entries, 122,579 tombstones, on 1,348,366 base keys),
// then every key looked up in another shuffled order, 2 runs each: get 1953-2317 -> 1581-1904
// ns a key, get_many 1067-1120 -> 843-1008 (FrontCodedHybridStore: get 1415-1490 -> 1033-1226,
// get_many 820-848 -> 679-787), memory +0.84 MB (1.1%). The price is on inserts: loading npm-urls
// (1.7M shuffled inserts with automatic merges, then merge()) into a FrontCodedHybridStore took
// 3.09-3.24 s without the delta filter and 3.27-3.44 s with it (4 interleaved runs each), about
// 5% for adding each new key and 2-3% for the rebuilds. delta_filter_bits_per_key = 0 is the
// choice for loads with few lookups.
//
// ## Merging
// merge() streams the merged view (the base's iterator and the delta's, merged in key order) into
// the base's builder and the values into a fresh vector, then swaps them in: one pass, O(n + d).
// The FrozenLayerBuilder emits the compressed FST as it goes (never a second copy of the keys);
// the FrontCodedSet builder keeps the front-coded keys (~0.4 of their raw size for URLs) until
// it encodes them at the end. Automatic merges
// run after an insert or erase once the delta holds more than
//     max(options.min_merge_keys, options.delta_share * base keys)  entries,
// or, if options.max_delta_bytes is set, once its memory exceeds that cap. Each share-triggered
// merge grows the base by a factor of about (1 + delta_share), so loading n keys rewrites about
// n * (1 + s) / s keys in all: with the default s = 1/2, every key is rewritten about 3 times
// (s = 1/8 would be 9 times, for a delta at most an eighth of the base), i.e. sustained inserts
// cost O(1 + 1/s) amortized merge work each. The worst single operation is the one that triggers
// a merge: O(n). Defaults: 65,536 keys, 1/2, no byte cap.
// Peak memory: just before a merge the delta holds up to s * base keys at FastArt's cost (~80 B
// a URL key, against ~20 in the base), and the merge itself holds the old base, the new one and
// a new value column at once. Measured (bench/results/scale-hybrid-2026-12-01.md): loading 100M
// synthetic URLs with s = 1/2 took about 2000 CPU s and ended at 2.52 GB (-19.4 B/key), but the
// peak RSS growth during the load was 9.15 GB, 3.6x the final size. A smaller s lowers the peak
// and costs more rewrites.
// max_delta_bytes is a hard cap for callers who must bound the delta's memory: once s * base keys
// of delta would exceed it, merges come every max_delta_bytes of delta, and loading n keys
// rewrites about n^2 * (delta bytes a key) / (2 * max_delta_bytes) keys: quadratic. (Until
// 2026-12-01 the default was a 256 MiB cap: a scale run of 100M URLs then had not finished after
// 64 CPU minutes, while 1M took 11 s; by the estimate above it meant ~1.7 billion keys rewritten.)
// Automatic merges of the FrozenLayer base build it with a registry of at most 64 Ki states (the
// builder's default); merge() and save() allow up to 1 Mi, whose FST is ~5% smaller and
// takes about twice as long to build: a base that the next automatic merge rewrites anyway is
// built fast, the one kept is built small. merge() with an empty delta rebuilds a base that
// came from an automatic merge, so after merge() or save() the base is always the small one.
// Measured (npm-urls, 1.69M shuffled inserts with automatic merges, then merge(); CPU time,
// scratch program, old and new alternating): 19.8 and 20.8 s with the large registry in every
// merge, 16.4 and 17.6 s with it in the final merge only; the same final base (24,295,744 B).
// In memkv-compare's timed load (medians of 3, two runs 2.5 hours apart): npm-urls 17.7 ->
// 16.0 s while std::map's went 6.0 -> 6.9 s (0.34x -> 0.43x); synthetic-urls (1M) 10.3 s in
// both runs (0.28x): on those keys the large registry costs little.
// For one-off bulk loads, auto_merge = false and one merge() at the end rewrites each key once,
// with the whole load in the delta meanwhile. A merge that runs out of memory during an automatic
// trigger is abandoned (the map stays as it was, the operation that triggered it has succeeded)
// and tried again later; an explicit merge() throws.
//
// ## Complexity
// find/get/contains/insert/erase: O(k) in the delta plus a base lookup (FST: O(k); front-coded:
// O(log(n/32) + 32 + k)), which inserts and erases of keys outside the base mostly skip (filter).
// get_many(keys, out): get() of each key, 256 at a time: the delta's descents interleave
// (FastArt::find_many), and the keys it does not answer go on to the base, whose walks (or
// FrontCodedSet searches) interleave too (rank_many), so their cache misses overlap. Scratch
// program, npm-urls (1,685,458 shuffled inserts, merge(), then every key in another shuffled
// order, get() against one get_many() over them, 3 passes, 2026-12-03):
// HybridStore 1332-1477 -> 834-861 ns a key; FrontCodedHybridStore 693-809 -> 531-537 (its
// bucket scans are compute: less to overlap). memkv-compare's batched table, same day:
// bench/results/npm-urls-batched-2026-12-03.md. With a delta (80% of those keys inserted and
// merged, then the other 20%, every 7th key overwritten and every 11th erased: 429,026 delta
// entries, 122,579 of them tombstones, on a base of 1,348,366; every key looked up in spans of
// 1,024): get_many 1505-1781 ns a key when the delta answered one key at a time, 1184-1299
// with its descents interleaved (2026-12-03).
// insert_many(keys, values) / insert_or_assign_many: the calls one by one, 16 keys at a time
// with their filter lines and delta paths brought into the cache first (reads only). It saves
// part of the delta's cost, not the merges': loading npm-urls (1.69M shuffled inserts in spans
// of 1,024 with automatic merges, scratch program, 3 alternating pairs, 2026-12-04) took
// 7.20-8.08 s with insert() and 6.51-7.43 s with insert_many, plus 2.3-2.6 s for merge().
// Iteration merges two ordered iterators: O(1) amortized per entry plus key comparisons. size()
// is exact, O(1).
//
// ## Guarantees and iterator validity
// - insert/insert_or_assign: strong guarantee (the delta insert is strong; a merge failure is
//   absorbed as above). erase never loses another key.
// - Any insert, insert_or_assign, erase, merge, clear or assignment invalidates every iterator and
//   every pointer from find(). An entry's key views the base iterator's buffer or the delta's
//   leaf: it is valid until the iterator moves on (or the map is modified).
// - const member functions may run concurrently; mutations need exclusive access.
// - Copy is deep (the base image is copied), move is noexcept.
//
// ## Durability
// save(path) merges, then writes the merged state atomically (temporary file, fsync, rename): a
// crash leaves the previous file or the new one. open(path) maps the file read-only, verifies its
// checksum (one pass over the file), views the base image in the mapping with no copy and copies
// the value column into memory (values must be writable through find()). EVERYTHING INSERTED OR
// ERASED AFTER THE LAST save() IS ONLY IN MEMORY and is lost if the process dies. save/open need
// a trivially copyable V. A corrupt or truncated file throws memkv::format_error.
//
// File: [48-byte memkv image header, magic "MKVHYB\0\1" (FrozenLayer base) or "MKVHYF\0\1"
//       (FrontCodedSet base), version 1, key count]
//       [u64 base_bytes][u64 value_size][base image: base_bytes][values: n * value_size]
//
// ## Memory
// memory_usage() = base image (heap or mapped) + values_ capacity + the base filter + delta
// (FastArt, including its allocator's slack) + sizeof(*this); stats() reports the parts apart.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <limits>
#include <new>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/allocator.hpp"
#include "core/entry.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/key.hpp"
#include "core/prefetch.hpp"
#include "fast_art.hpp"
#include "front_coded_index.hpp"
#include "frozen_layer.hpp"

namespace memkv {

struct hybrid_options {
  std::size_t min_merge_keys = std::size_t{1} << 16;   // deltas smaller than this never auto-merge
  double delta_share = 0.5;                            // auto-merge at this share of the base keys
  // ... or at this much delta memory: a hard cap, off by default (quadratic merge work for loads
  // of more than max_delta_bytes / delta_share of delta: see "Merging" above)
  std::size_t max_delta_bytes = std::numeric_limits<std::size_t>::max();
  bool auto_merge = true;                              // false: only merge()/save() merge
  // Bits per base key of the Bloom filter that lets inserts and erases of keys outside the base
  // skip the base lookup (see "Base filter" above); 0 = no filter.
  unsigned filter_bits_per_key = 10;
  // Bits per key of the filter over the delta's keys that lets lookups, inserts and erases of
  // keys the delta does not hold skip its tree (see "Delta filter"); 0 = no filter.
  unsigned delta_filter_bits_per_key = 10;
};

struct hybrid_stats {
  std::size_t base_keys = 0, base_bytes = 0, value_bytes = 0, filter_bytes = 0;
  std::size_t delta_entries = 0, delta_tombstones = 0, delta_bytes = 0;
  std::size_t merges = 0;
  std::size_t delta_filter_bytes = 0;  // the delta's filter (see "Delta filter"); in memory_usage()
};

namespace detail {

// A blocked Bloom filter of key hashes: one 64-byte block per key, 7 bits set in it. At 10 bits
// a key it answered "maybe" for 0.97% of absent npm-urls keys (see "Base filter").
class hybrid_key_filter {
public:
  // The key's hash (memkv/core/key.hpp); not stored anywhere, so it may change between versions.
  static std::uint64_t hash(std::string_view key) noexcept { return hash_key(key); }
  // Sized for `keys` keys at `bits_per_key`; empty (off) when either is 0. Throws bad_alloc.
  void reset(std::size_t keys, unsigned bits_per_key) {
    std::vector<block> fresh;
    if (keys != 0 && bits_per_key != 0) fresh.resize((keys * bits_per_key + 511) / 512);
    blocks_.swap(fresh);
  }
  bool empty() const noexcept { return blocks_.empty(); }
  void add(std::uint64_t h) noexcept {
    block& b = blocks_[index(h)];
    std::uint64_t bits = probes(h);
    for (unsigned i = 0; i < kProbes; ++i, bits >>= 9)
      b.w[(bits >> 6) & 7] |= std::uint64_t{1} << (bits & 63);
  }
  void prefetch(std::uint64_t h) const noexcept { detail::prefetch_for_write(&blocks_[index(h)]); }
  bool may_contain(std::uint64_t h) const noexcept {
    const block& b = blocks_[index(h)];
    std::uint64_t bits = probes(h);
    for (unsigned i = 0; i < kProbes; ++i, bits >>= 9)
      if ((b.w[(bits >> 6) & 7] & (std::uint64_t{1} << (bits & 63))) == 0) return false;
    return true;
  }
  std::size_t bytes() const noexcept { return blocks_.capacity() * sizeof(block); }
  void swap(hybrid_key_filter& o) noexcept { blocks_.swap(o.blocks_); }

  // A filter for `keys` keys at `bits_per_key` holding the keys that for_each_key(add) passes
  // to add(std::string_view). Throws bad_alloc.
  template <class ForEachKey>
  static hybrid_key_filter of(std::size_t keys, unsigned bits_per_key, ForEachKey&& for_each_key) {
    hybrid_key_filter f;
    f.reset(keys, bits_per_key);
    filler fill(f);
    for_each_key([&fill](std::string_view k) noexcept { fill.add(k); });
    fill.finish();
    return f;
  }

  // Adds keys streamed one by one. Each add writes a random cache line, so a key's hash waits
  // in a ring while its line is prefetched, and is added `ahead` keys later; finish() adds the
  // rest. Does nothing on an empty (off) filter.
  class filler {
  public:
    explicit filler(hybrid_key_filter& f) noexcept : f_(f) {}
    void add(std::string_view key) noexcept {
      if (f_.empty()) return;
      const std::uint64_t h = hash(key);
      f_.prefetch(h);
      if (n_ >= ahead) f_.add(ring_[n_ % ahead]);
      ring_[n_ % ahead] = h;
      ++n_;
    }
    void finish() noexcept {
      for (std::size_t i = n_ > ahead ? n_ - ahead : 0; i < n_; ++i) f_.add(ring_[i % ahead]);
      n_ = 0;
    }

  private:
    static constexpr std::size_t ahead = 16;
    hybrid_key_filter& f_;
    std::uint64_t ring_[ahead];
    std::size_t n_ = 0;
  };

private:
  static constexpr unsigned kProbes = 7;  // 7 x 9 bits of one 64-bit mix
  struct alignas(64) block {
    std::uint64_t w[8] = {};
  };
  std::size_t index(std::uint64_t h) const noexcept {  // h's high bits, scaled to the block count
    return static_cast<std::size_t>((static_cast<unsigned __int128>(h) * blocks_.size()) >> 64);
  }
  static std::uint64_t probes(std::uint64_t h) noexcept {
    h ^= h >> 31;
    return h * 0x9e3779b97f4a7c15ULL;
  }
  std::vector<block> blocks_;
};

// What HybridStore needs of its base: an immutable ordered set of keys, each with its rank (its
// 0-based position in key order), built by one streaming pass and viewable in a file mapping.
// Specialized for FrozenLayer (in rank mode) and FrontCodedSet; see "Bases" above.
template <class Layer>
struct hybrid_base;

template <>
struct hybrid_base<FrozenLayer> {
  static constexpr std::uint64_t magic = 0x0100'4259'4856'4b4dULL;  // "MKVHYB\0\1"
  // builder(n, false) is faster; its FST is ~5% larger for more than 128 Ki keys.
  static constexpr bool has_quick_build = true;
  class builder {
  public:
    // thorough: the smallest base (an explicit merge() or save()); else a faster build of a base
    // that the next automatic merge will rewrite anyway.
    builder(std::size_t expected_keys, bool thorough) : b_(options_for(expected_keys, thorough)) {}
    void insert(std::string_view key, std::uint64_t rank) { b_.insert(key, rank); }
    // The builder hands over an exact-size image (its chunks copied once into one block).
    FrozenLayer finish() { return b_.finish(); }

  private:
    static frozen_layer_options options_for(std::size_t n, bool thorough) {
      frozen_layer_options fo;
      // Half a cell per key (small maps merge often: no big registry for them), up to the
      // builder's default 64 Ki for automatic merges; a base from merge() or save() is kept for
      // long and gets up to 1 Mi (two-level: a ~5% smaller FST, built at about half the speed).
      // See "Merging" above.
      fo.registry_cells = std::clamp<std::size_t>(n / 2, 1024, std::size_t{1} << (thorough ? 20 : 16));
      return fo;
    }
    FrozenLayerBuilder b_;
  };
  static std::size_t rank_at(const FrozenLayer::const_iterator& it) noexcept { return it.index(); }
  // rank() of a batch of keys, their walks interleaved (FrozenLayer::rank_many); on_found(r) as
  // each is found. A damaged image is answered key by key as rank() answers it.
  template <class OnFound>
  static void rank_many(const FrozenLayer& l, std::span<const std::string_view> keys,
                        std::span<std::optional<std::uint64_t>> out, OnFound&& on_found) noexcept {
    try {
      l.rank_many(keys, out, on_found);
    } catch (...) {
      for (std::size_t i = 0; i < keys.size(); ++i)
        if (auto r = rank(l, keys[i], [](std::uint64_t) noexcept {})) out[i] = *r;
        else out[i] = std::nullopt;
    }
  }
  // on_rank(r): called with partial ranks during the walk (see FrozenLayer::rank), for prefetching.
  template <class OnRank>
  static std::optional<std::size_t> rank(const FrozenLayer& l, std::string_view key, OnRank&& on_rank) noexcept {
    try {
      if (auto r = l.rank(key, on_rank)) return static_cast<std::size_t>(*r);
    } catch (...) {
      // a damaged image answers "absent"; open() verified the checksum, so this is unreachable
    }
    return std::nullopt;
  }
  // The outer file's checksum covered the image; its own structure is still checked.
  static FrozenLayer view(std::span<const std::byte> image) {
    return FrozenLayer::view_bytes(image, image_check::structure);
  }
  static std::size_t viewed_bytes(const FrozenLayer& l) noexcept { return l.image_size(); }
};

template <>
struct hybrid_base<FrontCodedSet> {
  static constexpr std::uint64_t magic = 0x0100'4659'4856'4b4dULL;  // "MKVHYF\0\1"
  static constexpr bool has_quick_build = false;  // one way to build
  class builder {
  public:
    builder(std::size_t /*expected_keys*/, bool /*thorough*/) {}
    // The rank is the key's position: FrontCodedSet implies it.
    void insert(std::string_view key, std::uint64_t /*rank*/) { b_.insert(key); }
    FrontCodedSet finish() { return b_.finish(); }  // the image is reserved exactly

  private:
    FrontCodedSet::builder b_;
  };
  static std::size_t rank_at(const FrontCodedSet::const_iterator& it) noexcept { return it.rank(); }
  // rank() of a batch of keys, their searches interleaved (FrontCodedSet::rank_many; the
  // spans' sizes agree: it cannot throw).
  template <class OnFound>
  static void rank_many(const FrontCodedSet& l, std::span<const std::string_view> keys,
                        std::span<std::optional<std::uint64_t>> out, OnFound&& on_found) noexcept {
    l.rank_many(keys, out, on_found);
  }
  template <class OnRank>
  static std::optional<std::size_t> rank(const FrontCodedSet& l, std::string_view key, OnRank&&) noexcept {
    return l.rank(key);
  }
  // The outer file's checksum covered the image; the structural pass always runs.
  static FrontCodedSet view(std::span<const std::byte> image) {
    return FrontCodedSet::view_bytes(image, {.verify_checksum = false});
  }
  static std::size_t viewed_bytes(const FrontCodedSet& l) noexcept { return l.bytes().size(); }
};

}  // namespace detail

template <class V = std::uint64_t, class Alloc = SlabAllocator, class BaseLayer = FrozenLayer>
class HybridStore {
  using Delta = FastArt<std::optional<V>, Alloc>;
  using Traits = detail::hybrid_base<BaseLayer>;

public:
  using key_type = std::string_view;
  using mapped_type = V;
  using size_type = std::size_t;
  using value_type = basic_entry<const V&>;
  using options = hybrid_options;
  using base_type = BaseLayer;

  class const_iterator;
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;

  HybridStore() = default;
  explicit HybridStore(options opt) : opt_(opt) {}
  HybridStore(const HybridStore& o)
      : base_(o.base_), values_(o.values_), filter_(o.filter_), delta_(o.delta_),
        dfilter_(o.dfilter_), dfilter_keys_(o.dfilter_keys_), dfilter_cap_(o.dfilter_cap_),
        size_(o.size_), tombstones_(o.tombstones_), merges_(o.merges_), quick_base_(o.quick_base_),
        opt_(o.opt_) {}
  HybridStore(HybridStore&& o) noexcept
      : file_(std::move(o.file_)), base_(std::exchange(o.base_, std::nullopt)),
        values_(std::exchange(o.values_, {})), filter_(std::exchange(o.filter_, {})),
        delta_(std::move(o.delta_)), dfilter_(std::exchange(o.dfilter_, {})),
        dfilter_keys_(std::exchange(o.dfilter_keys_, 0)), dfilter_cap_(std::exchange(o.dfilter_cap_, 0)),
        size_(std::exchange(o.size_, 0)), tombstones_(std::exchange(o.tombstones_, 0)),
        merges_(o.merges_), quick_base_(std::exchange(o.quick_base_, false)), opt_(o.opt_) {}
  HybridStore& operator=(const HybridStore& o) {
    if (this != &o) {
      HybridStore copy(o);
      swap(copy);
    }
    return *this;
  }
  HybridStore& operator=(HybridStore&& o) noexcept {
    HybridStore moved(std::move(o));
    swap(moved);
    return *this;
  }
  void swap(HybridStore& o) noexcept {
    file_.swap(o.file_);
    base_.swap(o.base_);
    values_.swap(o.values_);
    filter_.swap(o.filter_);
    delta_.swap(o.delta_);
    dfilter_.swap(o.dfilter_);
    std::swap(dfilter_keys_, o.dfilter_keys_);
    std::swap(dfilter_cap_, o.dfilter_cap_);
    std::swap(size_, o.size_);
    std::swap(tombstones_, o.tombstones_);
    std::swap(merges_, o.merges_);
    std::swap(quick_base_, o.quick_base_);
    std::swap(opt_, o.opt_);
  }
  friend void swap(HybridStore& a, HybridStore& b) noexcept { a.swap(b); }

  // --- lookups ------------------------------------------------------------------------------
  V* find(std::string_view key) noexcept {
    if (delta_may_hold(key))
      if (std::optional<V>* d = delta_.find(key)) return d->has_value() ? &**d : nullptr;
    if (auto r = base_rank(key)) return &values_[*r];
    return nullptr;
  }
  const V* find(std::string_view key) const noexcept {
    return const_cast<HybridStore*>(this)->find(key);
  }
  std::optional<V> get(std::string_view key) const {
    if (const V* v = find(key)) return *v;
    return std::nullopt;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  // get() of every key of `keys`, its answer written to the same index of `out`. A key the delta
  // holds (or hides: a tombstone) is answered from it there and then; the others go to the base
  // in batches of up to 256 whose walks are interleaved (FrozenLayer::rank_many: their cache
  // misses overlap; FrontCodedSet::rank_many with the front-coded base), each batch's values
  // read once its walks are done, each prefetched as its walk ends. Any order and repeats are
  // fine; an empty span is. Throws memkv::error when out.size() != keys.size();
  // what copying a V throws (out is then partly written).
  void get_many(std::span<const std::string_view> keys, std::span<std::optional<V>> out) const {
    if (out.size() != keys.size())
      detail::throw_error("HybridStore::get_many: " + std::to_string(keys.size()) + " keys but " +
                          std::to_string(out.size()) + " answer slots");
    constexpr std::size_t batch = 256;
    std::string_view pending[batch];
    std::size_t slot[batch];
    std::optional<std::uint64_t> ranks[batch];
    std::size_t np = 0;
    const V* values = values_.data();
    const std::size_t nv = values_.size();
    auto flush = [&] {
      Traits::rank_many(*base_, std::span<const std::string_view>(pending, np),
                        std::span<std::optional<std::uint64_t>>(ranks, np),
                        [values, nv](std::uint64_t r) noexcept {
                          if (r < nv) detail::prefetch(values + r);
                        });
      for (std::size_t j = 0; j < np; ++j) {
        if (ranks[j] && *ranks[j] < nv) out[slot[j]] = values[*ranks[j]];
        else out[slot[j]] = std::nullopt;
      }
      np = 0;
    };
    auto to_base = [&](std::size_t i) {
      if (!base_) {
        out[i] = std::nullopt;
        return;
      }
      pending[np] = keys[i];
      slot[np++] = i;
    };
    // The delta's answers, a batch at a time (its descents interleaved too) for the keys its
    // filter lets through (none when it is empty); what it does not hold goes on to the base. A
    // batch fills pending at most once, so flush after each.
    std::string_view ask[batch];
    std::size_t from[batch];
    for (std::size_t at = 0; at < keys.size(); at += batch) {
      const std::size_t len = std::min(batch, keys.size() - at);
      std::size_t na = 0;
      for (std::size_t j = at; j < at + len; ++j) {
        if (delta_may_hold(keys[j])) {
          ask[na] = keys[j];
          from[na++] = j;
        } else {
          to_base(j);
        }
      }
      if (na != 0)
        delta_.find_many(std::span<const std::string_view>(ask, na),
                         [&](std::size_t j, const std::optional<V>* d) {
                           if (d) out[from[j]] = *d;  // a value, or a tombstone: absent
                           else to_base(from[j]);
                         });
      if (np != 0) flush();
    }
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t memory_usage() const noexcept {
    const hybrid_stats s = stats();
    return s.base_bytes + s.value_bytes + s.filter_bytes + s.delta_bytes + s.delta_filter_bytes +
           sizeof(*this);
  }
  hybrid_stats stats() const noexcept {
    hybrid_stats s;
    s.base_keys = base_size();
    if (base_)
      s.base_bytes = base_->memory_usage() + (file_.empty() ? 0 : Traits::viewed_bytes(*base_));
    s.value_bytes = values_.capacity() * sizeof(V);
    s.filter_bytes = filter_.bytes();
    s.delta_entries = delta_.size();
    s.delta_tombstones = tombstones_;
    s.delta_bytes = delta_.memory_usage() - sizeof(Delta);
    s.merges = merges_;
    s.delta_filter_bytes = dfilter_.bytes();
    return s;
  }
  const options& merge_options() const noexcept { return opt_; }

  // --- mutation -----------------------------------------------------------------------------
  bool insert(std::string_view key, V value) { return upsert(key, value, false); }
  bool insert_or_assign(std::string_view key, V value) { return upsert(key, value, true); }
  // insert() / insert_or_assign() of each (keys[i], values[i]) in turn: the store ends as those
  // calls leave it, automatic merges included. 16 keys at a time, their cache misses overlapped
  // first (reads only: each key's lines of the two filters, and its path down the delta through
  // FastArt::find_many's interleaved descents), then the inserts one by one. Returns how many
  // keys were inserted. Throws memkv::error when values.size() != keys.size(), before inserting
  // anything; when an insert throws, the keys before it are in the store, it and the rest are not.
  // The keys must not view this store's own entries (inserts and merges invalidate them).
  std::size_t insert_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, false, [this](auto batch) { warm(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert(k, v, a); });
  }
  std::size_t insert_or_assign_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, true, [this](auto batch) { warm(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert(k, v, a); });
  }

  bool erase(std::string_view key) {
    const std::uint64_t h = detail::hybrid_key_filter::hash(key);
    if (std::optional<V>* d = delta_may_hold(h) ? delta_.find(key) : nullptr) {
      if (!d->has_value()) return false;
      if (base_rank_filtered(key, h)) {
        d->reset();  // the base still holds the key: hide it
        ++tombstones_;
      } else {
        delta_.erase(key);
      }
      --size_;
      if (size_ == 0) clear();  // nothing live: give base and delta back at once
      return true;
    }
    if (!base_rank_filtered(key, h)) return false;
    if (size_ == 1) {  // the last live key
      clear();
      return true;
    }
    delta_.insert(key, std::nullopt);
    delta_filter_add(h);
    ++tombstones_;
    --size_;
    maybe_merge();
    return true;
  }

  void clear() noexcept {
    delta_.clear();
    reset_delta_filter();
    base_.reset();
    values_ = std::vector<V>();
    filter_ = {};
    file_ = io::mapped_file();
    size_ = 0;
    tombstones_ = 0;
    quick_base_ = false;
  }

  // Folds the delta into a new base, built for the smallest size (see "Merging"); with an empty
  // delta, rebuilds only a base that came from an automatic merge. Throws what the builder or
  // allocation throws; the map is then unchanged.
  void merge() { merge_into_base(true); }

  // --- ordered traversal --------------------------------------------------------------------
  // Without a base, default-constructed base iterators stand for its empty range.
  const_iterator begin() const {
    return base_ ? const_iterator(this, base_->begin(), base_->end(), delta_.begin(), delta_.end())
                 : const_iterator(this, {}, {}, delta_.begin(), delta_.end());
  }
  const_iterator end() const {
    return base_ ? const_iterator(this, base_->end(), base_->end(), delta_.end(), delta_.end())
                 : const_iterator(this, {}, {}, delta_.end(), delta_.end());
  }
  const_iterator lower_bound(std::string_view key) const {
    return base_ ? const_iterator(this, base_->lower_bound(key), base_->end(),
                                  delta_.lower_bound(key), delta_.end())
                 : const_iterator(this, {}, {}, delta_.lower_bound(key), delta_.end());
  }
  range_type range(std::string_view lo, std::string_view hi) const {
    if (lo.compare(hi) >= 0) return {end(), end()};
    return bounded(base_ ? base_->range(lo, hi) : typename BaseLayer::range_type{},
                   delta_.range(lo, hi));
  }
  range_type prefix(std::string_view p) const {
    return bounded(base_ ? base_->prefix(p) : typename BaseLayer::range_type{}, delta_.prefix(p));
  }

  // --- files --------------------------------------------------------------------------------
  // Merges, then writes the whole map atomically. Needs a trivially copyable V.
  void save(const std::filesystem::path& path) {
    static_assert(std::is_trivially_copyable_v<V>, "HybridStore::save needs a trivially copyable V");
    merge();
    std::optional<BaseLayer> no_keys;  // an empty store still writes a valid (empty) base image
    if (!base_) no_keys.emplace();
    const std::span<const std::byte> fst = base_ ? base_->bytes() : no_keys->bytes();
    std::vector<std::byte> image = io::begin_image();
    image.reserve(io::image_header_size + 16 + fst.size() + values_.size() * sizeof(V));
    io::append_le<std::uint64_t>(image, fst.size());
    io::append_le<std::uint64_t>(image, sizeof(V));
    image.insert(image.end(), fst.begin(), fst.end());
    const auto* vb = reinterpret_cast<const std::byte*>(values_.data());
    image.insert(image.end(), vb, vb + values_.size() * sizeof(V));
    io::finish_image(image, kMagic, kVersion, 0, size_);
    io::atomic_write_file(path, image);
  }

  // Maps the file, verifies it and starts with an empty delta. Throws memkv::format_error for a
  // file that is not an intact HybridStore image, memkv::error when it cannot be read.
  static HybridStore open(const std::filesystem::path& path, options opt = {}) {
    static_assert(std::is_trivially_copyable_v<V>, "HybridStore::open needs a trivially copyable V");
    HybridStore s(opt);
    s.file_ = io::mapped_file(path);
    try {
      s.load(s.file_.span());
    } catch (const format_error& e) {
      throw format_error(std::string(e.what()) + " (file '" + path.string() + "')");
    }
    return s;
  }

  // --- checks -------------------------------------------------------------------------------
  void check_invariants() const {
    auto fail = [](const std::string& what) { detail::throw_error("HybridStore invariant: " + what); };
    if (base_) {
      base_->check_invariants();
      if (base_->empty()) fail("an empty base is kept");
    }
    delta_.check_invariants();
    if (values_.size() != base_size()) fail("value column size differs from the base key count");
    if (!filter_.empty()) {
      if (!base_) fail("a filter without a base");
      for (auto it = base_->begin(), end = base_->end(); it != end; ++it)
        if (!filter_.may_contain(detail::hybrid_key_filter::hash(it.key())))
          fail("the filter misses a base key");
    }
    std::size_t tomb = 0, live_new = 0, hidden = 0;
    for (auto e : delta_) {
      const bool in_base = base_rank(e.key).has_value();
      if (!e.value.has_value()) {
        ++tomb;
        if (!in_base) fail("tombstone for a key the base does not hold");
      } else if (in_base) {
        ++hidden;
      } else {
        ++live_new;
      }
    }
    (void)hidden;
    if (tomb != tombstones_) fail("tombstone count mismatch");
    if (size_ != base_size() - tomb + live_new) fail("size mismatch");
    std::size_t n = 0;
    std::string prev;
    for (auto e : *this) {
      if (n > 0 && !(prev < e.key)) fail("iteration out of order");
      prev.assign(e.key);
      ++n;
    }
    if (n != size_) fail("iteration count differs from size()");
  }

  class const_iterator {
    using BaseIt = typename BaseLayer::const_iterator;
    using DeltaIt = typename Delta::const_iterator;

  public:
    using iterator_category = std::input_iterator_tag;  // *it is a prvalue
    using iterator_concept = std::forward_iterator_tag;
    using value_type = basic_entry<const V&>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = arrow_proxy<value_type>;

    const_iterator() = default;
    reference operator*() const {
      if (from_delta_) {
        auto e = *d_;
        return {e.key, *e.value};
      }
      return {b_.key(), owner_->values_[Traits::rank_at(b_)]};
    }
    pointer operator->() const { return {**this}; }
    const_iterator& operator++() {
      if (from_delta_)
        ++d_;
      else
        ++b_;
      settle();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      ++*this;
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
      return a.b_ == b.b_ && a.d_ == b.d_;
    }

  private:
    friend class HybridStore;
    const_iterator(const HybridStore* owner, BaseIt b, BaseIt b_end, DeltaIt d, DeltaIt d_end)
        : owner_(owner), b_(std::move(b)), b_end_(std::move(b_end)), d_(std::move(d)),
          d_end_(std::move(d_end)) {
      settle();
    }
    // Positions on the smallest live entry: the delta wins ties, tombstones hide base keys.
    void settle() {
      for (;;) {
        const bool has_b = !(b_ == b_end_);
        const bool has_d = !(d_ == d_end_);
        if (!has_d) {
          from_delta_ = false;
          return;
        }
        const auto de = *d_;
        if (has_b) {
          const int c = b_.key().compare(de.key);
          if (c < 0) {
            from_delta_ = false;
            return;
          }
          if (c == 0) ++b_;  // shadowed by the delta
        }
        if (de.value.has_value()) {
          from_delta_ = true;
          return;
        }
        ++d_;  // tombstone
      }
    }

    const HybridStore* owner_ = nullptr;
    BaseIt b_, b_end_;
    DeltaIt d_, d_end_;
    bool from_delta_ = false;
  };

private:
  static constexpr std::uint64_t kMagic = Traits::magic;
  static constexpr std::uint32_t kVersion = 1;

  std::size_t base_size() const noexcept { return base_ ? base_->size() : 0; }
  // Whether the delta may hold key (see "Delta filter"): false rules it out without a descent.
  // An empty filter with keys in the delta: off (delta_filter_bits_per_key == 0), or it could
  // not grow. The key's hash is computed only when the filter is asked.
  bool delta_may_hold(std::string_view key) const noexcept {
    return !delta_.empty() && (dfilter_.empty() || dfilter_.may_contain(detail::hybrid_key_filter::hash(key)));
  }
  bool delta_may_hold(std::uint64_t h) const noexcept {
    return !delta_.empty() && (dfilter_.empty() || dfilter_.may_contain(h));
  }
  // Records that the key of hash h has entered the delta. The filter is made for max(1,024, base
  // keys / 16) keys and, when full, rebuilt from the delta's keys for 4 times as many, but not
  // for more than the delta can hold before an automatic merge; if that cannot allocate, it is
  // dropped (every key "may" be in the delta) until the next merge or clear. Never throws.
  void delta_filter_add(std::uint64_t h) noexcept {
    if (opt_.delta_filter_bits_per_key == 0) return;
    if (dfilter_keys_ >= dfilter_cap_) {
      if (dfilter_cap_ == kNoDeltaFilter) return;
      try {
        std::size_t cap = std::max({kFirstDeltaFilterKeys, base_size() / 16, 4 * delta_.size()});
        if (opt_.auto_merge)  // never more keys than the delta can hold before it is merged
          cap = std::min(cap, std::max(merge_trigger() + 1, delta_.size() + kFirstDeltaFilterKeys));
        dfilter_ = detail::hybrid_key_filter::of(cap, opt_.delta_filter_bits_per_key, [this](auto add) {
          for (auto e : delta_) add(e.key);
        });
        dfilter_keys_ = delta_.size();
        dfilter_cap_ = cap;
      } catch (...) {
        dfilter_ = {};
        dfilter_keys_ = 0;
        dfilter_cap_ = kNoDeltaFilter;
        return;
      }
    }
    dfilter_.add(h);
    ++dfilter_keys_;
  }
  void reset_delta_filter() noexcept {
    dfilter_ = {};
    dfilter_keys_ = 0;
    dfilter_cap_ = 0;
  }

  // The value of the key's rank is prefetched during the base walk (FrozenLayer::rank's on_rank):
  // it hides about half of the value column's cache miss.
  std::optional<std::size_t> base_rank(std::string_view key) const noexcept {
    if (!base_) return std::nullopt;
    const V* values = values_.data();
    const std::size_t n = values_.size();
    return Traits::rank(*base_, key, [values, n](std::uint64_t r) noexcept {
      if (r < n) detail::prefetch(values + r);
    });
  }
  // base_rank for the mutation paths: the filter rules out most keys outside the base without
  // touching it. After open() it is built here, on first use: one pass over the base's keys.
  // Throws only bad_alloc, before anything changed.
  std::optional<std::size_t> base_rank_filtered(std::string_view key, std::uint64_t h) {
    if (!base_) return std::nullopt;
    if (opt_.filter_bits_per_key != 0) {
      if (filter_.empty()) {
        filter_ = detail::hybrid_key_filter::of(base_->size(), opt_.filter_bits_per_key, [this](auto add) {
          for (auto it = base_->begin(), end = base_->end(); it != end; ++it) add(it.key());
        });
      }
      if (!filter_.may_contain(h)) return std::nullopt;
    }
    return base_rank(key);
  }

  // insert_many's warm-up of a batch (reads only): each key's lines of the base filter and of
  // the delta filter, and its path down the delta (the answers of find_many are not used).
  void warm(std::span<const std::string_view> keys) const noexcept {
    for (const std::string_view k : keys) {
      const std::uint64_t h = detail::hybrid_key_filter::hash(k);
      if (!filter_.empty()) filter_.prefetch(h);
      if (!dfilter_.empty()) dfilter_.prefetch(h);
    }
    if (!delta_.empty()) delta_.find_many(keys, [](std::size_t, const std::optional<V>*) noexcept {});
  }

  // The delta holds a live entry for a key outside the base, or a tombstone or a revived value
  // for a base key (overwrites of base keys go to values_). So a key outside the base needs one
  // delta operation, not a find and then an insert.
  bool upsert(std::string_view key, V& value, bool assign) {
    const std::uint64_t h = detail::hybrid_key_filter::hash(key);
    if (auto r = base_rank_filtered(key, h)) {
      if (std::optional<V>* d = delta_may_hold(h) ? delta_.find(key) : nullptr) {
        if (d->has_value()) {
          if (assign) **d = std::move(value);
          return false;
        }
        *d = std::move(value);  // revives a key erased from the base
        --tombstones_;
        ++size_;
        return true;
      }
      if (assign) values_[*r] = std::move(value);
      return false;
    }
    if (!dfilter_.empty()) dfilter_.prefetch(h);  // its line is written after the insert
    const bool added = assign ? delta_.insert_or_assign(key, std::optional<V>(std::move(value)))
                              : delta_.insert(key, std::optional<V>(std::move(value)));
    if (!added) return false;  // the key was in the delta already, so in its filter
    delta_filter_add(h);
    ++size_;
    maybe_merge();
    return true;
  }

  void merge_into_base(bool thorough) {
    if (delta_.empty() && !(thorough && quick_base_)) return;
    typename Traits::builder builder(size_, thorough);
    std::vector<V> values;
    values.reserve(size_);
    detail::hybrid_key_filter filter;
    filter.reset(size_, opt_.filter_bits_per_key);
    detail::hybrid_key_filter::filler fill(filter);
    for (auto e : *this) {
      builder.insert(e.key, values.size());
      fill.add(e.key);
      values.push_back(e.value);
    }
    fill.finish();
    BaseLayer base = builder.finish();
    // Nothing below throws.
    if (base.empty())
      base_.reset();
    else
      base_ = std::move(base);
    values_ = std::move(values);
    filter_.swap(filter);
    if (!base_) filter_ = {};
    file_ = io::mapped_file();
    delta_.clear();
    reset_delta_filter();
    tombstones_ = 0;
    quick_base_ = Traits::has_quick_build && !thorough && base_.has_value();
    ++merges_;
  }

  // Delta entries above which an automatic merge runs (see "Merging").
  std::size_t merge_trigger() const noexcept {
    const auto share = static_cast<std::size_t>(opt_.delta_share * static_cast<double>(base_size()));
    return std::max(opt_.min_merge_keys, share);
  }
  void maybe_merge() noexcept {
    if (!opt_.auto_merge) return;
    const bool by_count = delta_.size() > merge_trigger();
    const bool by_bytes = delta_.memory_usage() > opt_.max_delta_bytes;
    if (!by_count && !by_bytes) return;
    try {
      merge_into_base(false);
    } catch (...) {
      // Out of memory (or a builder error, which a correct merged view cannot cause): keep the
      // delta and try again at a later trigger.
    }
  }

  range_type bounded(typename BaseLayer::range_type b, typename Delta::range_type d) const {
    const_iterator first(this, b.begin(), b.end(), d.begin(), d.end());
    const_iterator last(this, b.end(), b.end(), d.end(), d.end());
    return {std::move(first), std::move(last)};
  }

  void load(std::span<const std::byte> image) {
    const io::image_header h = io::parse_image_header(image, kMagic, kVersion, true);
    const std::size_t body = io::image_header_size;
    if (image.size() < body + 16) detail::throw_format_error("HybridStore image truncated at offset 48");
    const std::uint64_t fst_bytes = io::load_le<std::uint64_t>(image.data() + body);
    const std::uint64_t value_size = io::load_le<std::uint64_t>(image.data() + body + 8);
    if (value_size != sizeof(V))
      detail::throw_format_error("HybridStore value size " + std::to_string(value_size) +
                                 " at offset 56 differs from sizeof(V) = " + std::to_string(sizeof(V)));
    const std::size_t fst_off = body + 16;
    if (fst_bytes > image.size() - fst_off)
      detail::throw_format_error("HybridStore base image length at offset 48 runs past the end of the image");
    const std::size_t values_off = fst_off + static_cast<std::size_t>(fst_bytes);
    const std::size_t values_len = image.size() - values_off;
    if (values_len % sizeof(V) != 0 || values_len / sizeof(V) != h.key_count)
      detail::throw_format_error("HybridStore value column at offset " + std::to_string(values_off) +
                                 " does not hold exactly " + std::to_string(h.key_count) + " values");
    base_ = Traits::view(image.subspan(fst_off, static_cast<std::size_t>(fst_bytes)));
    if (base_->size() != h.key_count)
      detail::throw_format_error("HybridStore key count at offset 24 differs from the base image's");
    if (base_->empty()) base_.reset();
    values_.resize(static_cast<std::size_t>(h.key_count));
    if (values_len) std::memcpy(values_.data(), image.data() + values_off, values_len);
    size_ = values_.size();
  }

  // Declared first: the base may view the mapping, so it must die after the base.
  io::mapped_file file_;
  std::optional<BaseLayer> base_;
  std::vector<V> values_;
  detail::hybrid_key_filter filter_;  // over the base's keys; empty = not built (or turned off)
  Delta delta_;
  // Over every key put into the delta since it was last empty (erased ones stay: a "maybe"),
  // sized for dfilter_cap_ keys; empty when the delta is, or when off (see delta_filter_add).
  static constexpr std::size_t kFirstDeltaFilterKeys = 1024;
  static constexpr std::size_t kNoDeltaFilter = std::numeric_limits<std::size_t>::max();
  detail::hybrid_key_filter dfilter_;
  std::size_t dfilter_keys_ = 0, dfilter_cap_ = 0;
  std::size_t size_ = 0;
  std::size_t tombstones_ = 0;
  std::size_t merges_ = 0;
  bool quick_base_ = false;  // the base came from an automatic merge (default-sized registry)
  options opt_{};
};

template <class V = std::uint64_t, class Alloc = SlabAllocator>
using FrontCodedHybridStore = HybridStore<V, Alloc, FrontCodedSet>;

}  // namespace memkv
