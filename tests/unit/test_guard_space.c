/* The feature-space guard (lib/model/guard.c): the leverage from a cluster's record equals
 * (z - mu)^T (S + lambda I)^-1 (z - mu) computed by brute force; a row beyond the largest
 * training leverage moves toward the global model's value clipped by 1 - h_max / h (and is
 * counted), one inside keeps its prediction; a fit's h_max is the largest leverage of its clusters'
 * training rows; the GLEV section (format 1.4) round-trips and a 1.3 file without it loads. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"
#include "model/guard.h"
#include "model/model_impl.h"
#include "regress/regress.h"
#include "testutil.h"

/* (z - mu)^T (S + lambda I)^-1 (z - mu) by Gaussian elimination with partial pivoting, S
 * the two-pass centred scatter of the n rows X. */
static double brute_leverage(const double *X, int64_t n, int d, double lambda, const double *z) {
  double mu[8] = {0}, A[8][9], u[8];
  for (int64_t i = 0; i < n; i++)
    for (int a = 0; a < d; a++) mu[a] += X[i * d + a] / (double)n;
  for (int a = 0; a < d; a++) {
    for (int b = 0; b < d; b++) {
      double s = 0;
      for (int64_t i = 0; i < n; i++) s += (X[i * d + a] - mu[a]) * (X[i * d + b] - mu[b]);
      A[a][b] = s + (a == b ? lambda : 0.0);
    }
    u[a] = z[a] - mu[a];
    A[a][d] = u[a];
  }
  for (int c = 0; c < d; c++) {
    int piv = c;
    for (int r = c + 1; r < d; r++)
      if (fabs(A[r][c]) > fabs(A[piv][c])) piv = r;
    for (int j = 0; j <= d; j++) {
      double t = A[c][j];
      A[c][j] = A[piv][j];
      A[piv][j] = t;
    }
    for (int r = 0; r < d; r++) {
      if (r == c) continue;
      double f = A[r][c] / A[c][c];
      for (int j = c; j <= d; j++) A[r][j] -= f * A[c][j];
    }
  }
  double h = 0;
  for (int a = 0; a < d; a++) h += u[a] * A[a][d] / A[a][a];
  return h;
}

Test(guard_space, leverage_matches_brute_force) {
  uint64_t s = 7;
  const int n = 25;
  for (int d = 1; d <= 6; d++) {
    double X[25 * 6], y[25], sum[64], A[36], g[6 + 21 + 1], z[6];
    for (int i = 0; i < n * d; i++) X[i] = 3.0 * tu_unif(&s) - 1.0 + (i % d) * 100.0;
    for (int i = 0; i < n; i++) y[i] = tu_unif(&s);
    bfcr_sum_rows(X, d, y, n, d, sum);
    for (int li = 0; li < 3; li++) {
      double lambda = li == 0 ? 0.0 : li == 1 ? 0.3 : 40.0;
      bfcr_guard_lev_record(sum, d, lambda, A, g);
      cr_assert(g[bfcr_guard_lev_width(d) - 1] == 0.0);
      double lam = lambda; /* the record's floor for lambda 0 */
      if (lam == 0) {
        double tr = 0;
        for (int a = 0; a < d; a++) tr += sum[1 + d + 1 + bfcr_pk(a, a)];
        lam = 1e-10 * tr / d;
      }
      for (int q = 0; q < 12; q++) {
        double far = q < 6 ? 1.0 : 10.0;
        for (int a = 0; a < d; a++) z[a] = far * (4.0 * tu_unif(&s) - 2.0) + a * 100.0;
        double h = bfcr_guard_leverage(g, d, z), e = brute_leverage(X, n, d, lam, z);
        cr_assert(fabs(h - e) <= 1e-9 * (e > 1 ? e : 1), "d %d lambda %g: %.17g vs %.17g", d,
                  lambda, h, e);
      }
    }
  }
}

Test(guard_space, flagged_row_takes_the_fallback) {
  bfcr_model m;
  memset(&m, 0, sizeof m);
  double range[2] = {0.0, 10.0}, w[2] = {1.0, 0.0}, lev[2 + 3 + 1] = {0, 0, 1, 0, 1, 1.0};
  m.d = 2;
  m.k = 1;
  m.guard_range = range;
  m.guard_w = w;
  m.guard_b = 1.0;
  m.guard_margin = 0.5; /* accepted targets [-5, 15] */
  m.guard_lev = lev;    /* mu 0, L = I: h = |z|^2, h_max 1 */
  int hit = -1;
  double in[2] = {0.5, 0.5}, out[2] = {3.0, 0.0}, far[2] = {30.0, 0.0};
  cr_assert(bfcr_guard_value(&m, 0, in, 3.0, &hit) == 3.0 && hit == 0);
  /* h = 9 > 1: the global value 1 + 3 plus 1/9 of the departure (3 - 4) */
  cr_assert(fabs(bfcr_guard_value(&m, 0, out, 3.0, &hit) - (4.0 - 1.0 / 9)) < 1e-15 && hit == 1);
  /* h = 900: the global value clipped to 15, plus 1/900 of (3 - 15) */
  cr_assert(fabs(bfcr_guard_value(&m, 0, far, 3.0, &hit) - (15.0 - 12.0 / 900)) < 1e-13 &&
            hit == 1);
  cr_assert(bfcr_guard_value(&m, 0, in, 99.0, &hit) == 1.5 && hit == 1); /* target range */
  cr_assert(isnan(bfcr_guard_value(&m, 0, far, NAN, &hit)) && hit == 0); /* never hidden */
  m.guard_lev = NULL; /* off: the target range alone */
  cr_assert(bfcr_guard_value(&m, 0, out, 3.0, &hit) == 3.0 && hit == 0);
}

Test(guard_space, fit_records_and_model_file) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 500, 3, 5, 0.3, 3, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.level = 2;
  p.guard_space = 1;
  bfcr_model *m = tu_fit(ctx, data, &p), *back = NULL;
  const int d = m->d;
  const int64_t W = bfcr_guard_lev_width(d);
  cr_assert(m->guard_lev && m->train_z && m->n_train == 500 && m->params.guard_space == 1);
  /* h_max of a cluster fitted on its own rows is the largest leverage of those rows; a
   * cluster using an ancestor's model takes the ancestor's, which is at least its own. */
  for (int64_t c = 0; c < m->k; c++) {
    double mx = 0;
    for (int64_t i = 0; i < m->n_train; i++)
      if (m->train_label[i] == c) {
        double h = bfcr_guard_leverage(m->guard_lev + c * W, d, m->train_z + i * d);
        mx = h > mx ? h : mx;
      }
    double hm = m->guard_lev[c * W + W - 1];
    if (m->cm[c].flags & BFCR_CM_FALLBACK)
      cr_assert(mx <= hm, "cluster %lld: %g > %g", (long long)c, mx, hm);
    else
      cr_assert(mx == hm, "cluster %lld: %.17g vs %.17g", (long long)c, mx, hm);
  }
  /* GLEV round-trips bit for bit; the predictions are the same. */
  back = tu_model_round_trip(ctx, m, 4);
  cr_assert(back->guard_lev && back->params.guard_space == 1 &&
            memcmp(back->guard_lev, m->guard_lev, (size_t)(m->k * W) * sizeof(double)) == 0);
  bfcr_model_destroy(&back);
  /* Off: no GLEV; such a file written as 1.3 loads with the target-range guard only. */
  p.guard_space = 0;
  bfcr_model *h = tu_fit(ctx, data, &p);
  cr_assert(!h->guard_lev && h->guard_range);
  back = tu_model_as_minor(ctx, h, 3);
  cr_assert(!back->guard_lev && back->params.guard_space == 0 && back->guard_range);
  bfcr_model_destroy(&back);
  bfcr_model_destroy(&h);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}
