/* Feature standardization z = (x - mean) / scale, with the mean and the (population)
 * standard deviation over all ranks' rows reduced in the canonical order. A constant
 * column (sd <= 1e-12 |mean| or sd == 0) gets scale 1, so it maps to 0 and never
 * divides by zero. Collective. */
#ifndef BFCR_MODEL_STANDARDIZE_H
#define BFCR_MODEL_STANDARDIZE_H

#include "core/ctx.h"
#include "core/zsrc.h"
#include "io/schema.h"

/* mean, scale: [d]. When enabled == 0: mean 0, scale 1. */
bfcr_status bfcr_standardize_fit(bfcr_ctx *ctx, const bfcr_data *data, int enabled, double *mean,
                                 double *scale);
/* The same for the d columns of a row-major block X (n_local x d) holding global rows
 * [offset, offset + n_local) of n_global. Collective. */
bfcr_status bfcr_standardize_cols(bfcr_ctx *ctx, const double *X, int64_t n_local, int d,
                                  int64_t n_global, int64_t offset, double *mean, double *scale);
/* Z = (X - mean) / scale for n rows (Z may be X: elementwise, in place). Local. */
void bfcr_standardize_apply(const double *X, int64_t n, int d, const double *mean,
                            const double *scale, double *Z, int nthreads);

/* Packer for bfcr_redistribute_fn of rows (z, y): d features then the target (0 when
 * y is NULL), width d + 1. */
typedef struct bfcr_zy_rows {
  bfcr_zsrc z;
  const double *y;
} bfcr_zy_rows;
void bfcr_pack_zy(void *user, int64_t i, double *dst);

#endif
