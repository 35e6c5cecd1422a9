// memkv/memkv.hpp - every public memkv header at once.
//
//   FastArt<V, Alloc>       adaptive radix tree, 64-bit tagged pointers      (fast_art.hpp)
//   ArenaArt<V>             the same tree in an arena, 32-bit references      (arena_art.hpp)
//   HotArt<V, Alloc>        height optimized trie                             (hot_art.hpp)
//   FrontCodedIndex<V>      immutable sorted, front-coded buckets             (front_coded_index.hpp)
//   FrozenLayer             immutable FST map, keys -> uint64                 (frozen_layer.hpp)
//   HybridStore<V>          FrozenLayer base + FastArt delta, mutable         (hybrid_store.hpp)
#pragma once

#include "core/allocator.hpp"
#include "core/arena.hpp"
#include "core/entry.hpp"
#include "core/error.hpp"
#include "core/file_io.hpp"
#include "core/huge_pages.hpp"
#include "core/key.hpp"
#include "core/simd.hpp"
#include "core/tagged_ptr.hpp"
#include "core/varint.hpp"

#include "arena_art.hpp"
#include "fast_art.hpp"
#include "front_coded_index.hpp"
#include "frozen_layer.hpp"
#include "hot_art.hpp"
#include "hybrid_store.hpp"
