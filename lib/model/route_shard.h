/* Routing rows kept in shards (routing by nearest training row across ranks).
 *
 * A linear model fitted on P > 1 ranks keeps only each rank's block of the standardized
 * training rows and their labels (m->train_lo, m->train_nloc); a model loaded on Q > 1
 * ranks holds the Q balanced blocks of the canonical (input) order. The file is the same
 * for any P (model_file.c writes and reads the blocks in place). Kernel models keep all
 * rows on every rank (their pieces index the rows). */
#ifndef BFCR_MODEL_ROUTE_SHARD_H
#define BFCR_MODEL_ROUTE_SHARD_H

#include "model/model_impl.h"

/* The model keeps routing rows and this rank does not hold all of them. Local. */
static inline int bfcr_route_local_shard(const bfcr_model *m) {
  return m->n_train > 0 && m->train_sharded && m->train_nloc != m->n_train;
}
/* Kept rows held by this rank, and the first one's global index. Local. */
static inline int64_t bfcr_route_rows_here(const bfcr_model *m) {
  return m->train_sharded ? m->train_nloc : m->n_train;
}
static inline int64_t bfcr_route_first_here(const bfcr_model *m) {
  return m->train_sharded ? m->train_lo : 0;
}

/* *sharded = 1 when any rank of ctx holds only a shard of the routing rows (then every
 * routing by training row is collective). Collective with several ranks (agrees st first);
 * returns the agreed status. */
bfcr_status bfcr_route_sharded(bfcr_ctx *ctx, const bfcr_model *m, bfcr_status st, int *sharded);

/* All routing rows and labels of a sharded model gathered on every rank (n_train x d and
 * n_train, malloc'd). Collective; agreed status. */
bfcr_status bfcr_route_gather(bfcr_ctx *ctx, const bfcr_model *m, double **z, int64_t **lab);

/* Cluster of each of n standardized rows Z by the nearest kept training row, rows held in
 * shards (lib/knn/knn_query_dist.c). Collective; agreed status. */
bfcr_status bfcr_route_by_shards(bfcr_ctx *ctx, const bfcr_model *m, const double *Z, int64_t n,
                                 int64_t *labels);

#endif
