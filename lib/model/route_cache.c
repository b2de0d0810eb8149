/* Routing search structure cached in the model.
 *
 * Why: predict routes each row to the nearest training row (or centroid). Building the
 * kd-tree over a 1M x 8 training set costs about 0.7 s, so rebuilding it at every call
 * made online scoring (a few rows per call) cost seconds per thousand calls. The tree
 * depends only on the model, so it is built at the first predict and kept until the model
 * is destroyed: later calls pay only the O(log n) queries.
 *
 * The reference rows never change after fit/load, so the method choice is cached as well:
 * the probe of lib/knn (a fixed sample of the references walked through the tree) runs
 * once; its tree and GEMM estimates both scale with the number of queries, so the choice
 * holds for calls of any size. When GEMM wins the tree is dropped (the GEMM path reads the
 * rows in place); a caller that forces a method gets it.
 *
 * Thread safety: the cache pointer is published with a release store after the tree is
 * complete; builders are serialised by a named OpenMP critical section (the only lock the
 * library can take without adding a threads dependency), and re-check under it, so the tree
 * is built once. Readers that see the pointer see a complete tree. The tree is never
 * modified by queries. Memory: the tree holds a copy of the reference rows (n d doubles)
 * plus n indices. */
#include "model/route_cache.h"

#include <stdatomic.h>
#include <stdlib.h>

#include "knn/knn.h"

struct bfcr_route_cache {
  bfcr_knn_choice choice; /* the probe's verdict for auto calls */
  bfcr_kdtree *tree;      /* over the reference rows; NULL when GEMM won the probe */
};

void bfcr_route_cache_free(bfcr_route_cache *c) {
  if (!c) return;
  bfcr_kdtree_free(c->tree);
  free(c);
}

static bfcr_status build(const double *R, int64_t nR, int d, int nthreads, bfcr_route_cache **out) {
  bfcr_route_cache *c = calloc(1, sizeof *c);
  if (!c) return BFCR_ERR_NOMEM;
  bfcr_status st = bfcr_kdtree_build(R, nR, d, nthreads, &c->tree);
  if (st != BFCR_OK) {
    free(c);
    return st;
  }
  bfcr_knn_probe(c->tree, 1, 0, nthreads, &c->choice);
  bfcr_knn_decide(BFCR_NN_AUTO, &c->choice);
  if (c->choice.method == BFCR_NN_GEMM) {
    bfcr_kdtree_free(c->tree);
    c->tree = NULL;
  }
  *out = c;
  return BFCR_OK;
}

bfcr_status bfcr_route_nearest(const bfcr_model *m, const double *R, int64_t nR, const double *Z,
                               int64_t n, int nthreads, bfcr_nn_method method,
                               bfcr_knn_choice *choice, int64_t *nn, double *dist2) {
  if (!R || nR < 1 || n < 0 || (n > 0 && (!Z || !nn || !dist2))) return BFCR_ERR_ARG;
  if (n == 0) return BFCR_OK;
  /* The model is logically const; the cache is the one field predict may fill. */
  _Atomic(bfcr_route_cache *) *slot = &((bfcr_model *)m)->route;
  bfcr_route_cache *c = atomic_load_explicit(slot, memory_order_acquire);
  bfcr_status st = BFCR_OK;
  if (!c) {
#pragma omp critical(bfcr_route_cache_build)
    {
      c = atomic_load_explicit(slot, memory_order_acquire);
      if (!c) {
        st = build(R, nR, m->d, nthreads, &c);
        if (st == BFCR_OK) atomic_store_explicit(slot, c, memory_order_release);
      }
    }
    if (st != BFCR_OK) return st;
  }
  bfcr_knn_choice ch = c->choice;
  if (method != BFCR_NN_AUTO) bfcr_knn_decide(method, &ch);
  if (choice) *choice = ch;
  if (ch.method == BFCR_NN_TREE && c->tree)
    return bfcr_kdtree_query(c->tree, Z, n, NULL, NULL, nthreads, nn, dist2);
  if (ch.method == BFCR_NN_TREE) /* forced tree after GEMM won the probe: a one-off tree */
    return bfcr_knn_query_m(R, nR, m->d, Z, n, nthreads, BFCR_NN_TREE, NULL, nn, dist2);
  return bfcr_knn_gemm(R, nR, m->d, Z, n, 0, nthreads, nn, dist2);
}
