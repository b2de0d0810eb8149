/* Public entry points of the summary tree (bfcr_tree_*). */
#include <stdlib.h>

#include "io/schema.h"
#include "model/standardize.h"
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
    int64_t node = tree->lv[0].parent[tree->offset + i];
    for (int l = 1; l < level; l++) node = tree->lv[l].parent[node];
    labels[i] = node;
  }
  return BFCR_OK;
}
