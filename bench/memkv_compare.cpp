// memkv-compare: bytes per key and operations per second of memkv's structures and their peers,
// on one dataset, as a Markdown table (the measurement definitions are ../shared/CONTRACT.md's).
//
//   memkv-compare [--dataset synthetic-urls|npm-urls|npm-names] [--keys FILE] [--count N]
//                 [--seed S] [--structures id,id,...] [--repeat N] [--json FILE] [--csv FILE]
//                 [--plot FILE.svg] [--data-dir DIR] [--self-check] [--list]
//
// How one row is measured: the dataset is loaded into one buffer, the shuffled orders, absent keys,
// sorted keys, ranks and hashes are prepared, then every structure runs in its own forked child:
//   before = (mallinfo2 uordblks+hblkhd + memkv::huge_page_bytes_mapped(), RSS from /proc/self/statm)
//   build  = mutable maps: insert every key once in a shuffled order (seed 1001), value = the key's
//            position in the dataset; static structures: build from the sorted keys, values =
//            rank (row "[rank]") or a 64-bit hash of the key (row "[hash]"); marisa: key ids.
//   after  = the same two figures, plus the structure's memory_usage()
//   lookup = every key once in another shuffled order (seed 2002), value checked
//   (inserts and lookups read their keys from copies laid out in that order: see Context)
//   miss   = as many absent keys (a byte appended/changed/prepended, verified absent)
//   get_many = structures with a batch API (adapter lookup_many): the lookup keys again, same order,
//            in spans of 1,024, answers checked; its own table, next to the single-call figure
//   insert_many = mutable maps with a batch insert (adapter insert_many): after the row, the build
//            again into a fresh map, same keys, order and values, in spans of 1,024 (timed as the
//            build: new map, inserts, finish_inserts), then every key's value checked (untimed);
//            in the batched table, next to the single-call build
// Mutable maps whose adapter can assign and erase get a second, "mixed life" row (id ":life"):
//   load   = the first 80% of the insert order
//   mix    = one shuffled sequence (seed 3003) of n/5 inserts (the other 20% of the keys), n/5
//            overwrites and n/10 erases of then-present keys, and 3n/10 lookups of any key (present,
//            erased or not yet inserted: values checked against the expected state at that point)
//   finish = finish_inserts() (HybridStore: its final merge)
//   all three timed together: Mops/s = operations / CPU seconds; memory after finish, per live key
//   (raw = the live keys' bytes); afterwards every key of the dataset is checked (untimed).
// and writes its row to a pipe. overhead/key = (memory - raw) / n for each of the three memory
// figures; the tables' main column is the allocator's (mallinfo2), which sees every peer.
#include <malloc.h>
#include <sys/wait.h>
#include <fcntl.h>
#include <gnu/libc-version.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <iostream>
#include <numeric>
#include <string>
#include <vector>

#include "compare_registry.hpp"
#include "datasets.hpp"

#ifndef MEMKV_BENCH_DATA_DIR
#define MEMKV_BENCH_DATA_DIR "bench/data"
#endif
#ifndef MEMKV_BENCH_CXX_FLAGS
#define MEMKV_BENCH_CXX_FLAGS "?"
#endif

namespace memkv_bench {
namespace {

using Clock = std::chrono::steady_clock;

std::string format(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
std::string format(const char* fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  return buf;
}

double seconds_since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Phases are timed two ways: wall clock, and the child's CPU time (CLOCK_PROCESS_CPUTIME_ID, user +
// system). The tables use CPU time unless --wall: on a shared machine wall time mostly measures the
// other jobs, while CPU time still counts this process's own cache misses and page faults.
double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
struct Stopwatch {
  Clock::time_point wall = Clock::now();
  double cpu = cpu_seconds();
  void stop(double& cpu_out, double& wall_out) const {
    cpu_out = cpu_seconds() - cpu;
    wall_out = seconds_since(wall);
  }
};
bool g_wall_time = false;  // --wall: throughputs from wall-clock time
bool g_no_huge_pages = false;  // --no-huge-pages: memkv::set_huge_pages(false) before any row

// ---------------------------------------------------------------------------------------------
// Memory figures. RSS is read with open/read into a stack buffer: no allocation disturbs mallinfo.
struct MemSnapshot {
  double alloc = 0;  // mallinfo2 uordblks + hblkhd + memkv's huge-page regions (not malloc's)
  double rss = 0;    // resident pages * page size
};

MemSnapshot snapshot() {
  MemSnapshot s;
  const struct mallinfo2 mi = mallinfo2();
  s.alloc = static_cast<double>(mi.uordblks + mi.hblkhd + memkv::huge_page_bytes_mapped());
  char buf[256] = {};
  const int fd = ::open("/proc/self/statm", O_RDONLY);
  if (fd >= 0) {
    const ssize_t got = ::read(fd, buf, sizeof buf - 1);
    ::close(fd);
    if (got > 0) {
      unsigned long size = 0, resident = 0;
      if (std::sscanf(buf, "%lu %lu", &size, &resident) == 2)
        s.rss = static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE));
    }
  }
  return s;
}

// ---------------------------------------------------------------------------------------------
enum class Variant : int { positions = 0, rank = 1, hash = 2, ids = 3, life = 4 };
const char* variant_label(Variant v) {
  switch (v) {
    case Variant::positions: return "position";
    case Variant::rank: return "rank";
    case Variant::hash: return "hash64";
    case Variant::ids: return "key id";
    case Variant::life: return "mixed life";
  }
  return "?";
}

// One measured row: plain data, sent from the child to the parent through a pipe.
struct RowResult {
  char name[96] = {};
  char id[48] = {};
  char note[256] = {};
  int kind = 0;     // Kind
  int variant = 0;  // Variant
  int ok = 0;       // the child ran to the end
  int invariants_checked = 0;
  double n = 0, raw = 0;
  double mem_usage = -1;  // bytes; < 0: unknown
  double alloc = 0, rss = 0;
  double image = -1;      // bytes; < 0: no image
  double build_s = 0, lookup_s = 0, miss_s = 0;  // CPU seconds of the child
  double build_wall_s = 0, lookup_wall_s = 0, miss_wall_s = 0;
  double found = 0, correct = 0, false_hits = 0;
  double life_ops = 0, live_n = 0, live_raw = 0;  // mixed life rows: operations, live keys at the end
  // get_many (structures that have it): the same lookups in spans of 1,024; < 0: not measured
  double batch_s = -1, batch_wall_s = -1, batch_wrong = 0;
  // insert_many (mutable maps that have it): the build again in spans of 1,024; < 0: not measured
  double ins_batch_s = -1, ins_batch_wall_s = -1, ins_batch_wrong = 0;
};

void set_text(char* dst, std::size_t cap, std::string_view s) {
  const std::size_t len = std::min(cap - 1, s.size());
  std::memcpy(dst, s.data(), len);
  dst[len] = '\0';
}

struct Context {
  const Dataset* data = nullptr;
  const Dataset* miss = nullptr;
  std::vector<std::uint32_t> insert_order, lookup_order;
  // The keys again, laid out one after another in insert order and in lookup order (views into
  // one buffer each), as the absent keys already are: the timed loops then read their keys
  // sequentially, as a caller holding a fresh request would, instead of paying two cache misses
  // of the harness's own (the view array and the key bytes at random places) on every operation.
  Dataset insert_keys, lookup_keys;
  // Mixed life (see the top of this file; prepared only when such a row runs): the load is
  // insert_keys[0, life_load); then life_ops, whose keys are life_keys.keys (same index);
  // life_final = each dataset key's state at the end.
  struct LifeOp {
    std::uint32_t type;   // 0 insert, 1 assign, 2 erase, 3 lookup
    std::uint64_t value;  // insert/assign: the value; lookup: the expected one, or kAbsent
  };
  static constexpr std::uint64_t kAbsent = ~std::uint64_t{0};
  std::size_t life_load = 0;
  std::vector<LifeOp> life_ops;
  Dataset life_keys;
  std::vector<std::uint64_t> life_final;
  double life_live_n = 0, life_live_raw = 0;
  Dataset sorted;                                   // the keys in key order, one buffer
  std::vector<std::string_view> sorted_keys;        // = sorted.keys
  std::vector<std::uint64_t> rank_of, hash_of;           // by dataset position
  std::vector<std::uint64_t> sorted_ranks, sorted_hashes;  // by rank
  bool self_check = false;
};

void progress(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void progress(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stderr, fmt, ap);
  va_end(ap);
  std::fflush(stderr);
}

template <class A, class Expected>
void measure_lookups(const A& a, const Context& c, Expected expected, bool check_values, RowResult& r) {
  const auto& keys = c.lookup_keys.keys;
  const std::size_t n = keys.size();
  std::uint64_t found = 0, correct = 0;
  Stopwatch sw;
  for (std::size_t j = 0; j < n; ++j) {
    const std::uint32_t i = c.lookup_order[j];
    std::uint64_t value = 0;
    if (a.lookup(keys[j], value)) {
      ++found;
      correct += !check_values || value == expected(i);
    }
  }
  sw.stop(r.lookup_s, r.lookup_wall_s);
  progress(" lookup %.2fs", r.lookup_wall_s);
  if constexpr (requires(std::span<const std::string_view> k, std::span<std::optional<std::uint64_t>> o) {
                  a.lookup_many(k, o);
                }) {
    // The same keys in the same order, through get_many in spans of 1,024 (a batch API's use);
    // every answer is checked as above, and a wrong one fails the row.
    constexpr std::size_t span = 1024;
    std::vector<std::optional<std::uint64_t>> out(span);
    const std::span<const std::string_view> all(keys);
    std::uint64_t wrong = 0;
    sw = Stopwatch();
    for (std::size_t j0 = 0; j0 < n; j0 += span) {
      const std::size_t len = std::min(span, n - j0);
      a.lookup_many(all.subspan(j0, len), std::span<std::optional<std::uint64_t>>(out).first(len));
      for (std::size_t j = 0; j < len; ++j)
        wrong += !out[j] || (check_values && *out[j] != expected(c.lookup_order[j0 + j]));
    }
    sw.stop(r.batch_s, r.batch_wall_s);
    r.batch_wrong = static_cast<double>(wrong);
    progress(" get_many %.2fs", r.batch_wall_s);
  }
  std::uint64_t false_hits = 0;
  sw = Stopwatch();
  for (std::string_view k : c.miss->keys) {
    std::uint64_t value = 0;
    false_hits += a.lookup(k, value);
  }
  sw.stop(r.miss_s, r.miss_wall_s);
  progress(" miss %.2fs", r.miss_wall_s);
  r.found = static_cast<double>(found);
  r.correct = static_cast<double>(correct);
  r.false_hits = static_cast<double>(false_hits);
}

template <class A>
void finish_row(A* a, const Context& c, RowResult& r) {
  if (c.self_check) {
    if constexpr (requires(const A& x) { x.check_invariants(); }) {
      a->check_invariants();
      r.invariants_checked = 1;
    }
  }
  if (r.mem_usage < 0) {
    if constexpr (requires(A& x) { x.destroy_counting_bytes(); }) {
      r.mem_usage = static_cast<double>(a->destroy_counting_bytes() + sizeof(A));
      set_text(r.note, sizeof r.note, "memory_usage: bytes its free function reports");
    }
  }
  delete a;
  r.ok = 1;
}

// The memory figures of a row, taken right after its timed build: growth since `before`, and the
// structure's own memory_usage().
template <class A>
void record_memory(const A& a, const MemSnapshot& before, RowResult& r) {
  const MemSnapshot after = snapshot();
  const std::size_t mu = a.memory_usage();
  r.mem_usage = mu == kUnknownMemory ? -1.0 : static_cast<double>(mu);
  r.alloc = after.alloc - before.alloc;
  r.rss = after.rss - before.rss;
}

// The build again, into a fresh map, through insert_many in spans of 1,024: the same keys, order
// and values as run_mutable's timed build, timed the same way; then (untimed) every key's value.
template <class A>
void measure_insert_many(const Context& c, RowResult& r) {
  if constexpr (requires(A& x, std::span<const std::string_view> k, std::span<const std::uint64_t> v) {
                  x.insert_many(k, v);
                }) {
    const auto& keys = c.insert_keys.keys;
    const std::vector<std::uint64_t> values(c.insert_order.begin(), c.insert_order.end());
    const std::span<const std::string_view> all_keys(keys);
    const std::span<const std::uint64_t> all_values(values);
    constexpr std::size_t span = 1024;
    progress(" insert_many");
    const Stopwatch sw;
    A* a = new A();
    for (std::size_t j0 = 0; j0 < keys.size(); j0 += span) {
      const std::size_t len = std::min(span, keys.size() - j0);
      a->insert_many(all_keys.subspan(j0, len), all_values.subspan(j0, len));
    }
    if constexpr (requires(A& x) { x.finish_inserts(); }) a->finish_inserts();
    sw.stop(r.ins_batch_s, r.ins_batch_wall_s);
    progress(" %.2fs", r.ins_batch_wall_s);
    std::uint64_t wrong = 0;
    for (std::size_t j = 0; j < keys.size(); ++j) {
      std::uint64_t v = 0;
      wrong += !a->lookup(keys[j], v) || v != values[j];
    }
    r.ins_batch_wrong = static_cast<double>(wrong);
    delete a;
  }
}

template <class A>
RowResult run_mutable(const Context& c, Variant) {
  RowResult r;
  r.kind = static_cast<int>(Kind::mutable_map);
  const auto& keys = c.insert_keys.keys;
  progress("build");
  const MemSnapshot before = snapshot();
  const Stopwatch sw;
  A* a = new A();
  for (std::size_t j = 0; j < keys.size(); ++j) a->insert(keys[j], c.insert_order[j]);
  if constexpr (requires(A& x) { x.finish_inserts(); }) a->finish_inserts();  // e.g. a final merge
  sw.stop(r.build_s, r.build_wall_s);
  record_memory(*a, before, r);
  progress(" %.2fs", r.build_wall_s);
  measure_lookups(*a, c, [](std::uint32_t i) { return std::uint64_t{i}; }, true, r);
  finish_row(a, c, r);
  measure_insert_many<A>(c, r);
  return r;
}

template <class A>
RowResult run_life(const Context& c, Variant) {
  RowResult r;
  r.kind = static_cast<int>(Kind::mutable_map);
  const auto& load = c.insert_keys.keys;
  const auto& op_keys = c.life_keys.keys;
  progress("life");
  const MemSnapshot before = snapshot();
  const Stopwatch sw;
  A* a = new A();
  for (std::size_t j = 0; j < c.life_load; ++j) a->insert(load[j], c.insert_order[j]);
  std::uint64_t wrong = 0;
  for (std::size_t j = 0; j < c.life_ops.size(); ++j) {
    const Context::LifeOp& op = c.life_ops[j];
    switch (op.type) {
      case 0: a->insert(op_keys[j], op.value); break;
      case 1: a->assign(op_keys[j], op.value); break;
      case 2: a->erase(op_keys[j]); break;
      default: {
        std::uint64_t v = 0;
        const bool f = a->lookup(op_keys[j], v);
        wrong += op.value == Context::kAbsent ? f : (!f || v != op.value);
      }
    }
  }
  if constexpr (requires(A& x) { x.finish_inserts(); }) a->finish_inserts();
  sw.stop(r.build_s, r.build_wall_s);
  record_memory(*a, before, r);
  progress(" %.2fs", r.build_wall_s);
  // Untimed: every key of the dataset in its expected final state.
  const auto& keys = c.data->keys;
  std::uint64_t correct = 0, found = 0, false_hits = 0;
  for (std::size_t i = 0; i < keys.size(); ++i) {
    std::uint64_t v = 0;
    const bool f = a->lookup(keys[i], v);
    found += f;
    if (c.life_final[i] == Context::kAbsent) {
      false_hits += f;
      correct += !f;
    } else {
      correct += f && v == c.life_final[i];
    }
  }
  r.found = static_cast<double>(found);
  r.correct = static_cast<double>(correct) - static_cast<double>(wrong);  // a wrong mixed lookup counts too
  r.false_hits = static_cast<double>(false_hits);
  r.life_ops = static_cast<double>(c.life_load + c.life_ops.size());
  r.live_n = c.life_live_n;
  r.live_raw = c.life_live_raw;
  finish_row(a, c, r);
  return r;
}

// The mixed life's operations (see the top of this file), prepared in the parent.
void prepare_life(Context& c) {
  const Dataset& d = *c.data;
  const std::size_t n = d.size();
  c.life_load = n - n / 5;
  std::vector<std::uint64_t> state(n, Context::kAbsent);
  std::vector<std::uint32_t> present;  // positions, for picking; erased ones are removed lazily
  present.reserve(n);
  for (std::size_t j = 0; j < c.life_load; ++j) {
    state[c.insert_order[j]] = c.insert_order[j];
    present.push_back(c.insert_order[j]);
  }
  std::vector<std::uint32_t> types;
  types.insert(types.end(), n / 5, 0);
  types.insert(types.end(), n / 5, 1);
  types.insert(types.end(), n / 10, 2);
  types.insert(types.end(), 3 * (n / 10), 3);
  Rng rng(3003);
  shuffle_in_place(types, rng);
  std::size_t next_insert = c.life_load;
  std::vector<std::uint32_t> op_positions;  // each op's key, as a dataset position
  c.life_ops.clear();
  c.life_ops.reserve(types.size());
  op_positions.reserve(types.size());
  auto pick_present = [&]() -> std::uint32_t {
    for (;;) {  // erased entries are dropped when met (swap with the last)
      const std::size_t k = rng.below(present.size());
      const std::uint32_t pos = present[k];
      if (state[pos] != Context::kAbsent) return pos;
      present[k] = present.back();
      present.pop_back();
    }
  };
  for (std::uint32_t t : types) {
    Context::LifeOp op{t, 0};
    std::uint32_t key = 0;
    if (t == 0) {
      if (next_insert >= n) continue;
      key = c.insert_order[next_insert++];
      op.value = key;
      state[key] = op.value;
      present.push_back(key);
    } else if (t == 1 || t == 2) {
      if (present.empty()) continue;
      key = pick_present();
      if (t == 1) {
        op.value = key + std::uint64_t{n};  // an overwritten value differs from the loaded one
        state[key] = op.value;
      } else {
        state[key] = Context::kAbsent;
      }
    } else {
      key = static_cast<std::uint32_t>(rng.below(n));
      op.value = state[key];
    }
    c.life_ops.push_back(op);
    op_positions.push_back(key);
  }
  c.life_keys = permuted_keys(d, op_positions);
  c.life_final = std::move(state);
  c.life_live_n = 0;
  c.life_live_raw = 0;
  for (std::size_t i = 0; i < n; ++i)
    if (c.life_final[i] != Context::kAbsent) {
      c.life_live_n += 1;
      c.life_live_raw += static_cast<double>(d.keys[i].size());
    }
}

template <class A>
RowResult run_static(const Context& c, Variant v) {
  RowResult r;
  r.kind = static_cast<int>(Kind::static_dict);
  const std::span<const std::uint64_t> values =
      v == Variant::hash ? std::span<const std::uint64_t>(c.sorted_hashes) : std::span<const std::uint64_t>(c.sorted_ranks);
  progress("build");
  const MemSnapshot before = snapshot();
  const Stopwatch sw;
  A* a = new A();
  a->build(std::span<const std::string_view>(c.sorted_keys), values);
  sw.stop(r.build_s, r.build_wall_s);
  record_memory(*a, before, r);
  const std::size_t image = a->image_size();
  r.image = image == 0 ? -1.0 : static_cast<double>(image);
  progress(" %.2fs", r.build_wall_s);
  if (v == Variant::hash)
    measure_lookups(*a, c, [&](std::uint32_t i) { return c.hash_of[i]; }, true, r);
  else if (v == Variant::rank)
    measure_lookups(*a, c, [&](std::uint32_t i) { return c.rank_of[i]; }, true, r);
  else
    measure_lookups(*a, c, [](std::uint32_t) { return std::uint64_t{0}; }, false, r);
  finish_row(a, c, r);
  return r;
}

// ---------------------------------------------------------------------------------------------
struct Entry {
  std::string name, id;
  Kind kind;
  Variant variant;
  RowResult (*run)(const Context&, Variant);
  bool needs_nul_terminated;
};

struct CompareRegistry {
  std::vector<Entry> entries;
  std::vector<std::pair<std::string, std::string>> skipped;

  template <class A>
  void add() {
    bool nul = false;
    if constexpr (requires { A::needs_nul_terminated; }) nul = A::needs_nul_terminated;
    const std::string name(A::name), id(A::id);
    if constexpr (A::kind == Kind::mutable_map) {
      entries.push_back({name, id, A::kind, Variant::positions, &run_mutable<A>, nul});
      if constexpr (requires(A& x, std::string_view k) { x.assign(k, std::uint64_t{}); x.erase(k); })
        entries.push_back({name + " [mixed life]", id + ":life", A::kind, Variant::life, &run_life<A>, nul});
    } else if constexpr (A::values == Values::ids) {
      entries.push_back({name + " [key id]", id, A::kind, Variant::ids, &run_static<A>, nul});
    } else {
      entries.push_back({name + " [rank]", id + ":rank", A::kind, Variant::rank, &run_static<A>, nul});
      entries.push_back({name + " [hash64]", id + ":hash", A::kind, Variant::hash, &run_static<A>, nul});
    }
  }
  void skip(std::string name, std::string why) { skipped.emplace_back(std::move(name), std::move(why)); }
};

bool write_all(int fd, const void* p, std::size_t len) {
  const char* c = static_cast<const char*>(p);
  while (len > 0) {
    const ssize_t w = ::write(fd, c, len);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    c += w;
    len -= static_cast<std::size_t>(w);
  }
  return true;
}
bool read_all(int fd, void* p, std::size_t len) {
  char* c = static_cast<char*>(p);
  while (len > 0) {
    const ssize_t got = ::read(fd, c, len);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) return false;
    c += got;
    len -= static_cast<std::size_t>(got);
  }
  return true;
}

RowResult run_in_child(const Entry& e, const Context& c) {
  RowResult failed;
  set_text(failed.name, sizeof failed.name, e.name);
  set_text(failed.id, sizeof failed.id, e.id);
  failed.kind = static_cast<int>(e.kind);
  failed.variant = static_cast<int>(e.variant);
  failed.n = static_cast<double>(c.data->size());
  failed.raw = static_cast<double>(c.data->raw_bytes);
  int fds[2];
  if (::pipe(fds) != 0) {
    set_text(failed.note, sizeof failed.note, "pipe() failed");
    return failed;
  }
  std::fflush(stdout);
  std::fflush(stderr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    ::close(fds[0]);
    ::close(fds[1]);
    set_text(failed.note, sizeof failed.note, "fork() failed");
    return failed;
  }
  if (pid == 0) {
    ::close(fds[0]);
    RowResult r = failed;
    try {
      RowResult got = e.run(c, e.variant);
      std::memcpy(got.name, failed.name, sizeof got.name);
      std::memcpy(got.id, failed.id, sizeof got.id);
      got.variant = failed.variant;
      got.n = failed.n;
      got.raw = failed.raw;
      r = got;
    } catch (const std::exception& ex) {
      set_text(r.note, sizeof r.note, std::string("exception: ") + ex.what());
      r.ok = 0;
    }
    write_all(fds[1], &r, sizeof r);
    ::close(fds[1]);
    std::fflush(stderr);
    ::_exit(0);
  }
  ::close(fds[1]);
  RowResult r;
  const bool got = read_all(fds[0], &r, sizeof r);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!got) {
    r = failed;
    if (WIFSIGNALED(status))
      set_text(r.note, sizeof r.note, format("child killed by signal %d (%s)", WTERMSIG(status), strsignal(WTERMSIG(status))));
    else
      set_text(r.note, sizeof r.note, format("child exited with status %d and no result", WEXITSTATUS(status)));
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : (v[m - 1] + v[m]) / 2;
}

// Medians of every figure over the repeats; correctness is the WORST repeat (min found/correct,
// max false hits); ok only when every repeat finished.
RowResult combine(const std::vector<RowResult>& runs) {
  RowResult r = runs.front();
  auto med = [&](double RowResult::*field) {
    std::vector<double> v;
    for (const auto& x : runs) v.push_back(x.*field);
    return median(v);
  };
  for (auto field : {&RowResult::mem_usage, &RowResult::alloc, &RowResult::rss, &RowResult::image,
                     &RowResult::build_s, &RowResult::lookup_s, &RowResult::miss_s, &RowResult::build_wall_s,
                     &RowResult::lookup_wall_s, &RowResult::miss_wall_s, &RowResult::batch_s,
                     &RowResult::batch_wall_s, &RowResult::ins_batch_s, &RowResult::ins_batch_wall_s})
    r.*field = med(field);
  for (const auto& x : runs) {
    r.ok = r.ok && x.ok;
    r.found = std::min(r.found, x.found);
    r.correct = std::min(r.correct, x.correct);
    r.false_hits = std::max(r.false_hits, x.false_hits);
    r.batch_wrong = std::max(r.batch_wrong, x.batch_wrong);
    r.ins_batch_wrong = std::max(r.ins_batch_wrong, x.ins_batch_wrong);
    if (!x.ok && x.note[0]) std::memcpy(r.note, x.note, sizeof r.note);
  }
  return r;
}

struct Derived {  // figures computed from a combined row
  double mops_build = 0, mops_lookup = 0, mops_miss = 0, build_s = 0;
  double mops_batch = -1;  // get_many; < 0: not measured
  double mops_ins_batch = -1;  // insert_many; < 0: not measured
  double ovh_alloc = 0, ovh_mu = NAN, ovh_rss = 0;
  double correct_pct = 0;
  bool correct_ok = false;
};

Derived derive(const RowResult& r) {
  Derived d;
  const double n = r.n > 0 ? r.n : 1;
  const double build = g_wall_time ? r.build_wall_s : r.build_s;
  const double lookup = g_wall_time ? r.lookup_wall_s : r.lookup_s;
  const double miss = g_wall_time ? r.miss_wall_s : r.miss_s;
  const bool life = r.variant == int(Variant::life);
  d.mops_build = build > 0 ? (life ? r.life_ops : r.n) / build / 1e6 : 0;
  d.mops_lookup = lookup > 0 ? r.n / lookup / 1e6 : 0;
  d.mops_miss = miss > 0 ? r.n / miss / 1e6 : 0;
  const double batch = g_wall_time ? r.batch_wall_s : r.batch_s;
  if (r.batch_s >= 0) d.mops_batch = batch > 0 ? r.n / batch / 1e6 : 0;
  const double ins_batch = g_wall_time ? r.ins_batch_wall_s : r.ins_batch_s;
  if (r.ins_batch_s >= 0) d.mops_ins_batch = ins_batch > 0 ? r.n / ins_batch / 1e6 : 0;
  d.build_s = build;
  // per key: the dataset's keys, or for a mixed life the keys live at its end
  const double keys = life ? (r.live_n > 0 ? r.live_n : 1) : n, raw = life ? r.live_raw : r.raw;
  d.ovh_alloc = (r.alloc - raw) / keys;
  d.ovh_rss = (r.rss - raw) / keys;
  if (r.mem_usage >= 0) d.ovh_mu = (r.mem_usage - raw) / keys;
  d.correct_pct = 100.0 * r.correct / n;
  d.correct_ok = r.ok && r.correct == r.n && r.false_hits == 0 && r.batch_wrong == 0 &&
                 r.ins_batch_wrong == 0;
  return d;
}

// ---------------------------------------------------------------------------------------------
// Output.
std::string mb(double bytes) { return bytes < 0 ? "-" : format("%.1f", bytes / 1e6); }
std::string per_key(double v) { return std::isnan(v) ? "-" : format("%.1f", v); }
std::string ratio(double a, double base) { return (a > 0 && base > 0) ? format("%.2fx", a / base) : "-"; }

std::string correctness_cell(const RowResult& r, const Derived& d) {
  if (!r.ok) return "**FAILED**";
  if (d.correct_ok) return "100%";
  std::string s = format("**%.3f%% WRONG**", d.correct_pct);
  if (r.false_hits > 0) s += format(" **%.0f false hits**", r.false_hits);
  if (r.batch_wrong > 0) s += format(" **get_many: %.0f wrong**", r.batch_wrong);
  if (r.ins_batch_wrong > 0) s += format(" **insert_many: %.0f wrong**", r.ins_batch_wrong);
  return s;
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", std::gmtime(&t));
  return buf;
}

std::string machine_line() {
  std::string cpu = "?";
  std::ifstream in("/proc/cpuinfo");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  double mem_gib = 0;
  std::ifstream mi("/proc/meminfo");
  for (std::string line; std::getline(mi, line);)
    if (line.rfind("MemTotal:", 0) == 0) mem_gib = std::stod(line.substr(9)) / (1024.0 * 1024.0);
  return format("%s, %ld CPUs, %.0f GiB, glibc %s", cpu.c_str(), sysconf(_SC_NPROCESSORS_ONLN), mem_gib,
                gnu_get_libc_version());
}

struct Options {
  std::string dataset = "synthetic-urls";
  std::string keys_file;
  std::size_t count = 0;  // 0: default (1M for synthetic, all for files)
  std::uint64_t seed = 42;
  std::string structures;
  int repeat = 1;
  std::string json, csv, plot;
  std::string data_dir = MEMKV_BENCH_DATA_DIR;
  bool self_check = false;
  bool list = false;
  bool no_life = false;
  std::string command;
};

struct Report {
  const Options* opt;
  const Dataset* data;
  std::vector<RowResult> rows;
  std::vector<std::string> notes;
  std::string date, machine;
  std::string load_before, load_after;  // /proc/loadavg: how shared the machine was
};

std::string load_average() {
  std::ifstream in("/proc/loadavg");
  double a = 0, b = 0, c = 0;
  in >> a >> b >> c;
  return format("%.2f %.2f %.2f", a, b, c);
}

const RowResult* find_row(const Report& rep, std::string_view id) {
  for (const auto& r : rep.rows)
    if (id == r.id && r.ok) return &r;
  return nullptr;
}

void print_markdown(const Report& rep, std::FILE* out) {
  const Dataset& d = *rep.data;
  std::fprintf(out, "## memkv-compare: %s, n = %zu keys, raw = %.1f MB (average %.2f B/key)\n\n",
               d.name.c_str(), d.size(), d.raw_bytes / 1e6, d.average_length());
  std::fprintf(out, "- command: `%s`\n", rep.opt->command.c_str());
  std::fprintf(out, "- machine: %s\n", rep.machine.c_str());
  std::fprintf(out, "- compiler: g++ %s, flags `%s`\n", __VERSION__, MEMKV_BENCH_CXX_FLAGS);
  std::fprintf(out, "- date: %s; each figure is the median of %d run(s), each structure in its own process\n",
               rep.date.c_str(), rep.opt->repeat);
  std::fprintf(out, "- throughputs from %s\n",
               g_wall_time ? "wall-clock time (--wall)"
                           : "each child's CPU time (user + system, CLOCK_PROCESS_CPUTIME_ID), not wall time: the "
                             "machine is shared; wall times are in the JSON");
  if (g_no_huge_pages || !MEMKV_HUGE_PAGES)
    std::fprintf(out, "- memkv's huge-page chunks (memkv/core/huge_pages.hpp): %s\n",
                 g_no_huge_pages ? "off (--no-huge-pages)" : "not built");
  else
    std::fprintf(out, "- memkv's huge-page chunks (memkv/core/huge_pages.hpp): on, from %zu MiB per allocator\n",
                 memkv::detail::g_huge_page_threshold.load(std::memory_order_relaxed) >> 20);
  std::fprintf(out, "- load average (1/5/15 min) at start: %s, at end: %s (%ld CPUs)\n", rep.load_before.c_str(),
               rep.load_after.c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  std::fprintf(out, "- B/key = (memory - raw key bytes) / n, 8-byte values included; memory measured three ways: "
                    "**alloc** = glibc mallinfo2() uordblks+hblkhd growth, plus the 2 MiB huge-page regions memkv maps itself (main column), **mu** = the structure's "
                    "memory_usage(), **RSS** = /proc/self/statm growth. MB = 10^6 bytes.\n\n");

  const RowResult* map = find_row(rep, "std-map");
  const Derived dmap = map ? derive(*map) : Derived{};
  const RowResult* vec = find_row(rep, "sorted-vector:rank");
  const Derived dvec = vec ? derive(*vec) : Derived{};

  bool any_mutable = false, any_static = false;
  for (const auto& r : rep.rows)
    if (r.variant != int(Variant::life)) (r.kind == int(Kind::mutable_map) ? any_mutable : any_static) = true;

  if (any_mutable) {
    std::fprintf(out, "### Mutable maps (value = position in the dataset; ratios to std::map, same run)\n\n");
    std::fprintf(out, "| structure | B/key alloc | B/key mu | B/key RSS | alloc MB | mu MB | RSS MB | insert Mops/s | "
                      "vs map | lookup Mops/s | vs map | miss Mops/s | vs map | correct |\n");
    std::fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const auto& r : rep.rows) {
      if (r.kind != int(Kind::mutable_map) || r.variant == int(Variant::life)) continue;
      const Derived x = derive(r);
      if (!r.ok) {
        std::fprintf(out, "| %s | | | | | | | | | | | | | **FAILED** (%s) |\n", r.name, r.note);
        continue;
      }
      std::fprintf(out, "| %s | %s | %s | %s | %s | %s | %s | %.2f | %s | %.2f | %s | %.2f | %s | %s |\n", r.name,
                   per_key(x.ovh_alloc).c_str(), per_key(x.ovh_mu).c_str(), per_key(x.ovh_rss).c_str(),
                   mb(r.alloc).c_str(), mb(r.mem_usage).c_str(), mb(r.rss).c_str(), x.mops_build,
                   ratio(x.mops_build, dmap.mops_build).c_str(), x.mops_lookup,
                   ratio(x.mops_lookup, dmap.mops_lookup).c_str(), x.mops_miss,
                   ratio(x.mops_miss, dmap.mops_miss).c_str(), correctness_cell(r, x).c_str());
    }
    std::fprintf(out, "\n");
  }
  const RowResult* map_life = find_row(rep, "std-map:life");
  const Derived dmap_life = map_life ? derive(*map_life) : Derived{};
  bool any_life = false;
  for (const auto& r : rep.rows) any_life |= r.variant == int(Variant::life);
  if (any_life) {
    std::fprintf(out, "### Mixed life (mutable maps: load 80%% of the keys, then one shuffled sequence of n/5 inserts, "
                      "n/5 overwrites, n/10 erases and 3n/10 checked lookups, then finish: HybridStore's final merge; "
                      "all timed together; memory after, per live key)\n\n");
    std::fprintf(out, "| structure | live keys | B/key alloc | B/key mu | alloc MB | mu MB | operations | Mops/s | vs map | correct |\n");
    std::fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const auto& r : rep.rows) {
      if (r.variant != int(Variant::life)) continue;
      const Derived x = derive(r);
      if (!r.ok) {
        std::fprintf(out, "| %s | | | | | | | | | **FAILED** (%s) |\n", r.name, r.note);
        continue;
      }
      std::fprintf(out, "| %s | %.0f | %s | %s | %s | %s | %.0f | %.2f | %s | %s |\n", r.name, r.live_n,
                   per_key(x.ovh_alloc).c_str(), per_key(x.ovh_mu).c_str(), mb(r.alloc).c_str(),
                   mb(r.mem_usage).c_str(), r.life_ops, x.mops_build, ratio(x.mops_build, dmap_life.mops_build).c_str(),
                   correctness_cell(r, x).c_str());
    }
    std::fprintf(out, "\n");
  }
  if (any_static) {
    std::fprintf(out, "### Static structures (built from the sorted keys; values = rank, or a 64-bit hash of the key)\n\n");
    std::fprintf(out, "| structure | B/key alloc | B/key mu | B/key RSS | image MB | image/raw | build s | lookup Mops/s | "
                      "vs map | vs vector | miss Mops/s | vs map | vs vector | correct |\n");
    std::fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (const auto& r : rep.rows) {
      if (r.kind != int(Kind::static_dict)) continue;
      const Derived x = derive(r);
      if (!r.ok) {
        std::fprintf(out, "| %s | | | | | | | | | | | | | **FAILED** (%s) |\n", r.name, r.note);
        continue;
      }
      const std::string image_ratio = r.image > 0 ? format("%.3fx", r.image / r.raw) : "-";
      std::fprintf(out, "| %s | %s | %s | %s | %s | %s | %.2f | %.2f | %s | %s | %.2f | %s | %s | %s |\n", r.name,
                   per_key(x.ovh_alloc).c_str(), per_key(x.ovh_mu).c_str(), per_key(x.ovh_rss).c_str(),
                   mb(r.image).c_str(), image_ratio.c_str(), x.build_s, x.mops_lookup,
                   ratio(x.mops_lookup, dmap.mops_lookup).c_str(), ratio(x.mops_lookup, dvec.mops_lookup).c_str(),
                   x.mops_miss, ratio(x.mops_miss, dmap.mops_miss).c_str(),
                   ratio(x.mops_miss, dvec.mops_miss).c_str(), correctness_cell(r, x).c_str());
    }
    std::fprintf(out, "\n");
  }
  bool any_batch = false;
  for (const auto& r : rep.rows) any_batch |= r.ok && (r.batch_s >= 0 || r.ins_batch_s >= 0);
  if (any_batch) {
    std::fprintf(out, "### Batched operations (get_many: the lookup keys again, same order, in spans of 1,024; "
                      "insert_many: the build again into a fresh map, same keys, order and values, in spans "
                      "of 1,024; the tables above measure single calls, as CONTRACT.md defines lookups and inserts)\n\n");
    std::fprintf(out, "| structure | get Mops/s | get_many Mops/s | get_many / get | get_many vs map get | "
                      "insert Mops/s | insert_many Mops/s | insert_many / insert | insert_many vs map insert | wrong |\n");
    std::fprintf(out, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    auto mops = [](double v) { return v >= 0 ? format("%.2f", v) : std::string("-"); };
    for (const auto& r : rep.rows) {
      if (!r.ok || (r.batch_s < 0 && r.ins_batch_s < 0)) continue;
      const Derived x = derive(r);
      // (a static structure's build is not an insert: its insert cells stay empty)
      std::fprintf(out, "| %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %.0f |\n", r.name, x.mops_lookup,
                   mops(x.mops_batch).c_str(), ratio(x.mops_batch, x.mops_lookup).c_str(),
                   ratio(x.mops_batch, dmap.mops_lookup).c_str(),
                   mops(x.mops_ins_batch >= 0 ? x.mops_build : -1).c_str(), mops(x.mops_ins_batch).c_str(),
                   ratio(x.mops_ins_batch, x.mops_build).c_str(), ratio(x.mops_ins_batch, dmap.mops_build).c_str(),
                   r.batch_wrong + r.ins_batch_wrong);
    }
    std::fprintf(out, "\n");
  }
  if (!rep.notes.empty()) {
    std::fprintf(out, "Notes:\n");
    for (const auto& n : rep.notes) std::fprintf(out, "- %s\n", n.c_str());
    std::fprintf(out, "\n");
  }
}

std::string json_escape(std::string_view s) {
  std::string o;
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') { o += '\\'; o += char(c); }
    else if (c < 0x20) o += format("\\u%04x", c);
    else o += char(c);
  }
  return o;
}
std::string json_number(double v) { return std::isnan(v) || std::isinf(v) ? "null" : format("%.6g", v); }

void write_json(const Report& rep, const std::string& path) {
  std::ofstream o(path);
  const Dataset& d = *rep.data;
  o << "{\n  \"dataset\": \"" << json_escape(d.name) << "\", \"n\": " << d.size() << ", \"raw_bytes\": " << d.raw_bytes
    << ",\n  \"repeat\": " << rep.opt->repeat << ", \"date\": \"" << rep.date << "\", \"load_average_start\": \"" << rep.load_before
    << "\", \"load_average_end\": \"" << rep.load_after << "\", \"machine\": \""
    << json_escape(rep.machine) << "\",\n  \"compiler\": \"g++ " << json_escape(__VERSION__) << "\", \"flags\": \""
    << json_escape(MEMKV_BENCH_CXX_FLAGS) << "\", \"command\": \"" << json_escape(rep.opt->command)
    << "\",\n  \"rows\": [\n";
  for (std::size_t i = 0; i < rep.rows.size(); ++i) {
    const auto& r = rep.rows[i];
    const Derived x = derive(r);
    o << "    {\"name\": \"" << json_escape(r.name) << "\", \"id\": \"" << json_escape(r.id) << "\", \"kind\": \""
      << (r.kind == int(Kind::mutable_map) ? "mutable" : "static") << "\", \"values\": \""
      << variant_label(Variant(r.variant)) << "\", \"ok\": " << (r.ok ? "true" : "false")
      << ", \"n\": " << json_number(r.n) << ", \"raw_bytes\": " << json_number(r.raw)
      << ", \"memory_usage_bytes\": " << (r.mem_usage < 0 ? "null" : json_number(r.mem_usage))
      << ", \"alloc_bytes\": " << json_number(r.alloc) << ", \"rss_bytes\": " << json_number(r.rss)
      << ", \"image_bytes\": " << (r.image < 0 ? "null" : json_number(r.image))
      << ", \"overhead_per_key_alloc\": " << json_number(x.ovh_alloc)
      << ", \"overhead_per_key_memory_usage\": " << json_number(x.ovh_mu)
      << ", \"overhead_per_key_rss\": " << json_number(x.ovh_rss) << ", \"build_cpu_seconds\": " << json_number(r.build_s)
      << ", \"build_wall_seconds\": " << json_number(r.build_wall_s)
      << ", \"lookup_cpu_seconds\": " << json_number(r.lookup_s)
      << ", \"lookup_wall_seconds\": " << json_number(r.lookup_wall_s)
      << ", \"miss_cpu_seconds\": " << json_number(r.miss_s)
      << ", \"miss_wall_seconds\": " << json_number(r.miss_wall_s)
      << ", \"insert_mops\": " << json_number(x.mops_build) << ", \"lookup_mops\": " << json_number(x.mops_lookup)
      << ", \"get_many_mops\": " << (x.mops_batch >= 0 ? json_number(x.mops_batch) : std::string("null"))
      << ", \"insert_many_mops\": " << (x.mops_ins_batch >= 0 ? json_number(x.mops_ins_batch) : std::string("null"))
      << ", \"miss_mops\": " << json_number(x.mops_miss) << ", \"found\": " << json_number(r.found)
      << ", \"correct\": " << json_number(r.correct) << ", \"false_hits\": " << json_number(r.false_hits)
      << ", \"correct_percent\": " << json_number(x.correct_pct)
      << ", \"invariants_checked\": " << (r.invariants_checked ? "true" : "false") << ", \"note\": \""
      << json_escape(r.note) << "\"}" << (i + 1 < rep.rows.size() ? "," : "") << "\n";
  }
  o << "  ],\n  \"notes\": [";
  for (std::size_t i = 0; i < rep.notes.size(); ++i)
    o << (i ? ", " : "") << "\"" << json_escape(rep.notes[i]) << "\"";
  o << "]\n}\n";
}

void write_csv(const Report& rep, const std::string& path) {
  std::ofstream o(path);
  o << "dataset,structure,id,kind,values,ok,n,raw_bytes,memory_usage_bytes,alloc_bytes,rss_bytes,image_bytes,"
       "overhead_alloc,overhead_memory_usage,overhead_rss,build_seconds,insert_mops,lookup_mops,miss_mops,"
       "correct_percent,false_hits\n";
  auto q = [](std::string_view s) {
    std::string r = "\"";
    for (char c : s) r += c == '"' ? std::string("\"\"") : std::string(1, c);
    return r + "\"";
  };
  for (const auto& r : rep.rows) {
    const Derived x = derive(r);
    o << q(rep.data->name) << ',' << q(r.name) << ',' << r.id << ','
      << (r.kind == int(Kind::mutable_map) ? "mutable" : "static") << ',' << variant_label(Variant(r.variant)) << ','
      << r.ok << ',' << format("%.0f,%.0f,", r.n, r.raw) << (r.mem_usage < 0 ? "" : format("%.0f", r.mem_usage)) << ','
      << format("%.0f,%.0f,", r.alloc, r.rss) << (r.image < 0 ? "" : format("%.0f", r.image)) << ','
      << format("%.3f,", x.ovh_alloc) << (std::isnan(x.ovh_mu) ? "" : format("%.3f", x.ovh_mu))
      << format(",%.3f,%.4f,%.4f,%.4f,%.4f,%.4f,%.0f\n", x.ovh_rss, x.build_s, x.mops_build, x.mops_lookup,
                x.mops_miss, x.correct_pct, r.false_hits);
  }
}

// Hand-written SVG scatter plot: overhead per key (allocator) on x, lookup Mops/s on y.
std::string xml_escape(std::string_view s) {
  std::string o;
  for (char c : s) {
    if (c == '<') o += "&lt;";
    else if (c == '>') o += "&gt;";
    else if (c == '&') o += "&amp;";
    else if (c == '"') o += "&quot;";
    else o += c;
  }
  return o;
}

double nice_step(double span, int target_ticks) {
  const double raw = span / target_ticks;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
    if (raw <= m * mag) return m * mag;
  return 10 * mag;
}

void write_plot(const Report& rep, const std::string& path) {
  struct Point { double x, y; std::string label; bool is_static; };
  std::vector<Point> pts;
  for (const auto& r : rep.rows) {
    if (!r.ok || r.variant == int(Variant::life)) continue;  // no lookup figure of their own
    const Derived x = derive(r);
    pts.push_back({x.ovh_alloc, x.mops_lookup, r.name, r.kind == int(Kind::static_dict)});
  }
  const double W = 1180, H = 600, left = 80, right = 420, top = 60, bottom = 70;
  double xmin = 0, xmax = 10, ymin = 0, ymax = 0;
  for (const auto& p : pts) {
    xmin = std::min(xmin, p.x);
    xmax = std::max(xmax, p.x);
    ymax = std::max(ymax, p.y);
  }
  if (ymax <= 0) ymax = 1;
  const double xstep = nice_step(xmax - xmin, 8), ystep = nice_step(ymax - ymin, 8);
  xmin = std::floor(xmin / xstep) * xstep;
  xmax = std::ceil(xmax * 1.05 / xstep) * xstep;
  ymax = std::ceil(ymax * 1.05 / ystep) * ystep;
  const double pw = W - left - right, ph = H - top - bottom;
  auto sx = [&](double x) { return left + (x - xmin) / (xmax - xmin) * pw; };
  auto sy = [&](double y) { return top + ph - (y - ymin) / (ymax - ymin) * ph; };
  std::ofstream o(path);
  o << format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
              "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
  o << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  o << format("<text x=\"%.0f\" y=\"24\" font-size=\"16\" font-weight=\"bold\">memkv-compare: %s (n = %zu, "
              "avg %.1f B/key)</text>\n", left, xml_escape(rep.data->name).c_str(), rep.data->size(),
              rep.data->average_length());
  o << format("<text x=\"%.0f\" y=\"42\" fill=\"#555\">upper-left is better: fewer bytes per key, more lookups "
              "per second. %s</text>\n", left, xml_escape(rep.date).c_str());
  for (double x = xmin; x <= xmax + 1e-9; x += xstep) {
    o << format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", sx(x), sy(ymin), sx(x), sy(ymax));
    o << format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%g</text>\n", sx(x), sy(ymin) + 16, x);
  }
  for (double y = ymin; y <= ymax + 1e-9; y += ystep) {
    o << format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", sx(xmin), sy(y), sx(xmax), sy(y));
    o << format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n", sx(xmin) - 6, sy(y) + 4, y);
  }
  if (xmin < 0)
    o << format("<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\" stroke-dasharray=\"4 3\"/>\n",
                sx(0), sy(ymin), sx(0), sy(ymax));
  o << format("<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n", left, top, pw, ph);
  o << format("<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">overhead per key, bytes (allocator growth - raw "
              "keys) / n</text>\n", left + pw / 2, H - 24);
  o << format("<text transform=\"translate(22 %.1f) rotate(-90)\" text-anchor=\"middle\">lookups, million/s</text>\n",
              top + ph / 2);
  for (std::size_t i = 0; i < pts.size(); ++i) {
    const auto& p = pts[i];
    const bool memkv = p.label.rfind("memkv::", 0) == 0;
    const char* color = memkv ? "#d62728" : (p.is_static ? "#1f77b4" : "#2ca02c");
    o << format("<circle cx=\"%.1f\" cy=\"%.1f\" r=\"5\" fill=\"%s\"/>\n", sx(p.x), sy(p.y), color);
    // Labels alternate above/below to limit overlap; the legend on the right lists exact values.
    o << format("<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\">%s</text>\n", sx(p.x) + 7, sy(p.y) + (i % 2 ? 14 : -6),
                color, xml_escape(p.label).c_str());
    o << format("<text x=\"%.1f\" y=\"%.1f\" fill=\"%s\" font-size=\"11\">%s: %.1f B/key, %.2f M/s</text>\n",
                W - right + 10, top + 14 + 16.0 * double(i), color, xml_escape(p.label).c_str(), p.x, p.y);
  }
  o << "</svg>\n";
}

// ---------------------------------------------------------------------------------------------
// --self-check tolerances: the three memory figures agree when
//   |memory_usage - alloc| <= 25% of alloc + 256 KiB   (malloc's 8-byte headers and size classes
//                                                        are in alloc, not in memory_usage)
//   RSS >= alloc - (25% of alloc + 8 MiB)              (page granularity, heap top padding; RSS
//                                                        above alloc is only noted: build temporaries)
// Under AddressSanitizer, malloc is ASan's: mallinfo2() does not see it and RSS includes shadow
// memory, so only memory_usage() is meaningful and the consistency checks are skipped (said so).
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kAllocatorFiguresValid = false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kAllocatorFiguresValid = false;
#else
constexpr bool kAllocatorFiguresValid = true;
#endif
#else
constexpr bool kAllocatorFiguresValid = true;
#endif
constexpr double kMuTolerance = 0.25, kMuSlack = 256.0 * 1024;
constexpr double kRssTolerance = 0.25, kRssSlack = 8.0 * 1024 * 1024;

bool self_check(const Report& rep, const std::vector<Entry>& expected) {
  bool ok = true;
  auto fail = [&](const std::string& what) {
    std::fprintf(stderr, "self-check FAILED: %s\n", what.c_str());
    ok = false;
  };
  for (const auto& e : expected) {
    const RowResult* r = nullptr;
    for (const auto& x : rep.rows)
      if (x.id == e.id) r = &x;
    if (!r) { fail("row '" + e.name + "' missing"); continue; }
    if (!r->ok) { fail("row '" + e.name + "' failed: " + r->note); continue; }
    const Derived d = derive(*r);
    if (!d.correct_ok)
      fail(format("row '%s': correctness %.4f%%, %.0f false hits", r->name, d.correct_pct, r->false_hits));
    if (!kAllocatorFiguresValid) continue;
    if (r->mem_usage >= 0 && std::fabs(r->mem_usage - r->alloc) > kMuTolerance * r->alloc + kMuSlack)
      fail(format("row '%s': memory_usage %.0f vs allocator %.0f bytes", r->name, r->mem_usage, r->alloc));
    // RSS may exceed the allocator's figure (pages kept after freeing build temporaries): only a
    // warning. RSS far BELOW it means a measurement error: a failure.
    if (r->rss < r->alloc - (kRssTolerance * r->alloc + kRssSlack))
      fail(format("row '%s': RSS growth %.0f below allocator %.0f bytes", r->name, r->rss, r->alloc));
    else if (r->rss > r->alloc + kRssTolerance * r->alloc + kRssSlack)
      std::fprintf(stderr, "self-check note: row '%s': RSS growth %.0f above allocator %.0f bytes (build "
                           "temporaries kept resident by the allocator)\n", r->name, r->rss, r->alloc);
  }
  if (!kAllocatorFiguresValid)
    std::fprintf(stderr, "self-check: built with AddressSanitizer: mallinfo2/RSS figures are not the program's "
                         "heap, memory consistency NOT checked\n");
  std::fprintf(stderr,
               "self-check %s: %zu rows expected; correctness must be 100%% with no false hits; memory figures "
               "consistent when |memory_usage - alloc| <= %.0f%% of alloc + %.0f KiB and RSS >= alloc - (%.0f%% "
               "of alloc + %.0f MiB) (RSS above alloc + that margin: a note)\n",
               ok ? "passed" : "FAILED", expected.size(), kMuTolerance * 100, kMuSlack / 1024, kRssTolerance * 100,
               kRssSlack / (1024 * 1024));
  return ok;
}

// ---------------------------------------------------------------------------------------------
void usage(std::FILE* out) {
  std::fprintf(out,
               "usage: memkv-compare [options]\n"
               "  --dataset NAME     synthetic-urls (default) | npm-urls | npm-names\n"
               "  --keys FILE        use FILE, one key per line, instead of a named dataset\n"
               "  --count N          synthetic-urls: number of keys (default 1000000); files: first N keys\n"
               "  --seed S           synthetic-urls seed (default 42)\n"
               "  --structures LIST  comma-separated ids (see --list); default all\n"
               "  --repeat N         run each structure N times, report medians (default 1)\n"
               "  --json FILE / --csv FILE / --plot FILE.svg   also write the raw rows / the scatter plot\n"
               "  --data-dir DIR     where fetch_datasets.sh put npm-*.txt (default %s)\n"
               "  --wall             throughputs from wall-clock time instead of the child's CPU time\n"
               "  --no-life          skip the mutable maps' mixed-life rows (ids ending in :life)\n"
               "  --no-huge-pages    memkv's allocators take no huge-page chunks (memkv::set_huge_pages(false))\n"
               "  --self-check       verify every row: present, 100%% correct, memory figures consistent\n"
               "  --list             list the structures and exit\n",
               MEMKV_BENCH_DATA_DIR);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool selects(const std::string& token, const Entry& e) {
  const std::string t = lower(token);
  if (t == lower(e.id) || t == lower(e.name)) return true;
  const auto colon = e.id.find(':');  // "sorted-vector" selects both its rows
  return colon != std::string::npos && t == lower(e.id.substr(0, colon));
}

int run(int argc, char** argv) {
  Options opt;
  opt.command = "memkv-compare";
  for (int i = 1; i < argc; ++i) opt.command.append(" ").append(argv[i]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument("missing value after " + a);
      return argv[++i];
    };
    if (a == "--dataset") opt.dataset = value();
    else if (a == "--keys") opt.keys_file = value();
    else if (a == "--count") opt.count = std::stoull(value());
    else if (a == "--seed") opt.seed = std::stoull(value());
    else if (a == "--structures") opt.structures = value();
    else if (a == "--repeat") opt.repeat = std::max(1, std::stoi(value()));
    else if (a == "--json") opt.json = value();
    else if (a == "--csv") opt.csv = value();
    else if (a == "--plot") opt.plot = value();
    else if (a == "--data-dir") opt.data_dir = value();
    else if (a == "--self-check") opt.self_check = true;
    else if (a == "--wall") g_wall_time = true;
    else if (a == "--no-life") opt.no_life = true;
    else if (a == "--no-huge-pages") g_no_huge_pages = true;
    else if (a == "--list") opt.list = true;
    else if (a == "-h" || a == "--help") { usage(stdout); return 0; }
    else throw std::invalid_argument("unknown option " + a);
  }

  if (g_no_huge_pages) memkv::set_huge_pages(false);  // the forked children inherit it
  CompareRegistry reg;
  register_structures(reg);
  if (opt.list) {
    for (const auto& e : reg.entries) std::printf("%-24s %s\n", e.id.c_str(), e.name.c_str());
    for (const auto& [name, why] : reg.skipped) std::printf("%-24s %s (skipped: %s)\n", "-", name.c_str(), why.c_str());
    return 0;
  }

  Report rep;
  rep.opt = &opt;
  rep.date = now_utc();
  rep.machine = machine_line();
  rep.load_before = load_average();
  for (const auto& [name, why] : reg.skipped) {
    rep.notes.push_back(name + " skipped: " + why);
    std::fprintf(stderr, "note: %s skipped: %s\n", name.c_str(), why.c_str());
  }

  std::vector<Entry> selected;
  if (opt.structures.empty()) {
    selected = reg.entries;
  } else {
    std::string list = opt.structures + ",";
    for (std::size_t pos = 0, comma; (comma = list.find(',', pos)) != std::string::npos; pos = comma + 1) {
      const std::string token = list.substr(pos, comma - pos);
      if (token.empty()) continue;
      bool any = false;
      for (const auto& e : reg.entries)
        if (selects(token, e)) {
          any = true;
          if (std::none_of(selected.begin(), selected.end(), [&](const Entry& s) { return s.id == e.id; }))
            selected.push_back(e);
        }
      if (!any) {
        bool was_skipped = false;
        for (const auto& [name, why] : reg.skipped) was_skipped |= lower(name) == lower(token);
        if (!was_skipped) throw std::invalid_argument("unknown structure '" + token + "' (see --list)");
      }
    }
    // Keep the registry's order.
    std::vector<Entry> ordered;
    for (const auto& e : reg.entries)
      if (std::any_of(selected.begin(), selected.end(), [&](const Entry& s) { return s.id == e.id; })) ordered.push_back(e);
    selected = ordered;
  }

  // --- load ---
  auto t0 = Clock::now();
  Dataset data;
  if (!opt.keys_file.empty()) {
    progress("loading %s ...", opt.keys_file.c_str());
    std::string base = opt.keys_file.substr(opt.keys_file.find_last_of('/') + 1);
    data = load_keys_file(opt.keys_file, base);
  } else if (opt.dataset == "synthetic-urls") {
    const std::size_t count = opt.count ? opt.count : 1000000;
    progress("generating synthetic-urls (%zu keys, seed %llu) ...", count, static_cast<unsigned long long>(opt.seed));
    data = generate_synthetic_urls(count, opt.seed);
  } else if (opt.dataset == "npm-urls" || opt.dataset == "npm-names") {
    const std::string path = opt.data_dir + "/" + opt.dataset + ".txt";
    if (::access(path.c_str(), R_OK) != 0)
      throw std::runtime_error(path + " not found: run bench/fetch_datasets.sh first (or pass --data-dir)");
    progress("loading %s ...", path.c_str());
    data = load_keys_file(path, opt.dataset);
  } else {
    throw std::invalid_argument("unknown dataset '" + opt.dataset + "'");
  }
  if (opt.count && opt.count < data.size()) {
    data.keys.resize(opt.count);
    data.raw_bytes = 0;
    data.max_key_length = 0;
    data.has_nul_keys = false;
    for (auto k : data.keys) {
      data.raw_bytes += k.size();
      data.max_key_length = std::max(data.max_key_length, k.size());
      data.has_nul_keys |= k.find('\0') != std::string_view::npos;
    }
    data.name += format(" (first %zu)", opt.count);
  }
  if (data.size() == 0) throw std::runtime_error("the dataset is empty");
  rep.data = &data;
  if (data.size() > 0xffffffffULL) throw std::runtime_error("more than 2^32 keys");
  progress(" %zu keys, %.1f MB, avg %.2f B (%.1fs)\n", data.size(), data.raw_bytes / 1e6, data.average_length(),
           seconds_since(t0));
  if (data.duplicates_dropped) {
    rep.notes.push_back(format("%zu repeated keys dropped (first occurrence kept)", data.duplicates_dropped));
  }

  // --- prepare everything the children share, before any fork ---
  t0 = Clock::now();
  progress("preparing orders, absent keys, sorted keys, ranks, hashes ...");
  Dataset miss = make_absent_keys(data);
  Context ctx;
  ctx.data = &data;
  ctx.miss = &miss;
  ctx.self_check = opt.self_check;
  const std::size_t n = data.size();
  ctx.insert_order = shuffled_positions(n, 1001);
  ctx.lookup_order = shuffled_positions(n, 2002);
  ctx.insert_keys = permuted_keys(data, ctx.insert_order);
  ctx.lookup_keys = permuted_keys(data, ctx.lookup_order);
  std::vector<std::uint32_t> by_key(n);
  std::iota(by_key.begin(), by_key.end(), 0u);
  std::sort(by_key.begin(), by_key.end(), [&](std::uint32_t a, std::uint32_t b) { return data.keys[a] < data.keys[b]; });
  // Static structures are built from the sorted keys read sequentially, as from a sorted file
  // (and as the timed inserts and lookups read theirs): views into the dataset in key order would
  // add a cache miss per key that is the harness's, not the builder's.
  ctx.sorted = permuted_keys(data, by_key);
  ctx.sorted_keys = ctx.sorted.keys;
  ctx.rank_of.resize(n);
  ctx.hash_of.resize(n);
  ctx.sorted_ranks.resize(n);
  ctx.sorted_hashes.resize(n);
  for (std::size_t i = 0; i < n; ++i) ctx.hash_of[i] = hash64(data.keys[i]);
  for (std::size_t r = 0; r < n; ++r) {
    ctx.rank_of[by_key[r]] = r;
    ctx.sorted_ranks[r] = r;
    ctx.sorted_hashes[r] = ctx.hash_of[by_key[r]];
  }
  std::vector<std::uint32_t>().swap(by_key);
  malloc_trim(0);  // give free heap pages back, so the children's RSS growth shows their own pages
  progress(" done (%.1fs)\n", seconds_since(t0));

  std::vector<Entry> runnable;
  for (const auto& e : selected) {
    if (opt.no_life && e.variant == Variant::life) continue;
    if (e.needs_nul_terminated && (data.has_nul_keys || miss.has_nul_keys)) {
      const std::string note = e.name + " skipped: it stores NUL-terminated strings and this dataset has keys holding '\\0'";
      rep.notes.push_back(note);
      std::fprintf(stderr, "note: %s\n", note.c_str());
      continue;
    }
    runnable.push_back(e);
  }
  if (std::any_of(runnable.begin(), runnable.end(), [](const Entry& e) { return e.variant == Variant::life; })) {
    progress("preparing the mixed life ...");
    t0 = Clock::now();
    prepare_life(ctx);
    malloc_trim(0);
    progress(" done (%.1fs)\n", seconds_since(t0));
  }

  // --- run: every structure in its own child, `repeat` times (interleaved, so drift spreads evenly) ---
  std::vector<std::vector<RowResult>> runs(runnable.size());
  for (int rep_i = 0; rep_i < opt.repeat; ++rep_i) {
    for (std::size_t k = 0; k < runnable.size(); ++k) {
      progress("[%d/%d %zu/%zu] %-40s ", rep_i + 1, opt.repeat, k + 1, runnable.size(), runnable[k].name.c_str());
      const auto tr = Clock::now();
      RowResult r = run_in_child(runnable[k], ctx);
      if (!r.ok) progress(" FAILED: %s", r.note);
      progress(" (%.1fs)\n", seconds_since(tr));
      runs[k].push_back(r);
    }
  }
  for (auto& v : runs) rep.rows.push_back(combine(v));
  rep.load_after = load_average();

  // --- report ---
  bool all_ok = true;
  for (const auto& r : rep.rows) {
    const Derived d = derive(r);
    if (!d.correct_ok) {
      all_ok = false;
      std::fprintf(stderr,
                   "\n!!!!! CORRECTNESS FAILURE: %s: %.4f%% of %.0f keys found with the right value, %.0f found, "
                   "%.0f false hits on absent keys%s%s !!!!!\n\n",
                   r.name, derive(r).correct_pct, r.n, r.found, r.false_hits, r.note[0] ? "; " : "", r.note);
    }
  }
  for (const auto& r : rep.rows)
    if (r.note[0] && r.ok) rep.notes.push_back(std::string(r.name) + ": " + r.note);
  if (const RowResult* m = find_row(rep, "std-map"))
    rep.notes.push_back(format("std::map ran at %.2f M inserts/s and %.2f M lookups/s in this run",
                               derive(*m).mops_build, derive(*m).mops_lookup));
  else
    rep.notes.push_back("std::map not run: no 'vs map' ratios");
  if (!kAllocatorFiguresValid)
    rep.notes.push_back("built with AddressSanitizer: the alloc and RSS columns are not meaningful");
  rep.notes.push_back("RSS growth also counts pages the allocator keeps after freeing build temporaries "
                      "(marisa's keyset, hash-table rehashes): it can exceed the structure's final size");
  rep.notes.push_back("marisa-trie stores keys only: its values are its own key ids, so its correctness means 'found'");
  rep.notes.push_back("JudySL keeps NUL-terminated strings: it cannot store keys holding '\\0' (skipped on such datasets)");

  print_markdown(rep, stdout);
  std::fflush(stdout);
  if (!opt.json.empty()) write_json(rep, opt.json);
  if (!opt.csv.empty()) write_csv(rep, opt.csv);
  if (!opt.plot.empty()) write_plot(rep, opt.plot);
  if (opt.self_check && !self_check(rep, runnable)) all_ok = false;
  return all_ok ? 0 : 1;
}

}  // namespace
}  // namespace memkv_bench

int main(int argc, char** argv) {
  try {
    return memkv_bench::run(argc, argv);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "memkv-compare: %s\n", e.what());
    memkv_bench::usage(stderr);
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "memkv-compare: error: %s\n", e.what());
    return 2;
  }
}
