/* Routing rows kept in shards (see route_shard.h). */
#include <stdlib.h>
#include <string.h>

#include "knn/knn_query_dist.h"
#include "model/route_shard.h"
#include "par/redistribute.h"

bfcr_status bfcr_route_sharded(bfcr_ctx *ctx, const bfcr_model *m, bfcr_status st, int *sharded) {
  *sharded = m && bfcr_route_local_shard(m);
  if (ctx->size == 1) return st;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) return st;
  int mine = *sharded;
  if (MPI_Allreduce(&mine, sharded, 1, MPI_INT, MPI_MAX, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce of the routing layout failed");
  return bfcr_agree(ctx, st);
}

bfcr_status bfcr_route_gather(bfcr_ctx *ctx, const bfcr_model *m, double **z, int64_t **lab) {
  bfcr_status st = BFCR_OK;
  int d = m->d;
  *z = bfcr_malloc(ctx, (size_t)m->n_train, (size_t)d * sizeof(double));
  *lab = bfcr_malloc(ctx, (size_t)m->n_train, sizeof(int64_t));
  if (!*z || !*lab) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  /* Blocks tile [0, n_train) in rank order (checked by the exchange's counts). */
  BFCR_CALL(bfcr_allgather_items(ctx, m->train_z, bfcr_route_rows_here(m),
                                 (size_t)d * sizeof(double), *z));
  BFCR_CALL(
      bfcr_allgather_items(ctx, m->train_label, bfcr_route_rows_here(m), sizeof(int64_t), *lab));
cleanup:
  if (st != BFCR_OK) {
    free(*z);
    free(*lab);
    *z = NULL;
    *lab = NULL;
  }
  return st;
}

bfcr_status bfcr_route_by_shards(bfcr_ctx *ctx, const bfcr_model *m, const double *Z, int64_t n,
                                 int64_t *labels) {
  bfcr_status st = BFCR_OK;
  int64_t *nn = bfcr_malloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(int64_t));
  double *d2 = bfcr_malloc(ctx, (size_t)(n > 0 ? n : 1), sizeof(double));
  if (!nn || !d2) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CALL(bfcr_knn_query_dist(ctx, m->train_z, m->train_label, bfcr_route_rows_here(m),
                                bfcr_route_first_here(m), m->d, Z, n, nn, d2, labels));
cleanup:
  free(nn);
  free(d2);
  return st;
}
