/* Shared steps of the two prediction paths (predict.c, predict_owned.c) and of the kernel
 * fit's in-sample scores (fit_kernel.c). */
#ifndef BFCR_MODEL_PREDICT_IMPL_H
#define BFCR_MODEL_PREDICT_IMPL_H

#include "model/model_impl.h"

/* The model fits the data's feature count. Local. */
bfcr_status bfcr_predict_check(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data);
/* Cluster of each standardized local row Z (routing rule of the model), and, when pieces
 * is not NULL, its kernel piece (-1: the cluster's linear model; all -1 for linear
 * regressors). Local. */
bfcr_status bfcr_predict_route(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                               const double *Z, int64_t *labels, int64_t *pieces);

/* bfcr_predict_route for every rank of ctx: when the model's routing rows are kept in
 * shards (route_shard.h) the search runs across ranks. Collective: st (this rank's status
 * so far; Z, labels, pieces are untouched unless it is BFCR_OK) is agreed first, and the
 * returned status is agreed when the model is sharded. */
bfcr_status bfcr_predict_route_all(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                                   const double *Z, int64_t *labels, int64_t *pieces,
                                   bfcr_status st);

/* predict_kernel.c. Kernel piece of each of n rows Z routed to clusters labels: the piece
 * of the nearest kept training row nn[i] when nn is given (routing by sample), else the
 * nearest piece center within the cluster (ties to the smaller piece); -1 when the
 * cluster has no piece. Local. */
void bfcr_kernel_pieces_of(const bfcr_model *m, const double *Z, int64_t n, const int64_t *labels,
                           const int64_t *nn, int64_t *piece, int nthreads);
/* Prediction of kernel piece q at one standardized row z, in target units (scratch: d
 * doubles). Local. */
double bfcr_kernel_eval(const bfcr_model *m, int64_t q, const double *z, double *scratch);
/* yhat[i] for n standardized rows (row i at Z + i * ldz): kernel piece piece[i] when
 * piece is given and piece[i] >= 0, else the linear model of cluster lab[i]. Each value
 * depends only on its row and the model. OpenMP over rows. Local; BFCR_ERR_NOMEM. */
bfcr_status bfcr_model_apply(bfcr_ctx *ctx, const bfcr_model *m, const double *Z, int64_t ldz,
                             int64_t n, const int64_t *lab, const int64_t *piece, double *yhat);
/* The same, also counting (into *guarded when not NULL) the rows whose value the
 * safe-extrapolation guard replaced (guard.c). Every value is the guarded one. */
bfcr_status bfcr_model_apply_guarded(bfcr_ctx *ctx, const bfcr_model *m, const double *Z,
                                     int64_t ldz, int64_t n, const int64_t *lab,
                                     const int64_t *piece, double *yhat, int64_t *guarded);

#endif
