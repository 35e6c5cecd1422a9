// libFuzzer target: HybridStore driven by an operation sequence decoded from the input (merge()
// is one of the operations) and checked against std::map after every step (the decoding and the
// checks: tests/fuzz/map_ops.hpp). Input byte 0: bit 0 = std::string values (else std::uint64_t),
// bits 1..4 = min_merge_keys - 1 (automatic merges after 1..16 delta entries, delta_share 1/2),
// bit 5 = automatic merges off (only the merge operation merges), bit 6 = FrontCodedSet base
// (FrontCodedHybridStore) instead of FrozenLayer.
//
// Build and run (from the repository root; .ci/fuzz.sh does both for every target):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/hybrid_store_fuzz.cpp -o build-fuzz/hybrid_store_fuzz
//   mkdir -p build-fuzz/corpus/hybrid_store
//   build-fuzz/hybrid_store_fuzz -max_total_time=600 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
//     build-fuzz/corpus/hybrid_store tests/fuzz/hybrid_store
#include "map_ops.hpp"  // first: it carries the clang-14 std::ranges workaround

#include <cstddef>
#include <cstdint>
#include <string>

#include "memkv/hybrid_store.hpp"

template <class BaseLayer>
static void run(bool strings, const memkv::hybrid_options& opt, memkv_fuzz::Input& in) {
  if (strings) {
    using M = memkv::HybridStore<std::string, memkv::SlabAllocator, BaseLayer>;
    M m(opt);
    memkv_fuzz::run_ops<M, std::string>("hybrid_store_fuzz", m, in);
  } else {
    using M = memkv::HybridStore<std::uint64_t, memkv::SlabAllocator, BaseLayer>;
    M m(opt);
    memkv_fuzz::run_ops<M, std::uint64_t>("hybrid_store_fuzz", m, in);
  }
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memkv_fuzz::Input in(data, size);
  const std::uint8_t settings = in.byte();
  memkv::hybrid_options opt;
  opt.min_merge_keys = 1 + ((settings >> 1) & 15);
  opt.delta_share = 0.5;
  opt.auto_merge = (settings & 0x20) == 0;
  const bool strings = (settings & 1) != 0;
  if ((settings & 0x40) != 0)
    run<memkv::FrontCodedSet>(strings, opt, in);
  else
    run<memkv::FrozenLayer>(strings, opt, in);
  return 0;
}
