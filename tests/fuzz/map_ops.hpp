// tests/fuzz/map_ops.hpp - the operation-sequence fuzzer shared by the mutable-map targets
// (fast_art_fuzz.cpp, arena_art_fuzz.cpp, hot_art_fuzz.cpp, hybrid_store_fuzz.cpp).
//
// The input is decoded into a sequence of operations on a map M and on a std::map reference:
//
//   byte 0            settings: bit 0 = std::string values (else std::uint64_t);
//                     HybridStore: bits 1..4 = min_merge_keys - 1, bit 5 = auto_merge off
//   then, repeatedly, one op byte (op = byte % 16) followed by its operands:
//     0-3  insert(key)            4-5 insert_or_assign(key)   6-7 erase(key)
//          (op 3, maps with insert_many: a count byte c, then c % 40 keys for insert_many,
//          or for insert_or_assign_many when c >= 0x80)
//     8    find/get/contains      9   lower_bound(key) scan   10  prefix(key) scan
//     11   range(key, key) scan   12  assign through find()   13  copy (then keep, copy-assign,
//                                                                 move-assign or swap it in)
//     14   merge() (HybridStore), else a move round trip       15  clear() (op byte >= 0xf0
//                                                                 only; otherwise a full check,
//                                                                 get_many of every key too)
//   A key operand starts with one byte b:
//     b < 0x40 and keys were used before: an earlier key (b % pool size), and when b & 0x20 it
//                                         is extended by the next input byte (or, when b & 0x10,
//                                         cut by one byte)
//     0x40 <= b < 0xe0 (or no earlier key): (b & 0x1f) raw bytes from the input follow
//                                         (so the empty key, 0x00 and 0xff bytes are all there)
//     b >= 0xe0: a long key: a fill byte and a length byte follow; 16 * length + (b & 0x1f) bytes
//                of the fill, then one more raw byte (keys up to ~4 KiB sharing long prefixes)
//   Values are a running counter (std::string values: empty, short and heap-allocated ones).
//
// Checked after every operation: the operation's own answer against std::map, size(); the whole
// map by iteration after every operation while it holds <= 64 keys, else every 8 operations;
// check_invariants() every 4 operations and at the end; memory_usage() returning to the empty
// map's whenever the map becomes empty (CONTRACT: erase gives memory back). Scans compare up to
// 512 entries. A failure prints the operation number and aborts (libFuzzer saves the input).
#pragma once

#include "clang14_ranges_compat.hpp"  // first: before anything instantiates std::ranges::subrange

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "../differential.hpp"

namespace memkv_fuzz {

[[noreturn]] inline void fuzz_abort(const char* target, std::size_t op, const std::string& what) {
  std::fprintf(stderr, "%s: op %zu: %s\n", target, op, what.c_str());
  std::fflush(stderr);
  std::abort();
}

class Input {
public:
  Input(const std::uint8_t* data, std::size_t size) noexcept : p_(data), end_(data + size) {}
  bool done() const noexcept { return p_ == end_; }
  std::uint8_t byte() noexcept { return p_ == end_ ? 0 : *p_++; }
  std::string bytes(std::size_t n) {
    if (n > static_cast<std::size_t>(end_ - p_)) n = static_cast<std::size_t>(end_ - p_);
    std::string s(reinterpret_cast<const char*>(p_), n);
    p_ += n;
    return s;
  }

private:
  const std::uint8_t* p_;
  const std::uint8_t* end_;
};

class KeyDecoder {
public:
  std::string next(Input& in) {
    const std::uint8_t b = in.byte();
    std::string k;
    if (b < 0x40 && !pool_.empty()) {
      k = pool_[b % pool_.size()];
      if ((b & 0x20) != 0) {
        k += static_cast<char>(in.byte());
      } else if ((b & 0x10) != 0 && !k.empty()) {
        k.pop_back();
      }
    } else if (b >= 0xe0) {
      const char fill = static_cast<char>(in.byte());
      const std::size_t n = 16 * std::size_t{in.byte()} + (b & 0x1f);
      k.assign(n, fill);
      k += static_cast<char>(in.byte());
    } else {
      k = in.bytes(b & 0x1f);
    }
    remember(k);
    return k;
  }

private:
  void remember(const std::string& k) {
    if (pool_.size() < 64) {
      pool_.push_back(k);
    } else {
      pool_[next_slot_++ % 64] = k;
    }
  }
  std::vector<std::string> pool_;
  std::size_t next_slot_ = 0;
};

template <class M, class V>
class OpsRun {
public:
  OpsRun(const char* target, M& m, Input& in)
      : target_(target), m_(m), in_(in), empty_usage_(m.memory_usage()) {}

  void run() {
    try {
      while (!in_.done() && op_ < 4096) {
        step(in_.byte());
        ++op_;
        if (m_.size() != ref_.size()) {
          fail("size() is " + std::to_string(m_.size()) + ", expected " +
               std::to_string(ref_.size()));
        }
        if (ref_.size() <= 64 || op_ % 8 == 0) memkv_test::detail::compare_all(m_, ref_, "map");
        if (op_ % 4 == 0) invariants(m_);
      }
      memkv_test::detail::compare_all(m_, ref_, "map at the end");
      invariants(m_);
    } catch (const memkv_test::failure& f) {
      fail(f.what());
    } catch (const std::bad_alloc&) {
      throw;  // libFuzzer's -rss_limit_mb / -malloc_limit_mb report these
    } catch (const std::exception& e) {
      fail(std::string("unexpected exception: ") + e.what());
    }
  }

private:
  [[noreturn]] void fail(const std::string& what) const { fuzz_abort(target_, op_, what); }

  static void invariants(const M& m) {
    try {
      m.check_invariants();
    } catch (const std::exception& e) {
      memkv_test::fail(std::string("check_invariants(): ") + e.what());
    }
  }

  V value() { return memkv_test::make_value<V>(++counter_); }

  void lookup(const std::string& k) {
    const M& cm = m_;
    const V* p = cm.find(k);
    const auto it = ref_.find(k);
    if (it == ref_.end()) {
      if (p != nullptr || cm.contains(k) || cm.get(k).has_value()) {
        fail("an absent key " + memkv_test::show(k) + " is found");
      }
      return;
    }
    if (p == nullptr || !cm.contains(k)) fail("a present key " + memkv_test::show(k) + " is missing");
    if (!(*p == it->second)) {
      fail("key " + memkv_test::show(k) + " has value " + memkv_test::show_value(*p) +
           ", expected " + memkv_test::show_value(it->second));
    }
    const std::optional<V> g = cm.get(k);
    if (!g || !(*g == it->second)) fail("get() disagrees with find() for " + memkv_test::show(k));
  }

  // get_many (maps that have it) of every key and a neighbour of each, against the reference.
  void check_get_many() {
    if constexpr (requires(const M& cm, std::span<const std::string_view> ks,
                           std::span<std::optional<V>> out) { cm.get_many(ks, out); }) {
      std::vector<std::string> keys;
      for (const auto& kv : ref_) {
        keys.push_back(kv.first);
        keys.push_back(kv.first + '\x01');
      }
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<std::optional<V>> got(views.size());
      const M& cm = m_;
      cm.get_many(views, got);
      for (std::size_t i = 0; i < views.size(); ++i) {
        const auto it = ref_.find(views[i]);
        const bool ok = it == ref_.end() ? !got[i].has_value()
                                         : got[i].has_value() && *got[i] == it->second;
        if (!ok) fail("get_many disagrees on " + memkv_test::show(views[i]));
      }
    }
  }

  static constexpr bool has_insert_many =
      requires(M& m, std::span<const std::string_view> ks, std::span<const V> vs) {
        m.insert_many(ks, vs);
        m.insert_or_assign_many(ks, vs);
      };
  // insert_many or insert_or_assign_many (op 3, maps that have them): a count byte c, then
  // c % 40 keys; c >= 0x80 assigns. Checked against the same calls one by one on the reference.
  void insert_many() {
    const std::uint8_t c = in_.byte();
    const bool assign = c >= 0x80;
    std::vector<std::string> keys;
    std::vector<V> values;
    for (unsigned i = 0; i < c % 40u; ++i) {
      keys.push_back(keys_.next(in_));
      values.push_back(value());
    }
    const std::vector<std::string_view> views(keys.begin(), keys.end());
    const std::size_t got = assign ? m_.insert_or_assign_many(views, values) : m_.insert_many(views, values);
    std::size_t want = 0;
    for (std::size_t i = 0; i < keys.size(); ++i)
      want += assign ? ref_.insert_or_assign(keys[i], values[i]).second : ref_.try_emplace(keys[i], values[i]).second;
    if (got != want)
      fail(std::string(assign ? "insert_or_assign_many" : "insert_many") + " returned " + std::to_string(got) +
           ", expected " + std::to_string(want));
    for (const std::string& k : keys) lookup(k);
  }

  void check_emptied() {
    if (!ref_.empty()) return;
    if (!m_.empty() || m_.begin() != m_.end()) fail("the emptied map is not empty");
    if (m_.memory_usage() != empty_usage_) {
      fail("memory_usage() of the emptied map is " + std::to_string(m_.memory_usage()) +
           ", the empty map's is " + std::to_string(empty_usage_));
    }
  }

  void step(std::uint8_t opbyte) {
    const unsigned op = opbyte % 16;
    static constexpr std::size_t kScan = 512;
    switch (op) {
      case 3:
        if constexpr (has_insert_many) {
          insert_many();
          break;
        }
        [[fallthrough]];
      case 0: case 1: case 2: {
        const std::string k = keys_.next(in_);
        V v = value();
        const bool got = m_.insert(k, v);
        const bool want = ref_.try_emplace(k, std::move(v)).second;
        if (got != want) fail("insert(" + memkv_test::show(k) + ") returned " + (got ? "true" : "false"));
        lookup(k);
        break;
      }
      case 4: case 5: {
        const std::string k = keys_.next(in_);
        V v = value();
        const bool got = m_.insert_or_assign(k, v);
        const bool want = ref_.insert_or_assign(k, std::move(v)).second;
        if (got != want) {
          fail("insert_or_assign(" + memkv_test::show(k) + ") returned " + (got ? "true" : "false"));
        }
        lookup(k);
        break;
      }
      case 6: case 7: {
        const std::string k = keys_.next(in_);
        const bool got = m_.erase(k);
        const bool want = ref_.erase(k) != 0;
        if (got != want) fail("erase(" + memkv_test::show(k) + ") returned " + (got ? "true" : "false"));
        lookup(k);
        if (want) check_emptied();
        break;
      }
      case 8:
        lookup(keys_.next(in_));
        break;
      case 9: {
        const std::string k = keys_.next(in_);
        const M& cm = m_;
        memkv_test::detail::compare_scan(
            cm.lower_bound(k), cm.end(), ref_.lower_bound(k), ref_.end(),
            [](std::string_view) { return true; }, kScan, "lower_bound(" + memkv_test::show(k) + ")");
        break;
      }
      case 10: {
        const std::string p = keys_.next(in_);
        const M& cm = m_;
        auto r = cm.prefix(p);
        memkv_test::detail::compare_scan(
            r.begin(), r.end(), ref_.lower_bound(p), ref_.end(),
            [&p](std::string_view k) { return memkv_test::detail::starts_with(k, p); }, kScan,
            "prefix(" + memkv_test::show(p) + ")");
        break;
      }
      case 11: {
        const std::string lo = keys_.next(in_);
        const std::string hi = keys_.next(in_);
        const M& cm = m_;
        auto r = cm.range(lo, hi);
        const std::string_view hv(hi);
        memkv_test::detail::compare_scan(
            r.begin(), r.end(), ref_.lower_bound(lo), ref_.end(),
            [hv](std::string_view k) { return k < hv; }, kScan,
            "range(" + memkv_test::show(lo) + ", " + memkv_test::show(hi) + ")");
        break;
      }
      case 12: {
        const std::string k = keys_.next(in_);
        V* p = m_.find(k);
        const auto it = ref_.find(k);
        if ((p != nullptr) != (it != ref_.end())) fail("find() disagrees on " + memkv_test::show(k));
        if (p != nullptr) {
          V v = value();
          *p = v;
          it->second = std::move(v);
          lookup(k);
        }
        break;
      }
      case 13: {
        M copy(m_);
        invariants(copy);
        memkv_test::detail::compare_all(copy, ref_, "copy");
        const std::uint8_t how = in_.byte();
        // The copy is deep: a change to it leaves the original alone.
        const std::string k = keys_.next(in_);
        const bool had = ref_.count(k) != 0;
        if (had) copy.erase(k); else copy.insert(k, value());
        if (m_.contains(k) != had) fail("changing a copy changed the original at " + memkv_test::show(k));
        if (had) copy.insert(k, ref_.find(k)->second); else copy.erase(k);
        switch (how % 4) {
          case 0: break;
          case 1: m_ = copy; break;
          case 2: m_ = std::move(copy); break;
          default: {
            using std::swap;
            swap(m_, copy);
            memkv_test::detail::compare_all(copy, ref_, "swapped-out map");
          }
        }
        break;
      }
      case 14:
        if constexpr (requires { m_.merge(); }) {
          m_.merge();
        } else {
          M moved(std::move(m_));
          m_ = std::move(moved);
        }
        break;
      default:
        if (opbyte >= 0xf0) {
          m_.clear();
          ref_.clear();
          check_emptied();
        } else {
          memkv_test::detail::compare_all(m_, ref_, "full check");
          invariants(m_);
          check_get_many();
        }
    }
  }

  const char* target_;
  M& m_;
  Input& in_;
  std::size_t empty_usage_;
  std::map<std::string, V, std::less<>> ref_;
  KeyDecoder keys_;
  std::uint64_t counter_ = 0;
  std::size_t op_ = 0;
};

template <class M, class V>
void run_ops(const char* target, M& m, Input& in) {
  OpsRun<M, V>(target, m, in).run();
}

}  // namespace memkv_fuzz
