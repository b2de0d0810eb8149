/* Cross-validation of hierarchical shrinkage candidates (cv_shrink.c). */
#ifndef BFCR_MODEL_CV_SHRINK_H
#define BFCR_MODEL_CV_SHRINK_H

#include "model/model_impl.h"
#include "tree/tree.h"

/* Score hierarchical shrinkage candidates (lambda, level) by the same K-fold CV as the
 * levels (cv.c) and keep the best when it beats hard routing at the chosen level.
 * Input: the fold models fm[l] (l = 1..top, [m_l * K * (d + 3)]: weights, intercept,
 * target min, max), and n_local rows (this rank's; all rows while the CV replicates
 * them): standardized Z, targets Y, fold, level-1 node of the row itself (own1: its fold
 * counts give each node's training part) and of its routing row (route1: its held-out
 * path). n_global: all rows. dist = 0: the caller holds all n_global rows (one rank, or
 * rows replicated on every rank): local; dist = 1: each rank passes its own rows and the
 * call is collective (fold counts and sums combined over the ranks). m->chosen holds the level
 * chosen with hard routing; on return m->chosen, m->shrink_lambda and the table m->shrink_* are set
 * (nothing when p->shrink == 0, for kernel regressors, or with fewer than two levels). Counts are
 * integer sums and the squared errors are summed exactly (lib/par/xsum.h), so the table
 * and the choice are the same for any thread or rank count. BFCR_ERR_NOMEM, and with
 * dist = 1 BFCR_ERR_MPI, agreed over the ranks only through the exact sums' opening
 * agreement (callers agree after). */
bfcr_status bfcr_cv_shrink(bfcr_ctx *ctx, const bfcr_tree *t, double *const *fm, int K,
                           int64_t n_local, int64_t n_global, const double *Z, const double *Y,
                           const int *fold, const int64_t *own1, const int64_t *route1, int dist,
                           const bfcr_fit_params *p, bfcr_model *m);

#endif
