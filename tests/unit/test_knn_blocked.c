/* Pruned blocked GEMM search (lib/knn/knn_blocked.c): bit-identical to the brute scan
 * (canonical bfcr_dist2, smallest index on ties) for all-points and outside queries, at
 * 1 and 2 threads, with small blocks so that pruning happens at the small sizes the
 * valgrind tier can afford. Its counts (tiles, re-checks, flops) must not depend on the
 * thread count, and on clustered data blocks must actually be skipped. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "testutil.h"

/* k clusters of radius ~spread around centres in [-10, 10]^d. */
static double *clustered(int64_t n, int d, int k, double spread, uint64_t seed) {
  double *c = malloc((size_t)k * d * sizeof(double)), *X = malloc((size_t)n * d * sizeof(double));
  for (int i = 0; i < k * d; i++) c[i] = 20.0 * tu_unif(&seed) - 10.0;
  for (int64_t i = 0; i < n; i++) {
    const int b = (int)(tu_rng(&seed) % (uint64_t)k);
    for (int j = 0; j < d; j++) X[i * d + j] = c[b * d + j] + spread * (2.0 * tu_unif(&seed) - 1.0);
  }
  free(c);
  return X;
}

/* Blocked search (leaf rows per block) of Q against R (Q == NULL: all points of R) at 1
 * and 2 threads against brute; returns the 1-thread stats. */
static bfcr_knn_blocked_stats check_case(const char *label, const double *R, int64_t nR, int d,
                                         const double *Q, int64_t m, int64_t leaf) {
  const int self = Q == NULL;
  if (self) {
    Q = R;
    m = nR;
  }
  int64_t *enn, *nn = malloc((size_t)m * sizeof(int64_t));
  double *ed2, *d2 = malloc((size_t)m * sizeof(double));
  bfcr_knn_blocked_stats s[2];
  char what[200];
  tu_knn_ref(R, nR, d, Q, m, self, &enn, &ed2);
  for (int nt = 1; nt <= 2; nt++) {
    memset(nn, 0xff, (size_t)m * sizeof(int64_t));
    cr_assert_eq(bfcr_knn_blocked(R, nR, d, Q, m, self, nt, leaf, &s[nt - 1], nn, d2), BFCR_OK);
    snprintf(what, sizeof what, "%s %s nR=%lld m=%lld d=%d leaf=%lld threads=%d", label,
             self ? "allnn" : "query", (long long)nR, (long long)m, d, (long long)leaf, nt);
    tu_expect_nn(what, m, nn, d2, enn, ed2);
  }
  cr_assert_eq(s[0].tiles, s[1].tiles, "%s: tiles depend on threads", label);
  cr_assert_eq(s[0].rechecks, s[1].rechecks, "%s: re-checks depend on threads", label);
  cr_assert(s[0].flops_done == s[1].flops_done && s[0].flops_avoided == s[1].flops_avoided,
            "%s: flops depend on threads", label);
  free(enn);
  free(nn);
  free(ed2);
  free(d2);
  return s[0];
}

Test(knn_blocked, clustered_all_dimensions) {
  const int ds[] = {1, 3, 20, 64, 130};
  for (size_t k = 0; k < sizeof ds / sizeof ds[0]; k++) {
    const int d = ds[k];
    const int64_t n = d >= 64 ? 240 : 400;
    char label[64];
    snprintf(label, sizeof label, "clustered d=%d", d);
    double *X = clustered(n, d, 6, 0.5, 11 + (uint64_t)d);
    bfcr_knn_blocked_stats s = check_case(label, X, n, d, NULL, 0, 16);
    /* Six well separated clusters: most block pairs are skipped. */
    cr_assert(s.flops_avoided > s.flops_done, "%s: no pruning (done %g, avoided %g)", label,
              s.flops_done, s.flops_avoided);
    cr_assert_eq(s.fallback, 0);
    double *Q = clustered(150, d, 6, 0.8, 11 + (uint64_t)d); /* same centres, other rows */
    snprintf(label, sizeof label, "clustered query d=%d", d);
    check_case(label, X, n, d, Q, 150, 16);
    check_case(label, X, n, d, Q, 150, 64);
    free(Q);
    free(X);
  }
}

Test(knn_blocked, uniform_no_structure) {
  /* High intrinsic dimension: little to prune, answers still exact; odd leaf sizes. */
  uint64_t seed = 5;
  const int64_t n = 300;
  const int d = 20;
  double *X = malloc((size_t)n * d * sizeof(double));
  for (int64_t i = 0; i < n * d; i++) X[i] = tu_unif(&seed);
  check_case("uniform", X, n, d, NULL, 0, 8);
  check_case("uniform", X, n, d, NULL, 0, 37);
  check_case("uniform", X, n, d, X + 10 * d, 200, 23);
  free(X);
}

Test(knn_blocked, duplicates_and_one_distinct_row) {
  const int d = 3;
  const int64_t n = 600;
  double *X = malloc((size_t)n * d * sizeof(double));
  uint64_t seed = 9;
  double base[20 * 3];
  for (int i = 0; i < 60; i++) base[i] = (double)(tu_rng(&seed) % 7);
  for (int64_t i = 0; i < n; i++) {
    const int64_t r = (int64_t)(tu_rng(&seed) % 20);
    memcpy(X + i * d, base + r * d, (size_t)d * sizeof(double));
  }
  check_case("20 distinct rows", X, n, d, NULL, 0, 16);
  check_case("20 distinct rows, query", X, n, d, X + 5 * d, 100, 16);
  for (int64_t i = 0; i < n * d; i++) X[i] = 3.25;
  check_case("one distinct row", X, n, d, NULL, 0, 16);
  check_case("one distinct row, query", X, 100, d, X, 50, 8);
  free(X);
}

Test(knn_blocked, integer_grids_with_ties) {
  /* 6 x 6 x 6 grid, shuffled: every point has several neighbours at distance 1. */
  const int64_t n = 216;
  double *X = malloc((size_t)n * 3 * sizeof(double));
  int64_t *perm = malloc((size_t)n * sizeof(int64_t));
  uint64_t seed = 3;
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    const int64_t j = (int64_t)(tu_rng(&seed) % (uint64_t)(i + 1)), t = perm[i];
    perm[i] = perm[j];
    perm[j] = t;
  }
  for (int64_t i = 0; i < n; i++) {
    X[perm[i] * 3 + 0] = (double)(i % 6);
    X[perm[i] * 3 + 1] = (double)(i / 6 % 6);
    X[perm[i] * 3 + 2] = (double)(i / 36);
  }
  check_case("grid 6^3", X, n, 3, NULL, 0, 8);
  check_case("grid 6^3, query", X, n, 3, X, 100, 16);
  free(X);
  free(perm);
  /* 20-dimensional {0, 1, 2} lattice points (many exact ties). */
  const int d = 20;
  const int64_t m = 300;
  double *L = malloc((size_t)m * d * sizeof(double));
  for (int64_t i = 0; i < m * d; i++) L[i] = (double)(tu_rng(&seed) % 3);
  check_case("lattice d=20", L, m, d, NULL, 0, 16);
  free(L);
}

Test(knn_blocked, constant_columns_and_extreme_values) {
  const int d = 64;
  const int64_t n = 200;
  double *X = clustered(n, d, 4, 0.5, 21);
  for (int64_t i = 0; i < n; i++) {
    X[i * d + 3] = 1e6; /* constant columns, one large and one tiny */
    X[i * d + 40] = -1e-200;
  }
  check_case("constant columns", X, n, d, NULL, 0, 16);
  /* Values near 1e150: squares near 1e300, the distances stay finite. */
  double *B = clustered(n, d, 4, 0.5, 22);
  for (int64_t i = 0; i < n * d; i++) B[i] *= 1e150;
  bfcr_knn_blocked_stats s = check_case("1e150", B, n, d, NULL, 0, 16);
  cr_assert_eq(s.fallback, 0);
  /* Values near 1e300: canonical distances overflow to +inf (ties at +inf: smallest
   * index), bounds never prune a pair then. */
  double *H = clustered(n, 3, 4, 0.5, 23);
  for (int64_t i = 0; i < n * 3; i++) H[i] *= 1e300;
  check_case("1e300", H, n, 3, NULL, 0, 16);
  check_case("1e300 query", H, n, 3, H + 3, 60, 16);
  /* Coordinates whose shift by the mean overflows: the exact scan runs instead. */
  for (int64_t i = 0; i < n * 3; i++)
    H[i] = (i % 2 ? 1.7e308 : -1.7e308) * (0.5 + 0.1 * (double)(i % 5));
  s = check_case("near DBL_MAX", H, n, 3, NULL, 0, 16);
  cr_assert_eq(s.fallback, 1);
  free(X);
  free(B);
  free(H);
}

Test(knn_blocked, gemm_dispatch_and_arguments) {
  /* bfcr_knn_gemm runs the blocked search from 4 blocks of BFCR_KNN_BLOCK_LEAF rows on. */
  const int d = 5;
  const int64_t n = 4 * BFCR_KNN_BLOCK_LEAF + 7;
  double *X = clustered(n, d, 8, 0.3, 31);
  int64_t *nn = malloc((size_t)n * sizeof(int64_t)), *enn;
  double *d2 = malloc((size_t)n * sizeof(double)), *ed2;
  tu_knn_ref(X, n, d, X, n, 1, &enn, &ed2);
  cr_assert_eq(bfcr_knn_gemm(X, n, d, X, n, 1, 2, nn, d2), BFCR_OK);
  tu_expect_nn("gemm dispatch", n, nn, d2, enn, ed2);
  cr_assert_eq(bfcr_knn_gemm_tiles(X, n, d, X, n, 1, 2, nn, d2), BFCR_OK);
  tu_expect_nn("gemm tiles", n, nn, d2, enn, ed2);
  cr_assert_eq(bfcr_knn_blocked(X, 1, d, X, 1, 1, 1, 16, NULL, nn, d2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_knn_blocked(NULL, n, d, X, n, 0, 1, 16, NULL, nn, d2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_knn_blocked(X, n, d, X, 0, 0, 1, 16, NULL, nn, d2), BFCR_OK);
  free(X);
  free(nn);
  free(enn);
  free(d2);
  free(ed2);
}
