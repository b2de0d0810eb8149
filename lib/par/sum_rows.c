/* Left-to-right sums over rows distributed in rank-ordered blocks.
 *
 * Why not the canonical pairwise reduction (reduce.h): the cross-validated level
 * selection stores its per-level RMSE and standard errors in the model file and picks
 * the level from them, and those values have always been the plain sequential sum over
 * the rows in input order (the one-process loop `s += e[i]`). A pairwise tree, or an
 * exact accumulator rounded once, gives different last bits, so models would stop being
 * byte-identical to the ones written before. The sequential order is reproduced exactly
 * across ranks by a chain: rank r waits for the running sums of ranks 0..r-1, adds its
 * rows in order, passes them on; the last rank broadcasts. Cost: P - 1 hops of nv
 * doubles in sequence plus one broadcast (latency O(P), no data of size n), and the
 * local additions, which are the same work as the one-process loop. */
#include "par/sum_rows.h"

#include <stdlib.h>

bfcr_status bfcr_sum_rows_canonical(bfcr_ctx *ctx, const double *v_local, int64_t n_local,
                                    int64_t offset, int64_t n, int nv, int64_t ld, double *out) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size, me = ctx->rank;
  int64_t span[2] = {offset, offset + n_local}, prev[2] = {0, 0};
  for (int j = 0; j < nv; j++) out[j] = 0.0;
  if (P == 1) {
    if (offset != 0 || n_local != n)
      st = bfcr_err(ctx, BFCR_ERR_ARG, "row sums: rows [%lld, +%lld) of %lld", (long long)offset,
                    (long long)n_local, (long long)n);
    for (int j = 0; j < nv && st == BFCR_OK; j++)
      for (int64_t i = 0; i < n_local; i++) out[j] += v_local[j * ld + i];
    return st;
  }
  /* The chain carries the running sums and the end of the rows summed so far, which
   * checks that the blocks tile [0, n) in rank order. */
  double *buf = malloc((size_t)(nv + 1) * sizeof(double));
  st = bfcr_agree(ctx, buf ? BFCR_OK : BFCR_ERR_NOMEM);
  if (st != BFCR_OK) {
    free(buf);
    return st;
  }
  int ok = 1;
  if (me > 0) {
    ok = MPI_Recv(buf, nv + 1, MPI_DOUBLE, me - 1, 81, ctx->comm, MPI_STATUS_IGNORE) == MPI_SUCCESS;
    for (int j = 0; j < nv; j++) out[j] = buf[j];
    prev[1] = (int64_t)buf[nv];
  }
  int tiles = prev[1] == span[0];
  for (int j = 0; j < nv; j++)
    for (int64_t i = 0; i < n_local; i++) out[j] += v_local[j * ld + i];
  for (int j = 0; j < nv; j++) buf[j] = out[j];
  /* -1 marks a broken tiling for the ranks after this one */
  buf[nv] = tiles && prev[1] >= 0 ? (double)span[1] : -1.0;
  if (me > 0 && !tiles) buf[nv] = -1.0;
  if (me + 1 < P)
    ok = ok && MPI_Send(buf, nv + 1, MPI_DOUBLE, me + 1, 81, ctx->comm) == MPI_SUCCESS;
  ok = ok && MPI_Bcast(buf, nv + 1, MPI_DOUBLE, P - 1, ctx->comm) == MPI_SUCCESS;
  for (int j = 0; j < nv; j++) out[j] = buf[j];
  if (!ok)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "row sums: MPI exchange failed");
  else if ((int64_t)buf[nv] != n)
    st = bfcr_err(ctx, BFCR_ERR_ARG, "row sums: the ranks' row blocks do not tile [0, %lld)",
                  (long long)n);
  free(buf);
  return bfcr_agree(ctx, st);
}
