/* Kernel regressors (KRR, SVR) on the clusters of the chosen level: SPLIT into pieces,
 * fitted in parallel by their owner ranks, gathered into the replicated model. */
#ifndef BFCR_MODEL_FIT_KERNEL_H
#define BFCR_MODEL_FIT_KERNEL_H

#include "model/model_impl.h"
#include "model/standardize.h"
#include "tree/tree.h"

/* Default rows per kernel model (bfcr_fit_params.kernel_cap = 0). */
#define BFCR_KERNEL_CAP_DEFAULT 2000

/* For m->params.regressor KRR or SVR: fit the kernel pieces of m->chosen's clusters and
 * store them in m (kp, kcenter, krows, kcoef, ky_mean, ky_scale, train_piece when
 * m->train_z is kept), resolve params.kernel_cap, and replace the in-sample scores with
 * the kernel model's. For linear regressors: params.kernel_cap = 0, nothing else. Needs
 * m->chosen, m->k, m->cm, m->w and m->params (min_cluster_size resolved) set by bfcr_fit.
 * zs: the local standardized rows (input order, global rows [t->offset, t->offset +
 * t->n_local), stored or computed on demand); y: their targets in target units. Collective; the
 * status is agreed. */
bfcr_status bfcr_fit_kernel(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                            bfcr_model *m);

#endif
