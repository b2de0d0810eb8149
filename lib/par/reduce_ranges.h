/* Canonical reductions over many contiguous ranges of a distributed order (the nodes of
 * a tree level over the samples in level-1 or dendrogram order). */
#ifndef BFCR_PAR_REDUCE_RANGES_H
#define BFCR_PAR_REDUCE_RANGES_H

#include <stdint.h>
#include "par/reduce.h"

/* Value of the element at global position pos into out (width doubles). Called from
 * several OpenMP threads at once: must only read shared data. */
typedef void (*bfcr_pos_elem_fn)(void *user, int64_t pos, double *out);

/* Collective. Range i covers positions [start[i], start[i + 1]) (start[0] = 0,
 * start[m] = n, every range non-empty; start the same on every rank); this rank holds
 * the elements of positions [lo, hi) (the parts of all ranks tile [0, n) in rank
 * order). On return every rank holds out[i * width] for all m ranges: the canonical
 * reduction (lib/par/reduce.h) of the range's elements in position order,
 * bit-identical to bfcr_reduce_local over the range. Ranges inside one rank's part are
 * reduced there (ctx->nthreads OpenMP threads); the at most P - 1 ranges that straddle
 * a part's edge go through one bfcr_reduce_dist_segments; one Allgatherv replicates.
 * Opens with a status agreement; returns the same status on every rank. */
bfcr_status bfcr_reduce_ranges_dist(bfcr_ctx *ctx, int64_t width, bfcr_pos_elem_fn elem,
                                    bfcr_merge_fn merge, void *user, int64_t m,
                                    const int64_t *start, int64_t lo, int64_t hi, double *out);

/* The same reduction without the replication: each range's value stays on its owner,
 * the rank holding its first position. On return mine[(i - c0) * width] holds the ranges
 * i in [c0, c1) of bfcr_owned_ranges (the owned runs of all ranks tile [0, m) in rank
 * order). Collective; returns the same status on every rank. */
bfcr_status bfcr_reduce_ranges_own(bfcr_ctx *ctx, int64_t width, bfcr_pos_elem_fn elem,
                                   bfcr_merge_fn merge, void *user, int64_t m, const int64_t *start,
                                   int64_t lo, int64_t hi, double *mine);
/* Ranges owned by a rank holding positions [lo, hi): those starting in it, [*c0, *c1). */
void bfcr_owned_ranges(const int64_t *start, int64_t m, int64_t lo, int64_t hi, int64_t *c0,
                       int64_t *c1);

/* First range whose start is >= pos (start has m + 1 entries). */
int64_t bfcr_first_range_from(const int64_t *start, int64_t m, int64_t pos);

#endif
