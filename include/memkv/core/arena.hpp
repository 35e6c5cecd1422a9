// memkv/core/arena.hpp - ChunkArena: blocks addressed by 32-bit references instead of pointers.
//
// A map of a billion keys holds billions of child references; at 4 bytes instead of 8 each, and
// with no malloc header per block, an arena halves that part of the map. ChunkArena hands out
// blocks of any size addressed by a 31-bit "address":
//
//   address = chunk index (14 bits) << 17 | offset in 8-byte units (17 bits)
//   pointer = chunks_[address >> 17] + (address & 0x1ffff) * 8
//
//   struct ChunkArena {
//     std::vector<std::byte*> chunks_;      // chunk i's memory (index 0 is never used, so the
//                                           //   address 0 never names a block); nullptr = free
//     std::vector<std::size_t> chunk_bytes_;// what malloc gave for each chunk (accounting), or
//                                           //   1 + the huge-page pool of a chunk from one
//     std::vector<std::uint32_t> live_units_;// per chunk: 8-byte units of its blocks in use
//     std::vector<std::uint32_t> spare_;    // indices of released chunks, for reuse
//     struct Zone {                         // blocks of one placement zone (below)
//       std::uint32_t free[257];            //   per size (in units, up to 2 KiB): a free list
//                                           //   threaded through the freed blocks themselves
//       std::uint32_t medium_free[40];      //   per medium size class (2 KiB to 64 KiB)
//       cur, bump, bump_end;                //   the chunk being carved, in units
//     } zones_[3];                         // zones 0 and 1, and the medium blocks' own
//     std::size_t empty_bytes_, free_blocks_; // chunks with no block in use; blocks on free lists
//     HugeChunks huge_[3];                  // a huge-page chunk pool per zone (below)
//   };
//
// Blocks of up to 2 KiB are carved from chunks that start at 4 KiB and double up to 1 MiB, and
// come back on a free list of their exact size (8-byte granules) for reuse. Medium blocks (over
// 2 KiB, up to 64 KiB: leaves of long keys) are carved the same way from chunks of their own (so
// that they do not spread the small nodes apart), their size rounded up to one of 8 classes per
// doubling (at most 12.5% more), a free list per class. Larger blocks get a chunk of their own,
// released when the block is freed. (Until 2026-12-03 every block over 2 KiB had its own chunk,
// so 16,383 keys over 2 KiB, ~35 MB, exhausted an arena.) Once the arena holds 16 MiB, its 1 MiB
// chunks come from 2 MiB regions on transparent huge pages (memkv/core/huge_pages.hpp), counted
// whole; each zone has its own pool of regions, so that a region's two chunks hold one kind of
// block (a tree's leaves, or its nodes) and tend to empty together.
//
// Memory given back. When the last block is freed the whole arena is given back (memory_usage
// returns to zero). In between, a freed block goes on a free list for reuse, and each chunk counts
// the units of its blocks in use: a chunk whose count drops to zero (and that is not being carved)
// is empty. Once the empty chunks hold at least kSweepMinBytes (16 KiB), 1/8 of bytes_in_use()
// and 16 bytes for each block on the free lists, deallocate() sweeps: it walks every free list
// (16 at a time, interleaved, so that their cache misses overlap), takes the empty chunks'
// blocks off them, and gives the chunks back (to malloc, or to their huge-page pool, which
// unmaps a region once both its chunks are back). A sweep reads each free block once and gives
// back at least 16 bytes for each, so its cost is paid for by what it returns. Erasing keys in
// the order they were inserted (a FIFO cache, time-ordered keys) empties whole chunks and gives
// them back this way; erasing scattered keys leaves every chunk partly used: compact() is for
// that. Measured (scratch program, npm-urls, 1.69M shuffled inserts into ArenaArt with raw keys,
// 124.8 MB, then the first 90% of them erased in insertion order): 124.8 MB before, 44.0 MB
// after (what the leaves' chunks held went back; the inner nodes' chunks stay mostly in use),
// 13.6 MB after compact(). clear() gives every chunk back at once, for an owner dropping all it
// holds (the arena maps' destructors and clear()): no free per block, and no sweeps.
//
// Zones: a caller may place blocks in zone 1 instead of zone 0, and then they are carved from
// chunks of their own. ArenaHotArt puts its upper nodes there (those above the bottom level:
// ~0.5% of its blocks), so that a lookup's first levels sit on a few hundred pages that stay in
// the TLB and the caches, instead of one 4 KiB page each among the leaves; ArenaArt puts all its
// inner nodes there (memkv/arena_art.hpp, "Placement"). A free list per zone: a block freed into
// the wrong zone is merely reused there.
//
// Limits: 2^14 - 1 chunks of up to 1 MiB of small and medium blocks, one chunk per large block
// among them: about 16 GiB of blocks per arena, of which at most ~16,000 over 64 KiB (keys over
// 64 KiB: at least 1 GiB of them). Past that, allocate throws memkv::error (never wraps around).
// A billion URL keys (~45 B) need about 60 GB: that takes 64-bit references (+4 bytes per edge)
// or several maps; the limit is stated, not silently exceeded.
#pragma once

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstddef>
#include <iterator>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "allocator.hpp"
#include "error.hpp"
#include "prefetch.hpp"

namespace memkv {

class ChunkArena {
public:
  static constexpr unsigned kUnitBytes = 8;
  static constexpr unsigned kOffsetBits = 17;
  static constexpr unsigned kChunkBits = 14;
  static constexpr std::uint32_t kOffsetMask = (std::uint32_t{1} << kOffsetBits) - 1;
  static constexpr std::size_t kMaxChunks = std::size_t{1} << kChunkBits;
  static constexpr std::size_t kChunkBytes = (std::size_t{1} << kOffsetBits) * kUnitBytes;
  static constexpr std::size_t kFirstChunkBytes = 4096;
  static constexpr std::size_t kMaxSmall = 2048;
  static constexpr std::size_t kClasses = kMaxSmall / kUnitBytes + 1;
  // Medium blocks (over kMaxSmall, up to kMaxMedium) are carved from chunks too, their sizes
  // rounded up to one of 8 classes per doubling (at most 12.5% more), a free list per class.
  static constexpr std::size_t kMaxMedium = std::size_t{64} << 10;
  static constexpr std::size_t kMediumClasses = 40;  // 8 per doubling from 2 KiB to 64 KiB
  static constexpr std::uint32_t kNone = 0;  // address 0 is never a block (chunk 0 is unused)
  // deallocate() sweeps (gives back the chunks whose blocks are all free) once such chunks hold
  // at least kSweepMinBytes, 1/kSweepShare of bytes_in_use() and kSweepBytesPerFreeBlock for
  // each block on the free lists (a sweep walks them all: so it gives back at least that many
  // bytes for each block it reads).
  static constexpr std::size_t kSweepMinBytes = std::size_t{16} << 10;
  static constexpr std::size_t kSweepShare = 8;
  static constexpr std::size_t kSweepBytesPerFreeBlock = 16;

  ChunkArena() noexcept { reset_free_lists(); }
  ChunkArena(const ChunkArena&) noexcept : ChunkArena() {}  // a new, empty arena
  ChunkArena(ChunkArena&& o) noexcept : ChunkArena() { take(o); }
  ChunkArena& operator=(const ChunkArena&) = delete;
  ChunkArena& operator=(ChunkArena&& o) noexcept {
    if (this != &o) {
      release_all();
      take(o);
    }
    return *this;
  }
  ~ChunkArena() { release_all(); }

  std::byte* at(std::uint32_t address) const noexcept {
    return chunks_[address >> kOffsetBits] +
           static_cast<std::size_t>(address & kOffsetMask) * kUnitBytes;
  }

  static constexpr unsigned kZones = 2;

  // A block of `bytes` bytes, 8-aligned, in zone 0 or 1 (see "Zones" above). Throws
  // std::bad_alloc, or memkv::error when the arena's address space is exhausted.
  std::uint32_t allocate(std::size_t bytes, unsigned zone = 0) {
    assert(zone < kZones);
    if (bytes > kMaxMedium) return allocate_large(bytes);
    if (bytes > kMaxSmall) {
      // Medium blocks have chunks of their own (whatever the caller's zone), so that a few long
      // keys' leaves do not spread a tree's small nodes apart.
      const medium m = medium_of(bytes);
      Zone& mz = zones_[kMediumZone];
      return carve(mz, mz.medium_free[m.cls], m.units);
    }
    Zone& z = zones_[zone];
    const std::uint32_t units = units_of(bytes);
    return carve(z, z.free[units], units);
  }

  void deallocate(std::uint32_t address, std::size_t bytes, unsigned zone = 0) noexcept {
    const std::uint32_t chunk = address >> kOffsetBits;
    std::uint32_t units = 0;
    if (bytes > kMaxSmall && bytes <= kMaxMedium) {
      const medium m = medium_of(bytes);
      push_free(zones_[kMediumZone].medium_free[m.cls], address);
      units = m.units;
    } else if (bytes > kMaxSmall) {
      release_chunk(chunk);  // a large block's own chunk
    } else {
      assert(zone < kZones);
      units = units_of(bytes);
      push_free(zones_[zone].free[units], address);
    }
    if (--live_ == 0) {
      release_all();
      return;
    }
    if (units != 0) {
      assert(live_units_[chunk] >= units);
      if ((live_units_[chunk] -= units) == 0 && !is_carving(chunk)) {
        empty_bytes_ += carved_chunk_bytes(chunk);
        if (empty_bytes_ >= kSweepMinBytes && empty_bytes_ * kSweepShare >= bytes_in_use() &&
            empty_bytes_ >= free_blocks_ * kSweepBytesPerFreeBlock)
          sweep();
      }
    }
  }

  // Gives every block back at once, as if each had been deallocated: O(chunks), for an owner
  // that drops all it holds (a map's destructor or clear()) instead of freeing block by block
  // (which also sweeps, over and over, as the chunks empty). No block may be used afterwards.
  void clear() noexcept { release_all(); }

  // Everything held: chunks as malloc counts them, and the chunk tables.
  std::size_t bytes_in_use() const noexcept {
    std::size_t huge = 0;
    for (const detail::HugeChunks& h : huge_) huge += h.bytes();
    return bytes_ + huge + chunks_.capacity() * sizeof(std::byte*) +
           chunk_bytes_.capacity() * sizeof(std::size_t) +
           (live_units_.capacity() + spare_.capacity()) * sizeof(std::uint32_t);
  }
  std::size_t live_blocks() const noexcept { return live_; }
  // 2 MiB huge-page regions mapped (each counted whole in bytes_in_use()).
  std::size_t huge_regions() const noexcept {
    std::size_t n = 0;
    for (const detail::HugeChunks& h : huge_) n += h.regions();
    return n;
  }
  std::size_t chunk_count() const noexcept { return chunks_.size() - spare_.size() - (chunks_.empty() ? 0 : 1); }
  // Bytes of the chunks whose blocks are all free, not yet given back (see "Memory given back").
  std::size_t empty_chunk_bytes() const noexcept { return empty_bytes_; }
  // Gives back every chunk none of whose blocks is in use (deallocate does it on its own once
  // they hold 1/kSweepShare of the arena; see "Memory given back"). O(free blocks + chunks).
  void sweep() noexcept {
    // Mark the empty chunks, take their blocks off every free list, then give them back.
    bool any = false;
    for (std::uint32_t c = 1; c < chunks_.size(); ++c)
      if (chunks_[c] != nullptr && live_units_[c] == 0 && !is_carving(c)) {
        live_units_[c] = kReleasing;
        any = true;
      }
    if (any) {
      drop_releasing();
      for (std::uint32_t c = 1; c < chunks_.size(); ++c)
        if (live_units_[c] == kReleasing) release_chunk(c);
      for (detail::HugeChunks& h : huge_) h.release_free_regions();
    }
    empty_bytes_ = 0;
  }

private:
  struct Zone {
    std::uint32_t free[kClasses];
    std::uint32_t medium_free[kMediumClasses];
    std::uint32_t cur = 0, bump = 0, bump_end = 0;
    std::size_t next_chunk_bytes = kFirstChunkBytes;
  };

  static std::uint32_t units_of(std::size_t bytes) noexcept {
    return bytes == 0 ? 1u : static_cast<std::uint32_t>((bytes + kUnitBytes - 1) / kUnitBytes);
  }

  // A medium block's class and its size rounded up to the class, in units: 8 classes per
  // doubling, (256, 512] units in steps of 32, ..., (4096, 8192] in steps of 512.
  struct medium {
    std::uint32_t cls, units;
  };
  static medium medium_of(std::size_t bytes) noexcept {
    assert(bytes > kMaxSmall && bytes <= kMaxMedium);
    const std::uint32_t u = units_of(bytes);
    const unsigned bw = static_cast<unsigned>(std::bit_width(u - 1));  // 9..13
    const unsigned shift = bw - 4;
    const std::uint32_t steps = (u + (std::uint32_t{1} << shift) - 1) >> shift;  // 9..16
    return {(bw - 9) * 8 + (steps - 9), steps << shift};
  }

  // A block of `units` from zone z: the head of its free list `head` (one of z's), else carved
  // from z's chunk (a new one when the chunk has too little left).
  std::uint32_t carve(Zone& z, std::uint32_t& head, std::uint32_t units) {
    if (const std::uint32_t a = head; a != kNone) {
      std::memcpy(&head, at(a), sizeof(std::uint32_t));
      --free_blocks_;
      const std::uint32_t c = a >> kOffsetBits;
      if (live_units_[c] == 0 && !is_carving(c)) empty_bytes_ -= carved_chunk_bytes(c);  // in use again
      live_units_[c] += units;
      ++live_;
      return a;
    }
    if (z.bump_end - z.bump < units) new_chunk(z, units);
    const std::uint32_t a = (z.cur << kOffsetBits) | z.bump;
    z.bump += units;
    live_units_[z.cur] += units;
    ++live_;
    return a;
  }

  // Gives chunk c's memory back (to malloc, or to its huge-page pool) and its index to spare_.
  void release_chunk(std::uint32_t c) noexcept {
    if (const unsigned pool = huge_pool(c)) {
      huge_[pool - 1].give(chunks_[c]);
    } else {
      std::free(chunks_[c]);
      bytes_ -= chunk_bytes_[c];
    }
    chunks_[c] = nullptr;
    chunk_bytes_[c] = 0;
    live_units_[c] = 0;
    spare_.push_back(c);  // capacity reserved when the chunk was made: cannot throw
  }

  // Whether chunk c is some zone's chunk being carved (never given back by a sweep).
  bool is_carving(std::uint32_t c) const noexcept {
    for (const Zone& z : zones_)
      if (z.cur == c) return true;
    return false;
  }
  // A carved chunk's size for empty_bytes_: as malloc counts it, or a huge-page chunk's.
  std::size_t carved_chunk_bytes(std::uint32_t c) const noexcept {
    return huge_pool(c) != 0 ? kChunkBytes : chunk_bytes_[c];
  }
  // Takes the blocks of the chunks marked kReleasing off every free list. The lists are walked
  // kLanes at a time, interleaved, each lane's next block prefetched a round ahead, so that the
  // cache misses of different lists overlap (one list's are a chain).
  void drop_releasing() noexcept {
    constexpr std::size_t kHeads = (kZones + 1) * (kClasses + kMediumClasses);
    std::uint32_t* heads[kHeads];
    std::size_t nheads = 0;
    for (Zone& z : zones_) {
      for (std::uint32_t& h : z.free) heads[nheads++] = &h;
      for (std::uint32_t& h : z.medium_free) heads[nheads++] = &h;
    }
    struct lane {
      void* link;       // the word holding a's address: a head, or the last kept block's link
      std::uint32_t a;  // the block to look at next (prefetched)
    };
    constexpr unsigned kLanes = 16;
    lane lanes[kLanes];
    std::size_t next_head = 0;
    auto start = [&](lane& l) noexcept {
      while (next_head < nheads) {
        std::uint32_t* h = heads[next_head++];
        if (*h == kNone) continue;
        l = {h, *h};
        detail::prefetch(at(l.a));
        return true;
      }
      return false;
    };
    unsigned active = 0;
    while (active < kLanes && start(lanes[active])) ++active;
    while (active > 0) {
      for (unsigned i = 0; i < active;) {
        lane& l = lanes[i];
        std::uint32_t next;
        std::memcpy(&next, at(l.a), sizeof next);
        if (live_units_[l.a >> kOffsetBits] == kReleasing) {  // unlink it
          std::memcpy(l.link, &next, sizeof next);
          --free_blocks_;
        } else {
          l.link = at(l.a);
        }
        l.a = next;
        if (next != kNone) {
          detail::prefetch(at(next));
          ++i;
        } else if (start(l)) {
          ++i;
        } else {
          l = lanes[--active];  // this list is done, and no list is left to start: drop the lane
        }
      }
    }
  }

  // Threads the block at `address` onto the free list `head`.
  void push_free(std::uint32_t& head, std::uint32_t address) noexcept {
    std::memcpy(at(address), &head, sizeof(std::uint32_t));
    head = address;
    ++free_blocks_;
  }

  // A chunk index for a new chunk of `bytes`, its memory allocated; tables grown first, so a
  // failure changes nothing.
  std::uint32_t add_chunk(std::size_t bytes, bool huge = false, unsigned pool = 0) {
    if (chunks_.empty()) {
      chunks_.reserve(16);
      chunk_bytes_.reserve(16);
      live_units_.reserve(16);
      spare_.reserve(16);
      chunks_.push_back(nullptr);  // index 0: never used
      chunk_bytes_.push_back(0);
      live_units_.push_back(0);
    }
    std::uint32_t index;
    if (!spare_.empty()) {
      index = spare_.back();
    } else {
      if (chunks_.size() >= kMaxChunks)
        detail::throw_error("ArenaArt: the arena's " + std::to_string(kMaxChunks - 1) +
                            " chunks (about 16 GiB) are all in use; 32-bit references cannot "
                            "address more");
      index = static_cast<std::uint32_t>(chunks_.size());
      chunks_.reserve(chunks_.size() + 1);
      chunk_bytes_.reserve(chunks_.size() + 1);
      live_units_.reserve(chunks_.size() + 1);
      spare_.reserve(chunks_.size() + 1);
    }
    void* raw = huge ? huge_[pool].take() : detail::checked_malloc(bytes);
    const std::size_t cost = huge ? pool + 1 : detail::malloc_block_bytes(raw, bytes);
    if (!spare_.empty() && spare_.back() == index) {
      spare_.pop_back();
      chunks_[index] = static_cast<std::byte*>(raw);
      chunk_bytes_[index] = cost;
      live_units_[index] = 0;
    } else {
      chunks_.push_back(static_cast<std::byte*>(raw));
      chunk_bytes_.push_back(cost);
      live_units_.push_back(0);
    }
    if (!huge) bytes_ += cost;
    return index;
  }

  std::uint32_t allocate_large(std::size_t bytes) {
    const std::uint32_t index = add_chunk(bytes);
    live_units_[index] = kLargeChunk;
    ++live_;
    return index << kOffsetBits;
  }

  // A new chunk to carve from, of the zone's next size, or larger if `min_units` need it. The
  // old chunk's tail goes to zone `z`'s small free lists (zone 0's for the medium zone).
  void new_chunk(Zone& z, std::uint32_t min_units = 0) {
    Zone& tail_to = &z == &zones_[kMediumZone] ? zones_[0] : z;
    std::size_t bytes = z.next_chunk_bytes;
    while (bytes < std::size_t{min_units} * kUnitBytes) bytes *= 2;  // <= kChunkBytes: medium
    const std::uint32_t index =
        add_chunk(bytes, bytes == kChunkBytes && detail::want_huge_chunk(bytes_in_use()),
                  static_cast<unsigned>(&z - zones_));
    // The old chunk's tail becomes free blocks rather than waste.
    while (z.bump < z.bump_end) {
      const std::uint32_t units =
          std::min<std::uint32_t>(z.bump_end - z.bump, static_cast<std::uint32_t>(kClasses - 1));
      push_free(tail_to.free[units], (z.cur << kOffsetBits) | z.bump);
      z.bump += units;
    }
    const std::uint32_t old = z.cur;
    z.cur = index;
    z.bump = 0;
    z.bump_end = static_cast<std::uint32_t>(bytes / kUnitBytes);
    z.next_chunk_bytes = std::min(kChunkBytes, 2 * bytes);
    // An old chunk whose blocks were all freed while it was carved is now an empty one.
    if (old != 0 && live_units_[old] == 0) empty_bytes_ += carved_chunk_bytes(old);
  }

  void reset_free_lists() noexcept {
    for (Zone& z : zones_) {
      for (std::uint32_t& f : z.free) f = kNone;
      for (std::uint32_t& f : z.medium_free) f = kNone;
      z.cur = z.bump = z.bump_end = 0;
      z.next_chunk_bytes = kFirstChunkBytes;
    }
  }

  void release_all() noexcept {
    for (std::size_t i = 0; i < chunks_.size(); ++i)
      if (chunk_bytes_[i] != 0 && huge_pool(static_cast<std::uint32_t>(i)) == 0)
        std::free(chunks_[i]);  // chunk_bytes_ 0: index 0 or a free index
    for (detail::HugeChunks& h : huge_) h.release_all();
    std::vector<std::byte*>().swap(chunks_);
    std::vector<std::size_t>().swap(chunk_bytes_);
    std::vector<std::uint32_t>().swap(live_units_);
    std::vector<std::uint32_t>().swap(spare_);
    reset_free_lists();
    bytes_ = 0;
    live_ = 0;
    empty_bytes_ = 0;
    free_blocks_ = 0;
  }

  void take(ChunkArena& o) noexcept {
    chunks_ = std::move(o.chunks_);
    chunk_bytes_ = std::move(o.chunk_bytes_);
    live_units_ = std::move(o.live_units_);
    spare_ = std::move(o.spare_);
    for (unsigned p = 0; p < kZones + 1; ++p) huge_[p] = std::move(o.huge_[p]);
    std::copy(std::begin(o.zones_), std::end(o.zones_), std::begin(zones_));
    bytes_ = o.bytes_;
    live_ = o.live_;
    empty_bytes_ = o.empty_bytes_;
    free_blocks_ = o.free_blocks_;
    o.chunks_.clear();
    o.chunk_bytes_.clear();
    o.live_units_.clear();
    o.spare_.clear();
    o.release_all();
  }

  std::vector<std::byte*> chunks_;
  // Per chunk: what malloc gave for it, or 1 + its pool for a chunk of huge_[pool] (1 MiB; malloc
  // never gives 1-3 bytes), 0 for index 0 and free indices.
  std::vector<std::size_t> chunk_bytes_;
  unsigned huge_pool(std::uint32_t c) const noexcept {
    const std::size_t b = chunk_bytes_[c];
    return chunks_[c] != nullptr && b >= 1 && b <= kZones + 1 ? static_cast<unsigned>(b) : 0u;
  }
  // Per chunk: units of its blocks in use (carved chunks), kLargeChunk (a large block's own
  // chunk), or kReleasing during a sweep.
  std::vector<std::uint32_t> live_units_;
  static constexpr std::uint32_t kLargeChunk = ~std::uint32_t{0};
  static constexpr std::uint32_t kReleasing = kLargeChunk - 1;
  std::vector<std::uint32_t> spare_;
  static constexpr unsigned kMediumZone = kZones;  // internal: the medium blocks' chunks
  Zone zones_[kZones + 1];
  std::size_t bytes_ = 0;
  std::size_t live_ = 0;
  std::size_t empty_bytes_ = 0;  // bytes of the empty chunks (all blocks free, not carving)
  std::size_t free_blocks_ = 0;  // blocks on the free lists
  // 1 MiB chunks from huge-page regions once bytes_in_use() >= the threshold: a pool per zone,
  // so that a region's two chunks hold blocks of one kind (leaves, or nodes), which empty together.
  detail::HugeChunks huge_[kZones + 1]{detail::HugeChunks(kChunkBytes), detail::HugeChunks(kChunkBytes),
                                       detail::HugeChunks(kChunkBytes)};
};

}  // namespace memkv
