// memkv/fast_art.hpp - FastArt<V, Alloc>: an adaptive radix tree over arbitrary byte-string keys.
//
// The libart design (Leis et al., ICDE 2013), done for binary keys: four node sizes, path
// compression, lazy expansion, leaves holding their key inline, tagged child pointers.
//
// Layout (every inner node starts with a 16-byte header; all sizes in bytes):
//
//   struct NodeHeader {            // 16
//     NodeType      type;          // Node4 | Node16 | Node48 | Node256
//     uint8_t       flags;         // bit 0: an end slot follows the node body (see below);
//                                  // bits 1..5: child slots allocated (Node4/Node16)
//     uint16_t      count;         // children reached by a byte, 0..256
//     uint32_t      prefix_len;    // length of the compressed path above the children
//     uint8_t       prefix[8];     // its first min(prefix_len, 8) bytes; the rest is read from
//   };                             //   any leaf below (all leaves share the path: "optimistic")
//   Node4   { header; uint8_t key[4]; pad[4]; Ref child[cap]; }  // 24 + 8*cap (cap 1..4)
//   Node16  { header; uint8_t key[16];        Ref child[cap]; }  // 32 + 8*cap (cap 5..16)
//                                  // keys sorted; Node16 searched with SIMD. Both are allocated
//                                  // with exactly as many child slots as children (cap in
//                                  // flags bits 1..5), grown and shrunk one slot at a time.
//   Node48  { header; uint8_t index[256];     Ref child[48]; }   //  656, index[b] = slot + 1 or 0
//   Node256 { header;                         Ref child[256]; }  // 2064
//   [Ref end]                      // only when flags bit 0: the leaf whose key ends exactly at
//                                  // this node (a key that is a prefix of others). Nodes without
//                                  // such a key do not pay for the slot.
//   Ref = TaggedPtr: low bit 1 = leaf, else inner node, 0 = empty.
//
//   Leaf<V> { V value; LEB128 key_len; char key[key_len]; }     // one allocation per key;
//                                  // the length takes 1 byte below 128, 2 below 16384, ...
//
// No terminator byte is assumed: the empty key, keys holding '\0' or '\xff' and keys that are
// prefixes of other keys are all stored exactly. Keys are ordered bytewise unsigned.
//
// Complexity: find/insert/erase O(k) for a key of k bytes (independent of the number of keys);
// begin/lower_bound O(k + depth); iterator increment amortized O(1) per node visited; a
// prefix/range view costs two lower_bound descents.
//
// Guarantees:
//   - insert and insert_or_assign: strong guarantee; every allocation happens before the tree is
//     touched, so if one throws the map is unchanged. (An assignment that throws from V's move
//     assignment leaves the old value as V leaves it.)
//   - erase never throws except for V's destructor; when shrinking a node cannot get memory the
//     node simply stays larger.
//   - Iterators: every insert/insert_or_assign/erase/clear/assignment invalidates all iterators and
//     the key views of entries; find() pointers stay valid until that key is erased or the map is
//     cleared, destroyed or assigned (values never move: they live in their leaf).
//   - const member functions may run concurrently; mutation needs exclusive access.
//   - Copy is deep (each copy has its own allocator pool); move and swap are noexcept.
//
// Memory: memory_usage() is the allocator policy's bytes_in_use() (nodes, leaves with keys and
// values, chunk slack, free slots) plus sizeof(*this). Erased leaves and nodes are returned to the
// policy; the SlabAllocator reuses them and gives a size class's chunks back to malloc when the
// class empties, so erasing every key returns the map to its empty footprint.
//
// Limits: keys up to 2^32 - 1 bytes (longer ones throw memkv::error); alignof(V) <= 8.
#pragma once

#include <algorithm>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/allocator.hpp"
#include "core/entry.hpp"
#include "core/error.hpp"
#include "core/key.hpp"
#include "core/simd.hpp"
#include "core/tagged_ptr.hpp"

namespace memkv {

namespace detail::art {

enum class NodeType : std::uint8_t { N4 = 0, N16 = 1, N48 = 2, N256 = 3 };

inline constexpr unsigned kStoredPrefix = 8;
inline constexpr std::uint8_t kHasEndSlot = 1;

struct NodeHeader {
  NodeType type;
  std::uint8_t flags;
  std::uint16_t count;
  std::uint32_t prefix_len;
  std::uint8_t prefix[kStoredPrefix];
};
static_assert(sizeof(NodeHeader) == 16, "node header is 16 bytes");

struct LeafTag;  // leaves are raw memory laid out by LeafLayout<V>
using Ref = TaggedPtr<NodeHeader, LeafTag>;

struct Node4 {
  NodeHeader h;
  std::uint8_t key[4];
  std::uint8_t pad[4];
  Ref child[4];
};
struct Node16 {
  NodeHeader h;
  std::uint8_t key[16];
  Ref child[16];
};
struct Node48 {
  NodeHeader h;
  std::uint8_t index[256];
  Ref child[48];
};
struct Node256 {
  NodeHeader h;
  Ref child[256];
};
static_assert(sizeof(Node4) == 56 && sizeof(Node16) == 160 && sizeof(Node48) == 656 &&
              sizeof(Node256) == 2064);

// Node4 and Node16 are allocated with room for exactly `cap` children (Node4: 1..4, Node16:
// 5..16), so a node pays only for the slots it uses; cap lives in flags bits 1..5. Node48 and
// Node256 always have all their slots.
inline constexpr unsigned kMaxCap[4] = {4, 16, 48, 256};
inline constexpr std::size_t body_bytes(NodeType t, unsigned cap) noexcept {
  switch (t) {
    case NodeType::N4: return offsetof(Node4, child) + cap * sizeof(Ref);
    case NodeType::N16: return offsetof(Node16, child) + cap * sizeof(Ref);
    case NodeType::N48: return sizeof(Node48);
    default: return sizeof(Node256);
  }
}
inline unsigned capacity(const NodeHeader* h) noexcept {
  return h->type <= NodeType::N16 ? (h->flags >> 1) & 31u : kMaxCap[static_cast<unsigned>(h->type)];
}
inline std::uint8_t make_flags(NodeType t, unsigned cap, bool end_slot) noexcept {
  const unsigned c = t <= NodeType::N16 ? cap : 0u;
  return static_cast<std::uint8_t>((c << 1) | (end_slot ? kHasEndSlot : 0u));
}
inline bool has_end_slot(const NodeHeader* h) noexcept { return (h->flags & kHasEndSlot) != 0; }
inline std::size_t body_bytes(const NodeHeader* h) noexcept {
  return body_bytes(h->type, capacity(h));
}
inline std::size_t node_bytes(const NodeHeader* h) noexcept {
  return body_bytes(h) + (has_end_slot(h) ? sizeof(Ref) : 0);
}
inline Ref* end_slot(NodeHeader* h) noexcept {
  return reinterpret_cast<Ref*>(reinterpret_cast<char*>(h) + body_bytes(h));
}
inline Ref end_leaf(const NodeHeader* h) noexcept {
  return has_end_slot(h) ? *end_slot(const_cast<NodeHeader*>(h)) : Ref{};
}

// Slot of the child reached by byte b, or nullptr.
inline Ref* find_child(NodeHeader* h, std::uint8_t b) noexcept {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<Node4*>(h);
      for (unsigned i = 0; i < h->count; ++i)
        if (n->key[i] == b) return &n->child[i];
      return nullptr;
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<Node16*>(h);
      const int i = node16_find(n->key, h->count, b);
      return i < 0 ? nullptr : &n->child[i];
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<Node48*>(h);
      const unsigned i = n->index[b];
      return i == 0 ? nullptr : &n->child[i - 1];
    }
    default: {
      auto* n = reinterpret_cast<Node256*>(h);
      return n->child[b] ? &n->child[b] : nullptr;
    }
  }
}

// Iteration positions: -1 is the end slot, then 0.. are child positions (N4/N16: index into the
// sorted arrays; N48/N256: the byte). next_child returns the entry at or after pos, in key order,
// and sets pos just past it; an empty Ref when the node is exhausted.
inline Ref next_child(const NodeHeader* h, int& pos) noexcept {
  if (pos < 0) {
    pos = 0;
    if (Ref e = end_leaf(h)) return e;
  }
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4*>(h);
      if (pos < h->count) return n->child[pos++];
      return Ref{};
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16*>(h);
      if (pos < h->count) return n->child[pos++];
      return Ref{};
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<const Node48*>(h);
      for (; pos < 256; ++pos)
        if (n->index[pos] != 0) return n->child[n->index[pos++] - 1];
      return Ref{};
    }
    default: {
      auto* n = reinterpret_cast<const Node256*>(h);
      for (; pos < 256; ++pos)
        if (n->child[pos]) return n->child[pos++];
      return Ref{};
    }
  }
}

// The position just past byte b (when b is present) or of the first byte > b (when absent).
inline int position_after(const NodeHeader* h, std::uint8_t b, bool present) noexcept {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4*>(h);
      unsigned i = 0;
      while (i < h->count && n->key[i] < b) ++i;
      return static_cast<int>(i + (present ? 1 : 0));
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16*>(h);
      const unsigned i = node16_lower_bound(n->key, h->count, b);
      return static_cast<int>(i + (present ? 1 : 0));
    }
    default: return static_cast<int>(b) + 1;
  }
}

// The child bytes in order (for tests, copy and checks).
template <class F>
void for_each_child(const NodeHeader* h, F&& f) {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4*>(h);
      for (unsigned i = 0; i < h->count; ++i) f(n->key[i], n->child[i]);
      break;
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16*>(h);
      for (unsigned i = 0; i < h->count; ++i) f(n->key[i], n->child[i]);
      break;
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<const Node48*>(h);
      for (unsigned b = 0; b < 256; ++b)
        if (n->index[b]) f(static_cast<std::uint8_t>(b), n->child[n->index[b] - 1]);
      break;
    }
    default: {
      auto* n = reinterpret_cast<const Node256*>(h);
      for (unsigned b = 0; b < 256; ++b)
        if (n->child[b]) f(static_cast<std::uint8_t>(b), n->child[b]);
      break;
    }
  }
}

// Leaf layout for values of type V: [V value][key length, LEB128: 1 byte below 128][key bytes].
template <class V>
struct LeafLayout {
  static_assert(alignof(V) <= 8, "FastArt values need alignof(V) <= 8");
  static constexpr std::size_t len_offset = sizeof(V);

  static unsigned len_bytes(std::size_t n) noexcept {
    unsigned w = 1;
    while (n >= 0x80) {
      n >>= 7;
      ++w;
    }
    return w;
  }
  static std::size_t bytes(std::size_t key_len) noexcept {
    return len_offset + len_bytes(key_len) + key_len;
  }
  static void write_len(void* leaf, std::uint32_t n) noexcept {
    auto* p = static_cast<unsigned char*>(leaf) + len_offset;
    while (n >= 0x80) {
      *p++ = static_cast<unsigned char>(n | 0x80);
      n >>= 7;
    }
    *p = static_cast<unsigned char>(n);
  }
  static V& value(LeafTag* l) noexcept { return *std::launder(reinterpret_cast<V*>(l)); }
  static const V& value(const LeafTag* l) noexcept {
    return *std::launder(reinterpret_cast<const V*>(l));
  }
  static std::string_view key(const LeafTag* l) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(l) + len_offset;
    std::uint32_t n = *p & 0x7f;
    for (unsigned shift = 7; *p++ & 0x80; shift += 7) n |= static_cast<std::uint32_t>(*p & 0x7f) << shift;
    return {reinterpret_cast<const char*>(p), n};
  }
  static std::size_t key_len(const LeafTag* l) noexcept { return key(l).size(); }
};

// Statistics of the tree's shape (tests, benchmarks).
struct Stats {
  std::size_t node4 = 0, node16 = 0, node48 = 0, node256 = 0;
  std::size_t leaves = 0, end_slots = 0, max_depth = 0;
};

}  // namespace detail::art

// ---------------------------------------------------------------------------------------------
template <class V = std::uint64_t, class Alloc = SlabAllocator>
class FastArt {
  using NodeHeader = detail::art::NodeHeader;
  using NodeType = detail::art::NodeType;
  using Node4 = detail::art::Node4;
  using Node16 = detail::art::Node16;
  using Node48 = detail::art::Node48;
  using Node256 = detail::art::Node256;
  using Ref = detail::art::Ref;
  using LeafTag = detail::art::LeafTag;
  using Leaf = detail::art::LeafLayout<V>;

public:
  using key_type = std::string_view;
  using mapped_type = V;
  using size_type = std::size_t;
  using value_type = basic_entry<const V&>;
  using allocator_type = Alloc;
  using stats_type = detail::art::Stats;

  class const_iterator;
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;

  FastArt() noexcept(std::is_nothrow_default_constructible_v<Alloc>) = default;
  explicit FastArt(const Alloc& alloc) : alloc_(alloc) {}
  FastArt(const FastArt& other) : alloc_(other.alloc_) {
    try {
      root_ = clone(other.root_);
    } catch (...) {
      destroy(root_);
      throw;
    }
    size_ = other.size_;
  }
  FastArt(FastArt&& other) noexcept
      : root_(std::exchange(other.root_, Ref{})),
        size_(std::exchange(other.size_, 0)),
        alloc_(std::move(other.alloc_)) {}
  FastArt& operator=(const FastArt& other) {
    if (this != &other) {
      FastArt copy(other);
      swap(copy);
    }
    return *this;
  }
  FastArt& operator=(FastArt&& other) noexcept {
    if (this != &other) {
      clear();
      root_ = std::exchange(other.root_, Ref{});
      size_ = std::exchange(other.size_, 0);
      alloc_ = std::move(other.alloc_);
    }
    return *this;
  }
  ~FastArt() { destroy(root_); }

  void swap(FastArt& other) noexcept {
    std::swap(root_, other.root_);
    std::swap(size_, other.size_);
    Alloc tmp(std::move(alloc_));
    alloc_ = std::move(other.alloc_);
    other.alloc_ = std::move(tmp);
  }
  friend void swap(FastArt& a, FastArt& b) noexcept { a.swap(b); }

  // --- lookups ------------------------------------------------------------------------------
  V* find(std::string_view key) noexcept {
    LeafTag* l = find_leaf(key);
    return l ? &Leaf::value(l) : nullptr;
  }
  const V* find(std::string_view key) const noexcept {
    const LeafTag* l = const_cast<FastArt*>(this)->find_leaf(key);
    return l ? &Leaf::value(l) : nullptr;
  }
  std::optional<V> get(std::string_view key) const {
    if (const V* v = find(key)) return *v;
    return std::nullopt;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t memory_usage() const noexcept { return alloc_.bytes_in_use() + sizeof(*this); }
  const Alloc& allocator() const noexcept { return alloc_; }

  // --- mutation -----------------------------------------------------------------------------
  bool insert(std::string_view key, V value) { return upsert(key, value, false); }
  bool insert_or_assign(std::string_view key, V value) { return upsert(key, value, true); }
  bool erase(std::string_view key);
  void clear() noexcept {
    destroy(root_);
    root_ = Ref{};
    size_ = 0;
  }

  // --- ordered traversal --------------------------------------------------------------------
  const_iterator begin() const {
    const_iterator it;
    if (root_) it.descend(root_);
    return it;
  }
  const_iterator end() const noexcept { return const_iterator(); }
  const_iterator lower_bound(std::string_view key) const;
  range_type range(std::string_view lo, std::string_view hi) const {
    if (lo.compare(hi) >= 0) return {end(), end()};
    return {lower_bound(lo), lower_bound(hi)};
  }
  range_type prefix(std::string_view p) const {
    auto succ = detail::prefix_successor(p);
    return {lower_bound(p), succ ? lower_bound(*succ) : end()};
  }

  // --- checks -------------------------------------------------------------------------------
  void check_invariants() const;
  stats_type stats() const;

  class const_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using iterator_concept = std::forward_iterator_tag;
    using value_type = basic_entry<const V&>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = arrow_proxy<value_type>;

    const_iterator() = default;
    reference operator*() const noexcept {
      assert(leaf_ != nullptr);
      return {Leaf::key(leaf_), Leaf::value(leaf_)};
    }
    pointer operator->() const noexcept { return {**this}; }
    const_iterator& operator++() {
      advance();
      return *this;
    }
    const_iterator operator++(int) {
      const_iterator old = *this;
      advance();
      return old;
    }
    friend bool operator==(const const_iterator& a, const const_iterator& b) noexcept {
      return a.leaf_ == b.leaf_;
    }

  private:
    friend class FastArt;
    struct Frame {
      const NodeHeader* node;
      int pos;
    };

    // Visit the smallest leaf at or below r.
    void descend(Ref r) {
      while (!r.is_leaf()) {
        stack_.push_back({r.inner(), -1});
        r = detail::art::next_child(stack_.back().node, stack_.back().pos);
        assert(r);
      }
      leaf_ = r.leaf();
    }
    // Move to the next leaf after everything already visited.
    void advance() {
      while (!stack_.empty()) {
        Frame& f = stack_.back();
        if (Ref r = detail::art::next_child(f.node, f.pos)) {
          descend(r);
          return;
        }
        stack_.pop_back();
      }
      leaf_ = nullptr;
    }

    std::vector<Frame> stack_;
    const LeafTag* leaf_ = nullptr;
  };

private:
  // --- small helpers ------------------------------------------------------------------------
  static std::string_view leaf_key(Ref r) noexcept { return Leaf::key(r.leaf()); }

  // Any leaf below node h (the leftmost: all leaves below share h's full prefix).
  static const LeafTag* min_leaf(Ref r) noexcept {
    while (!r.is_leaf()) {
      const NodeHeader* h = r.inner();
      int pos = -1;
      r = detail::art::next_child(h, pos);
    }
    return r.leaf();
  }

  // Byte i of h's compressed path (h sits at depth `depth`).
  static std::uint8_t prefix_byte(const NodeHeader* h, std::size_t depth, std::size_t i,
                                  const LeafTag*& any_leaf) noexcept {
    if (i < detail::art::kStoredPrefix) return h->prefix[i];
    if (any_leaf == nullptr) any_leaf = min_leaf(Ref::from_inner(const_cast<NodeHeader*>(h)));
    return static_cast<std::uint8_t>(Leaf::key(any_leaf)[depth + i]);
  }

  // Length of the match between h's compressed path and key[depth..]: prefix_len when it all
  // matches, else the index of the first difference (or of key's end).
  static std::size_t prefix_match(const NodeHeader* h, std::string_view key,
                                  std::size_t depth) noexcept {
    const std::size_t plen = h->prefix_len;
    const std::size_t avail = key.size() - depth;
    const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
    std::size_t i = 0;
    for (; i < stored; ++i) {
      if (i >= avail || h->prefix[i] != static_cast<std::uint8_t>(key[depth + i])) return i;
    }
    if (plen > stored) {
      std::string_view full = Leaf::key(min_leaf(Ref::from_inner(const_cast<NodeHeader*>(h))));
      const std::size_t n = std::min(plen, avail);
      i += detail::common_prefix_length(full.substr(depth + i, n - i), key.substr(depth + i, n - i));
    }
    return i;
  }

  NodeHeader* alloc_node(NodeType type, unsigned cap, bool end_slot) {
    const std::size_t bytes = detail::art::body_bytes(type, cap) + (end_slot ? sizeof(Ref) : 0);
    void* p = alloc_.allocate(bytes);
    std::memset(p, 0, bytes);
    auto* h = static_cast<NodeHeader*>(p);
    h->type = type;
    h->flags = detail::art::make_flags(type, cap, end_slot);
    return h;
  }
  // A copy of h with room for `cap` children and an end slot or not; the end leaf moves along.
  NodeHeader* resized(const NodeHeader* h, NodeType type, unsigned cap, bool end_slot) {
    NodeHeader* n = alloc_node(type, cap, end_slot);
    copy_children(h, n);
    if (end_slot && detail::art::has_end_slot(h))
      *detail::art::end_slot(n) = *detail::art::end_slot(const_cast<NodeHeader*>(h));
    return n;
  }
  void free_node(NodeHeader* h) noexcept { alloc_.deallocate(h, detail::art::node_bytes(h)); }

  LeafTag* alloc_leaf(std::string_view key, V& value) {
    if (key.size() > UINT32_MAX)
      detail::throw_error("key of " + std::to_string(key.size()) +
                          " bytes exceeds FastArt's limit of 2^32-1");
    const std::size_t bytes = Leaf::bytes(key.size());
    void* p = alloc_.allocate(bytes);
    try {
      ::new (p) V(std::move(value));
    } catch (...) {
      alloc_.deallocate(p, bytes);
      throw;
    }
    Leaf::write_len(p, static_cast<std::uint32_t>(key.size()));
    if (!key.empty())
      std::memcpy(static_cast<char*>(p) + bytes - key.size(), key.data(), key.size());
    return static_cast<LeafTag*>(p);
  }
  LeafTag* clone_leaf(const LeafTag* src) {
    std::string_view key = Leaf::key(src);
    const std::size_t bytes = Leaf::bytes(key.size());
    void* p = alloc_.allocate(bytes);
    try {
      ::new (p) V(Leaf::value(src));
    } catch (...) {
      alloc_.deallocate(p, bytes);
      throw;
    }
    std::memcpy(static_cast<char*>(p) + Leaf::len_offset,
                reinterpret_cast<const char*>(src) + Leaf::len_offset, bytes - Leaf::len_offset);
    return static_cast<LeafTag*>(p);
  }
  void free_leaf(LeafTag* l) noexcept {
    const std::size_t bytes = Leaf::bytes(Leaf::key_len(l));
    Leaf::value(l).~V();
    alloc_.deallocate(l, bytes);
  }

  // Frees a leaf that was allocated for an insert that then failed.
  struct LeafGuard {
    FastArt* map;
    LeafTag* leaf;
    ~LeafGuard() {
      if (leaf) map->free_leaf(leaf);
    }
    LeafTag* release() noexcept { return std::exchange(leaf, nullptr); }
  };

  // Copies header fields and children of `from` into the fresh node `to` of another type.
  static void copy_children(const NodeHeader* from, NodeHeader* to) noexcept;
  void add_child_in_place(NodeHeader* h, std::uint8_t b, Ref child) noexcept;
  void add_child(Ref* slot, std::uint8_t b, Ref child);
  void remove_child(Ref* slot, std::uint8_t b) noexcept;
  void remove_end(Ref* slot) noexcept;
  void collapse_if_single(Ref* slot) noexcept;

  LeafTag* find_leaf(std::string_view key) noexcept;
  bool upsert(std::string_view key, V& value, bool assign);

  Ref clone(Ref src);
  void destroy(Ref r) noexcept;

  Ref root_{};
  std::size_t size_ = 0;
  Alloc alloc_{};
};

// ============================================================================================
// Implementation
// ============================================================================================

template <class V, class Alloc>
auto FastArt<V, Alloc>::find_leaf(std::string_view key) noexcept -> LeafTag* {
  Ref r = root_;
  std::size_t depth = 0;
  while (r) {
    if (r.is_leaf()) return leaf_key(r) == key ? r.leaf() : nullptr;
    NodeHeader* h = r.inner();
    if (const std::size_t plen = h->prefix_len) {
      if (key.size() - depth < plen) return nullptr;
      const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
      if (std::memcmp(h->prefix, key.data() + depth, stored) != 0) return nullptr;
      depth += plen;  // bytes past the stored ones are verified against the leaf
    }
    if (depth == key.size()) {
      Ref e = detail::art::end_leaf(h);
      return e && leaf_key(e) == key ? e.leaf() : nullptr;
    }
    Ref* c = detail::art::find_child(h, static_cast<std::uint8_t>(key[depth]));
    if (c == nullptr) return nullptr;
    r = *c;
    ++depth;
  }
  return nullptr;
}

template <class V, class Alloc>
bool FastArt<V, Alloc>::upsert(std::string_view key, V& value, bool assign) {
  Ref* slot = &root_;
  std::size_t depth = 0;
  if (!root_) {
    root_ = Ref::from_leaf(alloc_leaf(key, value));
    ++size_;
    return true;
  }
  for (;;) {
    Ref cur = *slot;
    if (cur.is_leaf()) {
      std::string_view old = leaf_key(cur);
      if (old == key) {
        if (assign) Leaf::value(cur.leaf()) = std::move(value);
        return false;
      }
      // Lazy expansion ends here: a Node4 holding both leaves below their common prefix.
      const std::size_t lcp = detail::common_prefix_length(old.substr(depth), key.substr(depth));
      const std::size_t split = depth + lcp;
      const bool one_ends = old.size() == split || key.size() == split;
      LeafGuard guard{this, alloc_leaf(key, value)};
      NodeHeader* n = alloc_node(NodeType::N4, one_ends ? 1 : 2, one_ends);
      n->prefix_len = static_cast<std::uint32_t>(lcp);
      std::memcpy(n->prefix, key.data() + depth, std::min<std::size_t>(lcp, detail::art::kStoredPrefix));
      Ref fresh = Ref::from_leaf(guard.release());
      for (Ref l : {cur, fresh}) {
        std::string_view k = leaf_key(l);
        if (k.size() == split)
          *detail::art::end_slot(n) = l;
        else
          add_child_in_place(n, static_cast<std::uint8_t>(k[split]), l);
      }
      *slot = Ref::from_inner(n);
      ++size_;
      return true;
    }

    NodeHeader* h = cur.inner();
    if (h->prefix_len) {
      const std::size_t m = prefix_match(h, key, depth);
      if (m < h->prefix_len) {
        // The key leaves h's compressed path after m bytes: a new Node4 takes the first m
        // bytes, h keeps what follows its branching byte.
        const LeafTag* any = nullptr;
        const std::uint8_t h_byte = prefix_byte(h, depth, m, any);
        const bool key_ends = key.size() == depth + m;
        LeafGuard guard{this, alloc_leaf(key, value)};
        NodeHeader* n = alloc_node(NodeType::N4, key_ends ? 1 : 2, key_ends);
        n->prefix_len = static_cast<std::uint32_t>(m);
        std::memcpy(n->prefix, key.data() + depth, std::min<std::size_t>(m, detail::art::kStoredPrefix));
        // Shift h's path: it now starts at depth + m + 1.
        const std::size_t rest = h->prefix_len - (m + 1);
        std::uint8_t shifted[detail::art::kStoredPrefix];
        const std::size_t keep = std::min<std::size_t>(rest, detail::art::kStoredPrefix);
        for (std::size_t i = 0; i < keep; ++i) shifted[i] = prefix_byte(h, depth, m + 1 + i, any);
        h->prefix_len = static_cast<std::uint32_t>(rest);
        std::memcpy(h->prefix, shifted, keep);
        add_child_in_place(n, h_byte, cur);
        Ref fresh = Ref::from_leaf(guard.release());
        if (key_ends)
          *detail::art::end_slot(n) = fresh;
        else
          add_child_in_place(n, static_cast<std::uint8_t>(key[depth + m]), fresh);
        *slot = Ref::from_inner(n);
        ++size_;
        return true;
      }
      depth += h->prefix_len;
    }

    if (depth == key.size()) {
      Ref e = detail::art::end_leaf(h);
      if (e) {
        if (assign) Leaf::value(e.leaf()) = std::move(value);
        return false;
      }
      LeafGuard guard{this, alloc_leaf(key, value)};
      if (!detail::art::has_end_slot(h)) {
        NodeHeader* n = resized(h, h->type, detail::art::capacity(h), true);
        free_node(h);
        h = n;
        *slot = Ref::from_inner(h);
      }
      *detail::art::end_slot(h) = Ref::from_leaf(guard.release());
      ++size_;
      return true;
    }

    const auto b = static_cast<std::uint8_t>(key[depth]);
    if (Ref* c = detail::art::find_child(h, b)) {
      slot = c;
      ++depth;
      continue;
    }
    LeafGuard guard{this, alloc_leaf(key, value)};
    add_child(slot, b, Ref::from_leaf(guard.leaf));
    guard.release();
    ++size_;
    return true;
  }
}

template <class V, class Alloc>
void FastArt<V, Alloc>::add_child_in_place(NodeHeader* h, std::uint8_t b, Ref child) noexcept {
  assert(h->count < detail::art::capacity(h));
  switch (h->type) {
    case NodeType::N4:
    case NodeType::N16: {
      std::uint8_t* keys;
      Ref* children;
      if (h->type == NodeType::N4) {
        keys = reinterpret_cast<Node4*>(h)->key;
        children = reinterpret_cast<Node4*>(h)->child;
      } else {
        keys = reinterpret_cast<Node16*>(h)->key;
        children = reinterpret_cast<Node16*>(h)->child;
      }
      const unsigned pos = detail::node16_lower_bound_scalar(keys, h->count, b);
      std::memmove(keys + pos + 1, keys + pos, h->count - pos);
      std::memmove(static_cast<void*>(children + pos + 1), children + pos,
                   (h->count - pos) * sizeof(Ref));
      keys[pos] = b;
      children[pos] = child;
      break;
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<Node48*>(h);
      n->child[h->count] = child;
      n->index[b] = static_cast<std::uint8_t>(h->count + 1);
      break;
    }
    default: reinterpret_cast<Node256*>(h)->child[b] = child; break;
  }
  ++h->count;
}

template <class V, class Alloc>
void FastArt<V, Alloc>::copy_children(const NodeHeader* from, NodeHeader* to) noexcept {
  // Header fields but type and flags (the end slot is moved by the caller).
  to->count = 0;
  to->prefix_len = from->prefix_len;
  std::memcpy(to->prefix, from->prefix, sizeof to->prefix);
  detail::art::for_each_child(from, [&](std::uint8_t b, Ref c) {
    switch (to->type) {
      case NodeType::N4: {
        auto* n = reinterpret_cast<Node4*>(to);
        n->key[to->count] = b;
        n->child[to->count] = c;
        break;
      }
      case NodeType::N16: {
        auto* n = reinterpret_cast<Node16*>(to);
        n->key[to->count] = b;
        n->child[to->count] = c;
        break;
      }
      case NodeType::N48: {
        auto* n = reinterpret_cast<Node48*>(to);
        n->child[to->count] = c;
        n->index[b] = static_cast<std::uint8_t>(to->count + 1);
        break;
      }
      default: reinterpret_cast<Node256*>(to)->child[b] = c; break;
    }
    ++to->count;
  });
}

template <class V, class Alloc>
void FastArt<V, Alloc>::add_child(Ref* slot, std::uint8_t b, Ref child) {
  NodeHeader* h = slot->inner();
  const unsigned cap = detail::art::capacity(h);
  if (h->count < cap) {
    add_child_in_place(h, b, child);
    return;
  }
  // One more slot in the same type while it has room, else the next type.
  NodeType type = h->type;
  unsigned new_cap = cap + 1;
  if (cap == detail::art::kMaxCap[static_cast<unsigned>(type)]) {
    type = static_cast<NodeType>(static_cast<int>(type) + 1);
    new_cap = type == NodeType::N16 ? 5 : detail::art::kMaxCap[static_cast<unsigned>(type)];
  }
  NodeHeader* n = resized(h, type, new_cap, detail::art::has_end_slot(h));  // may throw
  add_child_in_place(n, b, child);
  free_node(h);
  *slot = Ref::from_inner(n);
}

// A node left with a single entry is replaced by it: an end leaf or leaf child directly, an
// inner child with h's path, the branching byte and its own path joined.
template <class V, class Alloc>
void FastArt<V, Alloc>::collapse_if_single(Ref* slot) noexcept {
  NodeHeader* h = slot->inner();
  Ref e = detail::art::end_leaf(h);
  const unsigned entries = h->count + (e ? 1u : 0u);
  if (entries != 1) return;
  if (e) {
    *slot = e;
    free_node(h);
    return;
  }
  std::uint8_t byte = 0;
  Ref only;
  detail::art::for_each_child(h, [&](std::uint8_t b, Ref c) {
    byte = b;
    only = c;
  });
  if (only.is_inner()) {
    NodeHeader* c = only.inner();
    std::uint8_t joined[detail::art::kStoredPrefix];
    std::size_t n = 0;
    const std::size_t hp = std::min<std::size_t>(h->prefix_len, detail::art::kStoredPrefix);
    for (std::size_t i = 0; i < hp; ++i) joined[n++] = h->prefix[i];
    if (n < detail::art::kStoredPrefix) joined[n++] = byte;
    const std::size_t cp = std::min<std::size_t>(c->prefix_len, detail::art::kStoredPrefix);
    for (std::size_t i = 0; i < cp && n < detail::art::kStoredPrefix; ++i) joined[n++] = c->prefix[i];
    c->prefix_len = h->prefix_len + 1 + c->prefix_len;
    std::memcpy(c->prefix, joined, n);
  }
  *slot = only;
  free_node(h);
}

template <class V, class Alloc>
void FastArt<V, Alloc>::remove_child(Ref* slot, std::uint8_t b) noexcept {
  NodeHeader* h = slot->inner();
  switch (h->type) {
    case NodeType::N4:
    case NodeType::N16: {
      std::uint8_t* keys;
      Ref* children;
      if (h->type == NodeType::N4) {
        keys = reinterpret_cast<Node4*>(h)->key;
        children = reinterpret_cast<Node4*>(h)->child;
      } else {
        keys = reinterpret_cast<Node16*>(h)->key;
        children = reinterpret_cast<Node16*>(h)->child;
      }
      const int pos = detail::node16_find_scalar(keys, h->count, b);
      assert(pos >= 0);
      const unsigned tail = h->count - static_cast<unsigned>(pos) - 1;
      std::memmove(keys + pos, keys + pos + 1, tail);
      std::memmove(static_cast<void*>(children + pos), children + pos + 1, tail * sizeof(Ref));
      keys[h->count - 1] = 0;
      children[h->count - 1] = Ref{};
      break;
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<Node48*>(h);
      const unsigned s = n->index[b] - 1u;
      const unsigned last = h->count - 1u;
      n->index[b] = 0;
      if (s != last) {
        n->child[s] = n->child[last];
        for (unsigned x = 0; x < 256; ++x)
          if (n->index[x] == last + 1) {
            n->index[x] = static_cast<std::uint8_t>(s + 1);
            break;
          }
      }
      n->child[last] = Ref{};
      break;
    }
    default: reinterpret_cast<Node256*>(h)->child[b] = Ref{}; break;
  }
  --h->count;

  // Shrink: Node4/Node16 to exactly their children; Node256 and Node48 with hysteresis, well
  // below the smaller type's capacity. A node with a single entry left is collapsed instead.
  const unsigned n_children = h->count;
  const bool end = detail::art::has_end_slot(h);
  if (n_children + (detail::art::end_leaf(h) ? 1u : 0u) >= 2 && n_children >= 1) {
    NodeType type = h->type;
    unsigned cap = detail::art::capacity(h);
    if (type == NodeType::N256 && n_children <= 37) {
      type = NodeType::N48;
      cap = 48;
    } else if (type == NodeType::N48 && n_children <= 12) {
      type = NodeType::N16;
      cap = n_children;
    } else if (type == NodeType::N16 && n_children <= 4) {
      type = NodeType::N4;
      cap = n_children;
    } else if (type <= NodeType::N16) {
      cap = n_children;
    }
    if (type != h->type || cap != detail::art::capacity(h)) {
      NodeHeader* n = nullptr;
      try {
        n = resized(h, type, cap, end);
      } catch (...) {
        n = nullptr;  // no memory to shrink: the node stays larger, still valid
      }
      if (n) {
        free_node(h);
        *slot = Ref::from_inner(n);
      }
    }
  }
  collapse_if_single(slot);
}

template <class V, class Alloc>
void FastArt<V, Alloc>::remove_end(Ref* slot) noexcept {
  NodeHeader* h = slot->inner();
  *detail::art::end_slot(h) = Ref{};
  if (h->count >= 2) {
    // Give the slot's 8 bytes back; without memory for the smaller copy, keep an empty slot.
    NodeHeader* n = nullptr;
    try {
      n = resized(h, h->type, detail::art::capacity(h), false);
    } catch (...) {
      n = nullptr;
    }
    if (n) {
      free_node(h);
      *slot = Ref::from_inner(n);
    }
    return;
  }
  collapse_if_single(slot);
}

template <class V, class Alloc>
bool FastArt<V, Alloc>::erase(std::string_view key) {
  if (!root_) return false;
  if (root_.is_leaf()) {
    if (leaf_key(root_) != key) return false;
    free_leaf(root_.leaf());
    root_ = Ref{};
    --size_;
    return true;
  }
  Ref* slot = &root_;
  std::size_t depth = 0;
  for (;;) {
    NodeHeader* h = slot->inner();
    if (const std::size_t plen = h->prefix_len) {
      if (key.size() - depth < plen) return false;
      const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
      if (std::memcmp(h->prefix, key.data() + depth, stored) != 0) return false;
      depth += plen;
    }
    if (depth == key.size()) {
      Ref e = detail::art::end_leaf(h);
      if (!e || leaf_key(e) != key) return false;
      free_leaf(e.leaf());
      remove_end(slot);
      --size_;
      return true;
    }
    const auto b = static_cast<std::uint8_t>(key[depth]);
    Ref* c = detail::art::find_child(h, b);
    if (c == nullptr) return false;
    if (c->is_leaf()) {
      if (leaf_key(*c) != key) return false;
      free_leaf(c->leaf());
      remove_child(slot, b);
      --size_;
      return true;
    }
    slot = c;
    ++depth;
  }
}

template <class V, class Alloc>
auto FastArt<V, Alloc>::lower_bound(std::string_view key) const -> const_iterator {
  const_iterator it;
  Ref r = root_;
  std::size_t depth = 0;
  while (r) {
    if (r.is_leaf()) {
      if (leaf_key(r).compare(key) >= 0)
        it.leaf_ = r.leaf();
      else
        it.advance();
      return it;
    }
    const NodeHeader* h = r.inner();
    if (const std::size_t plen = h->prefix_len) {
      // Compare h's whole path with the key's bytes at the same place.
      std::string_view path = plen <= detail::art::kStoredPrefix
                                  ? std::string_view(reinterpret_cast<const char*>(h->prefix), plen)
                                  : Leaf::key(min_leaf(r)).substr(depth, plen);
      std::string_view part = key.substr(depth, plen);
      const int c = path.compare(part);
      if (c > 0) {  // every key below is greater (this includes part being a proper prefix)
        it.descend(r);
        return it;
      }
      if (c < 0) {  // every key below is smaller
        it.advance();
        return it;
      }
      depth += plen;
    }
    if (depth == key.size()) {  // key equals the path: every key below is >= key
      it.descend(r);
      return it;
    }
    const auto b = static_cast<std::uint8_t>(key[depth]);
    Ref* c = detail::art::find_child(const_cast<NodeHeader*>(h), b);
    it.stack_.push_back({h, detail::art::position_after(h, b, c != nullptr)});
    if (c == nullptr) {
      it.advance();
      return it;
    }
    r = *c;
    ++depth;
  }
  return it;
}

template <class V, class Alloc>
auto FastArt<V, Alloc>::clone(Ref src) -> Ref {
  // Iterative: trees of long keys that are prefixes of each other can be very deep.
  if (!src) return Ref{};
  if (src.is_leaf()) return Ref::from_leaf(clone_leaf(src.leaf()));
  struct Work {
    const NodeHeader* from;
    NodeHeader* to;
  };
  auto copy_node = [&](const NodeHeader* from) {
    const std::size_t bytes = detail::art::node_bytes(from);
    auto* to = static_cast<NodeHeader*>(alloc_.allocate(bytes));
    std::memcpy(to, from, bytes);
    // Children are filled in as they are copied, so a partial copy is always destroyable.
    switch (to->type) {
      case NodeType::N4:
        std::fill_n(reinterpret_cast<Node4*>(to)->child, detail::art::capacity(to), Ref{});
        break;
      case NodeType::N16:
        std::fill_n(reinterpret_cast<Node16*>(to)->child, detail::art::capacity(to), Ref{});
        break;
      case NodeType::N48: std::fill_n(reinterpret_cast<Node48*>(to)->child, 48, Ref{}); break;
      default: std::fill_n(reinterpret_cast<Node256*>(to)->child, 256, Ref{}); break;
    }
    if (detail::art::has_end_slot(to)) *detail::art::end_slot(to) = Ref{};
    return to;
  };
  NodeHeader* top = copy_node(src.inner());
  Ref result = Ref::from_inner(top);
  std::vector<Work> work{{src.inner(), top}};
  try {
    while (!work.empty()) {
      Work w = work.back();
      work.pop_back();
      auto place = [&](Ref* dst, Ref from_child) {
        if (from_child.is_leaf()) {
          *dst = Ref::from_leaf(clone_leaf(from_child.leaf()));
        } else {
          NodeHeader* n = copy_node(from_child.inner());
          *dst = Ref::from_inner(n);
          work.push_back({from_child.inner(), n});
        }
      };
      if (Ref e = detail::art::end_leaf(w.from)) place(detail::art::end_slot(w.to), e);
      switch (w.from->type) {
        case NodeType::N4:
          for (unsigned i = 0; i < w.from->count; ++i)
            place(&reinterpret_cast<Node4*>(w.to)->child[i],
                  reinterpret_cast<const Node4*>(w.from)->child[i]);
          break;
        case NodeType::N16:
          for (unsigned i = 0; i < w.from->count; ++i)
            place(&reinterpret_cast<Node16*>(w.to)->child[i],
                  reinterpret_cast<const Node16*>(w.from)->child[i]);
          break;
        case NodeType::N48:
          for (unsigned i = 0; i < w.from->count; ++i)
            place(&reinterpret_cast<Node48*>(w.to)->child[i],
                  reinterpret_cast<const Node48*>(w.from)->child[i]);
          break;
        default:
          for (unsigned i = 0; i < 256; ++i)
            if (Ref c = reinterpret_cast<const Node256*>(w.from)->child[i])
              place(&reinterpret_cast<Node256*>(w.to)->child[i], c);
          break;
      }
    }
  } catch (...) {
    destroy(result);
    throw;
  }
  return result;
}

// Frees a whole subtree without allocating: the walk keeps its way back up in the prefix bytes
// of the nodes it is taking apart (they are dead by then), and a node's count (or, in a Node256,
// its prefix_len) serves as the cursor over its remaining children.
template <class V, class Alloc>
void FastArt<V, Alloc>::destroy(Ref r) noexcept {
  if (!r) return;
  if (r.is_leaf()) {
    free_leaf(r.leaf());
    return;
  }
  auto set_parent = [](NodeHeader* h, NodeHeader* parent) {
    static_assert(sizeof(h->prefix) >= sizeof(parent));
    std::memcpy(h->prefix, &parent, sizeof parent);
  };
  auto parent_of = [](const NodeHeader* h) {
    NodeHeader* parent;
    std::memcpy(&parent, h->prefix, sizeof parent);
    return parent;
  };
  auto take_child = [](NodeHeader* h) -> Ref {
    if (detail::art::has_end_slot(h)) {
      if (Ref e = std::exchange(*detail::art::end_slot(h), Ref{})) return e;
    }
    Ref* children = nullptr;
    switch (h->type) {
      case NodeType::N4: children = reinterpret_cast<Node4*>(h)->child; break;
      case NodeType::N16: children = reinterpret_cast<Node16*>(h)->child; break;
      case NodeType::N48: children = reinterpret_cast<Node48*>(h)->child; break;
      default: {
        Ref* all = reinterpret_cast<Node256*>(h)->child;
        while (h->prefix_len < 256)  // a partial copy may have empty slots anywhere
          if (Ref c = all[h->prefix_len++]) return c;
        return Ref{};
      }
    }
    while (h->count > 0)  // a partial copy may have empty slots at the end
      if (Ref c = children[--h->count]) return c;
    return Ref{};
  };
  NodeHeader* h = r.inner();
  set_parent(h, nullptr);
  if (h->type == NodeType::N256) h->prefix_len = 0;
  while (h != nullptr) {
    Ref next = take_child(h);
    if (!next) {
      NodeHeader* parent = parent_of(h);
      free_node(h);
      h = parent;
    } else if (next.is_leaf()) {
      free_leaf(next.leaf());
    } else {
      NodeHeader* c = next.inner();
      set_parent(c, h);
      if (c->type == NodeType::N256) c->prefix_len = 0;
      h = c;
    }
  }
}

template <class V, class Alloc>
auto FastArt<V, Alloc>::stats() const -> stats_type {
  stats_type s;
  if (!root_) return s;
  std::vector<std::pair<Ref, std::size_t>> stack{{root_, 0}};
  while (!stack.empty()) {
    auto [r, d] = stack.back();
    stack.pop_back();
    s.max_depth = std::max(s.max_depth, d);
    if (r.is_leaf()) {
      ++s.leaves;
      continue;
    }
    const NodeHeader* h = r.inner();
    switch (h->type) {
      case NodeType::N4: ++s.node4; break;
      case NodeType::N16: ++s.node16; break;
      case NodeType::N48: ++s.node48; break;
      default: ++s.node256; break;
    }
    if (Ref e = detail::art::end_leaf(h)) {
      ++s.end_slots;
      stack.push_back({e, d + 1});
    }
    detail::art::for_each_child(h, [&](std::uint8_t, Ref c) { stack.push_back({c, d + 1}); });
  }
  return s;
}

template <class V, class Alloc>
void FastArt<V, Alloc>::check_invariants() const {
  auto fail = [](const std::string& what) { detail::throw_error("FastArt invariant: " + what); };
  if (!root_) {
    if (size_ != 0) fail("empty tree with size " + std::to_string(size_));
    return;
  }
  std::size_t leaves = 0;
  struct Item {
    Ref r;
    std::size_t depth;
  };
  std::vector<Item> stack{{root_, 0}};
  while (!stack.empty()) {
    Item it = stack.back();
    stack.pop_back();
    if (it.r.is_leaf()) {
      ++leaves;
      if (leaf_key(it.r).size() < it.depth) fail("leaf key shorter than its depth");
      continue;
    }
    const NodeHeader* h = it.r.inner();
    if (static_cast<unsigned>(h->type) > 3) fail("bad node type");
    const unsigned cap = detail::art::capacity(h);
    if (cap == 0 || cap > detail::art::kMaxCap[static_cast<unsigned>(h->type)])
      fail("bad node capacity");
    if (h->count > cap) fail("node over capacity");
    const Ref e = detail::art::end_leaf(h);
    if (h->count + (e ? 1u : 0u) < 2) fail("node with fewer than two entries");
    const std::string_view ref_key = Leaf::key(min_leaf(it.r));
    const std::size_t end = it.depth + h->prefix_len;
    if (ref_key.size() < end) fail("node path longer than its keys");
    const std::size_t stored = std::min<std::size_t>(h->prefix_len, detail::art::kStoredPrefix);
    if (std::memcmp(h->prefix, ref_key.data() + it.depth, stored) != 0)
      fail("stored prefix differs from the keys below");
    auto check_child = [&](Ref c, int byte) {
      if (!c) fail("empty child slot in use");
      std::string_view k = Leaf::key(min_leaf(c));
      if (byte < 0) {
        if (!c.is_leaf() || k.size() != end) fail("end slot holds a key of the wrong length");
      } else if (k.size() <= end || static_cast<std::uint8_t>(k[end]) != byte) {
        fail("child reached by the wrong byte");
      }
      if (std::memcmp(k.data(), ref_key.data(), end) != 0) fail("child leaves the node's path");
      stack.push_back({c, byte < 0 ? end : end + 1});
    };
    if (e) check_child(e, -1);
    int last = -1;
    unsigned seen = 0;
    detail::art::for_each_child(h, [&](std::uint8_t b, Ref c) {
      if (static_cast<int>(b) <= last) fail("child bytes not strictly increasing");
      last = b;
      ++seen;
      check_child(c, b);
    });
    if (seen != h->count) fail("child count mismatch");
    if (h->type == NodeType::N48) {
      auto* n = reinterpret_cast<const Node48*>(h);
      bool used[48] = {};
      for (unsigned b = 0; b < 256; ++b) {
        if (!n->index[b]) continue;
        const unsigned s = n->index[b] - 1u;
        if (s >= h->count || used[s]) fail("Node48 index points outside or twice");
        used[s] = true;
      }
    }
  }
  if (leaves != size_) fail("size " + std::to_string(size_) + " but " + std::to_string(leaves) + " leaves");
}

}  // namespace memkv
