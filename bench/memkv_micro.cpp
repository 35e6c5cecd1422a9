// memkv-micro: Google Benchmark micro-benchmarks of every structure in compare_registry.hpp, for a
// developer chasing a regression (the comparison table is memkv-compare's job).
//
// Per structure and key set: insert (or build, for static structures) of all keys (and, for maps
// with insert_many, the same inserts 1,024 to a call), hit lookup,
// miss lookup, full iteration, prefix scans. Key sets, generated (no download), N keys each
// (MEMKV_MICRO_N, default 100000):
//   words-16   short keys, ~16 bytes, syllable alphabet with shared prefixes
//   urls       synthetic-urls (~44 bytes)
//   words-128  long keys, ~128 bytes
// Benchmark names: <op>/<structure id>/<key set>, e.g. `--benchmark_filter='lookup_hit/fast-art/.*'`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "compare_registry.hpp"
#include "datasets.hpp"

namespace memkv_bench {
namespace {

struct KeySet {
  Dataset data, miss;
  std::vector<std::uint32_t> insert_order, lookup_order;
  std::vector<std::string_view> sorted_keys;
  std::vector<std::uint64_t> sorted_ranks;
  std::vector<std::string> prefixes;  // the first half of random keys
};

std::unique_ptr<KeySet> make_key_set(Dataset d) {
  auto ks = std::make_unique<KeySet>();
  ks->data = std::move(d);
  ks->miss = make_absent_keys(ks->data);
  const std::size_t n = ks->data.size();
  ks->insert_order = shuffled_positions(n, 11);
  ks->lookup_order = shuffled_positions(n, 12);
  ks->sorted_keys = ks->data.keys;
  std::sort(ks->sorted_keys.begin(), ks->sorted_keys.end());
  ks->sorted_ranks.resize(n);
  for (std::size_t i = 0; i < n; ++i) ks->sorted_ranks[i] = i;
  Rng rng(13);
  for (int i = 0; i < 1024; ++i) {
    const std::string_view k = ks->data.keys[rng.below(n)];
    ks->prefixes.emplace_back(k.substr(0, k.size() / 2));
  }
  return ks;
}

const std::vector<std::unique_ptr<KeySet>>& key_sets() {
  static const std::vector<std::unique_ptr<KeySet>> sets = [] {
    std::size_t n = 100000;
    if (const char* env = std::getenv("MEMKV_MICRO_N")) n = std::strtoull(env, nullptr, 10);
    std::vector<std::unique_ptr<KeySet>> v;
    v.push_back(make_key_set(generate_words(n, 16)));
    Dataset urls = generate_synthetic_urls(n);
    urls.name = "urls";
    v.push_back(make_key_set(std::move(urls)));
    v.push_back(make_key_set(generate_words(n, 128)));
    return v;
  }();
  return sets;
}

template <class A>
std::unique_ptr<A> build(const KeySet& ks) {
  auto a = std::make_unique<A>();
  if constexpr (A::kind == Kind::mutable_map) {
    for (std::uint32_t i : ks.insert_order) a->insert(ks.data.keys[i], i);
    if constexpr (requires(A& x) { x.finish_inserts(); }) a->finish_inserts();
  } else {
    a->build(std::span<const std::string_view>(ks.sorted_keys), std::span<const std::uint64_t>(ks.sorted_ranks));
  }
  return a;
}

struct MicroRegistry {
  template <class A>
  void add() {
    for (const auto& set : key_sets()) {
      const KeySet* ks = set.get();
      std::string suffix = "/";
      suffix.append(A::id).append("/").append(ks->data.name);
      const double n = static_cast<double>(ks->data.size());
      // (names built with append: GCC 12 warns falsely on `"literal" + std::string&&`, PR105329)
      auto bench_name = [&](std::string_view op) { return std::string(op).append(suffix); };
      benchmark::RegisterBenchmark(bench_name(A::kind == Kind::mutable_map ? "insert" : "build").c_str(), [ks, n](benchmark::State& st) {
        for (auto _ : st) {
          auto a = build<A>(*ks);
          benchmark::DoNotOptimize(a.get());
          st.PauseTiming();
          a.reset();
          st.ResumeTiming();
        }
        st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n));
      })->Unit(benchmark::kMillisecond);
      if constexpr (requires(A& a, std::span<const std::string_view> k, std::span<const std::uint64_t> v) {
                      a.insert_many(k, v);
                    }) {
        // insert's keys, order and values, 1024 to a call.
        benchmark::RegisterBenchmark(bench_name("insert_many").c_str(), [ks, n](benchmark::State& st) {
          std::vector<std::string_view> keys;
          std::vector<std::uint64_t> values;
          for (std::uint32_t i : ks->insert_order) {
            keys.push_back(ks->data.keys[i]);
            values.push_back(i);
          }
          constexpr std::size_t batch = 1024;
          for (auto _ : st) {
            auto a = std::make_unique<A>();
            for (std::size_t i = 0; i < keys.size(); i += batch) {
              const std::size_t len = std::min(batch, keys.size() - i);
              a->insert_many(std::span<const std::string_view>(keys).subspan(i, len),
                             std::span<const std::uint64_t>(values).subspan(i, len));
            }
            if constexpr (requires(A& x) { x.finish_inserts(); }) a->finish_inserts();
            benchmark::DoNotOptimize(a.get());
            st.PauseTiming();
            std::uint64_t v = 0;
            if (!a->lookup(keys.back(), v) || v != values.back()) st.SkipWithError("insert_many lost a key");
            a.reset();
            st.ResumeTiming();
          }
          st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n));
        })->Unit(benchmark::kMillisecond);
      }
      benchmark::RegisterBenchmark(bench_name("lookup_hit").c_str(), [ks](benchmark::State& st) {
        auto a = build<A>(*ks);
        const auto& keys = ks->data.keys;
        const auto& order = ks->lookup_order;
        std::size_t i = 0;
        for (auto _ : st) {
          std::uint64_t v = 0;
          bool found = a->lookup(keys[order[i]], v);
          benchmark::DoNotOptimize(found);
          benchmark::DoNotOptimize(v);
          if (++i == order.size()) i = 0;
        }
        st.SetItemsProcessed(st.iterations());
      });
      if constexpr (requires(const A& a, std::span<const std::string_view> k,
                             std::span<std::optional<std::uint64_t>> o) { a.lookup_many(k, o); }) {
        // The keys of lookup_hit, in the same order, 1024 to a call.
        benchmark::RegisterBenchmark(bench_name("lookup_hit_many").c_str(), [ks](benchmark::State& st) {
          auto a = build<A>(*ks);
          std::vector<std::string_view> keys;
          for (std::uint32_t i : ks->lookup_order) keys.push_back(ks->data.keys[i]);
          constexpr std::size_t batch = 1024;
          std::vector<std::optional<std::uint64_t>> out(batch);
          std::size_t i = 0, found = 0, looked_up = 0;
          for (auto _ : st) {
            const std::size_t len = std::min(batch, keys.size() - i);
            a->lookup_many(std::span<const std::string_view>(keys).subspan(i, len),
                           std::span<std::optional<std::uint64_t>>(out).first(len));
            for (std::size_t j = 0; j < len; ++j) found += out[j].has_value();
            benchmark::DoNotOptimize(out.data());
            looked_up += len;
            i += len;
            if (i == keys.size()) i = 0;
          }
          if (found != looked_up) st.SkipWithError("lookup_many missed a key it should find");
          st.SetItemsProcessed(static_cast<std::int64_t>(looked_up));
        });
      }
      benchmark::RegisterBenchmark(bench_name("lookup_miss").c_str(), [ks](benchmark::State& st) {
        auto a = build<A>(*ks);
        const auto& miss = ks->miss.keys;
        std::size_t i = 0;
        for (auto _ : st) {
          std::uint64_t v = 0;
          bool found = a->lookup(miss[i], v);
          benchmark::DoNotOptimize(found);
          if (++i == miss.size()) i = 0;
        }
        st.SetItemsProcessed(st.iterations());
      });
      if constexpr (requires(const A& a) { a.for_each([](std::string_view, std::uint64_t) {}); }) {
        benchmark::RegisterBenchmark(bench_name("iterate").c_str(), [ks, n](benchmark::State& st) {
          auto a = build<A>(*ks);
          for (auto _ : st) {
            std::uint64_t sum = 0;
            a->for_each([&](std::string_view k, std::uint64_t v) { sum += v + k.size(); });
            benchmark::DoNotOptimize(sum);
          }
          st.SetItemsProcessed(static_cast<std::int64_t>(st.iterations() * n));
        })->Unit(benchmark::kMillisecond);
      }
      if constexpr (requires(const A& a) { a.prefix_count(std::string_view()); }) {
        benchmark::RegisterBenchmark(bench_name("prefix_scan").c_str(), [ks](benchmark::State& st) {
          auto a = build<A>(*ks);
          std::size_t i = 0, entries = 0;
          for (auto _ : st) {
            const std::size_t c = a->prefix_count(ks->prefixes[i]);
            entries += c;
            benchmark::DoNotOptimize(c);
            if (++i == ks->prefixes.size()) i = 0;
          }
          st.SetItemsProcessed(st.iterations());
          st.counters["entries/scan"] = static_cast<double>(entries) / static_cast<double>(st.iterations());
        });
      }
    }
  }
  void skip(const std::string& name, const std::string& why) {
    std::fprintf(stderr, "note: %s skipped: %s\n", name.c_str(), why.c_str());
  }
};

}  // namespace
}  // namespace memkv_bench

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  memkv_bench::MicroRegistry registry;
  memkv_bench::register_structures(registry);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
