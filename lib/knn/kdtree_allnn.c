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
 * every space-partitioning method (the probe of knn_choose.c then picks the GEMM path).
 * Exactness: bounds are lower bounds of bfcr_dist2 in floating point (kdtree_impl.h);
 * distances are bit-identical to bfcr_dist2; pruning is strict except on ties, so the
 * result is the unique minimum of (dist2, index).
 * Threads: dynamic scheduling over query leaves; each point's result depends on the
 * tree only, never on the schedule. */
#include "knn/kdtree_impl.h"

bfcr_status bfcr_kdtree_allnn(const bfcr_kdtree *t, int nthreads, int64_t *nn, double *dist2) {
  if (!t || !nn || !dist2 || t->n < 2) return BFCR_ERR_ARG;
  return t->walks->allnn_leaves(t, 0, t->nleaves, nthreads, nn, dist2, -1);
}

bfcr_status bfcr_kdtree_allnn_part(const bfcr_kdtree *t, int part, int nparts, int nthreads,
                                   int64_t *pos_lo, int64_t *pos_hi, int64_t *nn, double *dist2) {
  if (!t || t->n < 2 || nparts < 1 || part < 0 || part >= nparts || !pos_lo || !pos_hi)
    return BFCR_ERR_ARG;
  int64_t L0 = t->nleaves * part / nparts, L1 = t->nleaves * (part + 1) / nparts;
  *pos_lo = L0 < t->nleaves ? t->node[t->leaf[L0]].lo : t->n;
  *pos_hi = L1 < t->nleaves ? t->node[t->leaf[L1]].lo : t->n;
  if (*pos_hi > *pos_lo && (!nn || !dist2)) return BFCR_ERR_ARG;
  return t->walks->allnn_leaves(t, L0, L1, nthreads, nn, dist2, *pos_lo);
}

const int64_t *bfcr_kdtree_order(const bfcr_kdtree *t) {
  return t ? t->idx : NULL;
}
