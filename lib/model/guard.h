/* Safe extrapolation (guard.c): bounds on each prediction from the training targets. */
#ifndef BFCR_MODEL_GUARD_H
#define BFCR_MODEL_GUARD_H

#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* The feature-space guard is stored only for d <= this (k (d + 1)(d + 2) / 2 doubles, at
 * most 561 per cluster); above it only the target range guards (docs/accuracy.md). */
#define BFCR_GUARD_LEV_MAXD 31

/* Doubles per cluster of m->guard_lev: mu [d], packed L [d (d + 1) / 2], h_max. */
static inline int64_t bfcr_guard_lev_width(int d) {
  return (int64_t)d + (int64_t)d * (d + 1) / 2 + 1;
}
/* One cluster's record g from its model's node summary s (regress.h layout) and ridge
 * penalty lambda (0: a floor of 1e-10 x the mean scatter diagonal): mu, the Cholesky factor
 * of S + lambda I packed by rows, h_max = 0 (+inf when the factor fails: never flags).
 * A: d x d scratch. */
void bfcr_guard_lev_record(const double *s, int d, double lambda, double *A, double *g);
/* Leverage |L^-1 (z - mu)|^2 of standardized row z under one cluster's record g. */
double bfcr_guard_leverage(const double *g, int d, const double *z);

/* Fill m->guard_* from the chosen level's clusters: the target range of each cluster's
 * model source node (the node itself, or the ancestor whose model it uses) and the
 * global model (top level of lf, target units). lab: local rows' clusters at the chosen
 * level, y their targets. Min/max are exact, so the cross-rank reduction is the same for
 * any rank count. lev: also the feature-space records (m->guard_lev) when d and k fit the
 * bound, from lf's node summaries (owned with several ranks) and zs, the local rows.
 * Collective (MPI_Allreduce calls when ctx->size > 1). */
bfcr_status bfcr_guard_fit(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const int64_t *lab, const double *y,
                           int64_t n_local, double margin, int lev, bfcr_model *m);
/* The guarded value of a prediction v of standardized row z routed to cluster c; *hit
 * is set to 1 when the guard changed it. Local. */
double bfcr_guard_value(const bfcr_model *m, int64_t c, const double *z, double v, int *hit);

#endif
