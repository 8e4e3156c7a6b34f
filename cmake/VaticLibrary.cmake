# vatic_add_library(MODULE SOURCES src...
#                   [MODULES lower-module...]   other vatic modules this one builds on (public)
#                   [PUBLIC dep...] [PRIVATE dep...]
#                   [PUBLIC_DEFINITIONS def...] [BUILD_INCLUDES dir...]
#                   [INSTALL_INTERNAL_HEADERS])
#
# One module, compiled once: its sources become position-independent objects
# (vatic_MODULE_objects), and both libraries are made from those objects:
#
#   vatic_MODULE          static, libvatic_MODULE.a; in the tree `vatic::MODULE`
#                         names it (tests, tools and examples link it)
#   vatic_MODULE_shared   shared, libvatic_MODULE.so.0.MINOR, unless VATIC_SHARED is OFF
#
# Installed, they are the imported targets vatic::MODULE_static and
# vatic::MODULE_shared, and vatic::MODULE is the one a consumer asked for
# (cmake/vaticConfig.cmake.in). The headers under MODULE/ are installed to
# include/MODULE/, without MODULE/internal/ unless INSTALL_INTERNAL_HEADERS
# (vat's public templates need vat/internal/). BUILD_INCLUDES are include
# directories the tree needs and an installed package must not (generated code).
function(vatic_add_library module)
  cmake_parse_arguments(PARSE_ARGV 1 arg "INSTALL_INTERNAL_HEADERS" ""
                        "SOURCES;MODULES;PUBLIC;PRIVATE;PUBLIC_DEFINITIONS;BUILD_INCLUDES")
  set(objects vatic_${module}_objects)
  add_library(${objects} OBJECT ${arg_SOURCES})
  # PIC so that the shared library can use the same objects, at no cost to
  # the hot paths:
  # - without -fno-semantic-interposition, GCC must assume any exported
  #   function may be replaced at load time (LD_PRELOAD) and stops inlining
  #   calls between them (clang assumes it already);
  # - PIC's default TLS model calls __tls_get_addr on every access to a
  #   thread_local (the message pool's free lists, the current vat, promise
  #   settlement: every send). initial-exec reads them at a fixed offset from
  #   the thread pointer, as an executable does. It needs the library's TLS
  #   (about 300 bytes) in the static TLS block: always so when the library is
  #   linked, and within glibc's reserve (512 bytes) when it is dlopen()ed.
  set_target_properties(${objects} PROPERTIES POSITION_INDEPENDENT_CODE ON)
  target_compile_options(${objects} PRIVATE
    "$<$<CXX_COMPILER_ID:GNU,Clang>:-fno-semantic-interposition;-ftls-model=initial-exec>")

  set(variants static)
  if(VATIC_SHARED)
    list(APPEND variants shared)
  endif()
  foreach(variant objects ${variants})
    if(variant STREQUAL "objects")
      set(lib ${objects})
      set(suffix "")  # objects compile against the static siblings' usage requirements
    elseif(variant STREQUAL "static")
      set(lib vatic_${module})
      set(suffix "")
      add_library(${lib} STATIC $<TARGET_OBJECTS:${objects}>)
    else()
      set(lib vatic_${module}_shared)
      set(suffix "_shared")
      add_library(${lib} SHARED $<TARGET_OBJECTS:${objects}>)
      set_target_properties(${lib} PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${VATIC_SOVERSION}
                                              INSTALL_RPATH "$ORIGIN")
    endif()
    if(NOT variant STREQUAL "objects")
      set_target_properties(${lib} PROPERTIES OUTPUT_NAME vatic_${module} EXPORT_NAME ${module}_${variant})
      add_library(vatic::${module}_${variant} ALIAS ${lib})
    endif()
    target_compile_features(${lib} PUBLIC cxx_std_20)
    target_include_directories(${lib} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>
                                             $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
    foreach(dir IN LISTS arg_BUILD_INCLUDES)
      target_include_directories(${lib} PUBLIC $<BUILD_INTERFACE:${dir}>)
    endforeach()
    target_compile_definitions(${lib} PUBLIC ${arg_PUBLIC_DEFINITIONS})
    foreach(lower IN LISTS arg_MODULES)
      target_link_libraries(${lib} PUBLIC vatic_${lower}${suffix})
    endforeach()
    target_link_libraries(${lib} PUBLIC ${arg_PUBLIC} PRIVATE ${arg_PRIVATE})
  endforeach()
  add_library(vatic::${module} ALIAS vatic_${module})

  list(TRANSFORM variants PREPEND vatic_${module}_ OUTPUT_VARIABLE installed)
  list(TRANSFORM installed REPLACE "_static$" "")
  install(TARGETS ${installed} EXPORT vaticTargets
    ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Development
    LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT Runtime NAMELINK_COMPONENT Development)
  if(arg_INSTALL_INTERNAL_HEADERS)
    set(exclude "")
  else()
    set(exclude PATTERN internal EXCLUDE)
  endif()
  # By directory and pattern, read at install time: a header that moves into
  # or out of internal/ needs no edit here.
  install(DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/${module}
    COMPONENT Development FILES_MATCHING PATTERN "*.h" ${exclude})
  set_property(GLOBAL APPEND PROPERTY VATIC_MODULES ${module})
endfunction()
