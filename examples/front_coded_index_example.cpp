// front_coded_index_example: build a static URL dictionary once, save it, map it back, query it.
//
// FrontCodedIndex<V> is immutable: keys go in once, in strictly increasing byte order, through
// a builder (or build(range)); the result is one compact image (front-coded buckets of keys with
// Huffman-coded remainders) that is saved atomically and memory-mapped back without copying.
// Build and run:
//   g++ -std=c++20 -O2 -I include examples/front_coded_index_example.cpp -o fci_example && ./fci_example
#include <memkv/front_coded_index.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

int main() {
  // 1. Sorted, distinct keys (the builder throws memkv::error on a key out of order).
  std::vector<std::string> urls;
  for (int user = 0; user < 200; ++user)
    for (int repo = 0; repo < 50; ++repo)
      urls.push_back("https://github.com/user" + std::to_string(user) + "/repo-" + std::to_string(repo));
  std::sort(urls.begin(), urls.end());

  // 2. Build: key -> 64-bit value (here: a made-up star count).
  memkv::FrontCodedIndex<std::uint64_t>::builder builder;  // bucket size 32, automatic coding
  std::size_t raw = 0;
  for (const std::string& url : urls) {
    builder.insert(url, url.size() * 7);
    raw += url.size();
  }
  const memkv::FrontCodedIndex<std::uint64_t> index = builder.finish();
  std::printf("%zu keys, %zu raw key bytes, image %zu bytes (%.2fx raw, 8-byte values included)\n",
              index.size(), raw, index.bytes().size(), double(index.bytes().size()) / double(raw));

  // 3. Save atomically, then map the file read-only (no copy; validated on open).
  const auto path = std::filesystem::temp_directory_path() / "memkv_fci_example.fci";
  index.save(path);
  const auto mapped = memkv::FrontCodedIndex<std::uint64_t>::open(path);

  // 4. Point lookups, ranks, and ordered scans.
  if (auto stars = mapped.get("https://github.com/user42/repo-7"))
    std::printf("user42/repo-7 -> %llu\n", static_cast<unsigned long long>(*stars));
  std::printf("contains user999? %s\n", mapped.contains("https://github.com/user999/x") ? "yes" : "no");
  std::printf("rank of the first key: %zu, key of rank 100: %s\n",
              *mapped.rank(urls.front()), mapped.nth(100).first.c_str());
  std::size_t n = 0;
  for (auto entry : mapped.prefix("https://github.com/user17/repo-4")) {  // repo-4, repo-40..49
    if (n++ < 3) std::printf("  %.*s = %llu\n", static_cast<int>(entry.key.size()), entry.key.data(),
                             static_cast<unsigned long long>(entry.value));
  }
  std::printf("prefix user17/repo-4: %zu keys\n", n);

  // 4b. Many lookups at once: get_many runs up to 16 searches side by side (their cache misses
  // overlap on a large image); the answers land at the same index of `found`.
  const std::vector<std::string_view> batch = {urls[3], "https://github.com/nobody/x", urls[9000]};
  std::vector<std::optional<std::uint64_t>> found(batch.size());
  mapped.get_many(batch, found);
  for (std::size_t i = 0; i < batch.size(); ++i)
    std::printf("get_many: %.*s -> %s\n", static_cast<int>(batch[i].size()), batch[i].data(),
                found[i] ? std::to_string(*found[i]).c_str() : "absent");
  const bool batch_ok = found[0] == mapped.get(urls[3]) && !found[1] && found[2] == mapped.get(urls[9000]);

  // 5. Keys only: no values stored, each key maps to its rank.
  const auto set = memkv::FrontCodedSet::build(urls);
  std::printf("keys-only image %zu bytes (%.2fx raw)\n", set.bytes().size(),
              double(set.bytes().size()) / double(raw));
  std::filesystem::remove(path);
  return n == 11 && batch_ok && set.get(urls[5]) == 5u ? 0 : 1;
}
