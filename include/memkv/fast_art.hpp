// memkv/fast_art.hpp - FastArt<V, Alloc>: an adaptive radix tree over arbitrary byte-string keys.
//
// The libart design (Leis et al., ICDE 2013), done for binary keys: four node sizes, path
// compression, lazy expansion, leaves holding their key inline, tagged child pointers.
//
// Layout (every inner node starts with a 12-byte header; all sizes in bytes):
//
//   struct NodeHeader {            // 12
//     NodeType      type;          // Node4 | Node16 | Node48 | Node256
//     uint8_t       flags;         // bit 0: an end slot follows the node body (see below);
//                                  // bits 1..5: child slots allocated (Node4/Node16)
//     uint16_t      count;         // children reached by a byte, 0..256
//     uint32_t      prefix_len;    // length of the compressed path above the children
//     uint8_t       prefix[4];     // its first min(prefix_len, 4) bytes; the rest is read from
//   };                             //   any leaf below (all leaves share the path: "optimistic")
//   Node4   { header; uint8_t key[4];         Ref child[cap]; }  // 16 + 8*cap (cap 1..4)
//   Node16  { header; uint8_t key[16]; pad[4]; Ref child[cap]; } // 32 + 8*cap (cap 5..16)
//                                  // keys sorted; Node16 searched with SIMD. Both are allocated
//                                  // with exactly as many child slots as children (cap in
//                                  // flags bits 1..5), grown and shrunk one slot at a time.
//   Node48  { header; uint8_t index[256]; pad[4]; Ref child[48]; }  // 656, index[b] = slot + 1 or 0
//   Node256 { header; pad[4];                 Ref child[256]; }  // 2064
//                                  // (4 stored path bytes, not 8: a Node4, the most common node,
//                                  // is 8 bytes smaller. A lookup checks the path bytes past the
//                                  // 4th at the leaf, where it compares the whole key anyway;
//                                  // inserts and lower_bound read them from a leaf below. On
//                                  // npm-urls that saved 3.8 B/key here, 3.1 in ArenaArt.)
//   [Ref end]                      // only when flags bit 0: the leaf whose key ends exactly at
//                                  // this node (a key that is a prefix of others). Nodes without
//                                  // such a key do not pay for the slot.
//   Ref = TaggedPtr: low bit 1 = leaf, else inner node, 0 = empty.
//
//   Leaf<V> { V value; LEB128 (n << 1 | coded); char bytes[n]; }  // one allocation per key;
//                                  // the length takes 1 byte below 64, 2 below 8192, ...;
//                                  // coded = 1: bytes is the key's coded form (below)
//
// Coded keys (art_options::code_sample_keys; off by default for FastArt, on for ArenaArt): once
// the tree holds that many keys it learns an order-0 Huffman code of their bytes
// (memkv/detail/key_code.hpp, shared with HotArt), rebuilds itself in fresh memory with every
// key that the code makes shorter stored coded, and stores such keys coded from then on. The
// trie is over the keys themselves (nodes, order, paths do not change); a lookup codes the
// search key 8 bytes a level while the nodes are fetched and compares bytes at the leaf; inserts,
// lower_bound and path bytes past the 4 stored ones decode a leaf's key; a scan decodes only the
// bytes a key does not share with the previous one. Measured on npm-urls (scratch program, the
// same keys in one process, CI running beside it): FastArt 35.2 -> 18.9 B/key, lookups 1.18x
// the time, scans ~2.5x; ArenaArt 29.6 -> 12.2 B/key, lookups 1.14x the time.
//
// No terminator byte is assumed: the empty key, keys holding '\0' or '\xff' and keys that are
// prefixes of other keys are all stored exactly. Keys are ordered bytewise unsigned.
//
// Complexity: find/insert/erase O(k) for a key of k bytes (independent of the number of keys);
// begin/lower_bound O(k + depth); iterator increment amortized O(1) per node visited; a
// prefix/range view costs two lower_bound descents.
// get_many(keys, out) (FastArt and ArenaArt): get() of each key, up to 16 descents at a time, one
// node of each in turn, each prefetching the next node's first two lines (or its leaf), so that
// the cache misses of different keys overlap. Scratch program, npm-urls (1,685,458 shuffled
// inserts, every key in another shuffled order, get() against get_many() in spans of 1,024, 3
// passes, 2026-12-03): FastArt 988-1054 -> 366-422 ns a key, ArenaArt 1067-1110 -> 575-596.
// memkv-micro (100,000 keys, mostly in cache) lookup_hit vs lookup_hit_many: fast-art 4.10 ->
// 5.61 M/s, arena-art 3.06 -> 3.06. find_many(keys, on_found): the same walk without copying
// values, on_found(i, find(keys[i])) once per key in the order the descents end.
// insert_many(keys, values) / insert_or_assign_many: insert() / insert_or_assign() of each pair
// in turn (the map ends as those calls leave it), 16 keys at a time: their descents, interleaved
// as get_many's, only bring each path's nodes and the leaf it ends at into the cache (with the
// point index, the key's bucket too); then the 16 inserts run one by one on warm nodes. A new
// key's insert is its descent's cache misses, so this overlaps most of its cost. memkv-compare,
// npm-urls, spans of 1,024 (bench/results/npm-urls-insert-many-2026-12-04.md, medians of 3,
// std::map 0.37 M inserts/s), insert -> insert_many, M keys/s: FastArt 0.93 -> 1.97 (5.31x
// std::map's insert), ArenaArt 0.81 -> 1.40 (3.77x), ArenaArt+index 0.48 -> 0.81 (2.19x: the
// index's growth rebuilds are not batched). memkv-micro insert vs insert_many (100,000 synthetic
// URLs, mostly in cache): fast-art 1.75 -> 2.62 M/s, arena-art 1.36 -> 1.81.
//
// Point index (art_options::point_index, off by default; FastArt and ArenaArt): HotArt's hash
// index of the leaves (memkv/detail/point_index.hpp, with the glue in detail::art::LeafIndex,
// one implementation for both engines; the layout, costs and failure handling are described
// under "Point index" in memkv/hot_art.hpp). find/get/contains read one 64-byte bucket and the
// key's leaf instead of descending the tree; get_many and find_many pipeline that over 8 + 8
// keys; insert and insert_or_assign look the key up there first (a key held is assigned without
// the tree), erase asks it first (an absent key costs no descent); iteration, lower_bound,
// prefix and range use the tree. Slots are 32-bit for ArenaArt up to a 512 MiB arena (4.4-6.7
// bytes a key), 64-bit with FastArt's pointers (8.9-13.3). The index is rebuilt from the leaves
// when it grows or shrinks, once the key code is learnt, in copies and by compact(); if a table
// cannot be allocated it is dropped (point_index_active() false, the tree answers) until clear(),
// emptying the map, a copy or compact() builds it again. memory_usage() counts it
// (point_index_bytes()). Measured (memkv-compare --dataset npm-urls --structures
// std-map,arena-art,arena-art-ix,arena-hot-art-ix --repeat 3 --no-life, 2026-12-03 11:49 UTC,
// medians of 3; std::map 0.39 M inserts/s, 0.43 M lookups/s): ArenaArt 12.2 -> 17.2 B/key,
// lookups 0.78 -> 2.13 M/s (1.83x -> 4.97x std::map), misses 1.26 -> 3.63, get_many 1.87 ->
// 5.61, inserts 0.88 -> 0.46 M/s (2.25x -> 1.19x): an insert still descends the tree, and the
// index's growth rebuilds (each key decoded first, ~230 ns) cost about as much again. Since
// 2026-12-03 15:30 UTC the table is rebuilt to a load of 0.6 rather than HotArt's 0.7, so a
// growing map rehashes 3.0 keys per key inserted instead of 4.5, for at most ~1 B/key more at
// the worst point of the cycle (6.7 instead of 5.7 B/key of index; at npm-urls' size the 2 MiB
// rounding gives both the same 8.4 MB table). Scratch program (ArenaArt+index, npm-urls
// shuffled, built in alternation): 1822-2140 -> 1507-1745 ns an insert. bench/results/
// npm-urls-refill-2026-12-03.md (15:32 UTC, std::map 0.42 M inserts/s): inserts 1.26x (1.02x in
// the 12:27 table, std::map 0.47), lookups 4.63x, mixed life 1.76x (1.06x), 17.2 B/key.
//
// Guarantees:
//   - insert and insert_or_assign: strong guarantee; every allocation happens before the tree is
//     touched, so if one throws the map is unchanged. (An assignment that throws from V's move
//     assignment leaves the old value as V leaves it.)
//   - erase never throws except for V's destructor; when shrinking a node cannot get memory the
//     node simply stays larger.
//   - Iterators: every insert/insert_or_assign/erase/clear/assignment invalidates all iterators and
//     the key views of entries; find() pointers stay valid until that key is erased or the map is
//     cleared, destroyed or assigned (values never move: they live in their leaf), except across
//     the one insert that makes the tree learn its key code, which rebuilds the tree (if that
//     rebuild cannot allocate, the insert still succeeds and the tree learns at twice the size).
//   - const member functions may run concurrently; mutation needs exclusive access.
//   - Copy is deep (each copy has its own allocator pools); move and swap are noexcept.
//
// Memory: memory_usage() is the bytes_in_use() of the map's two pools (nodes, leaves with keys
// and values, chunk slack, free slots) plus sizeof(*this), plus the key code's tables (~17 KiB)
// once learnt. The two pools are two objects of the allocator policy: one for the leaves
// (allocator()), one for the inner nodes (node_allocator(); a copy of the policy passed in,
// i.e. a new, empty pool with its settings). With one pool, a Node16 (68-156 bytes) shared the
// SlabAllocator's size classes, and so its chunks and cache lines, with the leaves of URL-sized
// keys; apart, a descent reads nodes packed among nodes. Scratch program (npm-urls, 1.69M
// shuffled inserts into FastArt<>, then every key looked up in another order; CPU time; 7
// alternating pairs of processes, 2026-12-04): insert median 1310 -> 1265 ns a key, get 1392 ->
// 1283, and faster in all 7 pairs for both; memory 136.28 -> 137.03 MB (+0.44 B/key: a second
// set of partly used chunks and huge-page region). HotArt (same store, 4 pairs): no change
// beyond the noise (insert medians 2285 -> 2222 ns, get 944 -> 922) and 0.47 MB less. The
// price for tiny maps: sizeof(FastArt<>) is 3,320 bytes (two SlabAllocators' size-class
// tables), 1,712 with one; a map of a few short keys holds one 4 KiB chunk per size class used,
// as before (nodes and leaves rarely share a class at that size).
// Erased leaves and nodes are returned to their pool; the SlabAllocator reuses them and gives a
// size class's chunks back to malloc when the class empties, so erasing every key returns the
// map to its empty footprint. Heap memory that a
// value owns itself (a long std::string's buffer) is the value's, not the map's: not counted.
// Once a SlabAllocator pool holds 16 MiB its 64 KiB chunks come from 2 MiB regions on
// transparent huge pages (memkv/core/huge_pages.hpp; memkv::set_huge_pages to change or turn
// off): lookups in a big tree then miss the TLB far less often, for at most one partly used
// region (< 2 MiB) per pool more memory, counted by memory_usage().
//
// compact() rewrites the tree into fresh memory densely (a deep copy swapped in).
//
// Limits: keys up to 2^32 - 1 bytes (longer ones throw memkv::error); alignof(V) <= 8.
//
// The engine (memkv/detail/art_engine.hpp) is shared with ArenaArt; FastArt is that tree over
// PointerStore<Alloc>, which takes every node and leaf from the allocator policy (two pools).
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>

#include "core/allocator.hpp"
#include "core/tagged_ptr.hpp"
#include "detail/art_engine.hpp"

namespace memkv {

namespace detail::art {

// FastArt's memory model: every node and leaf is its own block from the allocator policy (inner
// nodes from one pool, leaves from another: see "Memory" above), and a child reference is a
// 64-bit tagged pointer (low bit = leaf). Node is the tree's node header
// type (ART's NodeHeader here; HotArt uses the same store with its own compound-node header).
template <class Alloc, class Node = NodeHeader>
class PointerStore {
public:
  using Ref = TaggedPtr<Node, LeafTag>;
  static_assert(sizeof(Ref) == 8);

  PointerStore() noexcept(std::is_nothrow_default_constructible_v<Alloc>) = default;
  explicit PointerStore(const Alloc& alloc) : alloc_(alloc), nodes_(alloc) {}
  PointerStore(const PointerStore& other) : alloc_(other.alloc_), nodes_(other.nodes_) {}  // new, empty pools
  PointerStore(PointerStore&&) noexcept = default;
  PointerStore& operator=(PointerStore&&) noexcept = default;
  PointerStore& operator=(const PointerStore&) = delete;

  Node* node(Ref r) const noexcept { return r.inner(); }
  LeafTag* leaf(Ref r) const noexcept { return r.leaf(); }
  Ref new_node(std::size_t bytes, Node*& at, unsigned /*zone: a placement hint, unused here*/ = 0) {
    at = static_cast<Node*>(nodes_.allocate(bytes));
    return Ref::from_inner(at);
  }
  Ref new_leaf(std::size_t bytes, LeafTag*& at) {
    at = static_cast<LeafTag*>(alloc_.allocate(bytes));
    return Ref::from_leaf(at);
  }
  void delete_node(Ref r, std::size_t bytes, unsigned = 0) noexcept { nodes_.deallocate(r.inner(), bytes); }
  void delete_leaf(Ref r, std::size_t bytes) noexcept { alloc_.deallocate(r.leaf(), bytes); }
  std::size_t bytes_in_use() const noexcept { return alloc_.bytes_in_use() + nodes_.bytes_in_use(); }
  const Alloc& allocator() const noexcept { return alloc_; }          // the leaves' pool
  const Alloc& node_allocator() const noexcept { return nodes_; }     // the inner nodes' pool

private:
  Alloc alloc_{};  // leaves
  Alloc nodes_{};  // inner nodes: packed among themselves, not scattered among the leaves
};

}  // namespace detail::art

// FastArt<V, Alloc>: see the comment at the top of this file. `FastArt<>` is
// `FastArt<std::uint64_t, SlabAllocator>`. The tree is memkv::detail::art::Tree, shared with
// ArenaArt; construct with an allocator policy object as `FastArt<V, A> m(policy)`.
template <class V = std::uint64_t, class Alloc = SlabAllocator>
using FastArt = detail::art::Tree<V, detail::art::PointerStore<Alloc>>;

}  // namespace memkv
