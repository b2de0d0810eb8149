/* Method choice for exact nearest neighbours: kd-tree (kdtree_*.c) at or below
 * BFCR_KNN_KDTREE_MAX_D dimensions (not counting binary columns), GEMM shortlist with canonical
 * re-check (knn_gemm.c) above. Both return bfcr_dist2's exact value and the smallest index among
 * ties, so the switch changes speed only. The crossover was measured with
 * bench/bench_knn.c (docs/knn.md). */
#include <stddef.h>

#include "knn/knn.h"

/* Columns that take more than two distinct values. Binary columns (one-hot encoded
 * categories) cost a kd-tree little: a split on one separates the two values for
 * good, so the tree's difficulty is set by the other columns. Data such as diamonds
 * (6 numeric + 20 indicator columns) thus stays on the kd-tree, where a GEMM scan would
 * cost O(n^2 d). O(n d) with early exit per column. */
static int effective_dim(const double *X, int64_t n, int d) {
  int eff = 0;
  for (int j = 0; j < d; j++) {
    double a = X[j], b = a;
    int two = 0;
    for (int64_t i = 1; i < n; i++) {
      double v = X[i * d + j];
      if (v == a || (two && v == b)) continue;
      if (two) {
        eff++;
        break;
      }
      b = v;
      two = 1;
    }
  }
  return eff;
}

int bfcr_knn_prefers_kdtree(const double *X, int64_t n, int d) {
  return d <= BFCR_KNN_KDTREE_MAX_D || effective_dim(X, n, d) <= BFCR_KNN_KDTREE_MAX_D;
}

bfcr_status bfcr_knn_allnn(const double *X, int64_t n, int d, int nthreads, int64_t *nn,
                           double *dist2) {
  if (!X || n < 2 || d < 1 || !nn || !dist2) return BFCR_ERR_ARG;
  if (!bfcr_knn_prefers_kdtree(X, n, d))
    return bfcr_knn_gemm(X, n, d, X, n, 1, nthreads, nn, dist2);
  bfcr_kdtree *t = NULL;
  bfcr_status st = bfcr_kdtree_build(X, n, d, nthreads, &t);
  if (st == BFCR_OK) st = bfcr_kdtree_allnn(t, nthreads, nn, dist2);
  bfcr_kdtree_free(t);
  return st;
}

bfcr_status bfcr_knn_query(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                           int nthreads, int64_t *nn, double *dist2) {
  if (!R || nR < 1 || d < 1 || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  if (m == 0) return BFCR_OK;
  if (!bfcr_knn_prefers_kdtree(R, nR, d))
    return bfcr_knn_gemm(R, nR, d, Q, m, 0, nthreads, nn, dist2);
  bfcr_kdtree *t = NULL;
  bfcr_status st = bfcr_kdtree_build(R, nR, d, nthreads, &t);
  if (st == BFCR_OK) st = bfcr_kdtree_query(t, Q, m, NULL, NULL, nthreads, nn, dist2);
  bfcr_kdtree_free(t);
  return st;
}
