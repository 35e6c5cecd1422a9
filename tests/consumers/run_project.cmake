cmake_minimum_required(VERSION 3.20)
# Configure, build and run one consumer project from scratch.
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DGENERATOR=... -DCXX_COMPILER=...
#         [-DCONFIGURE_ARGS=a|b] [-DRUN=exe1|exe2] [-DEXPECT_CONFIGURE_FAILURE=<regex>]
#         [-DEXPECT_NOTHING_INSTALLED=ON] -P run_project.cmake
include(${CMAKE_CURRENT_LIST_DIR}/drivers.cmake)
memkv_split(CONFIGURE_ARGS)
memkv_split(RUN)
memkv_configure_args(common)

file(REMOVE_RECURSE "${BINARY_DIR}")
execute_process(
  COMMAND ${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${BINARY_DIR}" ${common} ${CONFIGURE_ARGS}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
message("${out}")
if(DEFINED EXPECT_CONFIGURE_FAILURE)
  if(rc EQUAL 0)
    message(FATAL_ERROR "packaging check: configuring ${SOURCE_DIR} succeeded but must fail")
  endif()
  string(REGEX REPLACE "[ \t\r\n]+" " " flat "${out}")   # CMake wraps its messages
  if(NOT flat MATCHES "${EXPECT_CONFIGURE_FAILURE}")
    message(FATAL_ERROR "packaging check: configure failed, but not with /${EXPECT_CONFIGURE_FAILURE}/")
  endif()
  message(STATUS "configure failed as it must")
  return()
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "packaging check: configuring ${SOURCE_DIR} failed")
endif()

memkv_run("build" ${CMAKE_COMMAND} --build "${BINARY_DIR}" -j 2)
foreach(exe IN LISTS RUN)
  memkv_run("running ${exe}" "${BINARY_DIR}/${exe}")
endforeach()

if(EXPECT_NOTHING_INSTALLED)
  set(prefix "${BINARY_DIR}/install-probe")
  memkv_run("install" ${CMAKE_COMMAND} --install "${BINARY_DIR}" --prefix "${prefix}")
  file(GLOB_RECURSE installed "${prefix}/*")
  if(installed)
    message(FATAL_ERROR "packaging check: the subproject installed files into its parent: ${installed}")
  endif()
  execute_process(COMMAND ${CMAKE_CTEST_COMMAND} -N WORKING_DIRECTORY "${BINARY_DIR}"
                  OUTPUT_VARIABLE out)
  if(NOT out MATCHES "Total Tests: 0")
    message(FATAL_ERROR "packaging check: the subproject registered CTest tests:\n${out}")
  endif()
endif()
