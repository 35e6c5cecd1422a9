// Tests of memkv/core/file_io.hpp and memkv/core/varint.hpp (owner: fci).
#include <catch2/catch.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "memkv/core/file_io.hpp"
#include "memkv/core/varint.hpp"

namespace {
std::vector<std::byte> to_bytes(std::string_view s) {
  std::vector<std::byte> v(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) v[i] = static_cast<std::byte>(s[i]);
  return v;
}
std::filesystem::path temp_dir() {
  auto d = std::filesystem::temp_directory_path() /
           ("memkv_file_io_test_" + std::to_string(std::random_device{}()));
  std::filesystem::create_directories(d);
  return d;
}
}  // namespace

TEST_CASE("varint round-trips and sizes", "[file_io][varint]") {
  using namespace memkv::io;
  std::vector<std::uint64_t> values = {0, 1, 127, 128, 255, 300, 16383, 16384, (1ULL << 32) - 1,
                                       1ULL << 32, (1ULL << 63) - 1, 1ULL << 63, ~0ULL};
  std::mt19937_64 rng(42);
  for (int i = 0; i < 1000; ++i) values.push_back(rng() >> (rng() % 64));
  for (auto v : values) {
    std::vector<std::byte> buf;
    append_varint(buf, v);
    REQUIRE(buf.size() == varint_size(v));
    const std::byte* p = buf.data();
    REQUIRE(decode_varint(p, buf.data() + buf.size()) == v);
    REQUIRE(p == buf.data() + buf.size());
    // every strict prefix is truncated
    for (std::size_t n = 0; n < buf.size(); ++n) {
      const std::byte* q = buf.data();
      std::uint64_t out;
      REQUIRE_FALSE(try_decode_varint(q, buf.data() + n, out));
      REQUIRE(q == buf.data());
    }
  }
  REQUIRE(varint_size(0) == 1);
  REQUIRE(varint_size(~0ULL) == 10);
}

TEST_CASE("varint rejects overlong and out-of-range encodings", "[file_io][varint]") {
  using namespace memkv::io;
  auto bad = [](std::vector<unsigned char> raw) {
    std::vector<std::byte> b(raw.size());
    for (std::size_t i = 0; i < raw.size(); ++i) b[i] = std::byte{raw[i]};
    const std::byte* p = b.data();
    REQUIRE_THROWS_AS(decode_varint(p, b.data() + b.size(), b.data()), memkv::format_error);
  };
  bad({0x80, 0x00});                                                        // overlong zero
  bad({0xff, 0x80, 0x00});                                                  // trailing zero group
  bad({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02});        // 65 bits
  bad({0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x81, 0x00});  // 11 bytes
  bad({0x80});                                                              // truncated
  bad({});
  try {
    std::vector<std::byte> b = {std::byte{1}, std::byte{0x80}};
    const std::byte* p = b.data() + 1;
    decode_varint(p, b.data() + 2, b.data());
    FAIL("no throw");
  } catch (const memkv::format_error& e) {
    REQUIRE(std::string(e.what()).find("offset 1") != std::string::npos);
  }
}

TEST_CASE("little-endian helpers and byte_reader", "[file_io]") {
  using namespace memkv::io;
  std::vector<std::byte> b;
  append_le<std::uint32_t>(b, 0x04030201u);
  append_le<std::uint16_t>(b, 0x0605u);
  append_varint(b, 1000);
  REQUIRE(static_cast<int>(b[0]) == 1);
  REQUIRE(static_cast<int>(b[5]) == 6);
  byte_reader r(b.data(), b.data() + b.size());
  REQUIRE(r.le<std::uint32_t>() == 0x04030201u);
  REQUIRE(r.le<std::uint16_t>() == 0x0605u);
  REQUIRE(r.offset() == 6);
  REQUIRE_THROWS_AS(byte_reader(r).varint_at_most(999, "count"), memkv::format_error);
  REQUIRE(r.varint() == 1000);
  REQUIRE(r.at_end());
  REQUIRE_THROWS_AS(r.u8(), memkv::format_error);
  REQUIRE_THROWS_AS(r.bytes(1), memkv::format_error);
  byte_reader r2(b.data(), b.data() + 3);
  REQUIRE_THROWS_WITH(r2.le<std::uint32_t>(), Catch::Contains("offset 0"));
}

TEST_CASE("checksum64 is XXH64", "[file_io]") {
  using memkv::io::checksum64;
  // reference values of XXH64 with seed 0
  REQUIRE(checksum64(to_bytes("")) == 0xEF46DB3751D8E999ULL);
  REQUIRE(checksum64(to_bytes("a")) == 0xD24EC4F1A98C6E5BULL);
  REQUIRE(checksum64(to_bytes("abc")) == 0x44BC2CF5AD770999ULL);
  // every length takes a different tail path; flipping any bit changes the sum
  std::string s;
  for (int i = 0; i < 100; ++i) s += static_cast<char>(i * 37);
  for (std::size_t n = 0; n <= s.size(); ++n) {
    auto b = to_bytes(std::string_view(s).substr(0, n));
    const auto h = checksum64(b);
    for (std::size_t i = 0; i < n; i += 7) {
      b[i] ^= std::byte{0x10};
      REQUIRE(checksum64(b) != h);
      b[i] ^= std::byte{0x10};
    }
  }
}

TEST_CASE("image header round-trip and validation", "[file_io]") {
  using namespace memkv::io;
  constexpr std::uint64_t magic = 0x0102464B564D4B4DULL;
  auto img = begin_image();
  for (int i = 0; i < 100; ++i) img.push_back(static_cast<std::byte>(i));
  finish_image(img, magic, 1, 7, 42);
  auto h = parse_image_header(img, magic, 1);
  REQUIRE(h.version == 1);
  REQUIRE(h.flags == 7);
  REQUIRE(h.key_count == 42);
  REQUIRE(h.total_length == img.size());

  REQUIRE_THROWS_WITH(parse_image_header(img, magic + 1, 1), Catch::Contains("magic"));
  auto t = img;
  t.pop_back();
  REQUIRE_THROWS_WITH(parse_image_header(t, magic, 1), Catch::Contains("offset 16"));
  t = img;
  t.push_back(std::byte{0});
  REQUIRE_THROWS_AS(parse_image_header(t, magic, 1), memkv::format_error);
  REQUIRE_THROWS_AS(parse_image_header(std::span(img).first(47), magic, 1), memkv::format_error);
  for (std::size_t i = 0; i < img.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      t = img;
      t[i] ^= static_cast<std::byte>(1 << bit);
      REQUIRE_THROWS_AS(parse_image_header(t, magic, 1), memkv::format_error);
    }
  }
  t = img;
  store_le<std::uint32_t>(t.data() + 8, 2);
  REQUIRE_THROWS_WITH(parse_image_header(t, magic, 1), Catch::Contains("version"));
  // payload verification can be skipped
  t = img;
  t.back() ^= std::byte{1};
  REQUIRE_NOTHROW(parse_image_header(t, magic, 1, false));
}

TEST_CASE("atomic_write_file, mapped_file and byte_source", "[file_io]") {
  using namespace memkv::io;
  const auto dir = temp_dir();
  const auto path = dir / "image.bin";
  const auto data = to_bytes(std::string("hello\0world\xff", 12));
  atomic_write_file(path, data);
  atomic_write_file(path, data);  // overwrite
  {
    mapped_file m(path);
    REQUIRE(m.size() == 12);
    REQUIRE(std::equal(m.span().begin(), m.span().end(), data.begin(), data.end()));
    mapped_file moved(std::move(m));
    REQUIRE(m.empty());
    REQUIRE(moved.size() == 12);
    m = std::move(moved);
    REQUIRE(m.size() == 12);
  }
  // no temporary files are left behind
  std::size_t files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++files;
  REQUIRE(files == 1);

  const auto empty = dir / "empty.bin";
  atomic_write_file(empty, {});
  mapped_file me(empty);
  REQUIRE(me.empty());
  REQUIRE(me.span().empty());

  REQUIRE_THROWS_WITH(mapped_file(dir / "missing.bin"), Catch::Contains("missing.bin"));
  REQUIRE_THROWS_AS(mapped_file(dir), memkv::error);
  REQUIRE_THROWS_WITH(atomic_write_file(dir / "no" / "such" / "dir.bin", data),
                      Catch::Contains("dir.bin"));
  // The final rename fails (the target is a directory, empty or not): an error naming the target,
  // the directory as it was, and the temporary file removed.
  const auto sub = dir / "sub";
  std::filesystem::create_directories(sub / "inner");
  REQUIRE_THROWS_WITH(atomic_write_file(sub, data), Catch::Contains("cannot rename") && Catch::Contains("sub"));
  REQUIRE_THROWS_AS(atomic_write_file(sub / "inner", data), memkv::error);
  REQUIRE(std::filesystem::is_directory(sub / "inner"));
  std::size_t entries = 0;
  for (auto& e : std::filesystem::directory_iterator(dir)) (void)e, ++entries;
  REQUIRE(entries == 3);  // image.bin, empty.bin, sub: no temporary file left
  entries = 0;
  for (auto& e : std::filesystem::directory_iterator(sub)) (void)e, ++entries;
  REQUIRE(entries == 1);

  auto owned = byte_source::owned(data);
  const auto* before = owned.data();
  auto owned2 = std::move(owned);
  REQUIRE(owned2.data() == before);
  REQUIRE(owned2.kind() == byte_source::kind_type::owned);
  REQUIRE(owned2.heap_bytes() >= 12);
  auto mapped = byte_source::mapped(path);
  REQUIRE(mapped.kind() == byte_source::kind_type::mapped);
  REQUIRE(mapped.size() == 12);
  auto borrowed = byte_source::borrowed(data);
  REQUIRE(borrowed.data() == data.data());
  REQUIRE(byte_source().size() == 0);
  std::filesystem::remove_all(dir);
}
