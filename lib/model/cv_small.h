/* Small-cluster policy candidates of the cross-validated selection (cv_small.c). */
#ifndef BFCR_MODEL_CV_SMALL_H
#define BFCR_MODEL_CV_SMALL_H

#include "model/model_impl.h"
#include "tree/tree.h"

/* Budget: the candidates are scored when n x K <= this many rows (they run on the rows
 * replicated on every rank, as the kernel candidates do; above it the default ancestor
 * policy stays and the log says so). */
#ifndef BFCR_CV_SMALL_MAX_ROWS
#define BFCR_CV_SMALL_MAX_ROWS 500000
#endif

/* Whether the shrink-policy candidates are wanted: p->small is BFCR_SMALL_AUTO, ridge with
 * one penalty per level, the level chosen by the CV (m->chosen >= 1, two levels or more)
 * and the honest check did not replace the pick by the global model. Local. */
int bfcr_cv_small_wanted(const bfcr_fit_params *p, const bfcr_model *m, int nlevels);

/* Score BFCR_SMALL_SHRINK (every node's ridge shrunk toward its parent's model, min size
 * 2, each level's penalty by the policy's own pooled GCV on all rows) at every level below
 * the top, hard routing, against the pick (ancestor policy, its level and shrinkage) whose
 * per-row squared errors p2 the caller computed. Same folds (fold), same routing rows
 * (route1: level-1 node of each row's routing row), the same global fold models (fm[T]) and
 * guard. t: the tree with every node's centroid and the whole dendrogram order; Z, Y all n
 * rows in row order (target units). A candidate replaces the pick only when its mean
 * paired difference of squared errors is below minus its standard error (the one-SE rule;
 * ties and failures keep the ancestor policy); of those, the lowest CV MSE (ties to the
 * higher level). Then m->chosen = its level, m->shrink_lambda = 0, p->small =
 * BFCR_SMALL_SHRINK, p->min_cluster_size = 2, m->scv_pick = the level and p2 its errors.
 * Writes m->scv_*. The caller (cv_kernel.c) then submits a shrink pick to the honest check
 * (cv_honest.h); on a reversal the ancestor pick is restored and m->scv_state is 3.
 * Local and deterministic (the same on every rank: replicated input). Over the budget
 * (n K > BFCR_CV_SMALL_MAX_ROWS) it only records m->scv_state = 2 and logs, before reading
 * Z, Y, fold, route1, fm or p2: cv_kernel.c calls it so, with those NULL, ahead of the
 * set-up they would need. */
bfcr_status bfcr_cv_small(bfcr_ctx *ctx, const bfcr_tree *t, const double *Z, const double *Y,
                          const int *fold, int K, const int64_t *route1, double *const *fm,
                          double *p2, bfcr_fit_params *p, bfcr_model *m);

/* After a refit of the chosen small policy at the chosen level (fit.c): move the CV
 * record (tables, choice, parameters) of the selecting fit `from` into the refitted model
 * `to`; `from` keeps the refit's (empty) record. */
void bfcr_cv_small_adopt(bfcr_model *from, bfcr_model *to);

#endif
