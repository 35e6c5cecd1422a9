// memkv/core/huge_pages.hpp - big chunks of the maps' memory on transparent huge pages.
//
// A lookup in a tree of 100+ MB touches a new 4 KiB page at nearly every node, and the TLB
// (a few thousand entries) covers only a few MB: on the machines we measure, the page walks cost
// as much as the cache misses themselves. With 2 MiB pages the same TLB covers GBs. So once a
// map's allocator holds `threshold` bytes (16 MiB by default), it takes its largest chunks
// (SlabAllocator: 64 KiB, ChunkArena: 1 MiB) from 2 MiB-aligned regions of 2 MiB that it maps
// itself and marks with madvise(MADV_HUGEPAGE) (Linux; a hint: on a kernel with transparent huge
// pages "never", or when no huge page is free, the region is ordinary 4 KiB pages).
//
// Measured on npm-urls (1.69M URLs inserted in shuffled order, then found in another shuffled
// order; ns per find, medians of 5 passes, one process per setting, this 2-core EPYC host):
// FastArt 2240 -> 1690, ArenaArt 2419 -> 1747, HotArt 1634 -> 1433 with every big chunk on huge
// pages; memory_usage() +0.6 to +1.0 B/key (the partly carved region).
//
//   class HugeChunks {                 // one per allocator, for one chunk size
//     std::vector<char*> regions_;     // the mapped regions, 2 MiB each
//     void* free_;                     // chunks given back, threaded through their first bytes
//     char* bump_, *end_;              // the region being carved
//     std::size_t live_;               // chunks handed out; all regions unmapped when it drops to 0
//   };
// release_free_regions() unmaps the regions whose chunks have all been given back while others
// are still in use (ChunkArena's sweeps call it).
//
// Memory: a region counts whole in bytes() (the allocator's bytes_in_use(), so the maps'
// memory_usage()) from the moment it is mapped: with huge pages its untouched part is resident
// too. So a map holds at most one partly carved region (< 2 MiB) beyond what its chunks need,
// never more than 1/8 of its memory at the default threshold (and 1-2% of a
// map of 100+ MB). Regions are not seen by malloc
// statistics (mallinfo2): huge_page_bytes_mapped() is their total over the process, which
// memkv-compare adds to its allocator column.
//
// Settings (process-wide; read when a chunk is needed, so they apply to chunks made afterwards):
//   memkv::set_huge_pages(false);            // all chunks from malloc, as before
//   memkv::set_huge_pages(true, 64 << 20);   // huge-page chunks once a map holds 64 MiB
// Compiling with -DMEMKV_NO_HUGE_PAGES=1 turns the feature off for good; it is off on systems
// without mmap/madvise (not Linux).
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <new>
#include <utility>
#include <vector>

#if defined(__linux__) && !(defined(MEMKV_NO_HUGE_PAGES) && MEMKV_NO_HUGE_PAGES)
#include <sys/mman.h>
#define MEMKV_HUGE_PAGES 1
#else
#define MEMKV_HUGE_PAGES 0
#endif

namespace memkv {

namespace detail {
inline std::atomic<bool> g_huge_pages_on{MEMKV_HUGE_PAGES != 0};
inline std::atomic<std::size_t> g_huge_page_threshold{std::size_t{16} << 20};
inline std::atomic<std::size_t> g_huge_page_bytes{0};
}  // namespace detail

// Turns huge-page chunks on or off for the maps' allocators, and sets the size an allocator must
// hold before it takes them. Has no effect when MEMKV_HUGE_PAGES is 0.
inline void set_huge_pages(bool on, std::size_t threshold_bytes = std::size_t{16} << 20) noexcept {
  detail::g_huge_pages_on.store(on && MEMKV_HUGE_PAGES != 0, std::memory_order_relaxed);
  detail::g_huge_page_threshold.store(threshold_bytes, std::memory_order_relaxed);
}
// Bytes that memkv maps itself, outside malloc, in this process: its allocators' huge-page
// regions and the trees' point-index tables (memkv/detail/point_index.hpp).
inline std::size_t huge_page_bytes_mapped() noexcept {
  return detail::g_huge_page_bytes.load(std::memory_order_relaxed);
}

namespace detail {

// Whether an allocator that holds `held` bytes takes its next big chunk from huge pages.
inline bool want_huge_chunk(std::size_t held) noexcept {
  return g_huge_pages_on.load(std::memory_order_relaxed) &&
         held >= g_huge_page_threshold.load(std::memory_order_relaxed);
}

// `bytes` mapped outside malloc (so that unmapping gives them back to the system at once), and
// counted in huge_page_bytes_mapped(): with `huge`, 2 MiB-aligned and marked for huge pages,
// else page-aligned; bytes: a multiple of 4 KiB (with `huge`, usually of 2 MiB: a last part
// under 2 MiB gets small pages; FrozenLayer's image copies end so). Throws std::bad_alloc.
inline void* map_region_bytes(std::size_t bytes, bool huge) {
  constexpr std::size_t kAlign = std::size_t{2} << 20;
#if MEMKV_HUGE_PAGES
  // Map 2 MiB more and keep the aligned part.
  const std::size_t extra = huge ? kAlign : 0;
  void* raw = ::mmap(nullptr, bytes + extra, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) throw std::bad_alloc();
  void* p = raw;
  if (huge) {
    const auto a = reinterpret_cast<std::uintptr_t>(raw);
    const std::uintptr_t aligned = (a + kAlign - 1) & ~(kAlign - 1);
    if (aligned > a) ::munmap(raw, aligned - a);
    if (const std::uintptr_t tail = a + bytes + kAlign - (aligned + bytes))
      ::munmap(reinterpret_cast<void*>(aligned + bytes), tail);
    p = reinterpret_cast<void*>(aligned);
    ::madvise(p, bytes, MADV_HUGEPAGE);  // a hint: failure leaves ordinary pages
  }
#else
  void* p = std::aligned_alloc(huge ? kAlign : 4096, bytes);
  if (p == nullptr) throw std::bad_alloc();
#endif
  g_huge_page_bytes.fetch_add(bytes, std::memory_order_relaxed);
  return p;
}
inline void unmap_region_bytes(void* p, std::size_t bytes) noexcept {
#if MEMKV_HUGE_PAGES
  ::munmap(p, bytes);
#else
  std::free(p);
#endif
  g_huge_page_bytes.fetch_sub(bytes, std::memory_order_relaxed);
}

class HugeChunks {
public:
  static constexpr std::size_t kRegion = std::size_t{2} << 20;

  explicit HugeChunks(std::size_t chunk) noexcept : chunk_(chunk) {}
  HugeChunks(const HugeChunks&) = delete;
  HugeChunks& operator=(const HugeChunks&) = delete;
  HugeChunks(HugeChunks&& o) noexcept
      : chunk_(o.chunk_),
        regions_(std::move(o.regions_)),
        free_(std::exchange(o.free_, nullptr)),
        bump_(std::exchange(o.bump_, nullptr)),
        end_(std::exchange(o.end_, nullptr)),
        live_(std::exchange(o.live_, 0)) {
    o.regions_.clear();
  }
  HugeChunks& operator=(HugeChunks&& o) noexcept {
    if (this != &o) {
      release_all();
      regions_ = std::move(o.regions_);
      o.regions_.clear();
      free_ = std::exchange(o.free_, nullptr);
      bump_ = std::exchange(o.bump_, nullptr);
      end_ = std::exchange(o.end_, nullptr);
      live_ = std::exchange(o.live_, 0);
    }
    return *this;
  }
  ~HugeChunks() { release_all(); }

  // A chunk of chunk_ bytes, chunk_-aligned. Throws std::bad_alloc.
  void* take() {
    void* p;
    if (free_ != nullptr) {
      p = free_;
      free_ = *static_cast<void**>(p);
    } else {
      if (bump_ == end_) {
        if (regions_.size() == regions_.capacity())  // before mapping: a failure changes nothing
          regions_.reserve(regions_.empty() ? 16 : 2 * regions_.size());
        bump_ = static_cast<char*>(map_region());
        end_ = bump_ + kRegion;
        regions_.push_back(bump_);
      }
      p = bump_;
      bump_ += chunk_;
    }
    ++live_;
    return p;
  }
  // Gives back a chunk from take(); unmaps every region once no chunk is in use.
  void give(void* p) noexcept {
    *static_cast<void**>(p) = free_;
    free_ = p;
    if (--live_ == 0) release_all();
  }
  // Unmaps every region all of whose chunks have been given back (but the one being carved),
  // taking its chunks off the free list: for an allocator whose chunks empty while others stay
  // in use (ChunkArena's sweeps). O((free chunks + regions) log regions) time and that much
  // scratch memory; if the scratch cannot be had, nothing is unmapped. Returns the regions
  // unmapped.
  std::size_t release_free_regions() noexcept {
    if (free_ == nullptr || regions_.empty()) return 0;
    try {
      std::vector<char*> sorted(regions_);
      // std::less: a total order on pointers into different regions (plain < leaves it unspecified).
      std::sort(sorted.begin(), sorted.end(), std::less<>{});
      auto region_of = [&sorted](const void* p) {
        const auto it = std::upper_bound(sorted.begin(), sorted.end(), static_cast<const char*>(p), std::less<>{});
        return static_cast<std::size_t>(it - sorted.begin()) - 1;  // the region holding p
      };
      std::vector<std::size_t> free_in(sorted.size(), 0);
      for (void* p = free_; p != nullptr; p = *static_cast<void**>(p)) ++free_in[region_of(p)];
      const char* carving = bump_ != end_ ? end_ - kRegion : nullptr;
      std::vector<char> drop(sorted.size(), 0);
      std::size_t dropped = 0;
      for (std::size_t i = 0; i < sorted.size(); ++i)
        if (free_in[i] == kRegion / chunk_ && sorted[i] != carving) {
          drop[i] = 1;
          ++dropped;
        }
      if (dropped == 0) return 0;
      for (void** link = &free_; *link != nullptr;) {  // unlink the dropped regions' chunks
        void* p = *link;
        if (drop[region_of(p)]) *link = *static_cast<void**>(p);
        else link = static_cast<void**>(p);
      }
      regions_.erase(std::remove_if(regions_.begin(), regions_.end(),
                                    [&](char* r) { return drop[region_of(r)] != 0; }),
                     regions_.end());
      for (std::size_t i = 0; i < sorted.size(); ++i)
        if (drop[i]) unmap_region(sorted[i]);
      return dropped;
    } catch (...) {  // std::bad_alloc of the scratch: keep everything
      return 0;
    }
  }

  // Everything held: the regions and the table of them.
  std::size_t bytes() const noexcept {
    return regions_.size() * kRegion + regions_.capacity() * sizeof(char*);
  }
  std::size_t regions() const noexcept { return regions_.size(); }

  void release_all() noexcept {
    for (char* r : regions_) unmap_region(r);
    std::vector<char*>().swap(regions_);
    free_ = nullptr;
    bump_ = end_ = nullptr;
    live_ = 0;
  }

private:
  static void* map_region() { return map_region_bytes(kRegion, true); }
  static void unmap_region(void* p) noexcept { unmap_region_bytes(p, kRegion); }

  std::size_t chunk_;
  std::vector<char*> regions_;
  void* free_ = nullptr;
  char* bump_ = nullptr;
  char* end_ = nullptr;
  std::size_t live_ = 0;
};

}  // namespace detail
}  // namespace memkv
