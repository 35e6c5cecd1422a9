// frozen_dictionary: a dictionary built once, saved to disk, and opened again by mmap.
//
// memkv::FrozenLayer is immutable: sorted keys go in once, through a FrozenLayerBuilder, and come
// out as one finite-state transducer image that shares prefixes and suffixes, so it is usually
// smaller than the raw keys. save() writes it atomically; open() maps the file read-only with no
// copy, so a second process starts answering at once. Build and run:
//   g++ -std=c++20 -O2 -I include examples/frozen_dictionary.cpp -o frozen && ./frozen
#include <memkv/frozen_layer.hpp>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

int main() {
  // 1. Distinct keys in increasing byte order: the builder throws memkv::error otherwise.
  std::vector<std::string> words;
  for (const char* stem : {"connect", "construct", "convert", "inspect", "protect", "select"})
    for (const char* suffix : {"", "able", "ed", "ing", "ion", "ions", "or", "ors", "s"})
      words.push_back(std::string(stem) + suffix);
  std::sort(words.begin(), words.end());

  // 2. Build. Values are uint64: here each word's length (values equal to the key's rank cost
  //    nothing at all; others go in a bit-packed column beside the transducer).
  memkv::FrozenLayerBuilder builder;
  std::size_t raw = 0;
  for (const std::string& w : words) {
    builder.insert(w, w.size());
    raw += w.size();
  }
  const memkv::FrozenLayer dict = builder.finish();
  std::printf("%zu words, %zu raw key bytes, image %zu bytes\n", dict.size(), raw, dict.image_size());

  // 3. Save atomically (temporary file, fsync, rename), then open by mmap.
  const std::filesystem::path path = std::filesystem::temp_directory_path() / "memkv_frozen_dictionary.fst";
  dict.save(path);
  const memkv::FrozenLayer opened = memkv::FrozenLayer::open(path);

  // 4. Lookups, ranks and an ordered prefix scan on the mapped file.
  std::printf("get(\"converting\") = %llu, rank %llu of %zu\n",
              static_cast<unsigned long long>(opened.get("converting").value_or(0)),
              static_cast<unsigned long long>(opened.rank("converting").value_or(0)), opened.size());
  std::printf("contains(\"convertible\") = %s\n", opened.contains("convertible") ? "true" : "false");
  std::size_t in_prefix = 0;
  std::printf("words starting with \"construct\":");
  for (const auto& e : opened.prefix("construct")) {
    std::printf(" %.*s", static_cast<int>(e.key.size()), e.key.data());
    ++in_prefix;
  }
  std::printf("\n");

  // 5. Many lookups at once: get_many overlaps their cache misses (about twice the throughput of
  //    one get() after another on a large image); out[i] answers keys[i].
  const std::vector<std::string_view> batch = {"selector", "selecting", "protected", "unprotected"};
  std::vector<std::optional<std::uint64_t>> out(batch.size());
  opened.get_many(batch, out);
  for (std::size_t i = 0; i < batch.size(); ++i)
    std::printf("get_many: %.*s -> %s\n", static_cast<int>(batch[i].size()), batch[i].data(),
                out[i] ? std::to_string(*out[i]).c_str() : "absent");

  opened.check_invariants();
  const bool ok = opened.size() == words.size() && in_prefix == 9 &&
                  opened.get("converting") == 10 && !opened.contains("convertible") &&
                  out[0] == 8 && out[1] == 9 && out[2] == 9 && !out[3];
  std::filesystem::remove(path);
  return ok ? 0 : 1;
}
