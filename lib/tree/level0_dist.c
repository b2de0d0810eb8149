/* Level 0 of the summary tree across ranks: the samples are the only items that are
 * distributed (input-order blocks); every later level is replicated.
 *
 * Best friends: the exact distributed search of lib/knn (bfcr_knn_allnn_dist) returns
 * bf and the canonical squared distance for all n samples on every rank, bit-identical
 * to the one-process search; small problems (n d below SMALL_ND) simply gather all rows
 * and run bfcr_knn_allnn on every rank, which is faster than any exchange protocol.
 *
 * Level-1 nodes: a node's summary must have the bits of the one-process value, which
 * reduces over the node's members in global-index order with the canonical tree of
 * lib/par/reduce.h. The components (replicated) define the "level-1 order": samples
 * sorted by (node, global index). Rows (z, y) move once into that order, in P balanced
 * contiguous chunks (one Alltoallv); nodes inside a chunk are reduced locally (OpenMP
 * over nodes); the at most P - 1 nodes that straddle a chunk edge are reduced with one
 * batched canonical cross-rank reduction (bfcr_reduce_dist_segments); one Allgatherv
 * then replicates the node summaries. Cost per rank: O(n) integer work on the
 * replicated components, O(n d / P) for the rows, O(k d) for the replicated summaries.
 * Every status is agreed across ranks before the next collective step. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_dist.h"
#include "model/standardize.h"
#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "tree/nodes.h"
#include "tree/tree.h"

/* Below this many values (n d) all rows are gathered and searched on every rank. */
#define SMALL_ND 1000000

/* All rows on every rank, then the one-process search (replicated work). */
static bfcr_status gather_search(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t n,
                                 int d, int64_t *bf, double *dist2) {
  bfcr_status st = BFCR_OK;
  double *all = bfcr_malloc(ctx, (size_t)n, (size_t)d * sizeof(double));
  double *mine = zs->Z ? NULL : bfcr_malloc(ctx, (size_t)(n_local > 0 ? n_local : 1),
                                            (size_t)d * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, all && (zs->Z || mine) ? BFCR_OK : BFCR_ERR_NOMEM));
  for (int64_t i = 0; mine && i < n_local; i++) bfcr_zsrc_row(zs, i, mine + i * d);
  BFCR_CALL(bfcr_allgather_items(ctx, zs->Z ? zs->Z : mine, n_local, (size_t)d * sizeof(double),
                                 all));
  bfcr_knn_choice ch;
  st = bfcr_knn_allnn_m(all, n, d, ctx->nthreads, (bfcr_nn_method)ctx->nn_method, &ch, NULL, bf,
                        dist2);
  if (st == BFCR_OK) { /* replicated rows: every rank's probe sees the same tree */
    char line[160];
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, "level 0", line);
  }
  if (st != BFCR_OK) bfcr_err(ctx, st, "nearest-neighbour search failed at level 0");
  st = bfcr_agree(ctx, st);
cleanup:
  free(all);
  free(mine);
  return st;
}

/* Fills lv0->bf and lv0->bfdist (allocated by the caller, n entries) on every rank. */
bfcr_status bfcr_level0_dist_bestfriends(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                         int64_t offset, int64_t n, int d, bfcr_level *lv0) {
  bfcr_status st = BFCR_OK;
  if (n == 1) {
    lv0->bf[0] = 0;
    lv0->bfdist[0] = 0.0;
    return BFCR_OK;
  }
  if ((double)n * d < SMALL_ND) {
    BFCR_CALL(gather_search(ctx, zs, n_local, n, d, lv0->bf, lv0->bfdist));
  } else {
    BFCR_CALL(
        bfcr_knn_allnn_dist_src(ctx, zs, n_local, offset, n, d, lv0->bf, lv0->bfdist, NULL));
  }
  for (int64_t i = 0; i < n; i++) lv0->bfdist[i] = sqrt(lv0->bfdist[i]);
cleanup:
  return st;
}

/* Elements of the level-1 reduction: rows in level-1 order held for [lo, hi). */
typedef struct l1_view {
  int d;
  const double *rows; /* (d + 1) doubles per position: z, y */
  int64_t lo;         /* position of rows[0] */
  const int64_t *members;
  const int64_t *bf;
  const double *bfdist;
} l1_view;

static void l1_elem(void *user, int64_t pos, double *out) {
  const l1_view *v = user;
  int d = v->d;
  int64_t g = v->members[pos], f = v->bf[g];
  const double *row = v->rows + (pos - v->lo) * (d + 1);
  out[BFCR_NS_N] = 1.0;
  memcpy(out + BFCR_NS_MEAN, row, (size_t)d * sizeof(double));
  out[bfcr_ns_sse(d)] = 0.0;
  out[bfcr_ns_y(d)] = row[d];
  /* The edge of the one 2-cycle counts once (nodes.c: edge_value). */
  out[bfcr_ns_edge(d)] = (v->bf[f] == g && f < g) ? 0.0 : v->bfdist[g];
}

static void l1_merge(void *user, const double *a, const double *b, double *out) {
  const l1_view *v = user;
  bfcr_ns_merge(v->d, a, b, out);
}

bfcr_status bfcr_level0_dist_nodes(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y, int64_t n_local,
                                   int64_t offset, int64_t n, int d, const bfcr_level *lv0,
                                   int64_t k, bfcr_level *lv1) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, me = ctx->rank;
  int64_t w = bfcr_ns_width(d);
  int64_t *start = NULL, *members = NULL;
  double *rows = NULL;
  int64_t lo = bfcr_block_lo(n, P, me), hi = bfcr_block_lo(n, P, me + 1);
  double t0 = bfcr_wtime();
  lv1->m = k;
  /* Replicated: members of every node in global-index order (the level-1 order). */
  start = bfcr_malloc(ctx, (size_t)k + 1, sizeof(int64_t));
  members = bfcr_malloc(ctx, (size_t)(2 * n + k + 1), sizeof(int64_t));
  lv1->ns = bfcr_malloc(ctx, (size_t)k, (size_t)w * sizeof(double));
  lv1->minidx = bfcr_malloc(ctx, (size_t)k, sizeof(int64_t));
  lv1->nchild = bfcr_malloc(ctx, (size_t)k, sizeof(int64_t));
  if (!start || !members || !lv1->ns || !lv1->minidx || !lv1->nchild)
    st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  bfcr_group_members(lv0->parent, n, k, start, members);
  for (int64_t c = 0; c < k; c++) {
    lv1->minidx[c] = members[start[c]];
    lv1->nchild[c] = start[c + 1] - start[c];
  }
  bfcr_zy_rows zy = {*zs, y};
  BFCR_CALL(bfcr_redistribute_fn(ctx, d + 1, n_local, offset, n, members, bfcr_pack_zy, &zy, &rows));
  bfcr_phase_add(ctx, "exchange", bfcr_wtime() - t0, 0.0);
  l1_view v = {d, rows, lo, members, lv0->bf, lv0->bfdist};
  BFCR_CALL(bfcr_reduce_ranges_dist(ctx, w, l1_elem, l1_merge, &v, k, start, lo, hi, lv1->ns));
cleanup:
  if (st != BFCR_OK) { /* lv1 is not counted in the tree's levels yet */
    free(lv1->ns);
    free(lv1->minidx);
    free(lv1->nchild);
    lv1->ns = NULL;
    lv1->minidx = lv1->nchild = NULL;
  }
  free(start);
  free(members);
  free(rows);
  return st;
}
