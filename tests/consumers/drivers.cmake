cmake_minimum_required(VERSION 3.20)
# Helpers shared by the packaging-check scripts (run with cmake -P by CTest).

# memkv_run(<what> COMMAND...): run a command, print its output, fail the test if it fails.
function(memkv_run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  message("${out}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "packaging check: ${what} failed (${rc}): ${ARGN}")
  endif()
endfunction()

# memkv_split(<var>): the test command lines pass lists with '|' separators; make them lists.
macro(memkv_split var)
  if(DEFINED ${var})
    string(REPLACE "|" ";" ${var} "${${var}}")
  endif()
endmacro()

# Arguments common to every nested configure: same generator and compiler as the outer build.
function(memkv_configure_args out)
  set(args -G "${GENERATOR}")
  if(CXX_COMPILER)
    list(APPEND args "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}")
  endif()
  set(${out} "${args}" PARENT_SCOPE)
endfunction()
