/* The routing search structure of a model, built once and kept with it (route_cache.c). */
#ifndef BFCR_MODEL_ROUTE_CACHE_H
#define BFCR_MODEL_ROUTE_CACHE_H

#include "knn/knn.h"
#include "model/model_impl.h"

/* Nearest routing reference (training row for routing = sample, else centroid) of each of
 * the n standardized rows Z: nn[i], dist2[i]. The first call on a model builds the
 * kd-tree over the references, probes it (lib/knn's method choice) and keeps both in the
 * model; later calls only query. method forces the tree or GEMM (BFCR_NN_AUTO: the cached
 * choice); choice (may be NULL) receives what ran. Results are exactly those of
 * bfcr_knn_query (exact search, ties to the smaller index) whatever the method.
 * Thread-safe: concurrent callers on one model build the tree once. Local; BFCR_ERR_NOMEM. */
bfcr_status bfcr_route_nearest(const bfcr_model *m, const double *R, int64_t nR, const double *Z,
                               int64_t n, int nthreads, bfcr_nn_method method,
                               bfcr_knn_choice *choice, int64_t *nn, double *dist2);
/* Free the cache of a model (model_free.c). */
void bfcr_route_cache_free(bfcr_route_cache *c);

#endif
