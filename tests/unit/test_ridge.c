/* Ridge from a summary against direct computations on the raw rows: the penalised
 * normal equations solved by Cholesky (LAPACKE_dposv), the residuals evaluated row by
 * row, the degrees of freedom as the trace of the hat matrix, GCV by brute force over
 * the same grid; shrinkage toward w0; degenerate inputs (constant and duplicated
 * columns, n = 0, 1, 2, n < d) and error codes. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"

#define SEED 777UL
#define TIE_RTOL 1e-10 /* the documented GCV tie tolerance */

static gsl_rng *new_rng(unsigned long seed) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  return r;
}

/* y = 2 + x . beta + noise, x_j = mu_j + N(0, s_j) with varied column scales. */
static void gen(gsl_rng *r, int64_t n, int d, double noise, double *X, double *y) {
  for (int64_t i = 0; i < n; i++) {
    double t = 2.0;
    for (int j = 0; j < d; j++) {
      double v = (j - 1.5) + gsl_ran_gaussian(r, 0.5 + j % 3);
      X[i * d + j] = v;
      t += v * (j % 2 ? -0.7 : 1.3) / (1 + j);
    }
    y[i] = t + gsl_ran_gaussian(r, noise);
  }
}

typedef struct fit {
  bfcr_status st;
  double *w, b0;
  bfcr_ridge_result res;
} fit;

static fit ridge(const double *sum, int d, const double *w0, const bfcr_ridge_grid *g,
                 double fixed) {
  fit f;
  double *work = malloc((size_t)(bfcr_ridge_work_len(d) + 1) * sizeof(double));
  f.w = malloc((size_t)(d + 1) * sizeof(double));
  f.st = bfcr_ridge_fit(sum, d, w0, g, fixed, work, f.w, &f.b0, &f.res);
  free(work);
  return f;
}

/* Direct quantities from the rows (long double accumulation). */
typedef struct direct {
  int d;
  int64_t n;
  double *S, *sxy, *mu, muy; /* S: d x d column-major */
  double *Xc;                /* centred rows, d x n column-major (one row per column) */
} direct;

static direct make_direct(const double *X, const double *y, int64_t n, int d) {
  direct D = {d,
              n,
              calloc((size_t)(d * d), sizeof(double)),
              calloc((size_t)d, sizeof(double)),
              calloc((size_t)d, sizeof(double)),
              0.0,
              malloc((size_t)(d * n + 1) * sizeof(double))};
  long double my = 0;
  for (int64_t i = 0; i < n; i++) my += y[i];
  D.muy = (double)(my / n);
  for (int j = 0; j < d; j++) {
    long double m = 0;
    for (int64_t i = 0; i < n; i++) m += X[i * d + j];
    D.mu[j] = (double)(m / n);
  }
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) D.Xc[j + i * d] = X[i * d + j] - D.mu[j];
  for (int j = 0; j < d; j++) {
    long double sy = 0;
    for (int64_t i = 0; i < n; i++) sy += (long double)D.Xc[j + i * d] * (y[i] - D.muy);
    D.sxy[j] = (double)sy;
    for (int k = 0; k < d; k++) {
      long double s = 0;
      for (int64_t i = 0; i < n; i++) s += (long double)D.Xc[j + i * d] * D.Xc[k + i * d];
      D.S[j + k * d] = (double)s;
    }
  }
  return D;
}

static void free_direct(direct *D) {
  free(D->S);
  free(D->sxy);
  free(D->mu);
  free(D->Xc);
}

/* Solve (S + lambda I) w = s_xy + lambda w0 by Cholesky; rss and hat-matrix trace from
 * the rows. Returns the GCV. */
static double direct_fit(const direct *D, const double *X, const double *y, double lambda,
                         const double *w0, double *w, double *b0, double *rss, double *df) {
  const int d = D->d;
  const int64_t n = D->n;
  double *A = malloc((size_t)(d * d) * sizeof(double));
  double *B = malloc((size_t)(d * (n + 1)) * sizeof(double));
  memcpy(A, D->S, (size_t)(d * d) * sizeof(double));
  for (int j = 0; j < d; j++) A[j + j * d] += lambda;
  /* Right-hand sides: s_xy + lambda w0, then the n centred rows (for the hat matrix). */
  for (int j = 0; j < d; j++) B[j] = D->sxy[j] + (w0 ? lambda * w0[j] : 0.0);
  memcpy(B + d, D->Xc, (size_t)(d * n) * sizeof(double));
  lapack_int info = LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', d, (lapack_int)(n + 1), A, d, B, d);
  cr_assert(info == 0, "dposv info %d", (int)info);
  memcpy(w, B, (size_t)d * sizeof(double));
  *b0 = D->muy;
  for (int j = 0; j < d; j++) *b0 -= D->mu[j] * w[j];
  long double r = 0, tr = 1; /* the intercept contributes 1 to the hat trace */
  for (int64_t i = 0; i < n; i++) {
    long double e = y[i] - *b0, h = 0;
    for (int j = 0; j < d; j++) {
      e -= (long double)X[i * d + j] * w[j];
      h += (long double)D->Xc[j + i * d] * B[d + j + i * d];
    }
    r += e * e;
    tr += h;
  }
  *rss = (double)r;
  *df = (double)tr;
  free(A);
  free(B);
  return (double)n > *df ? (double)n * *rss / (((double)n - *df) * ((double)n - *df)) : INFINITY;
}

static double grid_value(const bfcr_ridge_grid *g, double scale, int k) {
  if (g->steps == 1) return scale * g->lambda_min;
  return scale * g->lambda_min * pow(g->lambda_max / g->lambda_min, (double)k / (g->steps - 1));
}

static double trace_scale(const direct *D) {
  double t = 0;
  for (int j = 0; j < D->d; j++) t += D->S[j + j * D->d];
  return t > 0 ? t / D->d : 1.0;
}

static double relerr(const double *a, const double *b, int d) {
  double num = 0, den = 0;
  for (int j = 0; j < d; j++) {
    num += (a[j] - b[j]) * (a[j] - b[j]);
    den += b[j] * b[j];
  }
  return den > 0 ? sqrt(num / den) : sqrt(num);
}

static double *summary(const double *X, const double *y, int64_t n, int d) {
  double *s = malloc((size_t)bfcr_sum_len(d) * sizeof(double));
  bfcr_sum_rows(X, d, y, n, d, s);
  return s;
}

static void check_fixed(gsl_rng *r, int64_t n, int d, int use_w0) {
  double *X = malloc((size_t)(n * d) * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  gen(r, n, d, 0.5, X, y);
  double *w0 = NULL;
  if (use_w0) {
    w0 = malloc((size_t)d * sizeof(double));
    for (int j = 0; j < d; j++) w0[j] = gsl_ran_gaussian(r, 1.0);
  }
  double *sum = summary(X, y, n, d);
  direct D = make_direct(X, y, n, d);
  double *wd = malloc((size_t)d * sizeof(double));
  const double rel[] = {1e-3, 0.1, 1.0, 100.0};
  for (int k = 0; k < 4; k++) {
    double lambda = rel[k] * trace_scale(&D), b0d, rssd, dfd;
    double gcvd = direct_fit(&D, X, y, lambda, w0, wd, &b0d, &rssd, &dfd);
    fit f = ridge(sum, d, w0, NULL, lambda);
    cr_assert(f.st == BFCR_OK);
    double ew = relerr(f.w, wd, d);
    cr_assert(ew < 1e-10, "n=%ld d=%d lambda=%g w0=%d: w rel err %.3g", (long)n, d, lambda, use_w0,
              ew);
    double bscale = fabs(b0d) + fabs(D.muy) + 1.0;
    cr_assert(fabs(f.b0 - b0d) < 1e-10 * bscale, "intercept %.17g vs %.17g", f.b0, b0d);
    cr_assert(fabs(f.res.rss - rssd) <= 1e-9 * rssd + 1e-12, "rss %.17g vs direct %.17g", f.res.rss,
              rssd);
    cr_assert(fabs(f.res.df - dfd) < 1e-10 * (d + 1), "df %.17g vs hat trace %.17g", f.res.df, dfd);
    if (isfinite(gcvd))
      cr_assert(fabs(f.res.gcv - gcvd) <= 1e-8 * gcvd, "gcv %.17g vs %.17g", f.res.gcv, gcvd);
    else
      cr_assert(isinf(f.res.gcv));
    cr_assert(f.res.lambda == lambda);
    free(f.w);
  }
  free_direct(&D);
  free(sum);
  free(wd);
  free(w0);
  free(X);
  free(y);
}

Test(ridge, fixed_lambda_matches_direct_solve) {
  gsl_rng *r = new_rng(SEED);
  const int64_t ns[] = {5, 50, 300};
  const int ds[] = {1, 3, 10};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) check_fixed(r, ns[a], ds[b], 0);
  gsl_rng_free(r);
}

Test(ridge, shrinkage_toward_w0_matches_direct_solve) {
  gsl_rng *r = new_rng(SEED + 1);
  const int64_t ns[] = {5, 50, 300};
  const int ds[] = {1, 3, 10};
  for (int a = 0; a < 3; a++)
    for (int b = 0; b < 3; b++) check_fixed(r, ns[a], ds[b], 1);
  gsl_rng_free(r);
}

/* Brute force: for every grid lambda a direct solve, residuals and hat trace; pick the
 * minimum GCV, ties (relative TIE_RTOL) to the larger lambda. */
static void check_gcv(gsl_rng *r, int64_t n, int d, double noise, int use_w0) {
  double *X = malloc((size_t)(n * d) * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  gen(r, n, d, noise, X, y);
  double *w0 = NULL;
  if (use_w0) {
    w0 = malloc((size_t)d * sizeof(double));
    for (int j = 0; j < d; j++) w0[j] = gsl_ran_gaussian(r, 1.0);
  }
  double *sum = summary(X, y, n, d);
  direct D = make_direct(X, y, n, d);
  const bfcr_ridge_grid g = {1e-5, 1e3, 33};
  double *wd = malloc((size_t)d * sizeof(double)), *gv = malloc(33 * sizeof(double));
  double b0d, rssd, dfd, gmin = INFINITY;
  const double scale = trace_scale(&D);
  for (int k = 0; k < g.steps; k++) {
    gv[k] = direct_fit(&D, X, y, grid_value(&g, scale, k), w0, wd, &b0d, &rssd, &dfd);
    gmin = fmin(gmin, gv[k]);
  }
  int best = g.steps - 1;
  for (int k = g.steps - 1; k >= 0; k--)
    if (gv[k] <= gmin * (1 + TIE_RTOL)) {
      best = k;
      break;
    }
  fit f = ridge(sum, d, w0, &g, -1.0);
  cr_assert(f.st == BFCR_OK);
  double lbest = grid_value(&g, scale, best);
  cr_assert(fabs(f.res.lambda - lbest) <= 1e-12 * lbest,
            "n=%ld d=%d w0=%d: chose lambda %.6g, brute force %.6g (grid point %d)", (long)n, d,
            use_w0, f.res.lambda, lbest, best);
  if (isfinite(gmin))
    cr_assert(fabs(f.res.gcv - gmin) <= 1e-8 * gmin, "gcv %.17g vs brute force %.17g", f.res.gcv,
              gmin);
  direct_fit(&D, X, y, f.res.lambda, w0, wd, &b0d, &rssd, &dfd);
  cr_assert(relerr(f.w, wd, d) < 1e-9, "w at the chosen lambda: rel err %.3g", relerr(f.w, wd, d));
  free(f.w);
  free_direct(&D);
  free(sum);
  free(wd);
  free(gv);
  free(w0);
  free(X);
  free(y);
}

Test(ridge, gcv_choice_matches_brute_force) {
  gsl_rng *r = new_rng(SEED + 2);
  check_gcv(r, 200, 5, 0.5, 0); /* small lambda wins */
  check_gcv(r, 30, 8, 3.0, 0);  /* noisy: larger lambda */
  check_gcv(r, 12, 6, 1.0, 0);  /* few rows */
  check_gcv(r, 30, 40, 0.3, 0); /* n < d: rank n - 1 */
  check_gcv(r, 60, 4, 1.0, 1);  /* shrinkage toward w0 */
  check_gcv(r, 15, 20, 1.0, 1);
  gsl_rng_free(r);
}

Test(ridge, constant_column_gets_zero_weight) {
  gsl_rng *r = new_rng(SEED + 3);
  const int d = 4;
  const int64_t n = 40;
  double X[40 * 4], y[40], Xr[40 * 3];
  gen(r, n, d, 0.5, X, y);
  for (int64_t i = 0; i < n; i++) {
    X[i * d + 2] = 0.1; /* not exactly representable: the mean may round */
    for (int j = 0, k = 0; j < d; j++)
      if (j != 2) Xr[i * 3 + k++] = X[i * d + j];
  }
  double *sum = summary(X, y, n, d), *sumr = summary(Xr, y, n, 3);
  const bfcr_ridge_grid g = {1e-4, 1e2, 20};
  /* GCV search (the grid scale trace/d differs from the reduced problem's, so only
   * the zero weight is compared), then least squares and a fixed lambda, where the
   * other weights must be those of the fit without the column. */
  const double modes[] = {-1.0, 0.0, 3.0};
  for (int mode = 0; mode < 3; mode++) {
    fit f = ridge(sum, d, NULL, &g, modes[mode]), fr = ridge(sumr, 3, NULL, &g, modes[mode]);
    cr_assert(f.st == BFCR_OK && fr.st == BFCR_OK);
    for (int j = 0; j < d; j++) cr_assert(isfinite(f.w[j]));
    cr_assert(isfinite(f.b0) && isfinite(f.res.gcv) && isfinite(f.res.rss));
    cr_assert(fabs(f.w[2]) < 1e-12, "constant column weight %.3g", f.w[2]);
    double wk[3] = {f.w[0], f.w[1], f.w[3]};
    if (mode > 0)
      cr_assert(relerr(wk, fr.w, 3) < 1e-9, "mode %d: rel err %.3g", mode, relerr(wk, fr.w, 3));
    free(f.w);
    free(fr.w);
  }
  free(sum);
  free(sumr);
  gsl_rng_free(r);
}

Test(ridge, duplicated_column_shares_weight) {
  gsl_rng *r = new_rng(SEED + 4);
  const int64_t n = 50;
  double X[50 * 4], y[50], Xr[50 * 3];
  gen(r, n, 4, 0.5, X, y);
  for (int64_t i = 0; i < n; i++) {
    X[i * 4 + 3] = X[i * 4 + 1];
    for (int j = 0; j < 3; j++) Xr[i * 3 + j] = X[i * 4 + j];
  }
  double *sum = summary(X, y, n, 4), *sumr = summary(Xr, y, n, 3);
  const bfcr_ridge_grid g = {1e-4, 1e2, 20};
  fit f = ridge(sum, 4, NULL, &g, -1.0);
  cr_assert(f.st == BFCR_OK);
  cr_assert(fabs(f.w[1] - f.w[3]) <= 1e-10 * fabs(f.w[1]), "copies %.17g vs %.17g", f.w[1], f.w[3]);
  free(f.w);
  /* Least squares (lambda = 0): minimum norm splits the single column's weight evenly. */
  f = ridge(sum, 4, NULL, NULL, 0.0);
  fit fr = ridge(sumr, 3, NULL, NULL, 0.0);
  cr_assert(f.st == BFCR_OK && fr.st == BFCR_OK);
  cr_assert(fabs(f.w[1] - f.w[3]) <= 1e-9 * fabs(f.w[1]));
  cr_assert(fabs(f.w[1] + f.w[3] - fr.w[1]) <= 1e-9 * fabs(fr.w[1]), "sum %.17g vs %.17g",
            f.w[1] + f.w[3], fr.w[1]);
  cr_assert(fabs(f.w[0] - fr.w[0]) <= 1e-9 * fabs(fr.w[0]));
  cr_assert(fabs(f.b0 - fr.b0) <= 1e-9 * (fabs(fr.b0) + 1));
  free(f.w);
  free(fr.w);
  free(sum);
  free(sumr);
  gsl_rng_free(r);
}

Test(ridge, tiny_clusters_fall_back_to_w0) {
  gsl_rng *r = new_rng(SEED + 5);
  const int d = 3;
  double X[2 * 3], y[2], w0[3] = {0.5, -1.0, 2.0};
  gen(r, 2, d, 0.5, X, y);
  const bfcr_ridge_grid g = {1e-4, 1e3, 15};
  /* n = 0: the model is w0 (with the zero means of an empty summary). */
  double *s0 = summary(X, y, 0, d);
  fit f = ridge(s0, d, w0, &g, -1.0);
  cr_assert(f.st == BFCR_OK && isfinite(f.b0) && isinf(f.res.gcv));
  for (int j = 0; j < d; j++) cr_assert(f.w[j] == w0[j]);
  free(f.w);
  /* n = 1: w = w0 exactly, largest lambda, and the model passes through the row. */
  double *s1 = summary(X, y, 1, d);
  f = ridge(s1, d, w0, &g, -1.0);
  cr_assert(f.st == BFCR_OK && isinf(f.res.gcv) && f.res.df == 1.0);
  cr_assert(f.res.lambda == 1e3, "n = 1: lambda %g, expected the largest (1e3: zero trace)",
            f.res.lambda);
  double pred = f.b0;
  for (int j = 0; j < d; j++) {
    cr_assert(f.w[j] == w0[j]);
    pred += f.w[j] * X[j];
  }
  cr_assert(fabs(pred - y[0]) < 1e-12 * (fabs(y[0]) + 1));
  free(f.w);
  /* n = 2: GCV is flat in lambda (n RSS / (n - df)^2 = 2 beta^2 / s exactly); the tie
   * rule takes the largest lambda, so w stays close to w0. */
  double *s2 = summary(X, y, 2, d);
  f = ridge(s2, d, w0, &g, -1.0);
  fit f0 = ridge(s2, d, w0, NULL, 0.0);
  cr_assert(f.st == BFCR_OK && f0.st == BFCR_OK && isfinite(f.res.gcv));
  double tr = s2[1 + (d + 1) + bfcr_pk(0, 0)] + s2[1 + (d + 1) + bfcr_pk(1, 1)] +
              s2[1 + (d + 1) + bfcr_pk(2, 2)];
  cr_assert(fabs(f.res.lambda - 1e3 * tr / d) <= 1e-12 * f.res.lambda, "n = 2: lambda %g",
            f.res.lambda);
  double dv = 0, d0 = 0;
  for (int j = 0; j < d; j++) {
    cr_assert(isfinite(f.w[j]));
    dv += (f.w[j] - w0[j]) * (f.w[j] - w0[j]);
    d0 += (f0.w[j] - w0[j]) * (f0.w[j] - w0[j]);
  }
  /* shrink factor s / (s + lambda) = 1 / (1 + 1e3 / d) */
  cr_assert(sqrt(dv) <= 1.01 * sqrt(d0) / (1 + 1e3 / d), "|w - w0| %.3g vs lambda=0 %.3g", sqrt(dv),
            sqrt(d0));
  free(f.w);
  free(f0.w);
  free(s0);
  free(s1);
  free(s2);
  gsl_rng_free(r);
}

Test(ridge, merged_summary_gives_same_model_and_is_deterministic) {
  gsl_rng *r = new_rng(SEED + 6);
  const int d = 6;
  const int64_t n = 120;
  double *X = malloc((size_t)(n * d) * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  gen(r, n, d, 1.0, X, y);
  double *all = summary(X, y, n, d), *a = summary(X, y, 47, d);
  double *b = malloc((size_t)bfcr_sum_len(d) * sizeof(double));
  bfcr_sum_rows(X + 47 * d, d, y + 47, n - 47, d, b);
  bfcr_sum_merge(a, b, d, a);
  const bfcr_ridge_grid g = {1e-4, 1e2, 30};
  fit f1 = ridge(all, d, NULL, &g, -1.0), f2 = ridge(a, d, NULL, &g, -1.0);
  fit f3 = ridge(all, d, NULL, &g, -1.0);
  cr_assert(f1.st == BFCR_OK && f2.st == BFCR_OK && f3.st == BFCR_OK);
  cr_assert(f1.res.lambda == f2.res.lambda);
  cr_assert(relerr(f2.w, f1.w, d) < 1e-12);
  cr_assert(memcmp(f1.w, f3.w, (size_t)d * sizeof(double)) == 0 && f1.b0 == f3.b0 &&
            f1.res.gcv == f3.res.gcv);
  free(f1.w);
  free(f2.w);
  free(f3.w);
  free(all);
  free(a);
  free(b);
  free(X);
  free(y);
  gsl_rng_free(r);
}

Test(ridge, lambda_zero_equals_ols) {
  gsl_rng *r = new_rng(SEED + 7);
  const int d = 5;
  const int64_t n = 80;
  double X[80 * 5], y[80], w[5], b0;
  int rank;
  gen(r, n, d, 0.5, X, y);
  double *s = summary(X, y, n, d);
  fit f = ridge(s, d, NULL, NULL, 0.0);
  cr_assert(f.st == BFCR_OK);
  cr_assert(bfcr_ols_fit(X, d, y, n, d, -1.0, w, &b0, &rank) == BFCR_OK && rank == d);
  cr_assert(relerr(f.w, w, d) < 1e-10, "rel err %.3g", relerr(f.w, w, d));
  cr_assert(fabs(f.b0 - b0) < 1e-10 * (fabs(b0) + 1));
  free(f.w);
  free(s);
  gsl_rng_free(r);
}

Test(ridge, errors) {
  const int d = 2;
  double X[3 * 2] = {1, 2, 3, 5, 4, 1}, y[3] = {1, 0, 2}, w[2], b0, w0[2] = {0, 0};
  double *s = summary(X, y, 3, d);
  double *work = malloc((size_t)bfcr_ridge_work_len(d) * sizeof(double));
  bfcr_ridge_result res;
  bfcr_ridge_grid g = {1e-3, 1e2, 10};
  cr_assert(bfcr_ridge_fit(s, d, NULL, &g, -1.0, work, w, &b0, &res) == BFCR_OK);
  cr_assert(bfcr_ridge_fit(s, -1, NULL, &g, -1.0, work, w, &b0, &res) == BFCR_ERR_ARG);
  cr_assert(bfcr_ridge_fit(s, d, NULL, NULL, -1.0, work, w, &b0, &res) == BFCR_ERR_ARG);
  cr_assert(bfcr_ridge_fit(s, d, NULL, &g, INFINITY, work, w, &b0, &res) == BFCR_ERR_ARG);
  bfcr_ridge_grid bad[] = {{0.0, 1.0, 5}, {1.0, 0.5, 5}, {1e-3, 1.0, 0}, {1e-3, INFINITY, 5}};
  for (int k = 0; k < 4; k++)
    cr_assert(bfcr_ridge_fit(s, d, NULL, &bad[k], -1.0, work, w, &b0, &res) == BFCR_ERR_ARG);
  const int64_t len = bfcr_sum_len(d);
  for (int64_t k = 0; k < len; k++) {
    double keep = s[k];
    s[k] = k % 2 ? NAN : -INFINITY;
    cr_assert(bfcr_ridge_fit(s, d, NULL, &g, -1.0, work, w, &b0, &res) == BFCR_ERR_NUMERIC,
              "non-finite summary entry %ld accepted", (long)k);
    s[k] = keep;
  }
  w0[1] = NAN;
  cr_assert(bfcr_ridge_fit(s, d, w0, &g, -1.0, work, w, &b0, &res) == BFCR_ERR_NUMERIC);
  s[0] = -1.0;
  cr_assert(bfcr_ridge_fit(s, d, NULL, &g, -1.0, work, w, &b0, &res) == BFCR_ERR_NUMERIC);
  /* d = 0: intercept-only model. */
  double s0[3], yy[3] = {1.0, 2.0, 4.0};
  bfcr_sum_rows(NULL, 0, yy, 3, 0, s0);
  cr_assert(bfcr_ridge_fit(s0, 0, NULL, &g, -1.0, NULL, NULL, &b0, &res) == BFCR_OK);
  cr_assert(fabs(b0 - 7.0 / 3.0) < 1e-15 && res.df == 1.0);
  free(s);
  free(work);
}

/* Exactly collinear columns (x3 = x0 - 2 x1, x4 = x1): at lambda = 0 the fit must be the
 * minimum-norm least squares solution (what dgelsd returns), not a blow-up through an
 * eigenvalue that is rounding noise. */
Test(ridge, collinear_columns_min_norm_at_lambda_zero) {
  gsl_rng *r = new_rng(SEED + 8);
  const int d = 5;
  const int64_t n = 30;
  double X[30 * 5], y[30], w[5], b0;
  for (int rep = 0; rep < 40; rep++) {
    gen(r, n, d, 0.5, X, y);
    for (int64_t i = 0; i < n; i++) {
      X[i * d + 3] = X[i * d + 0] - 2.0 * X[i * d + 1];
      X[i * d + 4] = X[i * d + 1];
    }
    double *s = summary(X, y, n, d);
    fit f = ridge(s, d, NULL, NULL, 0.0);
    int rank;
    cr_assert(f.st == BFCR_OK);
    cr_assert(bfcr_ols_fit(X, d, y, n, d, 1e-10, w, &b0, &rank) == BFCR_OK && rank == 3);
    cr_assert(relerr(f.w, w, d) < 1e-8, "rep %d: rel err vs min-norm OLS %.3g", rep,
              relerr(f.w, w, d));
    free(f.w);
    free(s);
  }
  gsl_rng_free(r);
}
