// memkv/core/entry.hpp - what dereferencing a memkv iterator yields.
//
// Every memkv iterator's operator* returns an entry by value: a view of the key and the value.
// For the mutable maps the value is a `const V&` into the map; for the static structures it is
// the decoded value itself. An entry's key stays valid until the map is next modified (static
// structures: until the iterator that produced it moves on or is destroyed).
#pragma once

#include <string_view>

namespace memkv {

template <class ValueRef>
struct basic_entry {
  std::string_view key;
  ValueRef value;
};

// operator-> support for iterators whose operator* returns a prvalue.
template <class Entry>
struct arrow_proxy {
  Entry entry;
  const Entry* operator->() const noexcept { return &entry; }
};

}  // namespace memkv
