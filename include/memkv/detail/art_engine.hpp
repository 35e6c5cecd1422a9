// memkv/detail/art_engine.hpp - the adaptive radix tree shared by FastArt and ArenaArt.
//
// One engine, two memory models: the tree's algorithms (insert with lazy expansion and path
// compression, erase with shrinking and path merging, ordered iteration, lower_bound, copy,
// destruction, invariant checks) are written once here, over a Store that owns the memory and
// defines what a child reference is. The node layouts are templates over that reference type.
// Read memkv/fast_art.hpp for the layout drawn as structs and for the guarantees.
#pragma once

#include <algorithm>
#include <array>
#include <concepts>
#include <cassert>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <memory>
#include <new>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../core/entry.hpp"
#include "../core/error.hpp"
#include "../core/key.hpp"
#include "../core/prefetch.hpp"
#include "../core/simd.hpp"
#include "key_code.hpp"
#include "point_index.hpp"

namespace memkv {

// Tuning of FastArt and ArenaArt (detail::art::Tree).
struct art_options {
  // Once the tree holds this many keys it learns a code of their bytes (detail/key_code.hpp) and
  // from then on stores each key that the code makes shorter in coded form; 0: keys are stored
  // as they are. (Default-constructed trees: 0 for FastArt, 4096 for ArenaArt.)
  std::size_t code_sample_keys = 0;
  // Keep a hash index of the leaves beside the tree (detail/point_index.hpp; "Point index" in
  // memkv/fast_art.hpp): point lookups read a bucket and a leaf instead of descending; it costs
  // memory (ArenaArt: 4.4-5.7 bytes a key; FastArt: twice that) and insert speed. Off by default.
  bool point_index = false;
};

namespace detail::art {

enum class NodeType : std::uint8_t { N4 = 0, N16 = 1, N48 = 2, N256 = 3 };

inline constexpr unsigned kStoredPrefix = 4;
inline constexpr std::uint8_t kHasEndSlot = 1;

struct NodeHeader {
  NodeType type;
  std::uint8_t flags;
  std::uint16_t count;
  std::uint32_t prefix_len;
  std::uint8_t prefix[kStoredPrefix];
};
static_assert(sizeof(NodeHeader) == 12, "node header is 12 bytes");

struct LeafTag;  // leaves are raw memory laid out by LeafLayout<V>

// find_many's callback for a find_leaves walk (FastArt, ArenaArt, HotArt): (i, leaf or nullptr)
// becomes on_found(i, P), P = V* or const V*: the leaf's value, or nullptr.
template <class Leaf, class P, class OnFound>
auto leaf_values(OnFound& on_found) noexcept {
  return [&on_found](std::size_t i, const LeafTag* l) {
    on_found(i, l ? static_cast<P>(&Leaf::value(const_cast<LeafTag*>(l))) : static_cast<P>(nullptr));
  };
}

// The node layouts, for a child reference type R (a 64-bit tagged pointer in FastArt, a 32-bit
// arena reference in ArenaArt).
template <class R>
struct Node4 {
  NodeHeader h;
  std::uint8_t key[4];
  R child[4];
};
template <class R>
struct Node16 {
  NodeHeader h;
  std::uint8_t key[16];
  R child[16];
};
template <class R>
struct Node48 {
  NodeHeader h;
  std::uint8_t index[256];
  R child[48];
};
template <class R>
struct Node256 {
  NodeHeader h;
  R child[256];
};

// Node4 and Node16 are allocated with room for exactly `cap` children (Node4: 1..4, Node16:
// 5..16), so a node pays only for the slots it uses; cap lives in flags bits 1..5. Node48 and
// Node256 always have all their slots.
inline constexpr unsigned kMaxCap[4] = {4, 16, 48, 256};
template <class R>
constexpr std::size_t body_bytes(NodeType t, unsigned cap) noexcept {
  switch (t) {
    case NodeType::N4: return offsetof(Node4<R>, child) + cap * sizeof(R);
    case NodeType::N16: return offsetof(Node16<R>, child) + cap * sizeof(R);
    case NodeType::N48: return sizeof(Node48<R>);
    default: return sizeof(Node256<R>);
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
template <class R>
std::size_t body_bytes(const NodeHeader* h) noexcept {
  return body_bytes<R>(h->type, capacity(h));
}
template <class R>
std::size_t node_bytes(const NodeHeader* h) noexcept {
  return body_bytes<R>(h) + (has_end_slot(h) ? sizeof(R) : 0);
}
template <class R>
R* end_slot(NodeHeader* h) noexcept {
  return reinterpret_cast<R*>(reinterpret_cast<char*>(h) + body_bytes<R>(h));
}
template <class R>
R end_leaf(const NodeHeader* h) noexcept {
  return has_end_slot(h) ? *end_slot<R>(const_cast<NodeHeader*>(h)) : R{};
}

// Slot of the child reached by byte b, or nullptr.
template <class R>
R* find_child(NodeHeader* h, std::uint8_t b) noexcept {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<Node4<R>*>(h);
      for (unsigned i = 0; i < h->count; ++i)
        if (n->key[i] == b) return &n->child[i];
      return nullptr;
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<Node16<R>*>(h);
      const int i = node16_find(n->key, h->count, b);
      return i < 0 ? nullptr : &n->child[i];
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<Node48<R>*>(h);
      const unsigned i = n->index[b];
      return i == 0 ? nullptr : &n->child[i - 1];
    }
    default: {
      auto* n = reinterpret_cast<Node256<R>*>(h);
      return n->child[b] ? &n->child[b] : nullptr;
    }
  }
}

// Iteration positions: -1 is the end slot, then 0.. are child positions (N4/N16: index into the
// sorted arrays; N48/N256: the byte). next_child returns the entry at or after pos, in key order,
// and sets pos just past it; an empty Ref when the node is exhausted.
template <class R>
R next_child(const NodeHeader* h, int& pos) noexcept {
  if (pos < 0) {
    pos = 0;
    if (R e = end_leaf<R>(h)) return e;
  }
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4<R>*>(h);
      if (pos < h->count) return n->child[pos++];
      return R{};
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16<R>*>(h);
      if (pos < h->count) return n->child[pos++];
      return R{};
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<const Node48<R>*>(h);
      for (; pos < 256; ++pos)
        if (n->index[pos] != 0) return n->child[n->index[pos++] - 1];
      return R{};
    }
    default: {
      auto* n = reinterpret_cast<const Node256<R>*>(h);
      for (; pos < 256; ++pos)
        if (n->child[pos]) return n->child[pos++];
      return R{};
    }
  }
}

// The position just past byte b (when b is present) or of the first byte > b (when absent).
template <class R>
int position_after(const NodeHeader* h, std::uint8_t b, bool present) noexcept {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4<R>*>(h);
      unsigned i = 0;
      while (i < h->count && n->key[i] < b) ++i;
      return static_cast<int>(i + (present ? 1 : 0));
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16<R>*>(h);
      const unsigned i = node16_lower_bound(n->key, h->count, b);
      return static_cast<int>(i + (present ? 1 : 0));
    }
    default: return static_cast<int>(b) + 1;
  }
}

// The child bytes in order (for tests, copy and checks).
template <class R, class F>
void for_each_child(const NodeHeader* h, F&& f) {
  switch (h->type) {
    case NodeType::N4: {
      auto* n = reinterpret_cast<const Node4<R>*>(h);
      for (unsigned i = 0; i < h->count; ++i) f(n->key[i], n->child[i]);
      break;
    }
    case NodeType::N16: {
      auto* n = reinterpret_cast<const Node16<R>*>(h);
      for (unsigned i = 0; i < h->count; ++i) f(n->key[i], n->child[i]);
      break;
    }
    case NodeType::N48: {
      auto* n = reinterpret_cast<const Node48<R>*>(h);
      for (unsigned b = 0; b < 256; ++b)
        if (n->index[b]) f(static_cast<std::uint8_t>(b), n->child[n->index[b] - 1]);
      break;
    }
    default: {
      auto* n = reinterpret_cast<const Node256<R>*>(h);
      for (unsigned b = 0; b < 256; ++b)
        if (n->child[b]) f(static_cast<std::uint8_t>(b), n->child[b]);
      break;
    }
  }
}

// Leaf layout for values of type V: [V value][LEB128 of (n << FlagBits | flags)][n key bytes].
// FastArt and ArenaArt: FlagBits = 0, the bytes are the key. HotArt: FlagBits = 1, flag 1 = the
// bytes are the key's coded form (detail/key_code.hpp).
template <class V, unsigned FlagBits = 0>
struct LeafLayout {
  static_assert(alignof(V) <= 8, "ART values need alignof(V) <= 8");
  static constexpr std::size_t len_offset = sizeof(V);

  static unsigned len_bytes(std::uint64_t n) noexcept {
    unsigned w = 1;
    while (n >= 0x80) {
      n >>= 7;
      ++w;
    }
    return w;
  }
  static std::size_t bytes(std::size_t n, unsigned flags = 0) noexcept {
    return len_offset + len_bytes((std::uint64_t{n} << FlagBits) | flags) + n;
  }
  static void write_len(void* leaf, std::uint64_t n, unsigned flags = 0) noexcept {
    auto* p = static_cast<unsigned char*>(leaf) + len_offset;
    n = (n << FlagBits) | flags;
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
  // The stored bytes (the key when FlagBits == 0) and the flags.
  static std::string_view stored(const LeafTag* l, unsigned& flags) noexcept {
    const auto* p = reinterpret_cast<const unsigned char*>(l) + len_offset;
    std::uint64_t n = *p & 0x7f;
    for (unsigned shift = 7; *p++ & 0x80; shift += 7) n |= static_cast<std::uint64_t>(*p & 0x7f) << shift;
    flags = static_cast<unsigned>(n & ((1u << FlagBits) - 1));
    return {reinterpret_cast<const char*>(p), static_cast<std::size_t>(n >> FlagBits)};
  }
  static std::string_view key(const LeafTag* l) noexcept {
    static_assert(FlagBits == 0, "leaves with flags: use stored()");
    unsigned flags = 0;
    return stored(l, flags);
  }
  static std::size_t bytes_of(const LeafTag* l) noexcept {
    unsigned flags = 0;
    return bytes(stored(l, flags).size(), flags);
  }
};

// Leaves over a Store (see Tree below): FastArt, ArenaArt, HotArt and ArenaHotArt all make, copy
// and free their leaves with these. If V's constructor throws, the block is given back.
// `limit_name` names the limit in the error for an over-long key ("the limit", "HotArt's limit").
// make_leaf stores `n` bytes written by fill(char*) under `flags`.
template <class V, class Layout, class Store, class Fill>
typename Store::Ref make_leaf(Store& store, std::size_t n, unsigned flags, V& value,
                              const char* limit_name, Fill&& fill) {
  if (n > UINT32_MAX)
    detail::throw_error("key of " + std::to_string(n) + " bytes exceeds " + limit_name +
                        " of 2^32-1");
  const std::size_t bytes = Layout::bytes(n, flags);
  LeafTag* l = nullptr;
  const auto r = store.new_leaf(bytes, l);
  try {
    ::new (static_cast<void*>(l)) V(std::move(value));
  } catch (...) {
    store.delete_leaf(r, bytes);
    throw;
  }
  Layout::write_len(l, n, flags);
  if (n != 0) fill(reinterpret_cast<char*>(l) + bytes - n);
  return r;
}
template <class V, class Store>
typename Store::Ref make_leaf(Store& store, std::string_view key, V& value, const char* limit_name) {
  return make_leaf<V, LeafLayout<V>>(store, key.size(), 0, value, limit_name,
                                     [&](char* to) { std::memcpy(to, key.data(), key.size()); });
}
// A copy of leaf src (of any tree) in `store`.
template <class V, class Store, class Layout = LeafLayout<V>>
typename Store::Ref clone_leaf(Store& store, const LeafTag* src) {
  const std::size_t bytes = Layout::bytes_of(src);
  LeafTag* l = nullptr;
  const auto r = store.new_leaf(bytes, l);
  try {
    ::new (static_cast<void*>(l)) V(Layout::value(src));
  } catch (...) {
    store.delete_leaf(r, bytes);
    throw;
  }
  std::memcpy(reinterpret_cast<char*>(l) + Layout::len_offset,
              reinterpret_cast<const char*>(src) + Layout::len_offset, bytes - Layout::len_offset);
  return r;
}
template <class V, class Store, class Layout = LeafLayout<V>>
void free_leaf(Store& store, typename Store::Ref r) noexcept {
  LeafTag* l = store.leaf(r);
  const std::size_t bytes = Layout::bytes_of(l);
  Layout::value(l).~V();
  store.delete_leaf(r, bytes);
}
// A leaf in a walk that takes a whole tree apart (destroy<kFree>): freed, or, when the store will
// drop every block at once (kFree = false), only its value destroyed.
template <bool kFree, class V, class Store, class Layout = LeafLayout<V>>
void drop_leaf(Store& store, typename Store::Ref r) noexcept {
  if constexpr (kFree)
    free_leaf<V, Store, Layout>(store, r);
  else
    Layout::value(store.leaf(r)).~V();
}

// Frees a whole tree (Tree's and BasicHotArt's destructors and clear()): a store that can drop
// all its blocks at once (an arena: BasicArenaStore::release_all) does so, after walk(false_type)
// runs the values' destructors, if V has any, without freeing anything; any other store frees
// each node and leaf, walk(true_type).
template <class V, class Store, class Walk>
void destroy_tree(Store& store, Walk&& walk) noexcept {
  if constexpr (requires(Store& st) { st.release_all(); }) {
    if constexpr (!std::is_trivially_destructible_v<V>) walk(std::false_type{});
    store.release_all();
  } else {
    walk(std::true_type{});
  }
}

// --- coded keys (detail/key_code.hpp), shared by Tree below and BasicHotArt (hot_art.hpp) -----
// Their leaves are LeafLayout<V, 1>: flag 1 says the stored bytes are the key's coded form.

// A map's key code: none until the map holds `learn_at` keys (0: never), then learnt once,
// immutable and shared by copies; forgotten when the map empties.
class CodeSlot {
public:
  explicit CodeSlot(std::size_t sample_keys = 0) noexcept : sample_(sample_keys), learn_at_(sample_keys) {}
  CodeSlot(const CodeSlot&) = default;
  CodeSlot& operator=(const CodeSlot&) = default;
  // A moved-from slot has no code and learns again as the options say.
  CodeSlot(CodeSlot&& o) noexcept
      : code_(std::move(o.code_)), sample_(o.sample_), learn_at_(std::exchange(o.learn_at_, o.sample_)) {}
  CodeSlot& operator=(CodeSlot&& o) noexcept {
    code_ = std::move(o.code_);
    sample_ = o.sample_;
    learn_at_ = std::exchange(o.learn_at_, o.sample_);
    return *this;
  }

  const key_code* get() const noexcept { return code_.get(); }
  std::size_t sample_keys() const noexcept { return sample_; }
  // Whether a map of `size` keys should learn its code now.
  bool due(std::size_t size) const noexcept { return learn_at_ != 0 && size >= learn_at_ && !code_; }
  void set(std::shared_ptr<const key_code> code) noexcept {
    code_ = std::move(code);
    learn_at_ = 0;
  }
  void never() noexcept { learn_at_ = 0; }
  void retry_at(std::size_t size) noexcept { learn_at_ = size; }
  void forget() noexcept {
    code_.reset();
    learn_at_ = sample_;
  }
  std::size_t memory_usage() const noexcept { return code_ ? sizeof(key_code) : 0; }

private:
  std::shared_ptr<const key_code> code_;
  std::size_t sample_;
  std::size_t learn_at_;
};

// Counts the bytes of a key for learning a code: at most its first 256, so that a few huge keys
// do not make the code theirs.
inline void count_key_bytes(std::array<std::uint64_t, 256>& freq, std::string_view key) noexcept {
  for (unsigned char b : key.substr(0, 256)) ++freq[b];
}

// The key of leaf l: its stored bytes, or decoded into buf.
template <class Layout>
std::string_view leaf_key(const LeafTag* l, const key_code* code, std::string& buf) {
  unsigned flags = 0;
  const std::string_view s = Layout::stored(l, flags);
  if (flags == 0) return s;
  buf.clear();
  code->decode(s, buf);
  return buf;
}
// Whether leaf l holds key (a coded key is compared with key's coded form, made on the fly).
template <class Layout>
bool leaf_holds(const LeafTag* l, const key_code* code, std::string_view key) noexcept {
  unsigned flags = 0;
  const std::string_view s = Layout::stored(l, flags);
  return flags == 0 ? s == key : code->equals(s, key);
}

// How far `stored` (a key as it is) agrees with key, given that their first `from` bytes do:
// {common prefix length, stored's byte there or -1 where it ends} (see key_code::mismatch).
inline key_code::mismatch raw_mismatch(std::string_view stored, std::string_view key, std::size_t from) noexcept {
  const std::size_t common = from + common_prefix_length(stored.substr(from), key.substr(from));
  return {common, common < stored.size() ? static_cast<int>(static_cast<unsigned char>(stored[common])) : -1};
}
// The same for leaf l's key, decoding a coded one only as far as it agrees with key.
template <class Layout>
key_code::mismatch leaf_mismatch(const LeafTag* l, const key_code* code, std::string_view key,
                                 std::size_t from) noexcept {
  unsigned flags = 0;
  const std::string_view s = Layout::stored(l, flags);
  return flags == 0 ? raw_mismatch(s, key, from) : code->mismatch_with(s, key, from);
}

// A leaf for key: stored coded when there is a code and the coded form is shorter.
template <class V, class Layout, class Store>
typename Store::Ref make_key_leaf(Store& store, std::string_view key, V& value, const key_code* code,
                                  const char* limit_name) {
  if (code != nullptr && key.size() > 1) {
    // Short keys are coded once, on the stack; longer ones are measured first, then coded.
    char local[264];  // <= 12 bits a byte: a key of 160 bytes codes in at most 241 bytes + 8
    const bool small = key.size() <= 160;
    const std::size_t n = small ? code->encode(key, local) : code->coded_bytes(key);
    if (n < key.size())
      return make_leaf<V, Layout>(store, n, 1, value, limit_name, [&](char* to) {
        if (small)
          std::memcpy(to, local, n);
        else
          code->encode_exact(key, to, n);
      });
  }
  return make_leaf<V, Layout>(store, key.size(), 0, value, limit_name,
                              [&](char* to) { std::memcpy(to, key.data(), key.size()); });
}

// A search key on its way down a tree: with a code it is coded 8 bytes a level, while each
// node is on its way from memory, and a coded leaf is then compared with it byte for byte.
class SearchKey {
public:
  SearchKey(std::string_view key, const key_code* code) noexcept
      : key_(key), code_(code), pipelined_(code != nullptr && key.size() <= 160), enc_(coded_) {}
  SearchKey(const SearchKey&) = delete;  // enc_ points into coded_
  SearchKey& operator=(const SearchKey&) = delete;
  std::string_view key() const noexcept { return key_; }
  // Called once a level.
  void step() noexcept {
    if (pipelined_) code_->encode_some(key_, enc_, 8);
  }
  // Whether leaf l holds the key.
  template <class Layout>
  bool found_in(const LeafTag* l) noexcept {
    if (!pipelined_) return leaf_holds<Layout>(l, code_, key_);
    detail::prefetch(l);
    const std::size_t n = code_->encode_rest(key_, enc_);
    unsigned flags = 0;
    const std::string_view s = Layout::stored(l, flags);
    return flags == 0 ? s == key_ : s == std::string_view(coded_, n);
  }

private:
  std::string_view key_;
  const key_code* code_;
  bool pipelined_;
  char coded_[264];  // <= 12 bits a byte: at most 241 bytes + 8
  key_code::encoder enc_;
};

// An iterator's current leaf and its key: viewed in place, or decoded into a buffer. In a scan,
// a coded key keeps the bytes whose codes it shares with the previous coded key (its neighbour
// in key order, so usually a long prefix) and decodes only the rest.
template <class Layout>
class LeafCursor {
public:
  explicit LeafCursor(const key_code* code = nullptr) noexcept : code_(code) {}
  const LeafTag* leaf() const noexcept { return leaf_; }
  std::string_view key() const noexcept { return coded_ ? std::string_view(buf_) : raw_; }
  bool coded() const noexcept { return coded_; }
  void reset() noexcept { leaf_ = nullptr; }
  void set(const LeafTag* l) {
    unsigned flags = 0;
    const std::string_view stored = Layout::stored(l, flags);
    if (flags != 0) {
      if (coded_ && leaf_ != nullptr) {
        const auto [keep, bit] = code_->resume_point(buf_, raw_, stored);
        buf_.resize(keep);
        code_->decode(stored, buf_, bit);
      } else {
        buf_.clear();
        code_->decode(stored, buf_);
      }
    }
    leaf_ = l;
    raw_ = stored;
    coded_ = flags != 0;
  }

private:
  const LeafTag* leaf_ = nullptr;
  const key_code* code_;
  std::string_view raw_;  // the leaf's stored bytes
  bool coded_ = false;    // ... which are coded: the key is buf_
  std::string buf_;
};

// The point index of a tree whose leaves are LeafLayout leaves in a Store (FastArt, ArenaArt,
// HotArt, ArenaHotArt, each with its options' point_index; detail/point_index.hpp holds the table,
// this class what it needs from the tree: a leaf's id, a key's hash and whether a leaf holds it).
//
// A key is hashed as it is (not coded): a lookup hashes it and prefetches its bucket at once, and
// codes it while the bucket is on its way; a rebuild decodes each coded leaf to hash it. (Tried,
// 2026-12-04: hashing the stored, coded form instead, so that rebuilds need not decode. npm-urls
// shuffled, then every key's get(), scratch program, old/new alternating: ArenaArt+index inserts
// 1748/1788/1814 -> 1493/1611/1505 ns but get() 417/481/496 -> 510/563/523 ns, ArenaHotArt+index
// inserts 3057/2842 -> 2482/2375 ns and get() 463/448 -> 584/475 ns: the bucket's miss then
// waits for the coding. Lookups are what the index is for: not kept.) A coded
// form longer than kCoded bytes is not made by a lookup: a leaf holding one is compared by
// key_code::equals. Leaf ids are the leaf references without their tag bit: an arena address, or
// a pointer >> 1.
template <class Layout, class Store>
class LeafIndex {
public:
  using Ref = typename Store::Ref;
  static constexpr std::size_t kCoded = 160;
  // A key as the index sees it.
  struct Key {
    std::uint64_t h;
    std::string_view key, stored;
    unsigned form;  // 0: stored raw, 1: stored coded (== stored), 2: coded, longer than kCoded
    char buf[264];  // a coded form of <= kCoded bytes (<= 12 bits a byte), written 8 at a time
  };

  // refill_percent: the load the table's rebuilds leave (point_index).
  explicit LeafIndex(bool enabled = false,
                     unsigned refill_percent = point_index::kDefaultRefillPercent) noexcept
      : index_(enabled, refill_percent) {}
  LeafIndex(LeafIndex&&) noexcept = default;
  LeafIndex& operator=(LeafIndex&&) noexcept = default;
  void swap(LeafIndex& o) noexcept { index_.swap(o.index_); }

  bool enabled() const noexcept { return index_.enabled(); }
  bool usable() const noexcept { return index_.usable(); }
  std::size_t size() const noexcept { return index_.size(); }
  std::size_t memory_usage() const noexcept { return index_.memory_usage(); }
  void reset() noexcept { index_.reset(); }

  // Starts loading key's bucket (insert_many's warm-up).
  void prefetch_key(std::string_view key) const noexcept { index_.prefetch(detail::hash_key(key)); }
  // Hashes key (prefetching its bucket) and codes it as make_key_leaf would store it.
  void make_key(std::string_view key, const key_code* code, Key& q) const noexcept {
    q.key = q.stored = key;
    q.form = 0;
    q.h = detail::hash_key(key);
    index_.prefetch(q.h);
    if (code != nullptr && key.size() > 1) {
      std::size_t n = 0;
      if (key.size() <= kCoded) {
        n = code->encode(key, q.buf);
      } else {
        n = code->coded_bytes(key);
        if (n < key.size() && n <= kCoded) code->encode(key, q.buf);
      }
      if (n < key.size()) {
        q.form = n <= kCoded ? 1 : 2;
        if (q.form == 1) q.stored = std::string_view(q.buf, n);
      }
    }
  }
  // The id of the leaf holding q's key, or point_index::npos; find: the leaf, or nullptr.
  std::uint64_t find_id(const Store& store, const key_code* code, const Key& q) const noexcept {
    return index_.find(q.h, [&](std::uint64_t i) { return matches(leaf_of(store, i), code, q); });
  }
  const LeafTag* find(const Store& store, const key_code* code, const Key& q) const noexcept {
    const std::uint64_t id = find_id(store, code, q);
    return id == point_index::npos ? nullptr : leaf_of(store, id);
  }
  // A leaf leaving the tree (the other leaves must be readable: a shrinking rebuild reads them).
  void remove(const Store& store, const key_code* code, std::uint64_t h, std::uint64_t id) noexcept {
    index_.remove(h, id, Source{&store, code});
  }
  // insert/insert_or_assign of a tree with a usable index: a key held is found (and, with
  // assign, assigned) here; otherwise tree_upsert(Ref& added, const Key& q) inserts it into the
  // tree, setting added to the new leaf (made by make_leaf_for(q)), which is then indexed.
  // Returns whether the key was inserted.
  template <class V, class TreeUpsert>
  bool upsert(const Store& store, const key_code* code, std::string_view key, V& value, bool assign,
              TreeUpsert&& tree_upsert) {
    Key q;
    make_key(key, code, q);
    if (const LeafTag* l = find(store, code, q)) {
      if (assign) Layout::value(const_cast<LeafTag*>(l)) = std::move(value);
      return false;
    }
    Ref added{};
    const bool inserted = tree_upsert(added, q);
    if (added) index_.add(q.h, id_of(added), Source{&store, code});
    return inserted;
  }
  // The leaf make_key_leaf would make for q's key, from the coded form make_key already wrote
  // (so an insert through the index codes its key once, not twice).
  template <class V>
  static Ref make_leaf_for(Store& store, const Key& q, V& value, const key_code* code, const char* limit_name) {
    if (q.form == 1)
      return make_leaf<V, Layout>(store, q.stored.size(), 1, value, limit_name,
                                  [&](char* to) { std::memcpy(to, q.stored.data(), q.stored.size()); });
    // Stored raw (no code: not coded again), or coded longer than kCoded (coded here, as before).
    return make_key_leaf<V, Layout>(store, q.key, value, q.form == 0 ? nullptr : code, limit_name);
  }
  // Every leaf below root, n of them (after a copy, or once the leaves are coded):
  // children(r, push) calls push(c) for each child of inner node r. If that cannot allocate, the
  // index is left broken.
  template <class Children>
  void build(const Store& store, const key_code* code, std::size_t n, Ref root, Children&& children) noexcept {
    if (!index_.enabled()) return;
    index_.build(n, Source{&store, code}, [&](auto&& emit) {
      if (!root) return;
      std::vector<Ref> stack{root};
      while (!stack.empty()) {
        const Ref r = stack.back();
        stack.pop_back();
        if (r.is_leaf())
          emit(id_of(r));
        else
          children(r, [&stack](Ref c) { stack.push_back(c); });
      }
    });
  }
  // check_invariants, when usable: the index holds exactly n ids, each a leaf that in_tree(key)
  // (the tree's own lookup) reaches by its key. (That every leaf of the tree is found through
  // the index, the tree checks as it walks its leaves.) Throws memkv::error.
  template <class InTree>
  void check(const Store& store, const key_code* code, std::size_t n, InTree&& in_tree) const {
    const std::size_t ids = index_.for_each_id([&](std::uint64_t id) {
      const LeafTag* l = leaf_of(store, id);
      std::string buf;
      if (in_tree(leaf_key<Layout>(l, code, buf)) != l)
        detail::throw_error("point index invariant: it holds a leaf the tree does not reach by its key");
    });
    if (ids != n || index_.size() != n)
      detail::throw_error("point index invariant: " + std::to_string(ids) + " ids, size " +
                          std::to_string(index_.size()) + ", tree size " + std::to_string(n));
  }
  // find() of each key, in three steps kLag keys apart so that the misses of different keys
  // overlap: key t is hashed (its bucket prefetched) and coded, its bucket's first candidate leaf
  // prefetched kLag keys later, and the lookup done kLag keys after that. done(i, leaf or nullptr).
  template <class Done>
  void find_many(const Store& store, const key_code* code, std::span<const std::string_view> keys,
                 Done& done) const {
    constexpr std::size_t kLag = 8, kRing = 2 * kLag + 1;
    Key q[kRing];
    const std::size_t n = keys.size();
    for (std::size_t t = 0; t < n + 2 * kLag; ++t) {
      if (t < n) make_key(keys[t], code, q[t % kRing]);
      if (t >= kLag && t - kLag < n) {
        const std::uint64_t id = index_.first_candidate(q[(t - kLag) % kRing].h);
        if (id != point_index::npos) detail::prefetch(leaf_of(store, id));
      }
      if (t >= 2 * kLag && t - 2 * kLag < n) done(t - 2 * kLag, find(store, code, q[(t - 2 * kLag) % kRing]));
    }
  }
  static std::uint64_t id_of(Ref r) noexcept {
    if constexpr (requires { r.address(); }) return r.address();
    else return r.raw() >> 1;
  }
  static const LeafTag* leaf_of(const Store& store, std::uint64_t id) noexcept {
    if constexpr (requires(Ref r) { r.address(); })
      return store.leaf(Ref::leaf(static_cast<std::uint32_t>(id)));
    else
      return reinterpret_cast<const LeafTag*>(static_cast<std::uintptr_t>(id << 1));
  }

private:
  static bool matches(const LeafTag* l, const key_code* code, const Key& q) noexcept {
    unsigned flags = 0;
    const std::string_view s = Layout::stored(l, flags);
    if (q.form == 2) return flags == 1 && code->equals(s, q.key);
    return flags == q.form && s == q.stored;
  }
  // What point_index asks the tree: the hash of a leaf's key (a coded key decoded first: may
  // throw bad_alloc) and a prefetch of the leaf.
  struct Source {
    const Store* store;
    const key_code* code;
    mutable std::string buf{};
    std::uint64_t hash(std::uint64_t id) const {
      unsigned flags = 0;
      const std::string_view s = Layout::stored(leaf_of(*store, id), flags);
      if (flags == 0) return detail::hash_key(s);
      buf.clear();
      code->decode(s, buf);
      return detail::hash_key(buf);
    }
    void prefetch(std::uint64_t id) const noexcept { detail::prefetch(leaf_of(*store, id)); }
  };

  point_index index_;
};

// insert_many / insert_or_assign_many of both engines: keys 16 at a time, warm(batch) first
// (interleaved descents that bring the batch's paths into the cache), then
// upsert(key, value, assign) of each key in turn. Returns how many were inserted.
template <class V, class Warm, class Upsert>
std::size_t upsert_many(std::span<const std::string_view> keys, std::span<const V> values, bool assign,
                        Warm&& warm, Upsert&& upsert) {
  if (values.size() != keys.size())
    detail::throw_error(std::string(assign ? "insert_or_assign_many" : "insert_many") + ": " +
                        std::to_string(keys.size()) + " keys but " + std::to_string(values.size()) +
                        " values");
  constexpr std::size_t kBatch = 16;  // = the interleaved descents' lanes
  std::size_t inserted = 0;
  for (std::size_t s = 0; s < keys.size(); s += kBatch) {
    const std::size_t len = std::min(kBatch, keys.size() - s);
    warm(keys.subspan(s, len));
    for (std::size_t i = s; i < s + len; ++i) {
      V value = values[i];
      inserted += upsert(keys[i], value, assign);
    }
  }
  return inserted;
}

// Statistics of the tree's shape (tests, benchmarks).
struct Stats {
  std::size_t node4 = 0, node16 = 0, node48 = 0, node256 = 0;
  std::size_t leaves = 0, end_slots = 0, max_depth = 0;
};

// The tree itself, over a Store that owns the memory and decides what a child reference is:
//
//   using Ref;                                  // null when value-initialized; is_leaf(),
//                                               // is_inner(), explicit bool, ==
//   NodeHeader* node(Ref) const noexcept;       // what an inner reference points at
//   LeafTag*    leaf(Ref) const noexcept;       // what a leaf reference points at
//   Ref  new_node(std::size_t bytes, NodeHeader*& at);   // 8-aligned; may throw
//   Ref  new_leaf(std::size_t bytes, LeafTag*& at);
//   void delete_node(Ref, std::size_t bytes) noexcept;
//   void delete_leaf(Ref, std::size_t bytes) noexcept;
//   std::size_t bytes_in_use() const noexcept;
//   copy construction gives a new, empty store with the same settings; moves are noexcept.
//
// FastArt and ArenaArt are this tree over PointerStore<Alloc> and ArenaStore.
//
// Keys may be stored coded (detail/key_code.hpp), as HotArt does: once the tree holds
// code_sample_keys keys it learns an order-0 Huffman code of their bytes, rebuilds itself with
// every key that the code shortens coded, and codes such keys from then on. The trie is over the
// keys themselves; only leaves change. Default: 0 (off) for FastArt, 4096 for ArenaArt
// (default_code_sample_keys below, specialized in arena_art.hpp).
template <class Store>
inline constexpr std::size_t default_code_sample_keys = 0;

template <class V, class Store>
class Tree {
  using NodeType = detail::art::NodeType;
  using Ref = typename Store::Ref;
  using Node4 = detail::art::Node4<Ref>;
  using Node16 = detail::art::Node16<Ref>;
  using Node48 = detail::art::Node48<Ref>;
  using Node256 = detail::art::Node256<Ref>;
  using Leaf = detail::art::LeafLayout<V, 1>;  // flag 1: the key is coded
  using Index = detail::art::LeafIndex<Leaf, Store>;  // the point index
  // Its table is rebuilt to a load of 0.6, not the 0.7 HotArt keeps: 3.0 keys rehashed per key
  // inserted instead of 4.5 (see "Point index" in fast_art.hpp), for 4.4-6.7 bytes a key with
  // 32-bit slots instead of 4.4-5.7 (twice that with 64-bit ones).
  static constexpr unsigned kIndexRefillPercent = 60;
  using KeyCode = detail::key_code;

public:
  using key_type = std::string_view;
  using mapped_type = V;
  using size_type = std::size_t;
  using value_type = basic_entry<const V&>;
  using store_type = Store;
  using stats_type = detail::art::Stats;

  class const_iterator;
  using iterator = const_iterator;
  using range_type = std::ranges::subrange<const_iterator>;

  Tree() noexcept(std::is_nothrow_default_constructible_v<Store>) = default;
  template <class... StoreArgs>
    requires(sizeof...(StoreArgs) > 0 && std::is_constructible_v<Store, StoreArgs...>)
  explicit Tree(StoreArgs&&... args) : store_(std::forward<StoreArgs>(args)...) {}
  template <class... StoreArgs>
    requires std::is_constructible_v<Store, StoreArgs...>
  explicit Tree(art_options options, StoreArgs&&... args)
      : store_(std::forward<StoreArgs>(args)...), code_(options.code_sample_keys),
        index_(options.point_index, kIndexRefillPercent) {}
  Tree(const Tree& other)
      : store_(other.store_), code_(other.code_), index_(other.index_.enabled(), kIndexRefillPercent) {
    root_ = clone(other);
    size_ = other.size_;
    index_build();  // the copy's leaves are elsewhere
  }
  Tree(Tree&& other) noexcept
      : root_(std::exchange(other.root_, Ref{})),
        size_(std::exchange(other.size_, 0)),
        store_(std::move(other.store_)),
        code_(std::move(other.code_)),
        index_(std::move(other.index_)) {}
  Tree& operator=(const Tree& other) {
    if (this != &other) {
      Tree copy(other);
      swap(copy);
    }
    return *this;
  }
  Tree& operator=(Tree&& other) noexcept {
    if (this != &other) {
      clear();
      root_ = std::exchange(other.root_, Ref{});
      size_ = std::exchange(other.size_, 0);
      store_ = std::move(other.store_);
      code_ = std::move(other.code_);
      index_ = std::move(other.index_);
    }
    return *this;
  }
  ~Tree() { destroy_all(); }

  void swap(Tree& other) noexcept {
    std::swap(root_, other.root_);
    std::swap(size_, other.size_);
    std::swap(code_, other.code_);
    index_.swap(other.index_);
    Store tmp(std::move(store_));
    store_ = std::move(other.store_);
    other.store_ = std::move(tmp);
  }
  friend void swap(Tree& a, Tree& b) noexcept { a.swap(b); }

  // --- lookups ------------------------------------------------------------------------------
  V* find(std::string_view key) noexcept {
    detail::art::LeafTag* l = find_leaf(key);
    return l ? &Leaf::value(l) : nullptr;
  }
  const V* find(std::string_view key) const noexcept {
    return const_cast<Tree*>(this)->find(key);
  }
  std::optional<V> get(std::string_view key) const {
    if (const V* v = find(key)) return *v;
    return std::nullopt;
  }
  bool contains(std::string_view key) const noexcept { return find(key) != nullptr; }
  // get() of every key of `keys`, its answer written to the same index of `out`: up to 16
  // descents at a time, one node of each in turn, each prefetching the node (or leaf) it needs
  // next, so that the cache misses of different keys overlap. Any order and repeats are fine;
  // an empty span is. Throws memkv::error when out.size() != keys.size(); what copying a V
  // throws (out is then partly written).
  void get_many(std::span<const std::string_view> keys, std::span<std::optional<V>> out) const {
    if (out.size() != keys.size())
      detail::throw_error("get_many: " + std::to_string(keys.size()) + " keys but " +
                          std::to_string(out.size()) + " answer slots");
    const_cast<Tree*>(this)->find_leaves(keys, [out](std::size_t i, const LeafTag* l) {
      if (l) out[i] = Leaf::value(l);
      else out[i] = std::nullopt;
    });
  }
  // find() of every key of `keys`, interleaved as get_many's, without copying values:
  // on_found(i, p) once for each index i of keys, with p = find(keys[i]) (nullptr when absent),
  // in the order the descents end, which is not the keys' order. The pointers are find()'s and
  // stay valid as long as find()'s do (the class's guarantees: ArenaArt's compact() moves them).
  // on_found must not change the map's keys; what it throws passes through (the remaining keys
  // are then not visited).
  template <class OnFound>
  void find_many(std::span<const std::string_view> keys, OnFound&& on_found) {
    find_leaves(keys, detail::art::leaf_values<Leaf, V*>(on_found));
  }
  template <class OnFound>
  void find_many(std::span<const std::string_view> keys, OnFound&& on_found) const {
    const_cast<Tree*>(this)->find_leaves(keys, detail::art::leaf_values<Leaf, const V*>(on_found));
  }

  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  std::size_t memory_usage() const noexcept {
    return store_.bytes_in_use() + sizeof(*this) + code_.memory_usage() + index_.memory_usage();
  }
  art_options options() const noexcept {
    static_assert(sizeof(art_options) == 2 * sizeof(std::size_t), "options with more members: keep them here");
    return art_options{code_.sample_keys(), index_.enabled()};
  }
  // The point index (art_options::point_index): whether it is answering lookups (false when it
  // is off, or after an allocation for it failed: then the tree answers, and the index is built
  // again by clear(), by emptying the map, by a copy or by compact()), and its table's bytes.
  bool point_index_active() const noexcept { return index_.usable(); }
  std::size_t point_index_bytes() const noexcept { return index_.memory_usage(); }
  // Whether the tree has learnt its key code (keys it makes shorter are then stored coded).
  bool keys_coded() const noexcept { return code_.get() != nullptr; }
  const Store& store() const noexcept { return store_; }
  // FastArt: the leaves' pool; node_allocator(): the inner nodes' (two pools of the same policy).
  const auto& allocator() const noexcept
    requires requires(const Store& s) { s.allocator(); }
  {
    return store_.allocator();
  }
  const auto& node_allocator() const noexcept
    requires requires(const Store& s) { s.node_allocator(); }
  {
    return store_.node_allocator();
  }

  // --- mutation -----------------------------------------------------------------------------
  bool insert(std::string_view key, V value) { return upsert_learn(key, value, false); }
  bool insert_or_assign(std::string_view key, V value) { return upsert_learn(key, value, true); }
  // insert() of each (keys[i], values[i]) in turn, i = 0, 1, ...: the map ends as those calls
  // leave it (of a key given twice the first value stays; insert_or_assign_many: the last), but
  // the cache misses of different keys overlap. 16 keys at a time, their descents interleaved
  // (as get_many's) only bring each path's nodes and its last leaf into the cache; then the 16
  // inserts run one by one on those nodes. Returns how many keys were inserted. Throws
  // memkv::error when values.size() != keys.size(), before inserting anything; when an insert
  // throws, the keys before it are in the map and it and the keys after it are not. The keys
  // must not view this map's own entries (an insert invalidates entry key views, as always).
  std::size_t insert_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, false, [this](auto batch) { warm_paths(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert_learn(k, v, a); });
  }
  std::size_t insert_or_assign_many(std::span<const std::string_view> keys, std::span<const V> values)
    requires std::copy_constructible<V>
  {
    return detail::art::upsert_many(keys, values, true, [this](auto batch) { warm_paths(batch); },
                                    [this](std::string_view k, V& v, bool a) { return upsert_learn(k, v, a); });
  }
  bool erase(std::string_view key) {
    if (index_.usable()) {
      // The index says whether the key is held; its slot goes before the leaf (a shrinking
      // rebuild of the index reads the other leaves, never this one).
      typename Index::Key q;
      index_.make_key(key, code_.get(), q);
      const std::uint64_t id = index_.find_id(store_, code_.get(), q);
      if (id == detail::point_index::npos) return false;
      index_.remove(store_, code_.get(), q.h, id);
    }
    const bool erased = erase_key(key);
    assert(erased || !index_.usable());  // a key the index found is in the tree
    if (erased && size_ == 0) {
      forget_code();
      index_.reset();
    }
    return erased;
  }
  void clear() noexcept {
    destroy_all();
    root_ = Ref{};
    size_ = 0;
    forget_code();
    index_.reset();
  }
  // Rewrites the whole tree into fresh memory, densely (a deep copy swapped in): gives back what
  // erasures left scattered in the store. Strong guarantee; invalidates everything.
  void compact() {
    Tree dense(*this);
    swap(dense);
  }

  // --- ordered traversal --------------------------------------------------------------------
  const_iterator begin() const {
    const_iterator it(&store_, code_.get());
    if (root_) it.descend(root_);
    return it;
  }
  const_iterator end() const noexcept { return const_iterator(&store_, code_.get()); }
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
    using iterator_category = std::input_iterator_tag;  // *it is a prvalue (C++17 rules)
    using iterator_concept = std::forward_iterator_tag;  // a forward_iterator in C++20 terms
    using value_type = basic_entry<const V&>;
    using reference = value_type;
    using difference_type = std::ptrdiff_t;
    using pointer = arrow_proxy<value_type>;

    const_iterator() = default;
    reference operator*() const noexcept {
      assert(at_.leaf() != nullptr);
      return {at_.key(), Leaf::value(at_.leaf())};
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
      return a.at_.leaf() == b.at_.leaf();
    }

  private:
    friend class Tree;
    struct Frame {
      const detail::art::NodeHeader* node;
      int pos;
    };
    const_iterator(const Store* store, const detail::key_code* code) noexcept : store_(store), at_(code) {}

    // Visit the smallest leaf at or below r.
    void descend(Ref r) {
      while (!r.is_leaf()) {
        stack_.push_back({store_->node(r), -1});
        r = detail::art::next_child<Ref>(stack_.back().node, stack_.back().pos);
        assert(r);
      }
      // The next entry is usually the next sibling leaf: start fetching it (each leaf of a scan is
      // a cache miss; this one overlaps with the work below). Node4/16 only, where it is cheap.
      if (!stack_.empty()) {
        const Frame& f = stack_.back();
        const detail::art::NodeHeader* h = f.node;
        if (f.pos < h->count && (h->type == NodeType::N4 || h->type == NodeType::N16)) {
          const Ref next = h->type == NodeType::N4 ? reinterpret_cast<const Node4*>(h)->child[f.pos]
                                                   : reinterpret_cast<const Node16*>(h)->child[f.pos];
          if (next.is_leaf()) detail::prefetch(store_->leaf(next));
        }
      }
      at_.set(store_->leaf(r));
    }
    // Move to the next leaf after everything already visited.
    void advance() {
      while (!stack_.empty()) {
        Frame& f = stack_.back();
        if (Ref r = detail::art::next_child<Ref>(f.node, f.pos)) {
          descend(r);
          return;
        }
        stack_.pop_back();
      }
      at_.reset();
    }

    const Store* store_ = nullptr;
    std::vector<Frame> stack_;
    detail::art::LeafCursor<Leaf> at_;
  };

private:
  using NodeHeader = detail::art::NodeHeader;
  using LeafTag = detail::art::LeafTag;

  struct NewNode {
    Ref ref;
    NodeHeader* h;
  };

  // --- small helpers ------------------------------------------------------------------------
  NodeHeader* node(Ref r) const noexcept { return store_.node(r); }
  // The key of leaf l: its stored bytes, or decoded into buf.
  std::string_view key_of(const LeafTag* l, std::string& buf) const {
    return detail::art::leaf_key<Leaf>(l, code_.get(), buf);
  }
  std::string_view leaf_key(Ref r, std::string& buf) const { return key_of(store_.leaf(r), buf); }
  // The leaf of a walk along a key that leaf_on_path fetched, and its key (decoded into a
  // scratch string if coded): null until a compressed path needs it, then kept for the walk.
  struct PathLeaf {
    const LeafTag* leaf = nullptr;
    std::string_view key;
  };
  // How far leaf l's key agrees with key, given that their first `depth` bytes do (a leaf below
  // the node at depth `depth` on key's path): {common prefix length, l's byte there or -1 if its
  // key ends there}. A coded key is decoded only as far as it agrees; `path`'s, already decoded,
  // is not decoded again.
  detail::key_code::mismatch leaf_mismatch(const LeafTag* l, std::string_view key, std::size_t depth,
                                           const PathLeaf& path) const noexcept {
    if (l == path.leaf) return detail::art::raw_mismatch(path.key, key, depth);
    return detail::art::leaf_mismatch<Leaf>(l, code_.get(), key, depth);
  }
  bool leaf_is(const LeafTag* l, std::string_view key) const noexcept {
    return detail::art::leaf_holds<Leaf>(l, code_.get(), key);
  }

  // The leftmost leaf at or below r (all leaves below a node share its full path).
  const LeafTag* min_leaf(Ref r) const noexcept {
    while (!r.is_leaf()) {
      int pos = -1;
      r = detail::art::next_child<Ref>(node(r), pos);
    }
    return store_.leaf(r);
  }
  const LeafTag* min_leaf_below(const NodeHeader* h) const noexcept {
    int pos = -1;
    return min_leaf(detail::art::next_child<Ref>(h, pos));
  }

  // A leaf below h (at depth `depth`) reached by following key's bytes from h without checking
  // the compressed paths on the way. A walk from h that does check them and goes on only while
  // each node's path matches key takes the same children, so this one leaf lies below every node
  // it visits and holds all their full paths. Insert and lower_bound fetch it once per walk, at
  // the first path longer than the bytes a node stores, instead of a leftmost descent at every
  // such node: that was quadratic in the depth (2,000 keys of 32 KiB that branch off one
  // another at random places: 2.7 s of inserts into a FastArt, 77% of it in those descents).
  const LeafTag* leaf_on_path(const NodeHeader* h, std::string_view key, std::size_t depth) const noexcept {
    for (;;) {
      depth += h->prefix_len;
      if (depth >= key.size()) return min_leaf_below(h);
      const Ref* c = detail::art::find_child<Ref>(const_cast<NodeHeader*>(h), static_cast<std::uint8_t>(key[depth]));
      if (c == nullptr) return min_leaf_below(h);
      if (c->is_leaf()) return store_.leaf(*c);
      h = node(*c);
      ++depth;
    }
  }

  std::string_view path_key(PathLeaf& path, const NodeHeader* h, std::string_view key, std::size_t depth,
                            std::string& buf) const {
    if (path.leaf == nullptr) {
      path.leaf = leaf_on_path(h, key, depth);
      path.key = key_of(path.leaf, buf);
    }
    return path.key;
  }

  // Byte i of h's compressed path (h sits at depth `depth`), read from `path` when h does not
  // store it.
  std::uint8_t prefix_byte(const NodeHeader* h, std::string_view key, std::size_t depth, std::size_t i,
                           PathLeaf& path, std::string& buf) const {
    if (i < detail::art::kStoredPrefix) return h->prefix[i];
    return static_cast<std::uint8_t>(path_key(path, h, key, depth, buf)[depth + i]);
  }

  // Length of the match between h's compressed path and key[depth..]: prefix_len when it all
  // matches, else the index of the first difference (or of key's end). `path`/`buf` as in
  // prefix_byte: one leaf serves every node of a walk along key.
  std::size_t prefix_match(const NodeHeader* h, std::string_view key, std::size_t depth,
                           PathLeaf& path_leaf, std::string& buf) const {
    const std::size_t plen = h->prefix_len;
    const std::size_t avail = key.size() - depth;
    const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
    std::size_t i = 0;
    for (; i < stored; ++i) {
      if (i >= avail || h->prefix[i] != static_cast<std::uint8_t>(key[depth + i])) return i;
    }
    if (plen > stored) {
      const std::string_view path = path_key(path_leaf, h, key, depth, buf);
      const std::size_t n = std::min(plen, avail);
      i += detail::common_prefix_length(path.substr(depth + i, n - i), key.substr(depth + i, n - i));
    }
    return i;
  }

  NewNode alloc_node(NodeType type, unsigned cap, bool end_slot) {
    const std::size_t bytes =
        detail::art::body_bytes<Ref>(type, cap) + (end_slot ? sizeof(Ref) : 0);
    NodeHeader* h = nullptr;
    const Ref r = store_.new_node(bytes, h);
    std::memset(static_cast<void*>(h), 0, bytes);
    h->type = type;
    h->flags = detail::art::make_flags(type, cap, end_slot);
    return {r, h};
  }
  // A copy of h with room for `cap` children and an end slot or not; the end leaf moves along.
  NewNode resized(const NodeHeader* h, NodeType type, unsigned cap, bool end_slot) {
    NewNode n = alloc_node(type, cap, end_slot);
    copy_children(h, n.h);
    if (end_slot && detail::art::has_end_slot(h))
      *detail::art::end_slot<Ref>(n.h) =
          *detail::art::end_slot<Ref>(const_cast<NodeHeader*>(h));
    return n;
  }
  void free_node(Ref r, const NodeHeader* h) noexcept {
    store_.delete_node(r, detail::art::node_bytes<Ref>(h));
  }

  // A key is stored coded when the tree has a code and its coded form is shorter.
  Ref alloc_leaf(std::string_view key, V& value, const typename Index::Key* coded = nullptr) {
    if (coded != nullptr) return Index::make_leaf_for(store_, *coded, value, code_.get(), "the limit");
    return detail::art::make_key_leaf<V, Leaf>(store_, key, value, code_.get(), "the limit");
  }
  Ref clone_leaf(const LeafTag* src) { return detail::art::clone_leaf<V, Store, Leaf>(store_, src); }
  void free_leaf(Ref r) noexcept { detail::art::free_leaf<V, Store, Leaf>(store_, r); }

  // The key code: learnt once the tree holds options().code_sample_keys keys. With the point
  // index, a key already held is found (and assigned) without the tree, and a new leaf indexed.
  bool upsert_learn(std::string_view key, V& value, bool assign) {
    const bool inserted =
        index_.usable()
            ? index_.upsert(store_, code_.get(), key, value, assign,
                            [&](Ref& added, const typename Index::Key& q) {
                              return upsert(key, value, assign, &added, &q);
                            })
            : upsert(key, value, assign);
    if (inserted && code_.due(size_)) learn_code();
    return inserted;
  }
  void learn_code() noexcept;
  void forget_code() noexcept { code_.forget(); }

  // Frees a leaf that was allocated for an insert that then failed.
  struct LeafGuard {
    Tree* map;
    Ref leaf;
    ~LeafGuard() {
      if (leaf) map->free_leaf(leaf);
    }
    Ref release() noexcept { return std::exchange(leaf, Ref{}); }
  };

  // The sorted key and child arrays of a Node4 or Node16.
  static std::pair<std::uint8_t*, Ref*> sorted_arrays(NodeHeader* h) noexcept {
    if (h->type == NodeType::N4)
      return {reinterpret_cast<Node4*>(h)->key, reinterpret_cast<Node4*>(h)->child};
    return {reinterpret_cast<Node16*>(h)->key, reinterpret_cast<Node16*>(h)->child};
  }
  static void copy_children(const NodeHeader* from, NodeHeader* to) noexcept;
  static void add_child_in_place(NodeHeader* h, std::uint8_t b, Ref child) noexcept;
  void add_child(Ref* slot, std::uint8_t b, Ref child);
  void remove_child(Ref* slot, std::uint8_t b) noexcept;
  void remove_end(Ref* slot) noexcept;
  void collapse_if_single(Ref* slot) noexcept;

  LeafTag* find_leaf(std::string_view key) noexcept;
  template <class Done>
  void find_leaves(std::span<const std::string_view> keys, Done&& done) noexcept(noexcept(done(0, nullptr)));
  static Ref step_down(NodeHeader* h, std::size_t& depth, std::string_view key) noexcept;
  void warm_paths(std::span<const std::string_view> keys) const noexcept;
  template <class End>
  void descend_many(std::span<const std::string_view> keys, bool bucket_too, End&& end) const
      noexcept(noexcept(end(0, Ref{})));
  // Starts loading what a descent reads at r: an inner node's first two lines, or the leaf.
  void prefetch_ref(Ref r) const noexcept {
    if (r.is_leaf()) {
      detail::prefetch(store_.leaf(r));
      return;
    }
    const auto* p = reinterpret_cast<const char*>(node(r));
    detail::prefetch(p);
    detail::prefetch(p + 64);
  }
  bool erase_key(std::string_view key);
  // added: the new leaf; coded: key as the index's make_key coded it (the leaf is made from it)
  bool upsert(std::string_view key, V& value, bool assign, Ref* added = nullptr,
              const typename Index::Key* coded = nullptr);
  // The tree's own lookup (find_leaf asks the point index when there is one).
  LeafTag* find_leaf_in_tree(std::string_view key) noexcept;
  // Every leaf into the point index (after a copy, or once the leaves are coded); if that
  // cannot allocate, the index is left broken (the tree answers).
  void index_build() noexcept;

  Ref clone(const Tree& other);
  template <bool kFree = true>
  void destroy(Ref r) noexcept;
  // Frees the whole tree (the destructor, clear()): ArenaArt drops its arena at once, walking
  // the tree only for V's destructors (destroying ArenaArt<> of npm-urls' 1.69M keys block by
  // block took 0.61-0.67 s); FastArt frees each node and leaf (detail::art::destroy_tree).
  void destroy_all() noexcept {
    detail::art::destroy_tree<V>(store_,
                                 [this](auto frees) noexcept { destroy<decltype(frees)::value>(root_); });
  }

  Ref root_{};
  std::size_t size_ = 0;
  Store store_{};
  detail::art::CodeSlot code_{default_code_sample_keys<Store>};
  Index index_{false, kIndexRefillPercent};
};

// ============================================================================================
// Implementation
// ============================================================================================

template <class V, class Store>
auto Tree<V, Store>::find_leaf(std::string_view key) noexcept -> LeafTag* {
  if (index_.usable()) {
    typename Index::Key q;
    index_.make_key(key, code_.get(), q);
    return const_cast<LeafTag*>(index_.find(store_, code_.get(), q));
  }
  return find_leaf_in_tree(key);
}

template <class V, class Store>
auto Tree<V, Store>::find_leaf_in_tree(std::string_view key) noexcept -> LeafTag* {
  detail::art::SearchKey search(key, code_.get());
  Ref r = root_;
  std::size_t depth = 0;
  while (r.is_inner()) {
    search.step();
    r = step_down(node(r), depth, key);
  }
  if (!r) return nullptr;
  LeafTag* l = store_.leaf(r);
  return search.found_in<Leaf>(l) ? l : nullptr;
}

// The child of inner node h that a descent along key takes at depth (the end slot at the key's
// end), depth advanced past h's compressed path and the child's byte; null when key leaves the
// tree at h. Path bytes past the stored ones are not compared: the leaf reached verifies them.
template <class V, class Store>
auto Tree<V, Store>::step_down(NodeHeader* h, std::size_t& depth, std::string_view key) noexcept -> Ref {
  if (const std::size_t plen = h->prefix_len) {
    if (key.size() - depth < plen) return Ref{};
    const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
    if (std::memcmp(h->prefix, key.data() + depth, stored) != 0) return Ref{};
    depth += plen;
  }
  if (depth == key.size()) return detail::art::end_leaf<Ref>(h);
  Ref* c = detail::art::find_child<Ref>(h, static_cast<std::uint8_t>(key[depth]));
  if (c == nullptr) return Ref{};
  ++depth;
  return *c;
}

// find_leaf of every key, interleaved (see get_many): done(i, leaf or nullptr) as key i's
// descent ends.
template <class V, class Store>
template <class Done>
void Tree<V, Store>::find_leaves(std::span<const std::string_view> keys, Done&& done) noexcept(noexcept(done(0, nullptr))) {
  if (index_.usable()) {
    index_.find_many(store_, code_.get(), keys, done);
    return;
  }
  descend_many(keys, false, [&](std::size_t i, Ref r) noexcept(noexcept(done(0, nullptr))) {
    const LeafTag* leaf = r ? store_.leaf(r) : nullptr;
    done(i, leaf && detail::art::leaf_holds<Leaf>(leaf, code_.get(), keys[i]) ? leaf : nullptr);
  });
}

// What inserting each key of keys will read, brought into the cache (insert_many): the nodes of
// its path and the leaf where the path ends, which the insert compares with its key; with a
// usable point index, also the key's bucket. Reads only: whatever the tree is, the inserts that
// follow are correct.
template <class V, class Store>
void Tree<V, Store>::warm_paths(std::span<const std::string_view> keys) const noexcept {
  descend_many(keys, index_.usable(), [](std::size_t, Ref) noexcept {});
}

// The tree's descents along keys, up to 16 at a time, one node of each in turn, each
// prefetching the node (or leaf) it reads next so that the cache misses of different keys
// overlap: end(i, r) once per key, in the order the descents end, with the leaf reference key i's
// descent ends at (prefetched a round before, not yet compared with the key) or null when the
// key leaves the tree. bucket_too: each key's point-index bucket is prefetched as well.
template <class V, class Store>
template <class End>
void Tree<V, Store>::descend_many(std::span<const std::string_view> keys, bool bucket_too, End&& end) const
    noexcept(noexcept(end(0, Ref{}))) {
  struct lane {
    Ref r;
    std::size_t depth;
    std::size_t who;
  };
  detail::interleave<16, lane>(
      keys.size(),
      [&](lane& x, std::size_t i) {
        const std::string_view k = keys[i];
        detail::prefetch(k.data());  // the query's bytes
        if (k.size() > 1) detail::prefetch(k.data() + k.size() - 1);
        if (bucket_too) index_.prefetch_key(k);
        x = {root_, 0, i};
      },
      [&](lane& x) {
        if (x.r.is_inner()) {
          x.r = step_down(node(x.r), x.depth, keys[x.who]);
          if (x.r) {
            prefetch_ref(x.r);
            return false;
          }
        }
        end(x.who, x.r);
        return true;
      });
}

template <class V, class Store>
bool Tree<V, Store>::upsert(std::string_view key, V& value, bool assign, Ref* added,
                            const typename Index::Key* coded) {
  Ref* slot = &root_;
  std::size_t depth = 0;
  // A leaf on key's path and its key, once a compressed path needs them (see leaf_on_path).
  PathLeaf path;
  static thread_local std::string path_buf;
  const detail::scratch_trim trim_path{path_buf};
  if (!root_) {
    root_ = alloc_leaf(key, value, coded);
    if (added) *added = root_;
    ++size_;
    return true;
  }
  for (;;) {
    const Ref cur = *slot;
    if (cur.is_leaf()) {
      // The leaf's first `depth` bytes are key's (every path above was checked).
      const auto [split, old_next] = leaf_mismatch(store_.leaf(cur), key, depth, path);
      if (split == key.size() && old_next < 0) {
        if (assign) Leaf::value(store_.leaf(cur)) = std::move(value);
        return false;
      }
      // Lazy expansion ends here: a Node4 holding both leaves below their common prefix.
      const std::size_t lcp = split - depth;
      const bool one_ends = old_next < 0 || key.size() == split;
      LeafGuard guard{this, alloc_leaf(key, value, coded)};
      const NewNode n = alloc_node(NodeType::N4, one_ends ? 1 : 2, one_ends);
      n.h->prefix_len = static_cast<std::uint32_t>(lcp);
      std::memcpy(n.h->prefix, key.data() + depth,
                  std::min<std::size_t>(lcp, detail::art::kStoredPrefix));
      const Ref fresh = guard.release();
      if (old_next < 0)
        *detail::art::end_slot<Ref>(n.h) = cur;
      else
        add_child_in_place(n.h, static_cast<std::uint8_t>(old_next), cur);
      if (key.size() == split)
        *detail::art::end_slot<Ref>(n.h) = fresh;
      else
        add_child_in_place(n.h, static_cast<std::uint8_t>(key[split]), fresh);
      *slot = n.ref;
      if (added) *added = fresh;
      ++size_;
      return true;
    }

    NodeHeader* h = node(cur);
    if (h->prefix_len) {
      const std::size_t m = prefix_match(h, key, depth, path, path_buf);
      if (m < h->prefix_len) {
        // The key leaves h's compressed path after m bytes: a new Node4 takes the first m
        // bytes, h keeps what follows its branching byte.
        const std::uint8_t h_byte = prefix_byte(h, key, depth, m, path, path_buf);
        const bool key_ends = key.size() == depth + m;
        LeafGuard guard{this, alloc_leaf(key, value, coded)};
        const NewNode n = alloc_node(NodeType::N4, key_ends ? 1 : 2, key_ends);
        n.h->prefix_len = static_cast<std::uint32_t>(m);
        std::memcpy(n.h->prefix, key.data() + depth,
                    std::min<std::size_t>(m, detail::art::kStoredPrefix));
        // Shift h's path: it now starts at depth + m + 1.
        const std::size_t rest = h->prefix_len - (m + 1);
        std::uint8_t shifted[detail::art::kStoredPrefix];
        const std::size_t keep = std::min<std::size_t>(rest, detail::art::kStoredPrefix);
        for (std::size_t i = 0; i < keep; ++i) shifted[i] = prefix_byte(h, key, depth, m + 1 + i, path, path_buf);
        h->prefix_len = static_cast<std::uint32_t>(rest);
        std::memcpy(h->prefix, shifted, keep);
        add_child_in_place(n.h, h_byte, cur);
        const Ref fresh = guard.release();
        if (key_ends)
          *detail::art::end_slot<Ref>(n.h) = fresh;
        else
          add_child_in_place(n.h, static_cast<std::uint8_t>(key[depth + m]), fresh);
        *slot = n.ref;
        if (added) *added = fresh;
        ++size_;
        return true;
      }
      depth += h->prefix_len;
    }

    if (depth == key.size()) {
      const Ref e = detail::art::end_leaf<Ref>(h);
      if (e) {
        if (assign) Leaf::value(store_.leaf(e)) = std::move(value);
        return false;
      }
      LeafGuard guard{this, alloc_leaf(key, value, coded)};
      if (!detail::art::has_end_slot(h)) {
        const NewNode n = resized(h, h->type, detail::art::capacity(h), true);
        free_node(cur, h);
        h = n.h;
        *slot = n.ref;
      }
      const Ref fresh = guard.release();
      *detail::art::end_slot<Ref>(h) = fresh;
      if (added) *added = fresh;
      ++size_;
      return true;
    }

    const auto b = static_cast<std::uint8_t>(key[depth]);
    if (Ref* c = detail::art::find_child<Ref>(h, b)) {
      slot = c;
      ++depth;
      continue;
    }
    LeafGuard guard{this, alloc_leaf(key, value, coded)};
    add_child(slot, b, guard.leaf);
    const Ref fresh = guard.release();
    if (added) *added = fresh;
    ++size_;
    return true;
  }
}

template <class V, class Store>
void Tree<V, Store>::add_child_in_place(NodeHeader* h, std::uint8_t b, Ref child) noexcept {
  assert(h->count < detail::art::capacity(h));
  switch (h->type) {
    case NodeType::N4:
    case NodeType::N16: {
      const auto [keys, children] = sorted_arrays(h);
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

template <class V, class Store>
void Tree<V, Store>::copy_children(const NodeHeader* from, NodeHeader* to) noexcept {
  // Header fields but type and flags (the end slot is moved by the caller).
  to->count = 0;
  to->prefix_len = from->prefix_len;
  std::memcpy(to->prefix, from->prefix, sizeof to->prefix);
  detail::art::for_each_child<Ref>(from, [&](std::uint8_t b, Ref c) {
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

template <class V, class Store>
void Tree<V, Store>::add_child(Ref* slot, std::uint8_t b, Ref child) {
  NodeHeader* h = node(*slot);
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
  const NewNode n = resized(h, type, new_cap, detail::art::has_end_slot(h));  // may throw
  add_child_in_place(n.h, b, child);
  free_node(*slot, h);
  *slot = n.ref;
}

// A node left with a single entry is replaced by it: an end leaf or leaf child directly, an
// inner child with h's path, the branching byte and its own path joined.
template <class V, class Store>
void Tree<V, Store>::collapse_if_single(Ref* slot) noexcept {
  const Ref self = *slot;
  NodeHeader* h = node(self);
  const Ref e = detail::art::end_leaf<Ref>(h);
  const unsigned entries = h->count + (e ? 1u : 0u);
  if (entries != 1) return;
  if (e) {
    *slot = e;
    free_node(self, h);
    return;
  }
  std::uint8_t byte = 0;
  Ref only;
  detail::art::for_each_child<Ref>(h, [&](std::uint8_t b, Ref c) {
    byte = b;
    only = c;
  });
  if (only.is_inner()) {
    NodeHeader* c = node(only);
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
  free_node(self, h);
}

template <class V, class Store>
void Tree<V, Store>::remove_child(Ref* slot, std::uint8_t b) noexcept {
  NodeHeader* h = node(*slot);
  switch (h->type) {
    case NodeType::N4:
    case NodeType::N16: {
      const auto [keys, children] = sorted_arrays(h);
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
  if (n_children + (detail::art::end_leaf<Ref>(h) ? 1u : 0u) >= 2 && n_children >= 1) {
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
      try {
        const NewNode n = resized(h, type, cap, end);
        free_node(*slot, h);
        *slot = n.ref;
      } catch (...) {
        // no memory to shrink: the node stays larger, still valid
      }
    }
  }
  collapse_if_single(slot);
}

template <class V, class Store>
void Tree<V, Store>::remove_end(Ref* slot) noexcept {
  NodeHeader* h = node(*slot);
  *detail::art::end_slot<Ref>(h) = Ref{};
  if (h->count >= 2) {
    // Give the slot back; without memory for the smaller copy, keep an empty slot.
    try {
      const NewNode n = resized(h, h->type, detail::art::capacity(h), false);
      free_node(*slot, h);
      *slot = n.ref;
    } catch (...) {
    }
    return;
  }
  collapse_if_single(slot);
}

template <class V, class Store>
bool Tree<V, Store>::erase_key(std::string_view key) {
  if (!root_) return false;
  if (root_.is_leaf()) {
    if (!leaf_is(store_.leaf(root_), key)) return false;
    free_leaf(root_);
    root_ = Ref{};
    --size_;
    return true;
  }
  Ref* slot = &root_;
  std::size_t depth = 0;
  for (;;) {
    NodeHeader* h = node(*slot);
    if (const std::size_t plen = h->prefix_len) {
      if (key.size() - depth < plen) return false;
      const std::size_t stored = std::min<std::size_t>(plen, detail::art::kStoredPrefix);
      if (std::memcmp(h->prefix, key.data() + depth, stored) != 0) return false;
      depth += plen;
    }
    if (depth == key.size()) {
      const Ref e = detail::art::end_leaf<Ref>(h);
      if (!e || !leaf_is(store_.leaf(e), key)) return false;
      free_leaf(e);
      remove_end(slot);
      --size_;
      return true;
    }
    const auto b = static_cast<std::uint8_t>(key[depth]);
    Ref* c = detail::art::find_child<Ref>(h, b);
    if (c == nullptr) return false;
    if (c->is_leaf()) {
      if (!leaf_is(store_.leaf(*c), key)) return false;
      free_leaf(*c);
      remove_child(slot, b);
      --size_;
      return true;
    }
    slot = c;
    ++depth;
  }
}

// Learns the key code from the keys held (all stored as they are) and rebuilds the tree with the
// keys it makes shorter coded, in a new store swapped in at the end: if an allocation or a copy
// of a value fails, the tree stays as it was (and tries again at twice the size).
template <class V, class Store>
void Tree<V, Store>::learn_code() noexcept {
  if constexpr (!std::is_copy_constructible_v<V>) {
    code_.never();  // values that cannot be copied stay where they are
  } else {
    try {
      std::array<std::uint64_t, 256> freq{};
      for (auto e : *this) detail::art::count_key_bytes(freq, e.key);
      Tree coded(options(), store_);  // an empty store with the same settings
      coded.code_.set(KeyCode::learn(freq));
      for (auto e : *this) {
        V value(e.value);
        coded.upsert(e.key, value, false);
      }
      swap(coded);  // `coded` now holds the old tree, freed here
      index_build();  // the coded leaves are new ones (coded's index was never built)
    } catch (...) {
      code_.retry_at(size_ * 2);
    }
  }
}

template <class V, class Store>
auto Tree<V, Store>::lower_bound(std::string_view key) const -> const_iterator {
  const_iterator it(&store_, code_.get());
  Ref r = root_;
  std::size_t depth = 0;
  PathLeaf path;  // a leaf on key's path and its key, once needed (see leaf_on_path)
  std::string path_buf;
  while (r) {
    if (r.is_leaf()) {
      // The cursor decodes a coded key once; if it is smaller than key, the next leaf's decoding
      // resumes from it.
      it.at_.set(store_.leaf(r));
      if (it.at_.key().compare(key) < 0) it.advance();
      return it;
    }
    const NodeHeader* h = node(r);
    if (const std::size_t plen = h->prefix_len) {
      // Compare h's whole path with the key's bytes at the same place.
      std::string_view full;
      if (plen <= detail::art::kStoredPrefix) {
        full = std::string_view(reinterpret_cast<const char*>(h->prefix), plen);
      } else {
        full = path_key(path, h, key, depth, path_buf).substr(depth, plen);
      }
      std::string_view part = key.substr(depth, plen);
      const int c = full.compare(part);
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
    Ref* c = detail::art::find_child<Ref>(const_cast<NodeHeader*>(h), b);
    it.stack_.push_back({h, detail::art::position_after<Ref>(h, b, c != nullptr)});
    if (c == nullptr) {
      it.advance();
      return it;
    }
    r = *c;
    ++depth;
  }
  return it;
}

template <class V, class Store>
auto Tree<V, Store>::clone(const Tree& other) -> Ref {
  // Iterative: trees of long keys that are prefixes of each other can be very deep. The copy is
  // built top-down; every slot is valid (filled or empty) at every moment, so a partial copy can
  // be destroyed when an allocation throws.
  const Ref src = other.root_;
  if (!src) return Ref{};
  if (src.is_leaf()) return clone_leaf(other.store_.leaf(src));
  struct Work {
    const NodeHeader* from;
    NodeHeader* to;
  };
  auto copy_node = [&](const NodeHeader* from) {
    const std::size_t bytes = detail::art::node_bytes<Ref>(from);
    NodeHeader* to = nullptr;
    const Ref r = store_.new_node(bytes, to);
    std::memcpy(static_cast<void*>(to), from, bytes);
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
    if (detail::art::has_end_slot(to)) *detail::art::end_slot<Ref>(to) = Ref{};
    return NewNode{r, to};
  };
  const NewNode top = copy_node(other.node(src));
  const Ref result = top.ref;
  try {
    std::vector<Work> work{{other.node(src), top.h}};
    while (!work.empty()) {
      const Work w = work.back();
      work.pop_back();
      auto place = [&](Ref* dst, Ref from_child) {
        if (from_child.is_leaf()) {
          *dst = clone_leaf(other.store_.leaf(from_child));
        } else {
          const NodeHeader* f = other.node(from_child);
          const NewNode n = copy_node(f);
          *dst = n.ref;
          work.push_back({f, n.h});
        }
      };
      if (const Ref e = detail::art::end_leaf<Ref>(w.from)) place(detail::art::end_slot<Ref>(w.to), e);
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
            if (const Ref c = reinterpret_cast<const Node256*>(w.from)->child[i])
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

// Frees a whole subtree without allocating: the walk keeps its way back up in the path bytes
// (prefix_len and prefix) of the nodes it is taking apart (they are dead by then; the parent's
// reference fits in those 8 bytes), and a node's count serves as the cursor over its remaining
// children (counting down; in a Node256, up over its 256 slots). kFree = false: only the leaves'
// values are destroyed, nothing is freed (the store then drops every block at once).
template <class V, class Store>
template <bool kFree>
void Tree<V, Store>::destroy(Ref r) noexcept {
  auto drop_leaf = [this](Ref l) noexcept { detail::art::drop_leaf<kFree, V, Store, Leaf>(store_, l); };
  if (!r) return;
  if (r.is_leaf()) {
    drop_leaf(r);
    return;
  }
  constexpr std::size_t path_at = offsetof(NodeHeader, prefix_len);
  static_assert(offsetof(NodeHeader, prefix) == path_at + sizeof(std::uint32_t) &&
                    sizeof(Ref) <= sizeof(std::uint32_t) + detail::art::kStoredPrefix,
                "a parent reference fits the path bytes");
  auto set_parent = [](NodeHeader* h, Ref parent) {
    std::memcpy(reinterpret_cast<char*>(h) + path_at, &parent, sizeof parent);
    if (h->type == NodeType::N256) h->count = 0;
  };
  auto parent_of = [](const NodeHeader* h) {
    Ref parent;
    std::memcpy(static_cast<void*>(&parent), reinterpret_cast<const char*>(h) + path_at, sizeof parent);
    return parent;
  };
  auto take_child = [](NodeHeader* h) -> Ref {
    if (detail::art::has_end_slot(h)) {
      if (const Ref e = std::exchange(*detail::art::end_slot<Ref>(h), Ref{})) return e;
    }
    Ref* children = nullptr;
    switch (h->type) {
      case NodeType::N4: children = reinterpret_cast<Node4*>(h)->child; break;
      case NodeType::N16: children = reinterpret_cast<Node16*>(h)->child; break;
      case NodeType::N48: children = reinterpret_cast<Node48*>(h)->child; break;
      default: {
        Ref* all = reinterpret_cast<Node256*>(h)->child;
        while (h->count < 256)  // a partial copy may have empty slots anywhere
          if (const Ref c = all[h->count++]) return c;
        return Ref{};
      }
    }
    while (h->count > 0)  // a partial copy may have empty slots at the end
      if (const Ref c = children[--h->count]) return c;
    return Ref{};
  };
  Ref cur = r;
  NodeHeader* h = node(cur);
  set_parent(h, Ref{});
  for (;;) {
    const Ref next = take_child(h);
    if (!next) {
      const Ref parent = parent_of(h);
      if constexpr (kFree) free_node(cur, h);
      if (!parent) return;
      cur = parent;
      h = node(cur);
    } else if (next.is_leaf()) {
      drop_leaf(next);
    } else {
      NodeHeader* c = node(next);
      set_parent(c, cur);
      cur = next;
      h = c;
    }
  }
}

template <class V, class Store>
auto Tree<V, Store>::stats() const -> stats_type {
  stats_type s;
  if (!root_) return s;
  std::vector<std::pair<Ref, std::size_t>> stack{{root_, 0}};
  while (!stack.empty()) {
    const Ref r = stack.back().first;
    const std::size_t d = stack.back().second;  // not a structured binding: clang < 16 cannot capture one
    stack.pop_back();
    s.max_depth = std::max(s.max_depth, d);
    if (r.is_leaf()) {
      ++s.leaves;
      continue;
    }
    const NodeHeader* h = node(r);
    switch (h->type) {
      case NodeType::N4: ++s.node4; break;
      case NodeType::N16: ++s.node16; break;
      case NodeType::N48: ++s.node48; break;
      default: ++s.node256; break;
    }
    if (const Ref e = detail::art::end_leaf<Ref>(h)) {
      ++s.end_slots;
      stack.push_back({e, d + 1});
    }
    detail::art::for_each_child<Ref>(h, [&](std::uint8_t, Ref c) { stack.push_back({c, d + 1}); });
  }
  return s;
}

template <class V, class Store>
void Tree<V, Store>::check_invariants() const {
  auto fail = [](const std::string& what) { detail::throw_error("ART invariant: " + what); };
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
    const Item it = stack.back();
    stack.pop_back();
    if (it.r.is_leaf()) {
      ++leaves;
      std::string buf;
      if (leaf_key(it.r, buf).size() < it.depth) fail("leaf key shorter than its depth");
      unsigned flags = 0;
      Leaf::stored(store_.leaf(it.r), flags);
      if (flags != 0 && code_.get() == nullptr) fail("a coded key in a tree without a code");
      continue;
    }
    const NodeHeader* h = node(it.r);
    if (static_cast<unsigned>(h->type) > 3) fail("bad node type");
    const unsigned cap = detail::art::capacity(h);
    if (cap == 0 || cap > detail::art::kMaxCap[static_cast<unsigned>(h->type)])
      fail("bad node capacity");
    if (h->count > cap) fail("node over capacity");
    const Ref e = detail::art::end_leaf<Ref>(h);
    if (h->count + (e ? 1u : 0u) < 2) fail("node with fewer than two entries");
    std::string ref_buf, child_buf;
    const std::string_view ref_key = key_of(min_leaf(it.r), ref_buf);
    const std::size_t end = it.depth + h->prefix_len;
    if (ref_key.size() < end) fail("node path longer than its keys");
    const std::size_t stored = std::min<std::size_t>(h->prefix_len, detail::art::kStoredPrefix);
    if (std::memcmp(h->prefix, ref_key.data() + it.depth, stored) != 0)
      fail("stored prefix differs from the keys below");
    auto check_child = [&](Ref c, int byte) {
      if (!c) fail("empty child slot in use");
      std::string_view k = key_of(min_leaf(c), child_buf);
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
    detail::art::for_each_child<Ref>(h, [&](std::uint8_t b, Ref c) {
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
  if (leaves != size_)
    fail("size " + std::to_string(size_) + " but " + std::to_string(leaves) + " leaves");
  if (index_.usable()) {
    Tree& self = const_cast<Tree&>(*this);
    for (auto it = begin(); it != end(); ++it)
      if (self.find_leaf((*it).key) != it.at_.leaf()) fail("a leaf the point index does not find by its key");
    index_.check(store_, code_.get(), size_, [&](std::string_view k) { return self.find_leaf_in_tree(k); });
  }
}

template <class V, class Store>
void Tree<V, Store>::index_build() noexcept {
  index_.build(store_, code_.get(), size_, root_, [this](Ref r, auto&& push) {
    const NodeHeader* h = node(r);
    if (const Ref e = detail::art::end_leaf<Ref>(h)) push(e);
    detail::art::for_each_child<Ref>(h, [&](std::uint8_t, Ref c) { push(c); });
  });
}

}  // namespace detail::art
}  // namespace memkv
