// bench/compare_registry.hpp - THE list of structures that memkv-compare and memkv-micro measure.
//
// HOW TO ADD A STRUCTURE (one adapter struct + one line):
//   1. Include its header under `#if __has_include(...)`, and write an adapter struct. For a memkv
//      structure that follows CONTRACT.md, derive from the generic adapter and give it a name
//      (the table's row label) and an id (what `--structures` selects):
//        struct FrontCodedRow : MemkvStaticAdapter<memkv::FrontCodedIndex<>> {
//          static constexpr std::string_view name = "memkv::FrontCodedIndex";
//          static constexpr std::string_view id = "front-coded";
//        };
//      MemkvMapAdapter<Map> is for mutable maps (insert/find/memory_usage/prefix/check_invariants),
//      MemkvStaticAdapter<Index> for static ones (Index::build(range of pairs)/get/memory_usage/
//      bytes()). If your API differs, write the members yourself: the interface is at the top of
//      bench/adapters.hpp (insert or build, lookup, memory_usage, image_size, ...).
//   2. Add one line to register_structures() below: `r.template add<FrontCodedRow>();`
//   Static structures get two rows each (values = rank, values = 64-bit hash) unless their
//   adapter says `static constexpr Values values = Values::ids;`.
//   Check: build-bench/bench/memkv-compare --count 20000 --structures front-coded --self-check
#pragma once

#include "adapters.hpp"

#if __has_include(<memkv/fast_art.hpp>)
#include <memkv/fast_art.hpp>
#define MEMKV_BENCH_HAVE_FAST_ART 1
#endif
#if __has_include(<memkv/arena_art.hpp>)
#include <memkv/arena_art.hpp>
#define MEMKV_BENCH_HAVE_ARENA_ART 1
#endif
#if __has_include(<memkv/hybrid_store.hpp>)
#include <memkv/hybrid_store.hpp>
#define MEMKV_BENCH_HAVE_HYBRID 1
#endif
#if __has_include(<memkv/hot_art.hpp>)
#include <memkv/hot_art.hpp>
#define MEMKV_BENCH_HAVE_HOT_ART 1
#endif
#if __has_include(<memkv/front_coded_index.hpp>)
#include <memkv/front_coded_index.hpp>
#define MEMKV_BENCH_HAVE_FRONT_CODED 1
#endif
#if __has_include(<memkv/frozen_layer.hpp>)
#include <memkv/frozen_layer.hpp>
#define MEMKV_BENCH_HAVE_FROZEN_LAYER 1
#endif

namespace memkv_bench {

#if MEMKV_BENCH_HAVE_FAST_ART
struct FastArtRow : MemkvMapAdapter<memkv::FastArt<>> {
  static constexpr std::string_view name = "memkv::FastArt";
  static constexpr std::string_view id = "fast-art";
};
#endif
#if MEMKV_BENCH_HAVE_HOT_ART
struct HotArtRow : MemkvMapAdapter<memkv::HotArt<>> {
  static constexpr std::string_view name = "memkv::HotArt";
  static constexpr std::string_view id = "hot-art";
};
// The same trie with 32-bit arena references (4 bytes less per entry; ~16 GiB per map at most).
struct ArenaHotArtRow : MemkvMapAdapter<memkv::ArenaHotArt<>> {
  static constexpr std::string_view name = "memkv::ArenaHotArt";
  static constexpr std::string_view id = "arena-hot-art";
};
// Both with the point index (hot_options::point_index): a hash index of the leaves answers
// point lookups, inserts of keys already held and erases; the trie does the rest.
struct HotArtIndexedRow : MemkvMapAdapter<memkv::HotArt<>> {
  static constexpr std::string_view name = "memkv::HotArt+index";
  static constexpr std::string_view id = "hot-art-ix";
  HotArtIndexedRow() { map = memkv::HotArt<>(memkv::hot_options{4096, true}); }
};
struct ArenaHotArtIndexedRow : MemkvMapAdapter<memkv::ArenaHotArt<>> {
  static constexpr std::string_view name = "memkv::ArenaHotArt+index";
  static constexpr std::string_view id = "arena-hot-art-ix";
  ArenaHotArtIndexedRow() { map = memkv::ArenaHotArt<>(memkv::hot_options{4096, true}); }
};
#endif

#if MEMKV_BENCH_HAVE_ARENA_ART
struct ArenaArtRow : MemkvMapAdapter<memkv::ArenaArt<>> {
  static constexpr std::string_view name = "memkv::ArenaArt";
  static constexpr std::string_view id = "arena-art";
};
// With the point index (art_options::point_index), as the HotArt rows above.
struct ArenaArtIndexedRow : MemkvMapAdapter<memkv::ArenaArt<>> {
  static constexpr std::string_view name = "memkv::ArenaArt+index";
  static constexpr std::string_view id = "arena-art-ix";
  ArenaArtIndexedRow() { map = memkv::ArenaArt<>(memkv::art_options{4096, true}); }
};
#endif
#if MEMKV_BENCH_HAVE_HYBRID
// Sustained inserts with the store's automatic merges, then one final merge inside the timed
// build (finish_inserts), so memory is measured after the final merge as the issue defines it.
struct HybridStoreRow : MemkvMapAdapter<memkv::HybridStore<>> {
  static constexpr std::string_view name = "memkv::HybridStore";
  static constexpr std::string_view id = "hybrid";
  void finish_inserts() { map.merge(); }
};
// The same store over a FrontCodedSet base instead of a FrozenLayer (FrontCodedHybridStore).
struct FrontCodedHybridRow : MemkvMapAdapter<memkv::FrontCodedHybridStore<>> {
  static constexpr std::string_view name = "memkv::FrontCodedHybridStore";
  static constexpr std::string_view id = "hybrid-fc";
  void finish_inserts() { map.merge(); }
};
#endif

#if MEMKV_BENCH_HAVE_FRONT_CODED
// Default bucket size (32) and remainder coding (automatic: Huffman on both npm datasets).
struct FrontCodedRow : MemkvStaticAdapter<memkv::FrontCodedIndex<>> {
  static constexpr std::string_view name = "memkv::FrontCodedIndex";
  static constexpr std::string_view id = "front-coded";
};
// Keys only (FrontCodedSet): no value array, every key maps to its rank. One row (values = ids).
struct FrontCodedSetRow : MemkvStaticAdapter<memkv::FrontCodedSet> {
  static constexpr std::string_view name = "memkv::FrontCodedSet";
  static constexpr std::string_view id = "front-coded-set";
  static constexpr Values values = Values::ids;
  void build(std::span<const std::string_view> sorted_keys, std::span<const std::uint64_t>) {
    index.emplace(memkv::FrontCodedSet::build(sorted_keys));
  }
};
#endif

#if MEMKV_BENCH_HAVE_FROZEN_LAYER
// Default options (registry of 64 Ki states). Rank values need no column; hashes get a packed one.
struct FrozenLayerRow : MemkvStaticAdapter<memkv::FrozenLayer> {
  static constexpr std::string_view name = "memkv::FrozenLayer";
  static constexpr std::string_view id = "frozen-layer";
};
#endif

// The rows, in table order. `r.skip(name, why)` prints a note instead of a row.
template <class Registry>
void register_structures(Registry& r) {
  // --- mutable maps ---
  r.template add<StdMapRow>();  // the baseline of every ratio: keep it first
  r.template add<StdUnorderedMapRow>();
#if MEMKV_BENCH_HAVE_ABSL
  r.template add<AbslBtreeRow>();
#else
  r.skip("absl::btree_map", "libabsl-dev (find_package(absl)) not found by CMake");
#endif
#if MEMKV_BENCH_HAVE_JUDY
  r.template add<JudySLRow>();
#else
  r.skip("JudySL", "libjudy-dev (Judy.h, libJudy) not found by CMake");
#endif
#if MEMKV_BENCH_HAVE_HATTRIE
  r.template add<HatTrieRow>();
#else
  r.skip("C HAT-trie", "libhat-trie-dev not found by CMake");
#endif
#if MEMKV_BENCH_HAVE_FAST_ART
  r.template add<FastArtRow>();
#else
  r.skip("memkv::FastArt", "include/memkv/fast_art.hpp does not exist yet");
#endif
#if MEMKV_BENCH_HAVE_HOT_ART
  r.template add<HotArtRow>();
  r.template add<ArenaHotArtRow>();
  r.template add<HotArtIndexedRow>();
  r.template add<ArenaHotArtIndexedRow>();
#endif
#if MEMKV_BENCH_HAVE_ARENA_ART
  r.template add<ArenaArtRow>();
  r.template add<ArenaArtIndexedRow>();
#endif
#if MEMKV_BENCH_HAVE_HYBRID
  r.template add<HybridStoreRow>();
  r.template add<FrontCodedHybridRow>();
#endif

  // --- static structures (built from sorted keys) ---
  r.template add<SortedVectorRow>();  // the baseline of the static table's ratios
#if MEMKV_BENCH_HAVE_FRONT_CODED
  r.template add<FrontCodedRow>();
  r.template add<FrontCodedSetRow>();
#endif
#if MEMKV_BENCH_HAVE_FROZEN_LAYER
  r.template add<FrozenLayerRow>();
#endif
#if MEMKV_BENCH_HAVE_MARISA
  r.template add<MarisaRow>();
#else
  r.skip("marisa-trie", "libmarisa-dev (marisa.h, libmarisa) not found by CMake");
#endif
}

}  // namespace memkv_bench
