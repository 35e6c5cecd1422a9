// memkv/core/tagged_ptr.hpp - a child reference that is either an inner node or a leaf.
//
//   bit 63 ..................................... 1   0
//   [ address of the node or leaf (8-aligned)  ] [ is_leaf ]
//
// Nodes and leaves are at least 8-byte aligned, so the low bit of their address is free and
// tells them apart without touching memory. The null reference is all zero bits.
#pragma once

#include <cassert>
#include <cstdint>

namespace memkv::detail {

template <class Inner, class Leaf>
class TaggedPtr {
public:
  constexpr TaggedPtr() noexcept = default;

  static TaggedPtr from_inner(Inner* node) noexcept {
    assert((reinterpret_cast<std::uintptr_t>(node) & kLeafBit) == 0);
    return TaggedPtr(reinterpret_cast<std::uintptr_t>(node));
  }
  static TaggedPtr from_leaf(Leaf* leaf) noexcept {
    assert((reinterpret_cast<std::uintptr_t>(leaf) & kLeafBit) == 0);
    return TaggedPtr(reinterpret_cast<std::uintptr_t>(leaf) | kLeafBit);
  }

  bool is_null() const noexcept { return bits_ == 0; }
  explicit operator bool() const noexcept { return bits_ != 0; }
  bool is_leaf() const noexcept { return (bits_ & kLeafBit) != 0; }
  bool is_inner() const noexcept { return bits_ != 0 && (bits_ & kLeafBit) == 0; }

  Inner* inner() const noexcept {
    assert(is_inner());
    return reinterpret_cast<Inner*>(bits_);
  }
  Leaf* leaf() const noexcept {
    assert(is_leaf());
    return reinterpret_cast<Leaf*>(bits_ & ~kLeafBit);
  }
  std::uintptr_t raw() const noexcept { return bits_; }

  friend bool operator==(TaggedPtr a, TaggedPtr b) noexcept { return a.bits_ == b.bits_; }

private:
  static constexpr std::uintptr_t kLeafBit = 1;
  explicit TaggedPtr(std::uintptr_t bits) noexcept : bits_(bits) {}
  std::uintptr_t bits_ = 0;
};

static_assert(sizeof(TaggedPtr<void, void>) == sizeof(void*), "a tagged pointer is one word");

}  // namespace memkv::detail
