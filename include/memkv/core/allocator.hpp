// memkv/core/allocator.hpp - the allocator policies of the mutable maps.
//
// A policy is a template parameter of every mutable map and owns all of that map's memory (FastArt
// and HotArt hold two policy objects, one for their inner nodes and one for their leaves):
//
//   void*       allocate(std::size_t bytes);                   // throws std::bad_alloc; 8-aligned
//   void        deallocate(void* p, std::size_t bytes) noexcept; // bytes as given to allocate
//   std::size_t bytes_in_use() const noexcept;                  // everything held, slack included
//
// Policies are default-constructible and nothrow-movable (a move hands the pool over and leaves
// the source empty). Copying a policy gives a NEW, EMPTY pool with the same settings: a copied
// map allocates its own nodes. bytes_in_use() is what a map's memory_usage() reports, so each
// policy counts what the system really gives it, not what was asked for:
//
//   SlabAllocator (default)  blocks of up to 256 bytes come from per-size-class chunks (classes
//                            8 bytes apart), so the millions of small leaves pay no malloc
//                            header and at most 7 bytes of rounding. Chunks start at 4 KiB per
//                            class and double up to 64 KiB. Counts whole chunks, free slots
//                            included, and the unused tail of each class's newest chunk (with
//                            chunks of up to 1 MiB those tails cost HotArt 4.8 and FastArt 3.2
//                            B/key on npm-urls; at 64 KiB they stay under 2 MiB in all).
//                            Freed blocks go on their class's free list and are reused
//                            first; a class gives all its chunks back once its last block is freed
//                            (so erasing every key returns the map to its empty footprint). Larger
//                            blocks go to malloc and are counted like MallocAllocator does.
//                            Once it holds 16 MiB, its 64 KiB chunks come from 2 MiB regions on
//                            transparent huge pages (memkv/core/huge_pages.hpp), counted whole.
//   MallocAllocator          std::malloc/std::free per block; counts malloc_usable_size + the
//                            8-byte chunk header on glibc (the request rounded to 16, plus 16,
//                            elsewhere).
//   MimallocAllocator        mi_malloc/mi_free per block, counting mi_usable_size; defined only
//                            when <mimalloc.h> is available (MEMKV_HAS_MIMALLOC == 1); the program
//                            links mimalloc (CMake target memkv::mimalloc).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <utility>

#include "huge_pages.hpp"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#if defined(__has_include)
#if __has_include(<mimalloc.h>)
#include <mimalloc.h>
#define MEMKV_HAS_MIMALLOC 1
#endif
#endif
#ifndef MEMKV_HAS_MIMALLOC
#define MEMKV_HAS_MIMALLOC 0
#endif

namespace memkv {

namespace detail {
// What one malloc'd block of `requested` bytes at p really costs.
inline std::size_t malloc_block_bytes(void* p, std::size_t requested) noexcept {
#if defined(__GLIBC__)
  (void)requested;
  return malloc_usable_size(p) + sizeof(std::size_t);
#else
  (void)p;
  return ((requested + 15) & ~std::size_t{15}) + 16;
#endif
}

inline void* checked_malloc(std::size_t bytes) {
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}
}  // namespace detail

class MallocAllocator {
public:
  MallocAllocator() noexcept = default;
  MallocAllocator(const MallocAllocator&) noexcept {}
  MallocAllocator(MallocAllocator&& other) noexcept : bytes_(std::exchange(other.bytes_, 0)) {}
  MallocAllocator& operator=(const MallocAllocator&) = delete;
  MallocAllocator& operator=(MallocAllocator&& other) noexcept {
    bytes_ = std::exchange(other.bytes_, 0);
    return *this;
  }

  void* allocate(std::size_t bytes) {
    void* p = detail::checked_malloc(bytes);
    bytes_ += detail::malloc_block_bytes(p, bytes);
    return p;
  }
  void deallocate(void* p, std::size_t bytes) noexcept {
    bytes_ -= detail::malloc_block_bytes(p, bytes);
    std::free(p);
  }
  std::size_t bytes_in_use() const noexcept { return bytes_; }

private:
  std::size_t bytes_ = 0;
};

#if MEMKV_HAS_MIMALLOC
class MimallocAllocator {
public:
  MimallocAllocator() noexcept = default;
  MimallocAllocator(const MimallocAllocator&) noexcept {}
  MimallocAllocator(MimallocAllocator&& other) noexcept : bytes_(std::exchange(other.bytes_, 0)) {}
  MimallocAllocator& operator=(const MimallocAllocator&) = delete;
  MimallocAllocator& operator=(MimallocAllocator&& other) noexcept {
    bytes_ = std::exchange(other.bytes_, 0);
    return *this;
  }

  void* allocate(std::size_t bytes) {
    void* p = mi_malloc(bytes == 0 ? 1 : bytes);
    if (p == nullptr) throw std::bad_alloc();
    bytes_ += mi_usable_size(p);
    return p;
  }
  void deallocate(void* p, std::size_t) noexcept {
    bytes_ -= mi_usable_size(p);
    mi_free(p);
  }
  std::size_t bytes_in_use() const noexcept { return bytes_; }

private:
  std::size_t bytes_ = 0;
};
#endif

class SlabAllocator {
public:
  static constexpr std::size_t kGranule = 8;
  static constexpr std::size_t kMaxSmall = 256;
  static constexpr std::size_t kClasses = kMaxSmall / kGranule;
  static constexpr std::size_t kFirstChunk = 4096;
  static constexpr std::size_t kMaxChunk = std::size_t{1} << 16;

  SlabAllocator() noexcept = default;
  SlabAllocator(const SlabAllocator&) noexcept {}
  SlabAllocator(SlabAllocator&& other) noexcept { take(other); }
  SlabAllocator& operator=(const SlabAllocator&) = delete;
  SlabAllocator& operator=(SlabAllocator&& other) noexcept {
    if (this != &other) {
      release_all();
      take(other);
    }
    return *this;
  }
  ~SlabAllocator() { release_all(); }

  void* allocate(std::size_t bytes) {
    if (bytes > kMaxSmall) {
      void* p = detail::checked_malloc(bytes);
      bytes_ += detail::malloc_block_bytes(p, bytes);
      return p;
    }
    SizeClass& c = classes_[class_of(bytes)];
    const std::size_t slot = slot_bytes(bytes);
    void* p;
    if (c.free_list != nullptr) {
      p = c.free_list;
      c.free_list = *static_cast<void**>(p);
    } else {
      if (c.bump == c.bump_end) grow(c, slot);
      p = c.bump;
      c.bump += slot;
    }
    ++c.live;
    return p;
  }

  void deallocate(void* p, std::size_t bytes) noexcept {
    if (bytes > kMaxSmall) {
      bytes_ -= detail::malloc_block_bytes(p, bytes);
      std::free(p);
      return;
    }
    SizeClass& c = classes_[class_of(bytes)];
    *static_cast<void**>(p) = c.free_list;
    c.free_list = p;
    if (--c.live == 0) release_class(c);
  }

  std::size_t bytes_in_use() const noexcept { return bytes_ + huge_.bytes(); }
  // 2 MiB huge-page regions mapped (each counted whole in bytes_in_use()).
  std::size_t huge_regions() const noexcept { return huge_.regions(); }

  // Free slots and chunk sizes, for tests and stats.
  std::size_t chunk_count() const noexcept {
    std::size_t n = 0;
    for (const SizeClass& c : classes_)
      for (Chunk* k = c.chunks; k != nullptr; k = k->next) ++n;
    return n;
  }

private:
  // A chunk starts with this header; slots follow, 8-aligned. bytes == 0: a huge-page chunk.
  struct Chunk {
    Chunk* next;
    std::size_t bytes;
  };
  static_assert(sizeof(Chunk) % kGranule == 0);

  struct SizeClass {
    void* free_list = nullptr;
    char* bump = nullptr;
    char* bump_end = nullptr;
    Chunk* chunks = nullptr;
    std::size_t live = 0;
    std::size_t next_chunk_bytes = kFirstChunk;
  };

  static std::size_t class_of(std::size_t bytes) noexcept {
    return bytes == 0 ? 0 : (bytes - 1) / kGranule;
  }
  static std::size_t slot_bytes(std::size_t bytes) noexcept {
    return (class_of(bytes) + 1) * kGranule;
  }

  void grow(SizeClass& c, std::size_t slot) {
    std::size_t want = c.next_chunk_bytes;
    while (want < sizeof(Chunk) + 4 * slot) want *= 2;
    const bool huge = want == kMaxChunk && detail::want_huge_chunk(bytes_in_use());
    void* raw = huge ? huge_.take() : detail::checked_malloc(want);
    Chunk* k = static_cast<Chunk*>(raw);
    k->next = c.chunks;
    k->bytes = huge ? 0 : detail::malloc_block_bytes(raw, want);
    c.chunks = k;
    bytes_ += k->bytes;
    c.bump = static_cast<char*>(raw) + sizeof(Chunk);
    const std::size_t usable = (want - sizeof(Chunk)) / slot * slot;
    c.bump_end = c.bump + usable;
    if (c.next_chunk_bytes < kMaxChunk) c.next_chunk_bytes *= 2;
  }

  void release_class(SizeClass& c) noexcept {
    for (Chunk* k = c.chunks; k != nullptr;) {
      Chunk* next = k->next;
      if (k->bytes == 0) {
        huge_.give(k);
      } else {
        bytes_ -= k->bytes;
        std::free(k);
      }
      k = next;
    }
    c = SizeClass{};
  }

  void release_all() noexcept {
    for (SizeClass& c : classes_) release_class(c);
  }

  void take(SlabAllocator& other) noexcept {
    for (std::size_t i = 0; i < kClasses; ++i) classes_[i] = std::exchange(other.classes_[i], {});
    bytes_ = std::exchange(other.bytes_, 0);
    huge_ = std::move(other.huge_);
  }

  SizeClass classes_[kClasses];
  std::size_t bytes_ = 0;  // malloc'd chunks + large blocks, as malloc counts them
  detail::HugeChunks huge_{kMaxChunk};  // the 64 KiB chunks made once bytes_in_use() >= threshold
};

}  // namespace memkv
