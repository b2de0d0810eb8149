/* Prediction with the models kept on their owner ranks: rank r owns the clusters
 * [k r / P, k (r + 1) / P) and, for kernel regressors, the pieces
 * [npieces r / P, npieces (r + 1) / P) (a row routed to a piece goes to the piece's
 * owner). Each rank routes its rows (centroids or training rows are replicated), sends
 * each row to the owner of its cluster or piece with MPI_Alltoallv, the owner applies the
 * model, and the predictions travel back the same way into input order. This is the path
 * for models too large to replicate. The owner applies the same function as
 * bfcr_predict (bfcr_model_apply), whose value depends on the row alone, so the results
 * are bit-identical to bfcr_predict for linear and kernel models.
 * Traffic: (d + 3) doubles per row out, one double back. */
#include <stdlib.h>
#include <string.h>

#include "model/predict_impl.h"
#include "model/standardize.h"

static int owner_of(int64_t c, int64_t k, int P) {
  int r = (int)((c * P) / k); /* first guess, then correct to the block holding c */
  while (r > 0 && c < k * r / P) r--;
  while (r + 1 < P && c >= k * (r + 1) / P) r++;
  return r;
}

/* Owner of a routed row: its piece's owner for a kernel piece, else its cluster's. */
static int row_owner(const bfcr_model *m, int64_t c, int64_t q, int P) {
  return q >= 0 ? owner_of(q, m->npieces, P) : owner_of(c, m->k, P);
}

bfcr_status bfcr_predict_owned(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *data,
                               double *yhat) {
  bfcr_status st = BFCR_OK;
  double *Z = NULL, *sbuf = NULL, *rbuf = NULL, *rres = NULL, *sres = NULL;
  int64_t *lab = NULL, *fill = NULL, *piece = NULL, *rlab = NULL, *rpiece = NULL;
  int *scnt = NULL, *sdsp = NULL, *rcnt = NULL, *rdsp = NULL;
  if (!ctx) return BFCR_ERR_ARG;
  int P = ctx->size, d = 0, w = 3;
  int64_t n = 0;
  double t0 = bfcr_wtime();
  BFCR_CALL(bfcr_predict_check(ctx, m, data));
  d = m->d;
  w = d + 3;
  n = data->n_local;
  BFCR_ALLOC(ctx, Z, n > 0 ? n * d : 1);
  BFCR_ALLOC(ctx, lab, n > 0 ? n : 1);
  BFCR_ALLOC(ctx, piece, n > 0 ? n : 1);
  BFCR_CALLOC(ctx, scnt, P);
  BFCR_CALLOC(ctx, sdsp, P);
  BFCR_CALLOC(ctx, rcnt, P);
  BFCR_CALLOC(ctx, rdsp, P);
  BFCR_CALLOC(ctx, fill, P);
  bfcr_standardize_apply(data->X, n, d, m->mean, m->scale, Z, ctx->nthreads);
cleanup:
  /* Everyone agrees before the routing (collective for a sharded model) and the
   * exchanges, so a failed rank never leaves others waiting. */
  st = bfcr_predict_route_all(ctx, m, data, Z, lab, piece, st);
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto done;
  for (int64_t i = 0; i < n; i++) scnt[row_owner(m, lab[i], piece[i], P)]++;
  if (MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoall of row counts failed");
    goto done;
  }
  int64_t nin = 0;
  for (int r = 0; r < P; r++) {
    sdsp[r] = r ? sdsp[r - 1] + scnt[r - 1] : 0;
    rdsp[r] = r ? rdsp[r - 1] + rcnt[r - 1] : 0;
    nin += rcnt[r];
  }
  sbuf = malloc((size_t)(n > 0 ? n : 1) * (size_t)w * sizeof *sbuf);
  rbuf = malloc((size_t)(nin > 0 ? nin : 1) * (size_t)w * sizeof *rbuf);
  sres = malloc((size_t)(nin > 0 ? nin : 1) * sizeof *sres);
  rres = malloc((size_t)(n > 0 ? n : 1) * sizeof *rres);
  rlab = malloc((size_t)(nin > 0 ? nin : 1) * sizeof *rlab);
  rpiece = malloc((size_t)(nin > 0 ? nin : 1) * sizeof *rpiece);
  int ok = sbuf && rbuf && sres && rres && rlab && rpiece && (int64_t)n * w < INT32_MAX &&
           nin * w < INT32_MAX;
  st = bfcr_agree(ctx, ok ? BFCR_OK
                          : bfcr_err(ctx, BFCR_ERR_NOMEM,
                                     "out of memory (or > 2^31 values) routing rows to owners"));
  if (st != BFCR_OK) goto done;
  /* Pack rows by destination, in local order: z, cluster, piece, local index. */
  for (int64_t i = 0; i < n; i++) {
    int r = row_owner(m, lab[i], piece[i], P);
    double *row = sbuf + (int64_t)(sdsp[r] + fill[r]++) * w;
    memcpy(row, Z + i * d, (size_t)d * sizeof(double));
    row[d] = (double)lab[i];
    row[d + 1] = (double)piece[i];
    row[d + 2] = (double)i;
  }
  for (int r = 0; r < P; r++) {
    scnt[r] *= w;
    sdsp[r] *= w;
    rcnt[r] *= w;
    rdsp[r] *= w;
  }
  if (MPI_Alltoallv(sbuf, scnt, sdsp, MPI_DOUBLE, rbuf, rcnt, rdsp, MPI_DOUBLE, ctx->comm) !=
      MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoallv of query rows failed");
    goto done;
  }
  /* The owner applies its models (the same function as bfcr_predict). */
  for (int64_t q = 0; q < nin; q++) {
    rlab[q] = (int64_t)rbuf[q * w + d];
    rpiece[q] = (int64_t)rbuf[q * w + d + 1];
  }
  st = bfcr_agree(ctx, bfcr_model_apply(ctx, m, rbuf, w, nin, rlab, rpiece, sres));
  if (st != BFCR_OK) goto done;
  for (int r = 0; r < P; r++) {
    scnt[r] /= w;
    sdsp[r] /= w;
    rcnt[r] /= w;
    rdsp[r] /= w;
  }
  if (MPI_Alltoallv(sres, rcnt, rdsp, MPI_DOUBLE, rres, scnt, sdsp, MPI_DOUBLE, ctx->comm) !=
      MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoallv of predictions failed");
    goto done;
  }
  for (int64_t p = 0; p < n; p++) yhat[(int64_t)sbuf[p * w + d + 2]] = rres[p];
  bfcr_phase_add(ctx, "predict (owners)", bfcr_wtime() - t0, (double)n * 5.0 * d);
done:
  free(Z);
  free(lab);
  free(piece);
  free(rlab);
  free(rpiece);
  free(fill);
  free(scnt);
  free(sdsp);
  free(rcnt);
  free(rdsp);
  free(sbuf);
  free(rbuf);
  free(sres);
  free(rres);
  return st;
}
