/* Ridge regression from a mergeable summary, penalty chosen by generalized
 * cross-validation (GCV), optionally shrunk toward a prior model w0.
 *
 * What: minimise RSS(w) + lambda |w - w0|^2 over the rows a summary describes, with
 * the intercept unpenalised (it is mean_y - mean_x . w). Only the summary is needed:
 * Sxx = V diag(s) V^T (LAPACK dsyevd, once, O(d^3)), beta = V^T s_xy; then for every
 * lambda, in O(d):
 *   w - w0 = V diag(1 / (s + lambda)) beta
 *   RSS    = RSS0 + sum_j beta_j^2 lambda^2 / (s_j (s_j + lambda)^2),
 *            RSS0 = s_yy - sum_j beta_j^2 / s_j                      (sums over s_j > 0)
 *   df     = 1 + sum_j s_j / (s_j + lambda)
 *   GCV    = n RSS / (n - df)^2, +inf when n <= df.
 * The RSS form is algebraically s_yy - sum beta_j^2 (s_j + 2 lambda)/(s_j + lambda)^2
 * but keeps the lambda-dependent part a sum of positive terms, so GCV differences
 * between grid points are accurate even where RSS << s_yy; likewise n - df is formed as
 * (n - 1 - r) + sum lambda / (s_j + lambda). Shrinkage: with w = w0 + v the problem in v
 * has s_xy' = s_xy - Sxx w0 and s_yy' = s_yy - 2 w0.s_xy + w0.Sxx w0.
 *
 * Rank: a summary of n rows has rank(Sxx) <= n - 1, and eigenvalues at or below
 * d eps s_max are rounding noise; both kinds are set to exactly 0 together with their
 * beta_j (in exact arithmetic s_xy lies in the range of Sxx). Those directions keep
 * w = w0, contribute no df and make fixed_lambda = 0 a minimum-norm least squares fit.
 *
 * Grid and ties: `steps` log-spaced lambdas from lambda_min to lambda_max times
 * trace(Sxx)/d (1 when the trace is 0). The chosen lambda is the largest whose GCV is
 * within a relative BFCR_GCV_TIE_RTOL of the minimum (ties go to the more conservative
 * model). This resolves flat GCV curves: with n = 2 the GCV is constant in lambda in
 * exact arithmetic, and the fit falls back toward w0. If every GCV is +inf (n <= df:
 * n = 0 or 1) the largest lambda is used.
 *
 * Memory: nothing is allocated (dsyevd runs through LAPACKE's _work interface on the
 * caller's workspace). Deterministic: fixed loop orders, no threads. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <lapacke.h>

#include "regress/ridge_impl.h"

#define BFCR_GCV_TIE_RTOL 1e-10

static int64_t syevd_lwork(int d) {
  return d <= 1 ? 1 : 1 + 6 * (int64_t)d + 2 * (int64_t)d * d;
}
static int64_t syevd_liwork(int d) {
  return d <= 1 ? 1 : 3 + 5 * (int64_t)d;
}
static int64_t liwork_doubles(int d) {
  return (syevd_liwork(d) * (int64_t)sizeof(lapack_int) + (int64_t)sizeof(double) - 1) /
         (int64_t)sizeof(double);
}

int64_t bfcr_ridge_work_len(int d) {
  if (d < 0) return 0;
  const int64_t dd = d;
  /* V (d x d), s, beta, s_xy' (d each), dsyevd's work and its integer work. */
  return dd * dd + 3 * dd + syevd_lwork(d) + liwork_doubles(d);
}

void bfcr_spectrum_eval(const bfcr_spectrum *sp, double lambda, double *rss, double *df,
                        double *gcv) {
  double r = sp->rss0, dfs = 0.0, resid_df = sp->nfree;
  for (int j = 0; j < sp->d; j++) {
    const double sj = sp->s[j];
    if (sj <= 0.0) continue;
    const double den = sj + lambda;
    const double q = sp->beta[j] / den;
    r += q * q * (lambda * lambda / sj);
    dfs += sj / den;
    resid_df += lambda / den;
  }
  *rss = r;
  *df = 1.0 + dfs;
  *gcv = resid_df > 0.0 ? sp->n * r / (resid_df * resid_df) : INFINITY;
}

double bfcr_spectrum_tol(int d, double smax) {
  return (d > 1 ? (double)d : 1.0) * DBL_EPSILON * smax;
}

static double grid_lambda(const bfcr_ridge_grid *g, double scale, int k) {
  if (k == 0) return scale * g->lambda_min;
  if (k == g->steps - 1) return scale * g->lambda_max;
  const double t = (double)k / (double)(g->steps - 1);
  const double a = log(g->lambda_min), b = log(g->lambda_max);
  return scale * exp(a + t * (b - a));
}

bfcr_status bfcr_spectrum_select(const bfcr_spectrum *sp, const bfcr_ridge_grid *grid,
                                 double fixed_lambda, double trace, int d, bfcr_ridge_result *res) {
  double lambda, rss, df, gcv;
  if (!grid) {
    lambda = fixed_lambda;
    bfcr_spectrum_eval(sp, lambda, &rss, &df, &gcv);
  } else {
    double scale = d > 0 ? trace / (double)d : 0.0;
    if (!isfinite(scale)) return BFCR_ERR_NUMERIC;
    if (!(scale > 0.0)) scale = 1.0;
    double gmin = INFINITY;
    for (int k = 0; k < grid->steps; k++) {
      bfcr_spectrum_eval(sp, grid_lambda(grid, scale, k), &rss, &df, &gcv);
      if (isnan(gcv)) return BFCR_ERR_NUMERIC;
      if (gcv < gmin) gmin = gcv;
    }
    /* Largest lambda within the tie tolerance of the minimum; every GCV is +inf -> the
     * last (largest) lambda, since inf <= inf. */
    const double cut = gmin * (1.0 + BFCR_GCV_TIE_RTOL);
    int best = grid->steps - 1;
    for (int k = grid->steps - 1; k >= 0; k--) {
      bfcr_spectrum_eval(sp, grid_lambda(grid, scale, k), &rss, &df, &gcv);
      if (gcv <= cut) {
        best = k;
        break;
      }
    }
    lambda = grid_lambda(grid, scale, best);
    bfcr_spectrum_eval(sp, lambda, &rss, &df, &gcv);
  }
  res->lambda = lambda;
  res->rss = rss;
  res->df = df;
  res->gcv = gcv;
  return BFCR_OK;
}

/* Shifted summary, eigendecomposition and rank cut shared by every lambda: fills the
 * spectrum (pointing into work) and the trace of Sxx. */
static bfcr_status prepare(const double *sum, int d, const double *w0, double *work,
                           bfcr_spectrum *out, double *trace_out, const double **V_out) {
  const int64_t p = (int64_t)d + 1, len = bfcr_sum_len(d);
  for (int64_t k = 0; k < len; k++)
    if (!isfinite(sum[k])) return BFCR_ERR_NUMERIC;
  if (w0)
    for (int j = 0; j < d; j++)
      if (!isfinite(w0[j])) return BFCR_ERR_NUMERIC;
  const double n = sum[0];
  if (n < 0.0) return BFCR_ERR_NUMERIC;
  const double *mean = sum + 1, *M = sum + 1 + p;

  const int64_t dd = d;
  /* d = 0: callers pass a dummy work array; nothing below touches it. */
  double *V = work, *s = V + dd * dd, *beta = s + dd, *sxy = beta + dd;
  double *lwork = sxy + dd;
  lapack_int *iwork = (lapack_int *)(lwork + syevd_lwork(d));

  /* Shifted problem v = w - w0: s_xy' = s_xy - Sxx w0, s_yy' = s_yy - 2 w0.s_xy + w0.Sxx w0. */
  double syy = M[bfcr_pk(d, d)];
  for (int64_t i = 0; i < dd; i++) sxy[i] = M[bfcr_pk(i, d)];
  if (w0) {
    double cross = 0.0, quad = 0.0;
    for (int64_t i = 0; i < dd; i++) {
      double t = 0.0; /* (Sxx w0)_i from the packed upper triangle */
      for (int64_t j = 0; j < dd; j++) t += M[i <= j ? bfcr_pk(i, j) : bfcr_pk(j, i)] * w0[j];
      cross += w0[i] * sxy[i];
      quad += w0[i] * t;
      sxy[i] -= t;
    }
    syy = syy - 2.0 * cross + quad;
  }

  /* Sxx = V diag(s) V^T; V starts as the upper triangle of Sxx, column-major. */
  double trace = 0.0;
  for (int64_t j = 0; j < dd; j++) {
    for (int64_t i = 0; i <= j; i++) V[i + j * dd] = M[bfcr_pk(i, j)];
    trace += M[bfcr_pk(j, j)];
  }
  if (d > 0) {
    lapack_int info =
        LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)d, V, (lapack_int)d, s, lwork,
                            (lapack_int)syevd_lwork(d), iwork, (lapack_int)syevd_liwork(d));
    if (info != 0) return BFCR_ERR_NUMERIC;
  }

  /* Keep at most n - 1 eigenvalues (the scatter's rank bound) and only those above the
   * rounding level; dsyevd returns them in ascending order. */
  const double smax = d > 0 ? s[d - 1] : 0.0;
  const double tol = bfcr_spectrum_tol(d, smax);
  const double nkeep_max = n >= 1.0 ? floor(n) - 1.0 : 0.0;
  int kept = 0;
  double rss0 = syy;
  for (int j = d - 1; j >= 0; j--) {
    const double *vj = V + (int64_t)j * dd;
    double bj = 0.0;
    for (int64_t i = 0; i < dd; i++) bj += vj[i] * sxy[i];
    if (s[j] > tol && (double)kept < nkeep_max) {
      kept++;
      beta[j] = bj;
      rss0 -= bj * (bj / s[j]);
    } else {
      s[j] = 0.0;
      beta[j] = 0.0;
    }
  }
  if (!(rss0 >= 0.0)) rss0 = 0.0; /* rounding; NaN is caught by the final check */
  *out = (bfcr_spectrum){d, n, s, beta, rss0, n - 1.0 - (double)kept};
  *trace_out = trace;
  *V_out = V;
  (void)mean;
  return BFCR_OK;
}

bfcr_status bfcr_ridge_fit(const double *sum, int d, const double *w0, const bfcr_ridge_grid *grid,
                           double fixed_lambda, double *work, double *w, double *intercept,
                           bfcr_ridge_result *res) {
  if (!sum || d < 0 || !intercept || !res || (d > 0 && (!work || !w))) return BFCR_ERR_ARG;
  const int search = !(fixed_lambda >= 0.0);
  if (!search && !isfinite(fixed_lambda)) return BFCR_ERR_ARG;
  if (search && (!grid || grid->steps < 1 || !(grid->lambda_min > 0.0) ||
                 !(grid->lambda_max >= grid->lambda_min) || !isfinite(grid->lambda_max)))
    return BFCR_ERR_ARG;

  bfcr_spectrum sp;
  double trace;
  const double *V;
  double none[1];
  if (d == 0) work = none;
  bfcr_status pst = prepare(sum, d, w0, work, &sp, &trace, &V);
  if (pst != BFCR_OK) return pst;
  const int64_t p = (int64_t)d + 1, dd = d;
  const double n = sum[0], *mean = sum + 1;
  const double *s = sp.s, *beta = sp.beta;
  (void)p;
  (void)n;

  bfcr_ridge_result r;
  bfcr_status sst = bfcr_spectrum_select(&sp, search ? grid : NULL, fixed_lambda, trace, d, &r);
  if (sst != BFCR_OK) return sst;
  const double lambda = r.lambda, rss = r.rss, df = r.df, gcv = r.gcv;

  /* w = w0 + V diag(1/(s + lambda)) beta over the kept directions. */
  for (int64_t i = 0; i < dd; i++) w[i] = w0 ? w0[i] : 0.0;
  for (int j = 0; j < d; j++) {
    if (s[j] <= 0.0) continue;
    const double c = beta[j] / (s[j] + lambda);
    const double *vj = V + (int64_t)j * dd;
    for (int64_t i = 0; i < dd; i++) w[i] += vj[i] * c;
  }
  double b0 = mean[d];
  for (int64_t i = 0; i < dd; i++) b0 -= mean[i] * w[i];

  for (int64_t i = 0; i < dd; i++)
    if (!isfinite(w[i])) return BFCR_ERR_NUMERIC;
  if (!isfinite(b0) || isnan(rss) || isnan(gcv) || !isfinite(df)) return BFCR_ERR_NUMERIC;
  *intercept = b0;
  res->lambda = lambda;
  res->gcv = gcv;
  res->rss = rss;
  res->df = df;
  return BFCR_OK;
}

bfcr_status bfcr_ridge_path(const double *sum, int d, const double *w0, int nlambda,
                            const double *lambdas, double *work, double *rss, double *df) {
  if (!sum || d < 0 || nlambda < 0 || (nlambda > 0 && (!lambdas || !rss || !df)) ||
      (d > 0 && !work))
    return BFCR_ERR_ARG;
  bfcr_spectrum sp;
  double trace, none[1], gcv;
  const double *V;
  if (d == 0) work = none;
  bfcr_status st = prepare(sum, d, w0, work, &sp, &trace, &V);
  if (st != BFCR_OK) return st;
  for (int k = 0; k < nlambda; k++) {
    bfcr_spectrum_eval(&sp, lambdas[k], &rss[k], &df[k], &gcv);
    if (isnan(rss[k]) || isnan(df[k])) return BFCR_ERR_NUMERIC;
  }
  return BFCR_OK;
}
