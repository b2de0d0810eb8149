/* Level 1 of the summary tree across ranks (several ranks, t->lv1_dist): its ~n / 4.6
 * nodes are never replicated with their summaries. level0_dist.c leaves each rank the
 * nodes whose first level-1 position lies in its block of samples: contiguous chunks
 * [lv1_lo, lv1_hi) of the build numbering (smallest member order) that tile [0, m) in
 * rank order, which is the row layout the distributed search and components of level 0
 * take. So level 1 runs the same three steps as level 0, with nodes as items:
 *
 * - best friends: bfcr_level_dist_bestfriends on the chunks' centroids (the exact slab
 *   search, canonical distance, ties to the smaller item index: item indices are the
 *   build numbers, as in the replicated search), so bf and bfdist are the replicated
 *   search's;
 * - components: bfcr_components_dist (numbered as bfcr_components), with each node's rank
 *   among its component's members and the second-of-pair flag;
 * - level-2 summaries: the held nodes' summaries, edge replaced by the node's edge value,
 *   move once into the level-2 order (component, item index) in balanced blocks; each
 *   level-2 node is the canonical reduction of its children in item order
 *   (bfcr_reduce_ranges_dist), the bits of bfcr_make_nodes.
 *
 * Level 2 and above are replicated (their summaries fit: at 2M rows, level 2 holds ~95k
 * nodes, 9 MB with d = 8, and every later level is several times smaller). Only 8-byte
 * integer arrays of level 1 are replicated: nchild (the component sizes) and parent (the
 * dendrogram and the fit walk them). The dendrogram step moves the summaries to their
 * final numbers and the metrics are summed from the pieces (metrics.c); at the end each
 * rank keeps the summaries over its dendrogram block (bfcr_tree_keep_own_ns's layout). */
#include <stdlib.h>
#include <string.h>

#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "tree/level1_dist.h"

static int64_t held(const bfcr_tree *t) {
  return t->lv1_hi - t->lv1_lo;
}

bfcr_status bfcr_level1_dist_bestfriends(bfcr_ctx *ctx, const bfcr_tree *t, int64_t *bf,
                                         double *bfdist) {
  bfcr_status st = BFCR_OK;
  const int d = t->d;
  const int64_t nl = held(t), w = bfcr_ns_width(d);
  double *cent = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl : 1), (size_t)d * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, cent ? BFCR_OK : BFCR_ERR_NOMEM));
  for (int64_t i = 0; i < nl; i++)
    memcpy(cent + i * d, t->lv[1].ns + i * w + BFCR_NS_MEAN, (size_t)d * sizeof(double));
  bfcr_zsrc zs = {cent, NULL, NULL, NULL, d};
  st = bfcr_level_dist_bestfriends(ctx, 1, &zs, nl, t->lv1_lo, t->lv[1].m, d, bf, bfdist, NULL);
cleanup:
  free(cent);
  return st;
}

bfcr_status bfcr_level1_dist_db(bfcr_ctx *ctx, const bfcr_tree *t, double *terms) {
  bfcr_status st = BFCR_OK;
  const bfcr_level *L = &t->lv[1];
  const int64_t m = L->m, w = bfcr_ns_width(t->d), nl = held(t);
  bfcr_level all = {0};
  all.m = m;
  all.ns = bfcr_malloc(ctx, (size_t)m, (size_t)w * sizeof(double));
  all.bf = bfcr_malloc(ctx, (size_t)m, sizeof(int64_t));
  all.bfdist = bfcr_malloc(ctx, (size_t)m, sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, all.ns && all.bf && all.bfdist ? BFCR_OK : BFCR_ERR_NOMEM));
  BFCR_CALL(bfcr_allgather_items(ctx, L->ns, nl, (size_t)w * sizeof(double), all.ns));
  BFCR_CALL(bfcr_allgather_items(ctx, L->bf, nl, sizeof(int64_t), all.bf));
  BFCR_CALL(bfcr_allgather_items(ctx, L->bfdist, nl, sizeof(double), all.bfdist));
  st = bfcr_level_db_terms(ctx, &all, t->d, NULL, terms); /* agreed */
cleanup:
  free(all.ns);
  free(all.bf);
  free(all.bfdist);
  return st;
}

/* Held level-1 nodes packed for the level-2 exchange: the summary, its edge field
 * replaced by the node's edge value (nodes.c: a mutual pair's edge counts once). */
typedef struct l2_pack {
  int d;
  const double *ns, *dist;
  const unsigned char *second;
} l2_pack;

static void l2_pack_row(void *user, int64_t i, double *dst) {
  const l2_pack *u = user;
  const int64_t w = bfcr_ns_width(u->d);
  memcpy(dst, u->ns + i * w, (size_t)w * sizeof(double));
  dst[bfcr_ns_edge(u->d)] = u->second[i] ? 0.0 : u->dist[i];
}

typedef struct l2_view {
  int d;
  const double *rows; /* level-2 order, ns_width doubles a position */
  int64_t lo;         /* position of rows[0] */
} l2_view;

static void l2_elem(void *user, int64_t pos, double *out) {
  const l2_view *v = user;
  const int64_t w = bfcr_ns_width(v->d);
  memcpy(out, v->rows + (pos - v->lo) * w, (size_t)w * sizeof(double));
}

static void l2_merge(void *user, const double *a, const double *b, double *out) {
  const l2_view *v = user;
  bfcr_ns_merge(v->d, a, b, out);
}

bfcr_status bfcr_level1_dist_nodes(bfcr_ctx *ctx, bfcr_tree *t, const int64_t *rank_in,
                                   const unsigned char *second) {
  bfcr_status st = BFCR_OK;
  const int d = t->d, P = ctx->size, me = ctx->rank;
  bfcr_level *L1 = &t->lv[1], *L2 = &t->lv[2];
  const int64_t m = L1->m, k = L2->m, w = bfcr_ns_width(d), nl = held(t);
  int64_t *start = NULL, *dest = NULL, *par = NULL;
  double *rows = NULL;
  start = bfcr_malloc(ctx, (size_t)k + 1, sizeof(int64_t));
  dest = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl : 1), sizeof(int64_t));
  L2->ns = bfcr_malloc(ctx, (size_t)k, (size_t)w * sizeof(double));
  par = bfcr_malloc(ctx, (size_t)m, sizeof(int64_t));
  BFCR_CALL(bfcr_agree(ctx, start && dest && L2->ns && par ? BFCR_OK : BFCR_ERR_NOMEM));
  start[0] = 0;
  for (int64_t c = 0; c < k; c++) start[c + 1] = start[c] + L2->nchild[c];
  for (int64_t i = 0; i < nl; i++) dest[i] = start[L1->parent[i]] + rank_in[i];
  l2_pack pk = {d, L1->ns, L1->bfdist, second};
  BFCR_CALL(bfcr_redistribute_dest(ctx, w, nl, m, dest, l2_pack_row, &pk, &rows));
  free(dest);
  dest = NULL;
  const int64_t lo = bfcr_block_lo(m, P, me), hi = bfcr_block_lo(m, P, me + 1);
  l2_view v = {d, rows, lo};
  BFCR_CALL(bfcr_reduce_ranges_dist(ctx, w, l2_elem, l2_merge, &v, k, start, lo, hi, L2->ns));
  free(rows);
  rows = NULL;
  BFCR_CALL(bfcr_allgather_items(ctx, L1->parent, nl, sizeof(int64_t), par));
  free(L1->parent);
  L1->parent = par;
  par = NULL;
cleanup:
  if (st != BFCR_OK) { /* level 2 is not counted in the tree's levels yet */
    free(L2->ns);
    L2->ns = NULL;
  }
  free(start);
  free(dest);
  free(par);
  free(rows);
  return st;
}

/* The node of level L holding dendrogram position p. */
static int64_t node_at(const bfcr_level *L, int64_t p) {
  return bfcr_first_range_from(L->start, L->m, p + 1) - 1;
}

bfcr_status bfcr_level1_dist_to_dendro(bfcr_ctx *ctx, bfcr_tree *t, const int64_t *p2f) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size;
  bfcr_level *L = &t->lv[1];
  const int64_t n = t->n, w = bfcr_ns_width(t->d), W = w + 2, nl = held(t);
  const int64_t plo = bfcr_block_lo(n, P, ctx->rank), phi = bfcr_block_lo(n, P, ctx->rank + 1);
  /* nodes over [plo, phi) (bfcr_tree_keep_own_ns's layout) */
  const int64_t c0 = phi > plo ? node_at(L, plo) : 0, c1 = phi > plo ? node_at(L, phi - 1) + 1 : 0;
  int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
  int64_t *cur = NULL;
  double *sbuf = NULL, *rbuf = NULL, *ns = NULL, *dist = NULL;
  MPI_Datatype row = MPI_DATATYPE_NULL;
  int64_t nsend = 0;
  for (int64_t i = 0; i < nl; i++) {
    const int64_t f = p2f[t->lv1_lo + i];
    nsend += bfcr_block_owner(n, P, L->start[f + 1] - 1) - bfcr_block_owner(n, P, L->start[f]) + 1;
  }
  sc = malloc((size_t)P * 4 * sizeof *sc);
  cur = malloc((size_t)P * sizeof *cur);
  sbuf = malloc((size_t)(nsend > 0 ? nsend : 1) * (size_t)W * sizeof *sbuf);
  rbuf = malloc((size_t)(c1 > c0 ? c1 - c0 : 1) * (size_t)W * sizeof *rbuf);
  ns = malloc((size_t)(c1 > c0 ? c1 - c0 : 1) * (size_t)w * sizeof *ns);
  dist = malloc((size_t)(c1 > c0 ? c1 - c0 : 1) * sizeof *dist);
  st = sc && cur && sbuf && rbuf && ns && dist ? BFCR_OK : BFCR_ERR_NOMEM;
  if (st == BFCR_OK && (nsend > INT32_MAX || c1 - c0 > INT32_MAX)) st = BFCR_ERR_NOMEM;
  if (st != BFCR_OK) bfcr_err(ctx, st, "out of memory moving %lld level-1 nodes", (long long)nl);
  BFCR_CALL(bfcr_agree(ctx, st));
  sd = sc + P, rc = sd + P, rd = rc + P;
  /* Each held node goes to every rank whose block its samples overlap (usually one), with
   * its final number; the summaries of [c0, c1) arrive once each. */
  for (int r = 0; r < P; r++) sc[r] = 0;
  for (int64_t i = 0; i < nl; i++) {
    const int64_t f = p2f[t->lv1_lo + i];
    for (int r = bfcr_block_owner(n, P, L->start[f]);
         r <= bfcr_block_owner(n, P, L->start[f + 1] - 1); r++)
      sc[r]++;
  }
  for (int r = 0, o = 0; r < P; r++) {
    sd[r] = o;
    cur[r] = o;
    o += sc[r];
  }
  for (int64_t i = 0; i < nl; i++) {
    const int64_t f = p2f[t->lv1_lo + i];
    for (int r = bfcr_block_owner(n, P, L->start[f]);
         r <= bfcr_block_owner(n, P, L->start[f + 1] - 1); r++) {
      double *dst = sbuf + cur[r]++ * W;
      memcpy(dst, L->ns + i * w, (size_t)w * sizeof(double));
      dst[w] = L->bfdist[i];
      dst[w + 1] = (double)f; /* exact below 2^53 */
    }
  }
  st = MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, ctx->comm) == MPI_SUCCESS ? BFCR_OK
                                                                              : BFCR_ERR_MPI;
  if (st == BFCR_OK) {
    for (int r = 0, o = 0; r < P; r++) {
      rd[r] = o;
      o += rc[r];
    }
    MPI_Type_contiguous((int)W, MPI_DOUBLE, &row);
    MPI_Type_commit(&row);
    st = MPI_Alltoallv(sbuf, sc, sd, row, rbuf, rc, rd, row, ctx->comm) == MPI_SUCCESS
             ? BFCR_OK
             : BFCR_ERR_MPI;
  }
  if (st != BFCR_OK) bfcr_err(ctx, st, "MPI_Alltoallv of level-1 summaries failed");
  for (int64_t q = 0; st == BFCR_OK && q < c1 - c0; q++) {
    const double *src = rbuf + q * W;
    const int64_t f = (int64_t)src[w + 1];
    memcpy(ns + (f - c0) * w, src, (size_t)w * sizeof(double));
    dist[f - c0] = src[w];
  }
  BFCR_CALL(bfcr_agree(ctx, st));
  free(L->ns);
  free(L->bfdist);
  L->ns = ns;
  L->bfdist = dist;
  ns = dist = NULL;
  L->ns_lo = c0;
  L->ns_hi = c1 > c0 ? c1 : c0 + 1; /* > 0: trimmed (an empty block keeps none) */
cleanup:
  if (row != MPI_DATATYPE_NULL) MPI_Type_free(&row);
  free(sc);
  free(cur);
  free(sbuf);
  free(rbuf);
  free(ns);
  free(dist);
  return st;
}
