/* Small helpers of the distributed exact searches (knn_dist.c, knn_query_dist.c,
 * knn_cv_route.c): allocations and MPI calls that record a failure instead of jumping
 * over the next agreement, so every rank reaches it, and the displacements of counts. */
#ifndef BFCR_KNN_DIST_UTIL_H
#define BFCR_KNN_DIST_UTIL_H

#include <limits.h>
#include <stdint.h>

#include "core/ctx.h"

/* Agree on st across the ranks; leave for the clean-up when any rank failed. */
#define BFCR_DIST_AGREE()            \
  do {                               \
    st = bfcr_agree(ctx, st);        \
    if (st != BFCR_OK) goto cleanup; \
  } while (0)

/* At least one element (MPI and the kd calls accept zero counts, and a non-NULL pointer
 * keeps the clean-up uniform); a failure is recorded in *st. */
static inline void *bfcr_dist_alloc(bfcr_ctx *ctx, bfcr_status *st, int64_t n, size_t size) {
  void *p = bfcr_malloc(ctx, n > 0 ? (size_t)n : 1, size);
  if (!p && *st == BFCR_OK) *st = BFCR_ERR_NOMEM;
  return p;
}

/* st, or an MPI error naming the search (who) and the call (what) when rc failed first. */
static inline bfcr_status bfcr_dist_mpi_ok(bfcr_ctx *ctx, bfcr_status st, int rc, const char *who,
                                           const char *what) {
  if (rc == MPI_SUCCESS || st != BFCR_OK) return st;
  return bfcr_err(ctx, BFCR_ERR_MPI, "%s: %s failed (MPI error %d)", who, what, rc);
}

/* Displacements of counts; returns the total, or -1 when it exceeds an int. */
static inline int64_t bfcr_dist_displs(const int *cnt, int *dis, int P) {
  int64_t s = 0;
  for (int p = 0; p < P; p++) {
    dis[p] = (int)(s < INT_MAX ? s : INT_MAX);
    s += cnt[p];
  }
  return s > INT_MAX ? -1 : s;
}

#endif
