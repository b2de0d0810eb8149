# BFCR_BUILD_PYTHON: the Python package (python/), on by default when Debian's python3
# with numpy is found. The interpreter is /usr/bin/python3 first (Debian's, where
# python3-numpy, python3-sklearn... are installed), ahead of any other python3 on PATH;
# pass -DPython3_EXECUTABLE=... to choose another.
if(NOT DEFINED Python3_EXECUTABLE AND EXISTS /usr/bin/python3)
  set(Python3_EXECUTABLE /usr/bin/python3 CACHE FILEPATH "Python interpreter for the package")
endif()
find_package(Python3 COMPONENTS Interpreter)
set(BFCR_PYTHON_DEFAULT OFF)
if(Python3_Interpreter_FOUND)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "import numpy"
    RESULT_VARIABLE BFCR_NUMPY_RC OUTPUT_QUIET ERROR_QUIET)
  if(BFCR_NUMPY_RC EQUAL 0)
    set(BFCR_PYTHON_DEFAULT ON)
  endif()
endif()
option(BFCR_BUILD_PYTHON "Build the Python package bfcr (needs python3 with numpy)"
  ${BFCR_PYTHON_DEFAULT})
if(BFCR_BUILD_PYTHON AND NOT BUILD_SHARED_LIBS)
  message(WARNING "BFCR_BUILD_PYTHON needs BUILD_SHARED_LIBS=ON (ctypes loads libbfcr.so): off")
  set(BFCR_BUILD_PYTHON OFF CACHE BOOL "" FORCE)
endif()
if(BFCR_BUILD_PYTHON AND NOT BFCR_PYTHON_DEFAULT)
  message(FATAL_ERROR "BFCR_BUILD_PYTHON: no python3 with numpy (${Python3_EXECUTABLE})")
endif()
