/* Flop accounting of the fit phases against hand formulas on fits whose work is known
 * exactly: one model (level = top) on n rows, summary path (d = 3) and rows path
 * (d = 40 > n = 12). The "model fit" phases carry the documented dsyevd estimate and
 * are marked as estimated; "regression summaries" is counted (merge loops). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "regress/regress.h"
#include "testutil.h"

static double phase(bfcr_ctx *ctx, const char *name, int *est) {
  for (int i = 0; i < bfcr_ctx_num_phases(ctx); i++)
    if (strcmp(bfcr_ctx_phase_name(ctx, i), name) == 0) {
      if (est) *est = bfcr_ctx_phase_flops_estimated(ctx, i);
      return bfcr_ctx_phase_flops(ctx, i);
    }
  return -1.0;
}

static void fit_top(bfcr_ctx *ctx, int64_t n, int d) {
  double *X = malloc((size_t)(n * d) * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    y[i] = 0.0;
    for (int j = 0; j < d; j++) {
      X[i * d + j] = sin(1.0 + (double)(i * d + j) * 0.7) * (1 + j % 4);
      y[i] += X[i * d + j] / (1 + j);
    }
  }
  bfcr_data *data = NULL;
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &data), BFCR_OK);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.level = -1;
  bfcr_ctx_reset_phases(ctx);
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  free(X);
  free(y);
}

Test(fit_flops, summary_path_top_level) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 50;
  const int d = 3, K = 37;
  fit_top(ctx, n, d);
  const double p = d + 1, merge = 2.5 * p * (p + 1) + 4 * p + 3;
  int est = 0;
  cr_assert_float_eq(phase(ctx, "regression summaries", &est), (n - 1) * merge, 1e-6);
  cr_assert_eq(est, 0);
  /* pooled path + fit of the single node */
  double want = bfcr_ridge_flops(d) + 12.0 * K * d + bfcr_ridge_flops(d) + 12.0 * (2 * K + 2) * d;
  cr_assert_float_eq(phase(ctx, "model fit", &est), want, 1e-6);
  cr_assert_eq(est, 1);
  tu_ctx_free(&ctx);
}

Test(fit_flops, rows_path_top_level) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 12;
  const int d = 40;
  fit_top(ctx, n, d);
  int est = 0;
  cr_assert_float_eq(phase(ctx, "model fit (rows)", &est), 2.0 * bfcr_ridge_rows_flops(n, d, 0),
                     1e-6);
  cr_assert_eq(est, 1);
  cr_assert_lt(phase(ctx, "regression summaries", NULL), 0.0); /* no d x d summaries */
  tu_ctx_free(&ctx);
}
