#ifndef BFCR_DATA_H
#define BFCR_DATA_H
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"
#include "bfcr/context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A dataset distributed over the ranks of a context: each rank holds a contiguous
 * block of rows (in input order) as a row-major matrix of encoded numeric features
 * and, optionally, the target. */
typedef struct bfcr_data bfcr_data;
/* The column layout a dataset was encoded with: names, kinds, category tables. */
typedef struct bfcr_schema bfcr_schema;
typedef struct bfcr_model bfcr_model;

typedef enum bfcr_na_policy {
  BFCR_NA_ERROR = 0, /* an empty/NA/NaN field is an error naming file:line:column */
  BFCR_NA_DROP = 1   /* rows holding one are dropped (fit only; counted in a warning) */
} bfcr_na_policy;

typedef enum bfcr_text_policy {
  BFCR_TEXT_ONEHOT = 0, /* text columns become one 0/1 feature per category */
  BFCR_TEXT_ERROR = 1   /* a text column is an error */
} bfcr_text_policy;

typedef struct bfcr_csv_params {
  const char *target;      /* target column name, or NULL for none (cluster only) */
  const char *const *features; /* feature column names (NULL-terminated) or NULL = all others */
  bfcr_na_policy na;       /* default BFCR_NA_ERROR */
  bfcr_text_policy text;   /* default BFCR_TEXT_ONEHOT */
  int64_t max_line_bytes;  /* longest accepted line; default 1 MiB */
  int max_columns;         /* most accepted columns; default 65536 */
  int max_categories;      /* most categories per text column; default 4096 */
} bfcr_csv_params;

/* Fill with the defaults (the only place they are defined). Not Collective. */
BFCR_API void bfcr_csv_params_init(bfcr_csv_params *p);

/* Read a CSV file (RFC 4180: header, quotes, CRLF, BOM). Each rank parses its own
 * byte range; rows are numbered in file order. When schema is non-NULL (predict),
 * the file is encoded with it: the header must match the training header, with the
 * target column optional. Errors: BFCR_ERR_IO, BFCR_ERR_INPUT (file:line:column).
 * Collective. */
BFCR_API bfcr_status bfcr_data_read_csv(bfcr_ctx *ctx, const char *path,
                                        const bfcr_csv_params *params,
                                        const bfcr_schema *schema, bfcr_data **out);

/* Wrap caller arrays (copied): n_local rows of d features, row-major X, y may be NULL.
 * feature_names may be NULL ("x1".."xd"). Rows are numbered by rank order. Collective. */
BFCR_API bfcr_status bfcr_data_from_arrays(bfcr_ctx *ctx, int64_t n_local, int d,
                                           const double *X, const double *y,
                                           const char *const *feature_names,
                                           bfcr_data **out);
/* Caller arrays for a table whose text columns are one-hot encoded the way the CSV reader
 * encodes them (copied): ncols feature columns in order; col_ncat[i] == 0 makes column i
 * one numeric feature named col_names[i], col_ncat[i] > 0 makes it a text column with that
 * many categories, the next col_ncat[i] entries of `categories` (non-empty, strictly
 * increasing in byte order, as the reader sorts them), encoded as that many 0/1 features
 * named "column=category". X holds n_local rows of d = sum(max(col_ncat[i], 1)) values.
 * When y is given, the target column is named target ("y" when NULL) and comes after the
 * features. The schema (and so a fitted model and its file) is the one the reader gives a
 * file with these columns and the target last. Errors: BFCR_ERR_ARG (bad description),
 * BFCR_ERR_INPUT (a non-finite value). Collective. */
BFCR_API bfcr_status bfcr_data_from_columns(bfcr_ctx *ctx, int64_t n_local, int ncols,
                                            const char *const *col_names, const int *col_ncat,
                                            const char *const *categories, const double *X,
                                            const double *y, const char *target,
                                            bfcr_data **out);
BFCR_API void bfcr_data_destroy(bfcr_data **data);

BFCR_API int64_t bfcr_data_local_rows(const bfcr_data *data);
BFCR_API int64_t bfcr_data_global_rows(const bfcr_data *data);
/* Global index of this rank's first row. */
BFCR_API int64_t bfcr_data_row_offset(const bfcr_data *data);
BFCR_API int bfcr_data_features(const bfcr_data *data);
BFCR_API const double *bfcr_data_X(const bfcr_data *data);
/* NULL when the data has no target. */
BFCR_API const double *bfcr_data_y(const bfcr_data *data);
BFCR_API const bfcr_schema *bfcr_data_schema(const bfcr_data *data);

BFCR_API int bfcr_schema_features(const bfcr_schema *s);
BFCR_API const char *bfcr_schema_feature_name(const bfcr_schema *s, int j);
/* NULL when there is no target. */
BFCR_API const char *bfcr_schema_target(const bfcr_schema *s);
/* Source columns (the header: features, target and ignored columns), their names, kinds
 * (0 numeric feature, 1 text feature one-hot encoded, 2 target, 3 ignored; -1 out of
 * range) and, for text columns, the categories in feature order (0 / NULL otherwise).
 * Not Collective. */
BFCR_API int bfcr_schema_columns(const bfcr_schema *s);
BFCR_API const char *bfcr_schema_column_name(const bfcr_schema *s, int i);
BFCR_API int bfcr_schema_column_kind(const bfcr_schema *s, int i);
BFCR_API int bfcr_schema_column_categories(const bfcr_schema *s, int i);
BFCR_API const char *bfcr_schema_column_category(const bfcr_schema *s, int i, int k);

#ifdef __cplusplus
}
#endif
#endif
