#include "model/standardize.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/reduce.h"

bfcr_status bfcr_standardize_fit(bfcr_ctx *ctx, const bfcr_data *data, int enabled, double *mean,
                                 double *scale) {
  bfcr_status st = BFCR_OK;
  int d = data->d;
  double *dev = NULL;
  for (int j = 0; j < d; j++) {
    mean[j] = 0.0;
    scale[j] = 1.0;
  }
  if (!enabled || data->n_global == 0) return BFCR_OK;
  double n = (double)data->n_global;
  BFCR_CALL(bfcr_reduce_colsums(ctx, data->X, data->n_local, d, d, data->n_global, data->offset,
                                mean));
  for (int j = 0; j < d; j++) mean[j] /= n;
  /* Second pass about the mean: no cancellation, unlike sum(x^2) - n mean^2. */
  /* A rank short of memory still meets the others' agreement before the next reduction. */
  dev = malloc((size_t)(data->n_local > 0 ? data->n_local : 1) * (size_t)d * sizeof *dev);
  st = bfcr_agree(ctx, dev ? BFCR_OK
                           : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory standardizing %lld rows",
                                      (long long)data->n_local));
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < data->n_local; i++)
    for (int j = 0; j < d; j++) {
      double t = data->X[i * d + j] - mean[j];
      dev[i * d + j] = t * t;
    }
  BFCR_CALL(bfcr_reduce_colsums(ctx, dev, data->n_local, d, d, data->n_global, data->offset,
                                scale));
  for (int j = 0; j < d; j++) {
    double sd = sqrt(scale[j] / n);
    scale[j] = (sd > 0.0 && sd > 1e-12 * fabs(mean[j]) && isfinite(sd)) ? sd : 1.0;
  }
cleanup:
  free(dev);
  return st;
}

void bfcr_standardize_apply(const double *X, int64_t n, int d, const double *mean,
                            const double *scale, double *Z, int nthreads) {
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) Z[i * d + j] = (X[i * d + j] - mean[j]) / scale[j];
}
