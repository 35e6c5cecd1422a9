// memkv/core/prefetch.hpp - a software prefetch the optimizer keeps.
//
// GCC (12 here) drops a plain __builtin_prefetch together with the call of any function whose
// only effect it is, unless that function was inlined early: its pure/const analysis
// (-fipa-pure-const) counts the prefetch as no side effect, marks the function const, and the
// call, whose result nobody uses, is deleted. A member such as
//   void prefetch_value(std::uint64_t r) const noexcept { if (r < n) __builtin_prefetch(v + r); }
// compiled to a bare `ret` at -O2 and -O3, and every call of it vanished. Found 2026-12-02 by
// counting prefetch instructions in the generated code: FrozenLayer::get() had none (its value
// prefetch was never emitted), nor had HybridStore::insert() for its base filter's block; the
// others survived because they were inlined early. detail::prefetch adds an empty
// volatile asm statement that takes the address: a side effect the analysis must keep, which
// emits no instruction. Clang keeps prefetches anyway and compiles the same code.
//
// interleave<Lanes, Lane>(n, start, step): the scheduler of every get_many. It keeps up to Lanes
// walks going (walk i is begun by start(lane, i)) and steps them in turn (step(lane) returns
// true once that walk has finished and given its answer); a finished walk's lane begins the
// next one, whose first step waits for the next round (its prefetch has time to land), or,
// when none is left, takes over the last lane, which is stepped there and then. Each step is
// meant to end by prefetching what that walk reads next: while the other lanes take their
// turns, the line arrives, so the misses of up to Lanes lookups overlap.
#pragma once

#include <cstddef>

namespace memkv::detail {

// Starts loading the cache line at p for reading (prefetcht0 on x86-64).
[[gnu::always_inline]] inline void prefetch(const void* p) noexcept {
  __builtin_prefetch(p);
  asm volatile("" : : "r"(p));
}
// The same, for a line about to be written.
[[gnu::always_inline]] inline void prefetch_for_write(const void* p) noexcept {
  __builtin_prefetch(p, 1);
  asm volatile("" : : "r"(p));
}

template <unsigned Lanes, class Lane, class Start, class Step>
inline void interleave(std::size_t n, Start&& start, Step&& step) {
  Lane w[Lanes];
  std::size_t next = 0;
  unsigned active = 0;
  while (active < Lanes && next < n) start(w[active++], next++);
  while (active > 0) {
    for (unsigned l = 0; l < active;) {
      if (!step(w[l])) {
        ++l;
      } else if (next < n) {
        start(w[l], next++);
        ++l;
      } else {
        w[l] = w[--active];
      }
    }
  }
}

}  // namespace memkv::detail
