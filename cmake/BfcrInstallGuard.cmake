# Refuses `cmake --install build` without --prefix on a tree whose prefix nobody chose:
# as root it would write into /usr/local. Included by the top-level CMakeLists.txt
# before any add_subdirectory(): install rules run in the order they were declared
# (policy CMP0082), so this one runs first and nothing is installed when it fires.
# CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT is true on the first configure only: the
# fact is kept in the cache, and dropped once the prefix is set to something else.
if(CMAKE_INSTALL_PREFIX_INITIALIZED_TO_DEFAULT)
  set(BFCR_DEFAULT_PREFIX "${CMAKE_INSTALL_PREFIX}" CACHE INTERNAL "prefix nobody chose")
elseif(DEFINED BFCR_DEFAULT_PREFIX AND NOT BFCR_DEFAULT_PREFIX STREQUAL CMAKE_INSTALL_PREFIX)
  unset(BFCR_DEFAULT_PREFIX CACHE)
endif()
if(DEFINED BFCR_DEFAULT_PREFIX)
  install(CODE "
    if(\"\${CMAKE_INSTALL_PREFIX}\" STREQUAL \"${BFCR_DEFAULT_PREFIX}\" AND \"\$ENV{DESTDIR}\" STREQUAL \"\")
      message(FATAL_ERROR \"bfcr: refusing to install into the default prefix ${CMAKE_INSTALL_PREFIX}; \"
        \"use 'cmake --install <build> --prefix <dir>' or configure with -DCMAKE_INSTALL_PREFIX=<dir>\")
    endif()")
endif()

