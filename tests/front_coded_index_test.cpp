// Tests of memkv/front_coded_index.hpp (owner: fci).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <random>
#include <ranges>
#include <string>
#include <vector>

#include "differential.hpp"
#include "memkv/front_coded_index.hpp"

namespace {

using memkv::fci_coding;
using memkv::FrontCodedIndex;
using Index = FrontCodedIndex<>;
using Set = FrontCodedIndex<memkv::keys_only>;

static_assert(std::forward_iterator<Index::const_iterator>);
static_assert(std::ranges::forward_range<Index>);
static_assert(std::ranges::forward_range<Index::range_type>);
static_assert(std::ranges::forward_range<Set::range_type>);
static_assert(std::is_nothrow_move_constructible_v<Index>);

// No padding bytes: the index copies values into its image byte for byte, and padding would be
// uninitialised bytes in a checksummed file (valgrind reports them).
struct Packed {
  std::uint32_t a;
  std::uint16_t b;
  std::uint16_t pad = 0;
  bool operator==(const Packed&) const = default;
};
static_assert(std::has_unique_object_representations_v<Packed>);

std::string show_rank(std::size_t i) { return "rank " + std::to_string(i); }

// The reference of a keys-only index: every key mapped to its rank.
std::map<std::string, std::uint64_t> with_ranks(const std::map<std::string, std::uint64_t>& m) {
  std::map<std::string, std::uint64_t> r;
  std::uint64_t i = 0;
  for (const auto& kv : m) r.emplace(kv.first, i++);
  return r;
}

template <class S>
void check_ranks(const S& s) {
  std::size_t i = 0;
  std::string prev;
  for (auto it = s.begin(); it != s.end(); ++it, ++i) {
    const auto e = *it;
    INFO(show_rank(i));
    REQUIRE(it.rank() == i);
    if (i > 0) REQUIRE(prev < std::string(e.key));
    REQUIRE(s.rank(e.key) == std::optional<std::size_t>(i));
    prev.assign(e.key);
  }
  REQUIRE(i == s.size());
}

std::vector<std::byte> small_image(fci_coding coding, std::uint32_t bucket = 4) {
  std::map<std::string, std::uint64_t> m;
  for (const char* k : {"", "a", "ab", "abc", "abd", "b", "ba", "bab", "zz", "zzz\xff"}) m[k] = m.size() * 3;
  const auto idx = Index::build(m, bucket, coding);
  return {idx.bytes().begin(), idx.bytes().end()};
}

std::filesystem::path temp_path(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("memkv_fci_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

}  // namespace

TEST_CASE("FrontCodedIndex: empty", "[front_coded_index]") {
  for (auto coding : {fci_coding::raw, fci_coding::huffman, fci_coding::automatic}) {
    const auto idx = Index::build(std::map<std::string, std::uint64_t>{}, 16, coding);
    REQUIRE(idx.size() == 0);
    REQUIRE(idx.empty());
    REQUIRE(idx.begin() == idx.end());
    REQUIRE_FALSE(idx.get("").has_value());
    REQUIRE_FALSE(idx.contains("a"));
    REQUIRE(idx.lower_bound("x") == idx.end());
    REQUIRE(idx.prefix("").empty());
    REQUIRE(idx.range("", "z").empty());
    REQUIRE_THROWS_AS(idx.nth(0), memkv::error);
    // Batches over the empty index: every answer absent (the slots held something before).
    const std::vector<std::string_view> qs{"", "a", "a", std::string_view("\0\xff", 2)};
    std::vector<std::optional<std::uint64_t>> got(qs.size(), 7u), ranks(qs.size(), 7u);
    idx.get_many(qs, got);
    idx.rank_many(qs, ranks);
    for (std::size_t i = 0; i < qs.size(); ++i) {
      REQUIRE_FALSE(got[i].has_value());
      REQUIRE_FALSE(ranks[i].has_value());
    }
    idx.get_many({}, std::span<std::optional<std::uint64_t>>{});
    idx.check_invariants();
    const auto copy = Index::from_bytes(idx.bytes());
    REQUIRE(copy.size() == 0);
  }
  const Index def;
  REQUIRE(def.empty());
  REQUIRE(def.begin() == def.end());
  // Answer slots that do not match the keys are an error, named, before anything is written.
  const auto idx = Index::build(std::map<std::string, std::uint64_t>{{"a", 1}, {"b", 2}}, 16);
  const std::vector<std::string_view> qs{"a", "b", "c"};
  std::vector<std::optional<std::uint64_t>> two(2, 9u), four(4, 9u);
  REQUIRE_THROWS_WITH(idx.get_many(qs, two), Catch::Contains("get_many") && Catch::Contains("3 keys but 2"));
  REQUIRE_THROWS_AS(idx.get_many(qs, four), memkv::error);
  REQUIRE_THROWS_WITH(idx.rank_many(qs, two), Catch::Contains("rank_many"));
  REQUIRE(two == std::vector<std::optional<std::uint64_t>>(2, 9u));
  REQUIRE(four == std::vector<std::optional<std::uint64_t>>(4, 9u));
  REQUIRE_THROWS_AS(def.get_many(qs, two), memkv::error);
}

TEST_CASE("FrontCodedIndex: basic queries", "[front_coded_index]") {
  for (auto coding : {fci_coding::raw, fci_coding::huffman}) {
    Index::builder b(3, coding);
    b.insert("apple", 1);
    b.insert("apples", 2);
    b.insert("apricot", 3);
    b.insert("banana", 4);
    b.insert("band", 5);
    b.insert("bandana", 6);
    b.insert("cherry", 7);
    REQUIRE(b.size() == 7);
    const Index idx = b.finish();
    REQUIRE(idx.coding() == coding);
    REQUIRE(idx.bucket_size() == 3);
    idx.check_invariants();
    REQUIRE(idx.size() == 7);
    REQUIRE(idx.get("apple") == 1u);
    REQUIRE(idx.get("bandana") == 6u);
    REQUIRE(idx.get("cherry") == 7u);
    REQUIRE_FALSE(idx.get("app").has_value());
    REQUIRE_FALSE(idx.get("bandanas").has_value());
    REQUIRE_FALSE(idx.get("zebra").has_value());
    REQUIRE_FALSE(idx.contains(""));
    REQUIRE(idx.rank("apricot") == std::optional<std::size_t>(2));
    REQUIRE_FALSE(idx.rank("b").has_value());
    REQUIRE(idx.nth(4).first == "band");
    REQUIRE(idx.nth(4).second == 5u);
    REQUIRE(idx.at_rank(6)->key == "cherry");
    REQUIRE(idx.at_rank(99) == idx.end());
    REQUIRE((*idx.lower_bound("b")).key == "banana");
    REQUIRE(idx.lower_bound("banana")->value == 4u);
    REQUIRE(idx.lower_bound("bandanaa")->key == "cherry");
    REQUIRE(idx.lower_bound("d") == idx.end());

    std::vector<std::string> got;
    for (auto e : idx.prefix("ban")) got.emplace_back(e.key);
    REQUIRE(got == std::vector<std::string>{"banana", "band", "bandana"});
    got.clear();
    for (auto e : idx.range("apples", "band")) got.emplace_back(e.key);
    REQUIRE(got == std::vector<std::string>{"apples", "apricot", "banana"});
    REQUIRE(idx.range("z", "a").empty());
    REQUIRE(idx.prefix("x").empty());

    // std::ranges algorithms
    REQUIRE(std::ranges::distance(idx) == 7);
    REQUIRE(std::ranges::distance(idx.prefix("ap")) == 3);
    auto it = std::ranges::find_if(idx, [](auto e) { return e.value == 5u; });
    REQUIRE(it->key == "band");
    REQUIRE(std::ranges::is_sorted(idx, {}, [](auto e) { return std::string(e.key); }));
  }
}

TEST_CASE("FrontCodedIndex: keys-only maps keys to ranks", "[front_coded_index]") {
  std::vector<std::string> keys = {"", std::string(1, '\0'), "a", "aa", "b", "\xff"};
  const Set s = Set::build(keys, 2);
  REQUIRE(s.size() == keys.size());
  for (std::size_t i = 0; i < keys.size(); ++i) {
    REQUIRE(s.get(keys[i]) == std::optional<std::uint64_t>(i));
    REQUIRE(s.nth(i).first == keys[i]);
  }
  std::size_t i = 0;
  for (auto e : s) {
    REQUIRE(e.key == keys[i]);
    REQUIRE(e.value == i++);
  }
  // built from pairs too (the value is ignored)
  std::map<std::string, std::uint64_t> m = {{"x", 9}, {"y", 8}};
  REQUIRE(Set::build(m).get("y") == 1u);
  // a keys-only image is not a valued one
  REQUIRE_THROWS_AS(Index::from_bytes(s.bytes()), memkv::format_error);
  REQUIRE(Set::from_bytes(s.bytes()).size() == keys.size());
}

TEST_CASE("FrontCodedIndex: trivially copyable values", "[front_coded_index]") {
  std::map<std::string, Packed> m;
  for (int i = 0; i < 500; ++i)
    m["k" + std::to_string(i)] = Packed{static_cast<std::uint32_t>(i * 7), static_cast<std::uint16_t>(i)};
  const auto idx = FrontCodedIndex<Packed>::build(m, 8);
  for (const auto& [k, v] : m) REQUIRE(idx.get(k) == v);
  // the value size is part of the image
  static_assert(sizeof(Packed) != sizeof(std::uint32_t));
  REQUIRE_THROWS_WITH(FrontCodedIndex<std::uint32_t>::from_bytes(idx.bytes()),
                      Catch::Contains("value size"));
}

TEST_CASE("FrontCodedIndex: builder rejects unordered and repeated keys", "[front_coded_index]") {
  {
    Index::builder b;
    b.insert("b", 1);
    REQUIRE_THROWS_WITH(b.insert("a", 2), Catch::Contains("position 1"));
    REQUIRE_THROWS_AS(b.insert("c", 3), memkv::error);  // usable only for destruction now
    REQUIRE_THROWS_AS(b.finish(), memkv::error);
  }
  {
    Index::builder b;
    b.insert("", 1);
    b.insert("a", 1);
    REQUIRE_THROWS_WITH(b.insert("a", 2), Catch::Contains("position 2") && Catch::Contains("repeats"));
  }
  {
    Index::builder b;
    b.insert("a", 1);
    (void)b.finish();
    REQUIRE_THROWS_AS(b.finish(), memkv::error);
    REQUIRE_THROWS_AS(b.insert("b", 1), memkv::error);
  }
  REQUIRE_THROWS_AS(Index::builder(0), memkv::error);
  REQUIRE_THROWS_AS(Index::builder(1u << 20), memkv::error);
  std::vector<std::pair<std::string, std::uint64_t>> unsorted = {{"b", 1}, {"a", 2}};
  REQUIRE_THROWS_AS(Index::build(unsorted), memkv::error);
}

TEST_CASE("FrontCodedIndex: differential against std::map (nasty keys)", "[front_coded_index][differential]") {
  const std::uint64_t seeds = memkv_test::test_seeds();
  for (std::uint64_t seed = memkv_test::base_seed(); seed < memkv_test::base_seed() + seeds; ++seed) {
    const auto ref = memkv_test::nasty_map<std::uint64_t>(seed, 3000, 3);
    for (auto coding : {fci_coding::raw, fci_coding::huffman}) {
      for (std::uint32_t bucket : {1u, 2u, 7u, 16u, 64u}) {
        INFO("seed " << seed << " coding " << int(coding) << " bucket " << bucket);
        const auto idx = Index::build(ref, bucket, coding);
        idx.check_invariants();
        memkv_test::StaticCheckOptions opt;
        opt.seed = seed;
        opt.max_keys = 1500;
        opt.scans = 100;
        REQUIRE_NOTHROW(memkv_test::check_static_against(idx, ref, opt));
        const auto set = Set::build(ref, bucket, coding);
        REQUIRE_NOTHROW(memkv_test::check_static_against(set, with_ranks(ref), opt));
        check_ranks(set);
      }
    }
  }
}

TEST_CASE("FrontCodedIndex: URL-like keys, all codings", "[front_coded_index][differential]") {
  std::map<std::string, std::uint64_t> ref;
  std::mt19937_64 rng(11);
  const char* hosts[] = {"https://github.com/", "git+https://github.com/", "https://gitlab.com/"};
  for (int i = 0; i < 20000; ++i) {
    std::string k = hosts[rng() % 3];
    k += "user" + std::to_string(rng() % 500) + "/repo-" + std::to_string(rng() % 100);
    ref.emplace(k, rng());
  }
  for (auto coding : {fci_coding::raw, fci_coding::huffman, fci_coding::automatic}) {
    const auto idx = Index::build(ref, 16, coding);
    if (coding == fci_coding::automatic) REQUIRE(idx.coding() == fci_coding::huffman);
    REQUIRE(idx.bytes().size() < 20000 * 20);
    REQUIRE_NOTHROW(memkv_test::check_static_against(idx, ref));
  }
}

TEST_CASE("FrontCodedIndex: long keys", "[front_coded_index]") {
  std::map<std::string, std::uint64_t> ref;
  std::string big(16u << 20, 'x');  // 16 MiB
  big[12345] = '\0';
  ref[big] = 1;
  ref[big + "y"] = 2;
  ref[big.substr(0, 1 << 20)] = 3;
  ref[std::string(70000, '\xff')] = 4;
  ref["short"] = 5;
  for (auto coding : {fci_coding::raw, fci_coding::huffman}) {
    const auto idx = Index::build(ref, 2, coding);
    for (const auto& [k, v] : ref) REQUIRE(idx.get(k) == v);
    REQUIRE_FALSE(idx.contains(big.substr(0, big.size() - 1)));
    auto it = ref.begin();
    for (auto e : idx) {
      REQUIRE(e.key == it->first);
      ++it;
    }
    const auto copy = Index::from_bytes(idx.bytes());
    REQUIRE(copy.get(big + "y") == 2u);
  }
}

TEST_CASE("FrontCodedIndex: files, bytes, copies and moves", "[front_coded_index]") {
  const auto ref = memkv_test::nasty_map<std::uint64_t>(5, 2000);
  const auto idx = Index::build(ref);
  const auto path = temp_path("index.fci");
  idx.save(path);
  {
    const auto opened = Index::open(path);
    REQUIRE(opened.memory_usage() >= opened.bytes().size());
    REQUIRE_NOTHROW(memkv_test::check_static_against(opened, ref));
    opened.check_invariants();
  }
  idx.save(path);  // overwrite
  REQUIRE(std::filesystem::file_size(path) == idx.bytes().size());
  const auto viewed = Index::view_bytes(idx.bytes());
  REQUIRE(viewed.bytes().data() == idx.bytes().data());
  REQUIRE(viewed.size() == ref.size());
  std::vector<std::byte> image(idx.bytes().begin(), idx.bytes().end());
  const auto taken = Index::from_bytes(std::move(image));
  REQUIRE(taken.size() == ref.size());

  Index copy = idx;
  REQUIRE(std::ranges::equal(copy.bytes(), idx.bytes()));
  auto it = copy.lower_bound(ref.rbegin()->first);
  Index moved = std::move(copy);  // iterators survive moves of the index
  REQUIRE(it->key == ref.rbegin()->first);
  REQUIRE(++it == moved.end());
  moved.swap(copy);
  REQUIRE(copy.size() == ref.size());

  REQUIRE_THROWS_WITH(Index::open(path.parent_path() / "missing.fci"), Catch::Contains("missing.fci"));
  std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("FrontCodedIndex: memory_usage counts the image", "[front_coded_index]") {
  const auto ref = memkv_test::nasty_map<std::uint64_t>(3, 5000);
  const auto idx = Index::build(ref);
  REQUIRE(idx.memory_usage() > idx.bytes().size());
  REQUIRE(idx.memory_usage() < idx.bytes().size() + 64 * 1024);
}

TEST_CASE("FrontCodedIndex: truncated, extended and bit-flipped images", "[front_coded_index]") {
  for (auto coding : {fci_coding::raw, fci_coding::huffman}) {
    const auto img = small_image(coding);
    REQUIRE_NOTHROW(Index::from_bytes(img));
    for (std::size_t n = 0; n < img.size(); ++n)
      REQUIRE_THROWS_AS(Index::from_bytes(std::span(img).first(n)), memkv::format_error);
    auto longer = img;
    longer.push_back(std::byte{0});
    REQUIRE_THROWS_AS(Index::from_bytes(longer), memkv::format_error);
    // every single-bit flip: with the checksum every one is caught; without it, the image
    // either fails validation or loads as a consistent index
    std::size_t loaded = 0;
    for (std::size_t i = 0; i < img.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        auto bad = img;
        bad[i] ^= static_cast<std::byte>(1 << bit);
        REQUIRE_THROWS_AS(Index::from_bytes(bad), memkv::format_error);
        try {
          const auto idx = Index::from_bytes(bad, {.verify_checksum = false});
          check_ranks(idx);
          ++loaded;
        } catch (const memkv::format_error&) {
        }
      }
    }
    INFO("flips that load without the checksum: " << loaded);
    SUCCEED();
  }
}

TEST_CASE("FrontCodedIndex: error messages name the offset and the path", "[front_coded_index]") {
  auto img = small_image(fci_coding::huffman);
  auto bad = img;
  bad[0] ^= std::byte{1};
  REQUIRE_THROWS_WITH(Index::from_bytes(bad), Catch::Contains("offset 0"));
  const auto path = temp_path("bad.fci");
  memkv::io::atomic_write_file(path, bad);
  REQUIRE_THROWS_WITH(Index::open(path), Catch::Contains("bad.fci"));
  std::filesystem::remove_all(path.parent_path());
}

TEST_CASE("FrontCodedIndex: images with 8-byte bucket offsets", "[front_coded_index]") {
  // Bodies over 4 GiB use 8-byte offsets; rewrite a small image that way to test that path.
  const auto ref = memkv_test::nasty_map<std::uint64_t>(9, 3000);
  for (auto coding : {fci_coding::raw, fci_coding::huffman}) {
    const auto idx = Index::build(ref, 5, coding);
    const auto img = idx.bytes();
    namespace io = memkv::io;
    const std::size_t params = io::image_header_size;
    REQUIRE(static_cast<int>(img[params + 8]) == 4);
    const std::size_t offsets_at = params + memkv::detail::fci::params_size +
                                   (coding == fci_coding::huffman ? 256 : 0);
    const std::size_t buckets = (ref.size() + 4) / 5;
    std::vector<std::byte> wide(img.begin(), img.begin() + static_cast<std::ptrdiff_t>(offsets_at));
    wide[params + 8] = std::byte{8};
    for (std::size_t k = 0; k <= buckets; ++k)
      io::append_le<std::uint64_t>(wide, io::load_le<std::uint32_t>(img.data() + offsets_at + 4 * k));
    wide.insert(wide.end(), img.begin() + static_cast<std::ptrdiff_t>(offsets_at + 4 * (buckets + 1)),
                img.end());
    io::finish_image(wide, memkv::detail::fci::magic, memkv::detail::fci::format_version, 0, ref.size());
    const auto w = Index::from_bytes(wide);
    REQUIRE(w.bytes().size() == img.size() + 4 * (buckets + 1));
    REQUIRE_NOTHROW(memkv_test::check_static_against(w, ref));
  }
}

TEST_CASE("FrontCodedIndex: moved-from and default-constructed indexes are empty", "[front_coded_index]") {
  const auto ref = memkv_test::nasty_map<std::uint64_t>(4, 100);
  Index a = Index::build(ref);
  Index b = std::move(a);
  REQUIRE(b.size() == ref.size());
  REQUIRE(a.size() == 0);  // NOLINT(bugprone-use-after-move): moved-from is empty and usable
  REQUIRE(a.begin() == a.end());
  REQUIRE_FALSE(a.contains(ref.begin()->first));
  a.check_invariants();
  REQUIRE(Index::from_bytes(a.bytes()).empty());
  a = std::move(b);
  REQUIRE(a.size() == ref.size());
  REQUIRE(b.empty());
  const Index d;
  REQUIRE(d.empty());
  REQUIRE(d.memory_usage() == sizeof(Index));
  const Set s;
  REQUIRE(s.empty());
  REQUIRE(Set::from_bytes(s.bytes()).empty());
}
