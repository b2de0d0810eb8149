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

/* A squared distance above which no point with weight sum <= num can have a ratio
 * above best (see the top comment); +inf when nothing can be skipped. */
static double kd_ratio_cut(double num, double best) {
  if (!(best > 0.0)) return INFINITY;
  const double r = num / best;
  if (!(r <= 1e150)) return INFINITY;
  if (r < 1e-140) return 1e-280;
  return r * r * (1.0 + 0x1p-40);
}

double bfcr_kdtree_max_ratio(const bfcr_kdtree *t, const double *w, const double *node_max,
                             const double *q, double wq, int64_t exclude, double best) {
  if (!t || !w || !node_max || !q || !isfinite(best)) return best;
  const int d = t->d;
  int64_t stack_id[KD_STACK];
  double stack_lb[KD_STACK];
  double acc[BFCR_KD_LEAF_MAX];
  int sp = 0;
  stack_id[sp] = 0;
  stack_lb[sp++] = bfcr_kd_point_box(q, t->bmin, t->bmax, d);
  while (sp > 0) {
    sp--;
    const int64_t id = stack_id[sp];
    const bfcr_kd_node *nd = &t->node[id];
    const double cut = kd_ratio_cut(wq + node_max[id], best);
    if (stack_lb[sp] > cut) continue;
    if (nd->right < 0) {
      const int m = (int)(nd->hi - nd->lo);
      bfcr_kd_leaf_dist(t, q, nd->lo, m, cut, acc);
      for (int j = 0; j < m; j++) {
        if (!(acc[j] <= cut)) continue;
        const int64_t gj = t->idx[nd->lo + j];
        if (gj == exclude) continue;
        const double ratio = acc[j] > 0.0 ? (wq + w[gj]) / sqrt(acc[j]) : INFINITY;
        if (ratio > best) {
          best = ratio;
          if (best == INFINITY) return best;
        }
      }
      continue;
    }
    const int64_t l = id + 1, r = nd->right;
    const double ll = bfcr_kd_point_box(q, t->bmin + l * d, t->bmax + l * d, d);
    const double lr = bfcr_kd_point_box(q, t->bmin + r * d, t->bmax + r * d, d);
    /* The child with the larger possible ratio is walked first: compare
     * (wq + wmax_l)^2 / ll with (wq + wmax_r)^2 / lr without dividing. */
    const double nl = wq + node_max[l], nr = wq + node_max[r];
    bfcr_kd_push2(stack_id, stack_lb, &sp, l, ll, r, lr, nl * nl * lr >= nr * nr * ll);
  }
  return best;
}
