/* Public read-only accessors of a fitted (or loaded) model. None is collective: every
 * rank holds the whole model. */
#include <math.h>
#include <stddef.h>

#include "model/model_impl.h"

void bfcr_model_destroy(bfcr_model **model) {
  if (!model) return;
  bfcr_model_free(*model);
  *model = NULL;
}

const bfcr_schema *bfcr_model_schema(const bfcr_model *model) {
  return model ? model->schema : NULL;
}

int bfcr_model_num_levels(const bfcr_model *model) {
  return model ? model->nlevels : 0;
}

bfcr_status bfcr_model_level_info(const bfcr_model *model, int level, bfcr_level_info *info) {
  if (!model || !info || level < 0 || level >= model->nlevels) return BFCR_ERR_ARG;
  *info = model->levels[level];
  return BFCR_OK;
}

int bfcr_model_chosen_level(const bfcr_model *model) {
  return model ? model->chosen : -1;
}

int64_t bfcr_model_clusters(const bfcr_model *model) {
  return model ? model->k : 0;
}

const bfcr_fit_params *bfcr_model_params(const bfcr_model *model) {
  return model ? &model->params : NULL;
}

/* The model predicts y = b + sum_j w_j z_j with z_j = (x_j - mean_j) / scale_j, so in
 * original units the weights are w_j / scale_j and the intercept absorbs the shifts:
 * b - sum_j w_j mean_j / scale_j (summed in feature order, so the value is fixed). */
bfcr_status bfcr_model_cluster(const bfcr_model *model, int64_t c, double *coef, int64_t *size,
                               double *lambda, int *rank) {
  if (!model || c < 0 || c >= model->k) return BFCR_ERR_ARG;
  const bfcr_cluster_model *cm = &model->cm[c];
  if (coef) {
    const double *w = model->w + c * (int64_t)model->d;
    double b = cm->intercept;
    for (int j = 0; j < model->d; j++) {
      coef[j] = w[j] / model->scale[j];
      b -= w[j] * model->mean[j] / model->scale[j];
    }
    coef[model->d] = b;
  }
  if (size) *size = cm->size;
  if (lambda) *lambda = cm->lambda;
  if (rank) *rank = cm->rank;
  return BFCR_OK;
}

int64_t bfcr_model_pieces(const bfcr_model *model) {
  return model ? model->npieces : 0;
}

void bfcr_model_train_scores(const bfcr_model *model, double *rmse, double *mae, double *r2) {
  if (rmse) *rmse = model ? model->train_rmse : NAN;
  if (mae) *mae = model ? model->train_mae : NAN;
  if (r2) *r2 = model ? model->train_r2 : NAN;
}

int bfcr_model_cv(const bfcr_model *m, int level, double *rmse, double *se, int *best_level) {
  if (rmse) *rmse = NAN;
  if (se) *se = NAN;
  if (best_level) *best_level = -1;
  if (!m || !m->cv_rmse) return 0;
  if (level >= 0 && level < m->nlevels) {
    if (rmse) *rmse = m->cv_rmse[level];
    if (se) *se = m->cv_se[level];
  }
  if (best_level) *best_level = m->cv_best;
  return m->cv_folds;
}

int bfcr_model_shrink(const bfcr_model *m, double *lambda, int g, int level, double *grid_lambda,
                      double *rmse) {
  if (lambda) *lambda = m ? m->shrink_lambda : 0.0;
  if (grid_lambda) *grid_lambda = NAN;
  if (rmse) *rmse = NAN;
  if (!m || !m->shrink_grid) return 0;
  if (g >= 0 && g < m->shrink_ng) {
    if (grid_lambda) *grid_lambda = m->shrink_grid[g];
    if (rmse && level >= 0 && level < m->nlevels) *rmse = m->shrink_rmse[g * m->nlevels + level];
  }
  return m->shrink_ng;
}

int bfcr_model_shrink_diff(const bfcr_model *m, int g, int level, double *dmse, double *se) {
  if (dmse) *dmse = NAN;
  if (se) *se = NAN;
  if (!m || !m->shrink_dse || g < 0 || g >= m->shrink_ng || level < 0 || level >= m->nlevels)
    return 0;
  if (dmse) *dmse = m->shrink_dmse[g * m->nlevels + level];
  if (se) *se = m->shrink_dse[g * m->nlevels + level];
  return 1;
}

int bfcr_model_cv_kernel(const bfcr_model *m, int level, double *rmse, double *dmse, double *se,
                         double *cost) {
  if (rmse) *rmse = NAN;
  if (dmse) *dmse = NAN;
  if (se) *se = NAN;
  if (cost) *cost = NAN;
  if (!m || !m->kcv_state) return -1;
  if (level == 0 && cost) *cost = m->kcv_cost[0];
  if (level < 1 || level >= m->nlevels) return 0;
  if (rmse) *rmse = m->kcv_rmse[level];
  if (dmse) *dmse = m->kcv_dmse[level];
  if (se) *se = m->kcv_dse[level];
  if (cost) *cost = m->kcv_cost[level];
  return m->kcv_state[level];
}

int bfcr_model_cv_small(const bfcr_model *m, int level, double *rmse, double *dmse, double *se,
                        double *lambda) {
  if (rmse) *rmse = NAN;
  if (dmse) *dmse = NAN;
  if (se) *se = NAN;
  if (lambda) *lambda = NAN;
  if (!m || !m->scv_state || !m->scv_rmse) return -1;
  if (m->scv_state == 2) return -2;
  if (level == 0 && rmse) *rmse = m->scv_pick_rmse;
  if (level >= 1 && level < m->nlevels) {
    if (rmse) *rmse = m->scv_rmse[level];
    if (dmse) *dmse = m->scv_dmse[level];
    if (se) *se = m->scv_dse[level];
    if (lambda) *lambda = m->scv_lambda[level];
  }
  return m->scv_state == 3 ? -3 : m->scv_pick;
}
