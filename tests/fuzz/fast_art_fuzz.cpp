// libFuzzer target: FastArt driven by an operation sequence decoded from the input and checked
// against std::map after every step (the decoding and the checks: tests/fuzz/map_ops.hpp).
// Input byte 0, bit 0: std::string values, else std::uint64_t; bits 1-4: the map learns its key
// code (coded leaves) after 1 + those bits keys, or (when they are 15) never; bit 5: with the
// point index (art_options::point_index).
//
// Build and run (from the repository root; .ci/fuzz.sh does both for every target):
//   clang++-14 -std=c++20 -O1 -g -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Iinclude tests/fuzz/fast_art_fuzz.cpp -o build-fuzz/fast_art_fuzz
//   mkdir -p build-fuzz/corpus/fast_art
//   build-fuzz/fast_art_fuzz -max_total_time=600 -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
//     build-fuzz/corpus/fast_art tests/fuzz/fast_art
#include "map_ops.hpp"  // first: it carries the clang-14 std::ranges workaround

#include <cstddef>
#include <cstdint>
#include <string>

#include "memkv/fast_art.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  memkv_fuzz::Input in(data, size);
  const std::uint8_t settings = in.byte();
  const unsigned sample = (settings >> 1) & 15u;
  const std::size_t learn = sample == 15 ? 0 : sample + 1;
  const memkv::art_options options{learn, (settings & 32u) != 0};
  if ((settings & 1) != 0) {
    memkv::FastArt<std::string> m(options);
    memkv_fuzz::run_ops<memkv::FastArt<std::string>, std::string>("fast_art_fuzz", m, in);
  } else {
    memkv::FastArt<> m(options);
    memkv_fuzz::run_ops<memkv::FastArt<>, std::uint64_t>("fast_art_fuzz", m, in);
  }
  return 0;
}
