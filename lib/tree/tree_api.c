/* Public entry points of the summary tree (bfcr_tree_*). */
#include <stdlib.h>
#include <string.h>

#include "io/schema.h"
#include "model/standardize.h"
#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "tree/tree.h"

void bfcr_tree_params_init(bfcr_tree_params *p) {
  if (!p) return;
  p->standardize = 1;
  p->max_levels = 64;
  p->nn_method = 0;
}

bfcr_status bfcr_tree_build(bfcr_ctx *ctx, const bfcr_data *data, const bfcr_tree_params *params,
                            bfcr_tree **out) {
  bfcr_status st = BFCR_OK;
  double *mean = NULL, *scale = NULL, *Z = NULL;
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_tree_params def;
  if (!params) {
    bfcr_tree_params_init(&def);
    params = &def;
  }
  BFCR_CHECK(ctx, data && out, BFCR_ERR_ARG, "bfcr_tree_build: data and out must not be NULL");
  *out = NULL;
  BFCR_CHECK(ctx, data->n_global >= 1, BFCR_ERR_INPUT, "0 samples: nothing to cluster");
  BFCR_ALLOC(ctx, mean, data->d);
  BFCR_ALLOC(ctx, scale, data->d);
  double t0 = bfcr_wtime();
  BFCR_CALL(bfcr_standardize_fit(ctx, data, params->standardize, mean, scale));
  BFCR_ALLOC(ctx, Z, data->n_local * data->d);
  bfcr_standardize_apply(data->X, data->n_local, data->d, mean, scale, Z, ctx->nthreads);
  bfcr_phase_add(ctx, "standardize", bfcr_wtime() - t0, 3.0 * data->n_local * data->d);
  ctx->nn_method = params->nn_method;
  st = bfcr_tree_build_z(ctx, Z, data->y, data->n_local, data->offset, data->n_global, data->d,
                         params->max_levels, out);
cleanup:
  free(mean);
  free(scale);
  free(Z);
  return bfcr_agree(ctx, st);
}

void bfcr_tree_destroy(bfcr_tree **tree) {
  if (!tree) return;
  bfcr_tree_free(*tree);
  *tree = NULL;
}

int bfcr_tree_num_levels(const bfcr_tree *tree) {
  return tree ? tree->nlevels : 0;
}

bfcr_status bfcr_tree_level_info(const bfcr_tree *tree, int level, bfcr_level_info *info) {
  if (!tree || !info || level < 0 || level >= tree->nlevels) return BFCR_ERR_ARG;
  *info = tree->info[level];
  return BFCR_OK;
}

bfcr_status bfcr_tree_labels(const bfcr_tree *tree, int level, int64_t *labels) {
  if (!tree || !labels || level < 0 || level >= tree->nlevels) return BFCR_ERR_ARG;
  if (level == 0) { /* level 0: a sample's position in dendrogram order */
    int64_t lo = tree->offset, hi = tree->offset + tree->n_local;
    if (tree->dpos) {
      for (int64_t i = 0; i < tree->n_local; i++) labels[i] = tree->dpos[i];
      return BFCR_OK;
    }
    for (int64_t p = 0; p < tree->n; p++) {
      int64_t g = tree->order[p];
      if (g >= lo && g < hi) labels[g - lo] = p;
    }
    return BFCR_OK;
  }
  for (int64_t i = 0; i < tree->n_local; i++) {
    int64_t node = tree->lv[0].parent[(tree->lv0_local ? 0 : tree->offset) + i];
    for (int l = 1; l < level; l++) node = tree->lv[l].parent[node];
    labels[i] = node;
  }
  return BFCR_OK;
}

/* The node of level L holding dendrogram position p (start[c] <= p < start[c + 1]); m for
 * p >= n. */
static int64_t node_at(const bfcr_level *L, int64_t n, int64_t p) {
  return p >= n ? L->m : bfcr_first_range_from(L->start, L->m, p + 1) - 1;
}

void bfcr_tree_keep_own_ns(bfcr_ctx *ctx, bfcr_tree *t) {
  const int P = ctx->size;
  const int64_t plo = bfcr_block_lo(t->n, P, ctx->rank),
                phi = bfcr_block_lo(t->n, P, ctx->rank + 1);
  const int64_t w = bfcr_ns_width(t->d);
  for (int l = 1; l < t->nlevels; l++) {
    bfcr_level *L = &t->lv[l];
    if (!L->ns || L->ns_hi > 0 || !L->start) continue; /* none, or trimmed already */
    /* nodes over [plo, phi): the owned ones (last position inside) and the one crossing phi */
    const int64_t c0 = phi > plo ? node_at(L, t->n, plo) : 0,
                  c1 = phi > plo ? node_at(L, t->n, phi - 1) + 1 : 0;
    double *keep = malloc((size_t)((c1 - c0) * w > 0 ? (c1 - c0) * w : 1) * sizeof(double));
    if (!keep) continue; /* keeps them all: the same answers */
    if (c1 > c0) memcpy(keep, L->ns + c0 * w, (size_t)((c1 - c0) * w) * sizeof(double));
    free(L->ns);
    L->ns = keep;
    L->ns_lo = c0;
    L->ns_hi = c1 > c0 ? c1 : c0 + 1; /* > 0: trimmed (an empty block keeps none) */
  }
}

void bfcr_tree_free_nchild(bfcr_tree *t) {
  for (int l = 1; l < t->nlevels; l++) {
    free(t->lv[l].nchild);
    t->lv[l].nchild = NULL;
  }
}

void bfcr_tree_owned_nodes(const bfcr_tree *t, int l, int P, int r, int64_t *a, int64_t *b) {
  *a = node_at(&t->lv[l], t->n, bfcr_block_lo(t->n, P, r));
  *b = node_at(&t->lv[l], t->n, bfcr_block_lo(t->n, P, r + 1));
}

bfcr_status bfcr_tree_ns_all(bfcr_ctx *ctx, const bfcr_tree *t, int l, double **out) {
  const bfcr_level *L = &t->lv[l];
  const int64_t w = bfcr_ns_width(t->d), m = L->m;
  double *all = malloc((size_t)(m * w > 0 ? m * w : 1) * sizeof(double));
  *out = NULL;
  bfcr_status st = bfcr_agree(
      ctx, all ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory gathering summaries"));
  if (st != BFCR_OK) return st;
  if (L->ns_hi == 0) { /* every rank holds them all (not trimmed) */
    memcpy(all, L->ns, (size_t)(m * w) * sizeof(double));
  } else { /* node c from the rank whose block holds its last position; ranks in node order */
    int64_t a, b;
    bfcr_tree_owned_nodes(t, l, ctx->size, ctx->rank, &a, &b);
    const double *mine = b > a ? L->ns + (a - L->ns_lo) * w : L->ns; /* empty block: none */
    st = bfcr_allgather_items(ctx, mine, b - a, (size_t)w * sizeof(double), all);
  }
  if (st == BFCR_OK)
    *out = all;
  else
    free(all);
  return st;
}
