/* Level selection by K-fold cross-validation (cv.c). */
#ifndef BFCR_MODEL_CV_H
#define BFCR_MODEL_CV_H

#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Fold of each of n rows: the rows sorted by splitmix64(splitmix64(seed) + i) (ties by i)
 * are dealt to folds 0, 1, ..., K-1 in turn, so fold sizes differ by at most one and a
 * row's fold depends on (seed, n, i) only. work4n: 4n words of scratch. Local. */
void bfcr_cv_folds(uint64_t seed, int64_t n, int K, int *fold, int64_t *work4n);

/* Fold models of node c of level l (its training part without fold k, k = 0..K-1): out
 * [K * (d + 3)] = d standardized weights, intercept, target min and max of the part; a
 * part with fewer than minsize rows copies the parent's models par (when given). Local;
 * BFCR_ERR_NOMEM. */
bfcr_status bfcr_cv_node_models(bfcr_ctx *ctx, const bfcr_tree *t, int l, int64_t c,
                                const double *Z, const double *y, const int *fold, int K,
                                int64_t minsize, double lambda, const double *par, double *out);

/* Choose the level by K-fold CV of the ridge models of every level 1..top (lf fitted on
 * levels 1..top, target units). Writes m->chosen, m->cv_rmse, m->cv_se, m->cv_folds.
 * Collective: with ctx->size > 1 the rows, folds, fold models and per-row errors stay
 * distributed (cv_dist.c, O(n / P) per rank) and every sum keeps the one-process order,
 * so the table and the choice are bit-identical for any rank and thread count. Then, on
 * small n, the pick is checked against the global model with a tree per fold
 * (cv_honest.h), which may move m->chosen to the top. */
bfcr_status bfcr_cv_select(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const double *y, int64_t n_local,
                           const bfcr_fit_params *p, bfcr_model *m);

#endif
