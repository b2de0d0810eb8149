/* bfcr_score: RMSE, MAE and R^2 of predictions over all ranks' rows.
 *
 * What: with e_i = truth_i - pred_i over the n global rows, RMSE = sqrt(sum e_i^2 / n),
 * MAE = sum |e_i| / n, R^2 = 1 - SSE / SST where SST = sum (truth_i - mean)^2.
 * How: two canonical reductions over global row positions (lib/par/reduce.h): the sum
 * of truth gives the mean, then one pass sums e^2, |e| and (truth - mean)^2. The
 * reduction tree is fixed by the global positions alone, so every score is
 * bit-identical for any split of the rows over ranks; summing about the mean (not
 * sum t^2 - n mean^2) avoids cancellation. Cost O(n / P) per rank plus O(P log n)
 * exchanged doubles.
 * Conventions: constant truth (SST = 0) gives R^2 = 1 for a perfect prediction and 0
 * otherwise (scikit-learn's choice), so R^2 stays finite. Non-finite inputs are
 * BFCR_ERR_INPUT naming the first bad global row (1-based); sums that overflow are
 * BFCR_ERR_NUMERIC. */
#include <math.h>
#include <string.h>

#include "core/ctx.h"
#include "par/reduce.h"

typedef struct score_user {
  const double *truth, *pred;
  int64_t offset; /* global position of local row 0 */
  double mean;    /* of truth, for the second pass */
  double se, sc;  /* scales: max |error| and max |truth - mean| (1 when 0) */
} score_user;

static void truth_elem(void *u, int64_t i, double *out) {
  const score_user *s = u;
  out[0] = s->truth[i - s->offset];
}

static void error_elem(void *u, int64_t i, double *out) {
  const score_user *s = u;
  const double t = s->truth[i - s->offset], e = t - s->pred[i - s->offset], c = t - s->mean;
  const double es = e / s->se, cs = c / s->sc; /* in [-1, 1]: no under- or overflow */
  out[0] = es * es;
  out[1] = fabs(es);
  out[2] = cs * cs;
}

static void add1(void *u, const double *a, const double *b, double *out) {
  (void)u;
  out[0] = a[0] + b[0];
}

static void add3(void *u, const double *a, const double *b, double *out) {
  (void)u;
  for (int j = 0; j < 3; j++) out[j] = a[j] + b[j];
}

/* Local argument and value checks; the first bad row of this rank names the error. */
static bfcr_status check_local(bfcr_ctx *ctx, const double *truth, const double *pred,
                               int64_t n_local, int64_t offset) {
  if (n_local < 0)
    return bfcr_err(ctx, BFCR_ERR_ARG, "bfcr_score: n_local is %lld, expected >= 0",
                    (long long)n_local);
  if (n_local > 0 && (!truth || !pred))
    return bfcr_err(ctx, BFCR_ERR_ARG, "bfcr_score: %s is NULL with %lld rows",
                    truth ? "pred" : "truth", (long long)n_local);
  for (int64_t i = 0; i < n_local; i++) {
    if (!isfinite(truth[i]))
      return bfcr_err(ctx, BFCR_ERR_INPUT, "row %lld, truth: expected a finite value, found %g",
                      (long long)(offset + i + 1), truth[i]);
    if (!isfinite(pred[i]))
      return bfcr_err(ctx, BFCR_ERR_INPUT,
                      "row %lld, prediction: expected a finite value, found %g",
                      (long long)(offset + i + 1), pred[i]);
  }
  return BFCR_OK;
}

bfcr_status bfcr_score(bfcr_ctx *ctx, const double *truth, const double *pred, int64_t n_local,
                       double *rmse, double *mae, double *r2) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  double t0 = bfcr_wtime();
  long long mine = n_local > 0 ? n_local : 0, offset = 0, n = 0;
  /* Collective facts first, so that every rank takes the same path. */
  if (MPI_Exscan(&mine, &offset, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS ||
      MPI_Allreduce(&mine, &n, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI collective failed in bfcr_score");
    goto cleanup;
  }
  if (ctx->rank == 0) offset = 0; /* MPI_Exscan leaves rank 0's result undefined */
  st = bfcr_agree(ctx, check_local(ctx, truth, pred, n_local, offset));
  if (st != BFCR_OK) return st;
  if (n == 0) {
    st = bfcr_err(ctx, BFCR_ERR_INPUT, "bfcr_score: 0 rows to score, expected at least one");
    goto cleanup;
  }

  score_user u = {truth, pred, offset, 0.0, 1.0, 1.0};
  double sum_t = 0.0, sums[3], amax[2] = {0.0, 0.0};
  bfcr_reducer r1 = {1, truth_elem, add1, &u};
  BFCR_CALL(bfcr_reduce_dist(ctx, &r1, n, offset, offset + mine, &sum_t));
  u.mean = sum_t / (double)n;
  /* Squares are summed in units of the largest magnitude (a max is exact and order-free),
   * so scores of values near 1e-300 or 1e200 stay exact in range. */
  for (int64_t i = 0; i < n_local; i++) {
    amax[0] = fmax(amax[0], fabs(truth[i] - pred[i]));
    amax[1] = fmax(amax[1], fabs(truth[i] - u.mean));
  }
  BFCR_CHECK(ctx,
             MPI_Allreduce(MPI_IN_PLACE, amax, 2, MPI_DOUBLE, MPI_MAX, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI collective failed in bfcr_score");
  u.se = amax[0] > 0.0 && isfinite(amax[0]) ? amax[0] : 1.0;
  u.sc = amax[1] > 0.0 && isfinite(amax[1]) ? amax[1] : 1.0;
  bfcr_reducer r3 = {3, error_elem, add3, &u};
  BFCR_CALL(bfcr_reduce_dist(ctx, &r3, n, offset, offset + mine, sums));
  BFCR_CHECK(ctx, isfinite(u.mean) && isfinite(sums[0]) && isfinite(sums[1]) && isfinite(sums[2]),
             BFCR_ERR_NUMERIC, "bfcr_score: sums of squares overflow (values near %g)",
             fabs(u.mean) > 0 ? u.mean : sums[1]);
  if (rmse) *rmse = u.se * sqrt(sums[0] / (double)n);
  if (mae) *mae = u.se * (sums[1] / (double)n);
  if (r2) {
    double ratio = (u.se / u.sc) * (u.se / u.sc) * sums[0] / sums[2];
    *r2 = sums[2] > 0.0 ? 1.0 - ratio : (sums[0] == 0.0 ? 1.0 : 0.0);
  }
cleanup:
  st = bfcr_agree(ctx, st);
  if (st == BFCR_OK) bfcr_phase_add(ctx, "score", bfcr_wtime() - t0, 0.0);
  return st;
}
