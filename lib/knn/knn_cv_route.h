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
 * cells of the ranks (slab.h); each flagged row is searched in its cell, then only in the
 * cells its ball reaches. keep (may be NULL; slab.h): what the level-0 search of the same
 * rows on the same ranks kept (bfcr_knn_allnn_dist_keep); used when every rank has one for
 * this set, so the plan is not made again and each cell's kd-tree is rebuilt from its
 * order; when the set's hash matches too, the cells' rows are taken from it (keep->rows
 * and keep->sg become NULL) and only the rows' groups and flags move. The answers never
 * depend on it. Collective; the status is agreed. */
struct bfcr_slab_keep;
bfcr_status bfcr_knn_cv_route(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, const int *grp,
                              const unsigned char *need, struct bfcr_slab_keep *keep, int64_t *nn);

/* Whether the CV's routing uses the cells (1) or the ring (0) for P ranks, K folds and
 * dimension d, given whether the level-0 search of the same rows ran on cells (level0_cells:
 * its probe found the cells' boundary worth it, bfcr_knn_dist_choose). Work: the ring
 * searches all (about n / K) flagged rows on every rank, each against the rank's n / P rows
 * (bounded after the first hop): O(n / K) per rank at any P. The cells search each flagged
 * row in its own cell and in the few cells its ball reaches: about n / (K P) rows a rank.
 * Measured at 1M x 8, K = 5, P = 2: 1.0 s of kd-tree search per rank with the ring, 0.75 s
 * with the cells (1.46 s on one process). Bytes: the ring sends about n / K rows per rank
 * (n / (K P) rows, P hops), the cells about (1 - 1 / P) n / P (each row that changes rank,
 * once) plus a thin boundary, so only the cells divide by P. At d <= 16 the cells always
 * win. Above 16 the reach decides: where a ball reaches most cells (isotropic data) every
 * cell searches about every flagged row, the ring's work plus a move of every row, and the
 * level-0 search's probe then chose its ring as well; where level 0 ran on cells (data of
 * low intrinsic dimension, whose balls stay local), the CV's balls (the nearest row outside
 * the fold, a little larger than the level-0 ones) stay local too, so the cells follow it.
 * Both are exact: the choice changes bytes and time, never an answer. level0_cells must be
 * the same on every rank (the level-0 method is agreed). K is kept for the callers. */
static inline int bfcr_knn_cv_route_slabs(int P, int K, int d, int level0_cells) {
  (void)K;
  return P > 1 && (d <= 16 || level0_cells);
}

#endif
