/* Exact best friends of a dataset distributed over the ranks (level 0 of the tree).
 * Method and figures: knn_dist.c and docs/knn-distributed.md. */
#ifndef BFCR_KNN_DIST_H
#define BFCR_KNN_DIST_H

#include <stdint.h>
#include "core/ctx.h"
#include "core/zsrc.h"
#include "knn/knn.h"

/* Exact best friend of every row of a dataset distributed over the ranks of ctx in contiguous
 * blocks of global rows: this rank holds rows [offset, offset + n_local) of n (n >= 2) in Z
 * (row-major, d columns, finite values; the blocks must tile [0, n) in rank order, empty blocks
 * allowed). On return EVERY rank holds, for all n rows (global indices), bf[g] (global index of
 * the nearest other row) and dist2[g] (canonical squared distance bfcr_dist2), exactly equal to
 * what bfcr_knn_allnn returns on the whole matrix in one process (ties to the smallest global
 * index), for any rank and thread count. Uses ctx->nthreads OpenMP threads (OpenBLAS must be
 * single-threaded). Memory per rank: about 4 n_local d doubles plus O(n) for the outputs.
 * Collective; all ranks agree on the status (bfcr_agree). One rank: bfcr_knn_allnn, no
 * communication. */
bfcr_status bfcr_knn_allnn_dist(bfcr_ctx *ctx, const double *Z, int64_t n_local, int64_t offset,
                                int64_t n, int d, int64_t *bf, double *dist2);

/* Which algorithm ran (the choice changes speed only, never the answer). */
typedef enum {
  BFCR_KNN_DIST_LOCAL = 0, /* one rank: bfcr_knn_allnn */
  BFCR_KNN_DIST_SLABS = 1, /* kd-tree range: cells (slab.h) + boundary pass */
  BFCR_KNN_DIST_RING = 2   /* GEMM range: blocks travel around a ring of ranks */
} bfcr_knn_dist_method;

/* This rank's measurements of one call (for benchmarks and logs). Seconds are wall times;
 * "remote" is the boundary pass (slabs) or the foreign blocks of the ring. */
typedef struct bfcr_knn_dist_stats {
  bfcr_knn_dist_method method;
  double sec_partition;  /* validation, method choice, axis, splitters, moving rows */
  double sec_local;      /* kd-tree build + all-points search of the slab / own block */
  double sec_remote;     /* boundary queries and answers / ring steps */
  double sec_gather;     /* results back to their rows and replicated (Allgatherv) */
  double cpu_local;      /* process CPU seconds of the local phase (robust on a loaded machine) */
  double cpu_remote;     /* process CPU seconds of the boundary pass / ring steps */
  double cpu_total;      /* process CPU seconds of the whole call (includes MPI busy-waiting) */
  int64_t rows_searched; /* rows in this rank's slab (ring: own rows) */
  int64_t queries_sent;  /* boundary queries this rank sent (one per row and slab) */
  int64_t queries_answered; /* boundary queries this rank answered */
  int64_t bytes_sent;       /* bytes this rank sent to other ranks (all messages) */
} bfcr_knn_dist_stats;

/* The method of the distributed search: forced by ctx->nn_method, or the probe of
 * knn_choose.c on a strided sample of rows replicated on every rank (knn_dist_probe.c), so
 * all ranks agree. Collective. */
bfcr_status bfcr_knn_dist_choose(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                 int64_t offset, int64_t n, int d, bfcr_knn_choice *c);

/* bfcr_knn_allnn_dist that also fills *stats (may be NULL). Collective. */
bfcr_status bfcr_knn_allnn_dist_stats(bfcr_ctx *ctx, const double *Z, int64_t n_local,
                                      int64_t offset, int64_t n, int d, int64_t *bf, double *dist2,
                                      bfcr_knn_dist_stats *stats);

/* The same search on a row source (stored rows, or rows standardized on demand from the
 * raw block): the slab method then holds no standardized copy of the block; one rank and
 * the ring method make one. Collective. */
bfcr_status bfcr_knn_allnn_dist_src(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                    int64_t offset, int64_t n, int d, int64_t *bf, double *dist2,
                                    bfcr_knn_dist_stats *stats);

/* The same with the distances left on their rows' owners: bf is replicated as above, but
 * dist2_own receives only this rank's rows (dist2_own[i] for global row offset + i,
 * n_local entries; may be NULL when n_local is 0), so no rank holds n distances and the
 * distance Allgatherv is skipped. Collective. */
bfcr_status bfcr_knn_allnn_dist_own(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                    int64_t offset, int64_t n, int d, int64_t *bf,
                                    double *dist2_own, bfcr_knn_dist_stats *stats);

/* The same with nothing replicated: bf_own[i] and dist2_own[i] (n_local entries each, not
 * NULL) receive the answer of global row offset + i only, so no rank holds an n-word
 * array and no Allgatherv runs: O(n_local) outputs per rank (the tree's level 0, whose
 * components are found by pointer jumping over the owners). Collective. */
bfcr_status bfcr_knn_allnn_dist_mine(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                     int64_t offset, int64_t n, int d, int64_t *bf_own,
                                     double *dist2_own, bfcr_knn_dist_stats *stats);

/* bfcr_knn_allnn_dist_mine that also keeps, when the slabs ran, what a later search of
 * the same rows on the same ranks reuses (*keep, slab.h: the plan and the order of the
 * slab's kd-tree, 4 bytes a slab row; NULL otherwise, or when it could not be allocated;
 * free with bfcr_slab_keep_free). Collective. */
struct bfcr_slab_keep;
bfcr_status bfcr_knn_allnn_dist_keep(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                     int64_t offset, int64_t n, int d, int64_t *bf_own,
                                     double *dist2_own, struct bfcr_slab_keep **keep);

#endif
