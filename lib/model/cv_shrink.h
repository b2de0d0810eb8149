/* Cross-validation of hierarchical shrinkage candidates (cv_shrink.c). */
#ifndef BFCR_MODEL_CV_SHRINK_H
#define BFCR_MODEL_CV_SHRINK_H

#include "core/zsrc.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Fold model (l, c, k): node c of level l without fold k, CVW(d) = d + 3 doubles (d
 * standardized weights, intercept, target min and max of the training part), asked for
 * row i (local index) whose routing path passes (l, c) and whose fold is k: a table
 * indexed by node reads (c, k), one indexed by row (cv_dist.c's slots) reads (l, i).
 * Called from several threads at once: must only read. */
typedef const double *(*bfcr_cv_fm_fn)(const void *u, int l, int64_t i, int64_t c, int k);
/* The fold models as replicated tables fm[l][(c K + k) (d + 3)] (cv.c). */
typedef struct bfcr_cv_fm_tab {
  double *const *fm;
  int K, d;
} bfcr_cv_fm_tab;
const double *bfcr_cv_fm_table(const void *u, int l, int64_t i, int64_t c, int k);

/* Score hierarchical shrinkage candidates (lambda, level) by the same K-fold CV as the
 * levels (cv.c) and keep the best when it beats hard routing at the chosen level by more
 * than one standard error of the paired per-row difference (the levels' one-SE rule).
 * Input: the fold models through fmodel (every (level, node, fold) on the routing paths of
 * the rows passed), and n_local rows (this rank's; all rows while the CV replicates
 * them): standardized rows zs (local indices), targets Y, fold, level-1 node of the row itself
 * (own1: its fold counts give each node's training part) and of its routing row (route1: its
 * held-out path). n_global: all rows. dist = 0: the caller holds all n_global rows (one rank, or
 * rows replicated on every rank): local; dist = 1: each rank passes its own rows and the
 * call is collective (fold counts and sums combined over the ranks). m->chosen holds the level
 * chosen with hard routing; on return m->chosen, m->shrink_lambda and the table m->shrink_* are set
 * (nothing when p->shrink == 0, for kernel regressors, or with fewer than two levels). Counts are
 * integer sums and the squared errors are summed exactly (lib/par/xsum.h), so the table
 * and the choice are the same for any thread or rank count. BFCR_ERR_NOMEM, and with
 * dist = 1 BFCR_ERR_MPI, agreed over the ranks only through the exact sums' opening
 * agreement (callers agree after). */
bfcr_status bfcr_cv_shrink(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_cv_fm_fn fmodel, const void *fu,
                           int K, int64_t n_local, int64_t n_global, const bfcr_zsrc *zs,
                           const double *Y, const int *fold, const int64_t *own1,
                           const int64_t *route1, int dist, const bfcr_fit_params *p,
                           bfcr_model *m);

#endif
