/* OLS residual-ratio tests in the style of LAPACK's xCHKLS (DQRT16, DQRT17, DQRT14),
 * on random matrices with singular values chosen in advance (GSL RNG, orthogonal
 * factors from LAPACKE dgeqrf + dorgqr). The intercept is handled by the equivalent
 * augmented problem A = [c 1, X], x = [b0 / c; b] with c = ||X||_1 / n, so the ones
 * column has the scale of the data (the least squares problem does not change):
 *   zero residual:  ||y - A x||_1 / (max(n, p+1) ||A||_1 ||x||_1 eps)      < 30 (DQRT16)
 *   orthogonality:  max_j |(A^T r)_j| / (max(n, p+1) ||A||_1 alpha eps) < 30 (DQRT17),
 *                   alpha = ||y||_1 + ||A||_1 ||x||_1 (see score())
 *   rank-deficient: rank == r and ||V_null^T b||_2 / (||b||_2 max(n, p) eps) < 30
 * Matrices: full rank (condition 1e6), scaled by 1, 1e+150 and 1e-150; rank r < p;
 * n < p (minimum norm). */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"

#define SEED 4242UL
#define THRESH 30.0
#define EPS 2.220446049250313e-16

/* Orthonormal columns: Q (n x k) from the QR of G (n x k), column-major. */
static void orth(double *G, int n, int k) {
  double *tau = malloc((size_t)k * sizeof(double));
  cr_assert(LAPACKE_dgeqrf(LAPACK_COL_MAJOR, n, k, G, n, tau) == 0);
  cr_assert(LAPACKE_dorgqr(LAPACK_COL_MAJOR, n, k, k, G, n, tau) == 0);
  free(tau);
}

typedef struct problem {
  int n, p, m, r; /* rows, features, min(n - 1, p), rank of the centred X */
  double *X, *Vn; /* X row-major n x p; Vn: null-space basis of the centred X, p x (p - r) */
} problem;

/* Centred X = U diag(sigma) V^T with U orthonormal and orthogonal to 1 (so centring
 * leaves it unchanged), sigma geometric from 1 down to 1/cond over the first r values
 * and 0 after, times scale; then X = Xc + 1 mu^T. */
static problem make_problem(gsl_rng *rng, int n, int p, int r, double cond, double scale) {
  problem P = {n, p, n - 1 < p ? n - 1 : p, r, malloc((size_t)(n * p) * sizeof(double)), NULL};
  const int m = P.m;
  double *U = malloc((size_t)(n * (m + 1)) * sizeof(double));
  double *V = malloc((size_t)(p * p) * sizeof(double));
  for (int i = 0; i < n; i++) U[i] = 1.0;
  for (int k = n; k < n * (m + 1); k++) U[k] = gsl_ran_gaussian(rng, 1.0);
  orth(U, n, m + 1); /* column 0 spans 1; columns 1..m are orthogonal to it */
  for (int k = 0; k < p * p; k++) V[k] = gsl_ran_gaussian(rng, 1.0);
  orth(V, p, p);
  double *sig = calloc((size_t)m, sizeof(double));
  for (int k = 0; k < r; k++) sig[k] = r > 1 ? pow(cond, -(double)k / (r - 1)) : 1.0;
  for (int j = 0; j < p; j++) {
    double mu = scale * gsl_ran_gaussian(rng, 1.0);
    for (int i = 0; i < n; i++) {
      double v = 0;
      for (int k = 0; k < m; k++) v += U[i + (k + 1) * n] * sig[k] * V[j + k * p];
      P.X[i * p + j] = scale * v + mu;
    }
  }
  P.Vn = malloc((size_t)(p * (p - r) + 1) * sizeof(double));
  memcpy(P.Vn, V + (size_t)r * p, (size_t)(p * (p - r)) * sizeof(double));
  free(U);
  free(V);
  free(sig);
  return P;
}

static void free_problem(problem *P) {
  free(P->X);
  free(P->Vn);
}

typedef struct ratios {
  double resid, orth, null;
} ratios;

/* The three ratios for the fitted (b0, b) on data (X, y). */
static ratios score(const problem *P, const double *y, double b0, const double *b) {
  const int n = P->n, p = P->p;
  double c = 0, anorm = 0;
  for (int j = 0; j < p; j++) {
    double s = 0;
    for (int i = 0; i < n; i++) s += fabs(P->X[i * p + j]);
    anorm = fmax(anorm, s);
  }
  c = anorm / n;
  anorm = fmax(anorm, c * n);
  double xnorm = fabs(b0 / c), rnorm = 0, atr = 0;
  for (int j = 0; j < p; j++) xnorm += fabs(b[j]);
  long double *r = malloc((size_t)n * sizeof(long double));
  for (int i = 0; i < n; i++) {
    r[i] = (long double)y[i] - b0;
    for (int j = 0; j < p; j++) r[i] -= (long double)P->X[i * p + j] * b[j];
    rnorm += fabsl(r[i]);
  }
  long double s0 = 0;
  for (int i = 0; i < n; i++) s0 += c * r[i];
  atr = fabsl(s0);
  for (int j = 0; j < p; j++) {
    long double s = 0;
    for (int i = 0; i < n; i++) s += P->X[i * p + j] * r[i];
    atr = fmax(atr, (double)fabsl(s));
  }
  const double mx = n > p + 1 ? n : p + 1;
  ratios out;
  out.resid = rnorm / (mx * anorm * xnorm * EPS);
  /* DQRT17 (IRESID = 1) uses alpha = ||y||; xCHKLS only calls it with y in the range
   * of A. For a noisy y on an ill-conditioned A, |x| carries the noise amplified by
   * the condition number, and the backward error bound of a stable solver is
   * |A^T r| <~ eps |A| (|y| + |A| |x|): alpha includes the second term. */
  double alpha = anorm * xnorm;
  for (int i = 0; i < n; i++) alpha += fabs(y[i]);
  out.orth = alpha > 0 ? atr / (mx * anorm * alpha * EPS) : 0.0;
  /* Component of b in the null space of the centred X. */
  double bn = 0, nb = 0;
  for (int j = 0; j < p; j++) bn += b[j] * b[j];
  for (int k = 0; k < p - P->r; k++) {
    double s = 0;
    for (int j = 0; j < p; j++) s += P->Vn[j + k * p] * b[j];
    nb += s * s;
  }
  out.null = bn > 0 ? sqrt(nb / bn) / ((n > p ? n : p) * EPS) : 0.0;
  free(r);
  return out;
}

/* Consistent and inconsistent right-hand sides; asserts the ratios and the rank. */
static void run(gsl_rng *rng, int n, int p, int r, double cond, double scale, double rcond) {
  problem P = make_problem(rng, n, p, r, cond, scale);
  double *bt = malloc((size_t)p * sizeof(double)), *b = malloc((size_t)p * sizeof(double));
  double *y = malloc((size_t)n * sizeof(double));
  for (int j = 0; j < p; j++) bt[j] = gsl_ran_gaussian(rng, 1.0);
  double b0t = scale * gsl_ran_gaussian(rng, 1.0), b0;
  for (int pass = 0; pass < 2; pass++) {
    for (int i = 0; i < n; i++) {
      long double v = b0t;
      for (int j = 0; j < p; j++) v += (long double)P.X[i * p + j] * bt[j];
      y[i] = (double)v + (pass ? scale * gsl_ran_gaussian(rng, 1.0) : 0.0);
    }
    int rank;
    cr_assert(bfcr_ols_fit(P.X, p, y, n, p, rcond, b, &b0, &rank) == BFCR_OK);
    cr_assert(rank == r, "n=%d p=%d scale=%g: rank %d, expected %d", n, p, scale, rank, r);
    ratios t = score(&P, y, b0, b);
    if (pass == 0)
      cr_assert(t.resid < THRESH, "n=%d p=%d r=%d scale=%g: residual ratio %.3g", n, p, r, scale,
                t.resid);
    cr_assert(t.orth < THRESH, "n=%d p=%d r=%d scale=%g pass=%d: orthogonality ratio %.3g", n, p, r,
              scale, pass, t.orth);
    if (r < p)
      cr_assert(t.null < THRESH, "n=%d p=%d r=%d scale=%g: null-space ratio %.3g", n, p, r, scale,
                t.null);
  }
  free(bt);
  free(b);
  free(y);
  free_problem(&P);
}

static const double scales[] = {1.0, 1e150, 1e-150};

Test(ols, full_rank_scaled) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, SEED);
  const int sz[][2] = {{50, 5}, {30, 12}, {100, 40}, {8, 7}};
  for (int s = 0; s < 3; s++)
    for (int k = 0; k < 4; k++)
      run(rng, sz[k][0], sz[k][1], sz[k][1], 1e6, scales[s], BFCR_OLS_RCOND_DEFAULT);
  gsl_rng_free(rng);
}

Test(ols, rank_deficient_minimum_norm) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, SEED + 1);
  const int sz[][3] = {{50, 6, 3}, {30, 12, 7}, {100, 40, 10}, {20, 5, 1}};
  for (int s = 0; s < 3; s++)
    for (int k = 0; k < 4; k++) run(rng, sz[k][0], sz[k][1], sz[k][2], 1e2, scales[s], 1e-10);
  gsl_rng_free(rng);
}

/* n - 1 < p: the centred X has rank n - 1 and the solution is the minimum-norm one. */
Test(ols, underdetermined_minimum_norm) {
  gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(rng, SEED + 2);
  const int sz[][2] = {{12, 30}, {5, 6}, {2, 4}};
  for (int s = 0; s < 3; s++)
    for (int k = 0; k < 3; k++) run(rng, sz[k][0], sz[k][1], sz[k][0] - 1, 1e2, scales[s], 1e-10);
  gsl_rng_free(rng);
}

Test(ols, small_and_invalid_inputs) {
  double X[6] = {1, 2, 3, 4, 5, 6}, y[3] = {1, 2, 4}, w[2], b0;
  int rank;
  /* n = 1: intercept = y, zero weights, rank 0. */
  cr_assert(bfcr_ols_fit(X, 2, y, 1, 2, -1.0, w, &b0, &rank) == BFCR_OK);
  cr_assert(rank == 0 && w[0] == 0.0 && w[1] == 0.0 && b0 == 1.0);
  /* d = 0: the mean. */
  cr_assert(bfcr_ols_fit(NULL, 0, y, 3, 0, -1.0, NULL, &b0, &rank) == BFCR_OK);
  cr_assert(fabs(b0 - 7.0 / 3.0) < 1e-15 && rank == 0);
  /* Constant column: weight 0, rank 1. */
  double Xc[6] = {1, 5, 2, 5, 3, 5};
  cr_assert(bfcr_ols_fit(Xc, 2, y, 3, 2, 1e-12, w, &b0, &rank) == BFCR_OK);
  cr_assert(rank == 1 && fabs(w[1]) < 1e-14 && fabs(w[0] - 1.5) < 1e-14, "w %g %g", w[0], w[1]);
  cr_assert(bfcr_ols_fit(X, 2, y, 0, 2, -1.0, w, &b0, &rank) == BFCR_ERR_ARG);
  cr_assert(bfcr_ols_fit(X, 1, y, 3, 2, -1.0, w, &b0, &rank) == BFCR_ERR_ARG);
  cr_assert(bfcr_ols_fit(X, 2, y, 3, -1, -1.0, w, &b0, &rank) == BFCR_ERR_ARG);
  cr_assert(bfcr_ols_fit(X, 2, y, 3, 2, NAN, w, &b0, &rank) == BFCR_ERR_ARG);
  X[3] = NAN;
  cr_assert(bfcr_ols_fit(X, 2, y, 3, 2, -1.0, w, &b0, &rank) == BFCR_ERR_NUMERIC);
  X[3] = 4;
  y[2] = INFINITY;
  cr_assert(bfcr_ols_fit(X, 2, y, 3, 2, -1.0, w, &b0, &rank) == BFCR_ERR_NUMERIC);
}
