// memkv/arena_art.hpp - ArenaArt<V>: FastArt's adaptive radix tree with every node and leaf in an
// arena, addressed by 32-bit references instead of 64-bit pointers.
//
// The tree, its algorithms and its guarantees are FastArt's (memkv/fast_art.hpp; one engine,
// memkv/detail/art_engine.hpp). What changes is the memory model:
//
//   struct ArenaRef { uint32_t bits; };       // bit 0: leaf; bits 1..31: arena address =
//                                             //   chunk (14 bits) << 17 | 8-byte unit (17 bits)
//   Node4   { header; uint8_t key[4];  ArenaRef child[cap]; }   // 16 + 4*cap (cap 1..4)
//   Node16  { header; uint8_t key[16]; ArenaRef child[cap]; }   // 28 + 4*cap (cap 5..16)
//   Node48  { header; uint8_t index[256]; ArenaRef child[48]; } // 460
//   Node256 { header; ArenaRef child[256]; }                    // 1036
//                                             // (header: FastArt's, 12 bytes)
//   [ArenaRef end]                            // the end slot, as in FastArt (4 bytes here)
//   Leaf<V> { V value; LEB128 (n << 1 | coded); char bytes[n]; }  // as in FastArt
//
// Keys are stored coded by default (FastArt's art_options::code_sample_keys, 4096 here: once the
// map holds 4096 keys it learns a Huffman code of their bytes and stores every key the code
// shortens in coded form; memkv::ArenaArt<V> m(memkv::art_options{0}) keeps them raw). On
// npm-urls that takes the map from 29.6 to 12.2 B/key beyond the raw keys, for lookups ~14%
// slower and scans ~2.4x slower (scratch program, both in one process; see fast_art.hpp). In
// bench/results/npm-urls.md (2026-12-02 12:16 UTC, medians of 3): 12.2 B/key, lookups 2.09x and
// inserts 1.70x std::map (29.6, 2.01x and 2.28x at 10:40 UTC with raw keys).
//
// Every block is carved from the map's ChunkArena (memkv/core/arena.hpp): chunks from 4 KiB to
// 1 MiB, no per-block malloc header, blocks rounded to 8 bytes, freed blocks on free lists of their
// exact size and reused first; blocks of 2-64 KiB (leaves of long keys) share the chunks too, in
// size classes 12.5% apart; blocks over 64 KiB get a chunk of their own.
// memory_usage() counts the chunks as malloc gave them, free blocks and unused tails included.
// Once the arena holds 16 MiB, its 1 MiB chunks come from 2 MiB regions on transparent huge pages
// (memkv/core/huge_pages.hpp), counted whole: fewer TLB misses for at most one partly used region.
//
// Placement: the inner nodes are carved from chunks of their own (the arena's zone 1), the
// leaves from the others, so the nodes a descent reads (15.7 MB of them on npm-urls, against
// ~80 MB of leaves) sit densely on their own pages and cache lines instead of among the leaves.
// Measured 2026-12-04 (scratch program, npm-urls, 1.69M shuffled inserts then every key looked
// up in another order, CPU time, 3 alternating pairs of processes, 2 rounds each): insert
// 1324-1555 -> 1217-1438 ns a key (medians 1483 -> 1373), get 1277-1607 -> 1238-1371 (medians
// 1458 -> 1321); memory the same (95.44 MB). memkv-compare, old and new builds in alternation,
// 2 runs each (bench/results/npm-urls-ab-2026-12-04.md): inserts 2.13x/2.11x -> 2.55x/2.53x
// std::map, lookups 1.67x/1.60x -> 1.90x/1.92x, 12.2 B/key both. With the point index, npm-urls
// now ends at another point of the table's growth cycle: 17.2 -> 18.4 B/key.
//
// Memory given back: erased entries' blocks are reused by later inserts; a chunk none of whose
// blocks is in use any more goes back to malloc (or to its huge-page region, unmapped once both
// its chunks are back) once such chunks make up 1/8 of the arena and enough to pay for the sweep
// that finds them (ChunkArena's sweeps,
// memkv/core/arena.hpp, "Memory given back"); the whole arena is released when the map becomes
// empty (so erasing every key returns memory_usage() to the empty map's); compact() rewrites the
// map densely into a fresh arena after heavy, scattered erasure, which leaves every chunk partly
// used. Measured 2026-12-04 (scratch program, npm-urls, 1.69M shuffled inserts, then the first
// 90% of them erased in insertion order, 3 alternating pairs of processes, CPU time): 95.4 MB
// after the load, then 45.1 MB after the erasures (95.4 MB before sweeps existed; 10.5 MB after
// compact()); erase medians 1240 -> 1315 ns a key (the sweeps' walks of the free lists).
// Destruction and clear() drop the whole arena at once (ChunkArena::clear), after a walk of the
// tree only when V has a destructor to run: O(chunks) for ArenaArt<> instead of a free per node
// and leaf (with sweeps as the chunks emptied). Scratch program, npm-urls, 1.69M keys: destroying
// the map took 0.61-0.67 s CPU before (a quarter of its load time), 0.001 s after (2026-12-04).
//
// Limits: an arena addresses 2^14 - 1 chunks of 1 MiB, about 16 GiB of nodes, leaves and keys
// (roughly 300 million 45-byte URLs coded, 230 million raw), of which at most ~16,000 leaves
// over 64 KiB (each takes a chunk); an insert beyond that throws memkv::error and changes
// nothing. Keys up to 2^32 - 1 bytes; alignof(V) <= 8.
//
// Batches: get_many(keys, out), find_many and insert_many(keys, values) as FastArt's
// (memkv/fast_art.hpp, "Complexity"): on npm-urls, insert_many loads ArenaArt at 1.40 M keys/s
// against insert()'s 0.81 (3.77x and 2.19x std::map's inserts in the same run).
//
// Point index: memkv::ArenaArt<V> m(memkv::art_options{4096, true}) keeps a hash index of the
// leaves beside the tree, in 32-bit slots (see "Point index" in memkv/fast_art.hpp). On npm-urls
// (2026-12-03 11:49 UTC, medians of 3): 12.2 -> 17.2 B/key, lookups 1.83x -> 4.97x std::map,
// inserts 2.25x -> 1.19x; with the table rebuilt to a load of 0.6 (15:32 UTC,
// bench/results/npm-urls-refill-2026-12-03.md): lookups 1.57x -> 4.63x, inserts 1.98x -> 1.26x,
// mixed life 1.99x -> 1.76x.
//
// Guarantees: as FastArt (strong guarantee for insert; iterators invalidated by every
// modification; find() pointers stable until the key is erased, the map cleared, assigned or
// compacted: chunks never move).
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "core/arena.hpp"
#include "detail/art_engine.hpp"

namespace memkv {

namespace detail::art {

class ArenaRef {
public:
  constexpr ArenaRef() noexcept = default;
  static ArenaRef inner(std::uint32_t address) noexcept { return ArenaRef(address << 1); }
  static ArenaRef leaf(std::uint32_t address) noexcept { return ArenaRef((address << 1) | 1u); }
  bool is_leaf() const noexcept { return (bits_ & 1u) != 0; }
  bool is_inner() const noexcept { return bits_ != 0 && (bits_ & 1u) == 0; }
  explicit operator bool() const noexcept { return bits_ != 0; }
  std::uint32_t address() const noexcept { return bits_ >> 1; }
  friend bool operator==(ArenaRef a, ArenaRef b) noexcept { return a.bits_ == b.bits_; }

private:
  explicit ArenaRef(std::uint32_t bits) noexcept : bits_(bits) {}
  std::uint32_t bits_ = 0;
};
static_assert(sizeof(ArenaRef) == 4, "an arena reference is 32 bits");

// ArenaArt's memory model: the tree's blocks live in one ChunkArena per map. Node is the tree's
// node header type (ART's NodeHeader; ArenaHotArt uses the same store with HotArt's header).
template <class Node = NodeHeader>
class BasicArenaStore {
public:
  using Ref = ArenaRef;

  Node* node(Ref r) const noexcept { return reinterpret_cast<Node*>(arena_.at(r.address())); }
  LeafTag* leaf(Ref r) const noexcept { return reinterpret_cast<LeafTag*>(arena_.at(r.address())); }
  // zone: a placement hint (ChunkArena's zones). ArenaArt's inner nodes all go to zone 1, apart
  // from the leaves (see "Placement" at the top of this file); ArenaHotArt passes its own (its
  // upper nodes in zone 1).
  static constexpr unsigned kNodeZone = std::is_same_v<Node, NodeHeader> ? 1 : 0;
  Ref new_node(std::size_t bytes, Node*& at, unsigned zone = kNodeZone) {
    const std::uint32_t a = arena_.allocate(bytes, zone);
    at = reinterpret_cast<Node*>(arena_.at(a));
    return Ref::inner(a);
  }
  Ref new_leaf(std::size_t bytes, LeafTag*& at) {
    const std::uint32_t a = arena_.allocate(bytes);
    at = reinterpret_cast<LeafTag*>(arena_.at(a));
    return Ref::leaf(a);
  }
  void delete_node(Ref r, std::size_t bytes, unsigned zone = kNodeZone) noexcept {
    arena_.deallocate(r.address(), bytes, zone);
  }
  void delete_leaf(Ref r, std::size_t bytes) noexcept { arena_.deallocate(r.address(), bytes); }
  std::size_t bytes_in_use() const noexcept { return arena_.bytes_in_use(); }
  const ChunkArena& allocator() const noexcept { return arena_; }
  // Drops every node and leaf at once (the tree's destructor and clear(): see destroy_all).
  void release_all() noexcept { arena_.clear(); }

private:
  ChunkArena arena_;
};
using ArenaStore = BasicArenaStore<>;
// ArenaArt stores its keys coded once it holds 4096 of them (art_options).
template <>
inline constexpr std::size_t default_code_sample_keys<ArenaStore> = 4096;

}  // namespace detail::art

// ArenaArt<V>: see the comment at the top of this file. `ArenaArt<>` is ArenaArt<std::uint64_t>.
template <class V = std::uint64_t>
using ArenaArt = detail::art::Tree<V, detail::art::ArenaStore>;

}  // namespace memkv
