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
void bfcr_kdtree_free(bfcr_kdtree *t);

/* For each of the m query rows Q[i], the nearest reference row: nn[i] (index into R),
 * dist2[i]. exclude may be NULL, or give per query a reference index to skip (-1 for
 * none). When bound2 is non-NULL, only points with dist2 <= bound2[i] are looked at
 * and nn[i] = -1, dist2[i] = +inf when there is none (used by the distributed search).
 * Exact, ties to the smallest index. */
bfcr_status bfcr_kdtree_query(const bfcr_kdtree *t, const double *Q, int64_t m,
                              const int64_t *exclude, const double *bound2, int nthreads,
                              int64_t *nn, double *dist2);

/* All-points best friend among the tree's own points (query i excludes itself):
 * faster than bfcr_kdtree_query(t, R, ...) because queries run leaf by leaf. n >= 2. */
bfcr_status bfcr_kdtree_allnn(const bfcr_kdtree *t, int nthreads, int64_t *nn, double *dist2);

/* Visit every reference point within squared radius r2 of q (inclusive), in no fixed
 * order; the visitor may lower *r2 (pruning by the tightened radius). */
typedef void (*bfcr_kd_visit_fn)(void *user, int64_t idx, double dist2, double *r2);
void bfcr_kdtree_radius(const bfcr_kdtree *t, const double *q, double r2, bfcr_kd_visit_fn fn,
                        void *user);

/* Best friend of every row of X (n >= 2), choosing the method by dimension: kd-tree
 * for low d, OpenBLAS GEMM tiles with an exact canonical re-check for high d. */
bfcr_status bfcr_knn_allnn(const double *X, int64_t n, int d, int nthreads, int64_t *nn,
                           double *dist2);
/* Best friends of rows [lo, hi) of X among all n rows (n >= 2), into nn[0 .. hi-lo) and
 * dist2[0 .. hi-lo): exactly entries lo..hi-1 of bfcr_knn_allnn's answer. Lets ranks
 * holding the same replicated items split the queries. */
bfcr_status bfcr_knn_allnn_slice(const double *X, int64_t n, int d, int64_t lo, int64_t hi,
                                 int nthreads, int64_t *nn, double *dist2);

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
