# Installed package: headers, library, CMake config (find_package(bfcr)) and a
# relocatable pkg-config file. Filled in by the packaging work (examples/ test it).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/bfcr DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.h")
install(FILES ${PROJECT_BINARY_DIR}/include/bfcr/version.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/bfcr)
install(TARGETS bfcr EXPORT bfcrTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
