#include "model/standardize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/reduce.h"

bfcr_status bfcr_standardize_fit(bfcr_ctx *ctx, const bfcr_data *data, int enabled, double *mean,
                                 double *scale) {
  for (int j = 0; j < data->d; j++) {
    mean[j] = 0.0;
    scale[j] = 1.0;
  }
  if (!enabled) return BFCR_OK;
  return bfcr_standardize_cols(ctx, data->X, data->n_local, data->d, data->n_global, data->offset,
                               mean, scale);
}

bfcr_status bfcr_standardize_cols(bfcr_ctx *ctx, const double *X, int64_t n_local, int d,
                                  int64_t n_global, int64_t offset, double *mean, double *scale) {
  bfcr_status st = BFCR_OK;
  double *dev = NULL, *amax = NULL;
  for (int j = 0; j < d; j++) {
    mean[j] = 0.0;
    scale[j] = 1.0;
  }
  if (n_global == 0) return BFCR_OK;
  BFCR_ALLOC(ctx, amax, d);
  double n = (double)n_global;
  BFCR_CALL(bfcr_reduce_colsums(ctx, X, n_local, d, d, n_global, offset, mean));
  for (int j = 0; j < d; j++) {
    mean[j] /= n;
    amax[j] = 0.0;
  }
  /* The largest |x - mean| per column (a max: exact, order-free), so the squares are
   * formed of values in [0, 1] and neither underflow near 1e-300 nor overflow near 1e160. */
  for (int64_t i = 0; i < n_local; i++)
    for (int j = 0; j < d; j++) {
      double t = fabs(X[i * d + j] - mean[j]);
      if (t > amax[j]) amax[j] = t;
    }
  if (ctx->size > 1)
    BFCR_CHECK(ctx,
               MPI_Allreduce(MPI_IN_PLACE, amax, d, MPI_DOUBLE, MPI_MAX, ctx->comm) == MPI_SUCCESS,
               BFCR_ERR_MPI, "MPI_Allreduce failed while standardizing");
  for (int j = 0; j < d; j++)
    BFCR_CHECK(ctx, isfinite(mean[j]) && isfinite(amax[j]), BFCR_ERR_NUMERIC,
               "feature %d: values too large to standardize (the sum overflows); rescale it",
               j + 1);
  /* Second pass about the mean: no cancellation, unlike sum(x^2) - n mean^2. A rank short
   * of memory still meets the others' agreement before the next reduction. */
  dev = malloc((size_t)(n_local > 0 ? n_local : 1) * (size_t)d * sizeof *dev);
  st = bfcr_agree(ctx, dev ? BFCR_OK
                           : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory standardizing %lld rows",
                                      (long long)n_local));
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < n_local; i++)
    for (int j = 0; j < d; j++) {
      double t = amax[j] > 0.0 ? (X[i * d + j] - mean[j]) / amax[j] : 0.0;
      dev[i * d + j] = t * t;
    }
  BFCR_CALL(bfcr_reduce_colsums(ctx, dev, n_local, d, d, n_global, offset, scale));
  for (int j = 0; j < d; j++) {
    double sd = amax[j] * sqrt(scale[j] / n);
    scale[j] = (sd > 0.0 && sd > 1e-12 * fabs(mean[j]) && isfinite(sd)) ? sd : 1.0;
  }
cleanup:
  free(dev);
  free(amax);
  return st;
}

void bfcr_standardize_apply(const double *X, int64_t n, int d, const double *mean,
                            const double *scale, double *Z, int nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) Z[i * d + j] = (X[i * d + j] - mean[j]) / scale[j];
}

void bfcr_pack_zy(void *user, int64_t i, double *dst) {
  const bfcr_zy_rows *r = user;
  bfcr_zsrc_row(&r->z, i, dst);
  dst[r->z.d] = r->y ? r->y[i] : 0.0;
}
