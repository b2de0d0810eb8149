/* ranks: 1 2 3 4 */
/* Models whose routing rows stay in shards (routing by nearest training row, linear
 * models): a model fitted on P ranks encodes and saves to the bytes of the one-process
 * model; the file, loaded by any Q = 1..P ranks (each reads only its block), gives the
 * one-process predictions (bfcr_predict, bfcr_predict_owned, bfcr_model_assign) and saves
 * back to the same bytes. Also with ranks that hold no rows (n = 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "mpitest.h"

static void run(const char *name, int64_t n, int d, const char *dir) {
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
  sp.clusters = 7;
  sp.seed = 11;
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  fp.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  fp.routing = BFCR_ROUTE_SAMPLE;
  bfcr_data *dw = NULL, *ds = NULL;
  bfcr_model *mw = NULL, *ms = NULL;
  unsigned char *bw = NULL, *bs = NULL;
  size_t lw = 0, ls = 0;
  double *ps = malloc(sizeof(double) * (size_t)(n + 1));
  MT_CHECK(bfcr_synth_data(world, &sp, &dw) == BFCR_OK, "%s: data", name);
  MT_CHECK(bfcr_synth_data(self, &sp, &ds) == BFCR_OK, "%s: self data", name);
  MT_CHECK(bfcr_fit(world, dw, &fp, &mw) == BFCR_OK, "%s: fit: %s", name, bfcr_ctx_errmsg(world));
  MT_CHECK(bfcr_fit(self, ds, &fp, &ms) == BFCR_OK, "%s: self fit", name);
  MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "%s: encode", name);
  MT_CHECK(bfcr_model_encode(self, ms, &bs, &ls) == BFCR_OK, "%s: self encode", name);
  MT_CHECK(lw == ls && bw && bs && memcmp(bw, bs, ls) == 0, "%s: encoded bytes differ", name);
  MT_CHECK(bfcr_predict(self, ms, ds, ps) == BFCR_OK, "%s: self predict", name);

  char path[512], path2[512];
  snprintf(path, sizeof path, "%s/%s.bfcr", dir, name);
  MT_CHECK(bfcr_model_save(world, mw, path) == BFCR_OK, "%s: save: %s", name,
           bfcr_ctx_errmsg(world));
  long flen = 0;
  unsigned char *fb = mt_slurp(path, &flen);
  MT_CHECK(fb && (size_t)flen == ls && memcmp(fb, bs, ls) == 0, "%s: saved file differs", name);
  free(fb);

  for (int q = 1; q <= P; q++) {
    MPI_Comm sub;
    MPI_Comm_split(MPI_COMM_WORLD, rank < q ? 0 : 1, rank, &sub);
    if (rank < q) {
      bfcr_ctx *cq = NULL;
      bfcr_ctx_create(sub, &cq);
      bfcr_data *dq = NULL;
      bfcr_model *mq = NULL;
      MT_CHECK(bfcr_synth_data(cq, &sp, &dq) == BFCR_OK, "%s: data at %d", name, q);
      MT_CHECK(bfcr_model_load(cq, path, &mq) == BFCR_OK, "%s: load at %d: %s", name, q,
               bfcr_ctx_errmsg(cq));
      int64_t nl = bfcr_data_local_rows(dq), off = bfcr_data_row_offset(dq);
      double *y1 = malloc(sizeof(double) * (size_t)(nl + 1));
      double *y2 = malloc(sizeof(double) * (size_t)(nl + 1));
      int64_t *lab = malloc(sizeof(int64_t) * (size_t)(nl + 1));
      int64_t *labs = malloc(sizeof(int64_t) * (size_t)(n + 1));
      MT_CHECK(bfcr_predict(cq, mq, dq, y1) == BFCR_OK, "%s: predict at %d", name, q);
      MT_CHECK(memcmp(y1, ps + off, sizeof(double) * (size_t)nl) == 0,
               "%s: predictions of the file read by %d ranks differ", name, q);
      MT_CHECK(bfcr_predict_owned(cq, mq, dq, y2) == BFCR_OK, "%s: owned at %d", name, q);
      MT_CHECK(memcmp(y2, ps + off, sizeof(double) * (size_t)nl) == 0,
               "%s: owned predictions at %d ranks differ", name, q);
      MT_CHECK(bfcr_model_assign(cq, mq, dq, lab) == BFCR_OK, "%s: assign at %d", name, q);
      MT_CHECK(bfcr_model_assign(self, ms, ds, labs) == BFCR_OK, "%s: self assign", name);
      MT_CHECK(memcmp(lab, labs + off, sizeof(int64_t) * (size_t)nl) == 0,
               "%s: clusters at %d ranks differ", name, q);
      snprintf(path2, sizeof path2, "%s/%s.q%d.bfcr", dir, name, q);
      MT_CHECK(bfcr_model_save(cq, mq, path2) == BFCR_OK, "%s: save at %d", name, q);
      fb = mt_slurp(path2, &flen);
      MT_CHECK(fb && (size_t)flen == ls && memcmp(fb, bs, ls) == 0,
               "%s: file saved by %d ranks after a load differs", name, q);
      free(fb);
      free(y1);
      free(y2);
      free(lab);
      free(labs);
      bfcr_model_destroy(&mq);
      bfcr_data_destroy(&dq);
      bfcr_ctx_destroy(&cq);
    }
    MPI_Comm_free(&sub);
    MPI_Barrier(MPI_COMM_WORLD);
  }
  free(bw);
  free(bs);
  free(ps);
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
  mt_tmpdir("shards", dir, sizeof dir);
  if (dir[0]) {
    run("blobs", 5003, 3, dir);
    run("tiny", 3, 2, dir);
  }
  mt_rmtree(dir);
  return mt_finish("mpi_model_shards");
}
