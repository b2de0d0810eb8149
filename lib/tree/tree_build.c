/* Building the levels of the summary tree (see tree.h).
 *
 * Per level: exact best friends of the items (lib/knn), components (union-find), then
 * the summary of every new node reduced over its children with the canonical fixed
 * tree of lib/par/reduce.h, children taken in item order. Level 0 is the expensive
 * one (n items); every later level has at most half the items of the one before, on
 * real data 4-20x fewer, so the whole build is dominated by the level-0 search.
 *
 * Several ranks: level 0 runs through level0_dist.c and components_dist.c with each
 * rank holding its own rows' best friends and nodes only (t->lv0_local; no n-word array
 * of level 0; their collective steps return a status agreed by all ranks); every level
 * l >= 1 with more nodes than the replication bound (tree.h, bfcr_tree_rep_max: about 4 MB
 * of summaries, whatever P) whose own level is built is held in chunks and runs the same
 * distributed steps (levels_dist.c, bfcr_level.held); from the first level within the bound
 * on, every level is computed identically on every rank from replicated data. A local
 * failure (allocation) is agreed in cleanup, which meets the opening agreement of the next
 * collective step on the other ranks, so no rank ever waits alone in a collective.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/slab.h"
#include "par/reduce.h"
#include "par/redistribute.h"
#include "tree/components_dist.h"
#include "tree/level0.h"
#include "tree/levels_dist.h"
#include "tree/nodes.h"
#include "tree/tree.h"

/* Best friends of a replicated level. Several ranks split the kd-tree search by runs of
 * whole leaves (spatially coherent, unlike slices of the item order) and gather the
 * answers; every part is exactly what the whole search gives for those points. The
 * kd-tree, when the search used one, is handed to the caller (*tree_out) for the
 * level's Davies-Bouldin terms, which walk the same centroids. */
static bfcr_status level_bestfriends(bfcr_ctx *ctx, int level, double **centp, int64_t m, int d,
                                     int64_t *bf, double *dist2, bfcr_kdtree **tree_out) {
  bfcr_status st = BFCR_OK;
  bfcr_kdtree *t = NULL;
  int64_t *pnn = NULL, *all_nn = NULL, lo = 0, hi = 0;
  double *pd2 = NULL, *all_d2 = NULL;
  *tree_out = NULL;
  /* The method by the probe of knn_choose.c (on replicated centroids: every rank decides
   * alike). The tree is built either way: the Davies-Bouldin terms walk it. */
  bfcr_knn_choice ch = {0};
  if ((bfcr_nn_method)ctx->nn_method == BFCR_NN_GEMM) {
    bfcr_knn_decide(BFCR_NN_GEMM, &ch);
  } else {
    /* The tree takes the centroids as its own rows (no second m x d copy at the level's
     * peak: 29 MB for level 1 of 2M x 8 rows); the GEMM path below restores them. */
    st = bfcr_kdtree_build_take(*centp, m, d, ctx->nthreads, &t);
    *centp = NULL;
    if (st != BFCR_OK) return bfcr_err(ctx, st, "kd-tree build failed (%lld items)", (long long)m);
    if (ctx->nn_method == BFCR_NN_AUTO) bfcr_knn_probe(t, m, 1, ctx->nthreads, &ch);
    bfcr_knn_decide((bfcr_nn_method)ctx->nn_method, &ch);
    if (ch.method == BFCR_NN_GEMM) { /* the rows in item order again, the same bits */
      const double *X = bfcr_kdtree_rows(t);
      const int64_t *ix = bfcr_kdtree_index(t);
      *centp = malloc((size_t)m * (size_t)d * sizeof(double));
      if (!*centp) {
        bfcr_kdtree_free(t);
        return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for %lld centroids", (long long)m);
      }
      for (int64_t p = 0; p < m; p++)
        memcpy(*centp + ix[p] * d, X + p * d, (size_t)d * sizeof(double));
    }
  }
  const double *cent = *centp;
  if (level <= 2) {
    char where[24], line[160];
    snprintf(where, sizeof where, "level %d", level);
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, where, line);
  }
  if (ch.method == BFCR_NN_GEMM) {
    st = bfcr_knn_gemm(cent, m, d, cent, m, 1, ctx->nthreads, bf, dist2);
    if (st == BFCR_OK) {
      *tree_out = t;
      return st;
    }
    bfcr_kdtree_free(t);
    return bfcr_err(ctx, st, "nearest-neighbour search failed (%lld items)", (long long)m);
  }
  const int split = ctx->size > 1 && m >= 4096;
  if (split) {
    pnn = malloc((size_t)m * sizeof *pnn);
    pd2 = malloc((size_t)m * sizeof *pd2);
    all_nn = malloc((size_t)m * sizeof *all_nn);
    all_d2 = malloc((size_t)m * sizeof *all_d2);
    if (!pnn || !pd2 || !all_nn || !all_d2) st = BFCR_ERR_NOMEM;
  }
  if (st == BFCR_OK && !split) st = bfcr_kdtree_allnn(t, ctx->nthreads, bf, dist2);
  if (st == BFCR_OK && split)
    st = bfcr_kdtree_allnn_part(t, ctx->rank, ctx->size, ctx->nthreads, &lo, &hi, pnn, pd2);
  if (st != BFCR_OK)
    bfcr_err(ctx, st, "nearest-neighbour search failed (%lld items)", (long long)m);
  if (split) {
    BFCR_CALL(bfcr_agree(ctx, st));
    BFCR_CALL(bfcr_allgather_items(ctx, pnn, hi - lo, sizeof(int64_t), all_nn));
    BFCR_CALL(bfcr_allgather_items(ctx, pd2, hi - lo, sizeof(double), all_d2));
    const int64_t *order = bfcr_kdtree_order(t);
    for (int64_t p = 0; p < m; p++) {
      bf[order[p]] = all_nn[p];
      dist2[order[p]] = all_d2[p];
    }
  }
  if (st == BFCR_OK) {
    *tree_out = t;
    t = NULL;
  }
cleanup:
  bfcr_kdtree_free(t);
  free(pnn);
  free(pd2);
  free(all_nn);
  free(all_d2);
  return st;
}

void bfcr_tree_free(bfcr_tree *t) {
  if (!t) return;
  for (int l = 0; t->lv && l < t->nlevels; l++) {
    bfcr_level *L = &t->lv[l];
    free(L->ns);
    free(L->minidx);
    free(L->nchild);
    free(L->start);
    free(L->bf);
    free(L->bfdist);
    free(L->parent);
    free(L->dbterm);
  }
  if (t->kd0) bfcr_kdtree_free(*t->kd0);
  free(t->kd0);
  if (t->slab0) bfcr_slab_keep_free(*t->slab0);
  free(t->slab0);
  if (t->zyd) free(*t->zyd);
  free(t->zyd);
  free(t->lv);
  free(t->order);
  free(t->dpos);
  free(t->info);
  free(t);
}

bfcr_status bfcr_tree_build_z(bfcr_ctx *ctx, const double *Z, const double *y, int64_t n_local,
                              int64_t offset, int64_t n, int d, int max_levels, bfcr_tree **out) {
  bfcr_zsrc zs = {Z, NULL, NULL, NULL, d};
  return bfcr_tree_build_src(ctx, &zs, y, n_local, offset, n, d, max_levels, out);
}

bfcr_status bfcr_tree_build_src(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                int64_t n_local, int64_t offset, int64_t n, int d, int max_levels,
                                bfcr_tree **out) {
  return bfcr_tree_build_src_ex(ctx, zs, y, n_local, offset, n, d, max_levels, 0, out);
}

bfcr_status bfcr_tree_build_src_ex(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                   int64_t n_local, int64_t offset, int64_t n, int d,
                                   int max_levels, int flags, bfcr_tree **out) {
  return bfcr_tree_build_src_rep(ctx, zs, y, n_local, offset, n, d, max_levels, flags, 0, out);
}

bfcr_status bfcr_tree_build_src_rep(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                    int64_t n_local, int64_t offset, int64_t n, int d,
                                    int max_levels, int flags, int64_t rep_max, bfcr_tree **out) {
  bfcr_status st = BFCR_OK;
  bfcr_tree *t = NULL;
  double *cent = NULL, *dist2 = NULL, *own = NULL;
  bfcr_kdtree *kt = NULL; /* the current level's centroid tree */
  const double *Z = zs->Z;
  int64_t *work = NULL;
  unsigned char *second = NULL; /* several ranks: own rows, second half of a mutual pair */
  int64_t *rank1 = NULL;        /* held nodes' ranks in their next-level nodes */
  int agreed = 0;               /* st was agreed by a collective step: do not agree again */
  *out = NULL;
  BFCR_CHECK(ctx, n >= 1, BFCR_ERR_INPUT, "0 samples: nothing to cluster");
  BFCR_CHECK(ctx, d >= 1, BFCR_ERR_INPUT, "0 features: nothing to cluster on");
  BFCR_CHECK(ctx, zs->d == d, BFCR_ERR_ARG, "row source of width %d for d = %d", zs->d, d);
  if (max_levels < 1) max_levels = 64;
  if (rep_max <= 0) rep_max = bfcr_tree_rep_max(d);
  if (ctx->size == 1 && !Z) { /* the one-process search reads a stored block */
    BFCR_ALLOC(ctx, own, n_local * d);
    for (int64_t i = 0; i < n_local; i++) bfcr_zsrc_row(zs, i, own + i * d);
    Z = own;
  }
  BFCR_CALLOC(ctx, t, 1);
  t->d = d;
  t->n = n;
  t->n_local = n_local;
  t->offset = offset;
  t->has_y = y != NULL;
  t->skip_db = (flags & BFCR_TREE_SKIP_DB) != 0;
  BFCR_CALLOC(ctx, t->lv, max_levels + 2);
  t->nlevels = 1;
  t->lv[0].m = n;

  double t0 = bfcr_wtime();
  if (ctx->size > 1) {
    t->lv0_local = 1; /* own rows only: bf, bfdist, parent (and dpos) */
    BFCR_ALLOC(ctx, t->lv[0].bf, n_local > 0 ? n_local : 1);
    BFCR_ALLOC(ctx, t->lv[0].bfdist, n_local > 0 ? n_local : 1);
    if (flags & BFCR_TREE_KEEP_KD0) BFCR_CALLOC(ctx, t->slab0, 1);
    st = bfcr_level0_dist_bestfriends(ctx, zs, n_local, offset, n, d, &t->lv[0], t->slab0);
    if (st != BFCR_OK) {
      agreed = 1;
      goto cleanup;
    }
  } else {
    if (flags & BFCR_TREE_KEEP_KD0) BFCR_CALLOC(ctx, t->kd0, 1);
    BFCR_CALL(bfcr_level0_bestfriends(ctx, Z, n, d, &t->lv[0], t->kd0));
  }
  bfcr_phase_add(ctx, "nn level 0", bfcr_wtime() - t0, 0.0);

  for (int l = 0; t->lv[l].m > 1 && t->nlevels <= max_levels; l++) {
    bfcr_level *cur = &t->lv[l], *next = &t->lv[l + 1];
    int64_t m = cur->m;
    double tl = bfcr_wtime();
    if (cur->held) { /* the held chunks: the distributed search */
      int64_t nl1 = cur->held_hi > cur->held_lo ? cur->held_hi - cur->held_lo : 1;
      BFCR_ALLOC(ctx, cur->bf, nl1);
      BFCR_ALLOC(ctx, cur->bfdist, nl1);
      BFCR_CALL_AGREED(bfcr_held_bestfriends(ctx, t, l, cur->bf, cur->bfdist));
      bfcr_phase_add(ctx, "nn levels >= 1", bfcr_wtime() - tl, 0.0);
      if (!t->skip_db) { /* asked for: gathers the level for this step (levels_dist.c) */
        tl = bfcr_wtime();
        BFCR_ALLOC(ctx, cur->dbterm, m);
        BFCR_CALL_AGREED(bfcr_held_db(ctx, t, l, cur->dbterm));
        bfcr_phase_add(ctx, "davies-bouldin", bfcr_wtime() - tl, 0.0);
      }
    } else if (l > 0) { /* best friends among this level's centroids (replicated) */
      int64_t w = bfcr_ns_width(d);
      BFCR_ALLOC(ctx, cent, m * d);
      for (int64_t i = 0; i < m; i++)
        memcpy(cent + i * d, cur->ns + i * w + BFCR_NS_MEAN, (size_t)d * sizeof(double));
      BFCR_ALLOC(ctx, cur->bf, m);
      BFCR_ALLOC(ctx, cur->bfdist, m);
      BFCR_CALL(level_bestfriends(ctx, l, &cent, m, d, cur->bf, cur->bfdist, &kt));
      for (int64_t i = 0; i < m; i++) cur->bfdist[i] = sqrt(cur->bfdist[i]);
      free(cent);
      cent = NULL;
      bfcr_phase_add(ctx, "nn levels >= 1", bfcr_wtime() - tl, 0.0);
      /* Davies-Bouldin while the level's kd-tree exists (one build per level, not two). */
      tl = bfcr_wtime();
      if (!t->skip_db) {
        BFCR_ALLOC(ctx, cur->dbterm, m);
        BFCR_CALL(bfcr_level_db_terms(ctx, cur, d, kt, cur->dbterm));
      }
      bfcr_kdtree_free(kt);
      kt = NULL;
      if (!t->skip_db) bfcr_phase_add(ctx, "davies-bouldin", bfcr_wtime() - tl, 0.0);
    }
    tl = bfcr_wtime();
    if (l == 0 && t->lv0_local) { /* own rows; t->dpos keeps their ranks in their nodes */
      int64_t nl1 = n_local > 0 ? n_local : 1;
      BFCR_ALLOC(ctx, cur->parent, nl1);
      BFCR_ALLOC(ctx, t->dpos, nl1);
      BFCR_ALLOC(ctx, second, nl1);
      /* no smallest members beyond level 0: the nodes of every level are numbered by their
       * smallest member, so numbering components by their smallest item index (held
       * levels) or by item order (bfcr_make_nodes without item_minidx) is the same */
      st = bfcr_components_dist(ctx, cur->bf, n_local, offset, n, cur->parent, t->dpos, second,
                                &next->m, NULL, &next->nchild);
      if (st != BFCR_OK) {
        agreed = 1;
        goto cleanup;
      }
    } else if (cur->held) { /* the held nodes' components, pointer jumping */
      int64_t nl = cur->held_hi - cur->held_lo, nl1 = nl > 0 ? nl : 1;
      BFCR_ALLOC(ctx, cur->parent, nl1);
      BFCR_ALLOC(ctx, rank1, nl1);
      BFCR_ALLOC(ctx, second, nl1);
      BFCR_CALL_AGREED(bfcr_components_dist(ctx, cur->bf, nl, cur->held_lo, m, cur->parent, rank1,
                                            second, &next->m, NULL, &next->nchild));
    } else {
      BFCR_ALLOC(ctx, cur->parent, m);
      BFCR_ALLOC(ctx, work, m);
      int64_t k = bfcr_components(cur->bf, m, cur->parent, work);
      free(work);
      work = NULL;
      next->m = k;
    }
    int64_t k = next->m;
    bfcr_phase_add(ctx, "components", bfcr_wtime() - tl, 0.0);
    tl = bfcr_wtime();
    /* Several ranks: level l + 1 is held in chunks when its own level is built (two or more
     * nodes and a level l + 2 to come) and it exceeds the replication bound. */
    const int chunks = ctx->size > 1 && k > 1 && k > rep_max && l + 2 <= max_levels;
    if (l == 0 && t->lv0_local) {
      st = bfcr_level0_dist_nodes(ctx, zs, y, n_local, n, d, cur, t->dpos, second, next,
                                  chunks ? &next->held_lo : NULL, chunks ? &next->held_hi : NULL);
      free(second);
      second = NULL;
      if (st != BFCR_OK) {
        agreed = 1;
        goto cleanup;
      }
      next->held = chunks;
    } else if (cur->held) {
      st = bfcr_held_nodes(ctx, t, l, rank1, second, chunks);
      free(rank1);
      free(second);
      rank1 = NULL;
      second = NULL;
      if (st != BFCR_OK) {
        agreed = 1;
        goto cleanup;
      }
    } else if (l == 0) {
      BFCR_CALL(bfcr_level0_nodes(ctx, Z, y, d, cur, k, next));
    } else {
      bfcr_item_view v = {d, NULL, NULL, cur->ns, cur->bf, cur->bfdist, NULL};
      BFCR_CALL(bfcr_make_nodes(ctx, &v, cur, cur->minidx, k, next));
    }
    bfcr_phase_add(ctx, "summaries", bfcr_wtime() - tl, 0.0);
    if (l == 0) { /* the samples' distances live on in level 1's edge sums: 8 B per row
                     less; bf stays (the fit's cross-validation routes held-out rows by it) */
      free(cur->bfdist);
      cur->bfdist = NULL;
    }
    t->nlevels++;
    bfcr_progress(ctx, "levels", l + 1, 0);
  }
  double tm = bfcr_wtime();
  /* Levels >= 1: best friends and smallest members only served the build (components,
   * next level's numbering, Davies-Bouldin); nothing reads them later, so they are not
   * renumbered; distances and Davies-Bouldin terms go once the metrics have summed them.
   * About 32 B per node of every level less for the rest of the fit. */
  for (int l = 1; l < t->nlevels; l++) {
    free(t->lv[l].bf);
    free(t->lv[l].minidx);
    t->lv[l].bf = t->lv[l].minidx = NULL;
  }
  BFCR_CALL(bfcr_tree_dendro(ctx, t));
  BFCR_CALL(bfcr_tree_metrics(ctx, t));
  for (int l = 1; l < t->nlevels; l++) {
    free(t->lv[l].bfdist);
    free(t->lv[l].dbterm);
    t->lv[l].bfdist = t->lv[l].dbterm = NULL;
  }
  t->dist_levels = ctx->size > 1 ? 1 : 0;
  for (int l = 1; l < t->nlevels; l++) { /* their summaries: over this rank's block */
    t->dist_levels += t->lv[l].held;
    t->lv[l].held = 0;
  }
  ctx->dist_levels = t->dist_levels;
  bfcr_phase_add(ctx, "order+metrics", bfcr_wtime() - tm, 0.0);
  *out = t;
  t = NULL;
cleanup:
  if (t) { /* the next level's tables, not counted yet */
    bfcr_level *N = &t->lv[t->nlevels];
    free(N->ns);
    free(N->minidx);
    free(N->nchild);
    N->ns = NULL;
    N->minidx = N->nchild = NULL;
    N->held = 0;
  }
  free(second);
  free(rank1);
  bfcr_kdtree_free(kt);
  free(cent);
  free(dist2);
  free(own);
  free(work);
  bfcr_tree_free(t);
  if (ctx->size > 1 && !agreed) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK && *out) {
    bfcr_tree_free(*out);
    *out = NULL;
  }
  return st;
}
