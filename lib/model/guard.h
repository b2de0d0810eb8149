/* Safe extrapolation (guard.c): bounds on each prediction from the training targets. */
#ifndef BFCR_MODEL_GUARD_H
#define BFCR_MODEL_GUARD_H

#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Fill m->guard_* from the chosen level's clusters: the target range of each cluster's
 * model source node (the node itself, or the ancestor whose model it uses) and the
 * global model (top level of lf, target units). lab: local rows' clusters at the chosen
 * level, y their targets. Min/max are exact, so the cross-rank reduction is the same for
 * any rank count. Collective (one MPI_Allreduce per call when ctx->size > 1). */
bfcr_status bfcr_guard_fit(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const int64_t *lab, const double *y, int64_t n_local, double margin,
                           bfcr_model *m);
/* The guarded value of a prediction v of standardized row z routed to cluster c; *hit
 * is set to 1 when the guard changed it. Local. */
double bfcr_guard_value(const bfcr_model *m, int64_t c, const double *z, double v, int *hit);

#endif
