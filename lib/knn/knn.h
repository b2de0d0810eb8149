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

#include <float.h>
#include <math.h>
#include <stddef.h>
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
/* The tree that holds row order[p] at position p (order: a permutation of 0..n-1, as
 * bfcr_kdtree_order32 gave it for a tree over the same n rows), built on R (taken over
 * as by bfcr_kdtree_build_take) by permuting the rows instead of partitioning them: the
 * same tree as that earlier build when the rows are the same, at a fraction of its cost.
 * Any order gives a valid tree (searches stay exact), a poor one only a slow tree.
 * n <= INT32_MAX; BFCR_ERR_ARG when order is not a permutation. */
bfcr_status bfcr_kdtree_build_order(double *R, int64_t n, int d, const int32_t *order, int nthreads,
                                    bfcr_kdtree **out);
/* The tree's order (the caller's row of each position) as 32-bit indices (n < 2^31). */
void bfcr_kdtree_order32(const bfcr_kdtree *t, int32_t *order);
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
/* For each of the m query rows Q[i] with group qgrp[i], the nearest tree row j with
 * grp[j] != qgrp[i] (grp: per caller index of the tree's rows): nn[i], dist2[i]. bound2
 * (NULL or per query) limits the search as in bfcr_kdtree_query (points at the bound are
 * kept); -1, +inf when there is none. Exact, ties to the smallest index. */
bfcr_status bfcr_kdtree_query_grp(const bfcr_kdtree *t, const double *Q, const int *qgrp, int64_t m,
                                  const int *grp, const double *bound2, int nthreads, int64_t *nn,
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

/* Method of the exact search (docs/knn.md): chosen by a probe of the data, or forced.
 * Every method returns the same answers bit for bit; the choice changes time only. */
typedef enum bfcr_nn_method { BFCR_NN_AUTO = 0, BFCR_NN_TREE = 1, BFCR_NN_GEMM = 2 } bfcr_nn_method;
const char *bfcr_nn_method_name(bfcr_nn_method m);
/* "auto", "tree", "gemm" -> *out; -1 when unknown. */
int bfcr_nn_method_parse(const char *s, bfcr_nn_method *out);

/* What a search chose and why (knn_choose.c). */
typedef struct bfcr_knn_choice {
  bfcr_nn_method method; /* BFCR_NN_TREE or BFCR_NN_GEMM: what ran */
  int forced;            /* forced by the caller (no decision made) */
  int probe_queries;     /* 0: no probe ran */
  double evals_per_query, nodes_per_query;
  double est_tree_s, est_gemm_s; /* the cost model's estimates for the whole search */
} bfcr_knn_choice;

/* Walk a fixed sample of the tree's own points (self excluded when exclude_self) and
 * estimate the tree and GEMM costs of m queries against the tree (cost model and
 * constants in knn_choose.c and docs/knn.md). Deterministic: depends on the tree only. */
void bfcr_knn_probe(const bfcr_kdtree *t, int64_t m, int exclude_self, int nthreads,
                    bfcr_knn_choice *c);
/* c->method from the estimates, or from forced when not BFCR_NN_AUTO. */
void bfcr_knn_decide(bfcr_nn_method forced, bfcr_knn_choice *c);
/* "kd-tree (probe: 256 queries, 41.0 dist evals/query, est tree 0.2 s vs gemm 30 s)". */
void bfcr_knn_choice_format(const bfcr_knn_choice *c, char *buf, size_t size);

/* Best friend of every row of X (n >= 2) by the method `method` (auto: probe). choice
 * (may be NULL) receives what was chosen. tree_out (may be NULL) receives the kd-tree
 * when one was built (the caller frees it), else NULL. */
bfcr_status bfcr_knn_allnn_m(const double *X, int64_t n, int d, int nthreads, bfcr_nn_method method,
                             bfcr_knn_choice *choice, bfcr_kdtree **tree_out, int64_t *nn,
                             double *dist2);
/* bfcr_knn_allnn_m with the automatic choice. */
bfcr_status bfcr_knn_allnn(const double *X, int64_t n, int d, int nthreads, int64_t *nn,
                           double *dist2);

/* Nearest row of R for each row of Q, method as above. */
bfcr_status bfcr_knn_query_m(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                             int nthreads, bfcr_nn_method method, bfcr_knn_choice *choice,
                             int64_t *nn, double *dist2);
bfcr_status bfcr_knn_query(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                           int nthreads, int64_t *nn, double *dist2);

/* GEMM path (exported for tests and benchmarks): shortlist by |q|^2 + |r|^2 - 2 q.r
 * computed with cblas_dgemm on tiles, then every candidate within the rounding margin
 * of the best is re-checked with bfcr_dist2. exclude_self: query i skips R row i
 * (requires Q == R, m == nR). Runs the pruned blocked search (bfcr_knn_blocked) when both
 * sides span several blocks, else every tile (bfcr_knn_gemm_tiles). */
bfcr_status bfcr_knn_gemm(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                          int exclude_self, int nthreads, int64_t *nn, double *dist2);

/* The same search on every tile pair (no pruning): 2 (d + 1) m nR flops. bfcr_knn_gemm runs
 * it for small inputs and bfcr_knn_blocked otherwise; same answers bit for bit. */
bfcr_status bfcr_knn_gemm_tiles(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                                int exclude_self, int nthreads, int64_t *nn, double *dist2);

/* Set-up shared by the GEMM paths (knn_gemm.c, knn_blocked.c), so the rounding margin
 * of docs/knn.md ("Margin") is stated once: the shift mu = R's column means (d values,
 * caller's buffer), the exponent e with every |shifted coordinate| of R and Q below 2^e
 * (rows are scaled by 2^-e, exactly), c_eps = (4 d + 32) eps, the relative widening of a
 * shortlist value, and tiny = (4 d + 32) 2^-1074 for scaled coordinates that became
 * subnormal. Returns 0, or -1 when a shifted coordinate overflows (the caller then runs
 * the exact brute scan). */
typedef struct bfcr_gemm_prep {
  int e;
  double c_eps, tiny;
} bfcr_gemm_prep;
int bfcr_knn_gemm_prep(const double *R, int64_t nR, int d, const double *Q, int64_t m, double *mu,
                       bfcr_gemm_prep *p);

/* Shortlist threshold, in scaled units, of a query whose best canonical value is best:
 * 2^-2e (best (1 + 4 d eps) + 4 (d + 2) 2^-1074), best widened by its own rounding. A pair
 * can be the answer only if its value minus c_eps S is within this (plus tiny). */
static inline double bfcr_knn_gemm_threshold(double best, int d, int e) {
  const double w = best * (1.0 + 4.0 * d * DBL_EPSILON) + 4.0 * (d + 2) * ldexp(1.0, -1074);
  return ldexp(ldexp(w, -e), -e);
}

/* What the pruned blocked search did (knn_blocked.c). Counts depend on the data only;
 * sec_dgemm (inside cblas_dgemm) and sec_tiles (DGEMM + scan + re-checks) are thread CPU
 * seconds summed over threads; sec_setup and sec_tiles_wall are wall seconds. */
typedef struct bfcr_knn_blocked_stats {
  int64_t blocks_q, blocks_r, tiles, rechecks;
  double flops_done, flops_avoided; /* 2 (d + 1) per pair run / skipped */
  double sec_setup, sec_tiles_wall, sec_dgemm, sec_tiles;
  int fallback; /* 1: coordinates overflow when shifted, the brute scan ran */
} bfcr_knn_blocked_stats;

/* Rows are partitioned into blocks of at most BFCR_KNN_BLOCK_LEAF rows (principal-direction
 * split tree); block pairs whose ball lower bound exceeds the query block's current worst
 * best are skipped, surviving pairs run as DGEMM tiles with knn_gemm.c's margin and
 * re-check. Same contract and answers as bfcr_knn_gemm_tiles. stats may be NULL. */
#define BFCR_KNN_BLOCK_LEAF 320
bfcr_status bfcr_knn_blocked(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                             int exclude_self, int nthreads, int64_t leaf,
                             bfcr_knn_blocked_stats *stats, int64_t *nn, double *dist2);

/* Reference O(n^2 d) search, for tests. */
void bfcr_knn_brute(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                    int exclude_self, int64_t *nn, double *dist2);

#endif
