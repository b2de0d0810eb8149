/* Kernel ridge candidates of the CV (lib/model/cv_kernel.c): the CV RMSE of a KRR
 * candidate equals a brute-force refit per fold (rows of each cluster outside the fold,
 * split at the cap, one KRR fit per piece; held-out rows routed by a brute-force nearest
 * row outside their fold, to that row's piece), the choice flips between a smooth
 * non-linear and a linear target, a tiny budget skips every candidate, and the table and
 * the model bytes are the same for 1 and 2 threads (the pieces of all folds of a level
 * run as one parallel loop). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"
#include "model/cv.h"
#include "model/model_impl.h"
#include "regress/krr.h"
#include "testutil.h"
#include "tree/tree.h"

/* n rows of 2 features in [-1, 1]; target smooth non-linear (kind 0) or linear (kind 1). */
static bfcr_data *make(bfcr_ctx *ctx, int64_t n, int kind, uint64_t seed) {
  double *X = malloc(sizeof(double) * (size_t)(2 * n)), *y = malloc(sizeof(double) * (size_t)n);
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    double a = 2 * tu_unif(&s) - 1, b = 2 * tu_unif(&s) - 1, e = 0.05 * (tu_unif(&s) - 0.5);
    X[2 * i] = a;
    X[2 * i + 1] = b;
    y[i] = kind == 0 ? sin(4 * a) * cos(3 * b) + a * b + e : 2 * a - b + e;
  }
  bfcr_data *dt = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, 2, X, y, NULL, &dt), BFCR_OK);
  free(X);
  free(y);
  return dt;
}

/* Brute-force CV MSE of the KRR candidate at level l (every training part of every
 * cluster at least minsize rows: no ridge fallback; guard off). */
static double brute_mse(const bfcr_tree *t, int l, const double *Z, const double *y,
                        const int *fold, int K, int64_t cap) {
  const int d = t->d;
  const int64_t n = t->n;
  double sse = 0.0;
  int64_t *nn = malloc(sizeof(int64_t) * (size_t)n), *idx = malloc(sizeof(int64_t) * (size_t)n);
  for (int64_t i = 0; i < n; i++) { /* nearest row outside the fold, ties: smaller index */
    double bd = INFINITY;
    nn[i] = -1;
    for (int64_t j = 0; j < n; j++) {
      if (fold[j] == fold[i]) continue;
      double s = 0;
      for (int q = 0; q < d; q++)
        s += (Z[i * d + q] - Z[j * d + q]) * (Z[i * d + q] - Z[j * d + q]);
      if (s < bd) {
        bd = s;
        nn[i] = j;
      }
    }
  }
  double *e2 = calloc((size_t)n, sizeof(double));
  for (int k = 0; k < K; k++) {
    double my = 0, sy = 0, cnt = 0;
    for (int64_t i = 0; i < n; i++)
      if (fold[i] != k) my += y[i], cnt++;
    my /= cnt;
    for (int64_t i = 0; i < n; i++)
      if (fold[i] != k) sy += (y[i] - my) * (y[i] - my);
    sy = sqrt(sy / cnt);
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      int64_t m = 0;
      for (int64_t p = t->lv[l].start[c]; p < t->lv[l].start[c + 1]; p++)
        if (fold[t->order[p]] != k) idx[m++] = t->order[p];
      int64_t np = (m + cap - 1) / cap;
      for (int64_t j = 0; j < np; j++) {
        int64_t a = m * j / np, b = m * (j + 1) / np; /* near-equal contiguous pieces */
        double *X = malloc(sizeof(double) * (size_t)((b - a) * d)),
               *ys = malloc(sizeof(double) * (size_t)(b - a));
        for (int64_t r = a; r < b; r++) {
          memcpy(X + (r - a) * d, Z + idx[r] * d, sizeof(double) * (size_t)d);
          ys[r - a] = (y[idx[r]] - my) / sy;
        }
        bfcr_krr_params kp;
        bfcr_krr_params_init(&kp);
        kp.max_rows = cap;
        bfcr_krr_model km;
        cr_assert_eq(bfcr_krr_fit(X, d, ys, b - a, d, &kp, &km), BFCR_OK);
        for (int64_t i = 0; i < n; i++) {
          if (fold[i] != k) continue;
          int in = 0;
          for (int64_t r = a; r < b; r++) in |= idx[r] == nn[i];
          if (!in) continue;
          double v = 0;
          cr_assert_eq(bfcr_krr_predict(&km, Z + i * d, d, 1, &v), BFCR_OK);
          double e = y[i] - (my + sy * v);
          e2[i] = e * e;
        }
        bfcr_krr_free(&km);
        free(X);
        free(ys);
      }
    }
  }
  for (int64_t i = 0; i < n; i++) sse += e2[i];
  free(e2);
  free(nn);
  free(idx);
  return sse / (double)n;
}

Test(cv_kernel, candidate_equals_brute_force_refit_per_fold) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 160, cap = 45;
  bfcr_data *dt = make(ctx, n, 0, 7);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = (1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR);
  p.kernel_budget = -1; /* every level */
  p.kernel_cap = cap;   /* the top levels are split into pieces */
  p.guard_margin = -1;
  p.min_cluster_size = 2;
  bfcr_model *m = tu_fit(ctx, dt, &p);
  const int L = bfcr_model_num_levels(m), K = 5, d = 2;
  const double *X = bfcr_data_X(dt), *y = bfcr_data_y(dt);
  double *Z = malloc(sizeof(double) * (size_t)(n * d));
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) Z[i * d + j] = (X[i * d + j] - m->mean[j]) / m->scale[j];
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, Z, y, n, 0, n, d, 64, &t), BFCR_OK);
  cr_assert_eq(t->nlevels, L);
  int *fold = malloc(sizeof(int) * (size_t)n);
  int64_t *w = malloc(sizeof(int64_t) * (size_t)(4 * n));
  bfcr_cv_folds(p.seed, n, K, fold, w);
  int checked = 0;
  for (int l = 1; l < L; l++) {
    double r, dm, se, c;
    int s = bfcr_model_cv_kernel(m, l, &r, &dm, &se, &c);
    int64_t smin = n; /* smallest training part of any cluster in any fold */
    for (int64_t q = 0; q < t->lv[l].m; q++)
      for (int k = 0; k < K; k++) {
        int64_t sk = 0;
        for (int64_t pp = t->lv[l].start[q]; pp < t->lv[l].start[q + 1]; pp++)
          sk += fold[t->order[pp]] != k;
        if (sk < smin) smin = sk;
      }
    if (smin < 2) continue;
    cr_assert_eq(s, 1, "level %d scored (state %d)", l, s);
    double ref = sqrt(brute_mse(t, l, Z, y, fold, K, cap));
    cr_assert(fabs(r - ref) <= 1e-9 * ref, "level %d: CV RMSE %.17g, brute force %.17g", l, r, ref);
    cr_assert(isfinite(dm) && isfinite(se) && se >= 0 && c >= 0);
    checked++;
  }
  cr_assert(checked >= 2, "%d levels checked", checked);
  bfcr_tree_free(t);
  free(Z);
  free(fold);
  free(w);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}

Test(cv_kernel, choice_flips_with_the_target_and_the_budget) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = (1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR);
  p.kernel_budget = -1;
  /* Smooth non-linear target: kernel ridge wins the CV. */
  bfcr_data *a = make(ctx, 300, 0, 3);
  bfcr_model *ma = tu_fit(ctx, a, &p);
  cr_assert_eq(bfcr_model_params(ma)->regressor, BFCR_REG_KRR);
  cr_assert(bfcr_model_pieces(ma) >= 1);
  double r, dm, se;
  int ch = bfcr_model_chosen_level(ma);
  cr_assert_eq(bfcr_model_cv_kernel(ma, ch, &r, &dm, &se, NULL), 1);
  cr_assert(dm < -se, "chosen level %d: dMSE %g, SE %g", ch, dm, se);
  /* Linear target: ridge stays (no kernel candidate beats it by one SE). */
  bfcr_data *b = make(ctx, 300, 1, 3);
  bfcr_model *mb = tu_fit(ctx, b, &p);
  cr_assert_eq(bfcr_model_params(mb)->regressor, BFCR_REG_RIDGE);
  cr_assert_eq(bfcr_model_pieces(mb), 0);
  /* A budget below every level's cost: every candidate skipped, ridge kept, said so. */
  p.kernel_budget = 1e-9;
  bfcr_model *mc = tu_fit(ctx, a, &p);
  cr_assert_eq(bfcr_model_params(mc)->regressor, BFCR_REG_RIDGE);
  int L = bfcr_model_num_levels(mc), over = 0;
  for (int l = 1; l < L; l++) {
    int s = bfcr_model_cv_kernel(mc, l, NULL, NULL, NULL, NULL);
    cr_assert(s == 2 || s == 3, "level %d state %d", l, s);
    over += s == 2;
  }
  cr_assert(over >= 1);
  /* Without the option: no kernel table. */
  p.select_regressors = 0;
  bfcr_model *md = tu_fit(ctx, a, &p);
  cr_assert_eq(bfcr_model_cv_kernel(md, 1, NULL, NULL, NULL, NULL), -1);
  bfcr_model_destroy(&ma);
  bfcr_model_destroy(&mb);
  bfcr_model_destroy(&mc);
  bfcr_model_destroy(&md);
  bfcr_data_destroy(&a);
  bfcr_data_destroy(&b);
  tu_ctx_free(&ctx);
}

Test(cv_kernel, table_and_model_bytes_do_not_depend_on_threads) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = make(ctx, 160, 0, 11);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = (1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR);
  p.kernel_budget = -1;
  p.kernel_cap = 30; /* several pieces per fold at the top levels, one at the bottom */
  unsigned char *b[2] = {NULL, NULL};
  size_t nb[2] = {0, 0};
  double tab[2][4 * 64];
  int state[2][64], L = 0;
  for (int th = 1; th <= 2; th++) {
    cr_assert_eq(bfcr_ctx_set_threads(ctx, th), BFCR_OK);
    bfcr_model *m = tu_fit(ctx, dt, &p);
    L = bfcr_model_num_levels(m);
    cr_assert(L <= 64);
    memset(tab[th - 1], 0, sizeof tab[0]);
    for (int l = 1; l < L; l++) {
      double *v = tab[th - 1] + 4 * l;
      state[th - 1][l] = bfcr_model_cv_kernel(m, l, v, v + 1, v + 2, v + 3);
    }
    cr_assert_eq(bfcr_model_encode(ctx, m, &b[th - 1], &nb[th - 1]), BFCR_OK);
    bfcr_model_destroy(&m);
  }
  int scored = 0;
  for (int l = 1; l < L; l++) {
    cr_assert_eq(state[0][l], state[1][l], "level %d", l);
    scored += state[0][l] == 1;
    cr_assert(memcmp(tab[0] + 4 * l, tab[1] + 4 * l, 4 * sizeof(double)) == 0,
              "level %d: CV RMSE %.17g (1 thread) vs %.17g (2 threads)", l, tab[0][4 * l],
              tab[1][4 * l]);
  }
  cr_assert(scored >= 2, "%d levels scored", scored);
  cr_assert(nb[0] == nb[1] && memcmp(b[0], b[1], nb[0]) == 0, "1 and 2 threads differ");
  free(b[0]);
  free(b[1]);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}
