/* Small-cluster policy candidates of the CV (lib/model/cv_small.c): on many tiny clusters
 * whose own slopes differ from their parents' the shrink policy must win (the ancestor
 * policy gives every cluster under d + 2 rows its parent's model); on a set whose clusters
 * are large and share the parents' structure it must not; a policy given explicitly is
 * never replaced; the figures do not depend on the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "model/model_impl.h"
#include "testutil.h"

/* S super-groups of g groups of r rows each, d features: super-group centres uniform in
 * [-40, 40]^d, group centres within 5 of theirs, rows within 0.5 of the group's centre.
 * Target: the super-group's own level and slope on x1 (what clusters at the super-group
 * level capture, and a global linear model cannot), plus the group's own slope on x0
 * (uniform in [-3, 3]) times the offset from its centre, plus noise of sd about sig. */
static bfcr_data *tiny_groups(bfcr_ctx *ctx, int S, int g, int r, int d, double sig,
                              uint64_t seed) {
  int64_t n = (int64_t)S * g * r;
  double *X = malloc(sizeof(double) * (size_t)(d * n)), *y = malloc(sizeof(double) * (size_t)n);
  double *cs = malloc(sizeof(double) * (size_t)(2 * d)), *c = cs + d;
  uint64_t s = seed;
  int64_t i = 0;
  for (int u = 0; u < S; u++) {
    for (int j = 0; j < d; j++) cs[j] = 80 * tu_unif(&s) - 40;
    double lev = 40 * tu_unif(&s) - 20, b1 = 4 * tu_unif(&s) - 2;
    for (int a = 0; a < g; a++) {
      for (int j = 0; j < d; j++) c[j] = cs[j] + 10 * tu_unif(&s) - 5;
      double slope = 6 * tu_unif(&s) - 3;
      for (int q = 0; q < r; q++, i++) {
        double e = 0.0;
        for (int j = 0; j < d; j++) X[i * d + j] = c[j] + tu_unif(&s) - 0.5;
        for (int k = 0; k < 12; k++) e += tu_unif(&s);
        y[i] = lev + b1 * (X[i * d + 1] - cs[1]) + slope * (X[i * d] - c[0]) + sig * (e - 6.0);
      }
    }
  }
  bfcr_data *dt = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &dt), BFCR_OK);
  free(X);
  free(y);
  free(cs);
  return dt;
}

static void ridge_params(bfcr_fit_params *p) {
  bfcr_fit_params_init(p);
  p->select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
}

Test(cv_small, shrink_wins_on_tiny_clusters_with_own_slopes) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = tiny_groups(ctx, 8, 12, 6, 4, 0.05, 7);
  bfcr_fit_params p;
  ridge_params(&p);
  cr_assert_eq(p.small, BFCR_SMALL_AUTO);
  bfcr_model *m[2];
  for (int r = 0; r < 2; r++) {
    cr_assert_eq(bfcr_ctx_set_threads(ctx, r + 1), BFCR_OK);
    m[r] = tu_fit(ctx, dt, &p);
  }
  double pr = NAN, rm = NAN, dm = NAN, se = NAN, lam = NAN;
  int pick = bfcr_model_cv_small(m[0], 0, &pr, NULL, NULL, NULL);
  cr_assert(pick >= 1, "shrink not chosen (%d), ancestor pick CV RMSE %g", pick, pr);
  bfcr_model_cv_small(m[0], pick, &rm, &dm, &se, &lam);
  cr_assert(dm < -se && rm < pr, "dMSE %g SE %g RMSE %g vs %g", dm, se, rm, pr);
  cr_assert(lam > 0);
  cr_assert_eq(m[0]->chosen, pick);
  cr_assert_eq(m[0]->shrink_lambda, 0.0);
  cr_assert_eq(bfcr_model_params(m[0])->small, BFCR_SMALL_SHRINK);
  cr_assert_eq(bfcr_model_params(m[0])->min_cluster_size, 2);
  cr_assert_eq(bfcr_model_params(m[0])->level, 0); /* the user's parameters, CV record kept */
  cr_assert_eq(bfcr_model_cv(m[0], 0, NULL, NULL, NULL), 5);
  /* The refitted model predicts the training rows far better than the ancestor pick's
   * out-of-fold error (the shrink models are the fitted ones). */
  double rmse = NAN;
  bfcr_model_train_scores(m[0], &rmse, NULL, NULL);
  cr_assert(rmse < pr, "train RMSE %g, ancestor CV RMSE %g", rmse, pr);
  /* Threads: the same choice and figures. */
  double rm1 = NAN, dm1 = NAN, se1 = NAN;
  cr_assert_eq(bfcr_model_cv_small(m[1], pick, &rm1, &dm1, &se1, NULL), pick);
  cr_assert(rm1 == rm && dm1 == dm && se1 == se, "threads: %.17g %.17g %.17g vs %.17g %.17g %.17g",
            rm1, dm1, se1, rm, dm, se);
  cr_assert_eq(m[1]->chosen, m[0]->chosen);
  for (int r = 0; r < 2; r++) bfcr_model_destroy(&m[r]);
  /* Given explicitly, the policy stays: no candidates. */
  p.small = BFCR_SMALL_ANCESTOR;
  m[0] = tu_fit(ctx, dt, &p);
  cr_assert_eq(bfcr_model_cv_small(m[0], 0, NULL, NULL, NULL, NULL), -1);
  cr_assert_eq(bfcr_model_params(m[0])->small, BFCR_SMALL_ANCESTOR);
  bfcr_model_destroy(&m[0]);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}

Test(cv_small, ancestor_kept_when_clusters_share_the_parents_structure) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = tu_smooth(ctx, 300, 4, 1.0, 2.0, 3);
  bfcr_fit_params p;
  ridge_params(&p);
  bfcr_model *m = tu_fit(ctx, dt, &p);
  int T = m->nlevels - 1;
  cr_assert(m->chosen < T, "the pick is the top: no candidates to compare");
  cr_assert_eq(bfcr_model_cv_small(m, 0, NULL, NULL, NULL, NULL), 0);
  cr_assert_eq(bfcr_model_params(m)->small, BFCR_SMALL_ANCESTOR);
  int scored = 0;
  for (int l = 1; l < T; l++) {
    double rm, dm, se;
    bfcr_model_cv_small(m, l, &rm, &dm, &se, NULL);
    if (isnan(rm)) continue;
    scored++;
    cr_assert(!(dm < -se), "level %d passes: dMSE %g SE %g", l, dm, se);
  }
  cr_assert(scored == T - 1, "%d of %d levels scored", scored, T - 1);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}
