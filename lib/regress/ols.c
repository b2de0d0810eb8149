/* Ordinary least squares of y on [1, X] by SVD (LAPACK dgelsd), numerical rank recorded.
 *
 * What: centre X and y on their means (row order, then one correction pass so the
 * means carry no first-pass rounding) and solve min |Xc w - yc|; intercept =
 * mean_y - mean_x . w. Two SVD solves, both dgelsd (divide and conquer):
 *   1. on Xc with every column scaled to unit 2-norm (equilibration). If that has full
 *      column rank d (and d <= n - 1), the solution is unique and is taken from here:
 *      scaling does not change it, but it makes the rank decision independent of the
 *      columns' units and gains digits on badly scaled columns (NIST Filip, powers x^1..
 *      x^10: 7.2 correct digits instead of 5.5, and rank 10 for any rcond <= 1e-12).
 *   2. otherwise (rank-deficient, or n - 1 < d) on Xc itself: the minimum-norm solution
 *      in the caller's coordinates, singular values below rcond * s_max dropped
 *      (rcond < 0: machine precision); the rank reported is this one.
 *
 * Why SVD on the rows and not the normal equations: forming Xc^T Xc squares the
 * condition number. On NIST Longley the normal equations keep about 7 digits, this
 * code about 12 (docs/regression.md has the measured LREs). Centring first removes
 * the intercept column, whose scale is usually far from the others'.
 *
 * Complexity: O(n d min(n, d)) flops per solve; allocates two n x d copies, and
 * LAPACKE allocates dgelsd's workspace. Deterministic for a given input and LAPACK. */
#include <math.h>
#include <stdlib.h>

#include <lapacke.h>

#include "regress/regress.h"

#define BFCR_STATUS_CALL(expr)       \
  do {                               \
    st = (expr);                     \
    if (st != BFCR_OK) goto cleanup; \
  } while (0)

/* dgelsd (destroys A and b); maps LAPACKE's info to a status. */
static bfcr_status gelsd(int64_t n, int64_t d, double *A, double *b, int64_t ldb, double *sv,
                         double rcond, lapack_int *rank) {
  lapack_int info = LAPACKE_dgelsd(LAPACK_COL_MAJOR, (lapack_int)n, (lapack_int)d, 1, A,
                                   (lapack_int)n, b, (lapack_int)ldb, sv, rcond, rank);
  if (info == 0) return BFCR_OK;
  if (info == LAPACK_WORK_MEMORY_ERROR) return BFCR_ERR_NOMEM;
  if (info > 0) return BFCR_ERR_NUMERIC; /* the SVD did not converge */
  return BFCR_ERR_INTERNAL;              /* an argument LAPACK rejected: a bug here */
}

bfcr_status bfcr_ols_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         double rcond, double *w, double *intercept, int *rank) {
  if (!y || !intercept || !rank || d < 0 || n < 1) return BFCR_ERR_ARG;
  if (d > 0 && (!X || !w || ldx < d)) return BFCR_ERR_ARG;
  if (n > (int64_t)INT32_MAX || (int64_t)d * n > (int64_t)INT32_MAX) return BFCR_ERR_ARG;
  if (isnan(rcond)) return BFCR_ERR_ARG;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return BFCR_ERR_NUMERIC;
    for (int j = 0; j < d; j++)
      if (!isfinite(X[i * ldx + j])) return BFCR_ERR_NUMERIC;
  }

  const int64_t dd = d, ldb = n > dd ? n : dd, mn = n < dd ? n : dd;
  /* One block: centred X and its equilibrated copy (n x d each, column-major), right
   * hand side b (ldb), means (d + 1), column norms (d), singular values (min(n, d)). */
  double *A = malloc((size_t)(2 * n * dd + ldb + 2 * dd + 1 + mn + 1) * sizeof(double));
  if (!A) return BFCR_ERR_NOMEM;
  double *As = A + n * dd, *b = As + n * dd, *mean = b + ldb, *cn = mean + dd + 1;
  double *sv = cn + dd;
  bfcr_status st = BFCR_OK;
  lapack_int rk = 0;

  /* Means in row order, then refined by the mean residual (corrected two-pass). */
  for (int64_t j = 0; j <= dd; j++) mean[j] = 0.0;
  for (int64_t i = 0; i < n; i++) {
    for (int64_t j = 0; j < dd; j++) mean[j] += X[i * ldx + j];
    mean[dd] += y[i];
  }
  for (int64_t j = 0; j <= dd; j++) mean[j] /= (double)n;
  for (int64_t j = 0; j <= dd; j++) {
    double r = 0.0;
    for (int64_t i = 0; i < n; i++) r += (j < dd ? X[i * ldx + j] : y[i]) - mean[j];
    mean[j] += r / (double)n;
  }
  for (int64_t j = 0; j < dd; j++)
    for (int64_t i = 0; i < n; i++) A[i + j * n] = X[i * ldx + j] - mean[j];

  int done = 0;
  if (d > 0 && dd <= n - 1) { /* 1. equilibrated solve; unique when of full rank */
    for (int64_t j = 0; j < dd; j++) {
      double s = 0.0, c = 0.0; /* scaled 2-norm (no overflow near 1e+-154) */
      for (int64_t i = 0; i < n; i++) c = fmax(c, fabs(A[i + j * n]));
      if (c > 0.0)
        for (int64_t i = 0; i < n; i++) s += (A[i + j * n] / c) * (A[i + j * n] / c);
      cn[j] = c > 0.0 ? c * sqrt(s) : 1.0;
      for (int64_t i = 0; i < n; i++) As[i + j * n] = A[i + j * n] / cn[j];
    }
    for (int64_t i = 0; i < ldb; i++) b[i] = i < n ? y[i] - mean[dd] : 0.0;
    BFCR_STATUS_CALL(gelsd(n, dd, As, b, ldb, sv, rcond, &rk));
    if (rk == (lapack_int)d) {
      for (int64_t j = 0; j < dd; j++) w[j] = b[j] / cn[j];
      done = 1;
    }
  }
  if (d > 0 && !done) { /* 2. minimum norm in the caller's coordinates */
    for (int64_t i = 0; i < ldb; i++) b[i] = i < n ? y[i] - mean[dd] : 0.0;
    BFCR_STATUS_CALL(gelsd(n, dd, A, b, ldb, sv, rcond, &rk));
    for (int64_t j = 0; j < dd; j++) w[j] = b[j];
  }
  double b0 = mean[dd];
  for (int64_t j = 0; j < dd; j++) b0 -= mean[j] * w[j];
  for (int64_t j = 0; j < dd; j++)
    if (!isfinite(w[j])) st = BFCR_ERR_NUMERIC;
  if (!isfinite(b0)) st = BFCR_ERR_NUMERIC;
  *intercept = b0;
  *rank = (int)rk;

cleanup:
  free(A);
  return st;
}
