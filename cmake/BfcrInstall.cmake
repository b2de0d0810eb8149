# Installed package: headers (with the generated version.h), libbfcr, the apps (installed
# by apps/CMakeLists.txt with RPATH $ORIGIN/../<libdir>), a CMake package
# (find_package(bfcr) -> bfcr::bfcr) and a relocatable pkg-config file (bfcr.pc).
# Usage: cmake --install build --prefix /opt/bfcr   (see docs/install.md)
# The guard against an install into the default prefix is cmake/BfcrInstallGuard.cmake,
# included before any subdirectory so that it runs before every install rule.
include(CMakePackageConfigHelpers)

set(BFCR_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/bfcr)
set(BFCR_PC_DIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/bfcr DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/bfcr/version.h
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bfcr)

# A static libbfcr carries its private dependencies into the consumer's link: the GSL
# interface target must then be exported too (the imported MPI, OpenMP and pkg-config
# targets are recreated by bfcrConfig.cmake).
set(BFCR_EXPORTED_TARGETS bfcr)
if(NOT BUILD_SHARED_LIBS)
  list(APPEND BFCR_EXPORTED_TARGETS bfcr_gsl bfcr_svm)
endif()
install(TARGETS ${BFCR_EXPORTED_TARGETS} EXPORT bfcrTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT bfcrTargets NAMESPACE bfcr:: DESTINATION ${BFCR_CMAKE_DIR})

# CMake package. 0.x releases may change the API between minor versions.
set(BFCR_SHARED ${BUILD_SHARED_LIBS})
if(NOT BFCR_SHARED)
  set(BFCR_SHARED OFF)
endif()
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/bfcrConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bfcrConfig.cmake INSTALL_DESTINATION ${BFCR_CMAKE_DIR})
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(BFCR_COMPAT SameMinorVersion)
else()
  set(BFCR_COMPAT SameMajorVersion)
endif()
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bfcrConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${BFCR_COMPAT})
install(FILES ${PROJECT_BINARY_DIR}/bfcrConfig.cmake ${PROJECT_BINARY_DIR}/bfcrConfigVersion.cmake
  DESTINATION ${BFCR_CMAKE_DIR})

# pkg-config: prefix relative to the .pc file's folder, so the tree can be moved.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}" OR IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(BFCR_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(BFCR_PC_LIBDIR "${CMAKE_INSTALL_FULL_LIBDIR}")
  set(BFCR_PC_INCLUDEDIR "${CMAKE_INSTALL_FULL_INCLUDEDIR}")
else()
  set(BFCR_PC_PREFIX "\${pcfiledir}")
  string(REPLACE "/" ";" pc_parts "${BFCR_PC_DIR}")
  foreach(part IN LISTS pc_parts)
    if(NOT part STREQUAL "" AND NOT part STREQUAL ".")
      string(APPEND BFCR_PC_PREFIX "/..")
    endif()
  endforeach()
  set(BFCR_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
  set(BFCR_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
# Private link line for static links: OpenBLAS ahead of GSL (never gslcblas, which is
# why this lists flags instead of "Requires.private: gsl"), OpenMP runtime last.
get_filename_component(gsl_dir "${GSL_LIBRARY}" DIRECTORY)
set(gsl_flags "-lgsl")
if(NOT gsl_dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
  set(gsl_flags "-L${gsl_dir} -lgsl")
endif()
set(BFCR_PC_LIBS_PRIVATE "")
foreach(flag IN LISTS LAPACKE_LDFLAGS OPENBLAS_LDFLAGS)
  string(REGEX REPLACE "^-L(.*[^/])/*$" "\\1" dir "${flag}")
  if(flag MATCHES "^-L" AND dir IN_LIST CMAKE_C_IMPLICIT_LINK_DIRECTORIES)
    continue() # the linker searches there anyway
  endif()
  string(APPEND BFCR_PC_LIBS_PRIVATE " ${flag}")
endforeach()
string(APPEND BFCR_PC_LIBS_PRIVATE " ${gsl_flags} -lsvm -lm")
if(OpenMP_C_FLAGS)
  string(APPEND BFCR_PC_LIBS_PRIVATE " ${OpenMP_C_FLAGS}")
endif()
string(STRIP "${BFCR_PC_LIBS_PRIVATE}" BFCR_PC_LIBS_PRIVATE)
configure_file(${CMAKE_CURRENT_LIST_DIR}/bfcr.pc.in ${PROJECT_BINARY_DIR}/bfcr.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/bfcr.pc DESTINATION ${BFCR_PC_DIR})
