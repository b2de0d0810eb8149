/* Which library provides the BLAS that bfcr runs on, in a program linked the way the
 * build links bfcr (OpenBLAS ahead of GSL, never gslcblas).
 *
 * libgsl carries its own reference CBLAS (libgslcblas): when it comes first in the
 * global symbol search order, every cblas_dgemm silently runs GSL's slow reference
 * code. The ELF global scope is what both the static test archive and libbfcr.so bind
 * to, so dladdr on the address that the dynamic linker chose tells the provider.
 * dgemm_ (the Fortran interface, used by LAPACK and so by LAPACKE) must resolve to
 * OpenBLAS too, not to the netlib reference libblas. */
#define _GNU_SOURCE /* dladdr and Dl_info (glibc) */
#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <criterion/criterion.h>

/* Real path of the shared object that defines addr ("" when none does). */
static const char *object_of(const void *addr, char *buf) {
  Dl_info info;
  buf[0] = '\0';
  if (addr == NULL || dladdr(addr, &info) == 0 || info.dli_fname == NULL) return buf;
  if (realpath(info.dli_fname, buf) == NULL) {
    strncpy(buf, info.dli_fname, PATH_MAX - 1);
    buf[PATH_MAX - 1] = '\0';
  }
  return buf;
}

/* The object that holds OpenBLAS's own entry point: the reference for "is OpenBLAS". */
static const char *openblas_object(char *buf) {
  return object_of(dlsym(RTLD_DEFAULT, "openblas_get_config"), buf);
}

Test(blas_provider, openblas_is_loaded) {
  char buf[PATH_MAX];
  const char *obj = openblas_object(buf);
  cr_assert(obj[0] != '\0', "openblas_get_config is not in the process: OpenBLAS not linked");
  typedef char *(*config_fn)(void);
  config_fn config = (config_fn)dlsym(RTLD_DEFAULT, "openblas_get_config");
  cr_assert(config != NULL);
  cr_expect(strncmp(config(), "OpenBLAS", 8) == 0, "openblas_get_config() = \"%s\"", config());
}

Test(blas_provider, cblas_dgemm_is_openblas) {
  char want[PATH_MAX], got[PATH_MAX], dflt[PATH_MAX];
  openblas_object(want);
  /* The address this binary calls, and what a library's unresolved reference gets. */
  object_of((const void *)(size_t)&cblas_dgemm, got);
  object_of(dlsym(RTLD_DEFAULT, "cblas_dgemm"), dflt);
  cr_assert(got[0] != '\0', "cblas_dgemm is not defined by any shared object");
  cr_expect(strstr(got, "gslcblas") == NULL, "cblas_dgemm comes from GSL's CBLAS: %s", got);
  cr_expect_str_eq(got, want, "cblas_dgemm comes from %s, OpenBLAS is %s", got, want);
  cr_expect_str_eq(dflt, want, "global-scope cblas_dgemm comes from %s, not OpenBLAS", dflt);
}

Test(blas_provider, fortran_dgemm_is_openblas) {
  char got[PATH_MAX];
  object_of(dlsym(RTLD_DEFAULT, "dgemm_"), got);
  cr_assert(got[0] != '\0', "dgemm_ is not in the process (LAPACK needs it)");
  /* OpenBLAS itself, or Debian's libblas.so.3 of the OpenBLAS build (openblas-pthread or
   * openblas-openmp folder); never the netlib reference (.../blas/libblas.so.3). */
  cr_expect(strstr(got, "openblas") != NULL, "dgemm_ comes from %s, not OpenBLAS", got);
}

Test(blas_provider, dgemm_computes) {
  /* A 2x3 by 3x2 product: the provider found above actually runs. */
  const double a[6] = {1, 2, 3, 4, 5, 6};
  const double b[6] = {7, 8, 9, 10, 11, 12};
  double c[4] = {0, 0, 0, 0};
  const double want[4] = {58, 64, 139, 154};
  cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, 2, 2, 3, 1.0, a, 3, b, 2, 0.0, c, 2);
  for (int i = 0; i < 4; i++) cr_expect_eq(c[i], want[i], "c[%d] = %g, want %g", i, c[i], want[i]);
}
