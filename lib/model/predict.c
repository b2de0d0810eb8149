/* Prediction: standardize a row with the training statistics, route it to a cluster of
 * the chosen level (nearest centroid, or the cluster of the nearest training row), and
 * apply that cluster's linear model, or the kernel piece of the cluster the row belongs to
 * (KRR, SVR: predict_kernel.c). Models and centroids are replicated, so every rank
 * predicts its own rows with no communication beyond the final status agreement; the
 * exact nearest-neighbour rule (ties to the smaller index) makes the routing identical
 * for any rank and thread count. The routing search structure (kd-tree over the training
 * rows or centroids) is built by the first call and kept in the model (route_cache.c). */
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "model/predict_impl.h"
#include "model/route_cache.h"
#include "model/route_shard.h"
#include "model/standardize.h"

bfcr_status bfcr_predict_route(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                               const double *Z, int64_t *labels, int64_t *pieces) {
  bfcr_status st = BFCR_OK;
  int64_t n = data->n_local, *nn = NULL;
  double *dist2 = NULL;
  int kernel = pieces && m->npieces > 0;
  if (n == 0) return BFCR_OK;
  if (pieces && !kernel)
    for (int64_t i = 0; i < n; i++) pieces[i] = -1;
  if (m->k == 1 && !(kernel && m->npieces > 1)) {
    for (int64_t i = 0; i < n; i++) labels[i] = 0;
    if (kernel)
      for (int64_t i = 0; i < n; i++) pieces[i] = 0;
    return BFCR_OK;
  }
  BFCR_ALLOC(ctx, nn, n);
  BFCR_ALLOC(ctx, dist2, n);
  int by_row = m->params.routing == BFCR_ROUTE_SAMPLE && m->train_z;
  const double *R = by_row ? m->train_z : m->centroids;
  int64_t nR = by_row ? m->n_train : m->k;
  bfcr_knn_choice ch;
  st = bfcr_route_nearest(m, R, nR, Z, n, ctx->nthreads, (bfcr_nn_method)ctx->nn_method, &ch, nn,
                          dist2);
  if (st == BFCR_OK) {
    char line[160];
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, "routing", line);
  }
  if (st != BFCR_OK) {
    bfcr_err(ctx, st, "routing search failed");
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) labels[i] = by_row ? m->train_label[nn[i]] : nn[i];
  /* Kernel models: the piece within the cluster (predict_kernel.c). */
  if (kernel) bfcr_kernel_pieces_of(m, Z, n, labels, by_row ? nn : NULL, pieces, ctx->nthreads);
cleanup:
  free(nn);
  free(dist2);
  return st;
}

bfcr_status bfcr_predict_route_all(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                                   const double *Z, int64_t *labels, int64_t *pieces,
                                   bfcr_status st) {
  int sharded = 0;
  st = bfcr_route_sharded(ctx, m, st, &sharded);
  if (st != BFCR_OK) return st;
  if (!sharded) return bfcr_predict_route(ctx, m, data, Z, labels, pieces);
  /* Sharded rows belong to linear models only: no kernel pieces. */
  for (int64_t i = 0; pieces && i < data->n_local; i++) pieces[i] = -1;
  if (m->k == 1) {
    for (int64_t i = 0; i < data->n_local; i++) labels[i] = 0;
    return BFCR_OK;
  }
  return bfcr_route_by_shards(ctx, m, Z, data->n_local, labels);
}

bfcr_status bfcr_predict_check(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data) {
  if (!m || !data) return bfcr_err(ctx, BFCR_ERR_ARG, "model and data must not be NULL");
  if (data->d != m->d)
    return bfcr_err(ctx, BFCR_ERR_INPUT, "the model expects %d features, got %d", m->d, data->d);
  return BFCR_OK;
}

bfcr_status bfcr_model_assign(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                              int64_t *labels) {
  bfcr_status st = BFCR_OK;
  double *Z = NULL;
  if (!ctx) return BFCR_ERR_ARG;
  st = bfcr_predict_check(ctx, m, data);
  if (st == BFCR_OK) {
    Z = bfcr_malloc(ctx, (size_t)(data->n_local > 0 ? data->n_local * m->d : 1), sizeof(double));
    if (!Z) st = BFCR_ERR_NOMEM;
  }
  if (st == BFCR_OK)
    bfcr_standardize_apply(data->X, data->n_local, m->d, m->mean, m->scale, Z, ctx->nthreads);
  /* Collective from here (a sharded model routes across ranks): failures meet inside. */
  st = bfcr_predict_route_all(ctx, m, data, Z, labels, NULL, st);
  free(Z);
  return bfcr_agree(ctx, st);
}

bfcr_status bfcr_predict(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data, double *yhat) {
  return bfcr_predict_guarded(ctx, m, data, yhat, NULL);
}

bfcr_status bfcr_predict_guarded(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                                 double *yhat, int64_t *guarded) {
  bfcr_status st = BFCR_OK;
  int64_t hits = 0;
  double *Z = NULL;
  int64_t *lab = NULL, *piece = NULL;
  if (!ctx) return BFCR_ERR_ARG;
  double t0 = bfcr_wtime();
  st = bfcr_predict_check(ctx, m, data);
  int d = st == BFCR_OK ? m->d : 0;
  int64_t n = st == BFCR_OK ? data->n_local : 0;
  if (st == BFCR_OK) {
    Z = bfcr_malloc(ctx, (size_t)(n > 0 ? n * d : 1), sizeof(double));
    lab = bfcr_malloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t));
    if (m->npieces > 0) piece = bfcr_malloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t));
    if (!Z || !lab || (m->npieces > 0 && !piece)) st = BFCR_ERR_NOMEM;
  }
  if (st == BFCR_OK) bfcr_standardize_apply(data->X, n, d, m->mean, m->scale, Z, ctx->nthreads);
  /* Collective (a sharded model routes across ranks): every rank gets here, and a local
   * failure above is agreed inside. */
  st = bfcr_predict_route_all(ctx, m, data, Z, lab, piece, st);
  if (st == BFCR_OK) st = bfcr_model_apply_guarded(ctx, m, Z, d, n, lab, piece, yhat, &hits);
  if (st == BFCR_OK)
    bfcr_phase_add(ctx, "predict", bfcr_wtime() - t0, (double)n * (2.0 * d + 3.0 * d));
  free(Z);
  free(lab);
  free(piece);
  st = bfcr_agree(ctx, st);
  /* An integer sum (the same for any rank order), on every rank whether asked or not. */
  if (st == BFCR_OK && ctx->size > 1 &&
      MPI_Allreduce(MPI_IN_PLACE, &hits, 1, MPI_INT64_T, MPI_SUM, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce of the guarded row count failed");
  if (guarded) *guarded = hits;
  return st;
}
