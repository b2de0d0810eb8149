/* Kernel ridge candidates of the cross-validated selection (cv_kernel.c). */
#ifndef BFCR_MODEL_CV_KERNEL_H
#define BFCR_MODEL_CV_KERNEL_H

#include "core/zsrc.h"
#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Default budget of the kernel candidates, estimated seconds on one core. 7 since the
 * cost model was re-measured (krr.h, bfcr_krr_fit_cost_ns): the former model
 * overestimated the fold fits by about 1.5x, so its 10 s are about 7 s of this one, the
 * same actual time; and a 1M x 8 fit keeps every level skipped (level 1: 1.24 s + 6.5 s
 * fixed > 7 s), so its default model and time are unchanged (docs/accuracy.md). */
#define BFCR_KCV_BUDGET_DEFAULT 7.0

/* Estimated cost (seconds, one core) of the KRR candidate at level l with K folds: the
 * fold fits (0.8 K x bfcr_krr_fit_cost_ns per piece of m rows: krr.h's measured model,
 * times the 0.8 measured for the fold fits) and the held-out predictions (1.5 m (2 d + 20)
 * ns per row); -1 when no cluster of the level is large enough for a kernel model (the candidate
 * would be the ridge one). Local; the same on every rank (the tree's node sizes are replicated). */
double bfcr_cv_kernel_level_cost(const bfcr_tree *t, int l, int K, int64_t minsize, int64_t cap);

/* After bfcr_cv_select (m->chosen, m->cv_folds, m->shrink_lambda set by the ridge CV):
 * when p->select_regressors has KRR and p->regressor is ridge, score the KRR candidates
 * of the levels that fit p->kernel_budget by refitting every cluster's KRR pieces per fold
 * from the rows outside the fold (each with its own GCV choice), routing each held-out row
 * as the ridge CV does and guarding as predict guards; the best candidate replaces the
 * ridge pick only when its paired mean difference of squared errors is below minus its
 * standard error. Then m->chosen is its level, p->regressor KRR and m->shrink_lambda 0.
 * Writes m->kcv_*. y: local targets (target units). Collective with several ranks (rows
 * gathered on every rank, the KRR fold fits divided over the ranks, per-row errors
 * combined exactly); status agreed. */
bfcr_status bfcr_cv_kernel(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const double *y, int64_t n_local,
                           bfcr_fit_params *p, bfcr_model *m);

/* Several ranks: every rank's standardized rows (*Zo, n x d) and targets (*Yo, n), in row
 * order, on every rank (the caller frees them). Collective; status agreed before the
 * exchanges. */
bfcr_status bfcr_cv_gather_rows(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y, int64_t nl,
                                int64_t n, int d, double **Zo, double **Yo);

#endif
