// tests/differential.hpp - the randomized differential harness every memkv map plugs into.
//
//   memkv_test::run_differential<M>(opts)      drives a mutable map M (FastArt, ArenaArt, HotArt,
//                                              HybridStore, ...) and std::map through the same
//                                              random operations and compares every answer.
//   memkv_test::check_static_against(s, ref)   checks an immutable structure (FrozenLayer,
//                                              FrontCodedIndex, ...) against the std::map it was
//                                              built from: lookups (and get_many/rank_many when
//                                              it has them), neighbours, scans.
//   memkv_test::nasty_keys(seed, n)            n distinct nasty keys (empty, '\0', '\xff', all
//                                              single bytes, prefix chains, URLs, binary, ...)
//   memkv_test::nasty_map<V>(seed, n)          the same keys in a std::map, values attached.
//
// The mutable-map run covers insert, insert_or_assign (overwrite), erase (present and absent),
// find/get/contains (hits, misses, neighbours), assignment through find(), lower_bound, prefix and
// range scans (bounded, entry by entry), full iteration, copy/move/swap, compact() when the map
// has it, get_many (batches of present, absent and repeated keys) and find_many (each key
// reported once, with find()'s pointer) when the map has them, clear,
// check_invariants(), and memory_usage() back at the empty map's value whenever
// the map empties. DiffOptions::allocation_failures lets an allocator that fails at random check
// the strong guarantee. Keys come from KeyGen; a few keys over 64 KiB join every run.
//
// Failures throw memkv_test::failure whose message names the seed, the operation number and the
// key, so a run is replayed with MEMKV_TEST_SEED / MEMKV_TEST_OPS. The harness does not depend on
// Catch2 (fuzz targets may use it); tests wrap it in REQUIRE_NOTHROW.
//
// Scaling (environment, read at run time):
//   MEMKV_TEST_OPS    random operations per seed (default 1000000, 400000 under a sanitizer;
//                     suffixes k and m accepted)
//   MEMKV_TEST_SEEDS  seeds per differential test (default 3, 1 under a sanitizer)
//   MEMKV_TEST_SEED   first seed (default 1)
#pragma once

#include <algorithm>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <map>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_set>
#include <utility>
#include <vector>

#include <memkv/core/error.hpp>

// MEMKV_TEST_SANITIZED: 1 in the checked builds, where every test runs 10-50x slower: ASan/UBSan
// and TSan (detected here) and valgrind's memcheck (.ci/valgrind.sh passes -DMEMKV_TEST_SANITIZED=1).
// Tests sized by hand take their smaller sizes there (kSanitized below).
#if defined(MEMKV_TEST_SANITIZED)
#elif defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define MEMKV_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || \
    __has_feature(memory_sanitizer)
#define MEMKV_TEST_SANITIZED 1
#endif
#endif
#ifndef MEMKV_TEST_SANITIZED
#define MEMKV_TEST_SANITIZED 0
#endif

namespace memkv_test {

// ---------------------------------------------------------------------------------------------
// Run-time scaling
// ---------------------------------------------------------------------------------------------

inline constexpr bool kSanitized = MEMKV_TEST_SANITIZED != 0;

// The value of environment variable `name` ("250000", "250k", "1m"), or `fallback`.
inline std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* s = std::getenv(name);
  if (s == nullptr || *s == '\0') return fallback;
  char* end = nullptr;
  std::uint64_t v = std::strtoull(s, &end, 10);
  if (end == s) return fallback;
  if (*end == 'k' || *end == 'K') v *= 1000;
  if (*end == 'm' || *end == 'M') v *= 1000 * 1000;
  return v;
}

// Under a sanitizer (Debug, ~10x slower) 400,000 operations a seed: the release run does the
// million; the sanitized run is there to catch memory errors, which the first few hundred
// thousand operations of every kind already exercise.
inline std::size_t test_ops() { return env_u64("MEMKV_TEST_OPS", kSanitized ? 400'000 : 1'000'000); }
inline std::size_t test_seeds() { return env_u64("MEMKV_TEST_SEEDS", kSanitized ? 1 : 3); }
inline std::uint64_t base_seed() { return env_u64("MEMKV_TEST_SEED", 1); }

// ---------------------------------------------------------------------------------------------
// Failures and printing
// ---------------------------------------------------------------------------------------------

struct failure : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] inline void fail(const std::string& what) { throw failure(what); }

// A key as a C-like literal: printable bytes as is, the rest as \xHH; long keys abbreviated.
inline std::string show(std::string_view key) {
  static constexpr char kHex[] = "0123456789abcdef";
  constexpr std::size_t kShown = 48;
  std::string out = "\"";
  for (std::size_t i = 0; i < key.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(key[i]);
    if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  out += '"';
  if (key.size() > kShown) out += "...(" + std::to_string(key.size()) + " bytes)";
  return out;
}

template <class V>
std::string show_value(const V& v) {
  if constexpr (std::is_convertible_v<const V&, std::string_view>) {
    return show(std::string_view(v));
  } else if constexpr (std::is_arithmetic_v<V>) {
    return std::to_string(v);
  } else {
    return "(value)";
  }
}

// ---------------------------------------------------------------------------------------------
// Random numbers (xoshiro256**, seeded by splitmix64: the same sequence on every platform)
// ---------------------------------------------------------------------------------------------

class Rng {
public:
  explicit Rng(std::uint64_t seed) noexcept {
    for (auto& s : s_) {
      seed += 0x9e3779b97f4a7c15ULL;
      std::uint64_t z = seed;
      z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
      z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
      s = z ^ (z >> 31);
    }
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0];
    s_[3] ^= s_[1];
    s_[1] ^= s_[2];
    s_[0] ^= s_[3];
    s_[2] ^= t;
    s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, n); n > 0.
  std::uint64_t below(std::uint64_t n) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
  bool one_in(std::uint64_t n) noexcept { return below(n) == 0; }
  char byte() noexcept { return static_cast<char>(next() & 0xff); }

private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// ---------------------------------------------------------------------------------------------
// Values
// ---------------------------------------------------------------------------------------------

// A value derived from x; for std::string: empty, short (SSO), long (heap) and binary strings.
template <class V>
V make_value(std::uint64_t x) {
  if constexpr (std::is_same_v<V, std::string>) {
    switch (x % 4) {
      case 0: return std::string();
      case 1: return std::to_string(x);
      case 2: return "value-" + std::to_string(x) + "-with-a-heap-allocated-payload";
      default: return std::string("\0\xff", 2) + std::to_string(x);
    }
  } else {
    return static_cast<V>(x);
  }
}

// ---------------------------------------------------------------------------------------------
// Nasty keys
// ---------------------------------------------------------------------------------------------

// Generates keys that break tries: empty, single bytes, '\0'/'\xff' runs, prefixes and
// extensions of keys it produced before, siblings differing in one byte, shared prefixes of
// lengths around the stored-prefix limits, URLs, random binary, and (on request) keys > 64 KiB.
class KeyGen {
public:
  explicit KeyGen(std::uint64_t seed, std::size_t pool_capacity = 8192)
      : rng_(seed), capacity_(pool_capacity) {}

  // A fresh nasty key (it may equal an earlier one); remembered for later prefixes/extensions.
  std::string fresh() {
    std::string k = make();
    remember(k);
    return k;
  }

  // A key produced earlier (or a fresh one when there is none yet).
  std::string remembered() {
    if (pool_.empty()) return fresh();
    return pool_[rng_.below(pool_.size())];
  }

  void remember(std::string_view k) {
    if (k.size() > 4096 && !rng_.one_in(4)) return;  // keep the pool mostly cheap to copy
    if (pool_.size() < capacity_) {
      pool_.emplace_back(k);
    } else {
      pool_[rng_.below(pool_.size())].assign(k);
    }
  }

  // A key longer than 64 KiB; often a prefix or an extension of an earlier long key, so long
  // keys share prefixes of tens of KiB and diverge at their end.
  std::string long_key() {
    std::string k;
    if (!longs_.empty() && !rng_.one_in(3)) {
      k = longs_[rng_.below(longs_.size())];
      switch (rng_.below(3)) {
        case 0: k.resize(k.size() - 1 - rng_.below(64)); break;  // a prefix
        case 1: append_random(k, 1 + rng_.below(16)); break;     // an extension
        default: k.back() = static_cast<char>(k.back() ^ (1 + rng_.below(255)));  // a sibling
      }
      if (k.size() <= 65536) append_random(k, 65537 - k.size());
    } else {
      const std::size_t n = 65536 + 1 + rng_.below(4096);
      k.reserve(n);
      const char fill = rng_.one_in(2) ? 'L' : '\xff';
      while (k.size() < n) {
        if (rng_.one_in(997)) k += rng_.byte(); else k += fill;
      }
    }
    longs_.push_back(k);
    remember(k);
    return k;
  }

  Rng& rng() noexcept { return rng_; }

private:
  static constexpr char kSpecial[] = {'\0', '\x01', 'a', 'b', '\x7f', '\x80', '\xfe', '\xff'};

  char special() noexcept { return kSpecial[rng_.below(sizeof kSpecial)]; }
  void append_random(std::string& k, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) k += rng_.one_in(2) ? special() : rng_.byte();
  }
  const std::string* pick() {
    return pool_.empty() ? nullptr : &pool_[rng_.below(pool_.size())];
  }

  std::string url() {
    static constexpr const char* kScheme[] = {"http://", "https://", "https://www."};
    static constexpr const char* kHost[] = {"a.com", "example.org", "example.com", "x.io",
                                            "wikipedia.org", "en.wikipedia.org"};
    static constexpr const char* kPath[] = {"/", "/index.html", "/a", "/a/b", "/wiki/",
                                            "/wiki/Main_Page", "/search", "/img/"};
    std::string u = kScheme[rng_.below(3)];
    u += kHost[rng_.below(6)];
    if (rng_.one_in(2)) u.insert(u.size() - 4, std::to_string(rng_.below(50)));
    const std::size_t segments = rng_.below(4);
    for (std::size_t i = 0; i < segments; ++i) {
      u += kPath[rng_.below(8)];
      if (rng_.one_in(2)) u += std::to_string(rng_.below(1000));
    }
    if (rng_.one_in(4)) u += "?q=" + std::to_string(rng_.below(100000));
    return u;
  }

  std::string make() {
    std::string k;
    switch (rng_.below(20)) {
      case 0:  // the empty key, or a short run of one byte
        if (rng_.one_in(4)) return k;
        k.assign(1 + rng_.below(4), special());
        return k;
      case 1:  // any single byte
        k += rng_.byte();
        return k;
      case 2:  // two bytes from the byte values that sort oddly
        k += special();
        k += special();
        return k;
      case 3: {  // chains: "a", "aa", "aaa", ... and the same with '\0' and '\xff'
        static constexpr char kChain[] = {'a', '\0', '\xff', 'b'};
        k.assign(1 + rng_.below(48), kChain[rng_.below(4)]);
        return k;
      }
      case 4:
      case 5:  // a prefix of an earlier key (possibly empty, possibly all of it)
        if (const std::string* p = pick()) return p->substr(0, rng_.below(p->size() + 1));
        break;
      case 6:
      case 7:  // an extension of an earlier key
        if (const std::string* p = pick()) {
          k = *p;
          append_random(k, 1 + rng_.below(rng_.one_in(4) ? 24 : 3));
          return k;
        }
        break;
      case 8:  // a sibling: one byte changed, possibly cut after it
        if (const std::string* p = pick(); p != nullptr && !p->empty()) {
          k = *p;
          const std::size_t i = rng_.below(k.size());
          const int d = rng_.one_in(2) ? 1 : -1;
          k[i] = static_cast<char>(static_cast<unsigned char>(k[i]) + d);
          if (rng_.one_in(2)) k.resize(i + 1);
          return k;
        }
        break;
      case 9:
      case 10:
      case 11:
        return url();
      case 12:
      case 13:  // short random binary, every byte value
        append_random(k, 1 + rng_.below(12));
        for (auto& c : k) c = rng_.byte();
        return k;
      case 14:
      case 15:  // small alphabet: dense trees, long shared prefixes
        for (std::size_t i = 0, n = 1 + rng_.below(24); i < n; ++i) k += "ab\0\xff"[rng_.below(4)];
        return k;
      case 16:  // medium random, longer than any stored partial prefix
        for (std::size_t i = 0, n = 16 + rng_.below(200); i < n; ++i) k += "xyz\x80"[rng_.below(4)];
        return k;
      case 17:
      case 18:  // a run of 0..40 equal bytes then a short tail: prefix lengths around every limit
        k.assign(rng_.below(41), rng_.one_in(2) ? 'p' : '\0');
        append_random(k, rng_.below(3));
        return k;
      default:  // a key of an earlier key's prefix plus one random byte
        if (const std::string* p = pick()) {
          k = p->substr(0, rng_.below(p->size() + 1));
          k += rng_.byte();
          return k;
        }
        break;
    }
    // Fallback when the pool is still empty.
    append_random(k, 1 + rng_.below(8));
    return k;
  }

  Rng rng_;
  std::size_t capacity_;
  std::vector<std::string> pool_;
  std::vector<std::string> longs_;
};

// The fixed nasty keys: "", all 256 single bytes, chains of 'a', '\0' and '\xff', and a few
// pairs of keys that are prefixes of each other.
inline std::vector<std::string> special_keys() {
  std::vector<std::string> keys;
  keys.emplace_back();
  for (int b = 0; b < 256; ++b) keys.emplace_back(1, static_cast<char>(b));
  for (std::size_t n = 2; n <= 40; ++n) {
    keys.emplace_back(n, 'a');
    keys.emplace_back(n, '\0');
    keys.emplace_back(n, '\xff');
  }
  for (const char* s : {"ab", "abc", "abcd", "abd", "b\xff", "b\xff\xff", "\x80", "\x7f\xff"}) {
    keys.emplace_back(s);
  }
  keys.emplace_back(std::string("a\0b", 3));
  keys.emplace_back(std::string("a\0", 2) + "\xff");
  std::sort(keys.begin(), keys.end());
  keys.erase(std::unique(keys.begin(), keys.end()), keys.end());
  return keys;
}

// n distinct nasty keys in generation order (not sorted). The fixed special keys are all
// included when n is at least four times their number, a random share of them otherwise.
// `long_keys` of the n keys are longer than 64 KiB.
inline std::vector<std::string> nasty_keys(std::uint64_t seed, std::size_t n,
                                           std::size_t long_keys = 0) {
  KeyGen gen(seed);
  std::vector<std::string> out;
  std::unordered_set<std::string> seen;
  out.reserve(n);
  auto add = [&](std::string k) {
    if (out.size() < n && seen.insert(k).second) out.push_back(std::move(k));
  };
  const std::vector<std::string> special = special_keys();
  for (const std::string& k : special) {
    if (n >= 4 * special.size() || gen.rng().below(4 * special.size()) < n) add(k);
  }
  for (std::size_t i = 0; i < long_keys && out.size() < n; ++i) add(gen.long_key());
  while (out.size() < n) add(gen.fresh());
  // Mix the fixed keys into the generated ones.
  for (std::size_t i = out.size(); i > 1; --i) std::swap(out[i - 1], out[gen.rng().below(i)]);
  return out;
}

// nasty_keys(seed, n, long_keys) in a std::map; the value of the i-th generated key is
// make_value<V>(i).
template <class V = std::uint64_t>
std::map<std::string, V> nasty_map(std::uint64_t seed, std::size_t n, std::size_t long_keys = 0) {
  std::map<std::string, V> m;
  std::uint64_t i = 0;
  for (std::string& k : nasty_keys(seed, n, long_keys)) m.emplace(std::move(k), make_value<V>(i++));
  return m;
}

// ---------------------------------------------------------------------------------------------
// Comparing scans
// ---------------------------------------------------------------------------------------------

namespace detail {

inline bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.substr(0, p.size()) == p;
}

// Keys next to k: k+"\0", k+"\xff", k minus its last byte, k with its last byte +1 and -1.
inline std::vector<std::string> neighbours(std::string_view k) {
  std::vector<std::string> out;
  out.emplace_back(std::string(k) + '\0');
  out.emplace_back(std::string(k) + '\xff');
  if (!k.empty()) {
    out.emplace_back(k.substr(0, k.size() - 1));
    const auto last = static_cast<unsigned char>(k.back());
    std::string s(k);
    if (last != 0xff) {
      s.back() = static_cast<char>(last + 1);
      out.push_back(s);
    }
    if (last != 0) {
      s.back() = static_cast<char>(last - 1);
      out.push_back(s);
    }
  }
  return out;
}

// Walks [it, end) and the reference from rit while in_range(key) holds, entry by entry, for at
// most `limit` entries (no limit when 0). When the reference ends within the limit, the scan
// must end there too.
template <class It, class End, class RefIt, class InRange>
void compare_scan(It it, End end, RefIt rit, RefIt rend, InRange in_range, std::size_t limit,
                  const std::string& what) {
  for (std::size_t i = 0; limit == 0 || i < limit; ++i) {
    const bool ref_done = rit == rend || !in_range(std::string_view(rit->first));
    const bool done = !(it != end);
    if (ref_done && done) return;
    if (done) {
      fail(what + ": ended after " + std::to_string(i) + " entries; expected key " +
           show(rit->first) + " next");
    }
    const auto e = *it;
    if (ref_done) {
      fail(what + ": entry " + std::to_string(i) + " has key " + show(e.key) +
           " where the scan should have ended");
    }
    if (std::string_view(e.key) != std::string_view(rit->first)) {
      fail(what + ": entry " + std::to_string(i) + " has key " + show(e.key) + ", expected " +
           show(rit->first));
    }
    if (!(e.value == rit->second)) {
      fail(what + ": entry " + std::to_string(i) + " key " + show(e.key) + " has value " +
           show_value(e.value) + ", expected " + show_value(rit->second));
    }
    ++it;
    ++rit;
  }
}

template <class Ref>
auto ref_lower_bound(const Ref& ref, std::string_view k) {
  return ref.lower_bound(typename Ref::key_type(k));
}

// Every entry of s (by range-for) against ref, then the size.
template <class S, class Ref>
void compare_all(const S& s, const Ref& ref, const std::string& what) {
  auto rit = ref.begin();
  std::size_t i = 0;
  for (auto&& e : s) {
    if (rit == ref.end()) {
      fail(what + ": iteration yields extra entry " + std::to_string(i) + " with key " +
           show(e.key) + "; the reference has " + std::to_string(ref.size()));
    }
    if (std::string_view(e.key) != std::string_view(rit->first) || !(e.value == rit->second)) {
      fail(what + ": iteration entry " + std::to_string(i) + " is " + show(e.key) + " = " +
           show_value(e.value) + ", expected " + show(rit->first) + " = " +
           show_value(rit->second));
    }
    ++rit;
    ++i;
  }
  if (rit != ref.end()) {
    fail(what + ": iteration ended after " + std::to_string(i) + " entries, expected " +
         std::to_string(ref.size()) + "; next expected key " + show(rit->first));
  }
  if (s.size() != ref.size()) {
    fail(what + ": size() is " + std::to_string(s.size()) + ", expected " +
         std::to_string(ref.size()));
  }
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Static structures
// ---------------------------------------------------------------------------------------------

struct StaticCheckOptions {
  std::uint64_t seed = 1;
  std::size_t max_keys = 20000;  // keys probed (with their neighbours); all when fewer
  std::size_t random_probes = 2000;
  std::size_t scans = 500;       // prefix scans, and as many range scans
  std::size_t scan_limit = 64;   // entries compared per scan (the first scans are unbounded)
};

// Checks an immutable structure s (get -> std::optional<V>, contains, size, begin/end,
// lower_bound, prefix, range; entries with .key and .value) against the map it was built from.
template <class S, class Ref>
void check_static_against(const S& s, const Ref& ref, const StaticCheckOptions& opt = {}) {
  using detail::neighbours;
  if (s.size() != ref.size()) {
    fail("size() is " + std::to_string(s.size()) + ", expected " + std::to_string(ref.size()));
  }
  if constexpr (requires { s.empty(); }) {
    if (s.empty() != ref.empty()) fail("empty() disagrees with size()");
  }

  std::vector<std::string> batch;  // every key looked up, for get_many below
  auto check_lookup = [&](std::string_view k, const char* what) {
    batch.emplace_back(k);
    const auto rit = ref.find(typename Ref::key_type(k));
    const auto got = s.get(k);
    const bool has = s.contains(k);
    if (rit == ref.end()) {
      if (got.has_value() || has) {
        fail(std::string(what) + " key " + show(k) + " is absent but get/contains found it");
      }
    } else {
      if (!got.has_value() || !has) fail(std::string(what) + " key " + show(k) + " not found");
      if (!(*got == rit->second)) {
        fail(std::string(what) + " key " + show(k) + " has value " + show_value(*got) +
             ", expected " + show_value(rit->second));
      }
    }
  };
  auto check_lower_bound = [&](std::string_view k, std::size_t limit) {
    detail::compare_scan(
        s.lower_bound(k), s.end(), detail::ref_lower_bound(ref, k), ref.end(),
        [](std::string_view) { return true; }, limit, "lower_bound(" + show(k) + ")");
  };
  auto check_prefix = [&](std::string_view p, std::size_t limit) {
    auto r = s.prefix(p);
    detail::compare_scan(
        r.begin(), r.end(), detail::ref_lower_bound(ref, p), ref.end(),
        [p](std::string_view k) { return detail::starts_with(k, p); }, limit,
        "prefix(" + show(p) + ")");
  };
  auto check_range = [&](std::string_view lo, std::string_view hi, std::size_t limit) {
    auto r = s.range(lo, hi);
    detail::compare_scan(
        r.begin(), r.end(), detail::ref_lower_bound(ref, lo), ref.end(),
        [hi](std::string_view k) { return k < hi; }, limit,
        "range(" + show(lo) + ", " + show(hi) + ")");
  };

  // 1. Full iteration.
  detail::compare_all(s, ref, "iteration");

  // 2. Every key (or an even sample) with its neighbours: lookups and lower_bound.
  std::vector<std::string_view> keys;
  keys.reserve(ref.size());
  for (const auto& kv : ref) keys.push_back(kv.first);
  const std::size_t stride =
      keys.size() <= opt.max_keys ? 1 : (keys.size() + opt.max_keys - 1) / opt.max_keys;
  for (std::size_t i = 0; i < keys.size(); i += stride) {
    check_lookup(keys[i], "present");
    check_lower_bound(keys[i], 3);
    for (const std::string& n : neighbours(keys[i])) {
      check_lookup(n, "neighbour");
      check_lower_bound(n, 2);
    }
  }
  if (!keys.empty()) {
    check_lookup(keys.front(), "first");
    check_lookup(keys.back(), "last");
  }

  // 3. Random absent (mostly) keys.
  KeyGen gen(opt.seed ^ 0x5eedULL);
  for (const auto& k : keys) {
    if (gen.rng().one_in(8)) gen.remember(k);
  }
  for (std::size_t i = 0; i < opt.random_probes; ++i) {
    const std::string k = gen.fresh();
    check_lookup(k, "random");
    check_lower_bound(k, 2);
  }

  // 3b. get_many / rank_many (structures that have them) of every key looked up so far, in a
  // random order, against the reference and rank().
  if constexpr (requires(const S& cs, std::span<const std::string_view> ks,
                         std::span<std::optional<typename S::mapped_type>> out) {
                  cs.get_many(ks, out);
                }) {
    for (std::size_t i = batch.size(); i > 1; --i) std::swap(batch[i - 1], batch[gen.rng().below(i)]);
    const std::vector<std::string_view> views(batch.begin(), batch.end());
    std::vector<std::optional<typename S::mapped_type>> got(views.size());
    s.get_many(views, got);
    for (std::size_t i = 0; i < views.size(); ++i) {
      const auto rit = ref.find(typename Ref::key_type(views[i]));
      if (rit == ref.end()) {
        if (got[i].has_value()) fail("get_many found the absent key " + show(views[i]));
      } else if (!got[i].has_value() || !(*got[i] == rit->second)) {
        fail("get_many disagrees with the map at " + show(views[i]));
      }
    }
    if constexpr (requires(const S& cs, std::span<const std::string_view> ks,
                           std::span<std::optional<std::uint64_t>> out) { cs.rank_many(ks, out); }) {
      std::vector<std::optional<std::uint64_t>> ranks(views.size());
      s.rank_many(views, ranks);
      for (std::size_t i = 0; i < views.size(); ++i) {
        const auto want = s.rank(views[i]);
        if (want.has_value() != ranks[i].has_value() || (want && *want != *ranks[i]))
          fail("rank_many disagrees with rank at " + show(views[i]));
      }
    }
  }

  // 4. Prefix and range scans.
  check_prefix("", 0);
  check_prefix(std::string_view("\xff\xff", 2), 0);
  check_prefix(std::string_view("\0", 1), 0);
  check_range("", "", 0);
  if (!keys.empty()) {
    check_range("", std::string(keys.back()) + '\0', 0);
    check_range(keys.front(), keys.back(), 0);
    check_range(keys.back(), keys.front(), 0);
  }
  Rng& rng = gen.rng();
  auto some_key = [&]() -> std::string {
    if (keys.empty() || rng.one_in(4)) return gen.fresh();
    std::string k(keys[rng.below(keys.size())]);
    if (rng.one_in(3)) {
      auto ns = neighbours(k);
      k = ns[rng.below(ns.size())];
    }
    return k;
  };
  for (std::size_t i = 0; i < opt.scans; ++i) {
    std::string p = some_key();
    p.resize(rng.below(p.size() + 1));
    check_prefix(p, i < 20 ? 0 : opt.scan_limit);
    const std::string lo = some_key();
    const std::string hi = rng.one_in(8) ? lo : some_key();
    check_range(lo, hi, i < 20 ? 0 : opt.scan_limit);
  }
}

// ---------------------------------------------------------------------------------------------
// Mutable maps
// ---------------------------------------------------------------------------------------------

struct DiffOptions {
  std::uint64_t seed = 1;
  std::size_t ops = 1'000'000;            // random operations
  std::size_t max_size = 20'000;          // the map shrinks once it holds this many keys
  std::size_t invariant_every = 25'000;   // operations between check_invariants() calls
  std::size_t full_compare_every = 100'000;
  std::size_t copy_every = 200'000;       // copy / move / swap checks
  std::size_t clear_every = 350'000;
  std::size_t scan_limit = 16;            // entries compared per lower_bound/prefix/range scan
  std::size_t long_keys = 4;              // keys > 64 KiB inserted during the run
  bool memory_returns = true;     // memory_usage() is the empty map's whenever the map is empty
  bool moved_from_empty = true;   // a moved-from map is empty (else only valid)
  // The map's allocator fails now and then: std::bad_alloc from insert, insert_or_assign and
  // copies is expected, and the map must then be unchanged (strong guarantee). erase, clear,
  // lookups and scans must never throw it.
  bool allocation_failures = false;
};

struct DiffStats {
  std::size_t ops = 0, inserted = 0, assigned = 0, erased = 0, erase_misses = 0, hits = 0,
              misses = 0, scans = 0, max_size = 0, times_empty = 0, invariant_checks = 0,
              compactions = 0, bad_allocs = 0, batches = 0, find_batches = 0,
              insert_batches = 0, insert_batch_bad_allocs = 0;
};

inline std::string describe(const DiffStats& s) {
  return std::to_string(s.ops) + " ops: " + std::to_string(s.inserted) + " inserted, " +
         std::to_string(s.assigned) + " assigned, " + std::to_string(s.erased) + " erased, " +
         std::to_string(s.erase_misses) + " absent erases, " + std::to_string(s.hits) +
         " hits, " + std::to_string(s.misses) + " misses, " + std::to_string(s.scans) +
         " scans, max size " + std::to_string(s.max_size) + ", empty " +
         std::to_string(s.times_empty) + " times, " + std::to_string(s.invariant_checks) +
         " invariant checks, " + std::to_string(s.compactions) + " compactions, " +
         std::to_string(s.bad_allocs) + " failed allocations, " + std::to_string(s.batches) +
         " get_many batches, " + std::to_string(s.find_batches) + " find_many batches, " +
         std::to_string(s.insert_batches) + " insert_many batches (" +
         std::to_string(s.insert_batch_bad_allocs) + " failed allocations in them)";
}

template <class M>
class Differential {
public:
  using V = typename M::mapped_type;
  using Ref = std::map<std::string, V, std::less<>>;

  Differential(M& m, const DiffOptions& opt)
      : m_(m), opt_(opt), gen_(opt.seed), rng_(opt.seed * 0x9e3779b97f4a7c15ULL + 7) {}

  DiffStats run() {
    if constexpr (!std::is_nothrow_move_constructible_v<M> ||
                  !std::is_nothrow_move_assignable_v<M>) {
      fail("the map type is not nothrow-movable");
    }
    try {
      if (!m_.empty() || m_.size() != 0) fail("the map given to the harness is not empty");
      empty_usage_ = m_.memory_usage();
      invariants();
      for (op_ = 0; op_ < opt_.ops; ++op_) {
        step();
        if (ref_.size() != m_.size()) {
          fail("size() is " + std::to_string(m_.size()) + ", expected " +
               std::to_string(ref_.size()));
        }
        stats_.max_size = std::max(stats_.max_size, ref_.size());
        if ((op_ + 1) % opt_.invariant_every == 0) invariants();
        if ((op_ + 1) % opt_.full_compare_every == 0) full_compare(m_, "full iteration");
        if (opt_.copy_every != 0 && (op_ + 1) % opt_.copy_every == 0) copy_move_swap();
        if (opt_.clear_every != 0 && (op_ + 1) % opt_.clear_every == 0) clear();
      }
      stats_.ops = opt_.ops;
      op_name_ = "final check";
      op_key_.clear();
      invariants();
      full_compare(m_, "final iteration");
      // Drain: erase everything left, then the map must be back to its empty footprint.
      while (!ref_.empty()) erase_key(std::string(ref_.begin()->first), "final erase");
      invariants();
    } catch (const failure& e) {
      fail(context() + e.what());
    } catch (const std::exception& e) {
      fail(context() + "unexpected exception: " + e.what());
    }
    return stats_;
  }

private:
  std::string context() const {
    std::string op = op_name_ + " " + show(op_key_);
    if (!op_key2_.empty()) op += " .. " + show(op_key2_);
    return "seed " + std::to_string(opt_.seed) + ", op " + std::to_string(op_) + " of " +
           std::to_string(opt_.ops) + " (" + op + "), size " + std::to_string(ref_.size()) +
           ": ";
  }

  void note(const char* name, std::string_view key) {
    op_name_ = name;
    op_key_.assign(key.substr(0, 256));
    op_key2_.clear();
  }

  void invariants() {
    ++stats_.invariant_checks;
    try {
      m_.check_invariants();
    } catch (const std::exception& e) {
      fail(std::string("check_invariants(): ") + e.what());
    }
  }

  // A key present in the reference (a fresh one when it is empty).
  std::string present_key() {
    if (ref_.empty()) return gen_.fresh();
    auto it = ref_.lower_bound(gen_.remembered());
    if (it == ref_.end()) it = std::prev(it);
    return it->first;
  }

  std::string any_key() {
    switch (rng_.below(6)) {
      case 0:
      case 1: return present_key();
      case 2: return gen_.remembered();
      case 3: {
        const auto ns = detail::neighbours(present_key());
        return ns[rng_.below(ns.size())];
      }
      default: return gen_.fresh();
    }
  }

  V next_value() { return make_value<V>(++value_counter_); }

  void check_lookup(std::string_view k) {
    const auto rit = ref_.find(k);
    const M& cm = m_;
    const V* p = cm.find(k);
    if (rit == ref_.end()) {
      ++stats_.misses;
      if (p != nullptr) fail("find() found an absent key");
      if (cm.contains(k)) fail("contains() is true for an absent key");
      if (cm.get(k).has_value()) fail("get() returned a value for an absent key");
    } else {
      ++stats_.hits;
      if (p == nullptr) fail("find() misses a present key");
      if (!(*p == rit->second)) {
        fail("find() gives " + show_value(*p) + ", expected " + show_value(rit->second));
      }
      if (!cm.contains(k)) fail("contains() is false for a present key");
      const std::optional<V> g = cm.get(k);
      if (!g.has_value() || !(*g == rit->second)) fail("get() disagrees with find()");
      if (m_.find(k) != p) fail("the const and mutable find() return different pointers");
    }
  }

  static constexpr bool has_find_many =
      requires(M& m, const M& cm, std::span<const std::string_view> ks) {
        cm.find_many(ks, [](std::size_t, const V*) {});
        m.find_many(ks, [](std::size_t, V*) {});
      };
  static constexpr bool has_get_many =
      requires(const M& cm, std::span<const std::string_view> ks, std::span<std::optional<V>> out) {
        cm.get_many(ks, out);
      };
  // get_many (maps that have it) of a batch of present, absent and repeated keys, sometimes
  // longer than HybridStore's base batches (256), against the reference; a short `out` throws.
  void check_lookup_many() {
    if constexpr (has_get_many) {
      const std::size_t n = rng_.one_in(4) ? 257 + rng_.below(300) : rng_.below(40);
      std::vector<std::string> keys;
      keys.reserve(n);
      for (std::size_t i = 0; i < n; ++i)
        keys.push_back(i != 0 && rng_.one_in(8) ? keys[rng_.below(i)] : any_key());
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      std::vector<std::optional<V>> got(n);
      const M& cm = m_;
      ++stats_.batches;
      note("get_many", n != 0 ? views[0] : std::string_view());
      cm.get_many(views, got);
      for (std::size_t i = 0; i < n; ++i) {
        const auto rit = ref_.find(views[i]);
        if (rit == ref_.end()) {
          if (got[i].has_value()) fail("get_many found an absent key: " + show(views[i]));
        } else if (!got[i].has_value() || !(*got[i] == rit->second)) {
          fail("get_many gives " + (got[i] ? show_value(*got[i]) : std::string("nothing")) +
               " for " + show(views[i]) + ", expected " + show_value(rit->second));
        }
      }
      if (n != 0) {
        bool threw = false;
        try {
          cm.get_many(views, std::span<std::optional<V>>(got.data(), n - 1));
        } catch (const memkv::error&) {
          threw = true;
        }
        if (!threw) fail("get_many with a short answer span did not throw memkv::error");
      }
      if constexpr (has_find_many) {
        // find_many: each index once, with find()'s pointer, const and mutable alike.
        ++stats_.find_batches;
        std::vector<int> seen(n, 0);
        std::vector<const V*> ptr(n, nullptr);
        cm.find_many(views, [&](std::size_t i, const V* p) {
          if (i >= n) fail("find_many reports index " + std::to_string(i) + " of " + std::to_string(n));
          ++seen[i];
          ptr[i] = p;
        });
        std::size_t k = 0;
        m_.find_many(views, [&](std::size_t i, V* p) {
          if (i >= n || p != ptr[i]) fail("find_many (mutable) disagrees with find_many (const)");
          ++k;
        });
        if (k != n) fail("find_many (mutable) reported " + std::to_string(k) + " of " + std::to_string(n) + " keys");
        for (std::size_t i = 0; i < n; ++i) {
          if (seen[i] != 1) fail("find_many reported key " + show(views[i]) + " " + std::to_string(seen[i]) + " times");
          if (ptr[i] != cm.find(views[i])) fail("find_many's pointer is not find()'s for " + show(views[i]));
        }
      }
    }
  }

  void check_empty_footprint() {
    ++stats_.times_empty;
    if (!m_.empty()) fail("empty() is false for a map with no keys");
    if (m_.begin() != m_.end()) fail("begin() != end() on an empty map");
    if (opt_.memory_returns && m_.memory_usage() != empty_usage_) {
      fail("memory_usage() of the emptied map is " + std::to_string(m_.memory_usage()) +
           ", the empty map's is " + std::to_string(empty_usage_));
    }
  }

  // An allocation failure the options allow: the map must be unchanged for key k.
  void allocation_failed(std::string_view k) {
    if (!opt_.allocation_failures) throw;
    ++stats_.bad_allocs;
    check_lookup(k);
  }

  void insert_key(const std::string& k) {
    note("insert", k);
    V v = next_value();
    bool got;
    try {
      got = m_.insert(k, v);
    } catch (const std::bad_alloc&) {
      return allocation_failed(k);
    }
    const bool want = ref_.try_emplace(k, std::move(v)).second;
    if (got != want) fail(std::string("insert() returned ") + (got ? "true" : "false"));
    if (want) ++stats_.inserted;
    check_lookup(k);
  }

  void assign_key(const std::string& k) {
    note("insert_or_assign", k);
    V v = next_value();
    bool got;
    try {
      got = m_.insert_or_assign(k, v);
    } catch (const std::bad_alloc&) {
      return allocation_failed(k);
    }
    const bool want = ref_.insert_or_assign(k, std::move(v)).second;
    if (got != want) fail(std::string("insert_or_assign() returned ") + (got ? "true" : "false"));
    if (want) ++stats_.inserted; else ++stats_.assigned;
    check_lookup(k);
  }

  static constexpr bool has_insert_many =
      requires(M& m, std::span<const std::string_view> ks, std::span<const V> vs) {
        { m.insert_many(ks, vs) } -> std::same_as<std::size_t>;
        { m.insert_or_assign_many(ks, vs) } -> std::same_as<std::size_t>;
      };
  // insert_many or insert_or_assign_many (maps that have them) of a batch of fresh, remembered,
  // present and repeated keys, up to 5 of their warm-up groups of 16, against the same calls
  // one by one on the reference. When an allocation fails, the map must hold the reference with
  // the batch's first f calls made, for the f of the failing call. Spans of different lengths
  // throw memkv::error and change nothing.
  void insert_many_batch() {
    if constexpr (has_insert_many) {
      const bool assign = rng_.one_in(2);
      const std::size_t n = rng_.one_in(4) ? 17 + rng_.below(64) : rng_.below(17);
      std::vector<std::string> keys;
      std::vector<V> values;
      for (std::size_t i = 0; i < n; ++i) {
        const auto how = rng_.below(10);
        keys.push_back(i != 0 && how == 0 ? keys[rng_.below(i)]
                       : how < 6          ? gen_.fresh()
                       : how < 8          ? gen_.remembered()
                                          : present_key());
        values.push_back(next_value());
      }
      const std::vector<std::string_view> views(keys.begin(), keys.end());
      note(assign ? "insert_or_assign_many" : "insert_many", n != 0 ? views[0] : std::string_view());
      ++stats_.insert_batches;
      if (n != 0) {
        bool threw = false;
        try {
          const std::span<const V> short_values(values.data(), n - 1);
          if (assign) m_.insert_or_assign_many(views, short_values);
          else m_.insert_many(views, short_values);
        } catch (const memkv::error&) {
          threw = true;
        }
        if (!threw) fail("a batch insert with fewer values than keys did not throw memkv::error");
        if (m_.size() != ref_.size()) fail("a batch insert that threw for its spans changed size()");
      }
      // The reference after the batch's first f calls, and how many of those inserted a key.
      auto after = [&](std::size_t f, std::size_t* inserted) {
        Ref r;  // the batch's keys as the reference holds them now
        for (const std::string& k : keys)
          if (const auto it = ref_.find(k); it != ref_.end()) r.emplace(k, it->second);
        std::size_t count = 0;
        for (std::size_t i = 0; i < f; ++i)
          count += assign ? r.insert_or_assign(keys[i], values[i]).second
                          : r.try_emplace(keys[i], values[i]).second;
        if (inserted) *inserted = count;
        return r;
      };
      auto agrees = [&](const Ref& r) {
        for (const std::string& k : keys) {
          const V* p = std::as_const(m_).find(k);
          const auto it = r.find(k);
          const bool want = it != r.end();
          if ((p != nullptr) != want || (want && !(*p == it->second))) return false;
        }
        return true;
      };
      std::size_t got = 0, f = n;
      bool failed = false;
      try {
        got = assign ? m_.insert_or_assign_many(views, values) : m_.insert_many(views, values);
      } catch (const std::bad_alloc&) {
        if (!opt_.allocation_failures) throw;
        ++stats_.bad_allocs;
        ++stats_.insert_batch_bad_allocs;
        failed = true;
        for (f = n + 1; f-- > 0;)
          if (agrees(after(f, nullptr))) break;
        if (f > n) fail("after a batch insert that failed to allocate, the map is not the reference with any prefix of the batch made");
      }
      std::size_t want = 0;
      const Ref r = after(f, &want);
      if (!failed && got != want)
        fail("the batch insert returned " + std::to_string(got) + ", expected " + std::to_string(want));
      if (!agrees(r)) fail("the batch insert left a key with the wrong value or presence");
      for (const auto& [k, v] : r) ref_.insert_or_assign(k, v);
      stats_.inserted += want;
      for (const std::string& k : keys) check_lookup(k);
    }
  }

  void erase_key(const std::string& k, const char* name = "erase") {
    note(name, k);
    const bool got = m_.erase(k);
    const auto rit = ref_.find(k);
    const bool want = rit != ref_.end();
    if (want) ref_.erase(rit);
    if (got != want) fail(std::string("erase() returned ") + (got ? "true" : "false"));
    if (want) ++stats_.erased; else ++stats_.erase_misses;
    check_lookup(k);
    if (want && ref_.empty()) check_empty_footprint();
  }

  void assign_through_find(const std::string& k) {
    note("assign through find()", k);
    V* p = m_.find(k);
    const auto rit = ref_.find(k);
    if ((p != nullptr) != (rit != ref_.end())) fail("find() disagrees on presence");
    if (p == nullptr) return;
    V v = next_value();
    *p = v;
    rit->second = std::move(v);
    check_lookup(k);
  }

  void scan_lower_bound(const std::string& k) {
    note("lower_bound", k);
    ++stats_.scans;
    const M& cm = m_;
    detail::compare_scan(
        cm.lower_bound(k), cm.end(), ref_.lower_bound(k), ref_.end(),
        [](std::string_view) { return true; }, opt_.scan_limit, "lower_bound");
  }

  void scan_prefix(const std::string& p) {
    note("prefix", p);
    ++stats_.scans;
    const M& cm = m_;
    auto r = cm.prefix(p);
    detail::compare_scan(
        r.begin(), r.end(), ref_.lower_bound(p), ref_.end(),
        [&p](std::string_view k) { return detail::starts_with(k, p); }, opt_.scan_limit,
        "prefix");
  }

  void scan_range(const std::string& lo, const std::string& hi) {
    note("range", lo);
    op_key2_.assign(std::string_view(hi).substr(0, 256));
    ++stats_.scans;
    const M& cm = m_;
    auto r = cm.range(lo, hi);
    detail::compare_scan(
        r.begin(), r.end(), ref_.lower_bound(lo), ref_.end(),
        [&hi](std::string_view k) { return k < std::string_view(hi); }, opt_.scan_limit,
        "range");
  }

  void full_compare(const M& m, const char* what) { detail::compare_all(m, ref_, what); }

  void copy_move_swap() {
    try {
      copy_move();
    } catch (const std::bad_alloc&) {
      if (!opt_.allocation_failures) throw;
      ++stats_.bad_allocs;
      full_compare(m_, "after a copy that failed to allocate, the original");
    }
    if constexpr (requires(M& m) { m.compact(); }) {
      note("compact", "");
      try {
        m_.compact();
        ++stats_.compactions;
      } catch (const std::bad_alloc&) {
        if (!opt_.allocation_failures) throw;
        ++stats_.bad_allocs;
      }
      invariants();
      full_compare(m_, "after compact()");
    }
    try {
      swap_check();
    } catch (const std::bad_alloc&) {
      if (!opt_.allocation_failures) throw;
      ++stats_.bad_allocs;
      full_compare(m_, "after a swap check that failed to allocate, the map");
    }
  }

  void copy_move() {
    note("copy/move", "");
    {
      M copy(m_);
      copy.check_invariants();
      full_compare(copy, "copy");
      // The copy is deep: changing it leaves the original alone.
      std::string k = gen_.fresh();
      while (ref_.count(k) != 0) k += '\x01';
      copy.insert(k, next_value());
      if (m_.contains(k)) fail("a key inserted into a copy appears in the original");
      if (!ref_.empty()) {
        const std::string pk = present_key();
        copy.erase(pk);
        if (!m_.contains(pk)) fail("a key erased from a copy disappears from the original");
        const std::string ak = present_key();
        copy.insert_or_assign(ak, next_value());
        const V* p = m_.find(ak);
        if (p == nullptr || !(*p == ref_.find(ak)->second)) {
          fail("assigning in a copy changed the original");
        }
      }
      // Move construction.
      M moved(std::move(copy));
      moved.check_invariants();
      copy.check_invariants();
      if (opt_.moved_from_empty && (!copy.empty() || copy.size() != 0 || copy.begin() != copy.end())) {
        fail("a moved-from map is not empty");
      }
      copy.clear();
      copy.insert("reuse", next_value());
      if (copy.size() != 1 || !copy.contains("reuse")) fail("a moved-from map is not reusable");
      // Copy assignment over a non-empty map, then move assignment.
      M assigned;
      assigned.insert("junk", next_value());
      assigned = m_;
      full_compare(assigned, "copy assignment");
      M target;
      target.insert("junk", next_value());
      target.insert("junk2", next_value());
      target = std::move(assigned);
      target.check_invariants();
      full_compare(target, "move assignment");
      // Self-assignment must be harmless.
      M& self = target;
      target = self;
      full_compare(target, "self copy assignment");
    }
  }

  // Swap with a small map, check both sides, swap back (member and ADL swap).
  void swap_check() {
    note("swap", "");
    M small;
    V sv = next_value();
    small.insert(std::string_view("\0swap", 5), sv);
    m_.swap(small);
    full_compare(small, "after swap, the other map");
    if (m_.size() != 1 || !m_.contains(std::string_view("\0swap", 5))) {
      fail("after swap, the map does not hold the other map's key");
    }
    using std::swap;
    swap(m_, small);
    m_.check_invariants();
    small.check_invariants();
    full_compare(m_, "after swapping back");
  }

  void clear() {
    note("clear", "");
    m_.clear();
    ref_.clear();
    if (m_.size() != 0) fail("size() after clear() is not 0");
    check_empty_footprint();
    invariants();
  }

  void long_key_insert() {
    const std::string k = gen_.long_key();
    if (rng_.one_in(2)) insert_key(k); else assign_key(k);
    scan_lower_bound(k);
    std::string p = k.substr(0, k.size() - 1 - rng_.below(100));
    scan_prefix(p);
  }

  // Phases steer the size: grow, shrink, hold, or drain to empty.
  enum class Phase { grow, shrink, hold, drain };

  // Shrink phases end at a random fraction of the size they start from, drain phases at empty.
  void next_phase() {
    phase_left_ = 1000 + rng_.below(30000);
    const auto r = rng_.below(20);
    phase_ = r < 9 ? Phase::grow : r < 14 ? Phase::hold : r < 19 ? Phase::shrink : Phase::drain;
    shrink_to_ = phase_ == Phase::shrink ? rng_.below(ref_.size() / 2 + 1) : 0;
  }

  // Insert (true) or erase (false), per the phase.
  bool mutation_inserts() {
    if (ref_.size() >= opt_.max_size && phase_ != Phase::drain && phase_ != Phase::shrink) {
      phase_ = Phase::shrink;
      shrink_to_ = rng_.below(ref_.size() / 2 + 1);
    }
    switch (phase_) {
      case Phase::grow: return rng_.below(4) != 0;
      case Phase::shrink: return rng_.below(4) == 0;
      case Phase::drain: return false;
      default: return rng_.one_in(2);
    }
  }

  void step() {
    if (phase_left_-- == 0) next_phase();
    if ((phase_ == Phase::drain || phase_ == Phase::shrink) && ref_.size() <= shrink_to_) {
      next_phase();
    }
    // The long keys come at evenly spaced operations.
    const std::size_t long_every = opt_.ops / (opt_.long_keys + 1);
    if (long_every != 0 && (op_ + 1) % long_every == 0 && (op_ + 1) / long_every <= opt_.long_keys) {
      long_key_insert();
      return;
    }
    const auto r = rng_.below(100);
    if (r < 45) {  // a mutation: insert, insert_or_assign or erase
      if (mutation_inserts()) {
        const auto how = rng_.below(10);
        const std::string k = how < 6 ? gen_.fresh() : how < 8 ? gen_.remembered() : present_key();
        if (has_insert_many && rng_.one_in(60)) insert_many_batch();
        else if (rng_.below(3) == 0) assign_key(k);
        else insert_key(k);
      } else if (phase_ == Phase::drain) {
        erase_key(present_key());
      } else {
        const auto how = rng_.below(10);
        erase_key(how < 6 ? present_key() : how < 8 ? gen_.remembered() : gen_.fresh());
      }
    } else if (r < 50) {
      assign_key(present_key());  // overwrite
    } else if (r < 72) {
      const std::string k = any_key();
      note("lookup", k);
      check_lookup(k);
      if constexpr (has_get_many)
        if (rng_.one_in(40)) check_lookup_many();
    } else if (r < 77) {
      assign_through_find(rng_.one_in(4) ? any_key() : present_key());
    } else if (r < 87) {
      scan_lower_bound(any_key());
    } else if (r < 95) {
      std::string p = any_key();
      if (!p.empty() && rng_.below(3) != 0) p.resize(rng_.below(p.size()));
      if (rng_.one_in(50)) p = rng_.one_in(2) ? std::string() : std::string("\xff\xff");
      scan_prefix(p);
    } else {
      const std::string lo = any_key();
      const std::string hi = rng_.one_in(10) ? lo : any_key();
      scan_range(lo, hi);
    }
  }

  M& m_;
  DiffOptions opt_;
  KeyGen gen_;
  Rng rng_;
  Ref ref_;
  DiffStats stats_;
  std::size_t empty_usage_ = 0;
  std::size_t op_ = 0;
  std::uint64_t value_counter_ = 0;
  std::size_t phase_left_ = 0;
  Phase phase_ = Phase::grow;
  std::size_t shrink_to_ = 0;
  std::string op_name_ = "start";
  std::string op_key_;
  std::string op_key2_;
};

// Drives the empty map m and a std::map through opt.ops random operations; throws
// memkv_test::failure on the first disagreement. Returns what the run exercised.
template <class M>
DiffStats run_differential(M& m, const DiffOptions& opt) {
  return Differential<M>(m, opt).run();
}

template <class M>
DiffStats run_differential(const DiffOptions& opt) {
  M m;
  return run_differential(m, opt);
}

}  // namespace memkv_test
