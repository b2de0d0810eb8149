/* Spatial slabs along a principal axis, shared by the distributed exact searches: the
 * level-0 best friends (knn_dist.c), prediction's nearest training row (knn_query_dist.c)
 * and the cross-validation's nearest row outside the fold (lib/model/cv_dist.c).
 *
 * A slab plan is the axis v and P - 1 splitters on the keys (t = z.v, global index):
 * slab p holds the rows whose key lies between splitters p - 1 and p, so slabs are
 * consecutive along v and every key (hence every row) has exactly one slab. Any plan is
 * exact; the principal axis makes the slabs thin across the data's longest direction,
 * which keeps the boundary small. The window below says which slabs can hold a row
 * within a canonical squared distance r2 of a point: the margin covers the rounding of the
 * projections and of bfcr_dist2 (derivation in docs/knn-distributed.md), and a larger
 * margin only costs queries, never an answer. */
#ifndef BFCR_KNN_SLAB_H
#define BFCR_KNN_SLAB_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/zsrc.h"

/* Rows sampled for the axis and the splitters (at least 64 P). */
#define BFCR_SLAB_SAMPLE_TARGET 16384

/* Projection on the axis, in a fixed order (every rank runs the same code on the same v). */
static inline double bfcr_slab_proj(const double *z, const double *v, int d) {
  double s = 0.0;
  for (int k = 0; k < d; k++) s += z[k] * v[k];
  return s;
}

/* Bound on |bfcr_slab_proj(z) - z.v| (exact real value), whatever the order of the sum:
 * gamma_d sum |z_k v_k| <= 2 (d + 2) u sum, taken twice over, plus underflow. */
static inline double bfcr_slab_proj_err(const double *z, const double *v, int d) {
  double a = 0.0;
  for (int k = 0; k < d; k++) a += fabs(z[k] * v[k]);
  return 4.0 * (d + 2) * DBL_EPSILON * a + 4.0 * (d + 2) * DBL_TRUE_MIN;
}

static inline int bfcr_slab_key_less(double ta, int64_t ga, double tb, int64_t gb) {
  return ta < tb || (ta == tb && ga < gb);
}

/* Slab of a key: the number of splitters <= key (splitters are sorted). */
int bfcr_slab_of(double t, int64_t g, const double *split_t, const int64_t *split_g, int P);

/* The plan of rows distributed in blocks (this rank: rows [offset, offset + n_local) of n
 * from zs; off[p], cnt[p]: every rank's block): the rows whose global index is a multiple
 * of max(1, n / max(BFCR_SLAB_SAMPLE_TARGET, 64 P)) are gathered on rank 0, which takes the
 * principal axis of their covariance (LAPACKE_dsyevd; the coordinate of largest variance
 * if that fails) and the sample quantiles of their keys as splitters; one broadcast gives
 * every rank rank 0's bits. Fills v[d], split_t[P - 1], split_g[P - 1]; adds the bytes this
 * rank sent to *bytes (may be NULL). Collective; the status is agreed. */
bfcr_status bfcr_slab_plan(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                           int64_t n, const int64_t *off, const int *cnt, int d, double *v,
                           double *split_t, int64_t *split_g, int64_t *bytes);

/* What a slab search keeps for a later search of the same rows on the same ranks (the
 * level-0 search, knn_dist.c, for the cross-validation's routing, knn_cv_route.c): the
 * plan, and the order of this rank's slab rows in the slab's kd-tree, so the later search
 * rebuilds that tree by a permutation instead of the partitioning build
 * (bfcr_kdtree_build_order). 4 bytes per slab row plus the plan: the tree itself (about
 * 190 bytes a row at d = 8) is not kept between the two searches. */
typedef struct bfcr_slab_keep {
  int P, d;
  int64_t n;        /* rows of the whole set */
  double *v;        /* [d] axis */
  double *split_t;  /* [P] splitters (P - 1 used) */
  int64_t *split_g; /* [P] */
  int64_t ns;       /* rows of this rank's slab */
  int32_t *order;   /* [ns] kd-tree position p holds slab row order[p] (slab rows in
                       global-index order) */
} bfcr_slab_keep;
void bfcr_slab_keep_free(bfcr_slab_keep *k);

/* |v| with its rounding, widened, and the growth factor of the radius (the constants of
 * the window; computed once per plan). */
static inline double bfcr_slab_norm(const double *v, int d) {
  double nv2 = 0.0;
  for (int k = 0; k < d; k++) nv2 += v[k] * v[k];
  return sqrt(nv2) * (1.0 + 4.0 * (d + 2) * DBL_EPSILON);
}
static inline double bfcr_slab_grow(int d) {
  return 1.0 + 2.0 * (d + 4) * DBL_EPSILON;
}

/* Window [*lo, *hi] of projections that a row x with bfcr_dist2(x, z) <= r2 can have, for
 * a point z of projection tz and projection error ez; E bounds every candidate row's
 * projection error, nv = bfcr_slab_norm(v), grow = bfcr_slab_grow(d).
 * bfcr_dist2(x, z) <= r2 implies |x - z|^2 <= (r2 + d 2^-1074) (1 + (d + 3) u), hence
 * |t(x) - t(z)| <= |x - z| |v| + e(x) + e(z) (docs/knn-distributed.md). r2 = +inf gives
 * the whole line. */
static inline void bfcr_slab_window(double tz, double ez, double r2, double E, double nv,
                                    double grow, int d, double *lo, double *hi) {
  const double R = sqrt((r2 + d * DBL_TRUE_MIN) * grow) * (1.0 + 2.0 * DBL_EPSILON);
  const double w = (R * nv + ez + E) * (1.0 + 4.0 * DBL_EPSILON);
  double h = tz + w, l = tz - w;
  h += fabs(h) * DBL_EPSILON;
  l -= fabs(l) * DBL_EPSILON;
  *lo = l;
  *hi = h;
}

/* The slabs in reach of the window [lo, hi] around slab `home`: *a..*b, consecutive
 * because non-empty slabs hold increasing keys. info[4 p ..] = (tmin, tmax, emax, rows) of
 * slab p; empty slabs are skipped (callers skip them inside a..b too). */
static inline void bfcr_slab_reach(const double *info, int P, int home, double lo, double hi,
                                   int *a, int *b) {
  int x = home, y = home;
  for (int p = home + 1; p < P; p++) {
    if (info[4 * p + 3] == 0.0) continue;
    if (!(info[4 * p] <= hi)) break;
    y = p;
  }
  for (int p = home - 1; p >= 0; p--) {
    if (info[4 * p + 3] == 0.0) continue;
    if (!(info[4 * p + 1] >= lo)) break;
    x = p;
  }
  *a = x;
  *b = y;
}

#endif
