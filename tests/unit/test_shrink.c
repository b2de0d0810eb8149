/* Hierarchical shrinkage along the routed path (lib/model/shrink.c, cv_shrink.c): lambda 0
 * is hard routing bit for bit, a huge lambda is the global model, the CV table equals a
 * direct computation from rows on a tiny data set, and the model file section SHRK
 * (format 1.3) round-trips while a 1.2 file without it still loads. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"
#include "model/cv.h"
#include "model/model_impl.h"
#include "model/standardize.h"
#include "testutil.h"
#include "tree/tree.h"

static double *predict(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data) {
  double *yh = malloc(bfcr_data_local_rows(data) * sizeof *yh);
  cr_assert_eq(bfcr_predict(ctx, m, data, yh), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  return yh;
}

Test(shrink, lambda_zero_is_hard_routing) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 1500, 3, 6, 0.3, 5, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  bfcr_model *m = tu_fit(ctx, data, &p);
  int L = bfcr_model_num_levels(m);
  double lam = -1, g0 = -1;
  int ng = bfcr_model_shrink(m, &lam, 0, 0, &g0, NULL);
  cr_assert(ng >= 2 && g0 == 0.0, "%d grid points, first %g", ng, g0);
  /* The hard-routing row of the shrinkage table is the level table: the same squared
   * errors, summed exactly there and in row order here (a few ulp apart at most). */
  for (int l = 1; l < L; l++) {
    double a, b;
    bfcr_model_cv(m, l, &a, NULL, NULL);
    bfcr_model_shrink(m, NULL, 0, l, NULL, &b);
    cr_assert(fabs(a - b) <= 8 * DBL_EPSILON * a, "level %d: %.17g vs %.17g", l, a, b);
  }
  /* The choice never has a higher CV error than hard routing at the one-SE level. */
  int ch = bfcr_model_chosen_level(m);
  double rc = NAN, rh = NAN;
  for (int g = 0; g < ng; g++) {
    double gl, r;
    bfcr_model_shrink(m, NULL, g, ch, &gl, &r);
    if (gl == lam) rc = r;
  }
  bfcr_fit_params off = p;
  off.shrink = 0.0;
  bfcr_model *h = tu_fit(ctx, data, &off);
  bfcr_model_cv(h, bfcr_model_chosen_level(h), &rh, NULL, NULL);
  cr_assert(rc <= rh, "chosen CV RMSE %.17g, hard routing %.17g", rc, rh);
  cr_assert_eq(bfcr_model_shrink(h, &lam, 0, 0, NULL, NULL), 0);
  cr_assert_eq(lam, 0.0);
  /* A fixed level with lambda 0 and the same level chosen with off: the same models. */
  p.level = 2;
  p.shrink = 0.0;
  bfcr_model *a = tu_fit(ctx, data, &p);
  off.level = 2;
  bfcr_model *b = tu_fit(ctx, data, &off);
  cr_assert_eq(a->k, b->k);
  cr_assert(memcmp(a->w, b->w, a->k * a->d * sizeof(double)) == 0);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&h);
  bfcr_model_destroy(&a);
  bfcr_model_destroy(&b);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(shrink, huge_lambda_is_the_global_model) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 800, 3, 5, 0.3, 9, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.level = 1;
  p.shrink = 1e300;
  bfcr_model *m = tu_fit(ctx, data, &p);
  cr_assert(m->k > 1 && m->shrink_lambda == 1e300 && m->guard_w);
  /* The guard keeps the same fit's top-level model: every cluster's model is it. */
  for (int64_t c = 0; c < m->k; c++) {
    cr_assert(memcmp(m->w + c * m->d, m->guard_w, m->d * sizeof(double)) == 0, "cluster %lld",
              (long long)c);
    cr_assert(m->cm[c].intercept == m->guard_b);
  }
  /* And predicts as a fit of the global model alone (whose sums run in another order). */
  bfcr_model_destroy(&m);
  p.guard_margin = -1; /* the guard clips to each cluster's own target range */
  m = tu_fit(ctx, data, &p);
  p.level = -1;
  p.shrink = 0;
  bfcr_model *g = tu_fit(ctx, data, &p);
  cr_assert_eq(g->k, 1);
  double *a = predict(ctx, m, data), *b = predict(ctx, g, data);
  for (int64_t i = 0; i < bfcr_data_local_rows(data); i++)
    cr_assert(fabs(a[i] - b[i]) <= 1e-9 * (1 + fabs(b[i])), "row %lld: %.17g vs %.17g",
              (long long)i, a[i], b[i]);
  p.shrink = 1e300;
  /* In the CV: every level at that lambda scores as the top level with hard routing. */
  p.level = 0;
  bfcr_model *cv = tu_fit(ctx, data, &p);
  int L = bfcr_model_num_levels(cv);
  double top; /* the hard-routing top level of the same (exactly summed) table */
  bfcr_model_shrink(cv, NULL, 0, L - 1, NULL, &top);
  cr_assert_eq(bfcr_model_shrink(cv, NULL, 0, 0, NULL, NULL), 2);
  for (int l = 1; l < L; l++) {
    double r;
    bfcr_model_shrink(cv, NULL, 1, l, NULL, &r);
    cr_assert(memcmp(&r, &top, sizeof r) == 0, "level %d: %.17g vs %.17g", l, r, top);
  }
  free(a);
  free(b);
  bfcr_model_destroy(&g);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&cv);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

/* The CV table from scratch: tree on the standardized rows, fold models by refits
 * (bfcr_cv_node_models, checked against rows in test_cv), routing by brute force. */
static int cv_table_direct(int clusters, uint64_t seed) {
  bfcr_ctx *ctx = tu_ctx();
  int64_t n = 90;
  int d = 2, K = 5;
  bfcr_data *data = tu_blobs(ctx, n, d, clusters, 0.4, seed, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.guard_margin = -1;
  p.lambda_mode = BFCR_LAMBDA_FIXED;
  p.lambda = 0.5;
  p.min_cluster_size = 4;
  bfcr_model *m = tu_fit(ctx, data, &p);
  const double *X = bfcr_data_X(data), *y = bfcr_data_y(data);
  double *Z = malloc(n * d * sizeof *Z);
  bfcr_standardize_apply(X, n, d, m->mean, m->scale, Z, 1);
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, Z, y, n, 0, n, d, 64, &t), BFCR_OK);
  int T = t->nlevels - 1;
  cr_assert_eq(t->nlevels, m->nlevels);
  cr_assert(T >= 2);
  int *fold = malloc(n * sizeof *fold);
  int64_t *w2 = malloc(4 * n * sizeof *w2), *nn = malloc(n * sizeof *nn);
  bfcr_cv_folds(p.seed, n, K, fold, w2);
  double **fm = calloc(T + 1, sizeof *fm);
  for (int l = T; l >= 1; l--) {
    fm[l] = malloc(t->lv[l].m * K * (d + 3) * sizeof(double));
    for (int64_t c = 0; c < t->lv[l].m; c++)
      cr_assert_eq(bfcr_cv_node_models(ctx, t, l, c, Z, y, fold, K, 4, 0.5,
                                       l < T ? fm[l + 1] + t->lv[l].parent[c] * K * (d + 3) : NULL,
                                       fm[l] + c * K * (d + 3)),
                   BFCR_OK);
  }
  for (int64_t i = 0; i < n; i++) { /* nearest row outside the fold, ties to the smaller */
    double best = INFINITY;
    for (int64_t j = 0; j < n; j++) {
      if (fold[j] == fold[i]) continue;
      double s = 0;
      for (int q = 0; q < d; q++)
        s += (Z[i * d + q] - Z[j * d + q]) * (Z[i * d + q] - Z[j * d + q]);
      if (s < best) {
        best = s;
        nn[i] = j;
      }
    }
  }
  int ng = bfcr_model_shrink(m, NULL, 0, 0, NULL, NULL);
  cr_assert(ng >= 3);
  double *e2 = malloc(ng * (T + 1) * n * sizeof *e2); /* squared error of (g, L, row) */
  for (int g = 0; g < ng; g++) {
    double lam;
    bfcr_model_shrink(m, NULL, g, 0, &lam, NULL);
    for (int L = 1; L <= T; L++) {
      double sse = 0;
      for (int64_t i = 0; i < n; i++) {
        int k = fold[i];
        int64_t path[64];
        path[1] = t->lv[0].parent[nn[i]];
        for (int l = 1; l < T; l++) path[l + 1] = t->lv[l].parent[path[l]];
        double P[64];
        for (int l = 1; l <= T; l++) {
          const double *o = fm[l] + (path[l] * K + k) * (d + 3);
          P[l] = o[d];
          for (int q = 0; q < d; q++) P[l] += o[q] * Z[i * d + q];
        }
        double f = P[T];
        for (int l = T - 1; l >= L; l--) {
          double N = 0; /* the parent's training rows outside fold k */
          for (int64_t r = t->lv[l + 1].start[path[l + 1]]; r < t->lv[l + 1].start[path[l + 1] + 1];
               r++)
            N += fold[t->order[r]] != k;
          f += (P[l] - P[l + 1]) * (lam == 0 ? 1.0 : 1.0 / (1.0 + lam / N));
        }
        sse += (y[i] - f) * (y[i] - f);
        e2[(g * (T + 1) + L) * n + i] = (y[i] - f) * (y[i] - f);
      }
      double want = sqrt(sse / n), got;
      bfcr_model_shrink(m, NULL, g, L, NULL, &got);
      cr_assert(fabs(got - want) <= 1e-9 * want, "lambda %g level %d: %.17g vs %.17g", lam, L, got,
                want);
    }
  }
  /* The one-SE decision: the pick is hard routing at the level the same fit chooses
   * without shrinkage; a candidate replaces it only when its mean paired difference of
   * squared errors is below minus its standard error; the lowest CV MSE of those wins. */
  bfcr_fit_params off = p;
  off.shrink = 0.0;
  bfcr_model *h = tu_fit(ctx, data, &off);
  int pick = bfcr_model_chosen_level(h), want_l = pick, npass = 0;
  double want_lam = 0.0, bc = INFINITY;
  for (int g = 1; g < ng; g++) {
    double lam;
    bfcr_model_shrink(m, NULL, g, 0, &lam, NULL);
    for (int L = T - 1; L >= 1; L--) {
      const double *e = e2 + (g * (T + 1) + L) * n, *ep = e2 + pick * n;
      double md = 0, s2 = 0, mse = 0;
      for (int64_t i = 0; i < n; i++) {
        md += e[i] - ep[i];
        mse += e[i];
      }
      md /= n;
      for (int64_t i = 0; i < n; i++) s2 += (e[i] - ep[i] - md) * (e[i] - ep[i] - md);
      double se = sqrt(s2 / (n - 1) / n), gm, gs;
      cr_assert(bfcr_model_shrink_diff(m, g, L, &gm, &gs));
      /* the SE is computed where the candidate can pass (dMSE < 0), else NaN */
      cr_assert(fabs(gm - md) <= 1e-9 * (fabs(md) + mse / n) &&
                    (gm >= 0 ? isnan(gs) : fabs(gs - se) <= 1e-6 * (se + 1e-12)),
                "lambda %g level %d: diff %.17g vs %.17g, SE %.17g vs %.17g", lam, L, gm, md, gs,
                se);
      if (md < -se) {
        npass++;
        if (mse < bc) {
          bc = mse;
          want_l = L;
          want_lam = lam;
        }
      }
    }
  }
  double lam_m;
  bfcr_model_shrink(m, &lam_m, 0, 0, NULL, NULL);
  cr_assert(bfcr_model_chosen_level(m) == want_l && lam_m == want_lam,
            "chosen level %d lambda %g, want %d %g (%d candidates pass)",
            bfcr_model_chosen_level(m), lam_m, want_l, want_lam, npass);
  /* the pick's own entries are no candidates */
  double gm = 0, gs = 0;
  bfcr_model_shrink_diff(m, 0, pick, &gm, &gs);
  cr_assert(isnan(gm) && isnan(gs));
  bfcr_model_destroy(&h);
  free(e2);
  for (int l = 1; l <= T; l++) free(fm[l]);
  free(fm);
  free(fold);
  free(w2);
  free(nn);
  free(Z);
  bfcr_tree_free(t);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
  return npass;
}

/* Two tiny sets: on the first no shrinkage candidate beats hard routing by one SE (hard
 * routing stays), on the second one does and replaces it. */
Test(shrink, cv_table_matches_a_direct_computation) {
  cr_assert_eq(cv_table_direct(3, 21), 0);
  cr_assert_gt(cv_table_direct(6, 5), 0);
}

Test(shrink, model_file_round_trip_and_older_files) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 600, 3, 5, 0.3, 4, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.shrink = 16;
  bfcr_model *m = tu_fit(ctx, data, &p), *back = NULL;
  cr_assert(m->shrink_ng == 2);
  back = tu_model_round_trip(ctx, m, BFCR_MODEL_MINOR_NO_GLEV); /* no GLEV: written as 1.3 */
  cr_assert(back->shrink_lambda == m->shrink_lambda && back->params.shrink == 16);
  cr_assert(back->shrink_ng == 2 &&
            memcmp(back->shrink_rmse, m->shrink_rmse, 2 * m->nlevels * sizeof(double)) == 0);
  double *a = predict(ctx, m, data), *c = predict(ctx, back, data);
  cr_assert(memcmp(a, c, bfcr_data_local_rows(data) * sizeof *a) == 0);
  free(a);
  free(c);
  bfcr_model_destroy(&back);
  /* A model without shrinkage written as format 1.2 (no SHRK): loads, hard routing. */
  p.shrink = 0;
  bfcr_model *h = tu_fit(ctx, data, &p);
  back = tu_model_as_minor(ctx, h, 2);
  cr_assert(back->shrink_lambda == 0 && back->params.shrink == 0 && !back->shrink_grid);
  a = predict(ctx, h, data);
  c = predict(ctx, back, data);
  cr_assert(memcmp(a, c, bfcr_data_local_rows(data) * sizeof *a) == 0);
  free(a);
  free(c);
  bfcr_model_destroy(&back);
  bfcr_model_destroy(&h);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}
