/* Exact nearest neighbours with one canonical distance.
 *
 * Canonical squared distance between rows a and b (float64, fixed loop order):
 *   s = 0; for k = 0..d-1: t = a[k] - b[k]; s += t * t;
 * (a-b)^2 == (b-a)^2 in IEEE arithmetic, so it is symmetric; the build uses strict
 * ISO C with -ffp-contract=off so no FMA changes the rounding. Every code path
 * (kd-tree, GEMM shortlist + re-check, distributed) returns exactly this value, and
 * ties go to the smallest index, so the answer is unique and identical for any
 * number of threads and ranks. The self pair is excluded by index, never by a large
 * constant. */
#ifndef BFCR_KNN_H
#define BFCR_KNN_H

#include <stdint.h>
#include "bfcr/status.h"

static inline double bfcr_dist2(const double *a, const double *b, int d) {
  double s = 0.0;
  for (int k = 0; k < d; k++) {
    double t = a[k] - b[k];
    s += t * t;
  }
  return s;
}

/* (dist2, index) order: smaller distance first, then smaller index. */
static inline int bfcr_nn_better(double d2, int64_t j, double best_d2, int64_t best_j) {
  return d2 < best_d2 || (d2 == best_d2 && j < best_j);
}

typedef struct bfcr_kdtree bfcr_kdtree;

/* Build a kd-tree over n rows of R (row-major, d columns; R is copied, so the caller
 * may free it). Linear-time partition build (median of the widest dimension), leaves
 * of at most a few dozen points. Uses up to nthreads OpenMP threads. */
bfcr_status bfcr_kdtree_build(const double *R, int64_t n, int d, int nthreads, bfcr_kdtree **out);
/* The same tree, built on R itself (malloc'd; the tree takes it over, permutes it in place
 * and frees it, also on error): one n x d copy less at the peak. */
bfcr_status bfcr_kdtree_build_take(double *R, int64_t n, int d, int nthreads, bfcr_kdtree **out);
/* Row-major coordinates of the tree's rows in tree order and the caller's index of
 * each (tree position k holds row idx[k]); valid while the tree lives. */
const double *bfcr_kdtree_rows(const bfcr_kdtree *t);
const int64_t *bfcr_kdtree_index(const bfcr_kdtree *t);
void bfcr_kdtree_free(bfcr_kdtree *t);

/* For each of the m query rows Q[i], the nearest reference row: nn[i] (index into R),
 * dist2[i]. exclude may be NULL, or give per query a reference index to skip (-1 for
 * none). When bound2 is non-NULL, only points with dist2 <= bound2[i] are looked at
 * and nn[i] = -1, dist2[i] = +inf when there is none (used by the distributed search).
 * Exact, ties to the smallest index. */
bfcr_status bfcr_kdtree_query(const bfcr_kdtree *t, const double *Q, int64_t m,
                              const int64_t *exclude, const double *bound2, int nthreads,
                              int64_t *nn, double *dist2);

/* For each of the m rows r = rows[i] of R (n x d row-major, the matrix the tree was built
 * on, so caller indices are row indices of R), the nearest row j of the tree with
 * grp[j] != grp[r]: nn[i], dist2[i] (-1, +inf when there is none). One exact search per
 * row over the whole tree, ties to the smallest index (the cross-validation's nearest
 * training row outside the held-out row's fold). */
bfcr_status bfcr_kdtree_query_other(const bfcr_kdtree *t, const double *R, const int64_t *rows,
                                    int64_t m, const int *grp, int nthreads, int64_t *nn,
                                    double *dist2);

/* All-points best friend among the tree's own points (query i excludes itself):
 * faster than bfcr_kdtree_query(t, R, ...) because queries run leaf by leaf. n >= 2. */
bfcr_status bfcr_kdtree_allnn(const bfcr_kdtree *t, int nthreads, int64_t *nn, double *dist2);

/* Part `part` of nparts of the all-points search: the points at tree positions
 * [*pos_lo, *pos_hi) (a contiguous run of whole leaves, so spatially coherent), results
 * in tree-position order: nn[p - *pos_lo], dist2[p - *pos_lo]. The parts of all
 * nparts together equal bfcr_kdtree_allnn. Lets ranks holding the same replicated
 * points split the search. */
bfcr_status bfcr_kdtree_allnn_part(const bfcr_kdtree *t, int part, int nparts, int nthreads,
                                   int64_t *pos_lo, int64_t *pos_hi, int64_t *nn, double *dist2);
/* Caller's row index of each tree position (n entries). */
const int64_t *bfcr_kdtree_order(const bfcr_kdtree *t);

/* Visit every reference point within squared radius r2 of q (inclusive), in no fixed
 * order; the visitor may lower *r2 (pruning by the tightened radius). */
typedef void (*bfcr_kd_visit_fn)(void *user, int64_t idx, double dist2, double *r2);
void bfcr_kdtree_radius(const bfcr_kdtree *t, const double *q, double r2, bfcr_kd_visit_fn fn,
                        void *user);

/* Weighted maximum ratio (kdtree_maxratio.c; the Davies-Bouldin inner max): w holds a
 * weight >= 0 per caller row index. bfcr_kdtree_node_max fills node_max (one entry per
 * node, bfcr_kdtree_nnodes of them) with the largest weight below each node; then
 * bfcr_kdtree_max_ratio returns max(best, max over rows j != exclude of
 * (wq + w[j]) / sqrt(dist2(q, j))), a pair at dist2 == 0 giving +inf; dist2 is the
 * canonical distance, so the value is exact. A non-finite best is returned as is.
 * work: 5 d doubles of scratch (one buffer per thread). */
int64_t bfcr_kdtree_nnodes(const bfcr_kdtree *t);
bfcr_status bfcr_kdtree_node_max(const bfcr_kdtree *t, const double *w, double *node_max);
double bfcr_kdtree_max_ratio(const bfcr_kdtree *t, const double *w, const double *node_max,
                             const double *q, double wq, int64_t exclude, double best,
                             double *work);

/* Best friend of every row of X (n >= 2), choosing the method by dimension: kd-tree
 * for low d, OpenBLAS GEMM tiles with an exact canonical re-check for high d. */
bfcr_status bfcr_knn_allnn(const double *X, int64_t n, int d, int nthreads, int64_t *nn,
                           double *dist2);
/* Whether the dispatch above uses the kd-tree for these rows (d small, or few columns
 * that are not binary). */
int bfcr_knn_prefers_kdtree(const double *X, int64_t n, int d);

/* Nearest row of R for each row of Q, method by dimension as above. */
bfcr_status bfcr_knn_query(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                           int nthreads, int64_t *nn, double *dist2);

/* GEMM path (exported for tests and benchmarks): shortlist by |q|^2 + |r|^2 - 2 q.r
 * computed with cblas_dgemm on tiles, then every candidate within the rounding margin
 * of the best is re-checked with bfcr_dist2. exclude_self: query i skips R row i
 * (requires Q == R, m == nR). */
bfcr_status bfcr_knn_gemm(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                          int exclude_self, int nthreads, int64_t *nn, double *dist2);

/* Reference O(n^2 d) search, for tests. */
void bfcr_knn_brute(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                    int exclude_self, int64_t *nn, double *dist2);

/* Dimension at or below which the kd-tree is used (chosen by measurement, bench/). */
#define BFCR_KNN_KDTREE_MAX_D 16

#endif
