/* ranks: 1 2 3 4 */
/* Prediction with models applied on their owner ranks (MPI_Alltoallv both ways) equals
 * the replicated prediction bit for bit, for both routing rules and uneven blocks. */
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "mpitest.h"

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  bfcr_ctx_set_threads(ctx, 2);
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = 7001;
  sp.d = 4;
  sp.clusters = 9;
  sp.seed = 5;
  bfcr_data *data = NULL;
  MT_CHECK(bfcr_synth_data(ctx, &sp, &data) == BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  for (int routing = 0; routing < 2; routing++) {
    bfcr_fit_params fp;
    bfcr_fit_params_init(&fp);
    fp.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
    fp.routing = routing ? BFCR_ROUTE_SAMPLE : BFCR_ROUTE_CENTROID;
    fp.level = 2; /* many clusters, so every rank owns some */
    bfcr_model *m = NULL;
    MT_CHECK(bfcr_fit(ctx, data, &fp, &m) == BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
    int64_t n = bfcr_data_local_rows(data);
    double *a = malloc((size_t)(n + 1) * sizeof *a), *b = malloc((size_t)(n + 1) * sizeof *b);
    MT_CHECK(bfcr_predict(ctx, m, data, a) == BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
    MT_CHECK(bfcr_predict_owned(ctx, m, data, b) == BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
    MT_CHECK(memcmp(a, b, (size_t)n * sizeof *a) == 0, "routing %d: predictions differ", routing);
    free(a);
    free(b);
    bfcr_model_destroy(&m);
  }
  bfcr_data_destroy(&data);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_predict_owned");
}
