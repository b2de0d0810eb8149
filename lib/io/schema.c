/* bfcr_schema: construction (numeric), deep copy, free and the public accessors. */
#include "io/schema.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dup_str(bfcr_ctx *ctx, const char *s) {
  size_t n = strlen(s) + 1;
  char *c = bfcr_malloc(ctx, n, 1);
  if (c) memcpy(c, s, n);
  return c;
}

void bfcr_schema_free(bfcr_schema *s) {
  if (!s) return;
  for (int i = 0; i < s->ncols; i++) {
    if (s->col_names) free(s->col_names[i]);
    if (s->col_cats && s->col_cats[i]) {
      for (int k = 0; k < s->col_ncat[i]; k++) free(s->col_cats[i][k]);
      free(s->col_cats[i]);
    }
  }
  free(s->col_names);
  free(s->col_kind);
  free(s->col_ncat);
  free(s->col_cats);
  if (s->feat_names)
    for (int j = 0; j < s->d; j++) free(s->feat_names[j]);
  free(s->feat_names);
  free(s->feat_col);
  free(s->feat_cat);
  free(s);
}

/* Arrays of a schema with ncols columns and d features, names unset (NULL). */
static bfcr_schema *schema_alloc(bfcr_ctx *ctx, int ncols, int d) {
  bfcr_schema *s = bfcr_calloc(ctx, 1, sizeof *s);
  if (!s) return NULL;
  s->ncols = ncols;
  s->d = d;
  s->target_col = -1;
  size_t nc = (size_t)(ncols > 0 ? ncols : 1), nd = (size_t)(d > 0 ? d : 1);
  s->col_names = bfcr_calloc(ctx, nc, sizeof *s->col_names);
  s->col_kind = bfcr_calloc(ctx, nc, sizeof *s->col_kind);
  s->col_ncat = bfcr_calloc(ctx, nc, sizeof *s->col_ncat);
  s->col_cats = bfcr_calloc(ctx, nc, sizeof *s->col_cats);
  s->feat_names = bfcr_calloc(ctx, nd, sizeof *s->feat_names);
  s->feat_col = bfcr_calloc(ctx, nd, sizeof *s->feat_col);
  s->feat_cat = bfcr_calloc(ctx, nd, sizeof *s->feat_cat);
  if (!s->col_names || !s->col_kind || !s->col_ncat || !s->col_cats || !s->feat_names ||
      !s->feat_col || !s->feat_cat) {
    bfcr_schema_free(s);
    return NULL;
  }
  return s;
}

bfcr_schema *bfcr_schema_clone(bfcr_ctx *ctx, const bfcr_schema *src) {
  if (!src) return NULL;
  bfcr_schema *s = schema_alloc(ctx, src->ncols, src->d);
  if (!s) return NULL;
  s->target_col = src->target_col;
  for (int i = 0; i < src->ncols; i++) {
    s->col_kind[i] = src->col_kind[i];
    if (!(s->col_names[i] = dup_str(ctx, src->col_names[i]))) goto fail;
    if (src->col_ncat[i] > 0) {
      s->col_cats[i] = bfcr_calloc(ctx, (size_t)src->col_ncat[i], sizeof(char *));
      if (!s->col_cats[i]) goto fail;
      s->col_ncat[i] = src->col_ncat[i];
      for (int k = 0; k < src->col_ncat[i]; k++)
        if (!(s->col_cats[i][k] = dup_str(ctx, src->col_cats[i][k]))) goto fail;
    }
  }
  for (int j = 0; j < src->d; j++) {
    s->feat_col[j] = src->feat_col[j];
    s->feat_cat[j] = src->feat_cat[j];
    if (!(s->feat_names[j] = dup_str(ctx, src->feat_names[j]))) goto fail;
  }
  return s;
fail:
  bfcr_schema_free(s);
  return NULL;
}

bfcr_schema *bfcr_schema_numeric(bfcr_ctx *ctx, int d, const char *const *names) {
  if (d < 0) return NULL;
  bfcr_schema *s = schema_alloc(ctx, d, d);
  if (!s) return NULL;
  for (int j = 0; j < d; j++) {
    char tmp[32];
    const char *nm = names ? names[j] : tmp;
    if (!names) snprintf(tmp, sizeof tmp, "x%d", j + 1);
    s->col_kind[j] = BFCR_COL_NUMERIC;
    s->feat_col[j] = j;
    s->feat_cat[j] = -1;
    if (!(s->col_names[j] = dup_str(ctx, nm)) || !(s->feat_names[j] = dup_str(ctx, nm))) {
      bfcr_schema_free(s);
      return NULL;
    }
  }
  return s;
}

int bfcr_schema_add_target(bfcr_ctx *ctx, bfcr_schema *s, const char *name) {
  char **names = realloc(s->col_names, (size_t)(s->ncols + 1) * sizeof *names);
  if (!names) goto nomem;
  s->col_names = names;
  int *kind = realloc(s->col_kind, (size_t)(s->ncols + 1) * sizeof *kind);
  if (!kind) goto nomem;
  s->col_kind = kind;
  int *ncat = realloc(s->col_ncat, (size_t)(s->ncols + 1) * sizeof *ncat);
  if (!ncat) goto nomem;
  s->col_ncat = ncat;
  char ***cats = realloc(s->col_cats, (size_t)(s->ncols + 1) * sizeof *cats);
  if (!cats) goto nomem;
  s->col_cats = cats;
  s->col_names[s->ncols] = dup_str(ctx, name);
  if (!s->col_names[s->ncols]) return -1;
  s->col_kind[s->ncols] = BFCR_COL_TARGET;
  s->col_ncat[s->ncols] = 0;
  s->col_cats[s->ncols] = NULL;
  s->target_col = s->ncols;
  s->ncols++;
  return 0;
nomem:
  bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory growing a schema");
  return -1;
}

int bfcr_schema_features(const bfcr_schema *s) {
  return s ? s->d : 0;
}

const char *bfcr_schema_feature_name(const bfcr_schema *s, int j) {
  return s && j >= 0 && j < s->d ? s->feat_names[j] : NULL;
}

const char *bfcr_schema_target(const bfcr_schema *s) {
  return s && s->target_col >= 0 ? s->col_names[s->target_col] : NULL;
}
