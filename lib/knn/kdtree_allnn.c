/* All-points best friend on a kd-tree, leaf by leaf.
 *
 * What: for every point, its nearest other point of the same tree (canonical distance,
 * smallest index among exact ties). Queries run in tree order, a whole leaf at a time:
 *   1. every point of the query leaf is seeded with its best friend inside the leaf
 *      (its own neighbourhood, so the bound is small before any walk starts);
 *   2. each point then walks the tree from the root, nearer child first, skipping a
 *      node whose point-to-box bound cannot beat the point's current best (ties: unless
 *      the node holds a smaller index) and skipping its own leaf;
 *   3. reference leaves are scanned with the blocked column-major kernel (vectorized
 *      across the leaf's points, early exit once a block's partial sums exceed the
 *      best).
 * Consecutive queries are neighbours, so they walk the same nodes and leaves while
 * those are in cache. A variant that walked once per query leaf with box-to-box pruning
 * against the leaf's largest bound was measured 1.5-2x slower on 8-d blobs (the leaf's
 * box and largest bound are loose in 8 dimensions); see docs/knn.md.
 * Complexity: O(n log n) expected for low d; the visited fraction grows with d like for
 * every space-partitioning method (the GEMM path takes over above
 * BFCR_KNN_KDTREE_MAX_D).
 * Exactness: bounds are lower bounds of bfcr_dist2 in floating point (kdtree_impl.h);
 * distances are bit-identical to bfcr_dist2; pruning is strict except on ties, so the
 * result is the unique minimum of (dist2, index).
 * Threads: dynamic scheduling over query leaves; each point's result depends on the
 * tree only, never on the schedule. */
#include <math.h>
#include <stdlib.h>
#include <omp.h>

#include "knn/kdtree_impl.h"

#define KD_STACK 192

typedef struct {
  double bd[BFCR_KD_LEAF_MAX];
  int64_t bj[BFCR_KD_LEAF_MAX];
  double acc[BFCR_KD_LEAF_MAX];
} kd_leaf_work;

static void kd_scan(const bfcr_kdtree *t, const double *acc, int64_t lo, int m, int64_t self,
                    double *bd, int64_t *bj) {
  double b = *bd;
  int64_t j0 = *bj;
  for (int j = 0; j < m; j++) {
    if (acc[j] <= b) {
      const int64_t gj = t->idx[lo + j];
      if ((acc[j] < b || gj < j0) && lo + j != self) {
        b = acc[j];
        j0 = gj;
      }
    }
  }
  *bd = b;
  *bj = j0;
}

static void kd_point_walk(const bfcr_kdtree *t, const double *q, int64_t self, int64_t qleaf,
                          kd_leaf_work *w, int i) {
  const int d = t->d;
  double bd = w->bd[i];
  int64_t bj = w->bj[i];
  int64_t stack_id[KD_STACK];
  double stack_lb[KD_STACK];
  int sp = 0;
  stack_id[sp] = 0;
  stack_lb[sp++] = 0.0;
  while (sp > 0) {
    sp--;
    const int64_t id = stack_id[sp];
    const double lb = stack_lb[sp];
    const bfcr_kd_node *nd = &t->node[id];
    if (!(lb < bd || (lb == bd && nd->min_index < bj)) || id == qleaf) continue;
    if (nd->right < 0) {
      const int mr = (int)(nd->hi - nd->lo);
      bfcr_kd_leaf_dist(t, q, nd->lo, mr, bd, w->acc);
      kd_scan(t, w->acc, nd->lo, mr, self, &bd, &bj);
      continue;
    }
    const int64_t l = id + 1, r = nd->right;
    const double ll = bfcr_kd_point_box(q, t->bmin + l * d, t->bmax + l * d, d);
    const double lr = bfcr_kd_point_box(q, t->bmin + r * d, t->bmax + r * d, d);
    bfcr_kd_push2(stack_id, stack_lb, &sp, l, ll, r, lr, ll <= lr);
  }
  w->bd[i] = bd;
  w->bj[i] = bj;
}

/* Results go to nn/dist2 at the caller's index of each point, or, when pos_base >= 0,
 * at its tree position minus pos_base. */
static void kd_allnn_leaf(const bfcr_kdtree *t, int64_t qleaf, kd_leaf_work *w, int64_t *nn,
                          double *dist2, int64_t pos_base) {
  const int d = t->d;
  const bfcr_kd_node *qn = &t->node[qleaf];
  const int64_t qlo = qn->lo;
  const int m = (int)(qn->hi - qn->lo);
  const double *q = t->X + qlo * d;
  for (int i = 0; i < m; i++) {
    w->bd[i] = INFINITY;
    w->bj[i] = INT64_MAX;
    bfcr_kd_leaf_dist(t, q + i * d, qlo, m, INFINITY, w->acc);
    kd_scan(t, w->acc, qlo, m, qlo + i, &w->bd[i], &w->bj[i]);
  }
  for (int i = 0; i < m; i++) kd_point_walk(t, q + i * d, qlo + i, qleaf, w, i);
  for (int i = 0; i < m; i++) {
    const int64_t gi = pos_base >= 0 ? qlo + i - pos_base : t->idx[qlo + i];
    nn[gi] = w->bj[i];
    dist2[gi] = w->bd[i];
  }
}

/* Query leaves [L0, L1) in tree order. */
static bfcr_status allnn_leaves(const bfcr_kdtree *t, int64_t L0, int64_t L1, int nthreads,
                                int64_t *nn, double *dist2, int64_t pos_base) {
  const int nt = nthreads < 1 ? 1 : nthreads;
  bfcr_status st = BFCR_OK;
  int failed = 0;
#pragma omp parallel num_threads(nt) default(none) shared(t, nn, dist2, failed, L0, L1, pos_base)
  {
    kd_leaf_work *w = malloc(sizeof(*w));
    if (!w) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 4)
    for (int64_t L = L0; L < L1; L++) {
      if (w) kd_allnn_leaf(t, t->leaf[L], w, nn, dist2, pos_base);
    }
    free(w);
  }
  if (failed) st = BFCR_ERR_NOMEM;
  return st;
}

bfcr_status bfcr_kdtree_allnn(const bfcr_kdtree *t, int nthreads, int64_t *nn, double *dist2) {
  if (!t || !nn || !dist2 || t->n < 2) return BFCR_ERR_ARG;
  return allnn_leaves(t, 0, t->nleaves, nthreads, nn, dist2, -1);
}

bfcr_status bfcr_kdtree_allnn_part(const bfcr_kdtree *t, int part, int nparts, int nthreads,
                                   int64_t *pos_lo, int64_t *pos_hi, int64_t *nn, double *dist2) {
  if (!t || t->n < 2 || nparts < 1 || part < 0 || part >= nparts || !pos_lo || !pos_hi)
    return BFCR_ERR_ARG;
  int64_t L0 = t->nleaves * part / nparts, L1 = t->nleaves * (part + 1) / nparts;
  *pos_lo = L0 < t->nleaves ? t->node[t->leaf[L0]].lo : t->n;
  *pos_hi = L1 < t->nleaves ? t->node[t->leaf[L1]].lo : t->n;
  if (*pos_hi > *pos_lo && (!nn || !dist2)) return BFCR_ERR_ARG;
  return allnn_leaves(t, L0, L1, nthreads, nn, dist2, *pos_lo);
}

const int64_t *bfcr_kdtree_order(const bfcr_kdtree *t) { return t ? t->idx : NULL; }
