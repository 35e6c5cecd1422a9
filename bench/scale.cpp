// bench/scale.cpp - how memkv's costs grow with n: every structure at a small and a large n of
// synthetic-urls keys (bench/datasets.hpp), one structure per forked child, memory and throughput
// as CONTRACT.md measures them, and the per-key slopes between the two sizes extrapolated to a
// billion keys. Not part of CI (minutes to tens of minutes, gigabytes).
//
// Build and run (from the repository root):
//   mkdir -p build-bench && g++ -std=c++20 -O3 -march=native -DNDEBUG -Iinclude bench/scale.cpp \
//     -o build-bench/memkv-scale
//   build-bench/memkv-scale --counts 1000000,20000000 > bench/results/scale-$(date +%F).md
// Options: --counts A,B,...  dataset sizes (default 1000000,10000000); the slopes use the first and
//          the last; --only NAME,...  structures to run (std::map FastArt ArenaArt HotArt
//          FrontCodedIndex FrozenLayer HybridStore FrontCodedHybridStore); --skip-std-map-above N
//          (default 20000000);
//          --lookups N (hits and misses measured per structure, default 2000000).
//
// Per structure and n, in its own process (the dataset, its sorted order and both shuffles are
// prepared in the parent first, shared copy-on-write):
//   build     mutable maps and the HybridStores: insert every key once in a shuffled order (value
//             = the key's position in the dataset); a HybridStore then merge()s, inside the timing.
//             FrontCodedIndex: builder over the sorted keys (value = position, 8 bytes each).
//             FrozenLayer: builder over the sorted keys with value = rank (its rank mode: no value
//             bits; HybridStore uses the same layout).
//   memory    growth from just before the build to just after it: memory_usage() (mu), glibc
//             mallinfo2() uordblks+hblkhd (alloc), RSS (/proc/self/statm), and the peak RSS
//             growth during the build (VmHWM: what the build needed at its worst)
//   hit       find()/get() of every key in another shuffled order, value checked (correct %);
//             at most --lookups of them (default 2,000,000: a rate needs no more, and at 10^8 keys
//             a full pass would take longer than the build)
//   miss      as many absent keys: each key with "\x01" appended (URLs hold no \x01), built in a
//             reused buffer (the copy is inside the timing: ~10 ns of each miss figure)
//   Times are CPU seconds of the child (clock_gettime(CLOCK_PROCESS_CPUTIME_ID)), not wall time:
//   on a shared machine wall time mostly measures the other jobs.
#include <fcntl.h>
#include <malloc.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include <memkv/memkv.hpp>

#include "datasets.hpp"

namespace {

using memkv_bench::Dataset;

// Timings are the process's CPU time, not wall time: on a shared machine the wall clock mostly
// measures the other jobs. Every measured phase is single-threaded.
struct Clock {
  using time_point = double;
  static double now() {
    timespec ts{};
    ::clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
  }
};

double seconds_since(double t0) { return Clock::now() - t0; }

struct Mem {
  double alloc = 0, rss = 0;
};

double read_status_kb(const char* field) {
  char buf[4096] = {};
  const int fd = ::open("/proc/self/status", O_RDONLY);
  if (fd < 0) return 0;
  const ssize_t got = ::read(fd, buf, sizeof buf - 1);
  ::close(fd);
  if (got <= 0) return 0;
  const char* p = std::strstr(buf, field);
  if (p == nullptr) return 0;
  return std::strtod(p + std::strlen(field), nullptr);
}

Mem snapshot() {
  Mem m;
  const struct mallinfo2 mi = mallinfo2();
  m.alloc = static_cast<double>(mi.uordblks + mi.hblkhd + memkv::huge_page_bytes_mapped());
  m.rss = read_status_kb("VmRSS:") * 1024.0;
  return m;
}

// Sets the peak RSS (VmHWM) to the current RSS, so the next VmHWM is this phase's peak.
void reset_peak() {
  const int fd = ::open("/proc/self/clear_refs", O_WRONLY);
  if (fd < 0) return;
  (void)!::write(fd, "5", 1);
  ::close(fd);
}

struct Row {
  char name[32] = {};
  char note[160] = {};
  int ok = 0;
  double n = 0, raw = 0, lookups = 0;
  double mu = -1, alloc = 0, rss = 0, peak = 0, image = -1;
  double build_s = 0, hit_s = 0, miss_s = 0;
  double correct = 0, false_hits = 0;
};

struct Prepared {
  const Dataset* d = nullptr;
  std::vector<std::uint32_t> sorted;        // positions in key order
  std::vector<std::uint32_t> rank_of;       // position -> rank
  std::vector<std::uint32_t> insert_order;  // shuffled positions
  std::vector<std::uint32_t> lookup_order;  // another shuffle, cut to --lookups entries
};

// Lookups: `find(key)` returns a pointer-like or optional-like result; `want(pos)` its value.
template <class Find, class Want>
void measure_lookups(const Prepared& p, Row& r, Find&& find, Want&& want) {
  const auto& keys = p.d->keys;
  std::size_t correct = 0;
  auto t0 = Clock::now();
  for (std::uint32_t pos : p.lookup_order) {
    const auto got = find(keys[pos]);
    if (got && *got == want(pos)) ++correct;
  }
  r.hit_s = seconds_since(t0);
  r.correct = 100.0 * static_cast<double>(correct) / static_cast<double>(p.lookup_order.size());
  std::string miss;
  std::size_t false_hits = 0;
  t0 = Clock::now();
  for (std::uint32_t pos : p.lookup_order) {
    miss.assign(keys[pos]);
    miss += '\x01';
    if (find(std::string_view(miss))) ++false_hits;
  }
  r.miss_s = seconds_since(t0);
  r.false_hits = static_cast<double>(false_hits);
}

template <class M>
void run_mutable(const Prepared& p, Row& r) {
  const auto& keys = p.d->keys;
  reset_peak();
  const Mem before = snapshot();
  auto t0 = Clock::now();
  auto* m = new M();
  for (std::uint32_t pos : p.insert_order) m->insert(keys[pos], pos);
  if constexpr (requires { m->merge(); }) m->merge();
  r.build_s = seconds_since(t0);
  const Mem after = snapshot();
  r.peak = read_status_kb("VmHWM:") * 1024.0 - before.rss;
  r.alloc = after.alloc - before.alloc;
  r.rss = after.rss - before.rss;
  if constexpr (requires { m->memory_usage(); }) r.mu = static_cast<double>(m->memory_usage());
  if (m->size() != keys.size()) std::snprintf(r.note, sizeof r.note, "size() %zu", m->size());
  measure_lookups(
      p, r, [&](std::string_view k) -> const std::uint64_t* {
        if constexpr (requires { m->find(k); }) {
          return m->find(k);
        } else {
          auto it = m->find(std::string(k));
          return it == m->end() ? nullptr : &it->second;
        }
      },
      [](std::uint32_t pos) { return std::uint64_t{pos}; });
  // The map is left to process exit: destroying 100M nodes measures nothing we report.
}

void run_std_map(const Prepared& p, Row& r) {
  const auto& keys = p.d->keys;
  reset_peak();
  const Mem before = snapshot();
  auto t0 = Clock::now();
  auto* m = new std::map<std::string, std::uint64_t, std::less<>>();
  for (std::uint32_t pos : p.insert_order) m->emplace(keys[pos], pos);
  r.build_s = seconds_since(t0);
  const Mem after = snapshot();
  r.peak = read_status_kb("VmHWM:") * 1024.0 - before.rss;
  r.alloc = after.alloc - before.alloc;
  r.rss = after.rss - before.rss;
  measure_lookups(
      p, r, [&](std::string_view k) -> const std::uint64_t* {
        auto it = m->find(k);
        return it == m->end() ? nullptr : &it->second;
      },
      [](std::uint32_t pos) { return std::uint64_t{pos}; });
}

void run_fci(const Prepared& p, Row& r) {
  const auto& keys = p.d->keys;
  reset_peak();
  const Mem before = snapshot();
  auto t0 = Clock::now();
  auto* f = [&] {
    memkv::FrontCodedIndex<>::builder b;
    for (std::uint32_t pos : p.sorted) b.insert(keys[pos], std::uint64_t{pos});
    return new memkv::FrontCodedIndex<>(b.finish());
  }();
  r.build_s = seconds_since(t0);
  const Mem after = snapshot();
  r.peak = read_status_kb("VmHWM:") * 1024.0 - before.rss;
  r.alloc = after.alloc - before.alloc;
  r.rss = after.rss - before.rss;
  r.mu = static_cast<double>(f->memory_usage());
  r.image = static_cast<double>(f->bytes().size());
  measure_lookups(
      p, r, [&](std::string_view k) { return f->get(k); },
      [](std::uint32_t pos) { return std::uint64_t{pos}; });
}

void run_fst(const Prepared& p, Row& r) {
  const auto& keys = p.d->keys;
  reset_peak();
  const Mem before = snapshot();
  auto t0 = Clock::now();
  auto* f = [&] {
    memkv::FrozenLayerBuilder b;
    std::uint64_t rank = 0;
    for (std::uint32_t pos : p.sorted) b.insert(keys[pos], rank++);
    return new memkv::FrozenLayer(b.finish());
  }();
  r.build_s = seconds_since(t0);
  const Mem after = snapshot();
  r.peak = read_status_kb("VmHWM:") * 1024.0 - before.rss;
  r.alloc = after.alloc - before.alloc;
  r.rss = after.rss - before.rss;
  r.mu = static_cast<double>(f->memory_usage());
  r.image = static_cast<double>(f->bytes().size());
  measure_lookups(
      p, r, [&](std::string_view k) { return f->get(k); },
      [&](std::uint32_t pos) { return std::uint64_t{p.rank_of[pos]}; });
}

const char* const kAll[] = {"std::map",        "FastArt",     "ArenaArt",   "HotArt",
                            "FrontCodedIndex", "FrozenLayer", "HybridStore", "FrontCodedHybridStore"};

void run_one(const std::string& name, const Prepared& p, Row& r) {
  if (name == "std::map") run_std_map(p, r);
  else if (name == "FastArt") run_mutable<memkv::FastArt<>>(p, r);
  else if (name == "ArenaArt") run_mutable<memkv::ArenaArt<>>(p, r);
  else if (name == "HotArt") run_mutable<memkv::HotArt<>>(p, r);
  else if (name == "FrontCodedIndex") run_fci(p, r);
  else if (name == "FrozenLayer") run_fst(p, r);
  else if (name == "HybridStore") run_mutable<memkv::HybridStore<>>(p, r);
  else if (name == "FrontCodedHybridStore") run_mutable<memkv::FrontCodedHybridStore<>>(p, r);
}

Row run_in_child(const std::string& name, const Prepared& p) {
  Row r;
  std::snprintf(r.name, sizeof r.name, "%s", name.c_str());
  r.n = static_cast<double>(p.d->size());
  r.raw = static_cast<double>(p.d->raw_bytes);
  r.lookups = static_cast<double>(p.lookup_order.size());
  int fds[2];
  if (::pipe(fds) != 0) {
    std::snprintf(r.note, sizeof r.note, "pipe() failed");
    return r;
  }
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    try {
      run_one(name, p, r);
      r.ok = 1;
    } catch (const std::exception& e) {
      std::snprintf(r.note, sizeof r.note, "exception: %s", e.what());
    }
    (void)!::write(fds[1], &r, sizeof r);
    ::_exit(0);
  }
  ::close(fds[1]);
  Row got;
  const ssize_t n = pid > 0 ? ::read(fds[0], &got, sizeof got) : -1;
  ::close(fds[0]);
  int status = 0;
  if (pid > 0) ::waitpid(pid, &status, 0);
  if (n == static_cast<ssize_t>(sizeof got)) return got;
  std::snprintf(r.note, sizeof r.note, "child died (status %d; out of memory?)", status);
  return r;
}

double mb(double b) { return b / 1e6; }

void print_row(const Row& r) {
  const double n = r.n;
  auto per = [&](double b) { return b / n; };
  char mu[32] = "-", image[32] = "-", mukey[32] = "-";
  if (r.mu >= 0) {
    std::snprintf(mu, sizeof mu, "%.1f", mb(r.mu));
    std::snprintf(mukey, sizeof mukey, "%.1f", per(r.mu - r.raw));
  }
  if (r.image >= 0) std::snprintf(image, sizeof image, "%.1f", mb(r.image));
  std::printf("| %s | %.0f | %s | %.1f | %.1f | %.1f | %s | %s | %.1f | %.1f | %.2f | %.2f | %.2f | "
              "%.2f%% | %s |\n",
              r.name, n, mu, mb(r.alloc), mb(r.rss), mb(r.peak), image, mukey,
              per(r.alloc - r.raw), per(r.rss - r.raw), n / r.build_s / 1e6, r.lookups / r.hit_s / 1e6,
              r.lookups / r.miss_s / 1e6, r.correct, r.ok ? r.note : (r.note[0] ? r.note : "failed"));
  std::fflush(stdout);
}

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos <= s.size()) {
    std::size_t c = s.find(',', pos);
    if (c == std::string::npos) c = s.size();
    if (c > pos) out.push_back(s.substr(pos, c - pos));
    pos = c + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::size_t> counts = {1000000, 10000000};
  std::vector<std::string> only(std::begin(kAll), std::end(kAll));
  std::size_t std_map_max = 20000000;
  std::size_t lookups = 2000000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--counts") {
      counts.clear();
      for (auto& c : split(v)) counts.push_back(std::stoull(c));
    } else if (a == "--only") {
      only = split(v);
    } else if (a == "--lookups") {
      lookups = std::stoull(v);
    } else if (a == "--skip-std-map-above") {
      std_map_max = std::stoull(v);
    } else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  char host[256] = {};
  ::gethostname(host, sizeof host - 1);
  std::printf("# memkv scale: synthetic-urls at n = ");
  for (std::size_t i = 0; i < counts.size(); ++i) std::printf("%s%zu", i ? ", " : "", counts[i]);
  std::printf("\n\nhost %s, %ld cores online, load shared with other jobs (timings drift: compare "
              "rows of one run). MB = 10^6 bytes. Built with g++ -O3 -march=native -DNDEBUG.\n\n",
              host, sysconf(_SC_NPROCESSORS_ONLN));
  std::printf("Columns: **mu** = memory_usage(); **alloc** = mallinfo2() growth + memkv's huge-page regions; **RSS** = resident "
              "growth; **peak** = peak RSS growth during the build; **ovh/key** = (memory - raw) / n "
              "with the 8-byte values inside (mu, alloc, RSS); throughput in million keys per CPU-second.\n");

  std::map<std::string, std::vector<Row>> results;  // structure -> one row per count
  for (std::size_t n : counts) {
    auto t0 = Clock::now();
    const Dataset d = memkv_bench::generate_synthetic_urls(n);
    Prepared p;
    p.d = &d;
    p.sorted.resize(n);
    for (std::size_t i = 0; i < n; ++i) p.sorted[i] = static_cast<std::uint32_t>(i);
    std::sort(p.sorted.begin(), p.sorted.end(),
              [&](std::uint32_t a, std::uint32_t b) { return d.keys[a] < d.keys[b]; });
    p.rank_of.resize(n);
    for (std::size_t i = 0; i < n; ++i) p.rank_of[p.sorted[i]] = static_cast<std::uint32_t>(i);
    p.insert_order = memkv_bench::shuffled_positions(n, 1);
    p.lookup_order = memkv_bench::shuffled_positions(n, 2);
    if (p.lookup_order.size() > lookups) p.lookup_order.resize(lookups);
    ::malloc_trim(0);  // give the generator's freed memory back, so children's RSS growth is real
    std::printf("\n## n = %zu (raw %.1f MB, %.1f bytes/key; dataset prepared in %.0f CPU s)\n\n", n,
                mb(static_cast<double>(d.raw_bytes)), static_cast<double>(d.raw_bytes) / n,
                seconds_since(t0));
    std::printf("| structure | n | mu MB | alloc MB | RSS MB | peak MB | image MB | ovh/key mu | "
                "ovh/key alloc | ovh/key RSS | build M/s | hit M/s | miss M/s | correct | note |\n");
    std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|\n");
    std::fflush(stdout);
    for (const std::string& name : only) {
      if (name == "std::map" && n > std_map_max) continue;
      const Row r = run_in_child(name, p);
      print_row(r);
      results[name].push_back(r);
    }
  }

  if (counts.size() >= 2) {
    std::printf("\n## Slopes from n = %zu to n = %zu, extrapolated to 10^9 keys\n\n", counts.front(),
                counts.back());
    std::printf("Marginal bytes per added key (RSS and mu, raw key bytes included), the ratio of the "
                "large-n to the small-n throughput, and the memory 10^9 such keys would need: "
                "large-n figure + slope * (10^9 - n), in GB (10^9 bytes), not counting the keys' "
                "source. Peak = peak build RSS scaled by the same slope.\n\n");
    std::printf("| structure | slope RSS B/key | slope mu B/key | build ratio | hit ratio | miss "
                "ratio | 10^9 keys RSS GB | 10^9 keys mu GB | 10^9 keys peak GB |\n");
    std::printf("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (const char* name : kAll) {
      auto it = results.find(name);
      if (it == results.end() || it->second.size() < 2) continue;
      const Row& a = it->second.front();
      const Row& b = it->second.back();
      if (!a.ok || !b.ok || b.n <= a.n) continue;
      const double dn = b.n - a.n;
      const double s_rss = (b.rss - a.rss) / dn;
      const double s_mu = a.mu >= 0 ? (b.mu - a.mu) / dn : NAN;
      const double s_peak = (b.peak - a.peak) / dn;
      const double big = 1e9;
      std::printf("| %s | %.1f | %.1f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f |\n", name, s_rss, s_mu,
                  (b.n / b.build_s) / (a.n / a.build_s), (b.lookups / b.hit_s) / (a.lookups / a.hit_s),
                  (b.lookups / b.miss_s) / (a.lookups / a.miss_s), (b.rss + s_rss * (big - b.n)) / 1e9,
                  a.mu >= 0 ? (b.mu + s_mu * (big - b.n)) / 1e9 : NAN,
                  (b.peak + s_peak * (big - b.n)) / 1e9);
    }
  }
  return 0;
}
