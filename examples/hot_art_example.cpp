// hot_art_example: a package registry index on memkv::HotArt, and the same index in an
// ArenaHotArt (32-bit arena references: the smallest mutable ordered map of memkv).
//
// Maps package names (binary-safe byte strings) to download counts, updates them in place,
// lists a scope with a prefix scan and a name range, and removes entries; then copies the
// index into an ArenaHotArt, which has the same interface; last, shows what coded keys save on a
// bigger index (memkv::hot_options). Build and run:
//   g++ -std=c++20 -O2 -I include examples/hot_art_example.cpp -o hot_art_example && ./hot_art_example
// (with -march=native the node search uses BMI2 pext; without it, a portable loop).
#include <memkv/hot_art.hpp>

#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

int main() {
  memkv::HotArt<std::uint64_t> downloads;

  const char* const names[] = {"react", "react-dom", "@types/node", "@types/react", "@babel/core",
                               "lodash", "lodash.merge", "left-pad", "express", "typescript"};
  std::uint64_t count = 1000;
  for (const char* name : names) downloads.insert(name, count += 137);

  // Any byte string is a key: the empty key, embedded NUL, keys that prefix each other.
  downloads.insert(std::string_view("weird\0name", 10), 1);
  downloads.insert("", 0);

  // Update in place through find(); insert() keeps an existing value, insert_or_assign() replaces it.
  if (std::uint64_t* n = downloads.find("lodash")) *n += 1;
  if (downloads.insert("react", 0)) return 1;
  downloads.insert_or_assign("left-pad", 11);

  // A scope, in byte order.
  std::printf("@types/*:\n");
  for (auto [name, n] : downloads.prefix("@types/"))
    std::printf("  %.*s %llu\n", static_cast<int>(name.size()), name.data(), static_cast<unsigned long long>(n));

  // Names from "l" (inclusive) to "m" (exclusive).
  std::printf("l...:\n");
  std::size_t in_range = 0;
  for (auto e : downloads.range("l", "m")) {
    std::printf("  %.*s\n", static_cast<int>(e.key.size()), e.key.data());
    ++in_range;
  }

  downloads.erase("left-pad");
  const auto s = downloads.stats();
  std::printf("%zu keys, %zu compound nodes, height %zu, %zu bytes\n", downloads.size(), s.nodes,
              s.root_height, downloads.memory_usage());
  downloads.check_invariants();

  // The arena variant: same interface and order; 4-byte child references instead of 8 (a map
  // of at most ~16 GiB of nodes and leaves). Compare memory_usage() on big maps: on a handful of
  // keys the arena's first 4 KiB chunk dominates.
  memkv::ArenaHotArt<std::uint64_t> compact;
  for (auto [name, n] : downloads) compact.insert(name, n);
  std::printf("ArenaHotArt: %zu keys, %zu bytes\n", compact.size(), compact.memory_usage());
  compact.check_invariants();
  bool same = compact.size() == downloads.size();
  auto a = downloads.begin();
  for (auto e : compact) {
    same = same && e.key == (*a).key && e.value == (*a).value;
    ++a;
  }

  // Coded keys: once a map holds hot_options::code_sample_keys keys (4096 by default) it learns
  // a Huffman code of their bytes and stores each key in coded form when that is shorter; order,
  // lookups and scans see the keys themselves. code_sample_keys = 0 keeps keys as they are.
  std::vector<std::string> urls;
  for (int i = 0; i < 100000; ++i)
    urls.push_back("https://github.com/user" + std::to_string(i * 7919 % 5000) + "/package-" + std::to_string(i));
  memkv::HotArt<std::uint64_t> coded;                                // the default: 4096
  memkv::HotArt<std::uint64_t> plain(memkv::hot_options{0});        // never coded
  std::size_t raw = 0;
  for (std::size_t i = 0; i < urls.size(); ++i) {
    coded.insert(urls[i], i);
    plain.insert(urls[i], i);
    raw += urls[i].size();
  }
  auto per_key = [&](std::size_t bytes) { return (static_cast<double>(bytes) - static_cast<double>(raw)) / 100000.0; };
  std::printf("100000 URLs: coded keys %.1f B/key beyond the raw keys, plain %.1f\n", per_key(coded.memory_usage()),
              per_key(plain.memory_usage()));
  const bool coded_ok = coded.keys_coded() && !plain.keys_coded() && coded.get(urls[123]) == 123u &&
                        coded.memory_usage() < plain.memory_usage() &&
                        (*coded.prefix("https://github.com/user1/").begin()).key.starts_with("https://github.com/user1/");

  // Many lookups at once: get_many walks up to 16 keys down the trie side by side, so their
  // cache misses overlap (faster than one get() after another once the map outgrows the cache).
  std::vector<std::string_view> batch(urls.begin(), urls.begin() + 1000);
  batch.push_back("https://github.com/nobody/none");
  std::vector<std::optional<std::uint64_t>> answers(batch.size());
  coded.get_many(batch, answers);
  bool batch_ok = !answers.back().has_value();
  for (std::size_t i = 0; i + 1 < batch.size(); ++i) batch_ok = batch_ok && answers[i] == i;
  std::printf("get_many: %zu keys, the last absent: %s\n", batch.size(), batch_ok ? "as expected" : "WRONG");

  // The point index: a hash index of the leaves beside the trie (hot_options::point_index), for
  // maps that are looked up far more than scanned. find/get/contains, get_many, erase and inserts
  // of keys already held go through one 64-byte bucket and the key's leaf instead of the trie's
  // descent; scans and lower_bound still use the trie. It costs ~5 bytes a key (ArenaHotArt),
  // and new keys insert more slowly (the index grows by rebuilding from the leaves).
  memkv::ArenaHotArt<std::uint64_t> fast(memkv::hot_options{4096, true});
  for (std::size_t i = 0; i < urls.size(); ++i) fast.insert(urls[i], i);
  const bool index_ok = fast.point_index_active() && fast.get(urls[4242]) == 4242u &&
                        !fast.contains("https://github.com/nobody/none") && fast.erase(urls[7]) &&
                        !fast.contains(urls[7]) && fast.size() == urls.size() - 1;
  std::printf("point index: %zu bytes for %zu keys (%.1f a key): %s\n", fast.point_index_bytes(), fast.size(),
              static_cast<double>(fast.point_index_bytes()) / static_cast<double>(fast.size()),
              index_ok ? "as expected" : "WRONG");

  const bool ok = same && coded_ok && batch_ok && index_ok && downloads.size() == 11 && in_range == 3 && downloads.get("lodash") == 1000u + 137 * 6 + 1 &&
                  !downloads.contains("left-pad") && downloads.contains(std::string_view("weird\0name", 10)) &&
                  (*downloads.begin()).key.empty();
  return ok ? 0 : 1;
}
