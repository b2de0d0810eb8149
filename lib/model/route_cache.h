/* The routing search structure of a model, built once and kept with it (route_cache.c). */
#ifndef BFCR_MODEL_ROUTE_CACHE_H
#define BFCR_MODEL_ROUTE_CACHE_H

#include "model/model_impl.h"

/* Nearest routing reference (training row for routing = sample, else centroid) of each of
 * the n standardized rows Z: nn[i], dist2[i]. The first call on a model builds the
 * kd-tree over the references (when the dimension rule of bfcr_knn_query picks the
 * kd-tree) and keeps it in the model; later calls only query it. Results are exactly those
 * of bfcr_knn_query (exact search, ties to the smaller index). Thread-safe: concurrent
 * callers on one model build the tree once. Local; BFCR_ERR_NOMEM. */
bfcr_status bfcr_route_nearest(const bfcr_model *m, const double *R, int64_t nR, const double *Z,
                               int64_t n, int nthreads, int64_t *nn, double *dist2);
/* Free the cache of a model (model_free.c). */
void bfcr_route_cache_free(bfcr_route_cache *c);

#endif
