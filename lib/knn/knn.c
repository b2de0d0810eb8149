/* Method choice for exact nearest neighbours: the kd-tree is built, a probe of a fixed
 * sample of queries estimates its cost against the GEMM tiles' (knn_choose.c), and the
 * cheaper one runs, unless the caller forces one. Both return bfcr_dist2's exact value and
 * the smallest index among ties, so the choice changes speed only (docs/knn.md). */
#include <stddef.h>

#include "knn/knn.h"

static void choice_forced(bfcr_nn_method m, bfcr_knn_choice *c) {
  *c = (bfcr_knn_choice){0};
  bfcr_knn_decide(m, c);
}

bfcr_status bfcr_knn_allnn_m(const double *X, int64_t n, int d, int nthreads, bfcr_nn_method method,
                             bfcr_knn_choice *choice, bfcr_kdtree **tree_out, int64_t *nn,
                             double *dist2) {
  bfcr_knn_choice own;
  bfcr_knn_choice *c = choice ? choice : &own;
  if (tree_out) *tree_out = NULL;
  if (!X || n < 2 || d < 1 || !nn || !dist2) return BFCR_ERR_ARG;
  if (method == BFCR_NN_GEMM) {
    choice_forced(method, c);
    return bfcr_knn_gemm(X, n, d, X, n, 1, nthreads, nn, dist2);
  }
  bfcr_kdtree *t = NULL;
  bfcr_status st = bfcr_kdtree_build(X, n, d, nthreads, &t);
  if (st != BFCR_OK) return st;
  if (method == BFCR_NN_TREE) {
    choice_forced(method, c);
  } else {
    *c = (bfcr_knn_choice){0};
    bfcr_knn_probe(t, n, 1, nthreads, c);
    bfcr_knn_decide(BFCR_NN_AUTO, c);
  }
  if (c->method == BFCR_NN_GEMM)
    st = bfcr_knn_gemm(X, n, d, X, n, 1, nthreads, nn, dist2);
  else
    st = bfcr_kdtree_allnn(t, nthreads, nn, dist2);
  if (st == BFCR_OK && tree_out) {
    *tree_out = t;
    t = NULL;
  }
  bfcr_kdtree_free(t);
  return st;
}

bfcr_status bfcr_knn_allnn(const double *X, int64_t n, int d, int nthreads, int64_t *nn,
                           double *dist2) {
  return bfcr_knn_allnn_m(X, n, d, nthreads, BFCR_NN_AUTO, NULL, NULL, nn, dist2);
}

bfcr_status bfcr_knn_query_m(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                             int nthreads, bfcr_nn_method method, bfcr_knn_choice *choice,
                             int64_t *nn, double *dist2) {
  bfcr_knn_choice own;
  bfcr_knn_choice *c = choice ? choice : &own;
  if (!R || nR < 1 || d < 1 || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  if (m == 0) {
    choice_forced(method == BFCR_NN_GEMM ? method : BFCR_NN_TREE, c);
    return BFCR_OK;
  }
  if (method == BFCR_NN_GEMM) {
    choice_forced(method, c);
    return bfcr_knn_gemm(R, nR, d, Q, m, 0, nthreads, nn, dist2);
  }
  bfcr_kdtree *t = NULL;
  bfcr_status st = bfcr_kdtree_build(R, nR, d, nthreads, &t);
  if (st != BFCR_OK) return st;
  if (method == BFCR_NN_TREE) {
    choice_forced(method, c);
  } else if (m < 256) {
    /* Fewer queries than the probe would walk: the build already cost more than either
     * search, and one walk never measures more points than one GEMM row. */
    *c = (bfcr_knn_choice){0};
    bfcr_knn_decide(BFCR_NN_TREE, c);
    c->forced = 0;
  } else {
    /* The tree's own points stand in for the queries (drawn from the same population
     * when routing test rows; an estimate either way, never a change of answers). */
    *c = (bfcr_knn_choice){0};
    bfcr_knn_probe(t, m, 0, nthreads, c);
    bfcr_knn_decide(BFCR_NN_AUTO, c);
  }
  if (c->method == BFCR_NN_GEMM)
    st = bfcr_knn_gemm(R, nR, d, Q, m, 0, nthreads, nn, dist2);
  else
    st = bfcr_kdtree_query(t, Q, m, NULL, NULL, nthreads, nn, dist2);
  bfcr_kdtree_free(t);
  return st;
}

bfcr_status bfcr_knn_query(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                           int nthreads, int64_t *nn, double *dist2) {
  return bfcr_knn_query_m(R, nR, d, Q, m, nthreads, BFCR_NN_AUTO, NULL, nn, dist2);
}
