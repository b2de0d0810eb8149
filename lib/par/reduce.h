/* Canonical reductions: the one place where floating-point partial results are
 * combined, so that sums do not depend on how rows are split over ranks or threads.
 *
 * A reduction over positions [0, n) uses a fixed binary tree: leaves are the aligned
 * blocks [b*L, (b+1)*L) of L = BFCR_REDUCE_LEAF positions, reduced sequentially by a
 * caller's leaf function; an inner node over the aligned dyadic block
 * [k*2^j*L, (k+1)*2^j*L) (clipped to n) merges its two children, left then right.
 * Any rank holding a contiguous part [lo, hi) computes the nodes lying entirely
 * inside it; the partial nodes of all ranks then combine into exactly the value one
 * process computes alone. Works for any associative-in-spirit merge (sums, summaries). */
#ifndef BFCR_PAR_REDUCE_H
#define BFCR_PAR_REDUCE_H

#include <stdint.h>
#include "core/ctx.h"

#define BFCR_REDUCE_LEAF 64

/* Reduce positions [lo, hi) sequentially into out (width doubles). */
typedef void (*bfcr_leaf_fn)(void *user, int64_t lo, int64_t hi, double *out);
/* out = merge(a, b); out never aliases a or b. */
typedef void (*bfcr_merge_fn)(void *user, const double *a, const double *b, double *out);

typedef struct bfcr_reducer {
  int64_t width;        /* doubles per value */
  bfcr_leaf_fn leaf;
  bfcr_merge_fn merge;
  void *user;
} bfcr_reducer;

/* Local: canonical reduction of [0, n) (n >= 1), all positions held here. The two
 * halves of large nodes run as OpenMP tasks when called inside a parallel region. */
void bfcr_reduce_local(const bfcr_reducer *r, int64_t n, double *out, double *scratch);
/* Scratch doubles bfcr_reduce_local needs for n positions. */
int64_t bfcr_reduce_scratch_len(const bfcr_reducer *r, int64_t n);

/* Collective: canonical reduction of [0, n) whose positions [lo, hi) are held by this
 * rank (the ranks' parts tile [0, n) in rank order; parts may be empty). The leaf
 * function is called with positions relative to 0. Every rank gets out. */
bfcr_status bfcr_reduce_dist(bfcr_ctx *ctx, const bfcr_reducer *r, int64_t n, int64_t lo,
                             int64_t hi, double *out);

/* Convenience for the common case: column sums of a row-major block (n_local x w)
 * whose rows are global rows [offset, offset + n_local) of n. Collective. */
bfcr_status bfcr_reduce_colsums(bfcr_ctx *ctx, const double *A, int64_t n_local, int64_t w,
                                int64_t lda, int64_t n, int64_t offset, double *out);

#endif
