// memkv/hot_art.hpp - HotArt<V, Alloc>: a Height Optimized Trie over arbitrary byte-string keys;
// ArenaHotArt<V>: the same trie with 32-bit arena references, the smallest mutable map of memkv.
//
// The design of HOT (Binna, Zangerle, Pichl, Specht, Leis, SIGMOD 2018), written for memkv: the
// keys form one binary Patricia trie (a BiNode per discriminative bit), cut into compound nodes
// of up to 32 entries each so that the tree is as low as possible. A node stores only its
// discriminative bit positions and, per entry, a partial key: the entry's path bits at those
// positions (a 1 where the path goes right, 0 elsewhere: "sparse" partial keys). A lookup
// extracts the search key's bits at the node's positions (pext with BMI2) into a "dense" key and
// takes the last entry j with (pk[j] & dense) == pk[j], all entries compared at once with SIMD.
//
// Keys as bit strings (no terminator byte): byte i of a key is the 9-bit unit 0x100 | key[i] and
// every unit past the key's end is 0. Bit position p is bit (8 - p % 9) of unit p / 9. The extra
// "present" bit makes a key sort before its extensions, so the trie's order is exactly memcmp
// order, and the empty key, '\0', '\xff' and keys that are prefixes of each other are all just
// keys. Positions are 64-bit; unit offsets are 32-bit.
//
// Layout (all sizes in bytes; a node is one allocation, sized for exactly its entries):
//
//   struct NodeHeader {            // 8
//     uint8_t  layout;             // bits 0-1: partial-key width w = 1, 2 or 4 bytes (k <= 8,
//                                  //   <= 16, <= 31 positions); bit 2: multi-mask
//     uint8_t  count;              // entries n, 2..32
//     uint8_t  cap;                // entry slots, n..32 (== n except after an erase that could
//                                  //   not allocate a smaller node)
//     uint8_t  height;             // >= 1 + max(children's heights), leaves 0; saturates at 255
//     uint32_t base;               // the first unit holding a position
//   };
//   struct SingleMaskNode {        // every position within units [base, base + 7)
//     NodeHeader h;
//     uint64_t   mask;             // pext mask over the window word: unit base + r at bits
//                                  //   [9*(6-r), 9*(6-r)+9), present bit highest
//     uintW_t    pk[cap];          // sparse partial keys, ascending; pk[0] == 0; the node's
//                                  //   first position is the most significant bit; pad to 8
//     Ref        child[cap];       // entries in key order
//   };                             // (a search reads the header and pk[], then one child)
//   struct MultiMaskNode {         // positions spread over more than 7 units
//     NodeHeader h;
//     uint8_t  units, ucap; uint16_t pad;
//     uint16_t unit_delta[ucap];   // units holding positions, ascending, minus base (layout
//                                  //   bit 3, when they span more than 65535 bytes: uint32_t
//                                  //   unit[ucap], absolute)
//     uint16_t unit_mask[ucap];    // the positions within each unit (9 bits); pad to 8
//     uintW_t  pk[cap];            // pad to 8
//     Ref      child[cap];
//   };
//   Ref, the tree's child reference (the root may be a leaf, or null when empty):
//     HotArt<V, Alloc>:  TaggedPtr, 8 bytes: low bit 1 = leaf, else node; every node and leaf a
//                        block from the allocator policy Alloc (default SlabAllocator): nodes
//                        from one pool (node_allocator()), leaves from another (allocator())
//     ArenaHotArt<V>:    ArenaRef, 4 bytes: bit 0 = leaf, bits 1..31 = ChunkArena address
//                        (memkv/core/arena.hpp: chunk << 17 | 8-byte unit); every node and leaf
//                        a block of the map's ChunkArena
//   Both are BasicHotArt<V, Store> over the stores FastArt and ArenaArt use (PointerStore,
//   BasicArenaStore); the algorithms are the same code.
//   Leaf<V> { V value; LEB128 (n << 1 | coded); char bytes[n]; }  // FastArt's leaf with a flag:
//                                  // coded = 1: bytes is the key's coded form (below)
//
// Keys, coded: a leaf holds its whole key (the trie keeps only some of its bits). Once the map
// holds hot_options::code_sample_keys keys (4096 by default) it learns an order-0 Huffman code
// of their bytes (memkv/detail/key_code.hpp: the first 256 bytes of each key counted, every byte
// value given a code of 1..12 bits) and rewrites their leaves; from then on every key that the
// code makes shorter is stored coded (ending in a 1 bit, so equal keys have equal coded forms),
// any other key as it is. The trie itself is over the keys, not their codes: order, positions
// and node shapes do not change. A lookup codes the search key 8 bytes a level while the trie's
// nodes are fetched, then compares bytes with the leaf; insert decodes the leaf's key (~130 ns
// for a 44-byte URL); a scan decodes only the bytes a key does not share with the previous one. URLs code in ~27 bytes instead of 44.5 (npm-urls: 4.6 bits of order-0 entropy a
// byte), which takes ~17 bytes a key off the leaves. The code is learnt once (clear() or erasing
// every key forgets it; copies share it) and never follows later keys: keys unlike the first
// ones code worse or stay raw, never longer. code_sample_keys = 0 keeps every key raw.
//
// Invariants (check_invariants() verifies them): positions strictly increase down the tree
// (every position of a child node is greater than the positions on its entry's path); every
// position of a node is a BiNode (some entry has a 1 there); partial keys strictly increase.
//
// Insert (the height-optimizing one): find the leaf the key's bits lead to, and the first bit m
// where the key differs from it. The new BiNode at m splits the edge above the entries that
// agree with the key before m; it joins the compound node of its taller child (the node below
// the edge, when the edge leads to a node). If that edge is a single leaf entry of a node of
// height > 1, the leaf is pushed down into a new two-entry node; otherwise the node gets one
// more entry. A node
// that overflows (33 entries) splits at its root BiNode: into a new intermediate node when the
// parent is taller than needed, else the BiNode is pulled up into the parent (which may
// overflow in turn), or a new root when there is no parent. Nodes are copy-on-write: every
// allocation happens before the tree is touched.
// Erase removes the entry and its parent BiNode; a node left with one entry is replaced by it.
//
// Complexity: find O(h * (w + k)) with h the height (about log32 n for random keys), k the key
// length; insert and erase also rewrite up to a node per level (<= 32 entries each). begin,
// lower_bound: one descent; iterator increment amortized O(1).
// A single lookup prefetches the two lines after each node's first with it (a bottom node is 2-4
// lines; the child slot it reads is rarely in the header's line). Scratch program, npm-urls,
// 1,685,458 shuffled inserts, every key in another shuffled order, medians of 5 passes, 6 runs
// alternating with and without, 2026-12-03: HotArt 900-1109 -> 802-963 ns a lookup (faster in
// each pair; an earlier series of 5: 4 of 5), ArenaHotArt 784-1002 -> 707-878 (no clear change).
// get_many(keys, out): get() of each key, up to 16 descents at a time, one node of each in turn,
// each prefetching the node or leaf it reads next, so that the misses of different keys overlap.
// Scratch program, npm-urls (1,685,458 shuffled inserts, then every key in another shuffled
// order, get() against get_many() in spans of 1,024, 3 passes, 2026-12-03): HotArt 986-1054 ->
// 651-704 ns a key, ArenaHotArt 870-913 -> 619-655. Tried: prefetching a node's every line once
// its header is in (node_bytes), not just two: no gain (669-730); 4 to 32 lanes: 4 slower
// (676-808), 8 to 32 alike. memkv-micro (100,000 keys, mostly in cache) lookup_hit vs
// lookup_hit_many: hot-art 3.25 -> 3.83 M/s, arena-hot-art 3.80 -> 3.70. find_many(keys,
// on_found): the same walk without copying values, on_found(i, find(keys[i])) once per key in
// the order the descents end.
// insert_many(keys, values) / insert_or_assign_many: the calls one by one, with 16 descents at
// a time run first, interleaved, only to bring each path into the cache (FastArt's, see
// memkv/fast_art.hpp). It helps HotArt less than the ART: its insert does more besides the
// descent (the leaf's mismatch bit, rewriting a compound node). memkv-compare, npm-urls, spans of
// 1,024 (bench/results/npm-urls-insert-many-2026-12-04.md, medians of 3, std::map 0.37 M
// inserts/s), insert -> insert_many, M keys/s: HotArt 0.52 -> 0.64 (1.73x std::map's insert),
// ArenaHotArt 0.55 -> 0.66 (1.77x), ArenaHotArt+index 0.32 -> 0.41 (1.12x). memkv-micro (100,000
// synthetic URLs): hot-art 0.73 -> 0.90 M/s.
//
// Point index (hot_options::point_index, off by default): a hash index of the leaves beside the
// trie (memkv/detail/point_index.hpp), for maps that are looked up much more than scanned.
//   - Layout: a slot is one 32-bit word, the leaf's arena address and in the bits left a
//     fingerprint of the key's hash (8 bits on npm-urls); 64-bit words with HotArt's pointers,
//     or once an ArenaHotArt's arena passes 512 MiB. A bucket is one 64-byte line (16 or 8
//     slots); a key goes to the first free slot from its bucket on. Kept 0.7-0.9 full: 4.4-5.7
//     bytes a key with 32-bit slots, 8.9-11.4 with 64-bit ones (tables from 4 MiB on huge pages,
//     rounded up to whole 2 MiB pages).
//   - find/get/contains: the hash of the key (of the key itself, not its coded form: its bucket
//     is prefetched at once and the key coded while it arrives), the bucket's fingerprints
//     compared at once, then the leaf each matching one names (1 in ~20 lookups reads a second
//     leaf): two dependent cache misses where the trie has a bottom node of 3-4 lines, the
//     levels above it and the leaf. get_many and find_many pipeline that over 8 + 8 keys.
//     insert and insert_or_assign look the key up there first (a key already held is found and
//     assigned without the trie), then add the new leaf; erase asks it first (an absent key
//     costs no descent). Iteration, lower_bound, prefix and range use the trie only.
//   - Cost: a rebuild from the leaves when the table passes 0.9 (to 0.7: over a map's growth
//     3.5-4.5 keys rebuilt per key inserted), falls below 1/8, when an arena address outgrows
//     the slot (once per doubling of the arena), once the key code is learnt, and in a copy. A
//     rebuild reads each leaf and decodes its key (npm-urls: ~230 ns a key, against ~110 for
//     hashing the coded form, which would put coding the key before the bucket's miss on every
//     lookup instead). That is most of what inserts pay for the index (below).
//   - If the index cannot allocate, it is dropped: point_index_active() turns false and the trie
//     answers, until clear() or a copy builds it again. memory_usage() includes it
//     (point_index_bytes()).
//   - Measured (memkv-compare --dataset npm-urls --structures std-map,hat-trie,judysl,hot-art,
//     arena-hot-art,hot-art-ix,arena-hot-art-ix --repeat 3 --no-life, 2026-12-03 10:16 UTC,
//     medians of 3; std::map 0.38 M inserts and lookups/s): ArenaHotArt 6.0 -> 10.9 B/key
//     (index 8 MiB: 5.0 B/key), lookups 1.14 -> 2.05 M/s (3.00x -> 5.42x std::map; the C
//     HAT-trie 1.31, JudySL 0.76), misses 1.53 -> 3.65, get_many 2.13 -> 5.29, inserts 0.51 ->
//     0.36 M/s (1.36x -> 0.95x); HotArt 11.2 -> 21.2 B/key, lookups 1.11 -> 2.12 M/s. A second
//     run (10:20 UTC, with the mixed life): ArenaHotArt+index lookups 5.28x, inserts 0.90x; mixed
//     life 1.64x -> 1.21x std::map, 7.4 -> 12.9 B/key per live key (the index is sized for the
//     keys held before the erases). Scratch program, the same ArenaHotArt built both ways in one
//     process, npm-urls in shuffled order: 2272-2625 -> 3454-3593 ns an insert. In
//     bench/results/npm-urls.md at 12:27 UTC, on a quiet machine where std::map looked up 0.55 M
//     keys/s (0.38-0.43 in the runs above), ArenaHotArt+index looked up 2.15 M/s: 3.88x.
//
// Guarantees:
//   - insert and insert_or_assign: strong guarantee; if an allocation throws the map is unchanged.
//   - erase never throws (except from V's destructor): when no smaller node can be allocated,
//     the node is rewritten in place in its old size.
//   - Iterators: every insert/insert_or_assign/erase/clear/assignment invalidates all iterators and
//     the key views of entries; find() pointers stay valid until that key is erased or the map is
//     cleared, destroyed or assigned (values live in their leaf, which never moves), except
//     across the one insert that makes the map learn its key code: that one moves the leaves of
//     the keys held then (code_sample_keys of them) into coded ones. If that rewrite cannot
//     allocate, the insert still succeeds, the map stays raw and learns at twice the size.
//   - const member functions may run concurrently; mutation needs exclusive access.
//   - Copy is deep (each copy has its own allocator pools or arena); move and swap are noexcept.
//
// Memory: memory_usage() is the store's bytes_in_use() (HotArt: its two allocator pools, nodes
// and leaves; ArenaHotArt: its arena) plus sizeof(*this), plus the key
// code's tables (~17 KiB) once learnt, plus the point index's table when it is on. Erasing every
// key gives all nodes, leaves and the index back (the SlabAllocator returns to its empty
// footprint); in between, ArenaHotArt's arena gives back each chunk none of whose blocks is in use
// once such chunks make up 1/8 of it and pay for the sweep (memkv/core/arena.hpp, "Memory given
// back"); its destructor and clear() drop the whole arena at once (a walk only to run V's
// destructors, when it has any), where HotArt frees each node and leaf. On npm-urls (1.69M URLs,
// 44.5 B on average, shuffled inserts; bench/results/npm-urls.md, 2026-12-02 10:40 UTC, medians
// of 3) HotArt holds
// 11.2 B/key beyond the raw key bytes and ArenaHotArt 6.0, 8-byte values included (27.8 and 23.4
// with raw keys, the 07:26 UTC table). ArenaHotArt's 6.0: leaves 12.5 + the coded key, which is
// 17.3 B shorter than the key (27.15 B against 44.47 on average), so -4.8 net (value 8, length 1,
// the arena's 8-byte units 3.5); nodes 9.9 (a 4-byte child slot and a 1-4 byte partial key per
// entry, ~15 entries per node, headers and unit masks); chunk tails and free blocks ~0.9. HotArt
// has 8-byte child slots (nodes 14.2 B/key), its SlabAllocator's chunk tails and free slots
// (~0.9) and the partly used 2 MiB huge-page region (~0.2; its 64 KiB chunks come from such
// regions once it holds 16 MiB: memkv/core/huge_pages.hpp).
// Speed in that run: ArenaHotArt 1.10 M lookups/s (2.82x std::map), HotArt 0.87 (2.23x), the C
// HAT-trie 1.36 (3.47x), JudySL 1.82x. Coded keys cost lookups 3-10% and scans about 2x
// (scratch program, npm-urls, the same ArenaHotArt with and without a code in one process,
// medians of 5: 1.03-1.10x the time a lookup; a scan 175-195 ns a key against 80-97 when the
// key's bytes are read).
// Placement: ArenaHotArt puts the nodes above the bottom level (height >= 2) in a zone of its
// arena apart (memkv/core/arena.hpp), where they are packed into chunks of their own instead of
// each landing wherever a freed block of its size was. On npm-urls that is 8,494 of 121,186
// nodes (1.07 MB; every lookup passes through ~2 of them): on 6,233 distinct 4 KiB pages for the
// 7,732 nodes of height 2 before, on 284 with the zone (scratch walk of the trie), so the upper
// levels stay in the TLB and the caches. Memory is the same (6.0 B/key); lookups in memkv-compare
// runs alternating the two builds went 0.65 and 0.84 -> 0.84 and 0.91 M/s (2026-12-02 15:30 UTC,
// medians of 3; within this machine's noise, but never slower). HotArt's allocator has no zones.
// The arena bounds the map to ~16 GiB of nodes and leaves (about 340 million 44-byte URL keys
// coded, 250 million raw), of which at most ~16,000 leaves over 64 KiB (each takes one of the
// arena's chunks): past it an insert throws memkv::error and changes nothing. Maps that may
// grow beyond that use HotArt.
// A small ArenaHotArt can hold more than a HotArt: its chunks double from 4 KiB to 1 MiB, and
// the newest is partly used (measured: 50,000 30-byte keys, 33.0 against 29.4 B/key).
//
// Shape (stats(), npm-urls in a shuffled order): 121,186 nodes of 14.9 entries on average
// (9,916 of them two-entry nodes), root height 7, a leaf 6.88 nodes down on average. The
// levels above height 2 are 762 nodes, few enough to stay cached, so a lookup's cache misses
// are mostly in the height-2 and height-1 nodes (7,732 and 112,692) and the leaf, whose key is
// compared in full.
//
// Limits: keys up to 2^32 - 1 bytes (longer ones throw memkv::error); alignof(V) <= 8;
// ArenaHotArt: ~16 GiB of nodes and leaves per map (above).
//
// Exception safety is tested by failing each allocation of an insert in turn, through a
// throwing allocator policy: HotArt only (the arena allocates whole chunks, not blocks); the
// code path is shared.
#pragma once

#include <algorithm>
#include <array>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
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
#include "core/key.hpp"
#include "core/prefetch.hpp"
#include "detail/hot_node.hpp"
#include "detail/key_code.hpp"
#include "detail/point_index.hpp"
#include "arena_art.hpp"  // detail::art::BasicArenaStore: ArenaHotArt's memory
#include "fast_art.hpp"   // detail::art::LeafLayout (the leaf format both tries share), PointerStore

namespace memkv {

// Tuning of HotArt and ArenaHotArt.
struct hot_options {
  // Once the map holds this many keys it learns a code of their bytes (detail/key_code.hpp) and
  // from then on stores each key that the code makes shorter in coded form (see "Keys" in the
  // header comment). 0: keys are stored as they are.
  std::size_t code_sample_keys = 4096;
  // Keep a hash index of the leaves (detail/point_index.hpp; see "Point index" in the header
  // comment): find/get/contains, get_many, insert and erase then reach a key's leaf through one
  // 64-byte bucket instead of the trie's descent, for 4.4-5.7 bytes a key more (ArenaHotArt;
  // HotArt's 8-byte leaf pointers take 64-bit slots: twice that). Off by default.
  bool point_index = false;
};

template <class V, class Store>
class BasicHotArt {
  using NodeHeader = detail::hot::NodeHeader;
  using Ref = typename Store::Ref;
  using Decoded = detail::hot::Decoded<Ref>;
  using Shape = detail::hot::Shape;
  using LeafTag = detail::art::LeafTag;
  using Leaf = detail::art::LeafLayout<V, 1>;  // flag 1: the key is coded
  using Index = detail::art::LeafIndex<Leaf, Store>;  // the point index
  using KeyCode = detail::key_code;

public:
  using key_type = std::string_view;
  using mapped_type = V;
  using size_type = std::size_t;
  using value_type = basic_entry<const V&>;
  using allocator_type = std::remove_cvref_t<decltype(std::declval<const Store&>().allocator())>;
  using store_type = Store;
  using stats_type = detail::hot::Stats;

  class const_iterator;
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;

  BasicHotArt() noexcept(std::is_nothrow_default_constructible_v<Store>) = default;
  // HotArt<V, A> m(policy): the store is built from the allocator policy object.
  template <class... StoreArgs>
    requires(sizeof...(StoreArgs) > 0 && std::is_constructible_v<Store, StoreArgs...>)
  explicit BasicHotArt(StoreArgs&&... args) : store_(std::forward<StoreArgs>(args)...) {}
  template <class... StoreArgs>
    requires std::is_constructible_v<Store, StoreArgs...>
  explicit BasicHotArt(hot_options options, StoreArgs&&... args)
      : store_(std::forward<StoreArgs>(args)...),
        code_(options.code_sample_keys),
        index_(options.point_index) {}
  BasicHotArt(const BasicHotArt& other)
      : store_(other.store_), code_(other.code_), index_(other.index_.enabled()) {
    root_ = clone(other.store_, other.root_);
    size_ = other.size_;
    index_build();  // the copy's leaves are elsewhere
  }
  BasicHotArt(BasicHotArt&& other) noexcept
      : root_(std::exchange(other.root_, Ref{})),
        size_(std::exchange(other.size_, 0)),
        store_(std::move(other.store_)),
        code_(std::move(other.code_)),
        index_(std::move(other.index_)) {}
  BasicHotArt& operator=(const BasicHotArt& other) {
    if (this != &other) {
      BasicHotArt copy(other);
      swap(copy);
    }
    return *this;
  }
  BasicHotArt& operator=(BasicHotArt&& other) noexcept {
    if (this != &other) {
      clear();
      root_ = std::exchange(other.root_, Ref{});
      size_ = std::exchange(other.size_, 0);
      store_ = std::move(other.store_);
      code_ = std::move(other.code_);
      index_ = std::move(other.index_);
    }
    return *this;
  }
  ~BasicHotArt() { destroy_all(); }

  void swap(BasicHotArt& other) noexcept {
    std::swap(root_, other.root_);
    std::swap(size_, other.size_);
    std::swap(code_, other.code_);
    index_.swap(other.index_);
    Store tmp(std::move(store_));
    store_ = std::move(other.store_);
    other.store_ = std::move(tmp);
  }
  friend void swap(BasicHotArt& a, BasicHotArt& b) noexcept { a.swap(b); }

  // --- lookups ------------------------------------------------------------------------------
  V* find(std::string_view key) noexcept {
    LeafTag* l = find_leaf(key);
    return l ? &Leaf::value(l) : nullptr;
  }
  const V* find(std::string_view key) const noexcept {
    const LeafTag* l = find_leaf(key);
    return l ? &Leaf::value(l) : nullptr;
  }
  std::optional<V> get(std::string_view key) const {
    if (const V* v = find(key)) return *v;
    return std::nullopt;
  }
  bool contains(std::string_view key) const noexcept { return find_leaf(key) != nullptr; }
  // get() of every key of `keys`, its answer written to the same index of `out`: up to 16
  // descents at a time, one node of each in turn, each prefetching the node (or leaf) it needs
  // next, so that the cache misses of different keys overlap (a single lookup's cannot: each
  // address comes from the node before). Any order and repeats are fine; an empty span is.
  // Throws memkv::error when out.size() != keys.size(); what copying a V throws (out is then
  // partly written).
  void get_many(std::span<const std::string_view> keys, std::span<std::optional<V>> out) const {
    if (out.size() != keys.size())
      detail::throw_error("HotArt::get_many: " + std::to_string(keys.size()) + " keys but " +
                          std::to_string(out.size()) + " answer slots");
    find_leaves(keys, [out](std::size_t i, const LeafTag* l) {
      if (l) out[i] = Leaf::value(l);
      else out[i] = std::nullopt;
    });
  }
  // find_many(keys, on_found): on_found(i, find(keys[i])) once per key, in the order the
  // interleaved descents end; the same contract as FastArt's (memkv/detail/art_engine.hpp).
  template <class OnFound>
  void find_many(std::span<const std::string_view> keys, OnFound&& on_found) {
    find_leaves(keys, detail::art::leaf_values<Leaf, V*>(on_found));
  }
  template <class OnFound>
  void find_many(std::span<const std::string_view> keys, OnFound&& on_found) const {
    find_leaves(keys, detail::art::leaf_values<Leaf, const V*>(on_found));
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t memory_usage() const noexcept {
    return store_.bytes_in_use() + sizeof(*this) + code_.memory_usage() + index_.memory_usage();
  }
  hot_options options() const noexcept {
    static_assert(sizeof(hot_options) == 2 * sizeof(std::size_t), "options with more members: keep them here");
    return hot_options{code_.sample_keys(), index_.enabled()};
  }
  // The point index (hot_options::point_index): whether it is answering lookups (false when it
  // is off, or after an allocation for it failed: then the trie answers, and the index is built
  // again by clear() or a copy), and its bytes (part of memory_usage()).
  bool point_index_active() const noexcept { return index_.usable(); }
  std::size_t point_index_bytes() const noexcept { return index_.memory_usage(); }
  // Whether the map has learnt its key code (keys it makes shorter are then stored coded).
  bool keys_coded() const noexcept { return code_.get() != nullptr; }
  // HotArt: the leaves' pool; node_allocator(): the compound nodes' (two pools of the same policy).
  const allocator_type& allocator() const noexcept { return store_.allocator(); }
  const allocator_type& node_allocator() const noexcept
    requires requires(const Store& s) { s.node_allocator(); }
  {
    return store_.node_allocator();
  }

  // --- mutation -----------------------------------------------------------------------------
  bool insert(std::string_view key, V value) { return upsert_learn(key, value, false); }
  bool insert_or_assign(std::string_view key, V value) { return upsert_learn(key, value, true); }
  // insert()/insert_or_assign() of each (keys[i], values[i]) in turn, with the cache misses of
  // 16 keys at a time overlapped: the same contract as FastArt's (memkv/detail/art_engine.hpp).
  std::size_t insert_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, false, [this](auto batch) { warm_paths(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert_learn(k, v, a); });
  }
  std::size_t insert_or_assign_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, true, [this](auto batch) { warm_paths(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert_learn(k, v, a); });
  }
  bool erase(std::string_view key);
  void clear() noexcept {
    destroy_all();
    root_ = Ref{};
    size_ = 0;
    forget_code();
    index_.reset();
  }

  // --- ordered traversal --------------------------------------------------------------------
  const_iterator begin() const {
    const_iterator it(&store_, code_.get());
    if (root_) it.descend(root_);
    return it;
  }
  const_iterator end() const noexcept { return const_iterator(); }
  const_iterator lower_bound(std::string_view key) const;
  range_type range(std::string_view lo, std::string_view hi) const {
    if (lo.compare(hi) >= 0) return {end(), end()};
    return {lower_bound(lo), lower_bound(hi)};
  }
  range_type prefix(std::string_view p) const {
    auto succ = detail::prefix_successor(p);
    return {lower_bound(p), succ ? lower_bound(*succ) : end()};
  }

  // --- checks -------------------------------------------------------------------------------
  void check_invariants() const;
  stats_type stats() const;

  class const_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = basic_entry<const V&>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = arrow_proxy<value_type>;

    const_iterator() = default;
    reference operator*() const noexcept {
      assert(at_.leaf() != nullptr);
      return {at_.key(), Leaf::value(at_.leaf())};
    }
    pointer operator->() const noexcept { return {**this}; }
    const_iterator& operator++() {
      advance();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      advance();
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
      return a.at_.leaf() == b.at_.leaf();
    }

  private:
    friend class BasicHotArt;
    struct Frame {
      const NodeHeader* node;
      unsigned idx;
    };
    const_iterator(const Store* store, const KeyCode* code) noexcept : store_(store), at_(code) {}


    // Visit the smallest leaf at or below r.
    void descend(Ref r) {
      while (r.is_inner()) {
        const NodeHeader* h = store_->node(r);
        stack_.push_back({h, 0});
        r = detail::hot::children<Ref>(h)[0];
      }
      // The next entry is usually the next leaf: start fetching it (leaves sit wherever they were
      // allocated, so in a scan each is a cache miss; this one overlaps with the work below).
      if (!stack_.empty()) {
        const Frame& f = stack_.back();
        for (unsigned j = f.idx + 1u; j < f.node->count && j <= f.idx + 2u; ++j) {
          const Ref next = detail::hot::children<Ref>(f.node)[j];
          if (next.is_leaf()) detail::prefetch(store_->leaf(next));
        }
      }
      at_.set(store_->leaf(r));
    }
    // Move to the first leaf after the subtree of the top frame's current entry.
    void advance() {
      while (!stack_.empty()) {
        Frame& f = stack_.back();
        if (f.idx + 1 < f.node->count) {
          ++f.idx;
          descend(detail::hot::children<Ref>(f.node)[f.idx]);
          return;
        }
        stack_.pop_back();
      }
      at_.reset();
    }

    std::vector<Frame> stack_;
    const Store* store_ = nullptr;
    detail::art::LeafCursor<Leaf> at_;
  };

private:
  // --- the search path of insert and erase (inline up to 64 levels) -------------------------
  struct Frame {
    NodeHeader* node;
    unsigned idx;
    Ref ref;  // the node's own reference (to free it)
  };
  class Path {
  public:
    void push(Frame f) {
      if (size_ < kInline) {
        inline_[size_++] = f;
        return;
      }
      if (heap_.empty()) heap_.assign(inline_, inline_ + kInline);
      heap_.push_back(f);
      ++size_;
    }
    Frame& operator[](std::size_t i) noexcept { return heap_.empty() ? inline_[i] : heap_[i]; }
    std::size_t size() const noexcept { return size_; }

  private:
    static constexpr std::size_t kInline = 64;
    Frame inline_[kInline];
    std::vector<Frame> heap_;
    std::size_t size_ = 0;
  };

  // Where a new BiNode at position m goes: node level d of the path, above its entries [a, b].
  struct Spot {
    std::size_t level;
    unsigned a, b;
  };
  template <class GetFrame>
  static Spot locate(std::size_t depth, GetFrame&& frame, std::uint64_t m) noexcept;

  bool leaf_is(const LeafTag* l, std::string_view key) const noexcept {
    return detail::art::leaf_holds<Leaf>(l, code_.get(), key);
  }
  // The first bit position (detail::hot's 9-bit units) where leaf r's key and key differ, or
  // kSameKey when they are equal; a coded key is decoded only as far as it agrees with key.
  static constexpr std::uint64_t kSameKey = ~std::uint64_t{0};
  std::uint64_t leaf_mismatch_bit(Ref r, std::string_view key) const noexcept {
    const auto [common, next] = detail::art::leaf_mismatch<Leaf>(store_.leaf(r), code_.get(), key, 0);
    if (common == key.size() && next < 0) return kSameKey;
    return detail::hot::mismatch_bit_at(key, common, next < 0 ? 0u : 0x100u | static_cast<unsigned>(next));
  }
  unsigned height_of(Ref r) const noexcept { return r.is_leaf() ? 0u : store_.node(r)->height; }
  // The height of a node holding d's entries: one more than its tallest child's.
  unsigned node_height(const Decoded& d) const noexcept {
    unsigned height = 0;
    for (unsigned j = 0; j < d.n; ++j) height = std::max(height, height_of(d.child[j]));
    return height + 1;
  }

  const LeafTag* find_leaf(std::string_view key) const noexcept {
    if (index_.usable()) {
      typename Index::Key q;
      index_.make_key(key, code_.get(), q);
      return index_.find(store_, code_.get(), q);
    }
    return find_leaf_in_trie(key);
  }
  const LeafTag* find_leaf_in_trie(std::string_view key) const noexcept {
    detail::art::SearchKey search(key, code_.get());
    Ref r = root_;
    while (r.is_inner()) {
      const NodeHeader* h = store_.node(r);
      // A node of the bottom levels is 2-4 lines (npm-urls: ~180 bytes where a lookup ends) and
      // its child slot is rarely in the header's line: ask for the next two lines with it.
      detail::prefetch(reinterpret_cast<const char*>(h) + 64);
      detail::prefetch(reinterpret_cast<const char*>(h) + 128);
      search.step();
      r = detail::hot::children<Ref>(h)[detail::hot::match(h, detail::hot::extract(h, key))];
    }
    if (!r) return nullptr;
    const LeafTag* l = store_.leaf(r);
    return search.found_in<Leaf>(l) ? l : nullptr;
  }
  LeafTag* find_leaf(std::string_view key) noexcept {
    return const_cast<LeafTag*>(std::as_const(*this).find_leaf(key));
  }
  // find_leaf of every key, interleaved (see get_many): done(i, leaf or nullptr) as key i's
  // descent ends.
  template <class Done>
  void find_leaves(std::span<const std::string_view> keys, Done&& done) const {
    if (index_.usable()) {
      index_.find_many(store_, code_.get(), keys, done);
      return;
    }
    descend_many(keys, false, [&](std::size_t i, Ref r) {
      const LeafTag* leaf = r ? store_.leaf(r) : nullptr;
      done(i, leaf && leaf_is(leaf, keys[i]) ? leaf : nullptr);
    });
  }
  // What inserting each key of keys will read, brought into the cache (insert_many): the nodes
  // of its path and the leaf where it ends, and with a usable point index the key's bucket.
  // Reads only.
  void warm_paths(std::span<const std::string_view> keys) const noexcept {
    descend_many(keys, index_.usable(), [](std::size_t, Ref) noexcept {});
  }
  // The trie's descents along keys, up to 16 at a time, one node of each in turn, each
  // prefetching what it reads next: end(i, r) once per key, in the order the descents end, with
  // the leaf key i's descent ends at (prefetched a round before, not compared with the key) or
  // null. bucket_too: each key's point-index bucket is prefetched as well.
  template <class End>
  void descend_many(std::span<const std::string_view> keys, bool bucket_too, End&& end) const {
    struct lane {
      Ref r;
      std::size_t who;
    };
    detail::interleave<16, lane>(
        keys.size(),
        [&](lane& x, std::size_t i) {
          const std::string_view k = keys[i];
          detail::prefetch(k.data());  // the query's bytes: the nodes read them anywhere
          if (k.size() > 1) detail::prefetch(k.data() + k.size() - 1);
          if (bucket_too) index_.prefetch_key(k);
          x = {root_, i};
        },
        [&](lane& x) {
          if (x.r.is_inner()) {
            x.r = step_down(x.r, keys[x.who]);
            return false;
          }
          end(x.who, x.r);
          return true;
        });
  }
  // The child of inner node r that key's descent takes, its first lines (or the leaf) prefetched.
  Ref step_down(Ref r, std::string_view key) const noexcept {
    const NodeHeader* h = store_.node(r);
    const Ref c = detail::hot::children<Ref>(h)[detail::hot::match(h, detail::hot::extract(h, key))];
    if (c.is_inner()) {
      const auto* p = reinterpret_cast<const char*>(store_.node(c));
      detail::prefetch(p);
      detail::prefetch(p + 64);
    } else if (c) {
      detail::prefetch(store_.leaf(c));
    }
    return c;
  }

  // --- allocation ---------------------------------------------------------------------------
  Ref new_node(const Decoded& d) {
    const Shape s = detail::hot::exact_shape(d);
    NodeHeader* at = nullptr;
    const unsigned height = node_height(d);
    const Ref r = store_.new_node(detail::hot::shape_bytes<Ref>(s), at, zone_of(height));
    detail::hot::encode(d, s, at, height);
    return r;
  }
  void free_node(Ref r) noexcept {
    const NodeHeader* h = store_.node(r);
    store_.delete_node(r, detail::hot::node_bytes<Ref>(h), zone_of(h->height));
  }
  // Where a node of this height is placed: the nodes above the bottom level (height >= 2, about
  // one in 15) in a zone of their own, so that the first levels of every lookup share a few
  // hundred pages (see "Memory").
  static unsigned zone_of(unsigned height) noexcept { return height >= 2 ? 1u : 0u; }

  // Leaves: the format and the code FastArt's engine uses (detail/art_engine.hpp).
  // A key is stored coded when the map has a code and its coded form is shorter.
  Ref alloc_leaf(std::string_view key, V& value, const typename Index::Key* coded = nullptr) {
    if (coded != nullptr) return Index::make_leaf_for(store_, *coded, value, code_.get(), "HotArt's limit");
    return alloc_leaf(key, value, code_.get());
  }
  Ref alloc_leaf(std::string_view key, V& value, const KeyCode* code) {
    return detail::art::make_key_leaf<V, Leaf>(store_, key, value, code, "HotArt's limit");
  }
  Ref clone_leaf(const LeafTag* src) { return detail::art::clone_leaf<V, Store, Leaf>(store_, src); }
  void free_leaf(Ref r) noexcept { detail::art::free_leaf<V, Store, Leaf>(store_, r); }

  // --- the point index (hot_options::point_index; detail::art::LeafIndex) -------------------
  // Every leaf of the trie into the index (after a copy, or once the leaves are coded); if that
  // cannot allocate, the index is left broken (the trie answers).
  void index_build() noexcept {
    index_.build(store_, code_.get(), size_, root_, [this](Ref r, auto&& push) {
      const NodeHeader* h = store_.node(r);
      const Ref* c = detail::hot::children<Ref>(h);
      for (unsigned j = 0; j < h->count; ++j) push(c[j]);
    });
  }

  // The key code: learnt once the map holds options().code_sample_keys keys. With the index, a
  // key already held is found (and assigned) without the trie, and a new leaf is indexed.
  bool upsert_learn(std::string_view key, V& value, bool assign) {
    Ref added{};  // the new leaf (the index's upsert takes its own)
    const bool inserted =
        index_.usable()
            ? index_.upsert(store_, code_.get(), key, value, assign,
                            [&](Ref& leaf, const typename Index::Key& q) {
                              return upsert(key, value, assign, leaf, &q);
                            })
            : upsert(key, value, assign, added);
    if (inserted && code_.due(size_)) learn_code();
    return inserted;
  }
  void learn_code() noexcept;
  void forget_code() noexcept { code_.forget(); }

  // Nodes made for an insert that then failed: freed (not their children) unless committed.
  struct Fresh {
    // Takes ownership of the new leaf (already allocated: nothing to undo if that throws).
    Fresh(BasicHotArt* m, Ref new_leaf) noexcept : map(m), leaf(new_leaf) {}
    BasicHotArt* map;
    Ref first[8];  // most inserts make one node; a cascade of splits makes 2 per level
    unsigned n_first = 0;
    std::vector<Ref> more{};
    Ref leaf{};
    // A new node for d (registered here), or d's only child.
    Ref entry(const Decoded& d) {
      if (d.n == 1) return d.child[0];
      return node(d);
    }
    Ref node(const Decoded& d) {
      if (n_first == 8) more.reserve(more.size() + 1);
      const Ref r = map->new_node(d);
      if (n_first < 8)
        first[n_first++] = r;
      else
        more.push_back(r);
      return r;
    }
    void commit() noexcept {
      n_first = 0;
      more.clear();
      leaf = Ref{};
    }
    ~Fresh() {
      while (n_first > 0) map->free_node(first[--n_first]);
      for (Ref r : more) map->free_node(r);
      if (leaf) map->free_leaf(leaf);
    }
  };

  // added: the new leaf; coded: key as the index's make_key coded it (the leaf is made from it)
  bool upsert(std::string_view key, V& value, bool assign, Ref& added,
              const typename Index::Key* coded = nullptr);
  Ref clone(const Store& from, Ref src);  // a deep copy of another tree's subtree
  template <bool kFree = true>
  void destroy(Ref r) noexcept;
  // Frees the whole trie (the destructor, clear()): ArenaHotArt drops its arena at once, walking
  // the trie only for V's destructors; HotArt frees each node and leaf (detail::art::destroy_tree).
  void destroy_all() noexcept {
    detail::art::destroy_tree<V>(store_,
                                 [this](auto frees) noexcept { destroy<decltype(frees)::value>(root_); });
  }

  Ref root_{};
  std::size_t size_ = 0;
  Store store_{};
  detail::art::CodeSlot code_{hot_options{}.code_sample_keys};
  Index index_{hot_options{}.point_index};
};

// ============================================================================================
// Implementation
// ============================================================================================

template <class V, class Store>
template <class GetFrame>
auto BasicHotArt<V, Store>::locate(std::size_t depth, GetFrame&& frame, std::uint64_t m) noexcept -> Spot {
  std::uint64_t pos[detail::hot::kMaxFanout];
  for (std::size_t d = 0; d < depth; ++d) {
    const NodeHeader* h = frame(d).node;
    const unsigned i = frame(d).idx;
    const unsigned k = detail::hot::node_positions(h, pos);
    unsigned c = 0;
    while (c < k && pos[c] < m) ++c;
    // Entries agreeing with entry i at the positions before m share the edge m splits.
    const std::uint32_t before = c == 0 ? 0u : static_cast<std::uint32_t>(((std::uint64_t{1} << c) - 1) << (k - c));
    const std::uint32_t pi = detail::hot::partial_key(h, i);
    unsigned a = i, b = i;
    while (a > 0 && ((detail::hot::partial_key(h, a - 1) ^ pi) & before) == 0) --a;
    while (b + 1 < h->count && ((detail::hot::partial_key(h, b + 1) ^ pi) & before) == 0) ++b;
    // Several entries: the edge is inside h. A leaf: the edge is h's edge to it. A node: the
    // BiNode goes to the deeper of its two children's nodes, so into that node (as its new root
    // when m is above all its positions: then every entry there agrees with the key before m).
    if (a != b || detail::hot::children<Ref>(h)[i].is_leaf()) return {d, a, b};
  }
  assert(false && "the path ends at a leaf");
  return {depth - 1, 0, 0};
}

template <class V, class Store>
bool BasicHotArt<V, Store>::upsert(std::string_view key, V& value, bool assign, Ref& added,
                                   const typename Index::Key* coded) {
  if (!root_) {
    root_ = added = alloc_leaf(key, value, coded);
    ++size_;
    return true;
  }
  Path path;
  Ref r = root_;
  while (r.is_inner()) {
    NodeHeader* h = store_.node(r);
    const unsigned i = detail::hot::match(h, detail::hot::extract(h, key));
    path.push({h, i, r});
    r = detail::hot::children<Ref>(h)[i];
  }
  const std::uint64_t m = leaf_mismatch_bit(r, key);
  if (m == kSameKey) {
    if (assign) Leaf::value(store_.leaf(r)) = std::move(value);
    return false;
  }
  const bool right = detail::hot::key_bit(key, m) != 0;

  Fresh fresh(this, alloc_leaf(key, value, coded));
  const Ref leaf = fresh.leaf;
  auto two = [&](Ref a, Ref b, std::uint64_t pos) {  // a node of a (left) and b (right) split at pos
    Decoded d;
    d.n = 2;
    d.k = 1;
    d.pos[0] = pos;
    d.pk[0] = 0;
    d.pk[1] = detail::hot::column(0);
    d.child[0] = a;
    d.child[1] = b;
    return fresh.node(d);
  };

  if (path.size() == 0) {  // the root is a leaf
    const Ref n = right ? two(r, leaf, m) : two(leaf, r, m);
    root_ = n;
    fresh.commit();
    added = leaf;
    ++size_;
    return true;
  }

  const Spot spot = locate(path.size(), [&](std::size_t d) -> Frame& { return path[d]; }, m);
  NodeHeader* h = path[spot.level].node;
  Ref* entry_slot = detail::hot::children<Ref>(h) + spot.a;
  if (spot.a == spot.b && entry_slot->is_leaf() && h->height > 1) {
    // Leaf pushdown: a two-entry node below h costs h no fanout and the tree no height.
    const Ref n = right ? two(*entry_slot, leaf, m) : two(leaf, *entry_slot, m);
    *entry_slot = n;
    fresh.commit();
    added = leaf;
    ++size_;
    return true;
  }

  // Copy-on-write from path level `level` up: `top` replaces path[level].node (freed after).
  Decoded cur;
  detail::hot::decode(h, cur);
  detail::hot::insert_entry(cur, spot.a, spot.b, m, right, leaf);
  std::size_t level = spot.level;
  Ref top;
  Ref* in_place_slot = nullptr;  // intermediate node creation writes into the parent instead
  for (;;) {
    if (cur.n <= detail::hot::kMaxFanout) {
      top = fresh.node(cur);
      break;
    }
    Decoded left, right_half;
    const std::uint64_t root_pos = detail::hot::split(cur, left, right_half);
    const Ref l = fresh.entry(left);
    const Ref rr = fresh.entry(right_half);
    if (level == 0) {  // a new root above the two halves
      top = two(l, rr, root_pos);
      break;
    }
    NodeHeader* parent = path[level - 1].node;
    const unsigned pi = path[level - 1].idx;
    const unsigned z_height = std::max(height_of(l), height_of(rr)) + 1;
    if (z_height < parent->height) {
      // Intermediate node: the halves under a new node that fits below the parent's height.
      top = two(l, rr, root_pos);
      in_place_slot = detail::hot::children<Ref>(parent) + pi;
      break;
    }
    // Parent pull-up: the root BiNode moves into the parent, which gets both halves.
    detail::hot::decode(parent, cur);
    cur.child[pi] = l;
    detail::hot::insert_entry(cur, pi, pi, root_pos, true, rr);
    --level;
  }

  // Commit: nothing below allocates.
  Ref* slot = in_place_slot;
  if (slot == nullptr)
    slot = level == 0 ? &root_ : detail::hot::children<Ref>(path[level - 1].node) + path[level - 1].idx;
  *slot = top;
  fresh.commit();
  for (std::size_t d = level; d <= spot.level; ++d) free_node(path[d].ref);
  added = leaf;
  ++size_;
  return true;
}

template <class V, class Store>
bool BasicHotArt<V, Store>::erase(std::string_view key) {
  if (!root_) return false;
  typename Index::Key q;
  if (index_.usable()) {
    index_.make_key(key, code_.get(), q);
    if (index_.find(store_, code_.get(), q) == nullptr) return false;
  }
  Path path;
  Ref r = root_;
  while (r.is_inner()) {
    NodeHeader* h = store_.node(r);
    const unsigned i = detail::hot::match(h, detail::hot::extract(h, key));
    path.push({h, i, r});
    r = detail::hot::children<Ref>(h)[i];
  }
  if (!r || !leaf_is(store_.leaf(r), key)) return false;
  if (path.size() == 0) {
    root_ = Ref{};
  } else {
    const std::size_t level = path.size() - 1;
    NodeHeader* h = path[level].node;
    const unsigned i = path[level].idx;
    Ref* slot = level == 0 ? &root_ : detail::hot::children<Ref>(path[level - 1].node) + path[level - 1].idx;
    if (h->count == 2) {
      *slot = detail::hot::children<Ref>(h)[1 - i];  // the sibling takes the node's place
      free_node(path[level].ref);
    } else {
      Decoded d;
      detail::hot::decode(h, d);
      detail::hot::remove_entry(d, i);
      Ref n{};
      try {
        n = new_node(d);
      } catch (...) {
        n = Ref{};
      }
      if (n) {
        *slot = n;
        free_node(path[level].ref);
      } else {
        // No memory for a smaller node: rewrite this one in its old shape.
        const Shape s = detail::hot::shape_of(h);
        assert(detail::hot::shape_holds(s, d));
        // (It keeps its height, which is at least its children's: also its zone, see zone_of.)
        detail::hot::encode(d, s, h, std::max<unsigned>(h->height, node_height(d)));
      }
    }
  }
  if (index_.usable()) index_.remove(store_, code_.get(), q.h, Index::id_of(r));
  free_leaf(r);
  if (--size_ == 0) {
    forget_code();
    index_.reset();
  }
  return true;
}

// Learns the key code from the keys held (all stored as they are) and rewrites the leaves whose
// key it makes shorter: all new leaves are made before the tree changes, so if any allocation or
// copy of a value fails the map stays as it was (and tries again at twice the size).
template <class V, class Store>
void BasicHotArt<V, Store>::learn_code() noexcept {
  if constexpr (!std::is_copy_constructible_v<V>) {
    code_.never();  // values that cannot be copied stay where they are
  } else {
    std::vector<std::pair<Ref*, Ref>> fresh;  // slot, its new leaf
    try {
      std::array<std::uint64_t, 256> freq{};
      std::vector<Ref*> slots{&root_};
      std::vector<Ref*> leaves;
      while (!slots.empty()) {
        Ref* slot = slots.back();
        slots.pop_back();
        if (slot->is_leaf()) {
          leaves.push_back(slot);
          unsigned flags = 0;
          detail::art::count_key_bytes(freq, Leaf::stored(store_.leaf(*slot), flags));
          continue;
        }
        NodeHeader* h = store_.node(*slot);
        Ref* c = detail::hot::children<Ref>(h);
        for (unsigned j = 0; j < h->count; ++j) slots.push_back(c + j);
      }
      std::shared_ptr<const KeyCode> code = KeyCode::learn(freq);
      fresh.reserve(leaves.size());
      for (Ref* slot : leaves) {
        const LeafTag* l = store_.leaf(*slot);
        unsigned flags = 0;
        const std::string_view key = Leaf::stored(l, flags);
        if (key.size() <= 1 || code->coded_bytes(key) >= key.size()) continue;
        V value(Leaf::value(l));
        fresh.emplace_back(slot, alloc_leaf(key, value, code.get()));
      }
      for (auto& [slot, leaf] : fresh) {
        const Ref old = std::exchange(*slot, leaf);
        free_leaf(old);
      }
      code_.set(std::move(code));
      index_build();  // the coded leaves are new ones, and their keys hash differently
    } catch (...) {
      for (auto& f : fresh) free_leaf(f.second);
      code_.retry_at(size_ * 2);
    }
  }
}

template <class V, class Store>
auto BasicHotArt<V, Store>::lower_bound(std::string_view key) const -> const_iterator {
  const_iterator it(&store_, code_.get());
  if (!root_) return it;
  Ref r = root_;
  while (r.is_inner()) {
    const NodeHeader* h = store_.node(r);
    const unsigned i = detail::hot::match(h, detail::hot::extract(h, key));
    it.stack_.push_back({h, i});
    r = detail::hot::children<Ref>(h)[i];
  }
  // The cursor decodes a coded key once: the answer is often this leaf, and if not, the
  // answer's decoding resumes from it.
  it.at_.set(store_.leaf(r));
  const std::string_view found = it.at_.key();
  if (found == key) return it;
  const std::uint64_t m = detail::hot::mismatch_bit(key, found);
  const bool right = detail::hot::key_bit(key, m) != 0;
  if (it.stack_.empty()) {  // a single leaf
    if (right) it.at_.reset();
    return it;
  }
  // The key sits beside the subtree that the BiNode at m would split off: before it or after it.
  const Spot spot = locate(it.stack_.size(), [&](std::size_t d) -> auto& { return it.stack_[d]; }, m);
  it.stack_.resize(spot.level + 1);
  auto& f = it.stack_.back();
  if (right) {
    f.idx = spot.b;
    it.advance();
  } else {
    f.idx = spot.a;
    it.descend(detail::hot::children<Ref>(f.node)[spot.a]);
  }
  return it;
}

template <class V, class Store>
auto BasicHotArt<V, Store>::clone(const Store& from, Ref src) -> Ref {
  if (!src) return Ref{};
  if (src.is_leaf()) return clone_leaf(from.leaf(src));
  auto copy_node = [&](const NodeHeader* f, NodeHeader*& to) {
    const std::size_t bytes = detail::hot::node_bytes<Ref>(f);
    const Ref r = store_.new_node(bytes, to, zone_of(f->height));
    std::memcpy(static_cast<void*>(to), f, bytes);
    // Children are filled in as they are copied, so a partial copy is always destroyable.
    std::fill_n(detail::hot::children<Ref>(to), to->cap, Ref{});
    return r;
  };
  struct Work {
    const NodeHeader* from;
    NodeHeader* to;
  };
  NodeHeader* top = nullptr;
  const Ref result = copy_node(from.node(src), top);
  std::vector<Work> work;
  try {
    work.push_back({from.node(src), top});
    while (!work.empty()) {
      const Work w = work.back();
      work.pop_back();
      const Ref* f = detail::hot::children<Ref>(w.from);
      Ref* to = detail::hot::children<Ref>(w.to);
      for (unsigned j = 0; j < w.from->count; ++j) {
        if (f[j].is_leaf()) {
          to[j] = clone_leaf(from.leaf(f[j]));
        } else {
          NodeHeader* n = nullptr;
          to[j] = copy_node(from.node(f[j]), n);
          work.push_back({from.node(f[j]), n});
        }
      }
    }
  } catch (...) {
    destroy(result);
    throw;
  }
  return result;
}

// Frees a whole subtree without allocating: a node being taken apart keeps its parent in child
// slot 0 (whose entry is handled first) and its cursor over the other children in `base`.
// kFree = false: only the leaves' values are destroyed, nothing is freed (the store then drops
// every block at once).
template <class V, class Store>
template <bool kFree>
void BasicHotArt<V, Store>::destroy(Ref r) noexcept {
  Ref pending = r;
  Ref cur{};  // the node being taken apart
  for (;;) {
    if (pending) {
      if (pending.is_leaf()) {
        detail::art::drop_leaf<kFree, V, Store, Leaf>(store_, pending);
        pending = Ref{};
      } else {
        NodeHeader* n = store_.node(pending);
        Ref* c = detail::hot::children<Ref>(n);
        const Ref first = c[0];
        c[0] = cur;
        n->base = n->count;
        cur = pending;
        pending = first;
      }
      continue;
    }
    if (!cur) return;
    NodeHeader* n = store_.node(cur);
    Ref* c = detail::hot::children<Ref>(n);
    if (n->base > 1) {
      pending = c[--n->base];
      continue;
    }
    const Ref up = c[0];
    if constexpr (kFree) free_node(cur);
    cur = up;
  }
}

template <class V, class Store>
auto BasicHotArt<V, Store>::stats() const -> stats_type {
  stats_type s;
  if (!root_) return s;
  if (root_.is_inner()) s.root_height = store_.node(root_)->height;
  std::vector<std::pair<Ref, std::size_t>> stack{{root_, 0}};
  while (!stack.empty()) {
    auto [r, d] = stack.back();
    stack.pop_back();
    s.max_depth = std::max(s.max_depth, d);
    if (r.is_leaf()) {
      ++s.leaves;
      s.leaf_depth_sum += d;
      continue;
    }
    const NodeHeader* h = store_.node(r);
    ++s.nodes;
    ++(detail::hot::is_multi(h) ? s.multi_mask : s.single_mask);
    if (detail::hot::wide_units(h)) ++s.wide_units;
    ++(detail::hot::width_code(h) == 0 ? s.pk8 : detail::hot::width_code(h) == 1 ? s.pk16 : s.pk32);
    s.entries += h->count;
    s.node_bytes += detail::hot::node_bytes<Ref>(h);
    for (unsigned j = 0; j < h->count; ++j) stack.push_back({detail::hot::children<Ref>(h)[j], d + 1});
  }
  return s;
}

template <class V, class Store>
void BasicHotArt<V, Store>::check_invariants() const {
  auto fail = [](const std::string& what) { detail::throw_error("HotArt invariant: " + what); };
  if (!root_) {
    if (size_ != 0) fail("empty tree with size " + std::to_string(size_));
    return;
  }
  struct Item {
    Ref r;
    std::uint64_t above;  // positions on the path so far are < this... (0: none)
    bool any;
  };
  std::vector<Item> stack{{root_, 0, false}};
  std::uint64_t pos[detail::hot::kMaxFanout];
  while (!stack.empty()) {
    const Item it = stack.back();
    stack.pop_back();
    if (it.r.is_leaf()) continue;
    const NodeHeader* h = store_.node(it.r);
    if ((h->layout & ~std::uint8_t{15}) != 0 || detail::hot::width_code(h) > 2 ||
        (detail::hot::wide_units(h) && !detail::hot::is_multi(h)))
      fail("bad layout byte");
    if (h->count < 2 || h->count > h->cap || h->cap > detail::hot::kMaxFanout) fail("bad entry count");
    const unsigned k = detail::hot::node_positions(h, pos);
    if (k == 0 || k > 31) fail("bad number of positions");
    if (pos[0] / detail::hot::kUnitBits != h->base) fail("base is not the first unit");
    if (k > h->count - 1u) fail("more positions than BiNodes");
    const unsigned need = k <= 8 ? 0 : k <= 16 ? 1 : 2;
    if (detail::hot::width_code(h) < need) fail("partial keys too narrow");
    for (unsigned t = 0; t < k; ++t)
      if (t > 0 && pos[t] <= pos[t - 1]) fail("positions not ascending");
    if (it.any && pos[0] <= it.above) fail("a child node's position is not below its parent's path");
    if (detail::hot::is_multi(h)) {
      const auto* mh = detail::hot::multi_header(h);
      if (mh->units == 0 || mh->units > mh->ucap) fail("bad unit count");
      for (unsigned u = 0; u < mh->units; ++u) {
        if (detail::hot::multi_masks(h)[u] == 0 || detail::hot::multi_masks(h)[u] > 0x1ff) fail("bad unit mask");
        if (u > 0 && detail::hot::multi_unit(h, u) <= detail::hot::multi_unit(h, u - 1)) fail("units not ascending");
      }
    } else if ((detail::hot::single_mask(h) >> 63) != 0) {
      fail("single mask beyond the window");
    }
    std::uint32_t used = 0;
    const std::uint32_t limit = k == 32 ? ~0u : (1u << k) - 1u;
    if (detail::hot::partial_key(h, 0) != 0) fail("first partial key not zero");
    unsigned max_child_height = 0;
    for (unsigned j = 0; j < h->count; ++j) {
      const std::uint32_t pk = detail::hot::partial_key(h, j);
      if (pk > limit) fail("partial key has bits beyond the node's positions");
      if (j > 0 && pk <= detail::hot::partial_key(h, j - 1)) fail("partial keys not ascending");
      used |= pk;
      const Ref c = detail::hot::children<Ref>(h)[j];
      if (!c) fail("empty child slot");
      max_child_height = std::max(max_child_height, height_of(c));
      // The deepest position on entry j's path: where it parts from its nearest neighbour.
      unsigned deepest = 0;
      auto part = [&](std::uint32_t a, std::uint32_t b) {
        const unsigned bit = static_cast<unsigned>(std::bit_width(a ^ b) - 1);  // from the low end
        deepest = std::max(deepest, k - 1 - bit);
      };
      if (j > 0) part(detail::hot::partial_key(h, j - 1), pk);
      if (j + 1 < h->count) part(pk, detail::hot::partial_key(h, j + 1));
      stack.push_back({c, pos[deepest], true});
    }
    if (used != limit) fail("a position no entry branches on");
    if (h->height < std::min(max_child_height + 1, 255u)) fail("node height below its children's");
  }
  // Every leaf is reached by its own key, and the leaves are in strictly increasing key order.
  std::size_t leaves = 0;
  std::string last;  // a copy: a coded key is decoded into the iterator, which moves on
  for (auto it = begin(); it != end(); ++it) {
    const std::string_view k = (*it).key;
    if (leaves > 0 && !(std::string_view(last) < k)) fail("keys out of order at leaf " + std::to_string(leaves));
    if (find_leaf_in_trie(k) != it.at_.leaf()) fail("a leaf its own key does not reach");
    if (find_leaf(k) != it.at_.leaf()) fail("a leaf the point index does not find by its key");
    if (code_.get() == nullptr && it.at_.coded()) fail("a coded key in a map without a code");
    last.assign(k);
    ++leaves;
  }
  if (leaves != size_) fail("size " + std::to_string(size_) + " but " + std::to_string(leaves) + " leaves");
  if (index_.usable())
    index_.check(store_, code_.get(), size_, [this](std::string_view k) { return find_leaf_in_trie(k); });
}

// HotArt<V, Alloc>: see the comment at the top of this file. Every node and leaf is a block from
// the allocator policy, child references are 64-bit tagged pointers. `HotArt<>` is
// `HotArt<std::uint64_t, SlabAllocator>`; construct with a policy object as `HotArt<V, A> m(a)`.
template <class V = std::uint64_t, class Alloc = SlabAllocator>
using HotArt = BasicHotArt<V, detail::art::PointerStore<Alloc, detail::hot::NodeHeader>>;

// ArenaHotArt<V>: the same trie with every node and leaf in a ChunkArena (memkv/core/arena.hpp)
// and 32-bit child references: 4 bytes less per entry, ~16 GiB of nodes and leaves at most.
template <class V = std::uint64_t>
using ArenaHotArt = BasicHotArt<V, detail::art::BasicArenaStore<detail::hot::NodeHeader>>;

}  // namespace memkv
