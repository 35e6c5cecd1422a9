// tests/save_crash_test.cpp - CONTRACT: save(path) is atomic, "a crash leaves the old file or the
// new one, never a torn one". A forked child saves two different images of a structure to one
// path in an endless loop, alternating; the parent SIGKILLs it at a random moment (0.2-20 ms in),
// then opens the file (checksum verified) and requires its bytes to be exactly one of the two
// complete images. 50 kills per case: FrozenLayer::save, FrontCodedIndex::save, and the
// streaming FrozenLayerBuilder(path) that writes the image straight to the file at finish().
// (HybridStore::save has its own kill test in tests/hybrid_store_test.cpp.)
// Killed saves may leave their temporary files (<path>.tmp.*); those are the only debris allowed,
// and they are removed here.
#include <catch2/catch.hpp>

#include <memkv/front_coded_index.hpp>
#include <memkv/frozen_layer.hpp>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

namespace {

namespace fs = std::filesystem;

constexpr int kKills = 50;

fs::path crash_dir() {
  const fs::path d = fs::temp_directory_path() / ("memkv_save_crash_" + std::to_string(::getpid()));
  fs::create_directories(d);
  return d;
}

// Two different key sets (a few hundred KB of image each, so a save takes a little while).
std::map<std::string, std::uint64_t> contents(int which) {
  std::map<std::string, std::uint64_t> m;
  const int n = which == 0 ? 30000 : 22000;
  for (int i = 0; i < n; ++i) {
    m.emplace((which == 0 ? "https://a.example/item/" : "http://b.example/doc/") + std::to_string(i * 7919 % 1000003),
              static_cast<std::uint64_t>(i) * (which == 0 ? 3 : 5));
  }
  return m;
}

std::vector<std::byte> copy(std::span<const std::byte> s) { return {s.begin(), s.end()}; }

// Forks a child running save(i) for i = 0, 1, 2, ... until it is killed; `opened(path)` returns
// the bytes of the structure opened from the file (it must not throw), which must equal image_a
// or image_b. Returns how many rounds found each image.
std::pair<int, int> kill_during_saves(const fs::path& path, const std::function<void(int)>& save,
                                      const std::function<std::vector<std::byte>()>& opened,
                                      const std::vector<std::byte>& image_a,
                                      const std::vector<std::byte>& image_b, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  int saw_a = 0, saw_b = 0;
  for (int round = 0; round < kKills; ++round) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      try {
        for (int i = round % 2;; ++i) save(i);
      } catch (...) {
        ::_exit(3);
      }
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200 + rng() % 20000));
    ::kill(pid, SIGKILL);
    int status = 0;
    ::waitpid(pid, &status, 0);
    INFO("round " << round);
    REQUIRE(WIFSIGNALED(status));  // the child was still saving: it did not fail on its own
    std::vector<std::byte> got;
    REQUIRE_NOTHROW(got = opened());  // never a torn file
    const bool is_a = got == image_a, is_b = got == image_b;
    CHECK((is_a || is_b));
    saw_a += is_a;
    saw_b += is_b;
  }
  for (const auto& e : fs::directory_iterator(path.parent_path())) {
    const std::string name = e.path().filename().string();
    if (name.rfind(path.filename().string() + ".tmp.", 0) == 0) fs::remove(e.path());
  }
  fs::remove(path);
  return {saw_a, saw_b};
}

}  // namespace

TEST_CASE("FrozenLayer::save killed at random moments leaves the old image or the new one", "[crash][frozen_layer][file]") {
  const fs::path path = crash_dir() / "layer.fst";
  const memkv::FrozenLayer a = memkv::FrozenLayer::build(contents(0));
  const memkv::FrozenLayer b = memkv::FrozenLayer::build(contents(1));
  REQUIRE(copy(a.bytes()) != copy(b.bytes()));
  a.save(path);
  const auto [na, nb] = kill_during_saves(
      path, [&](int i) { (i % 2 ? b : a).save(path); },
      [&] { return copy(memkv::FrozenLayer::open(path).bytes()); }, copy(a.bytes()), copy(b.bytes()), 21);
  CHECK(na + nb == kKills);
  fs::remove_all(path.parent_path());
}

TEST_CASE("FrontCodedIndex::save killed at random moments leaves the old image or the new one", "[crash][front_coded_index][file]") {
  const fs::path path = crash_dir() / "index.fci";
  const auto a = memkv::FrontCodedIndex<>::build(contents(0));
  const auto b = memkv::FrontCodedIndex<>::build(contents(1));
  REQUIRE(copy(a.bytes()) != copy(b.bytes()));
  a.save(path);
  const auto [na, nb] = kill_during_saves(
      path, [&](int i) { (i % 2 ? b : a).save(path); },
      [&] { return copy(memkv::FrontCodedIndex<>::open(path).bytes()); }, copy(a.bytes()),
      copy(b.bytes()), 22);
  CHECK(na + nb == kKills);
  fs::remove_all(path.parent_path());
}

TEST_CASE("FrozenLayerBuilder(path) killed mid-build leaves the old image or the new one", "[crash][frozen_layer][file]") {
  const fs::path path = crash_dir() / "streamed.fst";
  const auto ca = contents(0), cb = contents(1);
  const memkv::FrozenLayer a = memkv::FrozenLayer::build(ca);
  const memkv::FrozenLayer b = memkv::FrozenLayer::build(cb);
  a.save(path);
  const auto [na, nb] = kill_during_saves(
      path,
      [&](int i) {
        memkv::FrozenLayerBuilder builder(path);
        for (const auto& kv : i % 2 ? cb : ca) builder.insert(kv.first, kv.second);
        builder.finish();
      },
      [&] { return copy(memkv::FrozenLayer::open(path).bytes()); }, copy(a.bytes()), copy(b.bytes()), 23);
  CHECK(na + nb == kKills);
  fs::remove_all(path.parent_path());
}
