// bench/adapters.hpp - the adapter interface every structure of memkv-compare/memkv-micro implements,
// generic adapters for memkv's own structures, and the peers (std::map, absl::btree_map, JudySL,
// the C HAT-trie, marisa-trie, a sorted std::vector).
//
// A MUTABLE adapter (kind == Kind::mutable_map):
//   static constexpr std::string_view name = "std::map";   // the table's row label
//   static constexpr std::string_view id   = "std-map";    // what --structures selects
//   static constexpr Kind kind = Kind::mutable_map;
//   void insert(std::string_view key, std::uint64_t value);
//   bool lookup(std::string_view key, std::uint64_t& value) const;   // false: absent
//   std::size_t memory_usage() const;        // bytes held; kUnknownMemory if the peer can't tell
// A STATIC adapter (kind == Kind::static_dict) has, instead of insert:
//   static constexpr Values values = Values::any64 (rank and hash rows) or Values::ids (key ids);
//   void build(std::span<const std::string_view> sorted_keys, std::span<const std::uint64_t> values);
//   std::size_t image_size() const;          // serialized image bytes; 0 when there is none
// Optional, used when present:
//   static constexpr bool needs_nul_terminated = true;  // key.data()[key.size()] == '\0' is given,
//                                                       // datasets with '\0' in a key skip it
//   template <class F> void for_each(F f) const;        // f(key, value) over all entries (micro)
//   std::size_t prefix_count(std::string_view p) const; // entries with prefix p, visited (micro)
//   void lookup_many(span<const string_view> keys,      // answers of a batch (micro's
//                    span<optional<uint64_t>> out) const; //   lookup_hit_many); the generic
//                                                       // adapters call get_many when it exists
//   void insert_many(span<const string_view> keys,      // a batch of inserts (memkv-compare's
//                    span<const uint64_t> values);      //   and micro's insert_many); the generic
//                                                       // adapters call insert_many when it exists
//   std::size_t destroy_counting_bytes();               // frees everything, returns bytes freed
//                                                       // (memory figure when memory_usage() can't)
//   void check_invariants() const;                      // run by --self-check
//   void finish_inserts();                              // mutable maps: runs inside the timed
//                                                       // build after the last insert (a merge)
//   void assign(std::string_view key, std::uint64_t v); // mutable maps: insert or overwrite, and
//   void erase(std::string_view key);                   // erase: with both, the map also gets a
//                                                       // "mixed life" row (memkv_compare.cpp)
// The harness gives every key exactly once to insert(); keys it passes stay valid for the whole run.
#pragma once

#include <malloc.h>

#include <algorithm>
#include <cstring>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace memkv_bench {

enum class Kind { mutable_map, static_dict };
enum class Values { any64, ids };
inline constexpr std::size_t kUnknownMemory = std::numeric_limits<std::size_t>::max();

// ---------------------------------------------------------------------------------------------
// Counting allocator for the std containers: memory_usage() = the usable size of every live
// block (what the allocations hold, rounding slack included, malloc's own 8-byte headers not).
// Each structure runs in its own process, so one global counter is exact.
inline std::size_t g_counted_bytes = 0;

template <class T>
struct CountingAllocator {
  using value_type = T;
  CountingAllocator() = default;
  template <class U>
  CountingAllocator(const CountingAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    void* p = ::operator new(n * sizeof(T));
    g_counted_bytes += malloc_usable_size(p);
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept {
    g_counted_bytes -= malloc_usable_size(p);
    ::operator delete(p);
  }
  template <class U>
  bool operator==(const CountingAllocator<U>&) const noexcept { return true; }
};

using CountedString = std::basic_string<char, std::char_traits<char>, CountingAllocator<char>>;

struct TransparentHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// Shared code of the std-like maps (std::map, std::unordered_map, absl::btree_map): keys are
// CountedStrings, so memory_usage() is what their allocator counted.
template <class Map>
struct StdLikeMapAdapter {
  static constexpr Kind kind = Kind::mutable_map;
  Map map;
  void insert(std::string_view key, std::uint64_t value) { map.emplace(CountedString(key), value); }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    auto it = map.find(key);
    if (it == map.end()) return false;
    value = it->second;
    return true;
  }
  void assign(std::string_view key, std::uint64_t value) {
    auto it = map.find(key);
    if (it != map.end()) it->second = value;
    else map.emplace(CountedString(key), value);
  }
  void erase(std::string_view key) {
    auto it = map.find(key);
    if (it != map.end()) map.erase(it);
  }
  std::size_t memory_usage() const { return g_counted_bytes + sizeof(Map); }
  template <class F>
  void for_each(F f) const {  // in the map's own order (none for std::unordered_map)
    for (const auto& [k, v] : map) f(std::string_view(k), v);
  }
};

// The ordered ones add prefix scans.
template <class Map>
struct OrderedStdMapAdapter : StdLikeMapAdapter<Map> {
  std::size_t prefix_count(std::string_view p) const {
    std::size_t count = 0;
    for (auto it = this->map.lower_bound(p); it != this->map.end() && std::string_view(it->first).starts_with(p); ++it)
      count += 1 + (it->second & 0);
    return count;
  }
};

struct StdMapRow : OrderedStdMapAdapter<std::map<CountedString, std::uint64_t, std::less<>,
                       CountingAllocator<std::pair<const CountedString, std::uint64_t>>>> {
  static constexpr std::string_view name = "std::map";
  static constexpr std::string_view id = "std-map";
};

struct StdUnorderedMapRow
    : StdLikeMapAdapter<std::unordered_map<CountedString, std::uint64_t, TransparentHash, std::equal_to<>,
                                           CountingAllocator<std::pair<const CountedString, std::uint64_t>>>> {
  static constexpr std::string_view name = "std::unordered_map";
  static constexpr std::string_view id = "std-unordered-map";
};

// ---------------------------------------------------------------------------------------------
// A sorted std::vector<std::string> + std::lower_bound, values in a parallel array.
struct SortedVectorRow {
  static constexpr std::string_view name = "sorted std::vector<std::string>";
  static constexpr std::string_view id = "sorted-vector";
  static constexpr Kind kind = Kind::static_dict;
  static constexpr Values values = Values::any64;
  std::vector<std::string> keys;
  std::vector<std::uint64_t> vals;
  void build(std::span<const std::string_view> sorted_keys, std::span<const std::uint64_t> values) {
    keys.reserve(sorted_keys.size());
    for (auto k : sorted_keys) keys.emplace_back(k);
    vals.assign(values.begin(), values.end());
  }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    auto it = std::lower_bound(keys.begin(), keys.end(), key,
                               [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
    if (it == keys.end() || std::string_view(*it) != key) return false;
    value = vals[static_cast<std::size_t>(it - keys.begin())];
    return true;
  }
  std::size_t memory_usage() const {
    std::size_t bytes = sizeof(*this) + keys.capacity() * sizeof(std::string) + vals.capacity() * sizeof(std::uint64_t);
    for (const auto& s : keys)
      if (s.capacity() > 15) bytes += malloc_usable_size(const_cast<char*>(s.data()));
    return bytes;
  }
  std::size_t image_size() const { return 0; }
  template <class F>
  void for_each(F f) const {
    for (std::size_t i = 0; i < keys.size(); ++i) f(std::string_view(keys[i]), vals[i]);
  }
  std::size_t prefix_count(std::string_view p) const {
    auto it = std::lower_bound(keys.begin(), keys.end(), p,
                               [](const std::string& a, std::string_view b) { return std::string_view(a) < b; });
    std::size_t count = 0;
    for (; it != keys.end() && std::string_view(*it).starts_with(p); ++it) ++count;
    return count;
  }
};

// ---------------------------------------------------------------------------------------------
// Generic adapters for memkv structures (the contract's map interface).
//
// Mutable map: insert / find / memory_usage / begin-end / prefix / check_invariants.
template <class Map>
struct MemkvMapAdapter {
  static constexpr Kind kind = Kind::mutable_map;
  Map map;
  void insert(std::string_view key, std::uint64_t value) { map.insert(key, value); }
  void assign(std::string_view key, std::uint64_t value) { map.insert_or_assign(key, value); }
  void erase(std::string_view key) { map.erase(key); }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    const auto* p = map.find(key);
    if (p == nullptr) return false;
    value = static_cast<std::uint64_t>(*p);
    return true;
  }
  std::size_t memory_usage() const { return map.memory_usage(); }
  // memkv-micro's lookup_hit_many, for maps with get_many (lookups interleaved).
  void lookup_many(std::span<const std::string_view> keys, std::span<std::optional<std::uint64_t>> out) const
    requires requires(const Map& m) { m.get_many(keys, out); }
  {
    map.get_many(keys, out);
  }
  // memkv-compare's and memkv-micro's batched inserts, for maps with insert_many.
  void insert_many(std::span<const std::string_view> keys, std::span<const std::uint64_t> values)
    requires requires(Map& m) { m.insert_many(keys, values); }
  {
    map.insert_many(keys, values);
  }
  template <class F>
  void for_each(F f) const {
    for (auto entry : map) f(entry.key, static_cast<std::uint64_t>(entry.value));
  }
  std::size_t prefix_count(std::string_view p) const {
    std::size_t count = 0;
    for (auto entry : map.prefix(p)) count += 1 + (static_cast<std::uint64_t>(entry.value) & 0);
    return count;
  }
  void check_invariants() const { map.check_invariants(); }
};

// Static structure: Index::build(range of pairs) / get / memory_usage / bytes().
template <class Index>
struct MemkvStaticAdapter {
  static constexpr Kind kind = Kind::static_dict;
  static constexpr Values values = Values::any64;
  std::optional<Index> index;
  void build(std::span<const std::string_view> sorted_keys, std::span<const std::uint64_t> vals) {
    auto pairs = std::views::iota(std::size_t{0}, sorted_keys.size()) |
                 std::views::transform([&](std::size_t i) {
                   return std::pair<std::string_view, std::uint64_t>(sorted_keys[i], vals[i]);
                 });
    index.emplace(Index::build(pairs));
  }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    auto v = index->get(key);
    if (!v) return false;
    value = static_cast<std::uint64_t>(*v);
    return true;
  }
  std::size_t memory_usage() const { return index->memory_usage(); }
  std::size_t image_size() const { return index->bytes().size(); }
  // memkv-micro's lookup_hit_many, for structures with get_many (lookups interleaved).
  void lookup_many(std::span<const std::string_view> keys, std::span<std::optional<std::uint64_t>> out) const
    requires requires(const Index& x) { x.get_many(keys, out); }
  {
    index->get_many(keys, out);
  }
  template <class F>
  void for_each(F f) const {
    for (auto entry : *index) f(entry.key, static_cast<std::uint64_t>(entry.value));
  }
  std::size_t prefix_count(std::string_view p) const {
    std::size_t count = 0;
    for (auto entry : index->prefix(p)) count += 1 + (static_cast<std::uint64_t>(entry.value) & 0);
    return count;
  }
};

}  // namespace memkv_bench

// ---------------------------------------------------------------------------------------------
// Optional peers: each compiled only when CMake found it (MEMKV_BENCH_HAVE_*).
#if MEMKV_BENCH_HAVE_ABSL
#include <absl/container/btree_map.h>
namespace memkv_bench {
struct AbslBtreeRow : OrderedStdMapAdapter<absl::btree_map<CountedString, std::uint64_t, std::less<>,
                          CountingAllocator<std::pair<const CountedString, std::uint64_t>>>> {
  static constexpr std::string_view name = "absl::btree_map";
  static constexpr std::string_view id = "absl-btree";
};
}  // namespace memkv_bench
#endif

#if MEMKV_BENCH_HAVE_JUDY
#include <Judy.h>
namespace memkv_bench {
// JudySL stores NUL-terminated strings: a key holding '\0' can't be stored (the row is skipped on
// such datasets). Its memory_usage() is unknown; destroy_counting_bytes() returns what
// JudySLFreeArray reports freeing.
struct JudySLRow {
  static constexpr std::string_view name = "JudySL";
  static constexpr std::string_view id = "judysl";
  static constexpr Kind kind = Kind::mutable_map;
  static constexpr bool needs_nul_terminated = true;
  Pvoid_t array = nullptr;
  std::size_t max_length = 0;
  JudySLRow() = default;
  JudySLRow(const JudySLRow&) = delete;
  JudySLRow& operator=(const JudySLRow&) = delete;
  ~JudySLRow() { if (array) JudySLFreeArray(&array, PJE0); }
  void insert(std::string_view key, std::uint64_t value) {
    PPvoid_t slot = JudySLIns(&array, reinterpret_cast<const uint8_t*>(key.data()), PJE0);
    if (slot == PPJERR) throw std::bad_alloc();
    *reinterpret_cast<Word_t*>(slot) = value;
    max_length = std::max(max_length, key.size());
  }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    PPvoid_t slot = JudySLGet(array, reinterpret_cast<const uint8_t*>(key.data()), PJE0);
    if (slot == nullptr) return false;
    value = *reinterpret_cast<const Word_t*>(slot);
    return true;
  }
  std::size_t memory_usage() const { return kUnknownMemory; }
  std::size_t destroy_counting_bytes() {
    const Word_t freed = array ? JudySLFreeArray(&array, PJE0) : 0;
    array = nullptr;
    return static_cast<std::size_t>(freed);
  }
  template <class F>
  void for_each(F f) const {
    std::string index(max_length + 1, '\0');
    auto* buf = reinterpret_cast<uint8_t*>(index.data());
    for (PPvoid_t slot = JudySLFirst(array, buf, PJE0); slot; slot = JudySLNext(array, buf, PJE0))
      f(std::string_view(index.c_str()), *reinterpret_cast<const Word_t*>(slot));
  }
  std::size_t prefix_count(std::string_view p) const {
    std::string index(std::max(max_length, p.size()) + 1, '\0');
    std::copy(p.begin(), p.end(), index.begin());
    auto* buf = reinterpret_cast<uint8_t*>(index.data());
    std::size_t count = 0;
    for (PPvoid_t slot = JudySLFirst(array, buf, PJE0); slot; slot = JudySLNext(array, buf, PJE0)) {
      if (!std::string_view(index.c_str()).starts_with(p)) break;
      count += 1 + (*reinterpret_cast<const Word_t*>(slot) & 0);
    }
    return count;
  }
};
}  // namespace memkv_bench
#endif

#if MEMKV_BENCH_HAVE_HATTRIE
#include <hat-trie/hat-trie.h>
namespace memkv_bench {
// The C HAT-trie (libhat-trie-dev): unordered lookups, sorted iteration, no seek (no prefix scans).
// Its value slots are packed unaligned inside its hash-table buckets: read/write them with memcpy.
struct HatTrieRow {
  static constexpr std::string_view name = "C HAT-trie";
  static constexpr std::string_view id = "hat-trie";
  static constexpr Kind kind = Kind::mutable_map;
  hattrie_t* trie = hattrie_create();
  HatTrieRow() = default;
  HatTrieRow(const HatTrieRow&) = delete;
  HatTrieRow& operator=(const HatTrieRow&) = delete;
  ~HatTrieRow() { hattrie_free(trie); }
  void insert(std::string_view key, std::uint64_t value) {
    const value_t v = static_cast<value_t>(value);
    std::memcpy(hattrie_get(trie, key.data(), key.size()), &v, sizeof v);
  }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    value_t* slot = hattrie_tryget(trie, key.data(), key.size());
    if (slot == nullptr) return false;
    value_t v;
    std::memcpy(&v, slot, sizeof v);
    value = v;
    return true;
  }
  std::size_t memory_usage() const { return hattrie_sizeof(trie); }
  template <class F>
  void for_each(F f) const {
    hattrie_iter_t* it = hattrie_iter_begin(trie, true);
    for (; !hattrie_iter_finished(it); hattrie_iter_next(it)) {
      std::size_t len = 0;
      const char* k = hattrie_iter_key(it, &len);
      value_t v;
      std::memcpy(&v, hattrie_iter_val(it), sizeof v);
      f(std::string_view(k, len), static_cast<std::uint64_t>(v));
    }
    hattrie_iter_free(it);
  }
};
}  // namespace memkv_bench
#endif

#if MEMKV_BENCH_HAVE_MARISA
#include <marisa.h>
namespace memkv_bench {
// marisa-trie stores keys only: the "value" is the key id it assigns (not the rank), so its
// correctness means "found". memory_usage() = total_size(), image = io_size().
struct MarisaRow {
  static constexpr std::string_view name = "marisa-trie";
  static constexpr std::string_view id = "marisa";
  static constexpr Kind kind = Kind::static_dict;
  static constexpr Values values = Values::ids;
  marisa::Trie trie;
  mutable marisa::Agent agent;
  void build(std::span<const std::string_view> sorted_keys, std::span<const std::uint64_t>) {
    marisa::Keyset keyset;
    for (auto k : sorted_keys) keyset.push_back(k.data(), k.size());
    trie.build(keyset);
  }
  bool lookup(std::string_view key, std::uint64_t& value) const {
    agent.set_query(key.data(), key.size());
    if (!trie.lookup(agent)) return false;
    value = agent.key().id();
    return true;
  }
  std::size_t memory_usage() const { return trie.total_size() + sizeof(*this); }
  std::size_t image_size() const { return trie.io_size(); }
  template <class F>
  void for_each(F f) const {
    marisa::Agent a;
    a.set_query("", 0);
    while (trie.predictive_search(a)) f(std::string_view(a.key().ptr(), a.key().length()), a.key().id());
  }
  std::size_t prefix_count(std::string_view p) const {
    marisa::Agent a;
    a.set_query(p.data(), p.size());
    std::size_t count = 0;
    while (trie.predictive_search(a)) ++count;
    return count;
  }
};
}  // namespace memkv_bench
#endif
