/* Spatial cells of the ranks, shared by the distributed exact searches: the level-0 best
 * friends (knn_dist.c), prediction's nearest training row (knn_query_dist.c) and the
 * cross-validation's nearest row outside the fold (knn_cv_route.c).
 *
 * A plan is a recursive bisection of the ranks (a kd-partition): the ranks [r0, r1) of a
 * node split into [r0, rm) and [rm, r1), rm = r0 + floor((r1 - r0) / 2), and the node's
 * rows split at the sample quantile (rm - r0) / (r1 - r0) of the keys (t = z.v_a, global
 * index) on one of the plan's axes a (the leading principal axes of the sample, one per
 * tree depth at most; each node takes the axis along which its sample spreads most). The
 * node of the split between ranks rm - 1 and rm is stored at index rm - 1, so P - 1
 * splitters describe the tree, and a rank's cell is a box in the projected coordinates.
 * With P = 2 this is one split at the median along the principal axis (the former slabs).
 *
 * Exactness does not depend on the plan: after the rows have moved, every rank publishes
 * the actual range [tmin_k, tmax_k] of its rows' projections on EVERY axis k; a rank is in
 * reach of a query ball iff, on every axis, that range meets the ball's window
 * (bfcr_slab_window: the margin covers the rounding of the projections and of bfcr_dist2,
 * docs/knn-distributed.md). A row within the ball has its projections inside every window
 * and inside its rank's ranges, so its rank is reached. The box is also tested as a whole:
 * the gaps g_a between z's projections and a box (less the projection errors) bound
 * |v_a.(x - z)| from below, and sum_a (v_a.(x - z))^2 <= gram |x - z|^2 (the axes are
 * orthonormal up to rounding, gram bounds the largest eigenvalue of V V^T), so a cell with
 * sum_a g_a^2 > gram R^2 holds no row of the ball. A larger reach set only costs queries.
 * The reach test descends the bisection tree, pruning a node whose union box fails. */
#ifndef BFCR_KNN_SLAB_H
#define BFCR_KNN_SLAB_H

#include <float.h>
#include <math.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/zsrc.h"

/* Rows sampled for the axes and the splitters (at least 64 P). */
#define BFCR_SLAB_SAMPLE_TARGET 16384
/* Axes of a plan: at most the depth of the bisection tree (ceil(log2 P) <= 31) and d. */
#define BFCR_SLAB_MAX_AXES 32

typedef struct {
  int P, d, naxes;
  double *V;        /* naxes x d: the axes, row-major */
  double *split_t;  /* P - 1 splitters: node rm - 1 splits [r0, rm) | [rm, r1) */
  int64_t *split_g; /* their global indices (keys are (t, g)) */
  int *split_a;     /* their axes */
  /* Filled by bfcr_slab_ranges once the rows have moved: */
  int W;        /* 3 naxes + 1 */
  double *info; /* P x W: per axis (tmin, tmax, emax) of the rank's rows, then its rows */
  double *node; /* (P - 1) x 2 naxes: per internal node, the union of its ranks' ranges */
  double *E;    /* naxes: largest projection error of any row, per axis */
  double *nv;   /* naxes: bfcr_slab_norm of each axis */
  double gram;  /* >= the largest eigenvalue of V V^T (1 + a Gershgorin bound, widened) */
} bfcr_slabs;

/* Projection on an axis, in a fixed order (every rank runs the same code on the same v). */
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

/* Axes of a plan for P ranks in dimension d: min(d, ceil(log2 P)), at least 1. */
int bfcr_slab_naxes(int P, int d);

/* The plan of rows distributed in blocks (this rank: rows [offset, offset + n_local) of n
 * from zs; off[p], cnt[p]: every rank's block): the rows whose global index is a multiple
 * of max(1, n / max(BFCR_SLAB_SAMPLE_TARGET, 64 P)) are gathered on rank 0, which takes the
 * leading principal axes of their covariance (LAPACKE_dsyevd; the coordinates of largest
 * variance if that fails) and bisects the ranks and the sample recursively; one broadcast
 * gives every rank rank 0's bits. Allocates and fills *s (free with bfcr_slabs_free, also
 * after a failure); adds the bytes this rank sent to *bytes (may be NULL). Collective; the
 * status is agreed. */
bfcr_status bfcr_slab_plan(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                           int64_t n, const int64_t *off, const int *cnt, int d, bfcr_slabs *s,
                           int64_t *bytes);
void bfcr_slabs_free(bfcr_slabs *s);

/* Cell (rank) of the key of row z with global index g: the descent of the bisection tree.
 * _src reads own row i of zs (the same bits as bfcr_zsrc_row's). */
int bfcr_slab_of(const bfcr_slabs *s, const double *z, int64_t g);
int bfcr_slab_of_src(const bfcr_slabs *s, const bfcr_zsrc *zs, int64_t i, int64_t g);

/* This rank's ranges: mine[W] starts empty, then every row of the rank is added. */
void bfcr_slab_range_init(const bfcr_slabs *s, double *mine);
void bfcr_slab_range_add(const bfcr_slabs *s, const double *z, double *mine);
/* The ranges of the n rows X (row-major, d wide) into mine (initialized here), on nt
 * threads (minima, maxima and a count of rows: the same bits for any nt). */
void bfcr_slab_range_rows(const bfcr_slabs *s, const double *X, int64_t n, int nt, double *mine);

/* Gathers every rank's ranges (MPI_Allgather) and derives E, nv and the node boxes.
 * Collective, NOT agreed (an MPI failure is returned on the ranks that saw it). */
bfcr_status bfcr_slab_ranges(bfcr_ctx *ctx, bfcr_slabs *s, const double *mine, int64_t *bytes);

/* Rows of rank p after the move. */
static inline double bfcr_slab_rows(const bfcr_slabs *s, int p) {
  return s->info[(int64_t)p * s->W + s->W - 1];
}

/* What a slab search keeps for a later search of the same rows on the same ranks (the
 * level-0 search, knn_dist.c, for the cross-validation's routing, knn_cv_route.c): the
 * plan, the order of this rank's slab rows in the slab's kd-tree (so the later search
 * rebuilds that tree by a permutation instead of the partitioning build,
 * bfcr_kdtree_build_order), the slab rows themselves with their global indices (so the
 * rows need not move again: 72 bytes a slab row at d = 8 until the later search takes
 * them) and a hash of the whole set (bfcr_slab_rows_hash), which tells the later search
 * whether its rows are these. The tree itself (about 190 bytes a row at d = 8) is not
 * kept between the two searches. */
typedef struct bfcr_slab_keep {
  int P, d;
  int64_t n;       /* rows of the whole set */
  bfcr_slabs plan; /* the plan (axes, splitters; its ranges are filled again) */
  int64_t ns;      /* rows of this rank's cell */
  int32_t *order;  /* [ns] kd-tree position p holds cell row order[p] (cell rows in
                      global-index order) */
  double *rows;    /* [ns x d] the cell's rows in global-index order, or NULL */
  int64_t *sg;     /* [ns] their global indices, or NULL */
  uint64_t hash;   /* bfcr_slab_rows_hash of the whole set (the same on every rank) */
} bfcr_slab_keep;
void bfcr_slab_keep_free(bfcr_slab_keep *k);
/* This rank's part of a hash of the set: the XOR over its rows i (global index off + i)
 * and columns k of a mix of (off + i, k, the bits of row i's value k). XOR over the ranks
 * (MPI_BXOR) gives the same value for any split of the same rows. Local. */
uint64_t bfcr_slab_rows_hash(const bfcr_zsrc *zs, int64_t n_local, int64_t off);
/* A copy of plan src's axes and splitters into *dst, with its range arrays allocated (to
 * be filled by bfcr_slab_ranges). Local; BFCR_ERR_NOMEM leaves *dst empty. */
bfcr_status bfcr_slabs_copy_plan(const bfcr_slabs *src, bfcr_slabs *dst);

/* |v| with its rounding, widened, and the growth factor of the radius (the constants of
 * the window). */
static inline double bfcr_slab_norm(const double *v, int d) {
  double nv2 = 0.0;
  for (int k = 0; k < d; k++) nv2 += v[k] * v[k];
  return sqrt(nv2) * (1.0 + 4.0 * (d + 2) * DBL_EPSILON);
}
static inline double bfcr_slab_grow(int d) {
  return 1.0 + 2.0 * (d + 4) * DBL_EPSILON;
}

/* Window [*lo, *hi] of projections on one axis that a row x with bfcr_dist2(x, z) <= r2
 * can have, for a point z of projection tz and projection error ez; E bounds every
 * candidate row's projection error, nv = bfcr_slab_norm(v), grow = bfcr_slab_grow(d).
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

/* The ranks in reach of the ball {x : bfcr_dist2(x, z) <= r2}: every non-empty rank other
 * than `home` whose ranges meet z's window on every axis, written to out (room for P) in
 * increasing order (out = NULL: counted only); returns their number. */
int bfcr_slab_reach(const bfcr_slabs *s, const double *z, double r2, int home, int *out);
/* bfcr_slab_reach of m balls, as CSR: ball j (centre Z + (idx ? idx[j] : j) d, squared
 * radius r2[j]) reaches the ranks list[ptr[j]] .. list[ptr[j + 1] - 1], in increasing
 * order; cnt[p] = the balls that reach rank p. Returns list (malloc'd, at least one
 * element) or NULL with *st = BFCR_ERR_NOMEM. Local; nt threads. */
int *bfcr_slab_reach_csr(bfcr_ctx *ctx, bfcr_status *st, const bfcr_slabs *s, const double *Z,
                         const int64_t *idx, const double *r2, int64_t m, int home, int nt,
                         int64_t *ptr, int *cnt);

/* Home of a query row z (not a row of the plan): its key's cell (key (t, -1): before
 * every row of equal projection), or, when that cell is empty, the non-empty cell whose
 * box is nearest (sum of squared gaps over the axes, ties to the lower rank). Any home
 * gives the exact answer; a near one gives a small bound. Needs the ranges. */
int bfcr_slab_home(const bfcr_slabs *s, const double *z);

#endif
