/* Cross-validated level choice (lib/model/cv.c) and the prediction guard (guard.c):
 * the fold downdate against a refit from rows, the fold assignment, the guard, and bad
 * input (constant target, constant column, n < K, tiny data). */
#include <criterion/criterion.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/cv.h"
#include "model/model_impl.h"
#include "testutil.h"
#include "tree/tree.h"

Test(cv, folds_are_balanced_and_seeded) {
  int64_t n = 1003;
  int K = 5, *f = malloc(n * sizeof *f), *g = malloc(n * sizeof *g), cnt[5] = {0};
  int64_t *w = malloc(4 * n * sizeof *w);
  bfcr_cv_folds(7, n, K, f, w);
  for (int64_t i = 0; i < n; i++) {
    cr_assert(f[i] >= 0 && f[i] < K);
    cnt[f[i]]++;
  }
  for (int k = 0; k < K; k++) cr_assert(cnt[k] == 200 || cnt[k] == 201, "fold %d: %d", k, cnt[k]);
  bfcr_cv_folds(7, n, K, g, w);
  cr_assert_arr_eq(f, g, n * sizeof *f);
  bfcr_cv_folds(8, n, K, g, w);
  int64_t same = 0;
  for (int64_t i = 0; i < n; i++) same += f[i] == g[i];
  cr_assert(same < n / 2, "another seed gives other folds (%lld equal)", (long long)same);
  free(f);
  free(g);
  free(w);
}

/* Ridge on the rows of node c outside fold k, centred in two passes from the rows. */
static void refit(const bfcr_tree *t, int l, int64_t c, const double *Z, const double *y,
                  const int *fold, int k, double lam, double *w, double *b) {
  int d = t->d;
  double mz[16] = {0}, my = 0, A[256] = {0}, r[16] = {0}, nn = 0;
  for (int64_t p = t->lv[l].start[c]; p < t->lv[l].start[c + 1]; p++) {
    int64_t g = t->order[p];
    if (fold[g] == k) continue;
    nn++;
    my += y[g];
    for (int j = 0; j < d; j++) mz[j] += Z[g * d + j];
  }
  my /= nn;
  for (int j = 0; j < d; j++) mz[j] /= nn;
  for (int64_t p = t->lv[l].start[c]; p < t->lv[l].start[c + 1]; p++) {
    int64_t g = t->order[p];
    if (fold[g] == k) continue;
    for (int j = 0; j < d; j++) {
      for (int q = 0; q < d; q++) A[j * d + q] += (Z[g * d + j] - mz[j]) * (Z[g * d + q] - mz[q]);
      r[j] += (Z[g * d + j] - mz[j]) * (y[g] - my);
    }
  }
  for (int j = 0; j < d; j++) A[j * d + j] += lam;
  cr_assert_eq(LAPACKE_dposv(LAPACK_ROW_MAJOR, 'U', d, 1, A, d, r, 1), 0);
  *b = my;
  for (int j = 0; j < d; j++) {
    w[j] = r[j];
    *b -= r[j] * mz[j];
  }
}

Test(cv, downdate_equals_refit_from_rows) {
  bfcr_ctx *ctx = tu_ctx();
  int64_t n = 600;
  int d = 3, K = 5;
  bfcr_data *data = tu_blobs(ctx, n, d, 4, 0.3, 11, NULL);
  const double *X = bfcr_data_X(data), *y = bfcr_data_y(data);
  /* Offset features: the shifted sums must not lose the digits a raw downdate would. */
  double *Z = malloc(n * d * sizeof *Z);
  for (int64_t i = 0; i < n * d; i++) Z[i] = X[i] + 1e3;
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, Z, y, n, 0, n, d, 64, &t), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  int *fold = malloc(n * sizeof *fold);
  int64_t *w2 = malloc(4 * n * sizeof *w2);
  bfcr_cv_folds(3, n, K, fold, w2);
  double out[5 * 6], w[3], b;
  int checked = 0;
  for (int l = 1; l < t->nlevels; l++)
    for (int64_t c = 0; c < t->lv[l].m && c < 6; c++) {
      if (t->lv[l].start[c + 1] - t->lv[l].start[c] < 12) continue;
      cr_assert_eq(bfcr_cv_node_models(ctx, t, l, c, Z, y, fold, K, 1, 0.5, NULL, out), BFCR_OK);
      for (int k = 0; k < K; k++) {
        refit(t, l, c, Z, y, fold, k, 0.5, w, &b);
        for (int j = 0; j < d; j++)
          cr_assert(fabs(out[k * 6 + j] - w[j]) <= 1e-10 * (1 + fabs(w[j])),
                    "level %d node %lld fold %d w%d: %.17g vs %.17g", l, (long long)c, k, j,
                    out[k * 6 + j], w[j]);
        cr_assert(fabs(out[k * 6 + d] - b) <= 1e-10 * (1 + fabs(b)) * 1e3,
                  "intercept %.17g vs %.17g", out[k * 6 + d], b);
        checked++;
      }
    }
  cr_assert(checked >= 10, "%d node-folds checked", checked);
  bfcr_tree_free(t);
  free(Z);
  free(fold);
  free(w2);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(cv, table_and_choice_are_consistent) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 3000, 3, 6, 0.1, 5, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.shrink = 0; /* hard routing: the one-SE level (shrinkage: test_shrink.c) */
  bfcr_model *m = tu_fit(ctx, data, &p);
  int best = -1, L = bfcr_model_num_levels(m), ch = bfcr_model_chosen_level(m);
  cr_assert_eq(bfcr_model_cv(m, 0, NULL, NULL, &best), 5);
  double rb, sb, rc;
  bfcr_model_cv(m, best, &rb, &sb, NULL);
  bfcr_model_cv(m, ch, &rc, NULL, NULL);
  cr_assert(ch >= best && rc <= rb + sb * (1 + 1e-9) + 1e-12, "chosen %d (%g), best %d (%g +- %g)",
            ch, rc, best, rb, sb);
  for (int l = 1; l < L; l++) {
    double r, s;
    bfcr_model_cv(m, l, &r, &s, NULL);
    cr_assert(isfinite(r) && r >= rb && isfinite(s) && s >= 0, "level %d: %g +- %g", l, r, s);
  }
  /* Piecewise-linear blobs: some clustered level beats one global model. */
  cr_assert(ch < L - 1, "chose the top level %d", ch);
  /* --level fixes the level; select = criterion gives no table. */
  p.level = 1;
  bfcr_model *m1 = tu_fit(ctx, data, &p);
  cr_assert_eq(bfcr_model_chosen_level(m1), 1);
  cr_assert_eq(bfcr_model_cv(m1, 1, NULL, NULL, NULL), 0);
  p.level = 0;
  p.select = BFCR_SELECT_CRITERION;
  bfcr_model *m2 = tu_fit(ctx, data, &p);
  cr_assert_eq(bfcr_model_cv(m2, 1, NULL, NULL, NULL), 0);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&m1);
  bfcr_model_destroy(&m2);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(guard, bounds_an_extrapolating_row_and_counts_it) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 2000, 2, 4, 0.1, 9, NULL);
  const double *y = bfcr_data_y(data);
  double ylo = INFINITY, yhi = -INFINITY;
  for (int i = 0; i < 2000; i++) {
    ylo = fmin(ylo, y[i]);
    yhi = fmax(yhi, y[i]);
  }
  double far[2] = {1e4, -1e4}, yy = 0;
  bfcr_data *q = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, 1, 2, far, &yy, NULL, &q), BFCR_OK);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.level = 1;                                /* small clusters, steep local models */
  bfcr_model *m = tu_fit(ctx, data, &p);
  double v;
  int64_t g = -1;
  cr_assert_eq(bfcr_predict_guarded(ctx, m, q, &v, &g), BFCR_OK);
  double pad = p.guard_margin * (yhi - ylo);
  cr_assert(v >= ylo - pad && v <= yhi + pad, "guarded prediction %g outside [%g, %g]", v,
            ylo - pad, yhi + pad);
  cr_assert_eq(g, 1);
  /* The training rows themselves are mostly inside their cluster's range. */
  double *pr = malloc(2000 * sizeof *pr);
  cr_assert_eq(bfcr_predict_guarded(ctx, m, data, pr, &g), BFCR_OK);
  cr_assert(g < 20, "%lld training rows guarded", (long long)g);
  /* Off: the plain linear value. */
  p.guard_margin = -1;
  bfcr_model *m0 = tu_fit(ctx, data, &p);
  double v0;
  cr_assert_eq(bfcr_predict_guarded(ctx, m0, q, &v0, &g), BFCR_OK);
  cr_assert_eq(g, 0);
  cr_assert(fabs(v0) > fabs(v), "unguarded %g, guarded %g", v0, v);
  free(pr);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&m0);
  bfcr_data_destroy(&q);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

static void check_finite_fit(bfcr_ctx *ctx, int64_t n, int d, const double *X, const double *y,
                             int folds) {
  bfcr_data *data = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &data), BFCR_OK);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.folds = folds;
  bfcr_model *m = tu_fit(ctx, data, &p);
  double *pr = malloc(n * sizeof *pr);
  cr_assert_eq(bfcr_predict(ctx, m, data, pr), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  for (int64_t i = 0; i < n; i++) cr_assert(isfinite(pr[i]), "row %lld: %g", (long long)i, pr[i]);
  for (int l = 1; l < bfcr_model_num_levels(m); l++) {
    double r;
    if (bfcr_model_cv(m, l, &r, NULL, NULL) > 0) cr_assert(isfinite(r), "level %d CV %g", l, r);
  }
  free(pr);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
}

Test(cv, bad_input_never_crashes_or_gives_nan) {
  bfcr_ctx *ctx = tu_ctx();
  enum { N = 300 };
  double X[N * 3], y[N];
  for (int i = 0; i < N; i++) {
    X[3 * i] = i % 17;
    X[3 * i + 1] = (i * 7) % 13;
    X[3 * i + 2] = i < 5 ? 1.0 : 0.0; /* constant in most folds */
    y[i] = 4.25;                      /* constant target */
  }
  check_finite_fit(ctx, N, 3, X, y, 5);
  for (int i = 0; i < N; i++) y[i] = X[3 * i] - 2 * X[3 * i + 1] + (i % 3);
  check_finite_fit(ctx, N, 3, X, y, 5);
  check_finite_fit(ctx, N, 3, X, y, 100); /* folds smaller than most clusters */
  check_finite_fit(ctx, 3, 3, X, y, 5);   /* n < K: fewer folds */
  check_finite_fit(ctx, 2, 3, X, y, 5);
  check_finite_fit(ctx, 1, 3, X, y, 5);
  tu_ctx_free(&ctx);
}
