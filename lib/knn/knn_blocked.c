/* Exact 1-NN by pruned blocked GEMM: spatial blocks, ball bounds, DGEMM on surviving pairs.
 *
 * What: the same answers as bfcr_knn_gemm_tiles (the unique minimum of (bfcr_dist2, index)
 * per query) without multiplying every query tile with every reference tile. The rows are
 * shifted and power-of-two scaled exactly as in knn_gemm.c (x' = (x - mu) 2^-e) and then
 *  1. partitioned into blocks of at most `leaf` rows by a principal-direction split tree:
 *     each node's direction is the top eigenvector of a strided sample's covariance (a few
 *     power iterations, fixed start, fixed order), its rows are split at the median of
 *     their projections ((value, index) order, so the tree is a pure function of the
 *     data). PCA splits follow the data's own low-dimensional structure, where kd-tree
 *     splits need up to d levels to halve a cell's diameter (docs/knn.md);
 *  2. per block: centroid c and radius r (largest distance of a member to c), inflated so
 *     that the ball holds the *exact* scaled points (see "Bound" below);
 *  3. per query block Bq: reference blocks in increasing order of the lower bound
 *       lb(Bq, Br) = max(0, |c_q - c_r| - r_q - r_r)^2,
 *     ties by block id; before each pair the block's upper bound U = max over its queries
 *     of their current best, widened as in knn_gemm.c, is compared: once lb > U, this and
 *     every later block are skipped (no pair in them can reach or tie any query's best);
 *  4. every surviving pair is one cblas_dgemm tile on the augmented rows of knn_gemm.c
 *     ([q', 1] . [-2 r', |r'|^2 (1 - c eps)]^T) followed by the same scan and the same
 *     on-the-spot canonical re-check, so the exactness argument of knn_gemm.c carries
 *     over unchanged: pruning only removes pairs whose canonical distance exceeds the
 *     query's best (never a tie, never the answer).
 *
 * Bound (scaled units; u = 2^-53, delta = (2d + 16) eps): computed centroids are points,
 * so the triangle inequality holds for them exactly; the computed norms err by at most
 * (d + 2) u relative (sums of d squares, one square root) and 2^-536 sqrt(d) absolute
 * (underflow of squares); the computed scaled coordinates differ from the exact ones by at
 * most u each (|x'| < 1), i.e. sqrt(d) u per row. Hence r is stored as
 * sqrt(s) (1 + delta) + sqrt(d) (2 eps + 2^-536), and lb uses
 * (|c_q - c_r| (1 - 2 delta) - (r_q + r_r) (1 + 2 delta)) squared times (1 - 8 eps): a lower
 * bound of the exact scaled squared distance of every pair. A block is skipped only when
 * lb > 2^-2e (D* (1 + 4 d eps) + 4 (d + 2) 2^-1074) + (4d + 32) 2^-1074 for every query of
 * the block, D* its best canonical value; as |bfcr_dist2 - D| <= d u D + d 2^-1074, every
 * skipped pair then has a canonical value > D*. D* = +inf never skips (overflowing
 * coordinates: every pair is re-checked). Coordinates whose shift overflows fall back to
 * the brute scan, as in knn_gemm.c.
 * Complexity: O(n d log(n / leaf)) for the split tree, O(nb^2 d) for the block bounds,
 * 2 (d + 1) per surviving pair in DGEMM.
 * Threads: OpenMP over query blocks (dynamic); the visiting order and the pruning of a
 * block depend on the data only, so the counts in the stats are the same for any thread
 * count (the times are not). OpenBLAS must run single-threaded inside (caller's job). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cblas.h>
#include <omp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "knn/knn.h"

#define SPLIT_SAMPLE 256 /* rows per node used to find the split direction */
#define SPLIT_ITERS 5    /* power iterations */
#ifndef BLK_QSUB
#define BLK_QSUB 512 /* queries per DGEMM call: the product slice stays in L2 for the scan */
#endif

/* CPU time of the calling thread: the tile phase's rate is read per core, unaffected by
 * other processes sharing the cores (stats only). */
static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* x . v (and (x - c) . v) in four partial sums: a heuristic value (the split direction and
 * position), not a distance, so the order is free; one chain would wait on every add. */
static inline double dot4(const double *x, const double *v, int d) {
  double a0 = 0.0, a1 = 0.0, a2 = 0.0, a3 = 0.0;
  int k = 0;
  for (; k + 4 <= d; k += 4) {
    a0 += x[k] * v[k];
    a1 += x[k + 1] * v[k + 1];
    a2 += x[k + 2] * v[k + 2];
    a3 += x[k + 3] * v[k + 3];
  }
  for (; k < d; k++) a0 += x[k] * v[k];
  return (a0 + a1) + (a2 + a3);
}

typedef struct proj_item {
  double p;
  int64_t i;
} proj_item;

static int item_less(const proj_item *a, const proj_item *b) {
  return a->p < b->p || (a->p == b->p && a->i < b->i);
}

static void item_swap(proj_item *a, proj_item *b) {
  proj_item t = *a;
  *a = *b;
  *b = t;
}

/* Rearrange v[0, n) so that v[k] is the k-th smallest in (p, i) order, smaller ones
 * before it and larger ones after (quickselect; pivot = median of three positions). */
static void select_kth(proj_item *v, int64_t n, int64_t k) {
  int64_t lo = 0, hi = n - 1;
  while (hi > lo) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (item_less(&v[mid], &v[lo])) item_swap(&v[mid], &v[lo]);
    if (item_less(&v[hi], &v[lo])) item_swap(&v[hi], &v[lo]);
    if (item_less(&v[hi], &v[mid])) item_swap(&v[hi], &v[mid]);
    const proj_item piv = v[mid];
    int64_t a = lo, b = hi;
    while (a <= b) {
      while (item_less(&v[a], &piv)) a++;
      while (item_less(&piv, &v[b])) b--;
      if (a <= b) {
        item_swap(&v[a], &v[b]);
        a++;
        b--;
      }
    }
    if (k <= b)
      hi = b;
    else if (k >= a)
      lo = a;
    else
      return;
  }
}

/* Split rows perm[lo, hi) of Xs (n x d scaled rows) along the sample's principal
 * direction; the lower part first; returns its size. work: hi - lo items, dir: 3 d
 * doubles. */
static int64_t split_node(const double *Xs, int d, int64_t *perm, int64_t lo, int64_t hi,
                          proj_item *work, double *dir) {
  const int64_t s = hi - lo;
  const int64_t step = s > SPLIT_SAMPLE ? s / SPLIT_SAMPLE : 1;
  double *mean = dir + d, *w = dir + 2 * d;
  int64_t ns = 0;
  for (int k = 0; k < d; k++) mean[k] = 0.0;
  for (int64_t p = lo; p < hi; p += step, ns++) {
    const double *x = Xs + perm[p] * d;
    for (int k = 0; k < d; k++) mean[k] += x[k];
  }
  for (int k = 0; k < d; k++) mean[k] /= (double)ns;
  /* Start: the widest coordinate of the sample (fixed, never orthogonal to all data);
   * one pass over the sample's rows (row-major: a column walk misses the cache). */
  for (int k = 0; k < d; k++) w[k] = 0.0;
  for (int64_t p = lo; p < hi; p += step) {
    const double *x = Xs + perm[p] * d;
    for (int k = 0; k < d; k++) w[k] += (x[k] - mean[k]) * (x[k] - mean[k]);
  }
  int kmax = 0;
  for (int k = 1; k < d; k++) kmax = w[k] > w[kmax] ? k : kmax;
  for (int k = 0; k < d; k++) dir[k] = k == kmax ? 1.0 : 0.0;
  for (int it = 0; it < SPLIT_ITERS; it++) {
    const double cm = dot4(mean, dir, d);
    for (int k = 0; k < d; k++) w[k] = 0.0;
    for (int64_t p = lo; p < hi; p += step) {
      const double *x = Xs + perm[p] * d;
      const double a = dot4(x, dir, d) - cm; /* (x - mean) . dir */
      for (int k = 0; k < d; k++) w[k] += a * (x[k] - mean[k]);
    }
    double nrm = 0.0;
    for (int k = 0; k < d; k++) nrm += w[k] * w[k];
    if (!(nrm > 0.0) || !isfinite(nrm)) break; /* constant sample: keep the direction */
    nrm = 1.0 / sqrt(nrm);
    for (int k = 0; k < d; k++) dir[k] = w[k] * nrm;
  }
  for (int64_t p = lo; p < hi; p++) {
    const double *x = Xs + perm[p] * d;
    work[p - lo] = (proj_item){dot4(x, dir, d), perm[p]};
  }
  /* Cut at the projections' mean (where a gap between groups usually lies: a split
   * through a cluster makes both halves' balls wide), kept within the middle half so
   * that blocks stay at least a quarter of the leaf size. */
  double pm = 0.0;
  for (int64_t p = 0; p < s; p++) pm += work[p].p;
  pm /= (double)s;
  int64_t cut = 0;
  for (int64_t p = 0; p < s; p++) cut += work[p].p < pm;
  if (cut < s / 4) cut = s / 4;
  if (cut > s - s / 4) cut = s - s / 4;
  select_kth(work, s, cut);
  for (int64_t p = lo; p < hi; p++) perm[p] = work[p - lo].i;
  return cut;
}

/* Block boundaries (nb + 1 offsets into perm) of the split tree over the n rows of Xs;
 * perm receives the row order. Returns the number of blocks, -1 on allocation failure. */
static int64_t split_tree(const double *Xs, int64_t n, int d, int64_t leaf, int nt, int64_t *perm,
                          int64_t **bounds_out) {
  for (int64_t i = 0; i < n; i++) perm[i] = i;
  /* At most n parts. */
  int64_t nb = 1;
  const int64_t cap = n + 1;
  int64_t *b = malloc((size_t)(cap + 1) * sizeof *b), *nbnd = malloc((size_t)(cap + 1) * sizeof *b);
  proj_item *work = malloc((size_t)n * sizeof *work);
  double *dirs = malloc((size_t)nt * 3 * (size_t)d * sizeof *dirs);
  int64_t *cuts = malloc((size_t)(cap + 1) * sizeof *cuts);
  if (!b || !nbnd || !work || !dirs || !cuts) {
    free(b), free(nbnd), free(work), free(dirs), free(cuts);
    return -1;
  }
  b[0] = 0;
  b[1] = n;
  for (;;) {
    int64_t more = 0;
    for (int64_t k = 0; k < nb; k++) more += b[k + 1] - b[k] > leaf;
    if (!more) break;
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1) default(none) \
    shared(Xs, d, perm, b, nb, leaf, work, dirs, cuts)
    for (int64_t k = 0; k < nb; k++) {
      if (b[k + 1] - b[k] > leaf)
        cuts[k] = split_node(Xs, d, perm, b[k], b[k + 1], work + b[k],
                             dirs + omp_get_thread_num() * 3 * d);
    }
    int64_t m = 0;
    nbnd[0] = 0;
    for (int64_t k = 0; k < nb; k++) {
      if (b[k + 1] - b[k] > leaf) nbnd[++m] = b[k] + cuts[k];
      nbnd[++m] = b[k + 1];
    }
    int64_t *t = b;
    b = nbnd;
    nbnd = t;
    nb = m;
  }
  free(nbnd), free(work), free(dirs), free(cuts);
  *bounds_out = b;
  return nb;
}

/* Centroid and inflated radius of every block (see "Bound"). */
static void block_balls(const double *Xs, int d, const int64_t *perm, const int64_t *b, int64_t nb,
                        int nt, double *cen, double *rad) {
  const double delta = (2.0 * d + 16.0) * DBL_EPSILON;
  const double absr = sqrt((double)d) * (2.0 * DBL_EPSILON + 0x1p-536);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4) default(none) \
    shared(Xs, d, perm, b, nb, cen, rad, delta, absr)
  for (int64_t k = 0; k < nb; k++) {
    double *c = cen + k * d;
    for (int j = 0; j < d; j++) c[j] = 0.0;
    for (int64_t p = b[k]; p < b[k + 1]; p++) {
      for (int j = 0; j < d; j++) c[j] += Xs[perm[p] * d + j];
    }
    for (int j = 0; j < d; j++) c[j] /= (double)(b[k + 1] - b[k]);
    double r2 = 0.0;
    for (int64_t p = b[k]; p < b[k + 1]; p++) {
      const double s = bfcr_dist2(Xs + perm[p] * d, c, d);
      if (s > r2) r2 = s;
    }
    rad[k] = sqrt(r2) * (1.0 + delta) + absr;
  }
}

static double ball_lb(const double *cq, double rq, const double *cr, double rr, int d) {
  const double delta = (2.0 * d + 16.0) * DBL_EPSILON;
  const double g =
      sqrt(bfcr_dist2(cq, cr, d)) * (1.0 - 2.0 * delta) - (rq + rr) * (1.0 + 2.0 * delta);
  return g > 0.0 ? g * g * (1.0 - 8.0 * DBL_EPSILON) : 0.0;
}

/* Mask of the values g[0..7] that are <= t (bit j for g[j]); two SSE2 compares per pair of
 * values, no branches (a scalar scan costs a few cycles per value). */
static inline unsigned chunk_le(const double *g, double t) {
#ifdef __SSE2__
  const __m128d tv = _mm_set1_pd(t);
  const unsigned m0 = (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(g), tv));
  const unsigned m1 = (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(g + 2), tv));
  const unsigned m2 = (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(g + 4), tv));
  const unsigned m3 = (unsigned)_mm_movemask_pd(_mm_cmple_pd(_mm_loadu_pd(g + 6), tv));
  return m0 | m1 << 2 | m2 << 4 | m3 << 6;
#else
  unsigned m = 0;
  for (int j = 0; j < 8; j++) m |= (unsigned)(g[j] <= t) << j;
  return m;
#endif
}

/* Smallest of g[0..n) (no NaN in a tile: the inputs are finite), 8 values per step. */
static inline double row_min(const double *g, int n) {
  int j = 0;
  double m = INFINITY;
#ifdef __SSE2__
  __m128d a0 = _mm_set1_pd(INFINITY), a1 = a0, a2 = a0, a3 = a0;
  for (; j + 8 <= n; j += 8) {
    a0 = _mm_min_pd(a0, _mm_loadu_pd(g + j));
    a1 = _mm_min_pd(a1, _mm_loadu_pd(g + j + 2));
    a2 = _mm_min_pd(a2, _mm_loadu_pd(g + j + 4));
    a3 = _mm_min_pd(a3, _mm_loadu_pd(g + j + 6));
  }
  a0 = _mm_min_pd(_mm_min_pd(a0, a1), _mm_min_pd(a2, a3));
  a0 = _mm_min_sd(a0, _mm_unpackhi_pd(a0, a0));
  m = _mm_cvtsd_f64(a0);
#endif
  for (; j < n; j++) m = g[j] < m ? g[j] : m;
  return m;
}

/* Mask of g[j8 .. j8 + 8) (fewer at the row's end n) with lo < g <= hi. */
static inline unsigned band_mask(const double *g, int j8, int n, double lo, double hi) {
  if (j8 + 8 <= n) return chunk_le(g + j8, hi) & ~chunk_le(g + j8, lo);
  unsigned mask = 0;
  for (int j = j8; j < n; j++) mask |= (unsigned)(g[j] <= hi && !(g[j] <= lo)) << (j - j8);
  return mask;
}

typedef struct lb_item {
  double lb;
  int64_t k;
} lb_item;

static int lb_cmp(const void *a, const void *b) {
  const lb_item *x = a, *y = b;
  if (x->lb < y->lb) return -1;
  if (x->lb > y->lb) return 1;
  return (x->k > y->k) - (x->k < y->k);
}

/* Scaled copy of rows X (n x d): (x - mu) 2^-e. */
static void scale_rows(const double *X, int64_t n, int d, const double *mu, int e, int nt,
                       double *Xs) {
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(X, n, d, mu, e, Xs)
  for (int64_t i = 0; i < n; i++) {
    for (int k = 0; k < d; k++) Xs[i * d + k] = ldexp(X[i * d + k] - mu[k], -e);
  }
}

/* One side of the search: its rows scaled ((x - mu) 2^-e, *Xs), split into blocks (*perm:
 * the row order, *bounds: nb + 1 offsets) and each block's ball (*cen, *rad). Returns nb,
 * or -1 on allocation failure (whatever was allocated is in the outputs, for the caller to
 * free). */
static int64_t partition_rows(const double *X, int64_t n, int d, const double *mu, int e,
                              int64_t leaf, int nt, double **Xs, int64_t **perm, int64_t **bounds,
                              double **cen, double **rad) {
  *Xs = malloc((size_t)n * d * sizeof(double));
  *perm = malloc((size_t)n * sizeof(int64_t));
  if (!*Xs || !*perm) return -1;
  scale_rows(X, n, d, mu, e, nt, *Xs);
  const int64_t nb = split_tree(*Xs, n, d, leaf, nt, *perm, bounds);
  if (nb < 0) return -1;
  *cen = malloc((size_t)nb * d * sizeof(double));
  *rad = malloc((size_t)nb * sizeof(double));
  if (!*cen || !*rad) return -1;
  block_balls(*Xs, d, *perm, *bounds, nb, nt, *cen, *rad);
  return nb;
}

bfcr_status bfcr_knn_blocked(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                             int exclude_self, int nthreads, int64_t leaf,
                             bfcr_knn_blocked_stats *stats, int64_t *nn, double *dist2) {
  if (stats) *stats = (bfcr_knn_blocked_stats){0};
  if (!R || d < 1 || nR < 1 || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  if (exclude_self && (m != nR || nR < 2)) return BFCR_ERR_ARG;
  if (nR > INT64_MAX / 8 / (d + 1) || m > INT64_MAX / 8 / (d + 1)) return BFCR_ERR_NOMEM;
  if (m == 0) return BFCR_OK;
  if (leaf < 8) leaf = 8;
  const double t_start = omp_get_wtime();
  const int nt = nthreads < 1 ? 1 : nthreads;
  const int K = d + 1;
  const int same = exclude_self != 0; /* Q is R: one partition serves both sides */
  bfcr_status st = BFCR_OK;
  double *mu = calloc((size_t)d, sizeof(double));
  double *Rs = NULL, *Qs = NULL, *Ra = NULL, *Qa = NULL, *qn = NULL;
  double *rcen = NULL, *rrad = NULL, *qcen = NULL, *qrad = NULL;
  int64_t *rperm = NULL, *qperm = NULL, *rb = NULL, *qb = NULL;
  int64_t nbr = 0, nbq = 0;
  int failed = 0;
  if (!mu) return BFCR_ERR_NOMEM;
  bfcr_gemm_prep gp;
  if (bfcr_knn_gemm_prep(R, nR, d, Q, m, mu, &gp) != 0) {
    bfcr_knn_brute(R, nR, d, Q, m, exclude_self, nn, dist2); /* overflow: exact scan */
    if (stats) stats->fallback = 1;
    goto cleanup;
  }
  const int e = gp.e;
  const double c_eps = gp.c_eps, tiny = gp.tiny;

  /* Partition (scaled rows), block balls. */
  nbr = partition_rows(R, nR, d, mu, e, leaf, nt, &Rs, &rperm, &rb, &rcen, &rrad);
  if (nbr < 0) goto nomem;
  if (same) {
    Qs = Rs, qperm = rperm, qb = rb, nbq = nbr, qcen = rcen, qrad = rrad;
  } else {
    nbq = partition_rows(Q, m, d, mu, e, leaf, nt, &Qs, &qperm, &qb, &qcen, &qrad);
    if (nbq < 0) goto nomem;
  }

  /* Augmented rows in block order (knn_gemm.c's layout). */
  Ra = malloc((size_t)nR * K * sizeof(double));
  Qa = malloc((size_t)m * K * sizeof(double));
  qn = malloc((size_t)m * sizeof(double));
  if (!Ra || !Qa || !qn) goto nomem;
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(Rs, Ra, rperm, nR, d, K, c_eps)
  for (int64_t p = 0; p < nR; p++) {
    const double *x = Rs + rperm[p] * d;
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      Ra[p * K + k] = -2.0 * x[k];
      s += x[k] * x[k];
    }
    Ra[p * K + d] = s - c_eps * s;
  }
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(Qs, Qa, qn, qperm, m, d, K)
  for (int64_t p = 0; p < m; p++) {
    const double *x = Qs + qperm[p] * d;
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      Qa[p * K + k] = x[k];
      s += x[k] * x[k];
    }
    Qa[p * K + d] = 1.0;
    qn[p] = s;
  }
  /* The scaled copies are no longer needed: they now hold the caller's rows in block
   * order, so that the canonical re-checks read contiguous memory (same values, same
   * bfcr_dist2 results). */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(R, Rs, rperm, nR, d)
  for (int64_t p = 0; p < nR; p++) memcpy(Rs + p * d, R + rperm[p] * d, (size_t)d * sizeof(double));
  if (!same) {
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(Q, Qs, qperm, m, d)
    for (int64_t p = 0; p < m; p++)
      memcpy(Qs + p * d, Q + qperm[p] * d, (size_t)d * sizeof(double));
  }
  const double *Rp = Rs, *Qp = Qs;
  const double t_tiles = omp_get_wtime();
  const int timed = stats != NULL;
  int64_t pairs_run = 0, pairs_all = 0, tiles_run = 0, rechecks = 0;
  double sec_dgemm = 0.0, sec_tiles = 0.0;
  int64_t maxq = 0, maxr = 0;
  for (int64_t k = 0; k < nbq; k++) maxq = qb[k + 1] - qb[k] > maxq ? qb[k + 1] - qb[k] : maxq;
  for (int64_t k = 0; k < nbr; k++) maxr = rb[k + 1] - rb[k] > maxr ? rb[k + 1] - rb[k] : maxr;
#pragma omp parallel num_threads(nt) default(none)                                             \
    shared(Rp, Qp, Ra, Qa, qn, nR, m, d, K, e, c_eps, tiny, exclude_self, timed, nn, dist2, failed, nbq, \
               nbr, qb, rb, qperm, rperm, qcen, qrad, rcen, rrad, maxq, maxr)                   \
    reduction(+ : pairs_run, pairs_all, tiles_run, rechecks, sec_dgemm, sec_tiles)
  {
    double *G = malloc((size_t)BLK_QSUB * maxr * sizeof(double));
    double *bd = malloc((size_t)maxq * sizeof(double)),
           *thr = malloc((size_t)maxq * sizeof(double));
    int64_t *bj = malloc((size_t)maxq * sizeof(int64_t));
    lb_item *ord = malloc((size_t)nbr * sizeof(lb_item));
    const int ok = G && bd && thr && bj && ord;
    if (!ok) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t kq = 0; kq < nbq; kq++) {
      if (!ok) continue;
      const int64_t i0 = qb[kq];
      const int mq = (int)(qb[kq + 1] - i0);
      for (int i = 0; i < mq; i++) {
        bd[i] = INFINITY;
        bj[i] = INT64_MAX;
        thr[i] = INFINITY;
      }
      for (int64_t kr = 0; kr < nbr; kr++)
        ord[kr] = (lb_item){ball_lb(qcen + kq * d, qrad[kq], rcen + kr * d, rrad[kr], d), kr};
      qsort(ord, (size_t)nbr, sizeof *ord, lb_cmp);
      pairs_all += (int64_t)mq * nR;
      for (int64_t o = 0; o < nbr; o++) {
        /* Block bound: the widest of the queries' current thresholds (bfcr_knn_gemm_threshold is
         * monotone, so it is the threshold of the largest best; +inf: no pruning). */
        double wb = 0.0;
        for (int i = 0; i < mq; i++) wb = bd[i] > wb ? bd[i] : wb;
        double U = bfcr_knn_gemm_threshold(wb, d, e) + tiny;
        if (isnan(U)) U = INFINITY;
        if (ord[o].lb > U) break; /* sorted: no later block can do better */
        const int64_t kr = ord[o].k;
        const int64_t j0 = rb[kr];
        const int mr = (int)(rb[kr + 1] - j0);
        pairs_run += (int64_t)mq * mr;
        tiles_run++;
        /* The tile runs in slices of BLK_QSUB queries, each scanned right after its
         * product while it is still in cache. */
        for (int s0 = 0; s0 < mq; s0 += BLK_QSUB) {
          const int ms = mq - s0 < BLK_QSUB ? mq - s0 : BLK_QSUB;
          const double ta = timed ? thread_cpu() : 0.0;
          cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, ms, mr, K, 1.0, Qa + (i0 + s0) * K,
                      K, Ra + j0 * K, K, 0.0, G, mr);
          const double tb = timed ? thread_cpu() : 0.0;
          for (int i = s0; i < s0 + ms; i++) {
            const double *g = G + (int64_t)(i - s0) * mr;
            double t = thr[i];
            /* The row's smallest value first (usually the one pair that can improve the
             * best), then whatever is left within the lowered threshold: a few canonical
             * re-checks per improving row instead of one per running-minimum step. */
            const double mn = row_min(g, mr);
            if (!(mn <= t)) continue;
            const int64_t gi = qperm[i0 + i];
            for (int pass = 0; pass < 2; pass++) {
              for (int j8 = 0; j8 < mr; j8 += 8) {
                unsigned mask =
                    pass == 0 ? band_mask(g, j8, mr, -INFINITY, mn) : band_mask(g, j8, mr, mn, t);
                while (mask) {
                  const int j = j8 + __builtin_ctz(mask);
                  mask &= mask - 1;
                  if (!(g[j] <= t)) continue; /* t fell since the mask was taken */
                  const int64_t gj = rperm[j0 + j];
                  if (exclude_self && gj == gi) continue;
                  rechecks++;
                  const double dc = bfcr_dist2(Qp + (i0 + i) * d, Rp + (j0 + j) * d, d);
                  if (bfcr_nn_better(dc, gj, bd[i], bj[i])) {
                    bd[i] = dc;
                    bj[i] = gj;
                    t = bfcr_knn_gemm_threshold(dc, d, e) + c_eps * qn[i0 + i] - qn[i0 + i] + tiny;
                    if (isnan(t)) t = INFINITY;
                  }
                }
              }
              if (!(t > mn)) break; /* nothing left above the minimum */
            }
            thr[i] = t;
          }
          sec_dgemm += tb - ta;
          sec_tiles += timed ? thread_cpu() - ta : 0.0;
        }
      }
      for (int i = 0; i < mq; i++) {
        const int64_t gi = qperm[i0 + i];
        nn[gi] = bj[i];
        dist2[gi] = bd[i];
      }
    }
    free(G), free(bd), free(thr), free(bj), free(ord);
  }
  if (failed) goto nomem;
  if (stats) {
    stats->blocks_r = nbr;
    stats->blocks_q = nbq;
    stats->tiles = tiles_run;
    stats->rechecks = rechecks;
    stats->flops_done = 2.0 * K * (double)pairs_run;
    stats->flops_avoided = 2.0 * K * (double)(pairs_all - pairs_run);
    stats->sec_setup = t_tiles - t_start;
    stats->sec_tiles_wall = omp_get_wtime() - t_tiles;
    stats->sec_dgemm = sec_dgemm;
    stats->sec_tiles = sec_tiles;
  }
  goto cleanup;
nomem:
  st = BFCR_ERR_NOMEM;
cleanup:
  if (!same) {
    free(Qs), free(qperm), free(qb), free(qcen), free(qrad);
  }
  free(mu), free(Rs), free(rperm), free(rb), free(rcen), free(rrad);
  free(Ra), free(Qa), free(qn);
  return st;
}
