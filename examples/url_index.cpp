// url_index: a URL index with prefix search on memkv::FastArt.
//
// Maps each URL to a document id, then answers "which pages are under this site/path?" with a
// prefix scan, in sorted order, without touching the rest of the index. Build and run:
//   cmake --workflow --preset test      (builds it as example_url_index and runs it as a test)
// or on its own:
//   g++ -std=c++20 -O2 -I include examples/url_index.cpp -o url_index && ./url_index
#include <memkv/fast_art.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

int main() {
  // FastArt<V> maps std::string_view keys to V (here: a 64-bit document id), in byte order.
  memkv::FastArt<std::uint64_t> index;

  const char* const urls[] = {
      "https://en.wikipedia.org/wiki/Radix_tree",
      "https://en.wikipedia.org/wiki/Trie",
      "https://en.wikipedia.org/wiki/Finite-state_transducer",
      "https://en.wikipedia.org/",
      "https://de.wikipedia.org/wiki/Trie",
      "https://github.com/rust-lang/rust",
      "https://github.com/rust-lang/cargo",
      "https://github.com/torvalds/linux",
      "https://www.example.com/",
      "https://www.example.com/index.html",
  };
  std::uint64_t next_id = 1;
  for (const char* url : urls) index.insert(url, next_id++);

  // insert keeps an existing value and returns false; insert_or_assign overwrites.
  if (index.insert("https://github.com/torvalds/linux", 999)) return 1;
  index.insert_or_assign("https://www.example.com/", 100);

  // Point lookups: find gives a pointer (nullptr when absent), get an optional.
  if (const std::uint64_t* id = index.find("https://en.wikipedia.org/wiki/Trie"))
    std::printf("Trie article: doc %llu\n", static_cast<unsigned long long>(*id));
  std::printf("example.com home: doc %llu\n",
              static_cast<unsigned long long>(index.get("https://www.example.com/").value_or(0)));

  // Prefix search: every page under a site or path, in sorted order.
  for (std::string_view site : {"https://en.wikipedia.org/wiki/", "https://github.com/rust-lang/"}) {
    std::printf("pages under %.*s:\n", static_cast<int>(site.size()), site.data());
    for (const auto& page : index.prefix(site))
      std::printf("  %-55.*s doc %llu\n", static_cast<int>(page.key.size()), page.key.data(),
                  static_cast<unsigned long long>(page.value));
  }

  // A half-open key range [lo, hi): everything on github.com.
  std::size_t on_github = 0;
  for (const auto& page : index.range("https://github.com/", "https://github.com0")) {
    (void)page;
    ++on_github;
  }
  std::printf("pages on github.com: %zu\n", on_github);

  // Erase a whole site: collect the keys first (erasing invalidates the scan), then erase.
  std::vector<std::string> doomed;
  for (const auto& page : index.prefix("https://www.example.com/")) doomed.emplace_back(page.key);
  for (const std::string& url : doomed) index.erase(url);
  const std::size_t n_doomed = doomed.size();
  std::printf("erased %zu example.com pages; %s\n", n_doomed,
              index.contains("https://www.example.com/") ? "still there?!" : "gone");

  // Range-for walks the whole index in byte order.
  std::printf("index (%zu urls, %zu bytes):\n", index.size(), index.memory_usage());
  for (const auto& [url, id] : index)
    std::printf("  %llu\t%.*s\n", static_cast<unsigned long long>(id), static_cast<int>(url.size()),
                url.data());

  index.check_invariants();
  return index.size() == 8 && on_github == 3 && n_doomed == 2 ? 0 : 1;
}
