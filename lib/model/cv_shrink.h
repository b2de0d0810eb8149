/* Cross-validation of hierarchical shrinkage candidates (cv_shrink.c). */
#ifndef BFCR_MODEL_CV_SHRINK_H
#define BFCR_MODEL_CV_SHRINK_H

#include "model/model_impl.h"
#include "tree/tree.h"

/* out[c] += sum of v[i * ld + c] over rows i = 0..n_rows-1, c = 0..ncol-1, in row order.
 * Every sum over rows of the cross-validation of shrinkage goes through this function
 * (on consecutive chunks of rows, in order; columns may be split between threads): a
 * distributed version must make it canonical across ranks (the same bits for any rank
 * count). Local. */
void bfcr_cv_sum_rows(const double *restrict v, int64_t n_rows, int ncol, int64_t ld,
                      double *restrict out);

/* Score hierarchical shrinkage candidates (lambda, level) by the same K-fold CV as the
 * levels (cv.c) and keep the best when it beats hard routing at the chosen level.
 * Input: the fold models fm[l] (l = 1..top, [m_l * K * (d + 3)]: weights, intercept,
 * target min, max), and n_local rows (this rank's; all rows while the CV replicates
 * them): standardized Z, targets Y, fold, level-1 node of the row itself (own1: its fold
 * counts give each node's training part) and of its routing row (route1: its held-out
 * path). n_global: all rows. m->chosen holds the level chosen with hard routing; on
 * return m->chosen, m->shrink_lambda and the table m->shrink_* are set (nothing when
 * p->shrink == 0, for kernel regressors, or with fewer than two levels). The counts and
 * sums over rows must be canonical across ranks (see bfcr_cv_sum_rows) for the choice to
 * be the same for any rank count. Local; BFCR_ERR_NOMEM. */
bfcr_status bfcr_cv_shrink(bfcr_ctx *ctx, const bfcr_tree *t, double *const *fm, int K,
                           int64_t n_local, int64_t n_global, const double *Z, const double *Y,
                           const int *fold, const int64_t *own1, const int64_t *route1,
                           const bfcr_fit_params *p, bfcr_model *m);

#endif
