# memkv_dev_flags: an INTERFACE target that every memkv test, benchmark and example links
# (target_link_libraries(my_test PRIVATE memkv::memkv memkv_dev_flags)). Never installed or
# exported: it carries this repository's development flags, not the library's usage requirements.
#
#   - warnings (-Wall -Wextra), no -Werror;
#   - MEMKV_SANITIZE=ON: AddressSanitizer + UndefinedBehaviorSanitizer, every report fatal
#     (-fno-sanitize-recover=all), frame pointers kept for readable stacks.
if(TARGET memkv_dev_flags)
  return()
endif()

add_library(memkv_dev_flags INTERFACE)
target_compile_features(memkv_dev_flags INTERFACE cxx_std_20)

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  target_compile_options(memkv_dev_flags INTERFACE -Wall -Wextra)
endif()

if(MEMKV_SANITIZE)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
    message(FATAL_ERROR "MEMKV_SANITIZE needs GCC or Clang (compiler: ${CMAKE_CXX_COMPILER_ID})")
  endif()
  set(_memkv_sanitize_flags
      -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer)
  target_compile_options(memkv_dev_flags INTERFACE ${_memkv_sanitize_flags})
  target_link_options(memkv_dev_flags INTERFACE ${_memkv_sanitize_flags})
  unset(_memkv_sanitize_flags)
  message(STATUS "memkv: tests, benchmarks and examples built with ASan + UBSan")
endif()
