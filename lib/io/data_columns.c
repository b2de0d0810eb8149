/* bfcr_data_from_columns: caller arrays whose text columns are already one-hot encoded,
 * with the schema the CSV reader would build (columns, categories, "name=category"
 * feature names), so a model fitted on them stores the same categories as one fitted on
 * the file. Also the public accessors of a schema's source columns. */
#include <stdlib.h>
#include <string.h>

#include "io/schema.h"

static char *dup_cat(bfcr_ctx *ctx, const char *a, const char *sep, const char *b) {
  size_t la = strlen(a), ls = sep ? strlen(sep) : 0, lb = b ? strlen(b) : 0;
  char *s = bfcr_malloc(ctx, la + ls + lb + 1, 1);
  if (!s) return NULL;
  memcpy(s, a, la);
  if (sep) memcpy(s + la, sep, ls);
  if (b) memcpy(s + la + ls, b, lb);
  s[la + ls + lb] = '\0';
  return s;
}

/* Local checks of the column description; returns d (features) or -1 (error on ctx). */
static int check_columns(bfcr_ctx *ctx, int ncols, const char *const *names, const int *ncat,
                         const char *const *cats, const char *target) {
  if (ncols < 1 || !names || !ncat) {
    bfcr_err(ctx, BFCR_ERR_ARG, "expected at least one named column, got %d", ncols);
    return -1;
  }
  int d = 0, c = 0;
  for (int i = 0; i < ncols; i++) {
    if (!names[i] || !names[i][0]) {
      bfcr_err(ctx, BFCR_ERR_ARG, "column name %d is empty, expected a name", i + 1);
      return -1;
    }
    for (int k = 0; k < i; k++)
      if (strcmp(names[i], names[k]) == 0) {
        bfcr_err(ctx, BFCR_ERR_ARG, "column name %d \"%s\" repeats column %d", i + 1, names[i],
                 k + 1);
        return -1;
      }
    if (target && strcmp(names[i], target) == 0) {
      bfcr_err(ctx, BFCR_ERR_ARG, "column %d \"%s\" has the target's name", i + 1, names[i]);
      return -1;
    }
    if (ncat[i] < 0 || (ncat[i] > 0 && !cats)) {
      bfcr_err(ctx, BFCR_ERR_ARG, "column \"%s\": %d categories", names[i], ncat[i]);
      return -1;
    }
    for (int k = 0; k < ncat[i]; k++, c++) {
      if (!cats[c] || !cats[c][0] || (k > 0 && strcmp(cats[c - 1], cats[c]) >= 0)) {
        bfcr_err(ctx, BFCR_ERR_ARG,
                 "column \"%s\": category %d must be non-empty and follow the previous one in "
                 "byte order",
                 names[i], k + 1);
        return -1;
      }
    }
    d += ncat[i] > 0 ? ncat[i] : 1;
  }
  return d;
}

static bfcr_schema *build_schema(bfcr_ctx *ctx, int ncols, const char *const *names,
                                 const int *ncat, const char *const *cats, int d) {
  bfcr_schema *s = bfcr_schema_numeric(ctx, d, NULL); /* right-sized feature arrays */
  if (!s) return NULL;
  /* Re-shape the column arrays to ncols columns (d >= ncols). */
  for (int i = 0; i < s->ncols; i++) free(s->col_names[i]), s->col_names[i] = NULL;
  s->ncols = ncols;
  int c = 0, j = 0;
  for (int i = 0; i < ncols; i++) {
    s->col_kind[i] = ncat[i] > 0 ? BFCR_COL_TEXT : BFCR_COL_NUMERIC;
    if (!(s->col_names[i] = dup_cat(ctx, names[i], NULL, NULL))) goto fail;
    if (ncat[i] == 0) {
      s->feat_col[j] = i;
      s->feat_cat[j] = -1;
      free(s->feat_names[j]);
      if (!(s->feat_names[j++] = dup_cat(ctx, names[i], NULL, NULL))) goto fail;
      continue;
    }
    if (!(s->col_cats[i] = bfcr_calloc(ctx, (size_t)ncat[i], sizeof(char *)))) goto fail;
    s->col_ncat[i] = ncat[i];
    for (int k = 0; k < ncat[i]; k++, c++, j++) {
      if (!(s->col_cats[i][k] = dup_cat(ctx, cats[c], NULL, NULL))) goto fail;
      s->feat_col[j] = i;
      s->feat_cat[j] = k;
      free(s->feat_names[j]);
      if (!(s->feat_names[j] = dup_cat(ctx, names[i], "=", cats[c]))) goto fail;
    }
  }
  return s;
fail:
  bfcr_schema_free(s);
  return NULL;
}

bfcr_status bfcr_data_from_columns(bfcr_ctx *ctx, int64_t n_local, int ncols,
                                   const char *const *col_names, const int *col_ncat,
                                   const char *const *categories, const double *X, const double *y,
                                   const char *target, bfcr_data **out) {
  if (!ctx) return BFCR_ERR_ARG;
  if (out) *out = NULL;
  if (y && !target) target = "y";
  int d = check_columns(ctx, ncols, col_names, col_ncat, categories, y ? target : NULL);
  bfcr_status st = bfcr_agree(ctx, d < 0 ? ctx->err : BFCR_OK);
  if (st != BFCR_OK) return st;
  bfcr_data *data = NULL;
  st = bfcr_data_from_arrays(ctx, n_local, d, X, y, NULL, &data);
  if (st != BFCR_OK) return st;
  bfcr_schema *s = build_schema(ctx, ncols, col_names, col_ncat, categories, d);
  if (s && y && bfcr_schema_add_target(ctx, s, target) != 0) {
    bfcr_schema_free(s);
    s = NULL;
  }
  st = bfcr_agree(ctx, s ? BFCR_OK : BFCR_ERR_NOMEM);
  if (st != BFCR_OK) {
    bfcr_schema_free(s);
    bfcr_data_destroy(&data);
    return st;
  }
  bfcr_schema_free(data->schema);
  data->schema = s;
  *out = data;
  return BFCR_OK;
}

int bfcr_schema_columns(const bfcr_schema *s) {
  return s ? s->ncols : 0;
}

const char *bfcr_schema_column_name(const bfcr_schema *s, int i) {
  return s && i >= 0 && i < s->ncols ? s->col_names[i] : NULL;
}

int bfcr_schema_column_kind(const bfcr_schema *s, int i) {
  return s && i >= 0 && i < s->ncols ? s->col_kind[i] : -1;
}

int bfcr_schema_column_categories(const bfcr_schema *s, int i) {
  return s && i >= 0 && i < s->ncols ? s->col_ncat[i] : 0;
}

const char *bfcr_schema_column_category(const bfcr_schema *s, int i, int k) {
  if (!s || i < 0 || i >= s->ncols || k < 0 || k >= s->col_ncat[i]) return NULL;
  return s->col_cats[i][k];
}
