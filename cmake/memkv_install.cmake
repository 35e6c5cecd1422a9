# Install rules and the CMake package (included from the top-level CMakeLists when MEMKV_INSTALL).
#
# Layout (header-only, so architecture-independent; this is what vcpkg and Conan rely on):
#   <prefix>/include/memkv/**.hpp                 every header under include/memkv, found by glob
#   <prefix>/share/cmake/memkv/memkvConfig.cmake  find_package(memkv CONFIG), finds xsimd
#   <prefix>/share/cmake/memkv/memkvConfigVersion.cmake   SameMajorVersion, ARCH_INDEPENDENT
#   <prefix>/share/cmake/memkv/memkvTargets.cmake  the imported target memkv::memkv
#   <prefix>/share/cmake/memkv/memkvXsimdFixup.cmake  repairs Debian 12's xsimd package
#   <prefix>/share/pkgconfig/memkv.pc             pkg-config --cflags memkv
#   <prefix>/share/licenses/memkv/LICENSE
include(CMakePackageConfigHelpers)

set(MEMKV_INSTALL_CMAKEDIR "${CMAKE_INSTALL_DATADIR}/cmake/memkv"
    CACHE STRING "Where memkvConfig.cmake is installed, relative to the prefix")
set(MEMKV_INSTALL_PKGCONFIGDIR "${CMAKE_INSTALL_DATADIR}/pkgconfig"
    CACHE STRING "Where memkv.pc is installed, relative to the prefix")

# The whole include/ tree: a new header is installed the day it lands, with no edit here.
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/"
        DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}"
        FILES_MATCHING PATTERN "*.hpp" PATTERN "*.h")

install(TARGETS memkv EXPORT memkvTargets)
install(EXPORT memkvTargets
        NAMESPACE memkv::
        DESTINATION "${MEMKV_INSTALL_CMAKEDIR}")

configure_package_config_file(
  "${PROJECT_SOURCE_DIR}/cmake/memkvConfig.cmake.in"
  "${PROJECT_BINARY_DIR}/memkvConfig.cmake"
  INSTALL_DESTINATION "${MEMKV_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
  "${PROJECT_BINARY_DIR}/memkvConfigVersion.cmake"
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMajorVersion
  ARCH_INDEPENDENT)
install(FILES "${PROJECT_BINARY_DIR}/memkvConfig.cmake"
              "${PROJECT_BINARY_DIR}/memkvConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/memkvXsimdFixup.cmake"
        DESTINATION "${MEMKV_INSTALL_CMAKEDIR}")

# memkv.pc finds the prefix relative to itself (${pcfiledir}), so the tree stays relocatable.
file(RELATIVE_PATH MEMKV_PC_PREFIX_FROM_PCFILEDIR
     "/memkv-prefix/${MEMKV_INSTALL_PKGCONFIGDIR}" "/memkv-prefix")
string(REGEX REPLACE "/$" "" MEMKV_PC_PREFIX_FROM_PCFILEDIR "${MEMKV_PC_PREFIX_FROM_PCFILEDIR}")
configure_file("${PROJECT_SOURCE_DIR}/cmake/memkv.pc.in" "${PROJECT_BINARY_DIR}/memkv.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/memkv.pc" DESTINATION "${MEMKV_INSTALL_PKGCONFIGDIR}")

install(FILES "${PROJECT_SOURCE_DIR}/LICENSE"
        DESTINATION "${CMAKE_INSTALL_DATADIR}/licenses/memkv")
