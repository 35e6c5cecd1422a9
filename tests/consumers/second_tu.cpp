// A second translation unit including the same headers: linking it with consumer_main.cpp proves
// that every function defined in a memkv header is inline (no multiple-definition errors).
#if defined(MEMKV_CONSUMER_SINGLE_HEADER)
#include <memkv/memkv.hpp>
#elif defined(MEMKV_CONSUMER_ALL_HEADERS)
#include MEMKV_CONSUMER_ALL_HEADERS
#else
#include <memkv/fast_art.hpp>
#endif

int memkv_consumer_second_tu() {
  memkv::FastArt<> map;
  map.insert("second translation unit", 2);
  return static_cast<int>(map.size());
}
