/* Hierarchical shrinkage along the routed path (shrink.c). */
#ifndef BFCR_MODEL_SHRINK_H
#define BFCR_MODEL_SHRINK_H

#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Weight of a level's increment over its parent's model: 1 / (1 + lambda / N), N the
 * parent's training rows; lambda = 0 gives 1 (hard routing), N <= 0 gives 0. */
static inline double bfcr_shrink_factor(double lambda, double N) {
  if (lambda == 0.0) return 1.0;
  if (!(N > 0.0)) return 0.0;
  return N / (N + lambda); /* = 1 / (1 + lambda / N), one division */
}

/* Replace the chosen level's models in m (m->w, m->cm[].intercept; lf fitted on levels
 * m->chosen..top) by the shrunk path models: for cluster a_L with ancestors a_{L+1}..a_T,
 *   w = w_T + sum_{l=T-1..L} (w_l(a_l) - w_{l+1}(a_{l+1})) / (1 + lambda / N(a_{l+1})),
 * the same for the intercept, summed from the top down (the order cv_shrink.c scores).
 * lambda = 0 leaves m untouched. Local (lf and the tree are replicated); BFCR_ERR_NOMEM. */
bfcr_status bfcr_shrink_apply(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                              double lambda, bfcr_model *m);

#endif
