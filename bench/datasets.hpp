// bench/datasets.hpp - the key sets of memkv-compare and memkv-micro.
//
// A dataset is a list of distinct keys (CONTRACT.md): `n` keys, `raw` bytes in total. All keys
// live in one buffer, each followed by a '\0' byte that is not part of the key (so C peers that
// need NUL-terminated keys, like JudySL, can use the bytes in place); `keys[i]` views key i.
//
//   synthetic-urls   deterministic, seeded generator of URL-like keys (any count, no download)
//   npm-urls         bench/data/npm-urls.txt   (bench/fetch_datasets.sh)
//   npm-names        bench/data/npm-names.txt  (bench/fetch_datasets.sh)
//   --keys FILE      any file, one key per line
//
// Everything here is deterministic: the same seed and count give the same keys on every
// platform (own PRNG and integer-only sampling; no std::*_distribution).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

namespace memkv_bench {

// ---------------------------------------------------------------------------------------------
// Deterministic random numbers: splitmix64 seeding a xoshiro256**.
inline std::uint64_t splitmix64(std::uint64_t& state) noexcept {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Rng {
public:
  explicit Rng(std::uint64_t seed) noexcept {
    for (auto& word : s_) word = splitmix64(seed);
  }
  std::uint64_t next() noexcept {
    const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const std::uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
    s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return result;
  }
  // Uniform in [0, bound), bound > 0 (Lemire's multiply-shift; the tiny bias is irrelevant here).
  std::uint64_t below(std::uint64_t bound) noexcept {
    return static_cast<std::uint64_t>((static_cast<unsigned __int128>(next()) * bound) >> 64);
  }
  bool chance(unsigned percent) noexcept { return below(100) < percent; }

private:
  static std::uint64_t rotl(std::uint64_t x, int k) noexcept { return (x << k) | (x >> (64 - k)); }
  std::uint64_t s_[4];
};

// 64-bit hash of a key (the "arbitrary value" of the static structures' second variant).
inline std::uint64_t hash64(std::string_view key) noexcept {
  std::uint64_t h = 0xcbf29ce484222325ULL;  // FNV-1a, then a splitmix finalizer
  for (unsigned char c : key) h = (h ^ c) * 0x100000001b3ULL;
  return splitmix64(h);
}

// Shuffles v in place (Fisher-Yates), drawing from rng.
template <class T>
void shuffle_in_place(std::vector<T>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// A permutation of 0..n-1, shuffled with a fixed seed.
inline std::vector<std::uint32_t> shuffled_positions(std::size_t n, std::uint64_t seed) {
  std::vector<std::uint32_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = static_cast<std::uint32_t>(i);
  Rng rng(seed);
  shuffle_in_place(order, rng);
  return order;
}

// ---------------------------------------------------------------------------------------------
struct Dataset {
  std::string name;                    // "synthetic-urls", "npm-urls", the file name, ...
  std::string buffer;                  // key bytes, each key followed by '\0'
  std::vector<std::string_view> keys;  // views into buffer, dataset order
  std::size_t raw_bytes = 0;           // sum of key lengths
  std::size_t duplicates_dropped = 0;  // --keys files: repeated lines, first occurrence kept
  bool has_nul_keys = false;           // some key holds '\0' (JudySL cannot store it)
  std::size_t max_key_length = 0;

  std::size_t size() const noexcept { return keys.size(); }
  double average_length() const noexcept { return keys.empty() ? 0.0 : double(raw_bytes) / keys.size(); }
};

struct StringViewHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};

// ---------------------------------------------------------------------------------------------
// --keys FILE: one key per line. The line terminator is '\n'; a '\r' just before it (CRLF files)
// is dropped too. A final line without '\n' is a key; the empty final "line" after the last '\n'
// is not. Keys may contain '\0' (then JudySL is skipped). Repeated keys are dropped.
inline Dataset load_keys_file(const std::string& path, const std::string& name = "") {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open keys file '" + path + "'");
  std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  Dataset d;
  d.name = name.empty() ? path : name;
  // Split on '\n' into (offset, length) pairs first, because keys may contain '\0'.
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t pos = 0;
  while (pos < content.size()) {
    std::size_t stop = content.find('\n', pos);
    if (stop == std::string::npos) stop = content.size();
    std::size_t len = stop - pos;
    if (len > 0 && content[pos + len - 1] == '\r') --len;
    spans.emplace_back(pos, len);
    pos = stop + 1;
  }
  d.buffer.reserve(content.size() + 1);
  std::vector<std::pair<std::size_t, std::size_t>> placed;
  placed.reserve(spans.size());
  for (auto [off, len] : spans) {
    placed.emplace_back(d.buffer.size(), len);
    d.buffer.append(content, off, len);
    d.buffer.push_back('\0');
  }
  std::string().swap(content);
  std::unordered_set<std::string_view, StringViewHash> seen;
  seen.reserve(placed.size());
  d.keys.reserve(placed.size());
  for (auto [off, len] : placed) {
    const std::string_view key(d.buffer.data() + off, len);
    if (!seen.insert(key).second) { ++d.duplicates_dropped; continue; }
    d.keys.push_back(key);
    d.raw_bytes += len;
    d.max_key_length = std::max(d.max_key_length, key.size());
    if (key.find('\0') != std::string_view::npos) d.has_nul_keys = true;
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// synthetic-urls: URL-like keys.
//   scheme   https:// (85%) or http://
//   host     [sub.]name.tld, drawn from a pool of generated domains with a Zipf(1.0)-like skew
//            (a few hosts hold many keys, a long tail holds one or two), ~count/8 domains
//   path     1-4 segments: shared ones from a skewed vocabulary of words ("docs", "api", "v2",
//            generated words), unique ones (ids, slugs, dates); sometimes a file extension
//   query    ~15% of keys: ?id=..., ?q=word&page=N, ?ref=...
// Average length ~50 bytes; all keys distinct (repeats are redrawn). Same seed, same keys.
namespace detail {

inline constexpr std::array<std::string_view, 40> kSyllables = {
    "ka", "lo", "mi", "tor", "ran", "ex", "ze", "bu", "nil", "pha", "sto", "cre", "dyn", "ver",
    "qui", "mo", "ta", "gen", "al", "pro", "cod", "hub", "net", "sys", "io", "ly", "app", "ware",
    "ly", "nex", "sol", "tek", "ri", "va", "on", "is", "cor", "data", "web", "max"};
inline constexpr std::array<std::string_view, 24> kCommonSegments = {
    "docs", "api", "v1", "v2", "blog", "news", "products", "user", "users", "search", "tags",
    "category", "item", "articles", "static", "assets", "images", "en", "de", "wiki", "repos",
    "packages", "download", "about"};
inline constexpr std::array<std::string_view, 10> kExtensions = {
    ".html", ".php", ".json", ".png", ".jpg", ".js", ".css", ".xml", ".pdf", ".md"};

struct Tld { std::string_view text; unsigned weight; };
inline constexpr std::array<Tld, 12> kTlds = {{{".com", 50}, {".org", 10}, {".net", 8},
    {".io", 7}, {".de", 5}, {".co.uk", 4}, {".fr", 3}, {".dev", 3}, {".jp", 3}, {".ru", 3},
    {".edu", 2}, {".info", 2}}};
inline constexpr std::array<std::string_view, 8> kSubdomains = {
    "www.", "api.", "docs.", "blog.", "cdn.", "m.", "shop.", "dev."};

inline void append_word(std::string& out, Rng& rng, unsigned min_syl, unsigned max_syl) {
  const unsigned count = min_syl + static_cast<unsigned>(rng.below(max_syl - min_syl + 1));
  for (unsigned i = 0; i < count; ++i) out += kSyllables[rng.below(kSyllables.size())];
}

inline void append_base36(std::string& out, std::uint64_t v, unsigned digits) {
  static constexpr char kDigits[] = "0123456789abcdefghijklmnopqrstuvwxyz";
  for (unsigned i = 0; i < digits; ++i) { out += kDigits[v % 36]; v /= 36; }
}

inline void append_number(std::string& out, std::uint64_t v) { out += std::to_string(v); }

// Zipf-like sampling over ranks 0..m-1 with exponent 1: inverse-CDF on a table of cumulative
// integer weights (weight of rank r = 2^32 / (r + 1)), searched by binary search.
class SkewedPicker {
public:
  explicit SkewedPicker(std::size_t m) : cumulative_(m) {
    std::uint64_t total = 0;
    for (std::size_t r = 0; r < m; ++r) {
      total += (std::uint64_t{1} << 32) / (r + 1);
      cumulative_[r] = total;
    }
  }
  std::size_t pick(Rng& rng) const {
    const std::uint64_t x = rng.below(cumulative_.back());
    return static_cast<std::size_t>(
        std::upper_bound(cumulative_.begin(), cumulative_.end(), x) - cumulative_.begin());
  }

private:
  std::vector<std::uint64_t> cumulative_;
};

}  // namespace detail

inline Dataset generate_synthetic_urls(std::size_t count, std::uint64_t seed = 42) {
  using namespace detail;
  Rng rng(seed);
  Dataset d;
  d.name = "synthetic-urls";

  // Domain pool: ~count/8 domains (at least 64), each "name.tld" with an optional subdomain.
  const std::size_t domain_count = std::max<std::size_t>(64, count / 8);
  std::vector<std::string> domains;
  domains.reserve(domain_count);
  unsigned tld_total = 0;
  for (auto& t : kTlds) tld_total += t.weight;
  {
    std::unordered_set<std::string> seen_domains;
    while (domains.size() < domain_count) {
      std::string host;
      if (rng.chance(30)) host += kSubdomains[rng.below(kSubdomains.size())];
      append_word(host, rng, 2, 4);
      if (rng.chance(15)) { host += '-'; append_word(host, rng, 1, 2); }
      unsigned pick = static_cast<unsigned>(rng.below(tld_total));
      for (auto& t : kTlds) {
        if (pick < t.weight) { host += t.text; break; }
        pick -= t.weight;
      }
      if (seen_domains.insert(host).second) domains.push_back(std::move(host));
    }
  }
  const SkewedPicker host_picker(domains.size());

  // Shared path vocabulary: the common segments plus ~2,000 generated words, skewed.
  std::vector<std::string> vocabulary(kCommonSegments.begin(), kCommonSegments.end());
  while (vocabulary.size() < 2048) {
    std::string w;
    append_word(w, rng, 1, 3);
    vocabulary.push_back(std::move(w));
  }
  const SkewedPicker word_picker(vocabulary.size());

  d.buffer.reserve(count * 56);
  std::vector<std::pair<std::size_t, std::size_t>> placed;
  placed.reserve(count);
  std::unordered_set<std::string_view, StringViewHash> seen;
  seen.reserve(count);
  std::string url;
  std::size_t attempts = 0;
  while (placed.size() < count) {
    if (++attempts > 64 * count + 1024) throw std::runtime_error("synthetic-urls: too many repeats");
    url.clear();
    url += rng.chance(85) ? "https://" : "http://";
    url += domains[host_picker.pick(rng)];
    const unsigned segments = 1 + static_cast<unsigned>(rng.below(4));
    for (unsigned s = 0; s < segments; ++s) {
      url += '/';
      const bool last = s + 1 == segments;
      const std::uint64_t kind = rng.below(100);
      if (!last || kind < 35) {
        url += vocabulary[word_picker.pick(rng)];
      } else if (kind < 60) {  // slug: word-word-word
        append_word(url, rng, 2, 3); url += '-'; append_word(url, rng, 2, 3);
        if (rng.chance(50)) { url += '-'; append_word(url, rng, 1, 3); }
      } else if (kind < 75) {  // numeric id
        append_number(url, rng.below(rng.chance(50) ? 100000 : 100000000));
      } else if (kind < 85) {  // date
        url += std::to_string(2000 + rng.below(27)); url += '/';
        const auto month = 1 + rng.below(12);
        if (month < 10) url += '0';
        url += std::to_string(month);
      } else {  // random token
        append_base36(url, rng.next(), 6 + static_cast<unsigned>(rng.below(6)));
      }
      if (last && rng.chance(20)) url += kExtensions[rng.below(kExtensions.size())];
    }
    if (rng.chance(15)) {
      switch (rng.below(3)) {
        case 0: url += "?id="; append_number(url, rng.below(1000000)); break;
        case 1: url += "?q="; url += vocabulary[word_picker.pick(rng)];
                url += "&page="; append_number(url, 1 + rng.below(20)); break;
        default: url += "?ref="; append_base36(url, rng.next(), 8); break;
      }
    }
    // Tentatively append; keep only when new. The buffer never reallocates (reserve grows it
    // ahead), so string_views into it stay valid: grow by re-indexing when needed.
    if (d.buffer.size() + url.size() + 1 > d.buffer.capacity()) {
      d.buffer.reserve(d.buffer.capacity() * 2 + url.size() + 1);
      seen.clear();
      for (auto [off, len] : placed) seen.insert(std::string_view(d.buffer.data() + off, len));
    }
    const std::size_t off = d.buffer.size();
    d.buffer += url;
    d.buffer.push_back('\0');
    const std::string_view key(d.buffer.data() + off, url.size());
    if (seen.insert(key).second) {
      placed.emplace_back(off, url.size());
    } else {
      d.buffer.resize(off);
    }
  }
  d.keys.reserve(count);
  for (auto [off, len] : placed) {
    d.keys.emplace_back(d.buffer.data() + off, len);
    d.raw_bytes += len;
    d.max_key_length = std::max(d.max_key_length, len);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Generated keys of a given shape for the micro-benchmarks: `length` bytes on average, drawn
// from a small alphabet with shared prefixes (so tries see realistic fan-out), distinct.
inline Dataset generate_words(std::size_t count, std::size_t length, std::uint64_t seed = 7) {
  Rng rng(seed);
  Dataset d;
  d.name = "words-" + std::to_string(length);
  d.buffer.reserve(count * (length + 9));
  std::vector<std::pair<std::size_t, std::size_t>> placed;
  std::unordered_set<std::string> seen;
  std::string key;
  while (placed.size() < count) {
    key.clear();
    const std::size_t len = std::max<std::size_t>(1, length / 2 + rng.below(length + 1));
    while (key.size() < len) {
      detail::append_word(key, rng, 1, 1);
      if (rng.chance(10)) key += '/';
    }
    key.resize(len);
    if (!seen.insert(key).second) continue;
    placed.emplace_back(d.buffer.size(), key.size());
    d.buffer += key;
    d.buffer.push_back('\0');
  }
  for (auto [off, len] : placed) {
    d.keys.emplace_back(d.buffer.data() + off, len);
    d.raw_bytes += len;
    d.max_key_length = std::max(d.max_key_length, len);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// The keys of `d` in the order `order` (positions into d.keys), copied one after another into a
// new buffer (NUL-terminated like a Dataset's), so that a loop over them reads memory
// sequentially. memkv-compare times its inserts and lookups over such copies.
inline Dataset permuted_keys(const Dataset& d, const std::vector<std::uint32_t>& order) {
  Dataset p;
  p.name = d.name;
  std::size_t total = 0;
  for (std::uint32_t i : order) total += d.keys[i].size() + 1;
  p.buffer.reserve(total);  // never reallocates below, so the views stay valid
  p.keys.reserve(order.size());
  for (std::uint32_t i : order) {
    p.keys.emplace_back(p.buffer.data() + p.buffer.size(), d.keys[i].size());
    p.buffer += d.keys[i];
    p.buffer.push_back('\0');
  }
  p.raw_bytes = d.raw_bytes;
  p.has_nul_keys = d.has_nul_keys;
  p.max_key_length = d.max_key_length;
  return p;
}

// ---------------------------------------------------------------------------------------------
// Absent keys: as many as `keys`, each derived from a key (a byte appended, the last byte changed,
// a middle byte changed, or a byte prepended, in turn), verified absent from the dataset and
// distinct. Stored NUL-terminated in `buffer` like a Dataset.
inline Dataset make_absent_keys(const Dataset& d, std::uint64_t seed = 3) {
  Dataset miss;
  miss.name = d.name + " (absent)";
  const std::size_t n = d.keys.size();
  std::unordered_set<std::string_view, StringViewHash> present(d.keys.begin(), d.keys.end());
  std::unordered_set<std::string, StringViewHash, std::equal_to<>> made;
  made.reserve(n);
  std::vector<std::string> list;
  list.reserve(n);
  Rng rng(seed);
  std::string candidate;
  static constexpr std::string_view kFill = "~#Z0qx_.";
  for (std::size_t i = 0; i < n && n > 0; ++i) {
    const std::string_view base = d.keys[rng.below(n)];
    for (unsigned attempt = 0;; ++attempt) {
      candidate.assign(base);
      const char c = kFill[rng.below(kFill.size())];
      switch ((i + attempt) % 4) {
        case 0: candidate.push_back(c); break;
        case 1: if (candidate.empty()) candidate.push_back(c); else candidate.back() = c; break;
        case 2: if (candidate.empty()) candidate.push_back(c); else candidate[candidate.size() / 2] = c; break;
        default: candidate.assign(1, c); candidate.append(base); break;
      }
      if (attempt > 16) detail::append_base36(candidate, rng.next(), 4);
      if (!present.count(std::string_view(candidate)) && made.insert(candidate).second) break;
    }
    list.push_back(candidate);
  }
  std::size_t total = 0;
  for (auto& s : list) total += s.size() + 1;
  miss.buffer.reserve(total);
  std::vector<std::size_t> offsets;
  offsets.reserve(list.size());
  for (auto& s : list) {
    offsets.push_back(miss.buffer.size());
    miss.buffer += s;
    miss.buffer.push_back('\0');
  }
  miss.keys.reserve(list.size());
  for (std::size_t i = 0; i < list.size(); ++i) {
    miss.keys.emplace_back(miss.buffer.data() + offsets[i], list[i].size());
    miss.raw_bytes += list[i].size();
    miss.max_key_length = std::max(miss.max_key_length, list[i].size());
    if (list[i].find('\0') != std::string::npos) miss.has_nul_keys = true;
  }
  return miss;
}

}  // namespace memkv_bench
