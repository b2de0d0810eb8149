/* Levels >= 1 of the summary tree across ranks, held in chunks (levels_dist.c). Level l is
 * held when L->held: L->ns, bf, bfdist hold nodes [L->held_lo, L->held_hi) of the build
 * numbering (chunks tiling [0, m) in rank order), nchild, parent and dbterm all m. */
#ifndef BFCR_TREE_LEVELS_DIST_H
#define BFCR_TREE_LEVELS_DIST_H

#include <stdint.h>
#include "tree/tree.h"

/* Best friends of the held nodes of level l into bf and bfdist (held_hi - held_lo entries,
 * allocated by the caller): the exact distributed search of level 0 on the chunks'
 * centroids, the same answers as the replicated search. Collective, agreed. */
bfcr_status bfcr_held_bestfriends(bfcr_ctx *ctx, const bfcr_tree *t, int l, int64_t *bf,
                                  double *bfdist);

/* Davies-Bouldin terms of all m nodes of held level l (replicated, build numbering): the
 * summaries, best friends and distances are gathered for this call only. Collective,
 * agreed. */
bfcr_status bfcr_held_db(bfcr_ctx *ctx, const bfcr_tree *t, int l, double *terms);

/* Level l + 1's nodes from held level l: lv[l].parent, rank_in and second of the held nodes
 * (from bfcr_components_dist), lv[l + 1].m and nchild replicated; fills lv[l + 1].ns, the
 * canonical reduction over each node's children in item order (bfcr_make_nodes's bits):
 * held in chunks when `chunks` (lv[l + 1].held, held_lo, held_hi set: the nodes whose first
 * position in level-(l + 1) order lies in this rank's block), else replicated. Then replaces
 * lv[l].parent by all m entries (8 bytes a node gathered: the dendrogram and the fit's
 * consumers walk it). Collective, agreed. */
bfcr_status bfcr_held_nodes(bfcr_ctx *ctx, bfcr_tree *t, int l, const int64_t *rank_in,
                            const unsigned char *second, int chunks);

/* bfcr_tree_dendro's step for held level l, once its start[] is final: the held nodes'
 * summaries and distances go to their dendrogram numbers (p2f, replicated), each to the
 * ranks whose block of positions the node overlaps, so lv[l].ns and bfdist hold the nodes
 * [ns_lo, ns_hi) over this rank's block (bfcr_tree_keep_own_ns's layout; the metrics sum
 * the owned ones, bfcr_tree_owned_nodes). One Alltoallv. Collective, agreed. */
bfcr_status bfcr_held_to_dendro(bfcr_ctx *ctx, bfcr_tree *t, int l, const int64_t *p2f);

#endif
