// arena_art_example: the radix tree with 32-bit references, for maps with many keys.
//
// ArenaArt has FastArt's interface and behaviour; its nodes and leaves live in one arena per map
// and point at each other with 4-byte references, so the same keys take less memory.
//   g++ -std=c++20 -O2 -I include examples/arena_art_example.cpp -o arena && ./arena
#include <memkv/arena_art.hpp>
#include <memkv/fast_art.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

int main() {
  memkv::ArenaArt<std::uint64_t> arena;
  memkv::FastArt<std::uint64_t> fast;
  std::size_t raw = 0;
  for (std::uint64_t i = 0; i < 200000; ++i) {
    const std::string key = "https://registry.example.com/" + std::to_string(i % 5003) + "/pkg-" +
                            std::to_string(i * 2654435761u % 1000003);
    if (arena.insert(key, i)) {
      fast.insert(key, i);
      raw += key.size();
    }
  }
  const auto per_key = [&](std::size_t bytes) {
    return (static_cast<double>(bytes) - static_cast<double>(raw)) / static_cast<double>(arena.size());
  };
  std::printf("%zu keys, %zu raw bytes\n", arena.size(), raw);
  std::printf("ArenaArt memory_usage %zu bytes: %.1f bytes/key over the raw keys\n",
              arena.memory_usage(), per_key(arena.memory_usage()));
  std::printf("FastArt  memory_usage %zu bytes: %.1f bytes/key over the raw keys\n",
              fast.memory_usage(), per_key(fast.memory_usage()));

  // Same ordered interface: a prefix scan.
  std::size_t n = 0;
  for (auto e : arena.prefix("https://registry.example.com/42/")) {
    if (n++ < 2) std::printf("  %.*s\n", static_cast<int>(e.key.size()), e.key.data());
  }
  std::printf("%zu keys under https://registry.example.com/42/\n", n);

  // Many keys at once, values changed in place: find_many walks up to 16 keys down the tree side
  // by side (their cache misses overlap) and hands over find()'s pointer for each, in the order
  // the walks end.
  const std::string second = "https://registry.example.com/1/pkg-" + std::to_string(2654435761u % 1000003);
  const std::vector<std::string_view> batch = {"https://registry.example.com/0/pkg-0", second,
                                               "https://registry.example.com/nowhere"};
  const std::uint64_t before_bump = arena.get(batch[0]).value_or(0);
  std::size_t absent = 0;
  arena.find_many(batch, [&](std::size_t, std::uint64_t* value) {
    if (value) *value += 1000000;
    else ++absent;
  });
  std::printf("find_many: %zu of %zu keys absent, %s -> %llu\n", absent, batch.size(),
              std::string(batch[0]).c_str(), static_cast<unsigned long long>(*arena.get(batch[0])));
  if (absent != 1 || *arena.get(batch[0]) != before_bump + 1000000) return 1;

  // A bulk load: insert_many(keys, values) is insert() of each pair in turn, but it takes the keys
  // 16 at a time, first walks them down the tree side by side (bringing their paths into the
  // cache, their misses overlapped), then inserts them one by one: about twice as fast as
  // insert() once the tree outgrows the cache. insert_or_assign_many overwrites instead.
  std::vector<std::string> owned;
  std::vector<std::uint64_t> values;
  for (auto e : fast) {
    owned.emplace_back(e.key);
    values.push_back(e.value);
  }
  const std::vector<std::string_view> keys(owned.begin(), owned.end());
  memkv::ArenaArt<std::uint64_t> bulk;
  const std::size_t added = bulk.insert_many(keys, values);
  const bool bulk_ok = added == fast.size() && bulk.size() == fast.size() &&
                       bulk.get(second) == fast.get(second) && !bulk.contains(batch[2]);
  std::printf("insert_many: %zu keys added: %s\n", added, bulk_ok ? "as expected" : "WRONG");
  if (!bulk_ok) return 1;

  // The point index (art_options::point_index, off by default): a hash index of the leaves beside
  // the tree, for maps looked up far more than scanned. find/get/contains, get_many, erase and
  // inserts of keys already held read one 64-byte bucket and the key's leaf instead of descending
  // the tree; scans and lower_bound use the tree. It costs ~5 bytes a key here, and new keys
  // insert more slowly (the index grows by rebuilding itself from the leaves).
  memkv::ArenaArt<std::uint64_t> indexed(memkv::art_options{4096, true});
  for (auto e : fast) indexed.insert(e.key, e.value);
  const bool index_ok = indexed.point_index_active() && indexed.get(batch[0]) == fast.get(batch[0]) &&
                        !indexed.contains(batch[2]) && indexed.erase(second) && !indexed.contains(second) &&
                        indexed.size() + 1 == fast.size();
  std::printf("point index: %zu bytes for %zu keys (%.1f a key): %s\n", indexed.point_index_bytes(),
              indexed.size(), static_cast<double>(indexed.point_index_bytes()) / static_cast<double>(indexed.size()),
              index_ok ? "as expected" : "WRONG");
  if (!index_ok) return 1;

  // After heavy erasure, compact() rewrites the arena densely.
  std::size_t seen = 0, kept = 0;
  for (auto e : fast) {
    if (++seen % 4 != 0)
      arena.erase(e.key);
    else
      ++kept;
  }
  const std::size_t before = arena.memory_usage();
  arena.compact();
  std::printf("after erasing 3/4 of the keys: %zu bytes, after compact(): %zu bytes\n", before,
              arena.memory_usage());
  arena.check_invariants();
  return arena.size() == kept ? 0 : 1;
}
