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
#pragma once

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

}  // namespace memkv::detail
