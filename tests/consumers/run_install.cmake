cmake_minimum_required(VERSION 3.20)
# Install memkv the way the vcpkg port and the Conan recipe do (tests, benchmarks and examples
# off), check the installed tree, then move it to another prefix (installs must be relocatable;
# package managers move them) and check pkg-config there.
#   cmake -DSOURCE_DIR=<memkv> -DWORK_DIR=<dir> -DPREFIX=<final prefix> -DGENERATOR=...
#         -DCXX_COMPILER=... -DVERSION=x.y.z -P run_install.cmake
include(${CMAKE_CURRENT_LIST_DIR}/drivers.cmake)
include(${CMAKE_CURRENT_LIST_DIR}/public_headers.cmake)
memkv_configure_args(common)

set(build "${WORK_DIR}/build")
set(staging "${WORK_DIR}/staging")
file(REMOVE_RECURSE "${build}" "${staging}" "${PREFIX}")

memkv_run("configure" ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${build}" ${common}
  -DCMAKE_BUILD_TYPE=Release -DMEMKV_BUILD_TESTS=OFF -DMEMKV_BUILD_BENCH=OFF
  -DMEMKV_BUILD_EXAMPLES=OFF "-DCMAKE_INSTALL_PREFIX=${staging}")
memkv_run("build" ${CMAKE_COMMAND} --build "${build}")
memkv_run("install" ${CMAKE_COMMAND} --install "${build}")

# The layout: exactly the headers, the CMake package, memkv.pc and the license. Nothing
# architecture-dependent (no lib/, no bin/), as a header-only package should be.
file(GLOB_RECURSE source_headers LIST_DIRECTORIES false RELATIVE "${SOURCE_DIR}/include"
     "${SOURCE_DIR}/include/*.hpp" "${SOURCE_DIR}/include/*.h")
set(expected
  share/cmake/memkv/memkvConfig.cmake
  share/cmake/memkv/memkvConfigVersion.cmake
  share/cmake/memkv/memkvTargets.cmake
  share/cmake/memkv/memkvXsimdFixup.cmake
  share/pkgconfig/memkv.pc
  share/licenses/memkv/LICENSE)
foreach(h IN LISTS source_headers)
  list(APPEND expected "include/${h}")
  execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files
                  "${SOURCE_DIR}/include/${h}" "${staging}/include/${h}" RESULT_VARIABLE differs)
  if(differs)
    message(FATAL_ERROR "packaging check: include/${h} is not installed, or not as in the source")
  endif()
endforeach()
file(GLOB_RECURSE installed LIST_DIRECTORIES false RELATIVE "${staging}" "${staging}/*")
list(SORT expected)
list(SORT installed)
if(NOT installed STREQUAL expected)
  set(extra ${installed})
  list(REMOVE_ITEM extra ${expected})
  set(missing ${expected})
  list(REMOVE_ITEM missing ${installed})
  message(FATAL_ERROR "packaging check: install tree differs.\n  missing: ${missing}\n  unexpected: ${extra}")
endif()
list(LENGTH installed n)
message(STATUS "install tree ok: ${n} files")

# No absolute path of this machine may be baked into the package files.
foreach(f share/cmake/memkv/memkvConfig.cmake share/cmake/memkv/memkvTargets.cmake share/pkgconfig/memkv.pc)
  file(READ "${staging}/${f}" text)
  foreach(path IN ITEMS "${staging}" "${SOURCE_DIR}" "${build}")
    string(FIND "${text}" "${path}" at)
    if(NOT at EQUAL -1)
      message(FATAL_ERROR "packaging check: ${f} contains the absolute path ${path}")
    endif()
  endforeach()
endforeach()

# Relocate: the consumers use the moved copy; the original location is gone.
get_filename_component(parent "${PREFIX}" DIRECTORY)
file(MAKE_DIRECTORY "${parent}")
file(RENAME "${staging}" "${PREFIX}")
message(STATUS "moved the install tree to ${PREFIX}")

# pkg-config, from the moved tree: version, flags, and a program built with nothing else.
find_program(PKG_CONFIG NAMES pkg-config pkgconf)
if(PKG_CONFIG)
  set(ENV{PKG_CONFIG_PATH} "${PREFIX}/share/pkgconfig")
  execute_process(COMMAND ${PKG_CONFIG} --modversion memkv OUTPUT_VARIABLE pc_version
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0 OR NOT pc_version STREQUAL VERSION)
    message(FATAL_ERROR "packaging check: pkg-config --modversion memkv gave '${pc_version}', want ${VERSION}")
  endif()
  execute_process(COMMAND ${PKG_CONFIG} --cflags memkv OUTPUT_VARIABLE pc_cflags
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  set(pc_include "")
  if(pc_cflags MATCHES "-I([^ ]+)")
    file(REAL_PATH "${CMAKE_MATCH_1}" pc_include)
  endif()
  file(REAL_PATH "${PREFIX}/include" want_include)
  if(NOT rc EQUAL 0 OR NOT pc_include STREQUAL want_include)
    message(FATAL_ERROR "packaging check: pkg-config --cflags memkv gave '${pc_cflags}', want -I${want_include}")
  endif()
  message(STATUS "pkg-config: memkv ${pc_version}, cflags ${pc_cflags}")
  if(CXX_COMPILER)
    separate_arguments(pc_cflags UNIX_COMMAND "${pc_cflags}")
    memkv_public_headers(headers "${SOURCE_DIR}/include")
    set(all "${WORK_DIR}/pkg-config/memkv_all_headers.hpp")
    memkv_write_all_headers("${all}" "${SOURCE_DIR}/include")
    memkv_run("compile with pkg-config flags" ${CXX_COMPILER} -std=c++20 ${pc_cflags}
      "-DMEMKV_CONSUMER_ALL_HEADERS=\"${all}\""
      "${CMAKE_CURRENT_LIST_DIR}/consumer_main.cpp" "${CMAKE_CURRENT_LIST_DIR}/second_tu.cpp"
      -o "${WORK_DIR}/pkg-config/consumer")
    memkv_run("running the pkg-config consumer" "${WORK_DIR}/pkg-config/consumer")
  endif()
else()
  message(STATUS "pkg-config not found: memkv.pc not checked")
endif()
