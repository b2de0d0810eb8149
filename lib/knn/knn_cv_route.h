/* The cross-validation's routing search by spatial slabs (knn_cv_route.c). */
#ifndef BFCR_KNN_CV_ROUTE_H
#define BFCR_KNN_CV_ROUTE_H

#include <stdint.h>

#include "core/ctx.h"
#include "core/zsrc.h"

/* This rank holds rows [off, off + n_local) of one set (zs; the ranks' blocks tile the
 * set in rank order, empty blocks allowed), each with a group grp[i] >= 0 (its fold). For
 * every own row i with need[i] != 0, nn[i] = the global index of the nearest row of
 * another group: the lexicographic minimum of (canonical dist2, global index) over the
 * rows j with grp[j] != grp[i], or -1 when there is none; nn[i] is left alone where
 * need[i] == 0. The same answer as a search of the whole set in one process (for the
 * ring of lib/model/cv_dist.c too) for any rank and thread count. Rows move once to
 * slabs along the principal axis (slab.h); each flagged row is searched in its slab,
 * then only in the slabs its ball reaches. Collective; the status is agreed. */
bfcr_status bfcr_knn_cv_route(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, const int *grp,
                              const unsigned char *need, int64_t *nn);

/* Whether the CV's routing uses the slabs (1) or the ring (0) for P ranks, K folds and
 * dimension d: slabs when P > K and d <= 16. Why: the ring sends about n / K rows per
 * rank (n / (K P) per rank, P hops) whatever P, the slabs about n / P (every row once,
 * plus a thin boundary), so the slabs send less only from P > K; above 16 dimensions
 * (the GEMM range of the level-0 search) a slab boundary is no longer thin. Both are
 * exact: the choice changes bytes and time, never an answer. */
static inline int bfcr_knn_cv_route_slabs(int P, int K, int d) {
  return P > K && d <= 16;
}

#endif
