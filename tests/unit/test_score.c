/* bfcr_score on one rank: hand-computed RMSE, MAE and R^2, conventions and errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "testutil.h"

Test(score, hand_values) {
  bfcr_ctx *ctx = tu_ctx();
  const double t[4] = {1, 2, 3, 4}, p[4] = {1, 2, 3, 5};
  double rmse = -1, mae = -1, r2 = -1;
  cr_assert_eq(bfcr_score(ctx, t, p, 4, &rmse, &mae, &r2), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  /* e = (0, 0, 0, -1): SSE 1, SAE 1; mean 2.5, SST 2.25 + 0.25 + 0.25 + 2.25 = 5. */
  cr_expect_eq(rmse, 0.5);
  cr_expect_eq(mae, 0.25);
  cr_expect_float_eq(r2, 0.8, 1e-15);

  const double t2[3] = {2, 4, 9}, p2[3] = {3, 1, 9};
  /* e = (-1, 3, 0): SSE 10, SAE 4; mean 5, SST 9 + 1 + 16 = 26. */
  cr_assert_eq(bfcr_score(ctx, t2, p2, 3, &rmse, &mae, &r2), BFCR_OK);
  cr_expect_float_eq(rmse, sqrt(10.0 / 3), 1e-15);
  cr_expect_float_eq(mae, 4.0 / 3, 1e-15);
  cr_expect_float_eq(r2, 1 - 10.0 / 26, 1e-15);
  tu_ctx_free(&ctx);
}

Test(score, perfect_mean_and_worse_than_mean) {
  bfcr_ctx *ctx = tu_ctx();
  const double t[4] = {1, 2, 3, 4}, mean[4] = {2.5, 2.5, 2.5, 2.5}, rev[4] = {4, 3, 2, 1};
  double rmse, mae, r2;
  cr_assert_eq(bfcr_score(ctx, t, t, 4, &rmse, &mae, &r2), BFCR_OK);
  cr_expect_eq(rmse, 0.0);
  cr_expect_eq(mae, 0.0);
  cr_expect_eq(r2, 1.0);
  cr_assert_eq(bfcr_score(ctx, t, mean, 4, &rmse, &mae, &r2), BFCR_OK);
  cr_expect_eq(r2, 0.0);
  cr_expect_eq(mae, 1.0);
  /* Reversed: SSE 9 + 1 + 1 + 9 = 20, R^2 = 1 - 20 / 5 = -3. */
  cr_assert_eq(bfcr_score(ctx, t, rev, 4, &rmse, &mae, &r2), BFCR_OK);
  cr_expect_eq(r2, -3.0);
  cr_expect_eq(rmse, sqrt(5.0));
  tu_ctx_free(&ctx);
}

Test(score, constant_truth_convention) {
  bfcr_ctx *ctx = tu_ctx();
  const double t[3] = {7, 7, 7}, off[3] = {7, 8, 7};
  double r2 = -1;
  cr_assert_eq(bfcr_score(ctx, t, t, 3, NULL, NULL, &r2), BFCR_OK);
  cr_expect_eq(r2, 1.0);
  cr_assert_eq(bfcr_score(ctx, t, off, 3, NULL, NULL, &r2), BFCR_OK);
  cr_expect_eq(r2, 0.0);
  tu_ctx_free(&ctx);
}

/* Summing about the mean keeps R^2 accurate on a large offset, where the one-pass
 * formula sum t^2 - n mean^2 loses every digit. */
Test(score, large_offset_is_accurate) {
  bfcr_ctx *ctx = tu_ctx();
  double t[4], p[4];
  for (int i = 0; i < 4; i++) t[i] = 1e9 + (i + 1), p[i] = t[i];
  p[3] += 1;
  double rmse, mae, r2;
  cr_assert_eq(bfcr_score(ctx, t, p, 4, &rmse, &mae, &r2), BFCR_OK);
  cr_expect_float_eq(r2, 0.8, 1e-12);
  cr_expect_eq(rmse, 0.5);
  tu_ctx_free(&ctx);
}

Test(score, non_finite_names_the_row) {
  bfcr_ctx *ctx = tu_ctx();
  double t[5] = {1, 2, 3, 4, 5}, p[5] = {1, 2, 3, 4, 5};
  double rmse = 123;
  p[3] = NAN;
  cr_expect_eq(bfcr_score(ctx, t, p, 5, &rmse, NULL, NULL), BFCR_ERR_INPUT);
  cr_expect(strstr(bfcr_ctx_errmsg(ctx), "row 4, prediction") != NULL, "%s", bfcr_ctx_errmsg(ctx));
  cr_expect_eq(rmse, 123, "outputs untouched on error");
  p[3] = 4;
  t[1] = -INFINITY;
  cr_expect_eq(bfcr_score(ctx, t, p, 5, &rmse, NULL, NULL), BFCR_ERR_INPUT);
  cr_expect(strstr(bfcr_ctx_errmsg(ctx), "row 2, truth") != NULL, "%s", bfcr_ctx_errmsg(ctx));
  tu_ctx_free(&ctx);
}

Test(score, bad_arguments_and_overflow) {
  bfcr_ctx *ctx = tu_ctx();
  const double t[2] = {1, 2}, big[2] = {1e300, -1e300}, huge[2] = {1.7e308, -1.7e308};
  double r;
  cr_expect_eq(bfcr_score(ctx, t, NULL, 2, &r, NULL, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_score(ctx, t, t, -1, &r, NULL, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_score(ctx, NULL, NULL, 0, &r, NULL, NULL), BFCR_ERR_INPUT);
  cr_expect(strstr(bfcr_ctx_errmsg(ctx), "0 rows") != NULL, "%s", bfcr_ctx_errmsg(ctx));
  /* errors of 1e300 are scored in range (squares summed in units of the largest) */
  cr_expect_eq(bfcr_score(ctx, t, big, 2, &r, NULL, NULL), BFCR_OK);
  cr_expect(fabs(r - 1e300) <= 1e285, "%g", r);
  /* an error that itself overflows is reported */
  cr_expect_eq(bfcr_score(ctx, huge, big, 2, &r, NULL, NULL), BFCR_OK);
  const double neg[2] = {-1.7e308, 1.7e308};
  cr_expect_eq(bfcr_score(ctx, huge, neg, 2, &r, NULL, NULL), BFCR_ERR_NUMERIC);
  cr_expect_eq(bfcr_score(NULL, t, t, 2, &r, NULL, NULL), BFCR_ERR_ARG);
  tu_ctx_free(&ctx);
}
