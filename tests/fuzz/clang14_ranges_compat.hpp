// tests/fuzz/clang14_ranges_compat.hpp - lets clang < 16 instantiate std::ranges::subrange from
// libstdc++ 12, so that the fuzz targets (built with clang++-14) can call prefix() and range().
//
// clang-14 checks the constraints of view_interface's non-template members (data() needs
// contiguous_iterator<iterator_t<D>>) while subrange<It> is still incomplete, and fails
// (llvm/llvm-project#44178). For the subranges of this translation unit we replace
// view_interface<subrange<...>> by a minimal base (subrange itself supplies begin/end/empty/size;
// memkv only uses those). Include this first, before any standard header that uses subrange.
// A test-only workaround: nothing in include/ depends on it, and gcc and clang >= 16 skip it.
#pragma once

#include <ranges>

#if defined(__clang__) && __clang_major__ < 16 && defined(__GLIBCXX__)
namespace std::ranges {
template <class It, class Sent, subrange_kind Kind>
class view_interface<subrange<It, Sent, Kind>> : public view_base {
  using derived_type = subrange<It, Sent, Kind>;
  constexpr const derived_type& derived() const noexcept {
    return static_cast<const derived_type&>(*this);
  }

public:
  constexpr explicit operator bool() const { return derived().begin() != derived().end(); }
  constexpr decltype(auto) front() const { return *derived().begin(); }
};
}  // namespace std::ranges
#endif
