/* Level 0 of the summary tree: best friends of the samples and the nodes of level 1.
 * The only part of the tree whose items (the samples) are distributed over the ranks;
 * every later level is replicated. */
#ifndef BFCR_TREE_LEVEL0_H
#define BFCR_TREE_LEVEL0_H

#include "tree/tree.h"

/* One rank (several: bfcr_level0_dist_* in tree.h). Exact best friend of every sample:
 * fills lv0->bf and lv0->bfdist for all n samples. keep (may be NULL) receives the
 * search's kd-tree over Z when one was built (the caller frees it), else NULL. */
bfcr_status bfcr_level0_bestfriends(bfcr_ctx *ctx, const double *Z, int64_t n, int d,
                                    bfcr_level *lv0, struct bfcr_kdtree **keep);

/* One rank. Nodes of level 1 (k components, lv0->parent filled): summaries reduced
 * over members in global sample order. */
bfcr_status bfcr_level0_nodes(bfcr_ctx *ctx, const double *Z, const double *y, int d,
                              const bfcr_level *lv0, int64_t k, bfcr_level *lv1);

#endif
