/* Fit and predict through the public API on seeded synthetic data. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/model_impl.h"
#include "testutil.h"

static double rmse_of(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data, double *pred) {
  cr_assert_eq(bfcr_predict(ctx, m, data, pred), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  double rmse;
  cr_assert_eq(
      bfcr_score(ctx, bfcr_data_y(data), pred, bfcr_data_local_rows(data), &rmse, NULL, NULL),
      BFCR_OK);
  return rmse;
}

Test(fit, recovers_noise_free_piecewise_linear_with_ols) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 4000, 3, 4, 0.0, 3, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.regressor = BFCR_REG_OLS;
  p.criterion = BFCR_CRIT_HCI;
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  /* clusters at the chosen level nest inside the 4 blobs, so each linear piece is exact */
  double *pred = malloc(4000 * sizeof *pred);
  double rmse = rmse_of(ctx, m, data, pred);
  cr_assert(rmse < 1e-8, "rmse %g at level %d (%ld clusters)", rmse, bfcr_model_chosen_level(m),
            (long)bfcr_model_clusters(m));
  free(pred);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(fit, noisy_regression_beats_global_model) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 5000, 4, 8, 0.5, 5, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  bfcr_model *m = NULL, *g = NULL;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  p.level = bfcr_model_num_levels(m) - 1;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &g), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  double *pred = malloc(5000 * sizeof *pred);
  double r_m = rmse_of(ctx, m, data, pred), r_g = rmse_of(ctx, g, data, pred), r2;
  cr_assert_eq(bfcr_score(ctx, bfcr_data_y(data), pred, 5000, NULL, NULL, &r2), BFCR_OK);
  cr_assert(r_m < 0.5 * r_g, "clustered %g vs global %g", r_m, r_g);
  cr_assert(r_m < 1.0, "rmse %g (noise 0.5)", r_m);
  free(pred);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&g);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(fit, threads_give_identical_models_and_predictions) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 6000, 5, 6, 0.3, 9, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  bfcr_model *a = NULL, *b = NULL;
  double *pa = malloc(6000 * sizeof *pa), *pb = malloc(6000 * sizeof *pb);
  for (int routing = 0; routing < 2; routing++) {
    p.routing = routing ? BFCR_ROUTE_SAMPLE : BFCR_ROUTE_CENTROID;
    bfcr_ctx_set_threads(ctx, 1);
    cr_assert_eq(bfcr_fit(ctx, data, &p, &a), BFCR_OK);
    cr_assert_eq(bfcr_predict(ctx, a, data, pa), BFCR_OK);
    bfcr_ctx_set_threads(ctx, 2);
    cr_assert_eq(bfcr_fit(ctx, data, &p, &b), BFCR_OK);
    cr_assert_eq(bfcr_predict(ctx, b, data, pb), BFCR_OK);
    cr_assert_eq(a->chosen, b->chosen);
    cr_assert_eq(a->k, b->k);
    cr_assert_arr_eq(a->w, b->w, a->k * a->d * sizeof(double));
    cr_assert_arr_eq(a->centroids, b->centroids, a->k * a->d * sizeof(double));
    cr_assert_arr_eq(pa, pb, 6000 * sizeof(double));
    bfcr_model_destroy(&a);
    bfcr_model_destroy(&b);
  }
  free(pa);
  free(pb);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(fit, save_load_gives_identical_predictions) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 3000, 3, 5, 0.2, 21, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.routing = BFCR_ROUTE_SAMPLE;
  bfcr_model *m = NULL, *l = NULL;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_OK);
  const char *path = tu_write_file("fit.model", "", 0);
  cr_assert_eq(bfcr_model_save(ctx, m, path), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_load(ctx, path, &l), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  double *pa = malloc(3000 * sizeof *pa), *pb = malloc(3000 * sizeof *pb);
  cr_assert_eq(bfcr_predict(ctx, m, data, pa), BFCR_OK);
  cr_assert_eq(bfcr_predict(ctx, l, data, pb), BFCR_OK);
  cr_assert_arr_eq(pa, pb, 3000 * sizeof(double));
  /* routing by training rows: the training rows are routed to their own clusters */
  int64_t *lab = malloc(3000 * sizeof *lab);
  cr_assert_eq(bfcr_model_assign(ctx, l, data, lab), BFCR_OK);
  for (int64_t i = 0; i < 3000; i++) cr_assert_eq(lab[i], m->train_label[i]);
  free(lab);
  free(pa);
  free(pb);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&l);
  bfcr_data_destroy(&data);
  tu_ctx_free(&ctx);
}

Test(fit, errors_name_the_problem) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = tu_blobs(ctx, 500, 3, 3, 0.2, 2, NULL),
            *other = tu_blobs(ctx, 10, 4, 2, 0.1, 2, NULL);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.level = 99;
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_ERR_ARG);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "level 99 does not exist"), "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_null(m);
  p.level = 0;
  cr_assert_eq(bfcr_fit(ctx, data, &p, &m), BFCR_OK);
  double pred[10];
  cr_assert_eq(bfcr_predict(ctx, m, other, pred), BFCR_ERR_INPUT);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "expects 3 features, got 4"), "%s", bfcr_ctx_errmsg(ctx));
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&data);
  bfcr_data_destroy(&other);
  tu_ctx_free(&ctx);
}
