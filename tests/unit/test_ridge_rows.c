/* Ridge from rows (dual form, ridge_rows.c) against ridge from the summary of the same
 * rows (primal, ridge.c): coefficients, intercept, chosen penalty, RSS, df and GCV to
 * 1e-10 relative, for n < d and n > d, fixed penalties and the GCV grid, with and
 * without shrinkage toward a prior w0; the path (RSS/df per penalty) the same; row
 * pointers give bit-identical summaries; degenerate rows (constant columns, one
 * distinct row, n = 1) and error codes. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"

#define RTOL 1e-10

typedef struct rows {
  int64_t n;
  int d;
  double *X, *y, *w0;
  const double **xr;
} rows;

static rows make(unsigned long seed, int64_t n, int d, double noise) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  rows R = {n,
            d,
            malloc((size_t)(n * d) * sizeof(double)),
            malloc((size_t)n * sizeof(double)),
            malloc((size_t)d * sizeof(double)),
            malloc((size_t)n * sizeof(double *))};
  for (int j = 0; j < d; j++) R.w0[j] = gsl_ran_gaussian(r, 0.3);
  for (int64_t i = 0; i < n; i++) {
    double t = 1.5;
    for (int j = 0; j < d; j++) {
      double v = 3.0 + (j % 5) + gsl_ran_gaussian(r, 0.5 + j % 3);
      R.X[i * d + j] = v;
      t += v * (j % 2 ? -0.7 : 1.3) / (1 + j);
    }
    R.y[i] = t + gsl_ran_gaussian(r, noise);
    R.xr[i] = R.X + i * d;
  }
  gsl_rng_free(r);
  return R;
}

static void drop(rows *R) {
  free(R->X);
  free(R->y);
  free(R->w0);
  free(R->xr);
}

typedef struct out {
  bfcr_status st;
  double *w, b;
  bfcr_ridge_result res;
} out;

static out primal(const rows *R, const double *w0, const bfcr_ridge_grid *g, double fixed) {
  int d = R->d;
  out o = {0};
  double *sum = malloc((size_t)bfcr_sum_len(d) * sizeof(double));
  double *work = malloc((size_t)bfcr_ridge_work_len(d) * sizeof(double));
  o.w = malloc((size_t)d * sizeof(double));
  bfcr_sum_rows(R->X, d, R->y, R->n, d, sum);
  o.st = bfcr_ridge_fit(sum, d, w0, g, fixed, work, o.w, &o.b, &o.res);
  free(sum);
  free(work);
  return o;
}

static out dual(const rows *R, const double *w0, const bfcr_ridge_grid *g, double fixed) {
  out o = {0};
  double *work = malloc((size_t)bfcr_ridge_rows_work_len(R->n, R->d) * sizeof(double));
  o.w = malloc((size_t)R->d * sizeof(double));
  o.st = bfcr_ridge_rows_fit(R->xr, R->y, R->n, R->d, w0, g, fixed, work, o.w, &o.b, NULL, &o.res);
  free(work);
  return o;
}

static double rel(double a, double b, double scale) {
  return fabs(a - b) / (scale > 0.0 ? scale : 1.0);
}

static void compare(const rows *R, const double *w0, const bfcr_ridge_grid *g, double fixed) {
  out a = primal(R, w0, g, fixed), b = dual(R, w0, g, fixed);
  cr_assert_eq(a.st, BFCR_OK);
  cr_assert_eq(b.st, BFCR_OK);
  cr_assert(rel(a.res.lambda, b.res.lambda, a.res.lambda) < RTOL, "lambda %g vs %g", a.res.lambda,
            b.res.lambda);
  cr_assert(rel(a.res.df, b.res.df, a.res.df) < RTOL, "n=%lld d=%d df %.17g vs %.17g",
            (long long)R->n, R->d, a.res.df, b.res.df);
  double wn = 0.0;
  for (int j = 0; j < R->d; j++) wn = fmax(wn, fabs(a.w[j]));
  for (int j = 0; j < R->d; j++)
    cr_assert(rel(a.w[j], b.w[j], wn) < RTOL, "n=%lld d=%d w[%d]: %.17g vs %.17g", (long long)R->n,
              R->d, j, a.w[j], b.w[j]);
  cr_assert(rel(a.b, b.b, fmax(fabs(a.b), 1.0)) < RTOL, "intercept %.17g vs %.17g", a.b, b.b);
  cr_assert(rel(a.res.df, b.res.df, a.res.df) < RTOL, "df %.17g vs %.17g", a.res.df, b.res.df);
  /* RSS to 1e-10 of the total sum of squares: the summary path forms its RSS as
   * s_yy - sum beta_j^2 / s_j + ..., accurate to rounding of s_yy, not of RSS itself
   * (RSS ~ lambda^2 when n < d). GCV inherits the same relative accuracy. */
  double syy = 0.0, my = 0.0;
  for (int64_t i = 0; i < R->n; i++) my += R->y[i] / (double)R->n;
  for (int64_t i = 0; i < R->n; i++) syy += (R->y[i] - my) * (R->y[i] - my);
  if (isfinite(a.res.gcv)) {
    cr_assert(rel(a.res.rss, b.res.rss, syy) < RTOL, "rss %.17g vs %.17g", a.res.rss, b.res.rss);
    double gs = a.res.gcv * syy / fmax(a.res.rss, 1e-300);
    cr_assert(rel(a.res.gcv, b.res.gcv, gs) < RTOL, "gcv %.17g vs %.17g", a.res.gcv, b.res.gcv);
  } else {
    cr_assert(isinf(b.res.gcv));
  }
  free(a.w);
  free(b.w);
}

static const bfcr_ridge_grid grid = {1e-4, 1e5, 37};

Test(ridge_rows, fixed_penalties_wide_and_tall) {
  const int64_t ns[] = {12, 40, 60};
  const int ds[] = {40, 12, 25};
  const double lams[] = {1e-3, 0.1, 1.0, 10.0, 1e3};
  for (int c = 0; c < 3; c++) {
    rows R = make(11 + c, ns[c], ds[c], 1.0);
    for (int k = 0; k < 5; k++) {
      compare(&R, NULL, NULL, lams[k]);
      compare(&R, R.w0, NULL, lams[k]);
    }
    drop(&R);
  }
}

Test(ridge_rows, gcv_grid_and_shrinkage) {
  const int64_t ns[] = {5, 20, 30, 90};
  const int ds[] = {60, 200, 30, 40};
  for (int c = 0; c < 4; c++) {
    /* Noise well above the signal's small-eigenvalue part keeps the GCV minimum away
     * from the flat small-lambda limit (n < d: GCV tends to a constant as lambda -> 0),
     * where the primal path's RSS carries rounding of s_yy and the choice is noise. */
    rows R = make(100 + c, ns[c], ds[c], 4.0);
    compare(&R, NULL, &grid, -1.0);
    compare(&R, R.w0, &grid, -1.0);
    drop(&R);
  }
}

Test(ridge_rows, path_matches_primal) {
  rows R = make(7, 15, 50, 1.0);
  const int K = 6;
  double lam[6] = {1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0}, r1[6], d1[6], r2[6], d2[6];
  double *sum = malloc((size_t)bfcr_sum_len(R.d) * sizeof(double));
  double *w1 = malloc((size_t)bfcr_ridge_work_len(R.d) * sizeof(double));
  double *w2 = malloc((size_t)bfcr_ridge_rows_work_len(R.n, R.d) * sizeof(double));
  bfcr_sum_rows(R.X, R.d, R.y, R.n, R.d, sum);
  cr_assert_eq(bfcr_ridge_path(sum, R.d, R.w0, K, lam, w1, r1, d1), BFCR_OK);
  cr_assert_eq(bfcr_ridge_rows_path(R.xr, R.y, R.n, R.d, R.w0, K, lam, w2, r2, d2), BFCR_OK);
  for (int k = 0; k < K; k++) {
    cr_assert(rel(r1[k], r2[k], r1[K - 1]) < RTOL, "rss[%d] %.17g vs %.17g", k, r1[k], r2[k]);
    cr_assert(rel(d1[k], d2[k], d1[k]) < RTOL, "df[%d] %.17g vs %.17g", k, d1[k], d2[k]);
  }
  free(sum);
  free(w1);
  free(w2);
  drop(&R);
}

Test(ridge_rows, row_pointers_bit_identical_summary) {
  const int ds[] = {5, 40}; /* loop path and SYRK path */
  for (int c = 0; c < 2; c++) {
    rows R = make(3, 300, ds[c], 1.0);
    int64_t len = bfcr_sum_len(R.d);
    double *a = malloc((size_t)len * sizeof(double)), *b = malloc((size_t)len * sizeof(double));
    double *work = malloc((size_t)bfcr_sum_rows_work_len(R.d) * sizeof(double));
    bfcr_sum_rows_work(R.X, R.d, R.y, R.n, R.d, work, a);
    bfcr_sum_rowptrs_work(R.xr, R.y, R.n, R.d, work, b);
    cr_assert_eq(memcmp(a, b, (size_t)len * sizeof(double)), 0);
    free(a);
    free(b);
    free(work);
    drop(&R);
  }
}

Test(ridge_rows, degenerate_rows) {
  rows R = make(5, 10, 50, 1.0);
  /* constant columns */
  for (int64_t i = 0; i < R.n; i++) R.X[i * R.d + 3] = R.X[i * R.d + 7] = 4.25;
  compare(&R, NULL, &grid, -1.0);
  compare(&R, R.w0, &grid, -1.0);
  /* one distinct row repeated: no direction is kept, w = w0, intercept = mean y - mean x.w0 */
  for (int64_t i = 1; i < R.n; i++) memcpy(R.X + i * R.d, R.X, (size_t)R.d * sizeof(double));
  out b = dual(&R, R.w0, &grid, -1.0);
  cr_assert_eq(b.st, BFCR_OK);
  for (int j = 0; j < R.d; j++) cr_assert_eq(b.w[j], R.w0[j]);
  cr_assert_eq(b.res.df, 1.0);
  free(b.w);
  /* n = 1 */
  R.n = 1;
  b = dual(&R, NULL, &grid, -1.0);
  cr_assert_eq(b.st, BFCR_OK);
  for (int j = 0; j < R.d; j++) cr_assert_eq(b.w[j], 0.0);
  cr_assert_eq(b.b, R.y[0]);
  cr_assert(isinf(b.res.gcv));
  free(b.w);
  drop(&R);
}

Test(ridge_rows, errors) {
  rows R = make(9, 4, 6, 1.0);
  double work[4096], w[6], b;
  bfcr_ridge_result res;
  cr_assert_eq(bfcr_ridge_rows_fit(R.xr, R.y, 0, 6, NULL, &grid, -1.0, work, w, &b, NULL, &res),
               BFCR_ERR_ARG);
  cr_assert_eq(bfcr_ridge_rows_fit(R.xr, R.y, 4, 6, NULL, NULL, -1.0, work, w, &b, NULL, &res),
               BFCR_ERR_ARG);
  R.X[5] = NAN;
  cr_assert_eq(bfcr_ridge_rows_fit(R.xr, R.y, 4, 6, NULL, &grid, -1.0, work, w, &b, NULL, &res),
               BFCR_ERR_NUMERIC);
  drop(&R);
}

Test(ridge_rows, flop_formulas) {
  /* n = 2, d = 3 by hand: centring 12, SYRK 2*3*3 = 18, dsyevd 14/3 * 8, 4 n^2 = 16,
   * coefficients 2 n d = 12, shrinkage 12. */
  cr_assert_float_eq(bfcr_ridge_rows_flops(2, 3, 0), 12 + 18 + 112.0 / 3.0 + 16 + 12, 1e-9);
  cr_assert_float_eq(bfcr_ridge_rows_flops(2, 3, 1), 12 + 18 + 112.0 / 3.0 + 16 + 24, 1e-9);
  cr_assert_float_eq(bfcr_ridge_flops(3), 14.0 / 3.0 * 27 + 54, 1e-9);
}
