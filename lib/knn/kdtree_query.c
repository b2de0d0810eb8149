/* kd-tree searches for outside query points: exact 1-NN (with optional exclusion and
 * upper bound) and fixed-radius visits.
 *
 * What: depth-first branch and bound from the root, nearer child first; a node is
 * skipped when the point-to-box lower bound (kdtree_impl.h) says it cannot hold a point
 * better in the (dist2, index) order than the current best. Leaf distances come from
 * the column-major kernel, bit-identical to bfcr_dist2.
 * Complexity: O(log n) nodes per query for well-spread low-dimensional data, degrading
 * towards O(n) as the intrinsic dimension grows (the probe of knn_choose.c then picks
 * the GEMM path).
 * Ties: a node whose bound equals the best distance is still visited when its smallest
 * caller index is below the best index, so the smallest index among exact ties wins.
 * Threads: queries are independent; dynamic scheduling over blocks of queries; each
 * result depends on the query alone, so any thread count gives the same answer. */
#include <math.h>
#include <omp.h>

#include "knn/kdtree_impl.h"

#define KD_STACK 192

bfcr_status bfcr_kdtree_query(const bfcr_kdtree *t, const double *Q, int64_t m,
                              const int64_t *exclude, const double *bound2, int nthreads,
                              int64_t *nn, double *dist2) {
  if (!t || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  return t->walks->query(t, Q, m, exclude, bound2, nthreads, nn, dist2);
}

bfcr_status bfcr_kdtree_query_other(const bfcr_kdtree *t, const double *R, const int64_t *rows,
                                    int64_t m, const int *grp, int nthreads, int64_t *nn,
                                    double *dist2) {
  if (!t || m < 0 || (m > 0 && (!R || !rows || !grp || !nn || !dist2))) return BFCR_ERR_ARG;
  return t->walks->query_other(t, R, rows, m, grp, nthreads, nn, dist2);
}

bfcr_status bfcr_kdtree_query_grp(const bfcr_kdtree *t, const double *Q, const int *qgrp, int64_t m,
                                  const int *grp, const double *bound2, int nthreads, int64_t *nn,
                                  double *dist2) {
  if (!t || m < 0 || (m > 0 && (!Q || !qgrp || !grp || !nn || !dist2))) return BFCR_ERR_ARG;
  return t->walks->query_grp(t, Q, qgrp, m, grp, bound2, nthreads, nn, dist2);
}

void bfcr_kdtree_radius(const bfcr_kdtree *t, const double *q, double r2, bfcr_kd_visit_fn fn,
                        void *user) {
  if (!t || !q || !fn) return;
  const int d = t->d;
  int64_t stack[KD_STACK];
  double acc[BFCR_KD_LEAF_MAX];
  int sp = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const int64_t id = stack[--sp];
    const bfcr_kd_node *nd = &t->node[id];
    if (!(bfcr_kd_point_box(q, t->bmin + id * d, t->bmax + id * d, d) <= r2)) continue;
    if (nd->right < 0) {
      const int m = (int)(nd->hi - nd->lo);
      bfcr_kd_leaf_dist(t, q, nd->lo, m, r2, acc);
      for (int j = 0; j < m; j++) {
        if (acc[j] <= r2) fn(user, t->idx[nd->lo + j], acc[j], &r2);
      }
      continue;
    }
    stack[sp++] = nd->right;
    stack[sp++] = id + 1;
  }
}
