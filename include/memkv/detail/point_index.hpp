// memkv/detail/point_index.hpp - a hash index from keys to a tree's leaves, so that a point
// lookup reads one bucket and one leaf instead of descending the tree (HotArt and ArenaHotArt
// with hot_options::point_index, FastArt and ArenaArt with art_options::point_index, through
// detail::art::LeafIndex; see "Point index" in memkv/hot_art.hpp).
//
// The index holds no keys: a slot is one word holding a leaf's id (the tree's leaf reference,
// tag bit dropped) and a fingerprint of the key's hash in the bits the ids leave free:
//
//   slot = id << fp_bits | fp        fp in [1, 2^fp_bits - 1]; fp_bits = word bits - id bits
//   empty = 0, tombstone = 1 << fp_bits (any slot with fp == 0 that is not empty)
//
// Buckets are one cache line: 16 32-bit slots, or 8 64-bit slots when the ids need more than 26
// bits (HotArt's and FastArt's pointers; an arena of more than ~512 MiB). A key's bucket is
// (hash >> 32) * buckets >> 32; its fingerprint the hash's low fp_bits. A lookup compares the
// fingerprint with every slot of the bucket and asks the tree (`is(id)`) about each match; it
// goes on to the next bucket only while the bucket has no empty slot. Erasing from a bucket
// that has an empty slot empties the slot (no probe ever passed a bucket with an empty slot:
// tombstones, not empty slots, are what erasing from full buckets leaves); otherwise it leaves a
// tombstone, and rebuilds drop them.
//
// Size: rebuilt to a load of 0.7 (HotArt, ArenaHotArt) or 0.6 (FastArt, ArenaArt: the tree's
// choice, refill_percent) whenever live slots and tombstones pass 0.9 of the slots (growth) or
// live slots fall under 1/8 (shrinking), and when an id does not fit (the id bits are as many as
// the largest id needs: so about once each time the arena doubles). A rebuild asks the tree for
// the hash of each leaf (one read of the leaf, prefetched 16 ids ahead; the new bucket is
// prefetched 16 ids before it is written). Growing by 0.9 / refill, a table that grows with the
// tree rehashes 0.9 / (0.9 - refill) keys per key added: 4.5 at 0.7, 3.0 at 0.6. Memory per key
// is slot bytes / load: 4.4-5.7 bytes with 32-bit slots at 0.7, 4.4-6.7 at 0.6, twice that with
// 64-bit ones.
//
// Tables of 128 KiB and more are mappings of their own (memkv/core/huge_pages.hpp), so that the
// tables that rebuilds free go back to the system rather than stay as holes in malloc's heap;
// from 4 MiB on 2 MiB huge pages (when memkv::set_huge_pages leaves them on). Rounded up to whole
// pages: the extra bytes are buckets.
//
// Failure: a rebuild that cannot allocate (or whose hashing throws) leaves the index "broken":
// usable() turns false, the tree answers lookups by descending, and add/remove do nothing until
// reset() or a successful build(). Nothing here throws.
#pragma once

#include <algorithm>
#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <utility>

#include "../core/huge_pages.hpp"
#include "../core/prefetch.hpp"

namespace memkv::detail {

// Tests set this to make the next table allocations fail (each failing one counts it down).
inline std::atomic<unsigned> g_point_index_fail_allocations{0};

class point_index {
public:
  static constexpr std::uint64_t npos = ~std::uint64_t{0};
  static constexpr unsigned kDefaultRefillPercent = 70;  // HotArt's (see "Size" above)

  point_index() noexcept = default;
  // refill_percent: the load a rebuild leaves (see "Size" above), 50..85.
  explicit point_index(bool enabled, unsigned refill_percent = kDefaultRefillPercent) noexcept
      : refill_(std::clamp(refill_percent, 50u, 85u)), enabled_(enabled) {}
  point_index(const point_index&) = delete;  // a copy of a tree has other leaf ids: build()
  point_index& operator=(const point_index&) = delete;
  point_index(point_index&& o) noexcept { take(o); }
  point_index& operator=(point_index&& o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~point_index() { release(); }
  void swap(point_index& o) noexcept {
    point_index t(std::move(o));
    o = std::move(*this);
    *this = std::move(t);
  }

  bool enabled() const noexcept { return enabled_; }
  // Whether the index holds every leaf of the tree (enabled and not broken).
  bool usable() const noexcept { return enabled_ && !broken_; }
  std::size_t size() const noexcept { return live_; }
  std::size_t memory_usage() const noexcept { return nb_ * 64; }
  std::size_t buckets() const noexcept { return nb_; }
  unsigned slot_bits() const noexcept { return wide_ ? 64u : 32u; }
  unsigned fingerprint_bits() const noexcept { return fpb_; }

  // Empty and usable again (clear(), an emptied tree).
  void reset() noexcept {
    release();
    broken_ = false;
  }

  void prefetch(std::uint64_t h) const noexcept {
    if (nb_ != 0) detail::prefetch(table_ + bucket_of(h) * 64);
  }
  // The id of the leaf whose key hashes to h and for which is(id) holds, or npos.
  template <class Is>
  std::uint64_t find(std::uint64_t h, Is&& is) const noexcept {
    if (nb_ == 0) return npos;
    return wide_ ? find_in<std::uint64_t>(h, is) : find_in<std::uint32_t>(h, is);
  }
  // The first id in h's bucket whose fingerprint matches, or npos: a hint for prefetching.
  std::uint64_t first_candidate(std::uint64_t h) const noexcept {
    if (nb_ == 0) return npos;
    return wide_ ? candidate_in<std::uint64_t>(h) : candidate_in<std::uint32_t>(h);
  }

  // Source, the tree: std::uint64_t hash(std::uint64_t id) const (the hash of that leaf's key;
  // may throw bad_alloc) and void prefetch(std::uint64_t id) const noexcept.

  // Adds the new leaf `id` whose key (absent before) hashes to h.
  template <class Source>
  void add(std::uint64_t h, std::uint64_t id, const Source& src) noexcept {
    if (!usable()) return;
    if (nb_ == 0 || id > max_id_ || (used_ + 1) * 10 > slots() * 9) {
      // Grow (or make room for larger ids): rebuild from the slots, then add.
      if (!rebuild(live_ + 1, std::max(id, biggest_id()), src, [&](auto&& emit) { each_id(emit); })) return;
    }
    wide_ ? put<std::uint64_t>(h, id) : put<std::uint32_t>(h, id);
    ++live_;
  }
  // Removes leaf `id` whose key hashes to h.
  template <class Source>
  void remove(std::uint64_t h, std::uint64_t id, const Source& src) noexcept {
    if (!usable() || nb_ == 0) return;
    if (!(wide_ ? take_out<std::uint64_t>(h, id) : take_out<std::uint32_t>(h, id))) {
      fail();  // not there: cannot happen while the tree keeps it in step; stop using it
      return;
    }
    --live_;
    if (live_ == 0) {
      release();
    } else if (live_ * 8 < slots() && nb_ > 4) {
      // Shrink; if that cannot allocate, the old table is still right: keep it.
      point_index smaller(true, refill_);
      if (smaller.rebuild(live_, biggest_id(), src, [&](auto&& emit) { each_id(emit); })) *this = std::move(smaller);
    }
  }
  // Rebuilds from the tree: for_each(emit) calls emit(id) once for each of its n leaves (and may
  // be called twice). Returns false, leaving the index broken, when memory runs out.
  template <class Source, class ForEach>
  bool build(std::size_t n, const Source& src, ForEach&& for_each) noexcept {
    if (!enabled_) return false;
    release();
    broken_ = false;
    if (n == 0) return true;
    std::uint64_t biggest = 0;
    try {
      for_each([&](std::uint64_t id) { biggest = std::max(biggest, id); });
    } catch (...) {
      return fail();
    }
    return rebuild(n, biggest, src, for_each);
  }

  // Checks (for check_invariants): every slot's count, and the id of each live slot: fn(id).
  template <class Fn>
  std::size_t for_each_id(Fn&& fn) const {
    std::size_t n = 0;
    each_id([&](std::uint64_t id) {
      ++n;
      fn(id);
    });
    return n;
  }

private:
  std::size_t slots() const noexcept { return nb_ * (wide_ ? 8 : 16); }
  std::size_t bucket_of(std::uint64_t h) const noexcept {
    return static_cast<std::size_t>(((h >> 32) * nb_) >> 32);
  }
  template <class W>
  W fingerprint(std::uint64_t h) const noexcept {
    const W f = static_cast<W>(h) & ((W{1} << fpb_) - 1);
    return f == 0 ? W{1} : f;
  }
  template <class W>
  W* bucket(std::size_t b) const noexcept {
    return reinterpret_cast<W*>(table_ + b * 64);
  }
  // Bit i set where slot i's fingerprint is f (match) / where slot i is empty (empties).
  template <class W>
  void scan(const W* s, W f, unsigned& match, unsigned& empties) const noexcept {
    constexpr unsigned S = 64 / sizeof(W);
    const W mask = (W{1} << fpb_) - 1;
    unsigned m = 0, e = 0;
    for (unsigned i = 0; i < S; ++i) {
      m |= static_cast<unsigned>((s[i] & mask) == f) << i;
      e |= static_cast<unsigned>(s[i] == 0) << i;
    }
    match = m;
    empties = e;
  }
  // The slot of the id in h's probe sequence for which is(id) holds, or nullptr; has_empty:
  // whether that slot's bucket has an empty slot.
  template <class W, class Is>
  W* locate(std::uint64_t h, Is& is, bool& has_empty) const noexcept {
    const W f = fingerprint<W>(h);
    std::size_t b = bucket_of(h);
    for (std::size_t probes = 0; probes < nb_; ++probes) {
      W* s = bucket<W>(b);
      unsigned match, empties;
      scan<W>(s, f, match, empties);
      has_empty = empties != 0;
      for (; match != 0; match &= match - 1) {
        W* slot = s + std::countr_zero(match);
        if (is(std::uint64_t{*slot} >> fpb_)) return slot;
      }
      if (has_empty) return nullptr;
      if (++b == nb_) b = 0;
    }
    return nullptr;
  }
  template <class W, class Is>
  std::uint64_t find_in(std::uint64_t h, Is& is) const noexcept {
    bool has_empty = false;
    const W* slot = locate<W>(h, is, has_empty);
    return slot == nullptr ? npos : std::uint64_t{*slot} >> fpb_;
  }
  template <class W>
  std::uint64_t candidate_in(std::uint64_t h) const noexcept {
    const W* s = bucket<W>(bucket_of(h));
    unsigned match, empties;
    scan<W>(s, fingerprint<W>(h), match, empties);
    return match == 0 ? npos : std::uint64_t{s[std::countr_zero(match)]} >> fpb_;
  }
  // Into the first empty or tombstone slot from h's bucket on (there is one: load <= 0.9).
  template <class W>
  void put(std::uint64_t h, std::uint64_t id) noexcept {
    constexpr unsigned S = 64 / sizeof(W);
    const W mask = (W{1} << fpb_) - 1;
    for (std::size_t b = bucket_of(h);; b = b + 1 == nb_ ? 0 : b + 1) {
      W* s = bucket<W>(b);
      for (unsigned i = 0; i < S; ++i) {
        if ((s[i] & mask) != 0) continue;
        if (s[i] == 0) ++used_;  // else a tombstone, reused
        s[i] = static_cast<W>(id << fpb_) | fingerprint<W>(h);
        return;
      }
    }
  }
  template <class W>
  bool take_out(std::uint64_t h, std::uint64_t id) noexcept {
    auto is = [id](std::uint64_t other) { return other == id; };
    bool has_empty = false;
    W* slot = locate<W>(h, is, has_empty);
    if (slot == nullptr) return false;
    if (has_empty) {  // no probe has passed this bucket (see the header comment)
      *slot = 0;
      --used_;
    } else {
      *slot = W{1} << fpb_;  // tombstone
    }
    return true;
  }
  template <class Emit>
  void each_id(Emit&& emit) const {
    if (wide_) each_id_in<std::uint64_t>(emit);
    else each_id_in<std::uint32_t>(emit);
  }
  template <class W, class Emit>
  void each_id_in(Emit& emit) const {
    const W mask = (W{1} << fpb_) - 1;
    const W* s = bucket<W>(0);
    for (std::size_t i = 0, n = slots(); i < n; ++i)
      if ((s[i] & mask) != 0) emit(std::uint64_t{s[i]} >> fpb_);
  }
  std::uint64_t biggest_id() const noexcept {
    std::uint64_t m = 0;
    each_id([&](std::uint64_t id) { m = std::max(m, id); });
    return m;
  }

  // A fresh table for n ids up to `biggest`, filled from for_each; on success it replaces this
  // one, on failure this one is released and broken.
  template <class Source, class ForEach>
  bool rebuild(std::size_t n, std::uint64_t biggest, const Source& src, ForEach&& for_each) noexcept {
    point_index fresh(true, refill_);
    // As few id bits as the ids need, so that the fingerprint has the most: an id that does not
    // fit rebuilds (once each time the tree's address range doubles).
    const unsigned id_bits = std::max(1u, static_cast<unsigned>(std::bit_width(biggest)));
    if (id_bits + kMinFingerprint <= 32) {
      fresh.wide_ = false;
      fresh.fpb_ = 32 - id_bits;
    } else if (id_bits + kMinFingerprint <= 64) {
      fresh.wide_ = true;
      fresh.fpb_ = 64 - id_bits;
    } else {
      return fail();
    }
    fresh.max_id_ = (std::uint64_t{1} << id_bits) - 1;
    const std::size_t per = fresh.wide_ ? 8 : 16;
    fresh.nb_ = std::max<std::size_t>(1, (n * 100 / refill_ + per - 1) / per);
    std::size_t bytes = fresh.nb_ * 64;
    if (unsigned f = g_point_index_fail_allocations.load(std::memory_order_relaxed); f != 0) {
      g_point_index_fail_allocations.store(f - 1, std::memory_order_relaxed);
      fresh.nb_ = 0;
      return fail();
    }
    if (bytes >= kMapFrom) {
      // Mapped: given back to the system when freed (malloc would keep the old tables of the
      // rebuilds as holes in its heap). From 4 MiB on 2 MiB pages, when memkv::set_huge_pages
      // leaves them on. The rounding becomes buckets.
      const bool huge = bytes >= kHugeFrom && g_huge_pages_on.load(std::memory_order_relaxed);
      const std::size_t page = huge ? kHugePage : 4096;
      bytes = (bytes + page - 1) / page * page;
      fresh.nb_ = bytes / 64;
      fresh.mapped_ = true;
      try {
        fresh.table_ = static_cast<unsigned char*>(map_region_bytes(bytes, huge));
      } catch (...) {
        fresh.table_ = nullptr;
      }
    } else {
      fresh.table_ = static_cast<unsigned char*>(::operator new(bytes, std::align_val_t{64}, std::nothrow));
    }
    if (fresh.table_ == nullptr) {
      fresh.nb_ = 0;
      return fail();
    }
    std::memset(fresh.table_, 0, fresh.nb_ * 64);
    try {
      // Three steps 16 ids apart, so that the misses of different ids overlap: the leaf is
      // prefetched, then hashed (its bucket prefetched), then put.
      constexpr std::size_t kAhead = 16;
      std::uint64_t ids[kAhead];
      std::uint64_t hid[kAhead][2];
      std::size_t n_ids = 0, n_hashed = 0;
      auto put_one = [&](const std::uint64_t* x) {
        fresh.wide_ ? fresh.put<std::uint64_t>(x[1], x[0]) : fresh.put<std::uint32_t>(x[1], x[0]);
        ++fresh.live_;
      };
      auto hash_one = [&](std::uint64_t id) {
        const std::uint64_t h = src.hash(id);
        fresh.prefetch(h);
        std::uint64_t* slot = hid[n_hashed % kAhead];
        if (n_hashed >= kAhead) put_one(slot);
        slot[0] = id;
        slot[1] = h;
        ++n_hashed;
      };
      for_each([&](std::uint64_t id) {
        src.prefetch(id);
        if (n_ids >= kAhead) hash_one(ids[n_ids % kAhead]);
        ids[n_ids % kAhead] = id;
        ++n_ids;
      });
      for (std::size_t i = n_ids > kAhead ? n_ids - kAhead : 0; i < n_ids; ++i) hash_one(ids[i % kAhead]);
      for (std::size_t i = n_hashed > kAhead ? n_hashed - kAhead : 0; i < n_hashed; ++i) put_one(hid[i % kAhead]);
    } catch (...) {
      return fail();
    }
    *this = std::move(fresh);
    return true;
  }
  bool fail() noexcept {
    release();
    broken_ = true;
    return false;
  }
  void release() noexcept {
    if (table_ != nullptr) {
      if (mapped_)
        unmap_region_bytes(table_, nb_ * 64);
      else
        ::operator delete(table_, std::align_val_t{64});
    }
    table_ = nullptr;
    mapped_ = false;
    nb_ = 0;
    live_ = used_ = 0;
    max_id_ = 0;
  }
  void take(point_index& o) noexcept {
    table_ = std::exchange(o.table_, nullptr);
    nb_ = std::exchange(o.nb_, 0);
    live_ = std::exchange(o.live_, 0);
    used_ = std::exchange(o.used_, 0);
    max_id_ = std::exchange(o.max_id_, 0);
    fpb_ = o.fpb_;
    refill_ = o.refill_;
    wide_ = o.wide_;
    mapped_ = std::exchange(o.mapped_, false);
    enabled_ = o.enabled_;
    broken_ = std::exchange(o.broken_, false);
  }

  static constexpr unsigned kMinFingerprint = 6;
  static constexpr std::size_t kHugePage = std::size_t{2} << 20;
  static constexpr std::size_t kHugeFrom = std::size_t{4} << 20;  // rounding costs <= 1/3
  static constexpr std::size_t kMapFrom = std::size_t{128} << 10;
  unsigned char* table_ = nullptr;
  std::size_t nb_ = 0;    // buckets (64 bytes each)
  std::size_t live_ = 0;  // ids held
  std::size_t used_ = 0;  // slots not empty: ids and tombstones
  std::uint64_t max_id_ = 0;
  unsigned fpb_ = 0;
  unsigned refill_ = kDefaultRefillPercent;  // percent: the load a rebuild leaves
  bool wide_ = false;
  bool mapped_ = false;  // table_ is a mapping of its own (memkv/core/huge_pages.hpp)
  bool enabled_ = false;
  bool broken_ = false;
};

}  // namespace memkv::detail
