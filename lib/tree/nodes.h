/* Node summaries of a new level from the items of the level below (local). */
#ifndef BFCR_TREE_NODES_H
#define BFCR_TREE_NODES_H

#include "tree/tree.h"

/* Items of one level seen by the reduction: samples (z rows, level 0) or nodes (ns). */
typedef struct bfcr_item_view {
  int d;
  const double *z;  /* level 0: standardized rows, else NULL */
  const double *y;  /* level 0: targets or NULL */
  const double *ns; /* level >= 1: node summaries */
  const int64_t *bf;
  const double *bfdist;
  const int64_t *members; /* item indices of the node being reduced */
} bfcr_item_view;

/* Group items by component, stable: members[start[c] .. start[c+1]) in item order.
 * members needs 2m + k + 1 slots. */
void bfcr_group_members(const int64_t *comp, int64_t m, int64_t k, int64_t *start,
                        int64_t *members);

/* Fill next (m = k nodes: ns, minidx, nchild) from the items of cur (cur->parent holds
 * their component). item_minidx: smallest sample of each item, or NULL when items are
 * samples (their own index + 0). Local, OpenMP over nodes. */
bfcr_status bfcr_make_nodes(bfcr_ctx *ctx, const bfcr_item_view *proto, const bfcr_level *cur,
                            const int64_t *item_minidx, int64_t k, bfcr_level *next);

#endif
