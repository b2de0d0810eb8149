/* Epsilon-SVR through libsvm: a nonlinear function where SVR must beat least squares,
 * bit-identical refits and chunked predictions, silence (libsvm prints nothing), the
 * fixed-parameter path, the constant model and the error codes. */
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"
#include "regress/svr.h"

#define SEED 9191UL

static double truth(const double *x) {
  return sin(2.0 * x[0]) * cos(x[1]) + 0.5 * x[1] * x[1];
}

static void gen(gsl_rng *r, int64_t n, double noise, double *X, double *y) {
  for (int64_t i = 0; i < n; i++) {
    X[2 * i] = gsl_ran_gaussian(r, 1.0);
    X[2 * i + 1] = gsl_ran_gaussian(r, 1.0);
    y[i] = 3.0 + truth(X + 2 * i) + gsl_ran_gaussian(r, noise);
  }
}

static double rmse(const double *a, const double *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s / (double)n);
}

Test(svr, beats_linear_on_nonlinear_function) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, SEED);
  enum { N = 400, M = 300 };
  double X[2 * N], y[N], Q[2 * M], yq[M], pred[M], lin[M];
  gen(r, N, 0.1, X, y);
  gen(r, M, 0.0, Q, yq); /* noiseless truth at the test rows */
  bfcr_svr_params p;
  bfcr_svr_params_init(&p);
  bfcr_svr_model mod;
  cr_assert_eq(bfcr_svr_fit(X, 2, y, N, 2, &p, &mod), BFCR_OK);
  cr_assert_eq(bfcr_svr_predict(&mod, Q, 2, M, pred), BFCR_OK);
  double w[2], b0;
  int rank;
  cr_assert_eq(bfcr_ols_fit(X, 2, y, N, 2, BFCR_OLS_RCOND_DEFAULT, w, &b0, &rank), BFCR_OK);
  for (int i = 0; i < M; i++) lin[i] = b0 + w[0] * Q[2 * i] + w[1] * Q[2 * i + 1];
  const double e_svr = rmse(pred, yq, M), e_lin = rmse(lin, yq, M);
  cr_assert_lt(e_svr, 0.35 * e_lin, "SVR %g vs linear %g", e_svr, e_lin);
  cr_assert_lt(e_svr, 0.25, "SVR RMSE %g (C %g gamma %g eps %g)", e_svr, mod.C, mod.gamma,
               mod.epsilon);
  cr_assert(isfinite(mod.val_rmse));
  cr_assert_gt(mod.nsv, 0);
  cr_assert_leq(mod.nsv, N);
  bfcr_svr_free(&mod);
  cr_assert_null(mod.svm);
  gsl_rng_free(r);
}

Test(svr, refit_bit_identical_chunks_agree, .init = cr_redirect_stdout) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, SEED + 1);
  enum { N = 150, M = 41 };
  double X[2 * N], y[N], Q[2 * M], yq[M], p1[M], p2[M];
  gen(r, N, 0.2, X, y);
  gen(r, M, 0.2, Q, yq);
  bfcr_svr_params p;
  bfcr_svr_params_init(&p);
  bfcr_svr_model a, b;
  cr_assert_eq(bfcr_svr_fit(X, 2, y, N, 2, &p, &a), BFCR_OK);
  cr_assert_eq(bfcr_svr_fit(X, 2, y, N, 2, &p, &b), BFCR_OK);
  cr_assert_eq(memcmp(&a.C, &b.C, sizeof a.C), 0);
  cr_assert_eq(memcmp(&a.gamma, &b.gamma, sizeof a.gamma), 0);
  cr_assert_eq(memcmp(&a.epsilon, &b.epsilon, sizeof a.epsilon), 0);
  cr_assert_eq(a.nsv, b.nsv);
  cr_assert_eq(bfcr_svr_predict(&a, Q, 2, M, p1), BFCR_OK);
  for (int q = 0; q < M; q += 6)
    cr_assert_eq(bfcr_svr_predict(&b, Q + 2 * q, 2, M - q < 6 ? M - q : 6, p2 + q), BFCR_OK);
  cr_assert_eq(memcmp(p1, p2, sizeof p1), 0);
  bfcr_svr_free(&a);
  bfcr_svr_free(&b);
  gsl_rng_free(r);
  fflush(stdout);
  cr_assert_stdout_eq_str(""); /* libsvm's progress output is silenced */
}

Test(svr, fixed_parameters_and_constant_model) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, SEED + 2);
  enum { N = 60 };
  double X[2 * N], y[N], v;
  gen(r, N, 0.1, X, y);
  bfcr_svr_params p;
  bfcr_svr_params_init(&p);
  p.C = 3.0;
  p.gamma = 0.7;
  p.epsilon = 0.05;
  bfcr_svr_model mod;
  cr_assert_eq(bfcr_svr_fit(X, 2, y, N, 2, &p, &mod), BFCR_OK);
  cr_assert_eq(mod.C, 3.0);
  cr_assert_eq(mod.gamma, 0.7);
  cr_assert_eq(mod.epsilon, 0.05);
  cr_assert(isnan(mod.val_rmse));
  bfcr_svr_free(&mod);
  /* Constant target: the mean, exactly, with no libsvm model. */
  double yc[N];
  for (int i = 0; i < N; i++) yc[i] = 2.5;
  bfcr_svr_params_init(&p);
  cr_assert_eq(bfcr_svr_fit(X, 2, yc, N, 2, &p, &mod), BFCR_OK);
  cr_assert_null(mod.svm);
  cr_assert_eq(bfcr_svr_predict(&mod, X, 2, 1, &v), BFCR_OK);
  cr_assert_eq(v, 2.5);
  bfcr_svr_free(&mod);
  /* One row, and fewer rows than the search needs. */
  cr_assert_eq(bfcr_svr_fit(X, 2, y, 1, 2, &p, &mod), BFCR_OK);
  cr_assert_eq(bfcr_svr_predict(&mod, X + 10, 2, 1, &v), BFCR_OK);
  cr_assert_eq(v, y[0]);
  bfcr_svr_free(&mod);
  cr_assert_eq(bfcr_svr_fit(X, 2, y, 10, 2, &p, &mod), BFCR_OK);
  cr_assert(isnan(mod.val_rmse));
  cr_assert_not_null(mod.svm);
  bfcr_svr_free(&mod);
  gsl_rng_free(r);
}

Test(svr, errors) {
  const double X[] = {0, 1, 2, 3}, y[] = {1, 2, 3, 4};
  double bad[] = {0, INFINITY, 2, 3}, v;
  bfcr_svr_params p;
  bfcr_svr_params_init(&p);
  bfcr_svr_model mod;
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 0, 1, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 4, 0, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 2, 2, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_svr_fit(NULL, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_svr_fit(bad, 1, y, 4, 1, &p, &mod), BFCR_ERR_NUMERIC);
  cr_assert_eq(bfcr_svr_fit(X, 1, bad, 4, 1, &p, &mod), BFCR_ERR_NUMERIC);
  p.max_rows = 3;
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  bfcr_svr_params_init(&p);
  p.C_steps = 0;
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  bfcr_svr_params_init(&p);
  cr_assert_eq(bfcr_svr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_OK);
  cr_assert_eq(bfcr_svr_predict(&mod, bad + 1, 1, 1, &v), BFCR_ERR_NUMERIC);
  cr_assert_eq(bfcr_svr_predict(&mod, X, 0, 1, &v), BFCR_ERR_ARG);
  bfcr_svr_free(&mod);
  cr_assert_eq(bfcr_svr_predict(&mod, X, 1, 1, &v), BFCR_ERR_ARG);
}
