/* Level 1 of the summary tree across ranks, held in chunks (level1_dist.c). */
#ifndef BFCR_TREE_LEVEL1_DIST_H
#define BFCR_TREE_LEVEL1_DIST_H

#include <stdint.h>
#include "tree/tree.h"

/* Best friends of the level-1 nodes this rank holds (t->lv1_lo .. t->lv1_hi of the build
 * numbering; lv[1].ns holds them) into bf and bfdist (hi - lo entries, allocated by the
 * caller): the exact distributed search of level 0 on the chunks' centroids, the same
 * answers as the replicated search. Collective, agreed. */
bfcr_status bfcr_level1_dist_bestfriends(bfcr_ctx *ctx, const bfcr_tree *t, int64_t *bf,
                                         double *bfdist);

/* Davies-Bouldin terms of all m level-1 nodes (replicated, build numbering) from the
 * chunks: the summaries, best friends and distances are gathered for this call only.
 * Collective, agreed. */
bfcr_status bfcr_level1_dist_db(bfcr_ctx *ctx, const bfcr_tree *t, double *terms);

/* Level-2 nodes from the chunks: lv[1].parent, rank_in and second of the held nodes (from
 * bfcr_components_dist), lv[2].m and nchild replicated; fills lv[2].ns (replicated), the
 * canonical reduction over each node's children in item order, as bfcr_make_nodes does.
 * Then replaces lv[1].parent by all m entries (8 bytes a node gathered: the dendrogram
 * and the fit's consumers walk it). Collective, agreed. */
bfcr_status bfcr_level1_dist_nodes(bfcr_ctx *ctx, bfcr_tree *t, const int64_t *rank_in,
                                   const unsigned char *second);

/* bfcr_tree_dendro's step for level 1, once its start[] is final: the held nodes'
 * summaries and distances go to their dendrogram numbers (p2f, replicated), each to the
 * ranks whose block of positions the node overlaps, so lv[1].ns and bfdist hold the nodes
 * [ns_lo, ns_hi) over this rank's block (bfcr_tree_keep_own_ns's layout; the metrics sum
 * the owned ones, bfcr_tree_owned_nodes). One Alltoallv. Collective, agreed. */
bfcr_status bfcr_level1_dist_to_dendro(bfcr_ctx *ctx, bfcr_tree *t, const int64_t *p2f);

#endif
