#include <memkv/fast_art.hpp>

#include <cstdio>

int main() {
  memkv::FastArt<> map;
  map.insert("conan", 1);
  map.insert("conan-center", 2);
  std::size_t n = 0;
  for (const auto& entry : map.prefix("conan")) n += entry.value;
  std::printf("memkv: %zu keys, %zu bytes\n", map.size(), map.memory_usage());
  return n == 3 ? 0 : 1;
}
