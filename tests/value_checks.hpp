// tests/value_checks.hpp - checks shared by the tree tests (FastArt, ArenaArt, HotArt,
// ArenaHotArt) of values that are awkward to copy: values whose copies throw, and move-only
// values. Catch2 test code: include it from the unit tests only (the fuzz targets include
// differential.hpp without Catch2).
#pragma once

#include <catch2/catch.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

namespace memkv_test {

// A value whose copies throw once `copies_left` more copies have been made (-1: never); moves
// never throw. The trees copy values when they learn their key code (a rebuild) and in copies.
struct FragileValue {
  static inline int copies_left = -1;
  std::uint64_t v = 0;
  FragileValue(std::uint64_t x = 0) noexcept : v(x) {}  // NOLINT(google-explicit-constructor)
  FragileValue(const FragileValue& o) : v(o.v) {
    if (copies_left == 0) throw std::runtime_error("FragileValue copy");
    if (copies_left > 0) --copies_left;
  }
  FragileValue(FragileValue&&) noexcept = default;
  FragileValue& operator=(const FragileValue&) = default;
  FragileValue& operator=(FragileValue&&) noexcept = default;
};

// M = a tree of FragileValue whose options `learn_at_64` learn the key code at 64 keys. The code
// is learnt by copying every value into a rebuilt tree: a copy that throws abandons the rebuild,
// the map stays as it was, keys raw, and tries again at 128 keys. A copy of the map whose value
// copies throw part way passes the exception on, leaks nothing (the sanitizers and valgrind
// check) and leaves the original untouched.
template <class M, class Options>
void check_fragile_values(Options learn_at_64) {
  struct reset {
    ~reset() { FragileValue::copies_left = -1; }
  } const guard;
  auto key = [](int i) { return "https://example.org/" + std::to_string(i * 7 % 1000) + "/x" + std::to_string(i); };
  auto check_all = [&](const M& m, int n) {
    REQUIRE(m.size() == static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
      const FragileValue* v = m.find(key(i));
      REQUIRE(v != nullptr);
      REQUIRE(v->v == static_cast<std::uint64_t>(i));
    }
    m.check_invariants();
  };
  M m(learn_at_64);
  FragileValue::copies_left = 10;
  for (int i = 0; i < 100; ++i) REQUIRE(m.insert(key(i), FragileValue(static_cast<std::uint64_t>(i))));
  CHECK_FALSE(m.keys_coded());
  check_all(m, 100);
  FragileValue::copies_left = -1;
  for (int i = 100; i < 200; ++i) REQUIRE(m.insert(key(i), FragileValue(static_cast<std::uint64_t>(i))));
  CHECK(m.keys_coded());
  check_all(m, 200);
  FragileValue::copies_left = 50;
  CHECK_THROWS_AS(M(m), std::runtime_error);
  FragileValue::copies_left = -1;
  check_all(m, 200);
  const M copy(m);
  check_all(copy, 200);
  CHECK(copy.keys_coded());
}

// M = a tree of std::unique_ptr<int> whose options `learn_at_16` learn the key code at 16 keys:
// learning rebuilds the tree by copying values, so with values that cannot be copied the map
// never learns and keeps every key raw, and every key stays reachable.
template <class M, class Options>
void check_move_only_values(Options learn_at_16) {
  M m(learn_at_16);
  for (int i = 0; i < 100; ++i)
    REQUIRE(m.insert("https://example.org/" + std::to_string(i), std::make_unique<int>(i)));
  CHECK_FALSE(m.keys_coded());
  for (int i = 0; i < 100; ++i) REQUIRE(**m.find("https://example.org/" + std::to_string(i)) == i);
  m.check_invariants();
}

}  // namespace memkv_test
