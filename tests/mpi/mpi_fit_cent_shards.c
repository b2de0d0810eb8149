/* ranks: 1 2 3 4 */
/* Centroids kept in shards (fit.c centroids_sharded): a linear model routed by training
 * rows and fitted on several ranks keeps only the chosen level's centroids of the clusters
 * it owns; the ranks tile 0..k in rank order. The model encodes and saves (rank 0 writes,
 * the others send their clusters in order) to the one-process bytes, and predicts the
 * one-process values in the same process, for: the CV's pick, the lowest level forced
 * (the most clusters), a fixed level with shrinkage and the feature-space guard, and OLS.
 * Routing by centroid keeps all of them (predict reads them). Also with ranks that hold
 * no rows (n = 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "model/model_impl.h"
#include "mpitest.h"

static void run(const char *name, int64_t n, int d, const bfcr_fit_params *fp, const char *dir) {
  int rank = 0, P = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  bfcr_ctx *world = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &world);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = n;
  sp.d = d;
  sp.clusters = 9;
  sp.seed = 23;
  bfcr_data *dw = NULL, *ds = NULL;
  bfcr_model *mw = NULL, *ms = NULL;
  unsigned char *bw = NULL, *bs = NULL;
  size_t lw = 0, ls = 0;
  double *ps = malloc(sizeof(double) * (size_t)(n + 1));
  double *pw = malloc(sizeof(double) * (size_t)(n + 1));
  MT_CHECK(bfcr_synth_data(world, &sp, &dw) == BFCR_OK, "%s: data", name);
  MT_CHECK(bfcr_synth_data(self, &sp, &ds) == BFCR_OK, "%s: self data", name);
  MT_CHECK(bfcr_fit(world, dw, fp, &mw) == BFCR_OK, "%s: fit: %s", name, bfcr_ctx_errmsg(world));
  MT_CHECK(bfcr_fit(self, ds, fp, &ms) == BFCR_OK, "%s: self fit", name);
  if (!mw || !ms) goto done;

  /* The layout: sharded exactly when expected, the ranks tiling 0..k in order. */
  const int want = P > 1 && mw->chosen > 0 && fp->routing == BFCR_ROUTE_SAMPLE;
  MT_CHECK(mw->cent_sharded == want, "%s: centroids sharded %d, expected %d", name,
           mw->cent_sharded, want);
  if (mw->cent_sharded) {
    int64_t mine[2] = {mw->cent_lo, mw->cent_nloc}, *all = malloc(sizeof(int64_t) * 2 * P);
    MPI_Allgather(mine, 2, MPI_INT64_T, all, 2, MPI_INT64_T, MPI_COMM_WORLD);
    int64_t at = 0;
    for (int r = 0; r < P; r++) {
      MT_CHECK(all[2 * r] == at && all[2 * r + 1] >= 0, "%s: rank %d holds [%lld, +%lld)", name, r,
               (long long)all[2 * r], (long long)all[2 * r + 1]);
      at = all[2 * r] + all[2 * r + 1];
    }
    MT_CHECK(at == mw->k, "%s: centroids tile %lld of %lld", name, (long long)at, (long long)mw->k);
    for (int64_t c = 0; c < mw->cent_nloc; c++)
      MT_CHECK(memcmp(mw->centroids + c * d, ms->centroids + (mw->cent_lo + c) * d,
                      sizeof(double) * (size_t)d) == 0,
               "%s: centroid %lld differs", name, (long long)(mw->cent_lo + c));
    free(all);
  }

  /* Predictions of the fitted model in this process: the one-process values. */
  int64_t nl = bfcr_data_local_rows(dw), off = bfcr_data_row_offset(dw);
  MT_CHECK(bfcr_predict(self, ms, ds, ps) == BFCR_OK, "%s: self predict", name);
  MT_CHECK(bfcr_predict(world, mw, dw, pw) == BFCR_OK, "%s: predict: %s", name,
           bfcr_ctx_errmsg(world));
  MT_CHECK(memcmp(pw, ps + off, sizeof(double) * (size_t)nl) == 0, "%s: predictions differ", name);

  /* Encoded and saved bytes: the one-process model's. */
  MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "%s: encode", name);
  MT_CHECK(bfcr_model_encode(self, ms, &bs, &ls) == BFCR_OK, "%s: self encode", name);
  MT_CHECK(lw == ls && bw && bs && memcmp(bw, bs, ls) == 0, "%s: encoded bytes differ", name);
  char path[512];
  snprintf(path, sizeof path, "%s/%s.bfcr", dir, name);
  MT_CHECK(bfcr_model_save(world, mw, path) == BFCR_OK, "%s: save: %s", name,
           bfcr_ctx_errmsg(world));
  MPI_Barrier(MPI_COMM_WORLD);
  long flen = 0;
  unsigned char *fb = mt_slurp(path, &flen);
  MT_CHECK(fb && bs && (size_t)flen == ls && memcmp(fb, bs, ls) == 0, "%s: saved file differs",
           name);
  free(fb);
  /* One rank's shard alone cannot be encoded: a clear error, not a partial file. */
  if (mw->cent_sharded && mw->cent_nloc != mw->k) {
    unsigned char *b1 = NULL;
    size_t l1 = 0;
    MT_CHECK(bfcr_model_encode(self, mw, &b1, &l1) != BFCR_OK && !b1, "%s: a shard encoded alone",
             name);
  }
done:
  free(bw);
  free(bs);
  free(ps);
  free(pw);
  bfcr_model_destroy(&mw);
  bfcr_model_destroy(&ms);
  bfcr_data_destroy(&dw);
  bfcr_data_destroy(&ds);
  bfcr_ctx_destroy(&world);
  bfcr_ctx_destroy(&self);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  char dir[256];
  mt_tmpdir("cent", dir, sizeof dir);
  if (dir[0]) {
    bfcr_fit_params fp;
    bfcr_fit_params_init(&fp);
    fp.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
    run("cv", 4001, 3, &fp, dir);
    fp.level = 1; /* the most clusters */
    run("level1", 3001, 4, &fp, dir);
    fp.level = 2;
    fp.shrink = 0.5;
    fp.guard_space = 1;
    run("shrink_guard", 2503, 3, &fp, dir);
    bfcr_fit_params_init(&fp);
    fp.select_regressors = 1u << BFCR_REG_RIDGE;
    fp.regressor = BFCR_REG_OLS;
    fp.select = BFCR_SELECT_CRITERION;
    run("ols", 2001, 2, &fp, dir);
    bfcr_fit_params_init(&fp);
    fp.select_regressors = 1u << BFCR_REG_RIDGE;
    fp.routing = BFCR_ROUTE_CENTROID;
    run("centroid", 2001, 3, &fp, dir);
    bfcr_fit_params_init(&fp);
    fp.select_regressors = 1u << BFCR_REG_RIDGE;
    run("tiny", 3, 2, &fp, dir);
  }
  mt_rmtree(dir);
  return mt_finish("mpi_fit_cent_shards");
}
