/* ranks: 1 2 3 4 */
/* Kernel regressors (KRR, SVR) fitted at P ranks equal one process bit for bit: rank 0
 * also fits the whole dataset alone on MPI_COMM_SELF and broadcasts the model bytes and
 * its predictions; every rank compares the serialized model of the P-rank fit, its own
 * rows' predictions by bfcr_predict, and bfcr_predict_owned (pieces applied on their
 * owner ranks) against bfcr_predict. Data: synthetic blobs with a nonlinear target
 * (2000 rows, d = 3), SPLIT with small caps so that clusters become several pieces that
 * the ranks own unevenly; both routings; 1 and 2 threads. Also the level chosen by CV with
 * kernel ridge candidates (select_regressors): the same kernel CV table (bit for bit),
 * choice and model bytes. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "mpitest.h"

#define N 2000

/* Row i (global index) of the set: blobs in 3-D, y = blob offset + a wave. */
static void row(int64_t i, double *x, double *y) {
  uint64_t z = (uint64_t)i * 0x9E3779B97F4A7C15u + 0x632BE59BD9B4E019u;
  double u[3];
  for (int j = 0; j < 3; j++) {
    z ^= z >> 31;
    z *= 0xBF58476D1CE4E5B9u;
    z ^= z >> 29;
    u[j] = (double)(z >> 11) * 0x1.0p-53;
  }
  int b = (int)(i % 5);
  for (int j = 0; j < 3; j++) x[j] = 6.0 * ((b >> j) & 1) + 2.0 * u[j] + 0.5 * b;
  *y = 3.0 * b + sin(2.0 * x[0]) * cos(1.5 * x[1]) + 0.3 * x[2] * x[2];
}

static bfcr_status make(bfcr_ctx *ctx, bfcr_data **out) {
  int P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  int64_t lo = (int64_t)N * r / P, hi = (int64_t)N * (r + 1) / P, nl = hi - lo;
  double *X = malloc(sizeof(double) * (size_t)(3 * nl + 1)),
         *y = malloc(sizeof(double) * (size_t)(nl + 1));
  for (int64_t i = lo; i < hi; i++) row(i, X + 3 * (i - lo), y + (i - lo));
  bfcr_status st = bfcr_data_from_arrays(ctx, nl, 3, X, y, NULL, out);
  free(X);
  free(y);
  return st;
}

static int g_cases;

static void check(bfcr_ctx *world, bfcr_ctx *self, const char *name, const bfcr_fit_params *fp,
                  int threads) {
  int rank = bfcr_ctx_rank(world);
  bfcr_data *dw = NULL, *ds = NULL;
  bfcr_model *mw = NULL, *ms = NULL;
  unsigned char *bw = NULL, *bs = NULL;
  size_t lw = 0;
  uint64_t ls = 0;
  double *ps = malloc(sizeof(double) * N), *pw = NULL, *po = NULL;
  int64_t pieces = 0;
  g_cases++;
  bfcr_ctx_set_threads(world, threads);
  bfcr_ctx_set_threads(self, threads);
  if (rank == 0) {
    int ok = make(self, &ds) == BFCR_OK && bfcr_fit(self, ds, fp, &ms) == BFCR_OK &&
             bfcr_model_encode(self, ms, &bs, &lw) == BFCR_OK &&
             bfcr_predict(self, ms, ds, ps) == BFCR_OK;
    MT_CHECK(ok, "%s: reference: %s", name, bfcr_ctx_errmsg(self));
    ls = ok ? (uint64_t)lw : 0;
    pieces = ms ? bfcr_model_pieces(ms) : 0;
  }
  MPI_Bcast(&ls, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  MPI_Bcast(&pieces, 1, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (rank != 0) bs = malloc(ls + 1);
  MPI_Bcast(bs, (int)ls, MPI_BYTE, 0, MPI_COMM_WORLD);
  MPI_Bcast(ps, N, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  double kt[2 * 64]; /* the kernel CV table (RMSE, dMSE per level), -2 when absent */
  for (int l = 0; l < 64; l++) kt[2 * l] = kt[2 * l + 1] = -2.0;
  if (rank == 0 && ms)
    for (int l = 1; l < bfcr_model_num_levels(ms) && l < 64; l++)
      if (bfcr_model_cv_kernel(ms, l, &kt[2 * l], &kt[2 * l + 1], NULL, NULL) < 0) kt[2 * l] = -2;
  MPI_Bcast(kt, 2 * 64, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MT_CHECK(pieces > bfcr_ctx_size(world), "%s: only %lld pieces", name, (long long)pieces);
  MT_CHECK(make(world, &dw) == BFCR_OK, "%s: data", name);
  MT_CHECK(bfcr_fit(world, dw, fp, &mw) == BFCR_OK, "%s: fit: %s", name, bfcr_ctx_errmsg(world));
  if (mw) {
    for (int l = 1; l < bfcr_model_num_levels(mw) && l < 64; l++) {
      double r = -2, dm = -2;
      if (bfcr_model_cv_kernel(mw, l, &r, &dm, NULL, NULL) < 0) r = -2;
      MT_CHECK(memcmp(&r, &kt[2 * l], sizeof r) == 0 &&
                   (r == -2 || memcmp(&dm, &kt[2 * l + 1], sizeof dm) == 0),
               "%s: kernel CV table differs at level %d (%.17g vs %.17g)", name, l, r, kt[2 * l]);
    }
    MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "%s: encode", name);
    MT_CHECK(ls > 0 && lw == ls && memcmp(bw, bs, lw) == 0,
             "%s: model bytes differ from one process (%zu vs %llu)", name, lw,
             (unsigned long long)ls);
    int64_t nl = bfcr_data_local_rows(dw), off = bfcr_data_row_offset(dw);
    pw = malloc(sizeof(double) * (size_t)(nl + 1));
    po = malloc(sizeof(double) * (size_t)(nl + 1));
    MT_CHECK(bfcr_predict(world, mw, dw, pw) == BFCR_OK, "%s: predict", name);
    MT_CHECK(bfcr_predict_owned(world, mw, dw, po) == BFCR_OK, "%s: predict_owned: %s", name,
             bfcr_ctx_errmsg(world));
    MT_CHECK(memcmp(pw, ps + off, sizeof(double) * (size_t)nl) == 0,
             "%s: predictions differ from one process", name);
    MT_CHECK(memcmp(pw, po, sizeof(double) * (size_t)nl) == 0,
             "%s: owned predictions differ from replicated ones", name);
  }
  free(bw);
  free(bs);
  free(ps);
  free(pw);
  free(po);
  bfcr_model_destroy(&mw);
  bfcr_model_destroy(&ms);
  bfcr_data_destroy(&dw);
  bfcr_data_destroy(&ds);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *world = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &world);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  bfcr_fit_params krr, svr, top;
  bfcr_fit_params_init(&krr);
  krr.regressor = BFCR_REG_KRR;
  krr.level = 2;
  krr.kernel_cap = 25;
  svr = krr;
  svr.regressor = BFCR_REG_SVR;
  svr.kernel_cap = 60;
  top = krr; /* one cluster of 2000 rows SPLIT into 14 pieces */
  top.level = -1;
  top.kernel_cap = 150;
  for (int th = 1; th <= 2; th++) {
    check(world, self, "krr/sample", &krr, th);
    krr.routing = BFCR_ROUTE_CENTROID;
    check(world, self, "krr/centroid", &krr, th);
    krr.routing = BFCR_ROUTE_SAMPLE;
  }
  check(world, self, "svr/sample", &svr, 2);
  svr.routing = BFCR_ROUTE_CENTROID;
  check(world, self, "svr/centroid", &svr, 1);
  check(world, self, "krr/top", &top, 1);
  bfcr_fit_params cvk; /* CV with kernel ridge candidates: KRR wins on this wave */
  bfcr_fit_params_init(&cvk);
  cvk.select_regressors = (1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR);
  cvk.kernel_cap = 40;
  cvk.kernel_budget = -1;
  for (int th = 1; th <= 2; th++) check(world, self, "cv ridge,krr", &cvk, th);
  if (bfcr_ctx_rank(world) == 0) printf("%d cases\n", g_cases);
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_fit_kernel");
}
