/* The method choice of the distributed level-0 search (knn_dist.c), agreed by all ranks.
 *
 * What: the rows whose global index is a multiple of a stride (at most KNN_DIST_PROBE_ROWS
 * of them, fixed by n alone) are gathered on rank 0 (MPI_Gatherv, rank order = global
 * index order), which builds a kd-tree on them, runs the probe (knn_choose.c) and
 * broadcasts the decision: every rank takes rank 0's. The decision is made at the sample's size:
 * the tree's cost per query grows slower with n than the GEMM's (which is linear in n), so a tree
 * that wins on the sample wins on the whole; a GEMM choice on the sample may occasionally be
 * pessimistic. The choice changes the time only: slabs and ring give the same bits. */
#include <limits.h>
#include <stdlib.h>

#include "core/zsrc.h"
#include "knn/knn.h"
#include "knn/knn_dist.h"

#define KNN_DIST_PROBE_ROWS 16384

bfcr_status bfcr_knn_dist_choose(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                 int64_t offset, int64_t n, int d, bfcr_knn_choice *c) {
  *c = (bfcr_knn_choice){0};
  const bfcr_nn_method forced = (bfcr_nn_method)ctx->nn_method;
  if (forced != BFCR_NN_AUTO) {
    bfcr_knn_decide(forced, c);
    return BFCR_OK;
  }
  const int64_t stride = (n + KNN_DIST_PROBE_ROWS - 1) / KNN_DIST_PROBE_ROWS;
  /* Local rows with global index i, i % stride == 0. */
  const int64_t first = (offset + stride - 1) / stride * stride;
  const int64_t mine = first < offset + n_local ? (offset + n_local - 1 - first) / stride + 1 : 0;
  const int64_t ns = (n + stride - 1) / stride;
  bfcr_status st = BFCR_OK;
  double *loc = malloc((size_t)(mine > 0 ? mine : 1) * (size_t)d * sizeof(double));
  double *all = ctx->rank == 0 ? malloc((size_t)ns * (size_t)d * sizeof(double)) : NULL;
  int *cnt = malloc((size_t)ctx->size * sizeof(int));
  int *dis = malloc((size_t)ctx->size * sizeof(int));
  bfcr_kdtree *t = NULL;
  if (!loc || (ctx->rank == 0 && !all) || !cnt || !dis || ns * d > INT_MAX) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t s = 0; s < mine; s++) bfcr_zsrc_row(zs, first + s * stride - offset, loc + s * d);
  /* The sample goes to rank 0 alone, which probes and broadcasts its decision (a few
   * bytes): replicating it cost every rank its share P - 1 times. */
  int my = (int)(mine * d);
  if (MPI_Gather(&my, 1, MPI_INT, cnt, 1, MPI_INT, 0, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Gather (probe sample counts)");
    goto cleanup;
  }
  int off = 0;
  for (int p = 0; ctx->rank == 0 && p < ctx->size; p++) {
    dis[p] = off;
    off += cnt[p];
  }
  if (MPI_Gatherv(loc, my, MPI_DOUBLE, all, cnt, dis, MPI_DOUBLE, 0, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Gatherv (probe sample)");
    goto cleanup;
  }
  if (ctx->rank == 0) {
    if (ns >= 2) st = bfcr_kdtree_build(all, ns, d, ctx->nthreads, &t);
    if (st == BFCR_OK && t) {
      bfcr_knn_probe(t, ns, 1, ctx->nthreads, c);
      bfcr_knn_decide(BFCR_NN_AUTO, c);
      /* Decided on the sample; the estimates are reported scaled to the whole search (the
       * GEMM's exactly, n^2; the tree's linearly in n, an upper estimate). */
      const double f = (double)n / (double)ns;
      c->est_gemm_s *= f * f;
      c->est_tree_s *= f;
    }
    if (!t) bfcr_knn_decide(BFCR_NN_TREE, c);
  }
  st = bfcr_agree(ctx, st);
  if (st == BFCR_OK && MPI_Bcast(c, (int)sizeof *c, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast (probe decision)");
  st = bfcr_agree(ctx, st);
cleanup:
  bfcr_kdtree_free(t);
  free(loc);
  free(all);
  free(cnt);
  free(dis);
  return st;
}
