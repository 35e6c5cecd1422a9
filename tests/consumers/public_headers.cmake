# memkv_public_headers(<out-var> <include-dir>): every public memkv header, as the spelling a user
# writes (memkv/fast_art.hpp, memkv/core/error.hpp, ...), sorted. Public means every *.hpp under
# <include-dir>/memkv outside a detail/ directory, found by glob: a header that lands tomorrow is
# checked tomorrow with no edit here.
function(memkv_public_headers out include_dir)
  file(GLOB_RECURSE files LIST_DIRECTORIES false RELATIVE "${include_dir}" "${include_dir}/memkv/*.hpp")
  list(FILTER files EXCLUDE REGEX "(^|/)detail/")
  list(SORT files)
  if(NOT files)
    message(FATAL_ERROR "no public headers under ${include_dir}/memkv")
  endif()
  set(${out} "${files}" PARENT_SCOPE)
endfunction()

# memkv_write_all_headers(<file> <include-dir>): a header that #includes every public header.
function(memkv_write_all_headers file include_dir)
  memkv_public_headers(headers "${include_dir}")
  set(text "// Generated at configure time: every public header under ${include_dir}/memkv.\n#pragma once\n")
  foreach(h IN LISTS headers)
    string(APPEND text "#include <${h}>\n")
  endforeach()
  file(CONFIGURE OUTPUT "${file}" CONTENT "${text}" @ONLY)   # rewritten only when it changes
endfunction()
