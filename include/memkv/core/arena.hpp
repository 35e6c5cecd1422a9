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
//     std::vector<std::size_t> chunk_bytes_;// what malloc gave for each chunk (accounting)
//     std::vector<std::uint32_t> spare_;    // indices of released chunks, for reuse
//     struct Zone {                         // blocks of one placement zone (below)
//       std::uint32_t free[257];            //   per size (in units, up to 2 KiB): a free list
//                                           //   threaded through the freed blocks themselves
//       std::uint32_t medium_free[40];      //   per medium size class (2 KiB to 64 KiB)
//       cur, bump, bump_end;                //   the chunk being carved, in units
//     } zones_[3];                         // zones 0 and 1, and the medium blocks' own
//   };
//
// Blocks of up to 2 KiB are carved from chunks that start at 4 KiB and double up to 1 MiB, and
// come back on a free list of their exact size (8-byte granules) for reuse. Medium blocks (over
// 2 KiB, up to 64 KiB: leaves of long keys) are carved the same way from chunks of their own (so
// that they do not spread the small nodes apart), their size rounded up to one of 8 classes per
// doubling (at most 12.5% more), a free list per class. Larger blocks get a chunk of their own,
// released when the block is freed. (Until 2026-12-03 every block over 2 KiB had its own chunk,
// so 16,383 keys over 2 KiB, ~35 MB, exhausted an arena.) When the last block is freed the
// whole arena is given back (memory_usage returns to zero); in between, freed small and medium
// blocks are reused, not returned: a map that shrinks for good calls its compact(). Once the
// arena holds 16 MiB, its 1 MiB chunks come from 2 MiB regions on transparent huge pages
// (memkv/core/huge_pages.hpp; chunk_bytes_ 0 marks them), counted whole.
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
    if (bytes > kMaxSmall && bytes <= kMaxMedium) {
      push_free(zones_[kMediumZone].medium_free[medium_of(bytes).cls], address);
    } else if (bytes > kMaxSmall) {
      const std::uint32_t chunk = address >> kOffsetBits;
      std::free(chunks_[chunk]);
      chunks_[chunk] = nullptr;
      bytes_ -= chunk_bytes_[chunk];
      chunk_bytes_[chunk] = 0;
      spare_.push_back(chunk);  // capacity reserved when the chunk was made: cannot throw
    } else {
      assert(zone < kZones);
      push_free(zones_[zone].free[units_of(bytes)], address);
    }
    if (--live_ == 0) release_all();
  }

  // Everything held: chunks as malloc counts them, and the chunk tables.
  std::size_t bytes_in_use() const noexcept {
    return bytes_ + huge_.bytes() + chunks_.capacity() * sizeof(std::byte*) +
           chunk_bytes_.capacity() * sizeof(std::size_t) + spare_.capacity() * sizeof(std::uint32_t);
  }
  std::size_t live_blocks() const noexcept { return live_; }
  // 2 MiB huge-page regions mapped (each counted whole in bytes_in_use()).
  std::size_t huge_regions() const noexcept { return huge_.regions(); }
  std::size_t chunk_count() const noexcept { return chunks_.size() - spare_.size() - (chunks_.empty() ? 0 : 1); }

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
      ++live_;
      return a;
    }
    if (z.bump_end - z.bump < units) new_chunk(z, units);
    const std::uint32_t a = (z.cur << kOffsetBits) | z.bump;
    z.bump += units;
    ++live_;
    return a;
  }

  // Threads the block at `address` onto the free list `head`.
  void push_free(std::uint32_t& head, std::uint32_t address) noexcept {
    std::memcpy(at(address), &head, sizeof(std::uint32_t));
    head = address;
  }

  // A chunk index for a new chunk of `bytes`, its memory allocated; tables grown first, so a
  // failure changes nothing.
  std::uint32_t add_chunk(std::size_t bytes, bool huge = false) {
    if (chunks_.empty()) {
      chunks_.reserve(16);
      chunk_bytes_.reserve(16);
      spare_.reserve(16);
      chunks_.push_back(nullptr);  // index 0: never used
      chunk_bytes_.push_back(0);
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
      spare_.reserve(chunks_.size() + 1);
    }
    void* raw = huge ? huge_.take() : detail::checked_malloc(bytes);
    const std::size_t cost = huge ? 0 : detail::malloc_block_bytes(raw, bytes);
    if (!spare_.empty() && spare_.back() == index) {
      spare_.pop_back();
      chunks_[index] = static_cast<std::byte*>(raw);
      chunk_bytes_[index] = cost;
    } else {
      chunks_.push_back(static_cast<std::byte*>(raw));
      chunk_bytes_.push_back(cost);
    }
    bytes_ += chunk_bytes_[index];
    return index;
  }

  std::uint32_t allocate_large(std::size_t bytes) {
    const std::uint32_t index = add_chunk(bytes);
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
        add_chunk(bytes, bytes == kChunkBytes && detail::want_huge_chunk(bytes_in_use()));
    // The old chunk's tail becomes free blocks rather than waste.
    while (z.bump < z.bump_end) {
      const std::uint32_t units =
          std::min<std::uint32_t>(z.bump_end - z.bump, static_cast<std::uint32_t>(kClasses - 1));
      push_free(tail_to.free[units], (z.cur << kOffsetBits) | z.bump);
      z.bump += units;
    }
    z.cur = index;
    z.bump = 0;
    z.bump_end = static_cast<std::uint32_t>(bytes / kUnitBytes);
    z.next_chunk_bytes = std::min(kChunkBytes, 2 * bytes);
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
      if (chunk_bytes_[i] != 0) std::free(chunks_[i]);  // 0: index 0, a free index or huge
    huge_.release_all();
    std::vector<std::byte*>().swap(chunks_);
    std::vector<std::size_t>().swap(chunk_bytes_);
    std::vector<std::uint32_t>().swap(spare_);
    reset_free_lists();
    bytes_ = 0;
    live_ = 0;
  }

  void take(ChunkArena& o) noexcept {
    chunks_ = std::move(o.chunks_);
    chunk_bytes_ = std::move(o.chunk_bytes_);
    spare_ = std::move(o.spare_);
    huge_ = std::move(o.huge_);
    std::copy(std::begin(o.zones_), std::end(o.zones_), std::begin(zones_));
    bytes_ = o.bytes_;
    live_ = o.live_;
    o.chunks_.clear();
    o.chunk_bytes_.clear();
    o.spare_.clear();
    o.release_all();
  }

  std::vector<std::byte*> chunks_;
  std::vector<std::size_t> chunk_bytes_;
  std::vector<std::uint32_t> spare_;
  static constexpr unsigned kMediumZone = kZones;  // internal: the medium blocks' chunks
  Zone zones_[kZones + 1];
  std::size_t bytes_ = 0;
  std::size_t live_ = 0;
  detail::HugeChunks huge_{kChunkBytes};  // 1 MiB chunks, once bytes_in_use() >= threshold
};

}  // namespace memkv
