/* Level 0 of the summary tree across ranks: the samples are distributed in input-order
 * blocks; level 1 is kept in chunks above the replication bound (levels_dist.c), as is every
 * later level above it; the others are replicated. No
 * rank holds an n-word array of level 0 (lv0_local, tree.h): each keeps its own rows'
 * values.
 *
 * Best friends: the exact distributed search of lib/knn (bfcr_knn_allnn_dist_mine)
 * returns bf and the canonical squared distance of this rank's rows only, bit-identical
 * to the one-process search; small problems (n d below SMALL_ND) simply gather all rows
 * and run bfcr_knn_allnn on every rank, which is faster than any exchange protocol, and
 * keep their own rows' answers.
 *
 * Components: components_dist.c (pointer jumping over the owners) gives each own row its
 * node (numbered as bfcr_components numbers the whole graph), its rank among the node's
 * members in global-index order, and whether it is the second half of a mutual pair, plus
 * the k-word node sizes.
 *
 * Level-1 nodes: a node's summary must have the bits of the one-process value, which
 * reduces over the node's members in global-index order with the canonical tree of
 * lib/par/reduce.h. The "level-1 order" sorts the samples by (node, global index): a
 * row's position is its node's start (prefix sum of the k sizes) plus its rank in the
 * node. Rows (z, y, edge value) move once into that order, in P balanced contiguous
 * chunks (one Alltoallv, positions travel with them); nodes inside a chunk are reduced
 * locally; the at most P - 1 nodes that straddle a chunk edge are reduced with one
 * batched canonical cross-rank reduction; each node's summary stays on the rank holding
 * its first position (or, when level 1 is the top level, one Allgatherv replicates
 * them). The edge value (a sample's best-friend distance, 0 for the second half of a
 * mutual pair) is computed by the row's owner. Cost per rank: O(n_local + k) integer
 * work, O(n d / P) for the rows and the kept summaries. Every status is agreed across
 * ranks before the next collective step. */
#include <math.h>
#include <stdio.h>
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

/* All rows on every rank, then the one-process search (replicated work, below SMALL_ND
 * values); the answers of this rank's rows [offset, offset + n_local) into bf_own and
 * dist2_own. */
static bfcr_status gather_search(bfcr_ctx *ctx, int level, const bfcr_zsrc *zs, int64_t n_local,
                                 int64_t offset, int64_t n, int d, int64_t *bf_own,
                                 double *dist2_own) {
  bfcr_status st = BFCR_OK;
  int64_t *bf = bfcr_malloc(ctx, (size_t)n, sizeof(int64_t));
  double *dist2 = bfcr_malloc(ctx, (size_t)n, sizeof(double));
  double *all = bfcr_malloc(ctx, (size_t)n, (size_t)d * sizeof(double));
  double *mine =
      zs->Z ? NULL
            : bfcr_malloc(ctx, (size_t)(n_local > 0 ? n_local : 1), (size_t)d * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, bf && dist2 && all && (zs->Z || mine) ? BFCR_OK : BFCR_ERR_NOMEM));
  for (int64_t i = 0; mine && i < n_local; i++) bfcr_zsrc_row(zs, i, mine + i * d);
  BFCR_CALL(
      bfcr_allgather_items(ctx, zs->Z ? zs->Z : mine, n_local, (size_t)d * sizeof(double), all));
  bfcr_knn_choice ch;
  st = bfcr_knn_allnn_m(all, n, d, ctx->nthreads, (bfcr_nn_method)ctx->nn_method, &ch, NULL, bf,
                        dist2);
  if (st == BFCR_OK) { /* replicated rows: every rank's probe sees the same tree */
    char where[24], line[160];
    snprintf(where, sizeof where, "level %d", level);
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, where, line);
  }
  if (st != BFCR_OK) bfcr_err(ctx, st, "nearest-neighbour search failed at level %d", level);
  if (st == BFCR_OK && n_local > 0) {
    memcpy(dist2_own, dist2 + offset, (size_t)n_local * sizeof(double));
    memcpy(bf_own, bf + offset, (size_t)n_local * sizeof(int64_t));
  }
  st = bfcr_agree(ctx, st);
cleanup:
  free(bf);
  free(dist2);
  free(all);
  free(mine);
  return st;
}

/* Fills lv0->bf and lv0->bfdist for this rank's n_local rows (allocated by the caller). */
bfcr_status bfcr_level0_dist_bestfriends(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                         int64_t offset, int64_t n, int d, bfcr_level *lv0,
                                         struct bfcr_slab_keep **keep) {
  return bfcr_level_dist_bestfriends(ctx, 0, zs, n_local, offset, n, d, lv0->bf, lv0->bfdist, keep);
}

bfcr_status bfcr_level_dist_bestfriends(bfcr_ctx *ctx, int level, const bfcr_zsrc *zs,
                                        int64_t n_local, int64_t offset, int64_t n, int d,
                                        int64_t *bf, double *bfdist, struct bfcr_slab_keep **keep) {
  bfcr_status st = BFCR_OK;
  if (n == 1) {
    if (n_local > 0) {
      bf[0] = 0;
      bfdist[0] = 0.0;
    }
    return BFCR_OK;
  }
  /* A held level (>= 1) with three or more ranks gathers only below a quarter of the bound:
   * the gather sends each rank's items to P - 1 ranks (n_local d 8 (P - 1) bytes), the slab
   * search about twice its items once; on level 2 of 2M rows (about 100k nodes) at P = 8
   * that was 6.5 MB for the busiest rank's gather. */
  const double small = level >= 1 && ctx->size > 2 ? SMALL_ND / 4.0 : SMALL_ND;
  if ((double)n * d < small) {
    BFCR_CALL(gather_search(ctx, level, zs, n_local, offset, n, d, bf, bfdist));
  } else {
    BFCR_CALL(bfcr_knn_allnn_dist_keep(ctx, zs, n_local, offset, n, d, bf, bfdist, keep));
  }
  for (int64_t i = 0; i < n_local; i++) bfdist[i] = sqrt(bfdist[i]);
cleanup:
  return st;
}

/* Rows packed for the level-1 exchange: z, y, then the sample's edge value. */
typedef struct l1_pack {
  bfcr_zy_rows zy;
  const unsigned char *second; /* this rank's rows: second half of a mutual pair */
  const double *dist;          /* this rank's rows */
} l1_pack;

static void l1_pack_row(void *user, int64_t i, double *dst) {
  const l1_pack *u = user;
  int d = u->zy.z.d;
  bfcr_pack_zy((void *)&u->zy, i, dst);
  /* The edge of the one 2-cycle counts once (nodes.c: edge_value). */
  dst[d + 1] = u->second[i] ? 0.0 : u->dist[i];
}

/* Elements of the level-1 reduction: rows in level-1 order held for [lo, hi). */
typedef struct l1_view {
  int d;
  const double *rows; /* (d + 2) doubles per position: z, y, edge */
  int64_t lo;         /* position of rows[0] */
} l1_view;

static void l1_elem(void *user, int64_t pos, double *out) {
  const l1_view *v = user;
  int d = v->d;
  const double *row = v->rows + (pos - v->lo) * (d + 2);
  out[BFCR_NS_N] = 1.0;
  memcpy(out + BFCR_NS_MEAN, row, (size_t)d * sizeof(double));
  out[bfcr_ns_sse(d)] = 0.0;
  out[bfcr_ns_y(d)] = row[d];
  out[bfcr_ns_edge(d)] = row[d + 1];
}

static void l1_merge(void *user, const double *a, const double *b, double *out) {
  const l1_view *v = user;
  bfcr_ns_merge(v->d, a, b, out);
}

bfcr_status bfcr_level0_dist_nodes(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                   int64_t n_local, int64_t n, int d, const bfcr_level *lv0,
                                   const int64_t *rank_in, const unsigned char *second,
                                   bfcr_level *lv1, int64_t *own_lo, int64_t *own_hi) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, me = ctx->rank;
  int64_t w = bfcr_ns_width(d), k = lv1->m;
  int64_t *start = NULL, *dest = NULL;
  double *rows = NULL;
  const int64_t *par = lv0->parent; /* this rank's rows */
  int64_t lo = bfcr_block_lo(n, P, me), hi = bfcr_block_lo(n, P, me + 1);
  double t0 = bfcr_wtime();
  start = bfcr_malloc(ctx, (size_t)k + 1, sizeof(int64_t));
  dest = bfcr_malloc(ctx, (size_t)(n_local > 0 ? n_local : 1), sizeof(int64_t));
  int64_t c0 = 0, c1 = k; /* the nodes this rank keeps: all, or the owned ones */
  if (start) {
    start[0] = 0;
    for (int64_t c = 0; c < k; c++) start[c + 1] = start[c] + lv1->nchild[c];
    if (own_lo) bfcr_owned_ranges(start, k, lo, hi, &c0, &c1);
  }
  lv1->ns = bfcr_malloc(ctx, (size_t)(c1 > c0 ? c1 - c0 : 1), (size_t)w * sizeof(double));
  if (!start || !dest || !lv1->ns) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  /* Level-1 position of my rows: node start + rank among the node's members. */
  for (int64_t i = 0; i < n_local; i++) dest[i] = start[par[i]] + rank_in[i];
  l1_pack pk = {{*zs, y}, second, lv0->bfdist};
  BFCR_CALL(bfcr_redistribute_dest(ctx, d + 2, n_local, n, dest, l1_pack_row, &pk, &rows));
  free(dest);
  dest = NULL;
  bfcr_phase_add(ctx, "exchange", bfcr_wtime() - t0, 0.0);
  l1_view v = {d, rows, lo};
  if (own_lo) {
    BFCR_CALL(bfcr_reduce_ranges_own(ctx, w, l1_elem, l1_merge, &v, k, start, lo, hi, lv1->ns));
    *own_lo = c0;
    *own_hi = c1;
  } else {
    BFCR_CALL(bfcr_reduce_ranges_dist(ctx, w, l1_elem, l1_merge, &v, k, start, lo, hi, lv1->ns));
  }
cleanup:
  if (st != BFCR_OK) { /* lv1 is not counted in the tree's levels yet */
    free(lv1->ns);
    lv1->ns = NULL;
  }
  free(start);
  free(dest);
  free(rows);
  return st;
}
