/* Dendrogram order: renumber every level so that the children of a node are consecutive
 * nodes of the level below (in order of their smallest member) and every node is one
 * contiguous range of samples. Top-down: level l's final order groups the items of
 * level l - 1 by parent (stable counting sort), which fixes level l - 1's order. O(n)
 * per level. Level 0 stays indexed by global sample index; t->order[pos] gives the
 * sample at each dendrogram position (one rank), t->dpos[i] the position of local row i
 * (several ranks: the whole order would be n words on every rank for the rest of the
 * fit; the row exchanges into dendrogram order need only each rank's own rows).
 *
 * Several ranks (t->lv0_local): level 0 is never permuted. A row's dendrogram position
 * is its level-1 node's final start plus its rank among the node's members (children are
 * grouped stably, so in global-index order), which the build left in t->dpos; its parent
 * is renumbered through level 1's k-word map. A held level's (bfcr_level.held) summaries
 * and distances move to their final numbers, each rank receiving the nodes over its block
 * of positions (levels_dist.c); its maps, nchild, parent and start are replicated (8 bytes
 * a node each), start from nchild and the level below's start. */
#include <stdlib.h>
#include <string.h>

#include "par/redistribute.h"
#include "tree/levels_dist.h"
#include "tree/tree.h"

static bfcr_status permute_d(bfcr_ctx *ctx, double **a, const int64_t *fin2prov, int64_t m,
                             int64_t w) {
  bfcr_status st = BFCR_OK;
  double *b = NULL;
  if (!*a) return BFCR_OK;
  BFCR_ALLOC(ctx, b, m * w);
  for (int64_t f = 0; f < m; f++)
    memcpy(b + f * w, *a + fin2prov[f] * w, (size_t)w * sizeof(double));
  free(*a);
  *a = b;
cleanup:
  return st;
}

/* b[f] = map ? map[a[fin2prov[f]]] : a[fin2prov[f]] */
static bfcr_status permute_i(bfcr_ctx *ctx, int64_t **a, const int64_t *fin2prov, int64_t m,
                             const int64_t *map) {
  bfcr_status st = BFCR_OK;
  int64_t *b = NULL;
  if (!*a) return BFCR_OK;
  BFCR_ALLOC(ctx, b, m);
  for (int64_t f = 0; f < m; f++) {
    int64_t v = (*a)[fin2prov ? fin2prov[f] : f];
    b[f] = map ? map[v] : v;
  }
  free(*a);
  *a = b;
cleanup:
  return st;
}

bfcr_status bfcr_tree_dendro(bfcr_ctx *ctx, bfcr_tree *t) {
  bfcr_status st = BFCR_OK;
  int T = t->nlevels - 1, d = t->d;
  int64_t **f2p = NULL, **p2f = NULL, *cursor = NULL;
  BFCR_CALLOC(ctx, f2p, t->nlevels);
  BFCR_CALLOC(ctx, p2f, t->nlevels);
  /* Top level: nodes keep their canonical (smallest member) order. */
  BFCR_ALLOC(ctx, f2p[T], t->lv[T].m);
  for (int64_t i = 0; i < t->lv[T].m; i++) f2p[T][i] = i;
  const int stop = t->lv0_local && T >= 1 ? 1 : 0; /* lv0_local: no n-word level-0 maps */
  for (int l = T; l >= stop; l--) {
    int64_t m = t->lv[l].m;
    BFCR_ALLOC(ctx, p2f[l], m);
    for (int64_t f = 0; f < m; f++) p2f[l][f2p[l][f]] = f;
    if (l == stop) break;
    /* Items of level l - 1 grouped by the final id of their parent, stable. */
    int64_t mc = t->lv[l - 1].m;
    const int64_t *par = t->lv[l - 1].parent;
    BFCR_CALLOC(ctx, cursor, m + 1);
    for (int64_t i = 0; i < mc; i++) cursor[p2f[l][par[i]] + 1]++;
    for (int64_t f = 0; f < m; f++) cursor[f + 1] += cursor[f];
    BFCR_ALLOC(ctx, f2p[l - 1], mc);
    for (int64_t i = 0; i < mc; i++) f2p[l - 1][cursor[p2f[l][par[i]]]++] = i;
    free(cursor);
    cursor = NULL;
  }
  /* Level 0: keep sample indexing, remap parents; the order is f2p[0]. */
  /* lv0_local (several ranks): own rows only; dpos (rank in node) is finished below. */
  const int64_t m0 = t->lv0_local ? t->n_local : t->lv[0].m;
  if (m0 > 0) BFCR_CALL(permute_i(ctx, &t->lv[0].parent, NULL, m0, T >= 1 ? p2f[1] : NULL));
  if (t->lv0_local) {
    if (T == 0) { /* one level (n = 1 or max_levels = 1): the samples in index order */
      if (!t->dpos) BFCR_ALLOC(ctx, t->dpos, t->n_local > 0 ? t->n_local : 1);
      for (int64_t i = 0; i < t->n_local; i++) t->dpos[i] = t->offset + i;
    }
  } else {
    t->order = f2p[0];
    f2p[0] = NULL;
  }
  for (int l = 1; l <= T; l++) {
    bfcr_level *L = &t->lv[l];
    int64_t m = L->m;
    const int held = L->held; /* ns, bfdist in chunks (levels_dist.c) */
    if (!held) {
      BFCR_CALL(permute_d(ctx, &L->ns, f2p[l], m, bfcr_ns_width(d)));
      BFCR_CALL(permute_d(ctx, &L->bfdist, f2p[l], m, 1));
    }
    BFCR_CALL(permute_i(ctx, &L->minidx, f2p[l], m, NULL));
    BFCR_CALL(permute_i(ctx, &L->nchild, f2p[l], m, NULL));
    BFCR_CALL(permute_i(ctx, &L->bf, f2p[l], m, p2f[l]));
    BFCR_CALL(permute_d(ctx, &L->dbterm, f2p[l], m, 1));
    BFCR_CALL(permute_i(ctx, &L->parent, f2p[l], m, l < T ? p2f[l + 1] : NULL));
    BFCR_ALLOC(ctx, L->start, m + 1);
    L->start[0] = 0;
    if (held) { /* node i's children are the level below's nodes [cs, cs + nchild[i]) in
                   dendrogram order (the samples at level 1), so it starts where they do */
      int64_t cs = 0;
      for (int64_t i = 0; i < m; i++) {
        cs += L->nchild[i];
        L->start[i + 1] = l == 1 ? cs : t->lv[l - 1].start[cs];
      }
      BFCR_CALL(bfcr_held_to_dendro(ctx, t, l, p2f[l]));
    } else {
      for (int64_t i = 0; i < m; i++)
        L->start[i + 1] = L->start[i] + (int64_t)L->ns[i * bfcr_ns_width(d) + BFCR_NS_N];
    }
  }
  if (t->lv0_local && T >= 1) /* parents are final now: node start + rank in the node */
    for (int64_t i = 0; i < t->n_local; i++)
      t->dpos[i] = t->lv[1].start[t->lv[0].parent[i]] + t->dpos[i];
cleanup:
  for (int l = 0; f2p && l < t->nlevels; l++) free(f2p[l]);
  for (int l = 0; p2f && l < t->nlevels; l++) free(p2f[l]);
  free(f2p);
  free(p2f);
  free(cursor);
  return st;
}

bfcr_status bfcr_tree_order_all(bfcr_ctx *ctx, const bfcr_tree *t, int64_t **out) {
  bfcr_status st = BFCR_OK;
  int64_t n = t->n, *g2p = NULL, *ord = NULL;
  *out = NULL;
  ord = bfcr_malloc(ctx, (size_t)n, sizeof(int64_t));
  g2p = t->order ? NULL : bfcr_malloc(ctx, (size_t)n, sizeof(int64_t));
  st = ord && (t->order || g2p) ? BFCR_OK : BFCR_ERR_NOMEM;
  if (ctx->size > 1) BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CALL(st);
  if (t->order) {
    memcpy(ord, t->order, (size_t)n * sizeof(int64_t));
  } else {
    BFCR_CALL(bfcr_allgather_items(ctx, t->dpos, t->n_local, sizeof(int64_t), g2p));
    for (int64_t g = 0; g < n; g++) ord[g2p[g]] = g;
  }
  *out = ord;
  ord = NULL;
cleanup:
  free(g2p);
  free(ord);
  return st;
}

bfcr_status bfcr_tree_rows_to_dendro(bfcr_ctx *ctx, const bfcr_tree *t, int64_t width,
                                     bfcr_pack_row_fn pack, void *user, double **out) {
  if (t->dpos)
    return bfcr_redistribute_dest(ctx, width, t->n_local, t->n, t->dpos, pack, user, out);
  return bfcr_redistribute_fn(ctx, width, t->n_local, t->offset, t->n, t->order, pack, user, out);
}
