# Locate the dependencies. OpenBLAS must come before GSL on every link line: libgsl
# carries its own reference CBLAS, and a program that links it first would silently
# run bfcr's GEMMs on the slow reference code (tests/unit/test_blas_provider.c checks).
find_package(MPI REQUIRED COMPONENTS C)
find_package(OpenMP REQUIRED COMPONENTS C)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)
pkg_check_modules(LAPACKE REQUIRED IMPORTED_TARGET lapacke)
# libgsl only: never libgslcblas (see above); its BLAS symbols resolve to OpenBLAS.
find_path(GSL_INCLUDE_DIR gsl/gsl_version.h REQUIRED)
find_library(GSL_LIBRARY gsl REQUIRED)
add_library(bfcr_gsl INTERFACE)
target_include_directories(bfcr_gsl INTERFACE ${GSL_INCLUDE_DIR})
target_link_libraries(bfcr_gsl INTERFACE ${GSL_LIBRARY})
find_library(MATH_LIBRARY m REQUIRED)
# libsvm (Debian libsvm-dev; no pkg-config module): epsilon-SVR per cluster
# (lib/regress/svr.c). Linked PRIVATE like GSL.
find_path(SVM_INCLUDE_DIR libsvm/svm.h REQUIRED)
find_library(SVM_LIBRARY svm REQUIRED)
add_library(bfcr_svm INTERFACE)
target_include_directories(bfcr_svm INTERFACE ${SVM_INCLUDE_DIR})
target_link_libraries(bfcr_svm INTERFACE ${SVM_LIBRARY})
