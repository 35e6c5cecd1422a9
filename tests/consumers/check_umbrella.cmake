cmake_minimum_required(VERSION 3.20)
# The umbrella header include/memkv/memkv.hpp (when there is one) includes every structure header
# include/memkv/*.hpp, so `#include <memkv/memkv.hpp>` means the same with the regular headers as
# with the single header.
#   cmake -DSOURCE_DIR=<memkv> -P check_umbrella.cmake
set(umbrella "${SOURCE_DIR}/include/memkv/memkv.hpp")
if(NOT EXISTS "${umbrella}")
  message(STATUS "no umbrella header: nothing to check")
  return()
endif()
file(READ "${umbrella}" text)
file(GLOB structures LIST_DIRECTORIES false RELATIVE "${SOURCE_DIR}/include/memkv"
     "${SOURCE_DIR}/include/memkv/*.hpp")
list(REMOVE_ITEM structures memkv.hpp)
set(missing "")
foreach(h IN LISTS structures)
  string(REPLACE "." "\\." re "${h}")
  if(NOT text MATCHES "#[ \t]*include[ \t]*[<\"](memkv/)?${re}[>\"]")
    list(APPEND missing "${h}")
  endif()
endforeach()
if(missing)
  message(FATAL_ERROR "include/memkv/memkv.hpp does not include: ${missing}")
endif()
message(STATUS "the umbrella header includes all ${structures}")
