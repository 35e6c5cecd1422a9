// hybrid_store_example: a mutable ordered map smaller than its raw keys, saved and reopened.
//
// A HybridStore keeps almost all keys in a compressed FrozenLayer (an FST) and takes writes in a
// small FastArt delta, merging the two now and then. It saves atomically and reopens with mmap.
// What was written after the last save() exists only in memory. FrontCodedHybridStore is the same
// store over a FrontCodedSet base (front-coded buckets instead of an FST): compared at the end.
//   g++ -std=c++20 -O2 -I include examples/hybrid_store_example.cpp -o hybrid && ./hybrid
#include <memkv/hybrid_store.hpp>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

int main() {
  memkv::HybridStore<std::uint64_t> store;

  // Load: 100,000 URL-like keys. Automatic merges fold the delta into the compressed base.
  std::size_t raw = 0;
  for (std::uint64_t i = 0; i < 100000; ++i) {
    const std::string url = "https://packages.example.org/" + std::to_string(i % 977) + "/release-" +
                            std::to_string(i);
    raw += url.size();
    store.insert(url, i);
  }
  store.merge();  // fold what is left in the delta
  const auto s = store.stats();
  std::printf("%zu keys, %zu raw key bytes, memory_usage %zu bytes (%.1f bytes/key over raw)\n",
              store.size(), raw, store.memory_usage(),
              (static_cast<double>(store.memory_usage()) - static_cast<double>(raw)) /
                  static_cast<double>(store.size()));
  std::printf("base: %zu keys in %zu bytes + %zu value bytes, %zu merges\n", s.base_keys,
              s.base_bytes, s.value_bytes, s.merges);

  // Writes after the merge: overwrites of base keys happen in place, erases leave tombstones.
  store.insert_or_assign("https://packages.example.org/5/release-5", 555);
  store.erase("https://packages.example.org/6/release-6");
  store.insert("https://packages.example.org/new/release-1", 1);
  if (store.get("https://packages.example.org/5/release-5") != 555u) return 1;
  if (store.contains("https://packages.example.org/6/release-6")) return 1;

  // Writes in a batch: insert_or_assign_many is insert_or_assign of each pair in turn (the last
  // value of a repeated key wins), with the cache misses of 16 keys at a time overlapped.
  const std::string_view batch_keys[] = {"https://packages.example.org/new/release-2",
                                         "https://packages.example.org/7/release-7",
                                         "https://packages.example.org/new/release-2"};
  const std::uint64_t batch_values[] = {2, 777, 22};
  const std::size_t added = store.insert_or_assign_many(batch_keys, batch_values);
  std::printf("insert_or_assign_many: %zu of 3 keys new\n", added);
  if (added != 1 || store.get(batch_keys[0]) != 22u || store.get(batch_keys[1]) != 777u) return 1;

  // Ordered prefix scan over the merged view (base + delta, tombstones hidden).
  std::size_t under_5 = 0;
  for (auto e : store.prefix("https://packages.example.org/5/")) {
    if (under_5 < 3) std::printf("  %.*s -> %llu\n", static_cast<int>(e.key.size()), e.key.data(),
                                 static_cast<unsigned long long>(e.value));
    ++under_5;
  }
  std::printf("%zu keys under https://packages.example.org/5/\n", under_5);

  // Many lookups at once: get_many answers from the delta where it holds the key (or its
  // tombstone) and walks the rest through the base 16 at a time, overlapping their cache misses.
  const std::string_view batch[] = {"https://packages.example.org/5/release-5",
                                    "https://packages.example.org/6/release-6",
                                    "https://packages.example.org/new/release-1",
                                    "https://packages.example.org/7/release-7"};
  std::optional<std::uint64_t> answers[std::size(batch)];
  store.get_many(batch, answers);
  for (std::size_t i = 0; i < std::size(batch); ++i) {
    std::printf("get_many: %.*s -> %s\n", static_cast<int>(batch[i].size()), batch[i].data(),
                answers[i] ? std::to_string(*answers[i]).c_str() : "absent");
    if (answers[i] != store.get(batch[i])) return 1;
  }

  // Durability: save() merges and writes atomically; open() maps the file.
  const auto path = std::filesystem::temp_directory_path() / "memkv_hybrid_example.hyb";
  store.save(path);
  memkv::HybridStore<std::uint64_t> reopened = memkv::HybridStore<std::uint64_t>::open(path);
  std::printf("reopened %zu keys from %s (%ju bytes on disk)\n", reopened.size(),
              path.string().c_str(), static_cast<std::uintmax_t>(std::filesystem::file_size(path)));
  const bool same = reopened.size() == store.size() &&
                    reopened.get("https://packages.example.org/new/release-1") == 1u;
  std::filesystem::remove(path);

  // The same keys in a FrontCodedHybridStore, built from the first store's ordered iteration.
  memkv::FrontCodedHybridStore<std::uint64_t> fc;
  for (auto e : reopened) fc.insert(e.key, e.value);
  fc.merge();
  std::printf("FrontCodedHybridStore: %zu keys, memory_usage %zu bytes (HybridStore: %zu)\n",
              fc.size(), fc.memory_usage(), reopened.memory_usage());
  const bool fc_same = fc.size() == reopened.size() &&
                       fc.get("https://packages.example.org/5/release-5") == 555u;
  return same && fc_same ? 0 : 1;
}
