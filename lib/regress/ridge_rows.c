/* Ridge regression from a cluster's rows in the dual (kernel) form, for clusters with
 * fewer rows than features.
 *
 * What: the estimator of ridge.c (minimise RSS + lambda |w - w0|^2, intercept
 * unpenalised, lambda by GCV on the same grid with the same ties) computed from the
 * n centred rows Xc (n x d) instead of the d x d scatter. The nonzero eigenvalues of
 * Sxx = Xc^T Xc are those of the Gram matrix G = Xc Xc^T = U diag(s) U^T, with
 * v_j = Xc^T u_j / sqrt(s_j). With y' = yc - Xc w0 and a_j = u_j . y':
 *   beta_j = v_j . Xc^T y' = sqrt(s_j) a_j,   beta_j^2 / s_j = a_j^2,
 *   w - w0 = V diag(1/(s + lambda)) beta = Xc^T alpha, alpha = U diag(a / (s + lambda)),
 * so RSS, df and GCV for every lambda come from one eigendecomposition of the n x n G
 * (bfcr_spectrum_eval, shared with the primal path), and the coefficients from one
 * product Xc^T alpha. The rank cut is the primal one: eigenvalues at or below
 * max(d, 1) eps s_max are dropped, and at most min(n - 1, d) are kept (the rank bound
 * of a centred n x d block).
 *
 * Centring: the corrected two-pass mean of summary.c (mean in row order, then
 * mean += sum(z - mean) / n), so data far from the origin keep their digits.
 *
 * Cost: G by cblas_dsyrk over column chunks of BFCR_ROWS_CHUNK centred columns,
 * n (n + 1) d flops; dsyevd on n x n (estimated 14/3 n^3, see bfcr_ridge_rows_flops);
 * O(n d) for the centring and the coefficients. Memory: n^2 for G plus its dsyevd
 * workspace (2 n^2), one n x BFCR_ROWS_CHUNK chunk: nothing of size d^2.
 *
 * Determinism: every sum runs in a fixed order (row order; chunks in column order, each
 * a fixed single-threaded BLAS call), so the result depends only on the rows and their
 * order, never on threads or ranks. */
#include <float.h>
#include <math.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "regress/ridge_impl.h"

#define BFCR_ROWS_CHUNK 256

static int64_t syevd_lwork(int64_t n) {
  return n <= 1 ? 1 : 1 + 6 * n + 2 * n * n;
}
static int64_t syevd_liwork(int64_t n) {
  return n <= 1 ? 1 : 3 + 5 * n;
}

int64_t bfcr_ridge_rows_work_len(int64_t n, int d) {
  if (n < 1 || d < 0) return 0;
  const int64_t kc = d < BFCR_ROWS_CHUNK ? (d > 0 ? d : 1) : BFCR_ROWS_CHUNK;
  const int64_t liw =
      (syevd_liwork(n) * (int64_t)sizeof(lapack_int) + (int64_t)sizeof(double) - 1) /
      (int64_t)sizeof(double);
  /* mean (d + 1), chunk, G, s, a, y', alpha, dsyevd work + iwork */
  return ((int64_t)d + 1) + n * kc + n * n + 4 * n + syevd_lwork(n) + liw;
}

double bfcr_ridge_rows_flops(int64_t n, int d, int with_w0) {
  const double nn = (double)n, dd = (double)d;
  /* centring twice (n d each), G by SYRK n(n+1)d, dsyevd with vectors (estimate:
   * 4/3 n^3 tridiagonal reduction + 4/3 n^3 divide-and-conquer merges without
   * deflation + 2 n^3 back-transformation), a = U^T y' and alpha = U c (2 n^2 each),
   * w = Xc^T alpha (2 n d), y' -= Xc w0 (2 n d). */
  return 2.0 * nn * dd + nn * (nn + 1.0) * dd + (14.0 / 3.0) * nn * nn * nn + 4.0 * nn * nn +
         2.0 * nn * dd + (with_w0 ? 2.0 * nn * dd : 0.0);
}

typedef struct rows_layout {
  double *mean, *C, *G, *s, *a, *yp, *alpha, *lwork;
  lapack_int *iwork;
} rows_layout;

static rows_layout layout(double *work, int64_t n, int d) {
  const int64_t kc = d < BFCR_ROWS_CHUNK ? (d > 0 ? d : 1) : BFCR_ROWS_CHUNK;
  rows_layout L;
  L.mean = work;
  L.C = L.mean + d + 1;
  L.G = L.C + n * kc;
  L.s = L.G + n * n;
  L.a = L.s + n;
  L.yp = L.a + n;
  L.alpha = L.yp + n;
  L.lwork = L.alpha + n;
  L.iwork = (lapack_int *)(L.lwork + syevd_lwork(n));
  return L;
}

/* Centred columns [c0, c0 + kc) of the rows into C (column-major n x kc). */
static void centre_chunk(const double *const *xr, int64_t n, int64_t c0, int64_t kc,
                         const double *mean, double *C) {
  for (int64_t j = 0; j < kc; j++)
    for (int64_t i = 0; i < n; i++) C[i + j * n] = xr[i][c0 + j] - mean[c0 + j];
}

/* Mean, Gram matrix, eigendecomposition and rank cut: the spectrum for every lambda. */
static bfcr_status prepare(const double *const *xr, const double *y, int64_t n, int d,
                           const double *w0, const rows_layout *L, bfcr_spectrum *sp,
                           double *trace_out) {
  const int64_t dd = d;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return BFCR_ERR_NUMERIC;
    for (int64_t j = 0; j < dd; j++)
      if (!isfinite(xr[i][j])) return BFCR_ERR_NUMERIC;
  }
  if (w0)
    for (int64_t j = 0; j < dd; j++)
      if (!isfinite(w0[j])) return BFCR_ERR_NUMERIC;
  double *mean = L->mean;
  /* Corrected two-pass mean (as summary.c). */
  memset(mean, 0, (size_t)(dd + 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < dd; j++) mean[j] += xr[i][j];
    mean[dd] += y[i];
  }
  for (int64_t j = 0; j <= dd; j++) mean[j] /= (double)n;
  for (int64_t j = 0; j <= dd; j++) {
    double r = 0.0;
    for (int64_t i = 0; i < n; i++) r += (j < dd ? xr[i][j] : y[i]) - mean[j];
    mean[j] += r / (double)n;
  }

  for (int64_t i = 0; i < n; i++) L->yp[i] = y[i] - mean[dd];
  memset(L->G, 0, (size_t)(n * n) * sizeof(double));
  for (int64_t c0 = 0; c0 < dd; c0 += BFCR_ROWS_CHUNK) {
    const int64_t kc = dd - c0 < BFCR_ROWS_CHUNK ? dd - c0 : BFCR_ROWS_CHUNK;
    centre_chunk(xr, n, c0, kc, mean, L->C);
    cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)n, (int)kc, 1.0, L->C, (int)n, 1.0,
                L->G, (int)n);
    if (w0)
      cblas_dgemv(CblasColMajor, CblasNoTrans, (int)n, (int)kc, -1.0, L->C, (int)n, w0 + c0, 1, 1.0,
                  L->yp, 1);
  }
  double trace = 0.0;
  for (int64_t i = 0; i < n; i++) trace += L->G[i + i * n];
  if (!isfinite(trace)) return BFCR_ERR_NUMERIC;
  if (n > 1) {
    lapack_int info = LAPACKE_dsyevd_work(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, L->G,
                                          (lapack_int)n, L->s, L->lwork, (lapack_int)syevd_lwork(n),
                                          L->iwork, (lapack_int)syevd_liwork(n));
    if (info != 0) return BFCR_ERR_NUMERIC;
  } else {
    L->s[0] = L->G[0];
    L->G[0] = 1.0;
  }
  /* Ascending eigenvalues: keep the largest, above the primal path's rounding level,
   * at most min(n - 1, d) of them. beta_j = sqrt(s_j) a_j feeds the shared evaluation;
   * a_j is kept for the coefficients. */
  const double smax = L->s[n - 1];
  const double tol = bfcr_spectrum_tol(d, smax);
  const int64_t nkeep = n - 1 < dd ? n - 1 : dd;
  int64_t kept = 0;
  /* rss0 = |y'|^2 minus the fitted part, which in the dual is exactly the sum of a_j^2
   * over the dropped directions (U is a complete orthonormal basis): a sum of small
   * positive terms, free of the cancellation of s_yy - sum beta_j^2 / s_j. */
  double rss0 = 0.0, *beta = L->alpha; /* alpha's slot holds beta until the coefficients */
  for (int64_t j = n - 1; j >= 0; j--) {
    const double *uj = L->G + j * n;
    double aj = 0.0;
    for (int64_t i = 0; i < n; i++) aj += uj[i] * L->yp[i];
    if (L->s[j] > tol && kept < nkeep) {
      kept++;
      L->a[j] = aj;
      beta[j] = sqrt(L->s[j]) * aj;
    } else {
      rss0 += aj * aj;
      L->s[j] = 0.0;
      L->a[j] = 0.0;
      beta[j] = 0.0;
    }
  }
  if (!isfinite(rss0)) return BFCR_ERR_NUMERIC;
  *sp = (bfcr_spectrum){(int)n, (double)n, L->s, beta, rss0, (double)n - 1.0 - (double)kept};
  *trace_out = trace;
  return BFCR_OK;
}

static int bad_args(const double *const *xr, const double *y, int64_t n, int d,
                    const double *work) {
  return !xr || !y || n < 1 || n > INT32_MAX || d < 0 || !work;
}

bfcr_status bfcr_ridge_rows_fit(const double *const *xr, const double *y, int64_t n, int d,
                                const double *w0, const bfcr_ridge_grid *grid, double fixed_lambda,
                                double *work, double *w, double *intercept, double *mean_out,
                                bfcr_ridge_result *res) {
  if (bad_args(xr, y, n, d, work) || !intercept || !res || (d > 0 && !w)) return BFCR_ERR_ARG;
  const int search = !(fixed_lambda >= 0.0);
  if (!search && !isfinite(fixed_lambda)) return BFCR_ERR_ARG;
  if (search && (!grid || grid->steps < 1 || !(grid->lambda_min > 0.0) ||
                 !(grid->lambda_max >= grid->lambda_min) || !isfinite(grid->lambda_max)))
    return BFCR_ERR_ARG;
  const rows_layout L = layout(work, n, d);
  bfcr_spectrum sp;
  double trace;
  bfcr_status st = prepare(xr, y, n, d, w0, &L, &sp, &trace);
  if (st != BFCR_OK) return st;
  bfcr_ridge_result r;
  st = bfcr_spectrum_select(&sp, search ? grid : NULL, fixed_lambda, trace, d, &r);
  if (st != BFCR_OK) return st;

  /* alpha = U diag(a / (s + lambda)) over the kept directions (ascending j, as the
   * primal path adds its directions). */
  double *alpha = L.alpha;
  memset(alpha, 0, (size_t)n * sizeof(double));
  for (int64_t j = 0; j < n; j++) {
    if (L.s[j] <= 0.0) continue;
    const double c = L.a[j] / (L.s[j] + r.lambda);
    const double *uj = L.G + j * n;
    for (int64_t i = 0; i < n; i++) alpha[i] += uj[i] * c;
  }
  /* w = w0 + Xc^T alpha, chunk by chunk. */
  const int64_t dd = d;
  for (int64_t i = 0; i < dd; i++) w[i] = w0 ? w0[i] : 0.0;
  for (int64_t c0 = 0; c0 < dd; c0 += BFCR_ROWS_CHUNK) {
    const int64_t kc = dd - c0 < BFCR_ROWS_CHUNK ? dd - c0 : BFCR_ROWS_CHUNK;
    centre_chunk(xr, n, c0, kc, L.mean, L.C);
    cblas_dgemv(CblasColMajor, CblasTrans, (int)n, (int)kc, 1.0, L.C, (int)n, alpha, 1, 1.0, w + c0,
                1);
  }
  double b0 = L.mean[dd];
  for (int64_t i = 0; i < dd; i++) b0 -= L.mean[i] * w[i];
  for (int64_t i = 0; i < dd; i++)
    if (!isfinite(w[i])) return BFCR_ERR_NUMERIC;
  if (!isfinite(b0) || isnan(r.rss) || isnan(r.gcv) || !isfinite(r.df)) return BFCR_ERR_NUMERIC;
  if (mean_out) memcpy(mean_out, L.mean, (size_t)(dd + 1) * sizeof(double));
  *intercept = b0;
  *res = r;
  return BFCR_OK;
}

bfcr_status bfcr_ridge_rows_path(const double *const *xr, const double *y, int64_t n, int d,
                                 const double *w0, int nlambda, const double *lambdas, double *work,
                                 double *rss, double *df) {
  if (bad_args(xr, y, n, d, work) || nlambda < 0 || (nlambda > 0 && (!lambdas || !rss || !df)))
    return BFCR_ERR_ARG;
  const rows_layout L = layout(work, n, d);
  bfcr_spectrum sp;
  double trace, gcv;
  bfcr_status st = prepare(xr, y, n, d, w0, &L, &sp, &trace);
  if (st != BFCR_OK) return st;
  for (int k = 0; k < nlambda; k++) {
    bfcr_spectrum_eval(&sp, lambdas[k], &rss[k], &df[k], &gcv);
    if (isnan(rss[k]) || isnan(df[k])) return BFCR_ERR_NUMERIC;
  }
  return BFCR_OK;
}

double bfcr_ridge_flops(int d) {
  const double dd = (double)d;
  /* dsyevd with vectors on d x d (estimate as above) plus beta = V^T s_xy and the
   * coefficients (2 d^2 each), and Sxx w0 (2 d^2). */
  return (14.0 / 3.0) * dd * dd * dd + 6.0 * dd * dd;
}
