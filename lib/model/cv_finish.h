/* The end of the cross-validated level selection, shared by the replicated path (cv.c)
 * and the distributed one (cv_dist.c): the level choice's bookkeeping and the
 * hierarchical shrinkage hook (cv_finish.c). */
#ifndef BFCR_MODEL_CV_FINISH_H
#define BFCR_MODEL_CV_FINISH_H

#include "core/zsrc.h"
#include "model/cv_shrink.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* The level of lowest CV MSE among mse[1..T]; ties go to the higher level. */
int bfcr_cv_best_level(const double *mse, int T);

/* The rows the shrinkage candidates are scored on, as bfcr_cv_shrink takes them. */
typedef struct bfcr_cv_rows {
  bfcr_cv_fm_fn fmodel; /* fold models on the rows' routing paths */
  const void *fu;
  int64_t n_local;       /* rows passed (this rank's, or all) */
  const bfcr_zsrc *zs;   /* their standardized features (local indices) */
  const double *y;       /* targets */
  const int *fold;       /* folds */
  const int64_t *own1;   /* level-1 node of each row */
  const int64_t *route1; /* level-1 node of each row's routing row */
  int dist;              /* 1: each rank passes its own rows (collective) */
} bfcr_cv_rows;

/* On entry m->cv_rmse[1..T] holds each level's CV MSE and m->cv_se[1..T] its standard
 * error; best = bfcr_cv_best_level's answer, pick = the one-SE rule's level. Stores the
 * RMSE and the SE of the RMSE (delta method: SE(MSE) / (2 RMSE)), the fold count, best
 * and pick (m->chosen), adds the phase "cv: scoring" (from t_score, a bfcr_wtime()
 * value), then runs the shrinkage candidates (bfcr_cv_shrink over the rows, n = t->n),
 * which may move m->chosen, timed as "cv: shrinkage". Collective when rows->dist (the
 * status is then agreed); local otherwise. */
bfcr_status bfcr_cv_finish(bfcr_ctx *ctx, const bfcr_tree *t, int K, int best, int pick,
                           double t_score, const bfcr_cv_rows *rows, const bfcr_fit_params *p,
                           bfcr_model *m);

#endif
