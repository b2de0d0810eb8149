/* Canonical reductions: the one place where floating-point partial results are
 * combined, so that sums do not depend on how elements are split over ranks or threads.
 *
 * A reduction over positions [0, n) uses one fixed binary tree: node (j, k) covers the
 * aligned block [k 2^j, (k+1) 2^j) clipped to n; a leaf (j = 0) is the value of one
 * element; an inner node merges its left and right child, in that order, and equals its
 * left child when the right one is empty (past n). Any rank holding a contiguous part
 * [lo, hi) computes the maximal nodes lying inside it; the partial nodes of all ranks
 * then combine into exactly the value one process computes alone. Pairwise summation
 * also keeps rounding errors at O(log n) instead of O(n). */
#ifndef BFCR_PAR_REDUCE_H
#define BFCR_PAR_REDUCE_H

#include <stdint.h>
#include "core/ctx.h"

/* Value of element i (a position in [0, n)) into out (width doubles). */
typedef void (*bfcr_elem_fn)(void *user, int64_t i, double *out);
/* out = merge(a, b); out never aliases a or b. */
typedef void (*bfcr_merge_fn)(void *user, const double *a, const double *b, double *out);

typedef struct bfcr_reducer {
  int64_t width; /* doubles per value */
  bfcr_elem_fn elem;
  bfcr_merge_fn merge;
  void *user;
} bfcr_reducer;

/* Scratch doubles needed by bfcr_reduce_local (any n). */
int64_t bfcr_reduce_scratch_len(const bfcr_reducer *r);
/* Local, sequential: canonical reduction of [0, n) (n >= 1), every element held here. */
void bfcr_reduce_local(const bfcr_reducer *r, int64_t n, double *out, double *scratch);
/* Local, OpenMP: the same value as bfcr_reduce_local, top subtrees computed by nthreads. */
bfcr_status bfcr_reduce_local_par(bfcr_ctx *ctx, const bfcr_reducer *r, int64_t n, int nthreads,
                                  double *out);

/* Collective: canonical reduction of [0, n) whose elements [lo, hi) are held by this
 * rank (the parts tile [0, n) in rank order; parts may be empty). elem is called with
 * global positions. Every rank gets out. */
bfcr_status bfcr_reduce_dist(bfcr_ctx *ctx, const bfcr_reducer *r, int64_t n, int64_t lo,
                             int64_t hi, double *out);

/* Column sums of a row-major block A (n_local x w, leading dimension lda) whose rows are
 * global rows [offset, offset + n_local) of n. Collective; identical for any split. */
bfcr_status bfcr_reduce_colsums(bfcr_ctx *ctx, const double *A, int64_t n_local, int64_t w,
                                int64_t lda, int64_t n, int64_t offset, double *out);

/* Element i (a position in [0, seg_n[s])) of segment s into out (width doubles). */
typedef void (*bfcr_seg_elem_fn)(void *user, int64_t s, int64_t i, double *out);

/* Collective: nseg independent canonical reductions in one exchange (the nodes that
 * straddle the edges of the ranks' contiguous chunks). Segment s has seg_n[s] >= 1
 * elements (nseg and seg_n the same on every rank); this rank holds positions
 * [lo[s], hi[s]) of it (empty when lo[s] >= hi[s]; the parts of all ranks tile the
 * segment). Every rank gets out[s * width], bit-identical to bfcr_reduce_local on the
 * whole segment. Returns the same status on every rank. */
bfcr_status bfcr_reduce_dist_segments(bfcr_ctx *ctx, int64_t width, bfcr_seg_elem_fn elem,
                                      bfcr_merge_fn merge, void *user, int64_t nseg,
                                      const int64_t *seg_n, const int64_t *lo, const int64_t *hi,
                                      double *out);

#endif
