// libFuzzer target: HotArt and ArenaHotArt driven by an operation sequence decoded from the input
// and checked against std::map after every step (the decoding and the checks:
// tests/fuzz/map_ops.hpp). Input byte 0, bit 0: std::string values, else std::uint64_t; bit 1:
// ArenaHotArt (32-bit arena references), else HotArt; bits 2-5: the map learns its key code
// (coded leaves) after 1 + those bits keys, or (when they are 15) never; bit 6: with the point
// index (hot_options::point_index).
//
// Build and run (from the repository root; .ci/fuzz.sh does both for every target):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/hot_art_fuzz.cpp -o build-fuzz/hot_art_fuzz
//   mkdir -p build-fuzz/corpus/hot_art
//   build-fuzz/hot_art_fuzz -max_total_time=600 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
//     build-fuzz/corpus/hot_art tests/fuzz/hot_art
#include "map_ops.hpp"  // first: it carries the clang-14 std::ranges workaround

#include <cstddef>
#include <cstdint>
#include <string>

#include "memkv/hot_art.hpp"

namespace {
template <class M>
void run(memkv_fuzz::Input& in, std::size_t code_sample_keys, bool point_index) {
  M m(memkv::hot_options{code_sample_keys, point_index});
  memkv_fuzz::run_ops<M, typename M::mapped_type>("hot_art_fuzz", m, in);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memkv_fuzz::Input in(data, size);
  const std::uint8_t settings = in.byte();
  const bool strings = (settings & 1) != 0, arena = (settings & 2) != 0;
  const unsigned sample = (settings >> 2) & 15u;
  const std::size_t learn = sample == 15 ? 0 : sample + 1;
  const bool ix = (settings & 64) != 0;
  if (arena) {
    if (strings) run<memkv::ArenaHotArt<std::string>>(in, learn, ix); else run<memkv::ArenaHotArt<>>(in, learn, ix);
  } else {
    if (strings) run<memkv::HotArt<std::string>>(in, learn, ix); else run<memkv::HotArt<>>(in, learn, ix);
  }
  return 0;
}
