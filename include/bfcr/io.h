#ifndef BFCR_IO_H
#define BFCR_IO_H
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"
#include "bfcr/context.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum bfcr_coltype { BFCR_COLTYPE_DOUBLE = 0, BFCR_COLTYPE_INT64 = 1 } bfcr_coltype;

typedef struct bfcr_column {
  const char *name;
  bfcr_coltype type;
  const void *local; /* n_local values of this rank (double or int64_t) */
} bfcr_column;

/* Write columns as CSV (header of names; doubles as %.17g, which round-trips) with
 * the rows of rank 0 first, then rank 1, ... (input order for data read from a
 * file). Rank 0 writes a temporary file in the target's folder, fsyncs and renames
 * it over path: an earlier file is replaced only by a complete new one. Collective. */
BFCR_API bfcr_status bfcr_write_columns_csv(bfcr_ctx *ctx, const char *path, int ncols,
                                            const bfcr_column *cols, int64_t n_local);

/* Collective scores of predictions against truth over all ranks' rows, combined in
 * a fixed order (identical for any rank count): RMSE, MAE and R^2 (any may be NULL). */
BFCR_API bfcr_status bfcr_score(bfcr_ctx *ctx, const double *truth, const double *pred,
                                int64_t n_local, double *rmse, double *mae, double *r2);

#ifdef __cplusplus
}
#endif
#endif
