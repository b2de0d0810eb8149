/* The method choice of lib/knn (knn.c, knn_choose.c): whichever method runs (auto, forced
 * kd-tree, forced GEMM), every answer equals bfcr_knn_brute's bit for bit (canonical
 * distance, smallest index among ties), at dimensions on both sides of the former fixed
 * rule (3, 17, 20, 33, 64), on random rows, duplicates, grids and the bad inputs of
 * docs/knn.md (constant columns, one distinct row, d > n, values near 1e300), for 1 and 2
 * threads; the probe's counts do not depend on the thread count. Small sizes: the
 * valgrind tier runs this file. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "testutil.h"

static const bfcr_nn_method methods[] = {BFCR_NN_AUTO, BFCR_NN_TREE, BFCR_NN_GEMM};

/* All-points search and outside queries (the first half of the rows against the second)
 * by every method and thread count, against brute force. */
static void check_all(const char *label, const double *X, int64_t n, int d) {
  int64_t *enn, *nn = malloc((size_t)n * sizeof(int64_t));
  double *ed2, *d2 = malloc((size_t)n * sizeof(double));
  char what[200];
  tu_knn_ref(X, n, d, X, n, 1, &enn, &ed2);
  for (int nt = 1; nt <= 2; nt++) {
    for (int k = 0; k < 3; k++) {
      bfcr_knn_choice c;
      memset(nn, 0xff, (size_t)n * sizeof(int64_t));
      cr_assert_eq(bfcr_knn_allnn_m(X, n, d, nt, methods[k], &c, NULL, nn, d2), BFCR_OK);
      cr_assert(c.method == BFCR_NN_TREE || c.method == BFCR_NN_GEMM);
      if (methods[k] != BFCR_NN_AUTO) cr_assert_eq(c.method, methods[k]);
      snprintf(what, sizeof what, "%s allnn n=%lld d=%d threads=%d nn=%s (ran %s)", label,
               (long long)n, d, nt, bfcr_nn_method_name(methods[k]), bfcr_nn_method_name(c.method));
      tu_expect_nn(what, n, nn, d2, enn, ed2);
    }
  }
  const int64_t nR = n - n / 2, m = n / 2;
  if (m > 0) {
    const double *R = X + m * d;
    free(enn);
    free(ed2);
    tu_knn_ref(R, nR, d, X, m, 0, &enn, &ed2);
    for (int nt = 1; nt <= 2; nt++) {
      for (int k = 0; k < 3; k++) {
        bfcr_knn_choice c;
        cr_assert_eq(bfcr_knn_query_m(R, nR, d, X, m, nt, methods[k], &c, nn, d2), BFCR_OK);
        snprintf(what, sizeof what, "%s query nR=%lld d=%d threads=%d nn=%s", label, (long long)nR,
                 d, nt, bfcr_nn_method_name(methods[k]));
        tu_expect_nn(what, m, nn, d2, enn, ed2);
      }
    }
  }
  free(enn);
  free(nn);
  free(ed2);
  free(d2);
}

static const int dims[] = {3, 17, 20, 33, 64};

Test(knn_choose, random_rows_every_method) {
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    const int d = dims[di];
    const int64_t n = 700;
    uint64_t s = 11 + (uint64_t)d;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n * d; i++) X[i] = 2.0 * tu_unif(&s) - 1.0;
    check_all("uniform", X, n, d);
    free(X);
  }
}

/* Rows near a 2-dimensional subspace (the tree's good case at any d). */
Test(knn_choose, low_intrinsic_dimension) {
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    const int d = dims[di];
    const int64_t n = 900;
    uint64_t s = 5 + (uint64_t)d;
    double *A = malloc((size_t)2 * d * sizeof(double)), *X = malloc((size_t)n * d * sizeof(double));
    for (int i = 0; i < 2 * d; i++) A[i] = 2.0 * tu_unif(&s) - 1.0;
    for (int64_t i = 0; i < n; i++) {
      const double u = 10.0 * tu_unif(&s), v = 10.0 * tu_unif(&s);
      for (int k = 0; k < d; k++) X[i * d + k] = A[k] * u + A[d + k] * v + 1e-3 * tu_unif(&s);
    }
    check_all("latent-2", X, n, d);
    free(A);
    free(X);
  }
}

/* Duplicates and integer grids: exact ties everywhere, answered by the smallest index. */
Test(knn_choose, duplicates_and_grids) {
  for (size_t di = 0; di < sizeof dims / sizeof dims[0]; di++) {
    const int d = dims[di];
    const int64_t n = 600;
    uint64_t s = 3 + (uint64_t)d;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n; i++) { /* 40 distinct rows, each about 15 times */
      const uint64_t base = tu_rng(&s) % 40;
      for (int k = 0; k < d; k++) X[i * d + k] = (double)((base * 7 + (uint64_t)k * 3) % 5);
    }
    check_all("duplicates", X, n, d);
    for (int64_t i = 0; i < n * d; i++) X[i] = (double)(tu_rng(&s) % 3); /* coarse grid */
    check_all("grid", X, n, d);
    free(X);
  }
}

/* Bad input (issue 11 item 9): never a wrong neighbour. */
Test(knn_choose, bad_input) {
  uint64_t s = 99;
  /* Constant columns beside varying ones. */
  {
    const int64_t n = 300;
    const int d = 20;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n; i++)
      for (int k = 0; k < d; k++) X[i * d + k] = k % 3 == 0 ? tu_unif(&s) : 4.25;
    check_all("constant-columns", X, n, d);
    free(X);
  }
  /* One distinct row: every distance 0, neighbour = smallest other index. */
  {
    const int64_t n = 150;
    const int d = 33;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n * d; i++) X[i] = -1.5;
    check_all("one-distinct-row", X, n, d);
    free(X);
  }
  /* d larger than n. */
  {
    const int64_t n = 7;
    const int d = 64;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n * d; i++) X[i] = tu_unif(&s);
    check_all("d>n", X, n, d);
    free(X);
  }
  /* Values near 1e300 (squares overflow to +inf: ties at +inf by index) and mixed
   * magnitudes: the GEMM path falls back to the exact scan, the tree to its double kernel. */
  {
    const int64_t n = 200;
    const int d = 17;
    double *X = malloc((size_t)n * d * sizeof(double));
    for (int64_t i = 0; i < n * d; i++) X[i] = (2.0 * tu_unif(&s) - 1.0) * (i % 5 ? 1e300 : 1.0);
    check_all("near-1e300", X, n, d);
    for (int64_t i = 0; i < n * d; i++) X[i] = (2.0 * tu_unif(&s) - 1.0) * 1e150;
    check_all("1e150", X, n, d);
    free(X);
  }
}

/* The probe depends on the data only: the same counts and choice for 1 and 2 threads. */
Test(knn_choose, probe_is_deterministic) {
  const int64_t n = 3000;
  const int d = 20;
  uint64_t s = 7;
  double *X = malloc((size_t)n * d * sizeof(double));
  for (int64_t i = 0; i < n * d; i++) X[i] = tu_unif(&s);
  bfcr_knn_choice c[2];
  for (int nt = 1; nt <= 2; nt++) {
    bfcr_kdtree *t = NULL;
    cr_assert_eq(bfcr_kdtree_build(X, n, d, nt, &t), BFCR_OK);
    memset(&c[nt - 1], 0, sizeof c[0]);
    bfcr_knn_probe(t, n, 1, nt, &c[nt - 1]);
    bfcr_knn_decide(BFCR_NN_AUTO, &c[nt - 1]);
    bfcr_kdtree_free(t);
  }
  cr_assert_eq(c[0].probe_queries, 256);
  cr_assert(c[0].evals_per_query > 0.0 && c[0].evals_per_query <= (double)n);
  cr_assert_eq(c[0].evals_per_query, c[1].evals_per_query);
  cr_assert_eq(c[0].nodes_per_query, c[1].nodes_per_query);
  cr_assert_eq(c[0].method, c[1].method);
  char line[200];
  bfcr_knn_choice_format(&c[0], line, sizeof line);
  cr_assert(strstr(line, "(probe: 256 queries, ") != NULL, "%s", line);
  bfcr_nn_method m;
  cr_assert_eq(bfcr_nn_method_parse("gemm", &m), 0);
  cr_assert_eq(m, BFCR_NN_GEMM);
  cr_assert_eq(bfcr_nn_method_parse("kd", &m), -1);
  free(X);
}
