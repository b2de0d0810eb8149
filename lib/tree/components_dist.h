/* Components of level 0's best-friend graph across ranks, from each rank's own rows only
 * (components_dist.c). */
#ifndef BFCR_TREE_COMPONENTS_DIST_H
#define BFCR_TREE_COMPONENTS_DIST_H

#include <stdint.h>
#include "core/ctx.h"

/* Collective. This rank holds global rows [offset, offset + n_local) of n (the blocks of
 * all ranks tile [0, n) in rank order, empty blocks allowed) and their best friends
 * bf[i] (global indices; the graph of exact nearest neighbours, whose only cycles are
 * mutual pairs). On return, for each own row i (arrays of n_local entries):
 *   comp[i]    its component, numbered exactly as bfcr_components numbers the whole graph
 *              (by the smallest member's global index, ascending);
 *   rank_in[i] its rank among its component's members in global-index order, so that its
 *              position in the level-1 order (samples sorted by (component, index)) is
 *              start[comp[i]] + rank_in[i];
 *   second[i]  1 when it is the larger member of its component's mutual pair (its edge
 *              is the pair's, counted once by the smaller member), else 0;
 * and, replicated on every rank, *k components with minidx[c] (smallest member) and
 * nchild[c] (member count), malloc'd into *minidx_out (may be NULL: not gathered, 8 bytes a
 * component less) and *nchild_out. No n-word array:
 * O(n_local + k) memory per rank, O(log depth) rounds. Opens with a status agreement and
 * returns the same status on every rank (BFCR_ERR_INTERNAL when bf has a longer cycle). */
bfcr_status bfcr_components_dist(bfcr_ctx *ctx, const int64_t *bf, int64_t n_local, int64_t offset,
                                 int64_t n, int64_t *comp, int64_t *rank_in, unsigned char *second,
                                 int64_t *k, int64_t **minidx_out, int64_t **nchild_out);

#endif
