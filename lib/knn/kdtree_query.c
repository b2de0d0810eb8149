/* kd-tree searches for outside query points: exact 1-NN (with optional exclusion and
 * upper bound) and fixed-radius visits.
 *
 * What: depth-first branch and bound from the root, nearer child first; a node is
 * skipped when the point-to-box lower bound (kdtree_impl.h) says it cannot hold a point
 * better in the (dist2, index) order than the current best. Leaf distances come from
 * the column-major kernel, bit-identical to bfcr_dist2.
 * Complexity: O(log n) nodes per query for well-spread low-dimensional data, degrading
 * towards O(n) as d grows (hence the GEMM path above BFCR_KNN_KDTREE_MAX_D).
 * Ties: a node whose bound equals the best distance is still visited when its smallest
 * caller index is below the best index, so the smallest index among exact ties wins.
 * Threads: queries are independent; dynamic scheduling over blocks of queries; each
 * result depends on the query alone, so any thread count gives the same answer. */
#include <math.h>
#include <omp.h>

#include "knn/kdtree_impl.h"

#define KD_STACK 192

/* Best (d2, index) for one query; bj == INT64_MAX means nothing found within bd. */
static void kd_query_one(const bfcr_kdtree *t, const double *q, int64_t excl, double *bd_io,
                         int64_t *bj_io) {
  const int d = t->d;
  double bd = *bd_io;
  int64_t bj = *bj_io;
  int64_t stack_id[KD_STACK];
  double stack_lb[KD_STACK];
  double acc[BFCR_KD_LEAF_MAX];
  int sp = 0;
  stack_id[sp] = 0;
  stack_lb[sp] = bfcr_kd_point_box(q, t->bmin, t->bmax, d);
  sp++;
  while (sp > 0) {
    sp--;
    const int64_t id = stack_id[sp];
    const double lb = stack_lb[sp];
    const bfcr_kd_node *nd = &t->node[id];
    if (!(lb < bd || (lb == bd && nd->min_index < bj))) continue;
    if (nd->right < 0) {
      const int m = (int)(nd->hi - nd->lo);
      bfcr_kd_leaf_dist(t, q, nd->lo, m, bd, acc);
      for (int j = 0; j < m; j++) {
        const int64_t gj = t->idx[nd->lo + j];
        if (bfcr_nn_better(acc[j], gj, bd, bj) && gj != excl) {
          bd = acc[j];
          bj = gj;
        }
      }
      continue;
    }
    const int64_t l = id + 1, r = nd->right;
    const double ll = bfcr_kd_point_box(q, t->bmin + l * d, t->bmax + l * d, d);
    const double lr = bfcr_kd_point_box(q, t->bmin + r * d, t->bmax + r * d, d);
    /* Push the farther child first so the nearer one is searched first. */
    bfcr_kd_push2(stack_id, stack_lb, &sp, l, ll, r, lr, ll <= lr);
  }
  *bd_io = bd;
  *bj_io = bj;
}

bfcr_status bfcr_kdtree_query(const bfcr_kdtree *t, const double *Q, int64_t m,
                              const int64_t *exclude, const double *bound2, int nthreads,
                              int64_t *nn, double *dist2) {
  if (!t || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  const int nt = nthreads < 1 ? 1 : nthreads;
  const int d = t->d;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64) default(none) \
    shared(t, Q, m, exclude, bound2, nn, dist2, d)
  for (int64_t i = 0; i < m; i++) {
    double bd = bound2 ? bound2[i] : INFINITY;
    int64_t bj = INT64_MAX;
    kd_query_one(t, Q + i * d, exclude ? exclude[i] : -1, &bd, &bj);
    if (bj == INT64_MAX) {
      nn[i] = -1;
      dist2[i] = INFINITY;
    } else {
      nn[i] = bj;
      dist2[i] = bd;
    }
  }
  return BFCR_OK;
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
