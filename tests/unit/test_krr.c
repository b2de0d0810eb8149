/* Kernel ridge regression against direct computations: the dual solve by Cholesky
 * (LAPACKE_dposv on K + lambda I), GCV by brute force over the same grid (the hat
 * matrix formed explicitly), exact interpolation as lambda -> 0, a noisy 1-D sine,
 * bit-identical refits, chunked predictions, SPLIT ranges, the median distance and the
 * error codes. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regress/krr.h"

#define SEED 4242UL
#define TWO_PI 6.283185307179586

static gsl_rng *new_rng(unsigned long seed) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  return r;
}

/* n x d rows offset from the origin (so centring matters), smooth nonlinear target. */
static void gen(gsl_rng *r, int64_t n, int d, double noise, double *X, double *y) {
  for (int64_t i = 0; i < n; i++) {
    double t = 0.0;
    for (int j = 0; j < d; j++) {
      X[i * d + j] = 3.0 + gsl_ran_gaussian(r, 1.0);
      t += sin(X[i * d + j] * (1 + j)) / (1 + j);
    }
    y[i] = 10.0 + t + gsl_ran_gaussian(r, noise);
  }
}

/* Gaussian kernel directly from the coordinates (long double distances). */
static double kern(const double *a, const double *b, int d, double h) {
  long double s = 0.0L;
  for (int j = 0; j < d; j++) {
    long double t = (long double)a[j] - b[j];
    s += t * t;
  }
  return exp(-(double)s / (2.0 * h * h));
}

/* Direct KRR at (h, lambda): alpha by dposv, and optionally the GCV from the explicit
 * smoother S = J + H (I - J), H = (K + lambda I)^{-1} K. Returns 0 on success. */
static int direct(const double *X, const double *y, int64_t n, int d, double h, double lambda,
                  double *alpha, double *gcv) {
  double *A = malloc((size_t)(n * n) * sizeof *A), *K = malloc((size_t)(n * n) * sizeof *K);
  double my = 0.0;
  for (int64_t i = 0; i < n; i++) my += y[i];
  my /= (double)n;
  for (int64_t i = 0; i < n; i++) {
    alpha[i] = y[i] - my;
    for (int64_t j = 0; j < n; j++) {
      K[i + j * n] = kern(X + i * d, X + j * d, d, h);
      A[i + j * n] = K[i + j * n] + (i == j ? lambda : 0.0);
    }
  }
  double *H = malloc((size_t)(n * n) * sizeof *H);
  memcpy(H, K, (size_t)(n * n) * sizeof *H);
  int rc = LAPACKE_dposv(LAPACK_COL_MAJOR, 'U', (lapack_int)n, 1, A, (lapack_int)n, alpha,
                         (lapack_int)n);
  if (rc == 0 && gcv) { /* A now holds the Cholesky factor: H = A^{-1} K */
    rc = LAPACKE_dpotrs(LAPACK_COL_MAJOR, 'U', (lapack_int)n, (lapack_int)n, A, (lapack_int)n, H,
                        (lapack_int)n);
    double rss = 0.0, tr = 0.0, sum = 0.0;
    for (int64_t i = 0; i < n; i++) {
      double f = 0.0;
      for (int64_t j = 0; j < n; j++) f += K[i + j * n] * alpha[j];
      double r = (y[i] - my) - f;
      rss += r * r;
      tr += H[i + i * n];
      for (int64_t j = 0; j < n; j++) sum += H[i + j * n];
    }
    double df = 1.0 + tr - sum / (double)n;
    *gcv = (double)n * rss / (((double)n - df) * ((double)n - df));
  }
  free(A);
  free(K);
  free(H);
  return rc;
}

static double max_rel(const double *a, const double *b, int64_t n) {
  double scale = 0.0, diff = 0.0;
  for (int64_t i = 0; i < n; i++) {
    if (fabs(b[i]) > scale) scale = fabs(b[i]);
    if (fabs(a[i] - b[i]) > diff) diff = fabs(a[i] - b[i]);
  }
  return diff / (scale > 0.0 ? scale : 1.0);
}

Test(krr, matches_direct_cholesky_solve) {
  gsl_rng *r = new_rng(SEED);
  const int64_t n = 80, m = 25;
  const int d = 3;
  double X[80 * 3], y[80], Q[25 * 3], yq[25], alpha[80];
  gen(r, n, d, 0.1, X, y);
  gen(r, m, d, 0.1, Q, yq);
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  const double hs[] = {0.7, 1.9}, ls[] = {1e-3, 0.5};
  for (int a = 0; a < 2; a++) {
    p.h = hs[a];
    p.lambda = ls[a];
    bfcr_krr_model mod;
    cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &mod), BFCR_OK);
    cr_assert_eq(mod.h, p.h);
    cr_assert_eq(mod.lambda, p.lambda);
    cr_assert_eq(direct(X, y, n, d, p.h, p.lambda, alpha, NULL), 0);
    cr_assert_lt(max_rel(mod.alpha, alpha, n), 1e-8, "alpha rel err %g",
                 max_rel(mod.alpha, alpha, n));
    /* Predictions at new rows against the direct sum. */
    double pred[25], ref[25];
    cr_assert_eq(bfcr_krr_predict(&mod, Q, d, m, pred), BFCR_OK);
    double my = 0.0;
    for (int64_t i = 0; i < n; i++) my += y[i];
    my /= (double)n;
    for (int64_t q = 0; q < m; q++) {
      double s = 0.0;
      for (int64_t i = 0; i < n; i++) s += alpha[i] * kern(Q + q * d, X + i * d, d, p.h);
      ref[q] = my + s;
    }
    cr_assert_lt(max_rel(pred, ref, m), 1e-10);
    bfcr_krr_free(&mod);
    cr_assert_null(mod.alpha);
  }
  gsl_rng_free(r);
}

Test(krr, gcv_choice_matches_brute_force) {
  gsl_rng *r = new_rng(SEED + 1);
  const int64_t n = 60;
  const int d = 2;
  double X[60 * 2], y[60], alpha[60];
  gen(r, n, d, 0.3, X, y);
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  p.h_min = 0.25;
  p.h_max = 4.0;
  p.h_steps = 5;
  p.lambda_min = 1e-4;
  p.lambda_max = 10.0;
  p.lambda_steps = 6;
  bfcr_krr_model mod;
  cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &mod), BFCR_OK);

  /* The median distance, independently (sorted full list, lower median). */
  int64_t np = n * (n - 1) / 2, k = 0;
  double *dist = malloc((size_t)np * sizeof *dist);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = i + 1; j < n; j++) {
      double s = 0.0;
      for (int c = 0; c < d; c++)
        s += (X[i * d + c] - X[j * d + c]) * (X[i * d + c] - X[j * d + c]);
      dist[k++] = sqrt(s);
    }
  for (int64_t i = 1; i < np; i++) /* insertion sort: small */
    for (int64_t j = i; j > 0 && dist[j - 1] > dist[j]; j--) {
      double t = dist[j];
      dist[j] = dist[j - 1];
      dist[j - 1] = t;
    }
  cr_assert_float_eq(mod.h_ref, dist[(np - 1) / 2], 1e-12 * dist[(np - 1) / 2]);
  free(dist);

  double best = INFINITY, bh = 0, bl = 0, chosen = NAN;
  for (int kh = 0; kh < p.h_steps; kh++)
    for (int kl = 0; kl < p.lambda_steps; kl++) {
      double h = mod.h_ref * bfcr_log_grid(p.h_min, p.h_max, p.h_steps, kh);
      double l = bfcr_log_grid(p.lambda_min, p.lambda_max, p.lambda_steps, kl);
      double g = NAN;
      cr_assert_eq(direct(X, y, n, d, h, l, alpha, &g), 0);
      if (g < best) {
        best = g;
        bh = h;
        bl = l;
      }
      if (h == mod.h && l == mod.lambda) chosen = g;
    }
  cr_assert(isfinite(chosen), "chosen point is not on the grid");
  cr_assert_float_eq(mod.gcv, chosen, 1e-7 * chosen, "gcv %.17g vs brute %.17g", mod.gcv, chosen);
  cr_assert_float_eq(chosen, best, 1e-7 * best,
                     "chosen (h %g, l %g) gcv %.17g; brute best (h %g, l %g) %.17g", mod.h,
                     mod.lambda, chosen, bh, bl, best);
  bfcr_krr_free(&mod);
  gsl_rng_free(r);
}

/* The default search (tridiagonal reduction, no eigenvectors) against the spectral one
 * (one dsyevd per width): the same choice, GCV and df to rounding, alpha to 1e-9; n = 3
 * at lambda 1e-6 nearly interpolates (n - df about 2e-6). */
Test(krr, tridiagonal_search_matches_spectral) {
  gsl_rng *r = new_rng(SEED + 5);
  const int64_t ns[] = {2, 3, 17, 90};
  const int d = 3;
  double X[90 * 3], y[90];
  for (int a = 0; a < 4; a++) {
    const int64_t n = ns[a];
    gen(r, n, d, 0.2, X, y);
    bfcr_krr_params p;
    bfcr_krr_params_init(&p);
    if (a == 1) { /* a fixed point, and a penalty far below the default floor */
      p.h = 0.8;
      p.lambda = 1e-6;
    }
    bfcr_krr_model t, s;
    cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &t), BFCR_OK);
    p.spectral = 1;
    cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &s), BFCR_OK);
    cr_assert_eq(t.h, s.h, "n %lld", (long long)n);
    cr_assert_eq(t.lambda, s.lambda, "n %lld", (long long)n);
    /* The spectral n - df is a difference (n - 1 - sum ...): relative rounding n / (n - df)
     * times larger; the tridiagonal form sums positive terms. */
    const double amp = (double)n / ((double)n - s.df);
    cr_assert_float_eq(t.gcv, s.gcv, 1e-12 * amp * s.gcv, "gcv %.17g vs %.17g", t.gcv, s.gcv);
    cr_assert_float_eq(t.df, s.df, 1e-10 * s.df, "df %.17g vs %.17g", t.df, s.df);
    cr_assert_lt(max_rel(t.alpha, s.alpha, n), 1e-9, "alpha rel err %g",
                 max_rel(t.alpha, s.alpha, n));
    bfcr_krr_free(&t);
    bfcr_krr_free(&s);
  }
  gsl_rng_free(r);
}

Test(krr, interpolates_as_lambda_goes_to_zero) {
  gsl_rng *r = new_rng(SEED + 2);
  const int64_t n = 40;
  const int d = 2;
  double X[40 * 2], y[40], pred[40];
  gen(r, n, d, 0.5, X, y);
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  p.h = 0.5;
  double prev = INFINITY;
  const double lambdas[] = {1e-2, 1e-5, 1e-9};
  for (int a = 0; a < 3; a++) {
    p.lambda = lambdas[a];
    bfcr_krr_model mod;
    cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &mod), BFCR_OK);
    cr_assert_eq(bfcr_krr_predict(&mod, X, d, n, pred), BFCR_OK);
    double err = 0.0;
    for (int64_t i = 0; i < n; i++) err = fmax(err, fabs(pred[i] - y[i]));
    cr_assert_lt(err, prev, "training error must shrink with lambda");
    prev = err;
    bfcr_krr_free(&mod);
  }
  cr_assert_lt(prev, 1e-6, "max training error at lambda 1e-9: %g", prev);
  gsl_rng_free(r);
}

Test(krr, recovers_noisy_sine) {
  gsl_rng *r = new_rng(SEED + 3);
  const int64_t n = 300, m = 200;
  double X[300], y[300], Q[200], pred[200];
  for (int64_t i = 0; i < n; i++) {
    X[i] = TWO_PI * gsl_rng_uniform(r);
    y[i] = sin(X[i]) + gsl_ran_gaussian(r, 0.2);
  }
  for (int64_t q = 0; q < m; q++) Q[q] = TWO_PI * (q + 0.5) / m;
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  bfcr_krr_model mod;
  cr_assert_eq(bfcr_krr_fit(X, 1, y, n, 1, &p, &mod), BFCR_OK);
  cr_assert_eq(bfcr_krr_predict(&mod, Q, 1, m, pred), BFCR_OK);
  double se = 0.0;
  for (int64_t q = 0; q < m; q++) se += (pred[q] - sin(Q[q])) * (pred[q] - sin(Q[q]));
  double rmse = sqrt(se / m);
  /* Noise sd 0.2: a good smoother is within a small fraction of it. */
  cr_assert_lt(rmse, 0.06, "sine RMSE %g (h %g, lambda %g)", rmse, mod.h, mod.lambda);
  cr_assert_gt(mod.df, 3.0);
  cr_assert_lt(mod.df, 40.0);
  bfcr_krr_free(&mod);
  gsl_rng_free(r);
}

Test(krr, refit_is_bit_identical_and_chunks_agree) {
  gsl_rng *r = new_rng(SEED + 4);
  const int64_t n = 150, m = 37;
  const int d = 4;
  double *X = malloc(sizeof(double) * n * d), *y = malloc(sizeof(double) * n);
  double *Q = malloc(sizeof(double) * m * d), *yq = malloc(sizeof(double) * m);
  gen(r, n, d, 0.2, X, y);
  gen(r, m, d, 0.2, Q, yq);
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  bfcr_krr_model a, b;
  cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &a), BFCR_OK);
  cr_assert_eq(bfcr_krr_fit(X, d, y, n, d, &p, &b), BFCR_OK);
  cr_assert_eq(memcmp(&a.h, &b.h, sizeof a.h), 0);
  cr_assert_eq(memcmp(&a.lambda, &b.lambda, sizeof a.lambda), 0);
  cr_assert_eq(memcmp(a.alpha, b.alpha, sizeof(double) * n), 0);
  double p1[37], p2[37];
  cr_assert_eq(bfcr_krr_predict(&a, Q, d, m, p1), BFCR_OK);
  for (int64_t q = 0; q < m; q += 7) /* chunks of 7 */
    cr_assert_eq(bfcr_krr_predict(&b, Q + q * d, d, m - q < 7 ? m - q : 7, p2 + q), BFCR_OK);
  cr_assert_eq(memcmp(p1, p2, sizeof p1), 0);
  /* Inputs untouched. */
  double *X2 = malloc(sizeof(double) * n * d), *y2 = malloc(sizeof(double) * n);
  gsl_rng_set(r, SEED + 4);
  gen(r, n, d, 0.2, X2, y2);
  cr_assert_eq(memcmp(X, X2, sizeof(double) * n * d), 0);
  cr_assert_eq(memcmp(y, y2, sizeof(double) * n), 0);
  bfcr_krr_free(&a);
  bfcr_krr_free(&b);
  free(X);
  free(y);
  free(Q);
  free(yq);
  free(X2);
  free(y2);
  gsl_rng_free(r);
}

Test(krr, strided_rows_and_degenerate_sizes) {
  /* ldx > d: the third column is ignored. */
  const double Xs[] = {0, 0, 99, 1, 0, 99, 0, 1, 99, 1, 1, 99, 2, 1, 99};
  const double X[] = {0, 0, 1, 0, 0, 1, 1, 1, 2, 1};
  const double y[] = {1, 2, 3, 4, 6};
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  bfcr_krr_model a, b;
  cr_assert_eq(bfcr_krr_fit(Xs, 3, y, 5, 2, &p, &a), BFCR_OK);
  cr_assert_eq(bfcr_krr_fit(X, 2, y, 5, 2, &p, &b), BFCR_OK);
  cr_assert_eq(memcmp(a.alpha, b.alpha, sizeof(double) * 5), 0);
  bfcr_krr_free(&a);
  bfcr_krr_free(&b);
  /* n = 1 predicts the value. */
  double q[2] = {5, 5}, v;
  cr_assert_eq(bfcr_krr_fit(X, 2, y, 1, 2, &p, &a), BFCR_OK);
  cr_assert_eq(bfcr_krr_predict(&a, q, 2, 1, &v), BFCR_OK);
  cr_assert_eq(v, 1.0);
  bfcr_krr_free(&a);
  /* All rows identical: finite, predicts the mean. */
  const double Xc[] = {1, 1, 1, 1, 1, 1, 1, 1};
  const double yc[] = {1, 2, 3, 6};
  cr_assert_eq(bfcr_krr_fit(Xc, 2, yc, 4, 2, &p, &a), BFCR_OK);
  cr_assert_eq(a.h_ref, 1.0);
  cr_assert_eq(bfcr_krr_predict(&a, Xc, 2, 1, &v), BFCR_OK);
  cr_assert_float_eq(v, 3.0, 1e-6);
  bfcr_krr_free(&a);
}

Test(krr, errors) {
  const double X[] = {0, 1, 2, 3}, y[] = {1, 2, 3, 4};
  double bad[] = {0, NAN, 2, 3};
  bfcr_krr_params p;
  bfcr_krr_params_init(&p);
  bfcr_krr_model mod;
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 0, 1, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 4, 0, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_krr_fit(NULL, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 4, 2, &p, &mod), BFCR_ERR_ARG); /* ldx < d */
  cr_assert_eq(bfcr_krr_fit(bad, 1, y, 4, 1, &p, &mod), BFCR_ERR_NUMERIC);
  cr_assert_eq(bfcr_krr_fit(X, 1, bad, 4, 1, &p, &mod), BFCR_ERR_NUMERIC);
  cr_assert_null(mod.alpha);
  p.max_rows = 3;
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  bfcr_krr_params_init(&p);
  p.lambda_min = 0.0;
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_ERR_ARG);
  bfcr_krr_params_init(&p);
  cr_assert_eq(bfcr_krr_fit(X, 1, y, 4, 1, &p, &mod), BFCR_OK);
  double v;
  cr_assert_eq(bfcr_krr_predict(&mod, bad + 1, 1, 1, &v), BFCR_ERR_NUMERIC);
  cr_assert_eq(bfcr_krr_predict(&mod, X, 0, 1, &v), BFCR_ERR_ARG);
  bfcr_krr_free(&mod);
  cr_assert_eq(bfcr_krr_predict(&mod, X, 1, 1, &v), BFCR_ERR_ARG); /* freed model */
}

Test(krr, split_ranges) {
  cr_assert_eq(bfcr_split_pieces(0, 10), 0);
  cr_assert_eq(bfcr_split_pieces(10, 10), 1);
  cr_assert_eq(bfcr_split_pieces(11, 10), 2);
  cr_assert_eq(bfcr_split_pieces(5000, 0), 1);
  const int64_t ns[] = {1, 7, 2000, 2001, 4095, 12345};
  for (int a = 0; a < 6; a++)
    for (int64_t cap = 1; cap <= 2500; cap = cap * 3 + 1) {
      int64_t n = ns[a], k = bfcr_split_pieces(n, cap), lo = n, hi = 0;
      cr_assert_eq(bfcr_split_start(n, k, 0), 0);
      cr_assert_eq(bfcr_split_start(n, k, k), n);
      for (int64_t i = 0; i < k; i++) {
        int64_t s = bfcr_split_start(n, k, i + 1) - bfcr_split_start(n, k, i);
        if (s < lo) lo = s;
        if (s > hi) hi = s;
      }
      cr_assert_leq(hi, cap);
      cr_assert_leq(hi - lo, 1);
      cr_assert_geq(lo, 1);
      cr_assert_lt((k - 1) * cap, n); /* no fewer pieces would do */
    }
}
