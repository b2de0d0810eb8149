/* Internal layout of bfcr_schema (column names, kinds, category tables, the encoded
 * feature list) and bfcr_data (a rank's block of encoded rows). */
#ifndef BFCR_IO_SCHEMA_H
#define BFCR_IO_SCHEMA_H

#include <stdint.h>
#include "core/ctx.h"

typedef enum bfcr_col_kind {
  BFCR_COL_NUMERIC = 0,
  BFCR_COL_TEXT = 1,    /* one-hot encoded: one feature per category */
  BFCR_COL_TARGET = 2,
  BFCR_COL_IGNORED = 3  /* present in the file, not a chosen feature */
} bfcr_col_kind;

struct bfcr_schema {
  int ncols;          /* columns of the source header (== d when built from arrays) */
  char **col_names;   /* [ncols] */
  int *col_kind;      /* [ncols] bfcr_col_kind */
  int *col_ncat;      /* [ncols] categories of a text column, else 0 */
  char ***col_cats;   /* [ncols][col_ncat] sorted by strcmp (byte order) */
  int target_col;     /* index into the header, or -1 */
  int d;              /* encoded features */
  char **feat_names;  /* [d] "carat", "cut=Ideal" */
  int *feat_col;      /* [d] source column */
  int *feat_cat;      /* [d] category index for one-hot features, -1 for numeric */
};

struct bfcr_data {
  int64_t n_local, n_global, offset; /* rows here, rows in all, global index of row 0 */
  int d;
  double *X;        /* [n_local * d] row-major, encoded, unstandardized */
  double *y;        /* [n_local] or NULL */
  int64_t *line;    /* [n_local] 1-based source line of each row, or NULL */
  bfcr_schema *schema;
  char *path;       /* source file, or NULL */
  int64_t dropped;  /* rows dropped by the NA policy (global) */
};

void bfcr_schema_free(bfcr_schema *s);
/* Deep copy; NULL on allocation failure (error set on ctx). */
bfcr_schema *bfcr_schema_clone(bfcr_ctx *ctx, const bfcr_schema *s);
/* Schema for d unnamed (or named) numeric features, no header, no target. */
bfcr_schema *bfcr_schema_numeric(bfcr_ctx *ctx, int d, const char *const *names);
/* Append a target column named name after the existing columns (ncols grows by one,
 * target_col = the new column; features unchanged). Used by bfcr_data_from_arrays
 * when y is given ("y"), so predict files may carry it. 0 or -1 (error on ctx). */
int bfcr_schema_add_target(bfcr_ctx *ctx, bfcr_schema *s, const char *name);

#endif
