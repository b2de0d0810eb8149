/* ranks: 2 4 */
/* Two groups of ranks (MPI_Comm_split) fit different datasets at the same time, each on
 * its own context: every group's model is byte-identical to the one fitted alone on
 * MPI_COMM_SELF, so bfcr keeps to the communicator it is given (no hidden use of the
 * world, no cross-talk between concurrent fits). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "mpitest.h"

static bfcr_status make(bfcr_ctx *ctx, int color, const char *boston, bfcr_data **out) {
  if (color == 0) {
    bfcr_synth_params sp;
    bfcr_synth_params_init(&sp);
    sp.n = 5000;
    sp.d = 5;
    sp.seed = 3;
    return bfcr_synth_data(ctx, &sp, out);
  }
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = "medv";
  return bfcr_data_read_csv(ctx, boston, &cp, NULL, out);
}

/* Fit and encode; returns the byte length (0 on failure). */
static size_t fit_bytes(bfcr_ctx *ctx, int color, const char *boston, unsigned char **buf) {
  bfcr_data *d = NULL;
  bfcr_model *m = NULL;
  size_t len = 0;
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  fp.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  fp.routing = color == 0 ? BFCR_ROUTE_CENTROID : BFCR_ROUTE_SAMPLE;
  *buf = NULL;
  if (make(ctx, color, boston, &d) == BFCR_OK && bfcr_fit(ctx, d, &fp, &m) == BFCR_OK &&
      bfcr_model_encode(ctx, m, buf, &len) != BFCR_OK)
    len = 0;
  MT_CHECK(m != NULL, "color %d: %s", color, bfcr_ctx_errmsg(ctx));
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&d);
  return len;
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  const char *data = getenv("BFCR_DATA");
  char boston[512];
  snprintf(boston, sizeof boston, "%s/boston.csv", data ? data : "datasets");
  int color = rank % 2;
  MPI_Comm group;
  MPI_Comm_split(MPI_COMM_WORLD, color, rank, &group);
  bfcr_ctx *g = NULL, *self = NULL;
  bfcr_ctx_create(group, &g);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  MPI_Comm_free(&group); /* the context holds its own duplicate */
  for (int th = 1; th <= 2; th++) {
    bfcr_ctx_set_threads(g, th);
    bfcr_ctx_set_threads(self, th);
    unsigned char *a = NULL, *b = NULL;
    size_t la = fit_bytes(g, color, boston, &a);
    size_t lb = fit_bytes(self, color, boston, &b);
    MT_CHECK(la > 0 && la == lb && memcmp(a, b, la) == 0,
             "group %d (%d ranks), %d threads: model differs from the one-process fit (%zu vs "
             "%zu bytes)",
             color, bfcr_ctx_size(g), th, la, lb);
    free(a);
    free(b);
  }
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&g);
  return mt_finish("mpi_comm_split");
}
