/* ranks: 1 2 3 4 */
/* bfcr_score at P ranks, on uneven splits with an empty rank, is bit-identical to one
 * process scoring all rows; errors name the first bad global row on every rank. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "mpitest.h"

enum { N = 1001 };

/* Bounds of rank r's part: floor(N r^2 / P^2) (uneven), rank 1 empty when P >= 3. */
static int64_t bound(int r, int P) {
  if (P >= 3 && r == 2) r = 1;
  return (int64_t)N * r * r / ((int64_t)P * P);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);

  /* Global data: synthetic targets and a second seed's targets as "predictions". */
  static double X[N * 8], truth[N], pred[N];
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = N;
  bfcr_synth_rows(&sp, 0, N, X, truth, NULL);
  sp.seed = 2;
  bfcr_synth_rows(&sp, 0, N, X, pred, NULL);
  for (int i = 0; i < N; i++) pred[i] = 0.9 * truth[i] + 0.1 * pred[i];

  double ref[3], got[3], even[3];
  MT_CHECK(bfcr_score(self, truth, pred, N, &ref[0], &ref[1], &ref[2]) == BFCR_OK, "self: %s",
           bfcr_ctx_errmsg(self));
  /* Plain sequential sums agree to rounding (the canonical order is only a fixed order). */
  double sse = 0, sae = 0, st = 0, sst = 0;
  for (int i = 0; i < N; i++)
    sse += (truth[i] - pred[i]) * (truth[i] - pred[i]), sae += fabs(truth[i] - pred[i]),
        st += truth[i];
  for (int i = 0; i < N; i++) sst += (truth[i] - st / N) * (truth[i] - st / N);
  MT_CHECK(fabs(ref[0] - sqrt(sse / N)) <= 1e-12 * ref[0], "rmse %.17g vs %.17g", ref[0],
           sqrt(sse / N));
  MT_CHECK(fabs(ref[1] - sae / N) <= 1e-12 * ref[1], "mae %.17g vs %.17g", ref[1], sae / N);
  MT_CHECK(fabs(ref[2] - (1 - sse / sst)) <= 1e-12, "r2 %.17g vs %.17g", ref[2], 1 - sse / sst);
  MT_CHECK(ref[2] > 0.5 && ref[2] < 1, "r2 %g", ref[2]);

  int64_t lo = bound(rank, P), hi = bound(rank + 1, P);
  MT_CHECK(bfcr_score(ctx, truth + lo, pred + lo, hi - lo, &got[0], &got[1], &got[2]) == BFCR_OK,
           "uneven: %s", bfcr_ctx_errmsg(ctx));
  MT_CHECK(memcmp(got, ref, sizeof ref) == 0,
           "uneven split: %.17g %.17g %.17g vs %.17g %.17g %.17g", got[0], got[1], got[2], ref[0],
           ref[1], ref[2]);
  lo = (int64_t)N * rank / P, hi = (int64_t)N * (rank + 1) / P;
  MT_CHECK(bfcr_score(ctx, truth + lo, pred + lo, hi - lo, &even[0], &even[1], &even[2]) == BFCR_OK,
           "even: %s", bfcr_ctx_errmsg(ctx));
  MT_CHECK(memcmp(even, ref, sizeof ref) == 0, "even split differs");
  if (rank == 0) printf("rmse %.17g mae %.17g r2 %.17g\n", ref[0], ref[1], ref[2]);

  /* Non-finite values at global rows 10 and 1001: every rank reports row 10. */
  pred[9] = NAN;
  truth[N - 1] = INFINITY;
  lo = bound(rank, P), hi = bound(rank + 1, P);
  bfcr_status s = bfcr_score(ctx, truth + lo, pred + lo, hi - lo, &got[0], NULL, NULL);
  MT_CHECK(s == BFCR_ERR_INPUT, "NaN gave %s", bfcr_status_name(s));
  MT_CHECK(strstr(bfcr_ctx_errmsg(ctx), "row 10, prediction") != NULL, "message: %s",
           bfcr_ctx_errmsg(ctx));
  pred[9] = 0;
  s = bfcr_score(ctx, truth + lo, pred + lo, hi - lo, &got[0], NULL, NULL);
  MT_CHECK(s == BFCR_ERR_INPUT, "inf gave %s", bfcr_status_name(s));
  MT_CHECK(strstr(bfcr_ctx_errmsg(ctx), "row 1001, truth") != NULL, "message: %s",
           bfcr_ctx_errmsg(ctx));
  /* Nothing anywhere: an error on every rank, not a division by zero. */
  s = bfcr_score(ctx, truth, pred, 0, &got[0], NULL, NULL);
  MT_CHECK(s == BFCR_ERR_INPUT, "0 rows gave %s", bfcr_status_name(s));

  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_score");
}
