/* Honest check of the CV pick against the global model (lib/model/cv_honest.c): on a small
 * nearly linear set the shared-tree CV picks a clustered level that a tree built per fold
 * does not confirm, so the fit falls back to the global model; on a clearly piecewise set
 * the pick is confirmed and kept; the check's figures do not depend on the thread count. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "model/model_impl.h"
#include "testutil.h"

static void ridge_params(bfcr_fit_params *p) {
  bfcr_fit_params_init(p);
  p->select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p->shrink = 0;                               /* hard routing */
}

Test(cv_honest, overturns_a_shared_tree_pick_on_a_small_set) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = tu_smooth(ctx, 80, 4, 1.0, 1.0, 10);
  bfcr_fit_params p;
  ridge_params(&p);
  bfcr_model *m = tu_fit(ctx, dt, &p);
  int T = m->nlevels - 1;
  /* The shared-tree CV picked a clustered level ... */
  cr_assert(m->hcv_state != 0, "the honest check did not run");
  cr_assert(m->hcv_level >= 1 && m->hcv_level < T, "shared-tree pick %d of %d", m->hcv_level, T);
  /* ... which a tree per fold finds no better than the global model: the global model. */
  cr_assert(!(m->hcv_dmse < -m->hcv_dse), "dMSE %g SE %g", m->hcv_dmse, m->hcv_dse);
  cr_assert_eq(m->hcv_state, 2);
  cr_assert_eq(m->chosen, T, "chosen %d, top %d", m->chosen, T);
  cr_assert_eq(m->shrink_lambda, 0.0);
  /* The shared-tree table still shows the pick beating the top level (the optimism). */
  cr_assert(m->cv_rmse[m->hcv_level] < m->cv_rmse[T], "%g vs %g", m->cv_rmse[m->hcv_level],
            m->cv_rmse[T]);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}

Test(cv_honest, keeps_a_confirmed_pick_and_is_thread_invariant) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = tu_smooth(ctx, 300, 4, 1.0, 2.0, 3);
  bfcr_fit_params p;
  ridge_params(&p);
  bfcr_model *m[2];
  for (int r = 0; r < 2; r++) {
    cr_assert_eq(bfcr_ctx_set_threads(ctx, r + 1), BFCR_OK);
    m[r] = tu_fit(ctx, dt, &p);
  }
  int T = m[0]->nlevels - 1;
  cr_assert_eq(m[0]->hcv_state, 1, "state %d (dMSE %g SE %g)", m[0]->hcv_state, m[0]->hcv_dmse,
               m[0]->hcv_dse);
  cr_assert(m[0]->chosen == m[0]->hcv_level && m[0]->chosen < T);
  cr_assert(m[0]->hcv_dmse < -m[0]->hcv_dse);
  cr_assert_eq(m[1]->hcv_state, m[0]->hcv_state);
  cr_assert_eq(m[1]->chosen, m[0]->chosen);
  cr_assert(m[1]->hcv_dmse == m[0]->hcv_dmse && m[1]->hcv_dse == m[0]->hcv_dse,
            "threads: %.17g %.17g vs %.17g %.17g", m[1]->hcv_dmse, m[1]->hcv_dse, m[0]->hcv_dmse,
            m[0]->hcv_dse);
  for (int r = 0; r < 2; r++) bfcr_model_destroy(&m[r]);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}

Test(cv_honest, not_run_when_the_pick_is_global_or_fixed) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *dt = tu_smooth(ctx, 120, 3, 0.5, 0.0, 1); /* linear: the CV keeps one model */
  bfcr_fit_params p;
  ridge_params(&p);
  bfcr_model *m = tu_fit(ctx, dt, &p);
  cr_assert_eq(m->chosen, m->nlevels - 1);
  cr_assert_eq(m->hcv_state, 0);
  bfcr_model_destroy(&m);
  p.level = 1; /* a fixed level: no CV, no check */
  m = tu_fit(ctx, dt, &p);
  cr_assert_eq(m->chosen, 1);
  cr_assert_eq(m->hcv_state, 0);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&dt);
  tu_ctx_free(&ctx);
}
