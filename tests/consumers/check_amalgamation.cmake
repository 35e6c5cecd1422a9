cmake_minimum_required(VERSION 3.20)
# "Amalgamation required": regenerate the single header into the build tree and fail when the
# checked-in single_include/memkv/memkv.hpp differs.
#   cmake -DSOURCE_DIR=<memkv> -DOUTPUT=<file> -P check_amalgamation.cmake
include(${CMAKE_CURRENT_LIST_DIR}/drivers.cmake)
file(REMOVE "${OUTPUT}")
memkv_run("amalgamation" ${CMAKE_COMMAND} "-DOUTPUT=${OUTPUT}" -P "${SOURCE_DIR}/cmake/amalgamate.cmake")
set(checked_in "${SOURCE_DIR}/single_include/memkv/memkv.hpp")
execute_process(COMMAND ${CMAKE_COMMAND} -E compare_files "${checked_in}" "${OUTPUT}"
                RESULT_VARIABLE differs)
if(differs)
  find_program(DIFF diff)
  if(DIFF)
    execute_process(COMMAND ${DIFF} -u "${checked_in}" "${OUTPUT}" OUTPUT_VARIABLE d)
    string(SUBSTRING "${d}" 0 4000 d)
    message("${d}")
  endif()
  message(FATAL_ERROR "single_include/memkv/memkv.hpp is out of date (amalgamation required): "
                      "run `cmake -P cmake/amalgamate.cmake` and commit the result")
endif()
message(STATUS "single_include/memkv/memkv.hpp is up to date")
