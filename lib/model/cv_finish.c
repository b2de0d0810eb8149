/* The end of the cross-validated level selection, one copy for both paths (cv.c with the
 * rows on one process, cv_dist.c with them distributed): whatever differs in how the
 * per-level MSEs were summed, the conversion to the stored RMSE / SE, the bookkeeping of
 * the chosen level and the shrinkage step must be the same code, or the two paths' model
 * files could drift apart. */
#include "model/cv_finish.h"

#include <math.h>

#include "core/ctx.h"

int bfcr_cv_best_level(const double *mse, int T) {
  int best = T;
  for (int l = T; l >= 1; l--)
    if (mse[l] < mse[best]) best = l;
  return best;
}

bfcr_status bfcr_cv_finish(bfcr_ctx *ctx, const bfcr_tree *t, int K, int best, int pick,
                           double t_score, const bfcr_cv_rows *rows, const bfcr_fit_params *p,
                           bfcr_model *m) {
  const int T = t->nlevels - 1;
  double *mse = m->cv_rmse, *se = m->cv_se;
  for (int l = 1; l <= T; l++) { /* RMSE and SE(RMSE) = SE(MSE) / (2 RMSE) */
    double r = sqrt(mse[l]);
    se[l] = r > 0 ? se[l] / (2.0 * r) : 0.0;
    mse[l] = r;
  }
  m->cv_folds = K;
  m->cv_best = best;
  m->chosen = pick;
  bfcr_phase_add(ctx, "cv: scoring", bfcr_wtime() - t_score, 0.0);
  /* Hierarchical shrinkage (cv_shrink.c): the same fold models and routing; may move
   * m->chosen. */
  double t1 = bfcr_wtime();
  bfcr_status st = bfcr_cv_shrink(ctx, t, rows->fmodel, rows->fu, K, rows->n_local, t->n, rows->zs,
                                  rows->y, rows->fold, rows->own1, rows->route1, rows->dist, p, m);
  if (rows->dist) st = bfcr_agree(ctx, st);
  bfcr_phase_add(ctx, "cv: shrinkage", bfcr_wtime() - t1, 0.0);
  return st;
}
