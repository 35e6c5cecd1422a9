cmake_minimum_required(VERSION 3.20)
# The single header on its own: every header under include/memkv is in it, and a program built
# with nothing but the compiler, -std=c++20 and xsimd's include directory runs.
#   cmake -DSOURCE_DIR=<memkv> -DWORK_DIR=<dir> -DCXX_COMPILER=<c++> [-DXSIMD_INCLUDE_DIRS=a|b]
#         -P run_single_header.cmake
include(${CMAKE_CURRENT_LIST_DIR}/drivers.cmake)
memkv_split(XSIMD_INCLUDE_DIRS)

set(single "${SOURCE_DIR}/single_include/memkv/memkv.hpp")
if(NOT EXISTS "${single}")
  message(FATAL_ERROR "packaging check: ${single} is missing: run cmake -P cmake/amalgamate.cmake")
endif()
file(READ "${single}" text)
file(GLOB_RECURSE headers LIST_DIRECTORIES false RELATIVE "${SOURCE_DIR}/include"
     "${SOURCE_DIR}/include/memkv/*.hpp")
foreach(h IN LISTS headers)
  string(FIND "${text}" "// ---- begin ${h} ----" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "packaging check: ${h} is not in single_include/memkv/memkv.hpp: "
                        "run cmake -P cmake/amalgamate.cmake")
  endif()
endforeach()
list(LENGTH headers n)
message(STATUS "single header holds all ${n} headers")

# Nothing but the compiler: xsimd's directory only if it is not a system one (an explicit
# -I/usr/include would break libstdc++'s #include_next).
set(include_flags "-I${SOURCE_DIR}/single_include")
foreach(dir IN LISTS XSIMD_INCLUDE_DIRS)
  if(NOT dir MATCHES "^/usr(/local)?/include/?$")
    list(APPEND include_flags "-I${dir}")
  endif()
endforeach()
file(MAKE_DIRECTORY "${WORK_DIR}")
memkv_run("compiling against the single header" ${CXX_COMPILER} -std=c++20 -O1
  -DMEMKV_CONSUMER_SINGLE_HEADER ${include_flags}
  "${CMAKE_CURRENT_LIST_DIR}/consumer_main.cpp" "${CMAKE_CURRENT_LIST_DIR}/second_tu.cpp"
  -o "${WORK_DIR}/consumer")
memkv_run("running the single-header consumer" "${WORK_DIR}/consumer")
