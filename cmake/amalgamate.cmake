# amalgamate.cmake - generate single_include/memkv/memkv.hpp from every header under include/memkv.
#
#   cmake -P cmake/amalgamate.cmake                          # rewrite the checked-in copy
#   cmake -DOUTPUT=/tmp/memkv.hpp -P cmake/amalgamate.cmake  # write elsewhere (CI compares)
#
# Needs nothing but CMake. Every *.hpp under include/memkv is taken, found by glob, so a new header
# is in the amalgamation the day it lands. Starting from the umbrella include/memkv/memkv.hpp (when
# it exists), then the structure headers include/memkv/*.hpp, then everything else in name order,
# each header is inlined once, at its first #include, after the memkv headers it includes itself:
# dependency order. A memkv include is `#include "..."` (resolved next to the including file, then
# under include/) or `#include <memkv/...>`; it is replaced by the header's text the first time and
# dropped afterwards. Other includes (standard library, xsimd, mimalloc) stay where they are, so
# conditional ones keep their #if. `#pragma once` lines are dropped; the output has one.
# Each inlined header is framed by `// ---- begin memkv/<path> ----` / `// ---- end ... ----`
# comments; the packaging checks use them to prove that every header made it in.
cmake_minimum_required(VERSION 3.20)

get_filename_component(memkv_root "${CMAKE_CURRENT_LIST_DIR}/.." ABSOLUTE)
set(include_root "${memkv_root}/include")
if(NOT DEFINED OUTPUT)
  set(OUTPUT "${memkv_root}/single_include/memkv/memkv.hpp")
endif()

# Version from the top-level project() call, so the banner never disagrees with the package.
file(READ "${memkv_root}/CMakeLists.txt" top_cmake)
if(top_cmake MATCHES "project\\(memkv[ \t\r\n]+VERSION[ \t\r\n]+([0-9]+\\.[0-9]+\\.[0-9]+)")
  set(memkv_version "${CMAKE_MATCH_1}")
else()
  message(FATAL_ERROR "amalgamate: no project(memkv VERSION x.y.z) in ${memkv_root}/CMakeLists.txt")
endif()

# CMake lists split on ';' and treat '\;' and '[...]' specially: before cutting a file into lines,
# those bytes become control characters that C++ sources never contain, and come back on output.
string(ASCII 1 esc_semicolon)
string(ASCII 2 esc_backslash)
string(ASCII 3 esc_open)
string(ASCII 4 esc_close)

function(memkv_emit text)
  string(REPLACE "${esc_semicolon}" ";" text "${text}")
  string(REPLACE "${esc_backslash}" "\\" text "${text}")
  string(REPLACE "${esc_open}" "[" text "${text}")
  string(REPLACE "${esc_close}" "]" text "${text}")
  set_property(GLOBAL APPEND_STRING PROPERTY memkv_amalgamation "${text}")
endfunction()

# Absolute path of the memkv header that `#include <spelling>` in `from_dir` names, or "".
function(memkv_resolve out delimiter spelling from_dir)
  set(candidates "")
  if(delimiter STREQUAL "\"")
    list(APPEND candidates "${from_dir}/${spelling}" "${include_root}/${spelling}")
  elseif(spelling MATCHES "^memkv/")
    list(APPEND candidates "${include_root}/${spelling}")
  endif()
  foreach(candidate IN LISTS candidates)
    get_filename_component(candidate "${candidate}" ABSOLUTE)
    string(FIND "${candidate}" "${include_root}/memkv/" at)
    if(at EQUAL 0 AND EXISTS "${candidate}" AND NOT IS_DIRECTORY "${candidate}")
      set(${out} "${candidate}" PARENT_SCOPE)
      return()
    endif()
  endforeach()
  if(spelling MATCHES "^memkv/" OR delimiter STREQUAL "\"")
    message(FATAL_ERROR "amalgamate: cannot resolve #include ${delimiter}${spelling} in ${from_dir}")
  endif()
  set(${out} "" PARENT_SCOPE)
endfunction()

function(memkv_inline path)
  get_property(done GLOBAL PROPERTY memkv_inlined)
  if(path IN_LIST done)
    return()
  endif()
  set_property(GLOBAL APPEND PROPERTY memkv_inlined "${path}")
  file(RELATIVE_PATH name "${include_root}" "${path}")
  get_filename_component(dir "${path}" DIRECTORY)

  file(READ "${path}" content)
  string(REPLACE "\r\n" "\n" content "${content}")
  string(REGEX REPLACE "\n$" "" content "${content}")
  string(REPLACE ";" "${esc_semicolon}" content "${content}")
  string(REPLACE "\\" "${esc_backslash}" content "${content}")
  string(REPLACE "[" "${esc_open}" content "${content}")
  string(REPLACE "]" "${esc_close}" content "${content}")
  string(REPLACE "\n" ";" lines "${content}")

  set(chunk "// ---- begin ${name} ----\n")
  foreach(line IN LISTS lines)
    if(line MATCHES "^[ \t]*#[ \t]*pragma[ \t]+once")
      continue()
    endif()
    if(line MATCHES "^[ \t]*#[ \t]*include[ \t]*([<\"])([^>\"]+)[>\"]")
      set(delimiter "${CMAKE_MATCH_1}")
      set(spelling "${CMAKE_MATCH_2}")
      memkv_resolve(target "${delimiter}" "${spelling}" "${dir}")
      if(target)
        memkv_emit("${chunk}")
        set(chunk "")
        memkv_inline("${target}")   # no-op when already inlined: the include line is dropped
        continue()
      endif()
    endif()
    string(APPEND chunk "${line}\n")
  endforeach()
  string(APPEND chunk "// ---- end ${name} ----\n")
  memkv_emit("${chunk}")
endfunction()

# Roots: the umbrella (if any), the structure headers, then every other header, each sorted.
file(GLOB top_headers LIST_DIRECTORIES false "${include_root}/memkv/*.hpp")
file(GLOB_RECURSE all_headers LIST_DIRECTORIES false "${include_root}/memkv/*.hpp")
list(SORT top_headers)
list(SORT all_headers)
set(roots "")
if(EXISTS "${include_root}/memkv/memkv.hpp")
  list(APPEND roots "${include_root}/memkv/memkv.hpp")
endif()
list(APPEND roots ${top_headers} ${all_headers})
list(REMOVE_DUPLICATES roots)
list(LENGTH all_headers header_count)
if(header_count EQUAL 0)
  message(FATAL_ERROR "amalgamate: no headers under ${include_root}/memkv")
endif()

set_property(GLOBAL PROPERTY memkv_inlined "")
set_property(GLOBAL PROPERTY memkv_amalgamation "")
foreach(root IN LISTS roots)
  memkv_inline("${root}")
endforeach()
get_property(body GLOBAL PROPERTY memkv_amalgamation)

set(banner "// memkv ${memkv_version} - single-header edition. SPDX-License-Identifier: MIT
// Copyright (c) 2026 memkv authors. See LICENSE.
//
// GENERATED by cmake/amalgamate.cmake from the ${header_count} headers under include/memkv.
// Do not edit: change include/memkv/ and regenerate with `cmake -P cmake/amalgamate.cmake`.
// Needs C++20 and xsimd (Debian: libxsimd-dev) on the include path.
#pragma once
")
set(text "${banner}${body}")

# Rewrite only when the content changes, so build systems do not see a new timestamp for nothing.
set(old "")
if(EXISTS "${OUTPUT}")
  file(READ "${OUTPUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUTPUT}" "${text}")
endif()
message(STATUS "amalgamate: ${header_count} headers -> ${OUTPUT}")
