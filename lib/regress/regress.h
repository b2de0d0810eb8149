/* Per-cluster regression from mergeable summaries (ridge, GCV, shrinkage toward a
 * parent model) and from rows (OLS by SVD with the numerical rank recorded).
 *
 * Summary layout for p = d + 1 variables z = (x_1..x_d, y), a flat double array:
 *   s[0]                  n (count, as a double)
 *   s[1 .. p]             mean of z
 *   s[1+p .. ]            centred scatter M = sum (z - mean)(z - mean)^T, packed upper
 *                         triangle by columns: M(i,j), i <= j, at index i + j*(j+1)/2
 * Size: bfcr_sum_len(d) = 1 + p + p*(p+1)/2. Merge is the stable pairwise update
 *   n = nA + nB; delta = muB - muA; mu = muA + (nB/n) delta;
 *   M = MA + MB + (nA nB / n) delta delta^T. */
#ifndef BFCR_REGRESS_H
#define BFCR_REGRESS_H

#include <stdint.h>
#include "bfcr/status.h"

static inline int64_t bfcr_sum_len(int d) {
  int64_t p = d + 1;
  return 1 + p + p * (p + 1) / 2;
}
static inline int64_t bfcr_pk(int64_t i, int64_t j) { /* packed index, i <= j */
  return i + j * (j + 1) / 2;
}

/* out = merge(a, b); out may alias a or b. Empty summaries (n = 0) are identities. */
void bfcr_sum_merge(const double *a, const double *b, int d, double *out);
/* Residual sum of squares of the model y = b + w . x on the rows of summary s, from the
 * summary alone (clamped at 0 against rounding). */
double bfcr_sum_rss(const double *s, int d, const double *w, double b);
/* Summary of rows [0, n) of X (row-major, stride ldx) and y, computed sequentially in
 * row order (two passes: mean, then scatter about it). Deterministic for given input. */
void bfcr_sum_rows(const double *X, int64_t ldx, const double *y, int64_t n, int d, double *out);
/* The same, allocation-free: work holds bfcr_sum_rows_work_len(d) doubles. Bit-identical
 * to bfcr_sum_rows. bfcr_sum_rows itself allocates for d + 1 >= 16 (SYRK path); if that
 * allocation fails it returns a summary whose moments are NaN, which bfcr_ridge_fit
 * rejects with BFCR_ERR_NUMERIC. */
int64_t bfcr_sum_rows_work_len(int d);
void bfcr_sum_rows_work(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                        double *work, double *out);

/* The same from row pointers (row i = xr[i], d values): bit-identical to
 * bfcr_sum_rows_work on the same rows stored contiguously. */
void bfcr_sum_rowptrs_work(const double *const *xr, const double *y, int64_t n, int d, double *work,
                           double *out);

typedef struct bfcr_ridge_grid {
  double lambda_min, lambda_max; /* relative to trace(Sxx)/d (1 when that is 0) */
  int steps;                     /* log-spaced points, >= 1 */
} bfcr_ridge_grid;

typedef struct bfcr_ridge_result {
  double lambda; /* chosen absolute penalty */
  double gcv;    /* n RSS / (n - df)^2 at lambda (+inf when n <= df for every lambda) */
  double rss;
  double df; /* 1 + sum s_j / (s_j + lambda) */
} bfcr_ridge_result;

/* Workspace doubles needed by bfcr_ridge_fit for dimension d. */
int64_t bfcr_ridge_work_len(int d);

/* Ridge fit of y on x from a summary: minimise RSS + lambda |w - w0|^2 (w0 = NULL means
 * 0), lambda chosen on the grid by minimum GCV; if GCV is infinite for every lambda,
 * the largest lambda is used (the model falls back to w0). Eigendecomposition of Sxx
 * by LAPACKE_dsyevd, then every lambda in O(d^2). Writes w[d] and *intercept
 * (= mean_y - mean_x . w). fixed_lambda >= 0 skips the search. Returns
 * BFCR_ERR_NUMERIC when LAPACK fails or the summary holds non-finite values. */
bfcr_status bfcr_ridge_fit(const double *sum, int d, const double *w0, const bfcr_ridge_grid *grid,
                           double fixed_lambda, double *work, double *w, double *intercept,
                           bfcr_ridge_result *res);

/* Ridge from a cluster's rows in the dual (kernel) form (ridge_rows.c): the estimator of
 * bfcr_ridge_fit on the summary of the same rows (same grid, GCV, ties, shrinkage toward
 * w0, rank cut), up to rounding, from one eigendecomposition of the n x n centred Gram
 * matrix. Cheaper than the summary path when n < d and never forms anything d x d.
 * Rows: xr[i] points at row i's d features, y[i] its target; 1 <= n <= INT32_MAX.
 * mean_out (or NULL) receives the rows' mean of (x, y), d + 1 values. work holds
 * bfcr_ridge_rows_work_len(n, d) doubles. Nothing is allocated; deterministic (fixed
 * orders, single-threaded BLAS calls). Returns BFCR_ERR_ARG, BFCR_ERR_NUMERIC
 * (non-finite input, LAPACK failure). */
int64_t bfcr_ridge_rows_work_len(int64_t n, int d);
bfcr_status bfcr_ridge_rows_fit(const double *const *xr, const double *y, int64_t n, int d,
                                const double *w0, const bfcr_ridge_grid *grid, double fixed_lambda,
                                double *work, double *w, double *intercept, double *mean_out,
                                bfcr_ridge_result *res);
/* RSS and df at each penalty from the rows (the counterpart of bfcr_ridge_path). */
bfcr_status bfcr_ridge_rows_path(const double *const *xr, const double *y, int64_t n, int d,
                                 const double *w0, int nlambda, const double *lambdas, double *work,
                                 double *rss, double *df);
/* Flops of one fit (the path costs the same minus the coefficients): counted for the
 * BLAS calls (SYRK n(n+1)d, GEMV 2mn), an estimate for dsyevd (14/3 n^3, the
 * tridiagonal reduction, divide-and-conquer merges without deflation and the
 * back-transformation); see docs/regression.md. bfcr_ridge_flops: the summary path
 * (dsyevd on d x d, same estimate). */
double bfcr_ridge_rows_flops(int64_t n, int d, int with_w0);
double bfcr_ridge_flops(int d);

/* Suggested default rcond for bfcr_ols_fit (NIST Filip keeps full rank with it; exact
 * collinearity is still detected). */
#define BFCR_OLS_RCOND_DEFAULT 1e-12

/* RSS and df (1 + sum s_j / (s_j + lambda)) of the ridge fit toward w0 at each of the
 * nlambda absolute penalties, from one eigendecomposition: lets a caller pool GCV over
 * many clusters before fixing lambda. Same workspace as bfcr_ridge_fit. */
bfcr_status bfcr_ridge_path(const double *sum, int d, const double *w0, int nlambda,
                            const double *lambdas, double *work, double *rss, double *df);

/* OLS of y on [1, X] over n rows by LAPACKE_dgelsd (minimum norm, SVD), singular
 * values below rcond * s_max treated as zero. Writes w[d], *intercept, *rank (of the
 * centred X). n may be < d (minimum-norm solution). Implementation detail (additive):
 * the columns are first equilibrated to unit norm; when that system has full column
 * rank d <= n - 1 its (unique) solution is returned and *rank = d; otherwise the
 * minimum-norm solution of the unscaled centred system at rcond, with its rank.
 * Returns BFCR_ERR_ARG (n < 1, d < 0, ldx < d), BFCR_ERR_NUMERIC (non-finite input or
 * output, SVD not converged), BFCR_ERR_NOMEM. Allocates its workspace. */
bfcr_status bfcr_ols_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         double rcond, double *w, double *intercept, int *rank);

#endif
