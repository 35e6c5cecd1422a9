// What a new user writes first: a few URLs into a FastArt, a lookup, a prefix scan, an erase.
// Built by every packaging consumer (find_package, add_subdirectory, single header, Conan's
// test_package) after it has included every public header; exits non-zero on any surprise.
#if defined(MEMKV_CONSUMER_SINGLE_HEADER)
#include <memkv/memkv.hpp>
#elif defined(MEMKV_CONSUMER_ALL_HEADERS)
#include MEMKV_CONSUMER_ALL_HEADERS   // generated: #include <memkv/...> for every public header
#else
#include <memkv/fast_art.hpp>
#endif

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

namespace {

int failures = 0;

void expect(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "consumer: FAILED: %s\n", what);
    ++failures;
  }
}

template <class Map>
void exercise(const char* name) {
  Map urls;
  expect(urls.empty(), "a new map is empty");
  expect(urls.insert("https://example.com/", 1), "insert a new key");
  expect(urls.insert("https://example.com/a", 2), "insert a key extending another");
  expect(urls.insert("https://example.org/", 3), "insert a third key");
  expect(urls.insert(std::string_view("\0\xff", 2), 4), "insert a binary key");
  expect(urls.insert("", 5), "insert the empty key");
  expect(!urls.insert("https://example.com/", 9), "insert an existing key keeps it");
  expect(!urls.insert_or_assign("https://example.com/", 10), "insert_or_assign assigns");
  expect(urls.size() == 5, "size counts distinct keys");

  const auto* v = urls.find("https://example.com/");
  expect(v != nullptr && *v == 10, "find sees the assigned value");
  expect(urls.get("https://example.org/").value_or(0) == 3, "get");
  expect(!urls.contains("https://example.net/"), "absent key");

  std::size_t in_prefix = 0;
  for (const auto& entry : urls.prefix("https://example.com")) {
    expect(entry.key.starts_with("https://example.com"), "prefix yields only matching keys");
    ++in_prefix;
  }
  expect(in_prefix == 2, "prefix scan finds both example.com keys");

  std::string previous;
  bool first = true, ordered = true;
  std::size_t count = 0;
  for (const auto& entry : urls) {
    if (!first && !(previous < std::string(entry.key))) ordered = false;
    previous = std::string(entry.key);
    first = false;
    ++count;
  }
  expect(ordered && count == urls.size(), "iteration is in bytewise key order");
  expect(urls.lower_bound("https://example.d") != urls.end(), "lower_bound");

  const std::size_t bytes = urls.memory_usage();
  expect(bytes > 0, "memory_usage");
  Map copy = urls;
  expect(copy.size() == urls.size(), "deep copy");
  expect(urls.erase("https://example.com/a") && !urls.contains("https://example.com/a"), "erase");
  expect(copy.contains("https://example.com/a"), "the copy is independent");
  urls.check_invariants();
  copy.check_invariants();
  std::printf("consumer: %s ok (%zu keys, %zu bytes)\n", name, copy.size(), bytes);
}

}  // namespace

int memkv_consumer_second_tu();  // second_tu.cpp, where it is linked in

int main() {
#if !defined(MEMKV_CONSUMER_ONE_TU)
  expect(memkv_consumer_second_tu() == 1, "the second translation unit links and works");
#endif
  exercise<memkv::FastArt<>>("FastArt<>");
  exercise<memkv::FastArt<std::uint64_t, memkv::MallocAllocator>>("FastArt<uint64, MallocAllocator>");
#if defined(MEMKV_CONSUMER_MIMALLOC)
  static_assert(MEMKV_HAS_MIMALLOC == 1, "memkv::mimalloc must make <mimalloc.h> visible");
  exercise<memkv::FastArt<std::uint64_t, memkv::MimallocAllocator>>("FastArt<uint64, MimallocAllocator>");
#endif
  return failures == 0 ? 0 : 1;
}
