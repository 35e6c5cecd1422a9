// memkv/memkv.hpp - every public memkv header at once.
#pragma once

#include "core/allocator.hpp"
#include "core/entry.hpp"
#include "core/error.hpp"
#include "core/key.hpp"
#include "core/simd.hpp"
#include "core/tagged_ptr.hpp"
#include "fast_art.hpp"
