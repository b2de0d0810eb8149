/* Shared steps of the two prediction paths (predict.c, predict_owned.c). */
#ifndef BFCR_MODEL_PREDICT_IMPL_H
#define BFCR_MODEL_PREDICT_IMPL_H

#include "model/model_impl.h"

/* The model fits the data's feature count. Local. */
bfcr_status bfcr_predict_check(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data);
/* Cluster of each standardized local row Z (routing rule of the model). Local. */
bfcr_status bfcr_predict_route(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                               const double *Z, int64_t *labels);

#endif
