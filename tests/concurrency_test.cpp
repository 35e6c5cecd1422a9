// tests/concurrency_test.cpp - CONTRACT: "const member functions may be called from many threads
// at once". Several std::threads read every structure at the same time (get/find/contains,
// iteration, lower_bound, prefix, range), while nothing mutates, and check every answer against
// std::map. Built with -fsanitize=thread by .ci/tsan.sh, which makes any data race inside a const
// path (a lazily filled cache, a shared scratch buffer, a mutable counter) a failure; in the
// ordinary test binary it still checks the answers under contention.
//
// The structures: FastArt, ArenaArt, HotArt (uint64 and std::string values), HybridStore (a base,
// a delta, tombstones and in-place assignments all at once; and one opened from a file),
// FrontCodedIndex and FrozenLayer (built in memory, and opened from files by mmap).
// Threads: MEMKV_TEST_THREADS (default 4). Keys per structure: 3000 nasty keys (2000 with
// std::string values); in the first test 1500 (1000) under a sanitizer, see kSharedKeys.
#include <catch2/catch.hpp>

#include <memkv/memkv.hpp>

#include <atomic>
#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <unistd.h>

#include "differential.hpp"

namespace {

using U64Map = std::map<std::string, std::uint64_t>;
using StrMap = std::map<std::string, std::string>;

std::filesystem::path temp_file(const std::string& name) {
  return std::filesystem::temp_directory_path() /
         ("memkv_concurrency_" + std::to_string(::getpid()) + "_" + name);
}

// One reader's work on structure s: the shared static-structure checks (lookups of every key and
// its neighbours, random probes, lower_bound, prefix and range scans, full iteration) with a
// per-thread seed, then, for maps with a const find(), find() of every key. Under a sanitizer
// (ASan: Debug, 10-20x slower; the ThreadSanitizer stage) each read samples half as many keys
// (500 with their neighbours), random probes (150) and bounded scans (20 prefix and 20 range
// scans after the 20 unbounded ones of each), so that the threads still run every job as often
// and in the same orders.
template <class S, class Ref>
void read_all(const S& s, const Ref& ref, std::uint64_t seed) {
  memkv_test::StaticCheckOptions opt;
  opt.seed = seed;
  opt.max_keys = memkv_test::kSanitized ? 500 : 1000;
  opt.random_probes = memkv_test::kSanitized ? 150 : 300;
  opt.scans = memkv_test::kSanitized ? 40 : 60;
  opt.scan_limit = 32;
  memkv_test::check_static_against(s, ref, opt);
  if constexpr (requires { s.find(std::string_view()); }) {
    for (const auto& [k, v] : ref) {
      const auto* p = s.find(k);
      if (p == nullptr || !(*p == v)) memkv_test::fail("find() of " + memkv_test::show(k));
    }
  }
  std::size_t n = 0;
  for (auto e : s) {
    (void)e;
    ++n;
  }
  if (n != ref.size()) memkv_test::fail("iteration count");
}

struct Job {
  std::string name;
  std::function<void(std::uint64_t)> read;
};

// Runs every job from `threads` threads at once, each thread in its own order, `rounds` times.
void run_concurrently(const std::vector<Job>& jobs, std::size_t threads, std::size_t rounds) {
  std::mutex mu;
  std::vector<std::string> errors;
  std::atomic<std::size_t> ready{0};
  std::vector<std::thread> pool;
  for (std::size_t t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      ready.fetch_add(1);
      while (ready.load() < threads) std::this_thread::yield();  // start together
      for (std::size_t r = 0; r < rounds; ++r) {
        for (std::size_t j = 0; j < jobs.size(); ++j) {
          const Job& job = jobs[(j + t * 3 + r) % jobs.size()];
          try {
            job.read(1000 * t + 17 * r + j);
          } catch (const std::exception& e) {
            std::lock_guard<std::mutex> lock(mu);
            errors.push_back(job.name + " (thread " + std::to_string(t) + "): " + e.what());
          }
        }
      }
    });
  }
  for (auto& th : pool) th.join();
  for (const auto& e : errors) FAIL_CHECK(e);
  CHECK(errors.empty());
}

std::size_t thread_count() {
  return static_cast<std::size_t>(memkv_test::env_u64("MEMKV_TEST_THREADS", 4));
}

}  // namespace

// Keys of the first test's maps. Every reader checks every structure against its std::map
// (lookups, neighbours, scans, full iterations), 11 structures x 2 rounds per thread: under a
// sanitizer (ASan: Debug, 10-20x slower; the ThreadSanitizer stage) half as many keys, the same
// threads, rounds, orders and checks.
constexpr std::size_t kSharedKeys = memkv_test::kSanitized ? 1500 : 3000;

TEST_CASE("every const structure answers correctly from many threads at once", "[concurrency]") {
  const U64Map ref = memkv_test::nasty_map<std::uint64_t>(41, kSharedKeys);
  const StrMap sref = memkv_test::nasty_map<std::string>(42, kSharedKeys * 2 / 3);

  memkv::FastArt<> fast;
  memkv::ArenaArt<> arena;
  memkv::HotArt<> hot;
  memkv::FastArt<std::string> fast_s;
  memkv::HotArt<std::string> hot_s;
  for (const auto& [k, v] : ref) {
    fast.insert(k, v);
    arena.insert(k, v);
    hot.insert(k, v);
  }
  for (const auto& [k, v] : sref) {
    fast_s.insert(k, v);
    hot_s.insert(k, v);
  }

  // HybridStore with everything at once: half the keys in the base, a tenth of them erased
  // (tombstones), some base values assigned in place, the other half in the delta.
  memkv::hybrid_options ho;
  ho.auto_merge = false;
  memkv::HybridStore<> hybrid(ho);
  U64Map href;
  {
    std::size_t i = 0;
    for (const auto& [k, v] : ref) {
      if (i++ % 2 == 0) {
        hybrid.insert(k, v);
        href.emplace(k, v);
      }
    }
    hybrid.merge();
    i = 0;
    for (const auto& [k, v] : ref) {
      if (i % 2 == 1) {
        hybrid.insert(k, v);
        href.emplace(k, v);
      } else if (i % 10 == 0) {
        hybrid.erase(k);
        href.erase(k);
      } else if (i % 10 == 2) {
        hybrid.insert_or_assign(k, v + 1);
        href[k] = v + 1;
      }
      ++i;
    }
  }
  REQUIRE(hybrid.stats().base_keys > 0);
  REQUIRE(hybrid.stats().delta_tombstones > 0);

  const auto fci = memkv::FrontCodedIndex<>::build(ref);
  const auto fst = memkv::FrozenLayer::build(ref);
  const auto fci_path = temp_file("fci");
  const auto fst_path = temp_file("fst");
  const auto hyb_path = temp_file("hyb");
  fci.save(fci_path);
  fst.save(fst_path);
  {
    memkv::HybridStore<> h = hybrid;
    h.save(hyb_path);
  }
  const auto fci_file = memkv::FrontCodedIndex<>::open(fci_path);
  const auto fst_file = memkv::FrozenLayer::open(fst_path);
  const auto hyb_file = memkv::HybridStore<>::open(hyb_path);

  std::vector<Job> jobs = {
      {"FastArt", [&](std::uint64_t s) { read_all(fast, ref, s); }},
      {"ArenaArt", [&](std::uint64_t s) { read_all(arena, ref, s); }},
      {"HotArt", [&](std::uint64_t s) { read_all(hot, ref, s); }},
      {"FastArt<string>", [&](std::uint64_t s) { read_all(fast_s, sref, s); }},
      {"HotArt<string>", [&](std::uint64_t s) { read_all(hot_s, sref, s); }},
      {"HybridStore", [&](std::uint64_t s) { read_all(hybrid, href, s); }},
      {"HybridStore (opened)", [&](std::uint64_t s) { read_all(hyb_file, href, s); }},
      {"FrontCodedIndex", [&](std::uint64_t s) { read_all(fci, ref, s); }},
      {"FrontCodedIndex (opened)", [&](std::uint64_t s) { read_all(fci_file, ref, s); }},
      {"FrozenLayer", [&](std::uint64_t s) { read_all(fst, ref, s); }},
      {"FrozenLayer (opened)", [&](std::uint64_t s) { read_all(fst_file, ref, s); }},
  };
  run_concurrently(jobs, thread_count(), 2);

  std::filesystem::remove(fci_path);
  std::filesystem::remove(fst_path);
  std::filesystem::remove(hyb_path);
}

TEST_CASE("many threads read one structure at once", "[concurrency]") {
  // All threads on the same structure at the same moment: the most contention on any shared
  // state of a single object.
  const U64Map ref = memkv_test::nasty_map<std::uint64_t>(43, 2000);
  memkv::FastArt<> fast;
  memkv::HotArt<> hot;
  memkv::ArenaArt<> arena;
  memkv::HybridStore<> hybrid;
  for (const auto& [k, v] : ref) {
    fast.insert(k, v);
    hot.insert(k, v);
    arena.insert(k, v);
    hybrid.insert(k, v);
  }
  const auto fci = memkv::FrontCodedIndex<>::build(ref);
  const auto fst = memkv::FrozenLayer::build(ref);
  const std::size_t threads = thread_count();
  run_concurrently({{"FastArt", [&](std::uint64_t s) { read_all(fast, ref, s); }}}, threads, 1);
  run_concurrently({{"ArenaArt", [&](std::uint64_t s) { read_all(arena, ref, s); }}}, threads, 1);
  run_concurrently({{"HotArt", [&](std::uint64_t s) { read_all(hot, ref, s); }}}, threads, 1);
  run_concurrently({{"HybridStore", [&](std::uint64_t s) { read_all(hybrid, ref, s); }}}, threads, 1);
  run_concurrently({{"FrontCodedIndex", [&](std::uint64_t s) { read_all(fci, ref, s); }}}, threads, 1);
  run_concurrently({{"FrozenLayer", [&](std::uint64_t s) { read_all(fst, ref, s); }}}, threads, 1);
}
