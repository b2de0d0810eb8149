/* Exact nearest reference row for query rows when the reference rows are spread over the
 * ranks (a sharded routing model, lib/model/route_shard.c).
 *
 * Rank r holds reference rows [roff_r, roff_r + nr_r) (blocks tiling [0, nR) in rank order,
 * empty blocks allowed) and its own query rows. The reference blocks travel around a ring
 * (MPI_Sendrecv, one block in flight, with an optional int64 tag per row: the routing
 * label), every rank searches each visiting block for its
 * queries with bfcr_knn_query and keeps the best (canonical dist2, global index) with
 * bfcr_nn_better. Within a block bfcr_knn_query returns the lexicographic minimum of
 * (dist2, index) and a block is a contiguous range of global indices, so the combination
 * is the minimum over all rows: exactly what bfcr_knn_query gives on the whole matrix in
 * one process, for any rank count and any block sizes.
 *
 * Memory per rank: its block, one visiting block (the largest block), the queries and two
 * O(queries) result arrays. Traffic per rank: every block once through every rank,
 * (P - 1) blocks of about nR d / P doubles. Work per rank: one search of its queries
 * against each block (the same tree builds in total as one process's single search).
 * The slab variant of knn_dist.c (queries routed to spatial slabs) would divide the search
 * work too; it is not used here (docs/distributed.md, open items). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_query_dist.h"

/* Search one block (rows [first, first + cnt)) for the queries and fold the answers into
 * (nn, dist2, tag). A block this rank owns (own = 1) is handed to the kd-tree, which
 * permutes it in place and frees it: no copy. The kd-tree queries are bounded by the best
 * distance so far (ties at the bound are kept), which prunes most of the later blocks. */
static bfcr_status search_block(bfcr_ctx *ctx, double *blk, int own, const int64_t *btag,
                                int64_t cnt, int64_t first, int d, const double *Q, int64_t nq,
                                int64_t *bnn, double *bd2, int64_t *nn, double *dist2,
                                int64_t *tag) {
  bfcr_status st = BFCR_OK;
  const bfcr_nn_method forced = (bfcr_nn_method)ctx->nn_method;
  bfcr_knn_choice ch = {0};
  bfcr_knn_decide(forced == BFCR_NN_GEMM ? BFCR_NN_GEMM : BFCR_NN_TREE, &ch);
  if (forced != BFCR_NN_GEMM) {
    /* The probe (knn_choose.c) needs the tree; GEMM needs the rows in their own order,
     * which a taken block loses. Keep a copy only where the probe may pick GEMM (at low
     * dimension it never does, and the block is taken without a copy). */
    const int may_gemm = forced == BFCR_NN_AUTO && d > 16;
    bfcr_kdtree *t = NULL;
    st = own && !may_gemm ? bfcr_kdtree_build_take(blk, cnt, d, ctx->nthreads, &t)
                          : bfcr_kdtree_build(blk, cnt, d, ctx->nthreads, &t);
    if (st == BFCR_OK && may_gemm) {
      bfcr_knn_probe(t, nq, 0, ctx->nthreads, &ch);
      bfcr_knn_decide(BFCR_NN_AUTO, &ch);
    }
    if (st == BFCR_OK && ch.method == BFCR_NN_TREE)
      st = bfcr_kdtree_query(t, Q, nq, NULL, dist2, ctx->nthreads, bnn, bd2);
    bfcr_kdtree_free(t);
    if (own && !may_gemm) own = 0; /* the tree took and freed the block */
  }
  if (st == BFCR_OK && ch.method == BFCR_NN_GEMM)
    st = bfcr_knn_gemm(blk, cnt, d, Q, nq, 0, ctx->nthreads, bnn, bd2);
  if (own) free(blk);
  if (st != BFCR_OK) return bfcr_err(ctx, st, "routing search failed");
  for (int64_t i = 0; i < nq; i++) {
    if (bnn[i] < 0) continue;
    const int64_t g = first + bnn[i];
    if (nn[i] < 0 || bfcr_nn_better(bd2[i], g, dist2[i], nn[i])) {
      nn[i] = g;
      dist2[i] = bd2[i];
      if (tag) tag[i] = btag[bnn[i]];
    }
  }
  return st;
}

bfcr_status bfcr_knn_query_dist(bfcr_ctx *ctx, const double *R, const int64_t *Rtag, int64_t nr,
                                int64_t roff, int d, const double *Q, int64_t nq, int64_t *nn,
                                double *dist2, int64_t *tag) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size, me = ctx->rank;
  int64_t *off = NULL, *bnn = NULL, *tcur = NULL, *tnxt = NULL, mine[2] = {roff, nr};
  double *cur = NULL, *nxt = NULL, *bd2 = NULL;
  off = bfcr_malloc(ctx, (size_t)2 * (size_t)P, sizeof(int64_t));
  bnn = bfcr_malloc(ctx, (size_t)(nq > 0 ? nq : 1), sizeof(int64_t));
  bd2 = bfcr_malloc(ctx, (size_t)(nq > 0 ? nq : 1), sizeof(double));
  if (!off || !bnn || !bd2) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (MPI_Allgather(mine, 2, MPI_INT64_T, off, 2, MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Allgather of the reference blocks failed");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    int64_t want = p == 0 ? 0 : off[2 * (p - 1)] + off[2 * (p - 1) + 1];
    if (off[2 * p] != want || off[2 * p + 1] < 0 || off[2 * p + 1] * (int64_t)d > INT_MAX)
      st = bfcr_err(ctx, BFCR_ERR_ARG,
                    "routing: the ranks' training-row blocks do not tile the rows in rank order "
                    "(rank %d holds [%lld, +%lld))",
                    p, (long long)off[2 * p], (long long)off[2 * p + 1]);
  }
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < nq; i++) {
    nn[i] = -1;
    dist2[i] = INFINITY;
  }
  /* Step s holds rank (me - s)'s block: R itself at s = 0, then received buffers. At most
   * three blocks live at once: R, the block being searched (inside its tree), the next. */
  cur = (double *)R;
  tcur = (int64_t *)Rtag;
  const int to = (me + 1) % P, from = (me + P - 1) % P;
  for (int s = 0; s < P; s++) {
    const int src = (me + P - s) % P;
    const int64_t cnt = off[2 * src + 1], first = off[2 * src];
    if (s + 1 < P) { /* pass the block on, receive the next one (from rank me - s - 1) */
      const int64_t ncnt = off[2 * ((me + P - s - 1) % P) + 1];
      nxt = bfcr_malloc(ctx, (size_t)(ncnt > 0 ? ncnt * d : 1), sizeof(double));
      tnxt = Rtag ? bfcr_malloc(ctx, (size_t)(ncnt > 0 ? ncnt : 1), sizeof(int64_t)) : NULL;
      if (!nxt || (Rtag && !tnxt)) st = BFCR_ERR_NOMEM;
      st = bfcr_agree(ctx, st);
      if (st == BFCR_OK &&
          MPI_Sendrecv(cur, (int)(cnt * d), MPI_DOUBLE, to, 71, nxt, (int)(ncnt * d), MPI_DOUBLE,
                       from, 71, ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Sendrecv of training rows failed");
      if (st == BFCR_OK && Rtag &&
          MPI_Sendrecv(tcur, (int)cnt, MPI_INT64_T, to, 72, tnxt, (int)ncnt, MPI_INT64_T, from, 72,
                       ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Sendrecv of training labels failed");
    }
    const int own = s > 0;
    if (st == BFCR_OK && cnt > 0 && nq > 0) {
      st = search_block(ctx, cur, own, tcur, cnt, first, d, Q, nq, bnn, bd2, nn, dist2, tag);
    } else if (own) {
      free(cur);
    }
    if (own) free(tcur);
    cur = nxt;
    tcur = tnxt;
    nxt = NULL;
    tnxt = NULL;
    /* One agreement per step keeps a failed rank from leaving the ring early. */
    st = bfcr_agree(ctx, st);
    if (st != BFCR_OK) goto cleanup;
  }
  cur = NULL;
  tcur = NULL;
cleanup:
  if (cur != R) free(cur);
  if (tcur != Rtag) free(tcur);
  free(nxt);
  free(tnxt);
  free(off);
  free(bnn);
  free(bd2);
  return st;
}
