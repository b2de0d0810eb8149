/* Exact nearest reference row of query rows, reference rows distributed over the ranks
 * (knn_query_dist.c). */
#ifndef BFCR_KNN_QUERY_DIST_H
#define BFCR_KNN_QUERY_DIST_H

#include <stdint.h>
#include "core/ctx.h"

/* This rank holds reference rows [roff, roff + nr) of the whole set in R (row-major, d
 * columns; the ranks' blocks must tile the set in rank order, empty blocks allowed) and nq
 * query rows Q. On return nn[i] is the global index of the nearest reference row of query
 * i and dist2[i] its canonical squared distance, exactly bfcr_knn_query's answer on the
 * whole set (ties to the smallest index); nn[i] = -1 only when the set is empty.
 * When Rtag (a tag per reference row, below 2^53) and tag are given, tag[i] = the tag of
 * row nn[i]. Low d: the reference rows move to spatial slabs and each query is searched
 * where its nearest row can lie (work and traffic per rank divide by P); high d (the GEMM
 * range): the reference blocks travel a ring. Collective; the status is agreed. */
bfcr_status bfcr_knn_query_dist(bfcr_ctx *ctx, const double *R, const int64_t *Rtag, int64_t nr,
                                int64_t roff, int d, const double *Q, int64_t nq, int64_t *nn,
                                double *dist2, int64_t *tag);

#endif
