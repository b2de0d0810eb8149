/* Levels >= 1 of the summary tree across ranks (several ranks): a level l with more than
 * the replication bound's nodes (tree.h, bfcr_tree_rep_max) whose own level is built is
 * never replicated with its summaries. The step that made it (level0_dist.c for level 1,
 * bfcr_held_nodes here for later ones) leaves each rank the nodes whose first position in
 * level-l order lies in its block: contiguous chunks [held_lo, held_hi) of the build
 * numbering (smallest member order) that tile [0, m) in rank order, which is the row layout
 * the distributed search and components of level 0 take. So a held level runs the same
 * three steps as level 0, with nodes as items:
 *
 * - best friends: bfcr_level_dist_bestfriends on the chunks' centroids (the exact slab
 *   search, canonical distance, ties to the smaller item index: item indices are the
 *   build numbers, as in the replicated search), so bf and bfdist are the replicated
 *   search's;
 * - components: bfcr_components_dist (numbered as bfcr_components), with each node's rank
 *   among its component's members and the second-of-pair flag;
 * - level-(l + 1) summaries: the held nodes' summaries, edge replaced by the node's edge
 *   value, move once into the level-(l + 1) order (component, item index) in balanced
 *   blocks; each new node is the canonical reduction of its children in item order
 *   (bfcr_reduce_ranges_own when level l + 1 is held too, else bfcr_reduce_ranges_dist),
 *   the bits of bfcr_make_nodes.
 *
 * Only integer arrays of a held level are replicated: nchild (the component sizes, sent as
 * varints by components_dist.c) and parent (the dendrogram and the fit walk them; sent as
 * int32 when the next level's ids fit). The dendrogram step moves the
 * summaries to their final numbers and the metrics are summed from the pieces (metrics.c);
 * at the end each rank keeps the summaries over its dendrogram block
 * (bfcr_tree_keep_own_ns's layout). */
#include <stdlib.h>
#include <string.h>

#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "tree/levels_dist.h"

static int64_t held(const bfcr_level *L) {
  return L->held_hi - L->held_lo;
}

bfcr_status bfcr_held_bestfriends(bfcr_ctx *ctx, const bfcr_tree *t, int l, int64_t *bf,
                                  double *bfdist) {
  bfcr_status st = BFCR_OK;
  const int d = t->d;
  const bfcr_level *L = &t->lv[l];
  const int64_t nl = held(L), w = bfcr_ns_width(d);
  double *cent = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl : 1), (size_t)d * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, cent ? BFCR_OK : BFCR_ERR_NOMEM));
  for (int64_t i = 0; i < nl; i++)
    memcpy(cent + i * d, L->ns + i * w + BFCR_NS_MEAN, (size_t)d * sizeof(double));
  bfcr_zsrc zs = {cent, NULL, NULL, NULL, d};
  st = bfcr_level_dist_bestfriends(ctx, l, &zs, nl, L->held_lo, L->m, d, bf, bfdist, NULL);
cleanup:
  free(cent);
  return st;
}

bfcr_status bfcr_held_db(bfcr_ctx *ctx, const bfcr_tree *t, int l, double *terms) {
  bfcr_status st = BFCR_OK;
  const bfcr_level *L = &t->lv[l];
  const int64_t m = L->m, w = bfcr_ns_width(t->d), nl = held(L);
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

/* Held nodes packed for the next level's exchange: the summary, its edge field
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

bfcr_status bfcr_held_nodes(bfcr_ctx *ctx, bfcr_tree *t, int l, const int64_t *rank_in,
                            const unsigned char *second, int chunks) {
  bfcr_status st = BFCR_OK;
  const int d = t->d, P = ctx->size, me = ctx->rank;
  bfcr_level *L1 = &t->lv[l], *L2 = &t->lv[l + 1];
  const int64_t m = L1->m, k = L2->m, w = bfcr_ns_width(d), nl = held(L1);
  const int64_t lo = bfcr_block_lo(m, P, me), hi = bfcr_block_lo(m, P, me + 1);
  int64_t *start = NULL, *dest = NULL, *par = NULL, c0 = 0, c1 = k;
  double *rows = NULL;
  start = bfcr_malloc(ctx, (size_t)k + 1, sizeof(int64_t));
  dest = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl : 1), sizeof(int64_t));
  if (start) {
    start[0] = 0;
    for (int64_t c = 0; c < k; c++) start[c + 1] = start[c] + L2->nchild[c];
    if (chunks) bfcr_owned_ranges(start, k, lo, hi, &c0, &c1);
  }
  L2->ns = bfcr_malloc(ctx, (size_t)(c1 > c0 ? c1 - c0 : 1), (size_t)w * sizeof(double));
  par = bfcr_malloc(ctx, (size_t)m, sizeof(int64_t));
  BFCR_CALL(bfcr_agree(ctx, start && dest && L2->ns && par ? BFCR_OK : BFCR_ERR_NOMEM));
  for (int64_t i = 0; i < nl; i++) dest[i] = start[L1->parent[i]] + rank_in[i];
  l2_pack pk = {d, L1->ns, L1->bfdist, second};
  BFCR_CALL(bfcr_redistribute_dest(ctx, w, nl, m, dest, l2_pack_row, &pk, &rows));
  free(dest);
  dest = NULL;
  l2_view v = {d, rows, lo};
  if (chunks) {
    BFCR_CALL(bfcr_reduce_ranges_own(ctx, w, l2_elem, l2_merge, &v, k, start, lo, hi, L2->ns));
    L2->held = 1;
    L2->held_lo = c0;
    L2->held_hi = c1;
  } else {
    BFCR_CALL(bfcr_reduce_ranges_dist(ctx, w, l2_elem, l2_merge, &v, k, start, lo, hi, L2->ns));
  }
  free(rows);
  rows = NULL;
  /* Parents are level-(l + 1) ids below k: int32 when k allows (4 B a node of the
   * replicated table, not 8), packed in place in L1->parent (freed next) and widened in
   * place in par from the end (int32 j is read before int64 j / 2 <= j is written). */
  const int narrow = k <= INT32_MAX;
  for (int64_t i = 0; narrow && i < nl; i++) ((int32_t *)L1->parent)[i] = (int32_t)L1->parent[i];
  BFCR_CALL(bfcr_allgather_items(ctx, L1->parent, nl, narrow ? 4 : 8, par));
  for (int64_t i = m; narrow && i-- > 0;) par[i] = ((const int32_t *)par)[i];
  free(L1->parent);
  L1->parent = par;
  par = NULL;
cleanup:
  if (st != BFCR_OK) { /* level l + 1 is not counted in the tree's levels yet */
    free(L2->ns);
    L2->ns = NULL;
    L2->held = 0;
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

bfcr_status bfcr_held_to_dendro(bfcr_ctx *ctx, bfcr_tree *t, int l, const int64_t *p2f) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size;
  bfcr_level *L = &t->lv[l];
  const int64_t n = t->n, w = bfcr_ns_width(t->d), W = w + 2, nl = held(L);
  const int64_t plo = bfcr_block_lo(n, P, ctx->rank), phi = bfcr_block_lo(n, P, ctx->rank + 1);
  /* nodes over [plo, phi) (bfcr_tree_keep_own_ns's layout) */
  const int64_t c0 = phi > plo ? node_at(L, plo) : 0, c1 = phi > plo ? node_at(L, phi - 1) + 1 : 0;
  int *sc = NULL, *sd = NULL, *rc = NULL, *rd = NULL;
  int64_t *cur = NULL;
  double *sbuf = NULL, *rbuf = NULL, *ns = NULL, *dist = NULL;
  MPI_Datatype row = MPI_DATATYPE_NULL;
  int64_t nsend = 0;
  for (int64_t i = 0; i < nl; i++) {
    const int64_t f = p2f[L->held_lo + i];
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
  if (st != BFCR_OK)
    bfcr_err(ctx, st, "out of memory moving %lld level-%d nodes", (long long)nl, l);
  BFCR_CALL(bfcr_agree(ctx, st));
  sd = sc + P, rc = sd + P, rd = rc + P;
  /* Each held node goes to every rank whose block its samples overlap (usually one), with
   * its final number; the summaries of [c0, c1) arrive once each. */
  for (int r = 0; r < P; r++) sc[r] = 0;
  for (int64_t i = 0; i < nl; i++) {
    const int64_t f = p2f[L->held_lo + i];
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
    const int64_t f = p2f[L->held_lo + i];
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
  if (st != BFCR_OK) bfcr_err(ctx, st, "MPI_Alltoallv of level-%d summaries failed", l);
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
