# Included right after find_package(xsimd), by memkv's CMakeLists and by the installed
# memkvConfig.cmake.
#
# Debian 12's xsimd 8.1 (libxsimd-dev) was built with xtl support: its imported target `xsimd`
# lists `xtl` in INTERFACE_LINK_LIBRARIES, but xsimdConfig.cmake never looks for xtl. Unless
# something defines a target named xtl, every program linking xsimd gets `-lxtl` and fails to
# link ("cannot find -lxtl"); xtl is header-only and the xsimd headers memkv uses do not need it.
# So: use the real xtl package when it is installed, otherwise drop the dangling link item.
if(TARGET xsimd AND NOT TARGET xtl)
  get_target_property(_memkv_xsimd_links xsimd INTERFACE_LINK_LIBRARIES)
  if(_memkv_xsimd_links AND "xtl" IN_LIST _memkv_xsimd_links)
    find_package(xtl CONFIG QUIET)
    if(NOT TARGET xtl)
      list(REMOVE_ITEM _memkv_xsimd_links xtl)
      set_property(TARGET xsimd PROPERTY INTERFACE_LINK_LIBRARIES "${_memkv_xsimd_links}")
    endif()
  endif()
  unset(_memkv_xsimd_links)
endif()
