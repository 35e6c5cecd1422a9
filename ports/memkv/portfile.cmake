# vcpkg port of memkv (header-only).
#
# As an overlay port from a checkout, it builds that checkout:
#   vcpkg install memkv --overlay-ports=<memkv>/ports
# Copied into a registry (no checkout two levels up), it downloads the release tag instead: memkv
# has no published repository yet, so REPO is a placeholder to set, with SHA512, when it has one.
set(VCPKG_BUILD_TYPE release)   # header-only: one configuration, nothing architecture-dependent

get_filename_component(MEMKV_CHECKOUT "${CMAKE_CURRENT_LIST_DIR}/../.." ABSOLUTE)
if(EXISTS "${MEMKV_CHECKOUT}/include/memkv" AND EXISTS "${MEMKV_CHECKOUT}/CMakeLists.txt")
  set(SOURCE_PATH "${MEMKV_CHECKOUT}")
else()
  vcpkg_from_github(
    OUT_SOURCE_PATH SOURCE_PATH
    REPO memkv/memkv
    REF "v${VERSION}"
    SHA512 0
    HEAD_REF main
  )
endif()

vcpkg_cmake_configure(
  SOURCE_PATH "${SOURCE_PATH}"
  OPTIONS
    -DMEMKV_BUILD_TESTS=OFF
    -DMEMKV_BUILD_BENCH=OFF
    -DMEMKV_BUILD_EXAMPLES=OFF
    -DMEMKV_INSTALL=ON
)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/memkv)
vcpkg_fixup_pkgconfig()

# memkv installs its own copy of the license under share/licenses; vcpkg wants share/memkv/copyright.
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/share/licenses" "${CURRENT_PACKAGES_DIR}/debug"
                    "${CURRENT_PACKAGES_DIR}/lib")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
