# What `cmake --install` adds beside the libraries, headers and the CLI (each
# installed where it is defined): the CMake package (vaticConfig.cmake, its
# version file and the exported targets) under lib/cmake/vatic/, and
# lib/pkgconfig/vatic.pc.
include(CMakePackageConfigHelpers)

get_property(VATIC_MODULES GLOBAL PROPERTY VATIC_MODULES)
set(VATIC_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/vatic)

install(EXPORT vaticTargets NAMESPACE vatic:: DESTINATION ${VATIC_CMAKE_DIR} COMPONENT Development)
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/vaticConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vaticConfig.cmake INSTALL_DESTINATION ${VATIC_CMAKE_DIR})
# Before 1.0 every minor release may break the API: 0.2.x satisfies a request
# for 0.2, not one for 0.1. From 1.0 on, the major number decides.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(compatibility SameMinorVersion)
else()
  set(compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vaticConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${compatibility})
install(FILES ${PROJECT_BINARY_DIR}/vaticConfig.cmake ${PROJECT_BINARY_DIR}/vaticConfigVersion.cmake
  DESTINATION ${VATIC_CMAKE_DIR} COMPONENT Development)

# vatic.pc locates itself (${pcfiledir}), so that the prefix given to
# `cmake --install --prefix` need not be known when configuring.
file(RELATIVE_PATH VATIC_PC_TO_PREFIX /prefix/${CMAKE_INSTALL_LIBDIR}/pkgconfig /prefix)
string(REGEX REPLACE "/$" "" VATIC_PC_TO_PREFIX "${VATIC_PC_TO_PREFIX}")
set(VATIC_PC_LIBS "")
foreach(module IN LISTS VATIC_MODULES)
  string(PREPEND VATIC_PC_LIBS "-lvatic_${module} ")  # higher layers first
endforeach()
configure_file(${CMAKE_CURRENT_LIST_DIR}/vatic.pc.in ${PROJECT_BINARY_DIR}/vatic.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vatic.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig COMPONENT Development)
