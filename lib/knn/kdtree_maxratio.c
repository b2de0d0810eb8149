/* Largest weighted inverse distance on a kd-tree (the Davies-Bouldin inner max).
 *
 * What: for a point q of weight wq and tree points j of weights w[j] >= 0,
 *   max_{j != exclude} (wq + w[j]) / sqrt(dist2(q, j)),  a pair at dist2 == 0 counting
 * as +inf, with dist2 the canonical distance (bit-identical to bfcr_dist2), starting
 * from a caller's value `best`. Every node carries the largest weight below it
 * (bfcr_kdtree_node_max), so a node is skipped as soon as its best possible ratio,
 * (wq + node_max) / sqrt(point-box bound), cannot exceed the running maximum. Unlike a
 * radius search with one global largest weight, the bound follows the weights that
 * are actually near q, and it tightens as the maximum grows.
 * Complexity: one branch-and-bound walk per query, O(log n) nodes for well-spread
 * low-dimensional points; more when a few heavy points are far away.
 * Exactness: the maximum of exactly computed ratios does not depend on the visiting
 * order. Skipping is conservative: the comparison is made on squared distances against
 * ((wq + wmax) / best)^2 enlarged by 2^-40, far more than the few roundings between that
 * value and any ratio computed from a point beyond it (ratio <= best then holds in
 * floating point), and extreme scales fall back to no skipping. NaN weights never prune.
 * Threads: the walk reads the tree only; callers run queries in parallel. */
#include <math.h>

#include "knn/kdtree_impl.h"

#define KD_STACK 192

int64_t bfcr_kdtree_nnodes(const bfcr_kdtree *t) {
  return t ? t->nnodes : 0;
}

bfcr_status bfcr_kdtree_node_max(const bfcr_kdtree *t, const double *w, double *node_max) {
  if (!t || !w || !node_max) return BFCR_ERR_ARG;
  /* Children have larger preorder ids than their parent: one pass from the end. */
  for (int64_t id = t->nnodes - 1; id >= 0; id--) {
    const bfcr_kd_node *nd = &t->node[id];
    double m;
    if (nd->right < 0) {
      m = w[t->idx[nd->lo]];
      for (int64_t p = nd->lo + 1; p < nd->hi; p++) {
        const double x = w[t->idx[p]];
        if (!(x <= m)) m = x; /* a NaN weight propagates: such a node is never skipped */
      }
    } else {
      const double a = node_max[id + 1], b = node_max[nd->right];
      m = !(b <= a) ? b : a;
    }
    node_max[id] = m;
  }
  return BFCR_OK;
}

double bfcr_kdtree_max_ratio(const bfcr_kdtree *t, const double *w, const double *node_max,
                             const double *q, double wq, int64_t exclude, double best,
                             double *work) {
  if (!t || !w || !node_max || !q || !work || !isfinite(best)) return best;
  return t->walks->max_ratio(t, w, node_max, q, wq, exclude, best, work);
}
