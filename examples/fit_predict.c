/* fit_predict: a small analytics program that uses an installed bfcr the way an
 * application would.
 *
 * Every rank generates its share of a seeded synthetic training set (bfcr_synth_data)
 * and of a held-out test set made of later rows of the same recipe (bfcr_synth_rows,
 * wrapped with bfcr_data_from_arrays), fits the best-friend clustering regression,
 * predicts the test rows, prints RMSE / MAE / R^2 (bfcr_score), saves the model,
 * loads it back and checks that the loaded model predicts the same values.
 *
 *   fit_predict [model-path] [train-rows]        (default: fit_predict.model 20000)
 *   mpiexec -n 2 ./fit_predict out.model
 *
 * The printed scores do not depend on the number of ranks or threads. Keep OpenBLAS on
 * one thread per rank (OPENBLAS_NUM_THREADS=1) when running several ranks per node.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "bfcr/bfcr.h"
#include "bfcr/version.h"

/* Report a failed call on rank 0. Collective bfcr calls agree on their status, so every
 * rank takes the same branch and nobody is left waiting in a collective. */
static int failed(bfcr_ctx *ctx, bfcr_status st, const char *what) {
  if (st == BFCR_OK) return 0;
  if (bfcr_ctx_rank(ctx) == 0)
    fprintf(stderr, "fit_predict: %s: %s: %s\n", what, bfcr_status_name(st), bfcr_ctx_errmsg(ctx));
  return 1;
}

int main(int argc, char **argv) {
  const char *model_path = argc > 1 ? argv[1] : "fit_predict.model";
  int64_t train_rows = argc > 2 ? strtoll(argv[2], NULL, 10) : 20000;
  int rc = 1;
  bfcr_ctx *ctx = NULL;
  bfcr_data *train = NULL, *test = NULL;
  bfcr_model *model = NULL, *loaded = NULL;
  double *Xt = NULL, *yt = NULL, *pred = NULL, *pred2 = NULL;
  bfcr_status st;

  MPI_Init(&argc, &argv);
  if (train_rows < 100) {
    fprintf(stderr, "fit_predict: train-rows must be at least 100\n");
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  st = bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (st != BFCR_OK) {
    fprintf(stderr, "fit_predict: cannot create a bfcr context (%s)\n", bfcr_status_name(st));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int rank = bfcr_ctx_rank(ctx), size = bfcr_ctx_size(ctx);
  bfcr_ctx_set_threads(ctx, 0); /* OpenMP threads: omp_get_max_threads() */

  /* Training data: rows 0 .. n-1 of the recipe, split over the ranks by bfcr. */
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = train_rows;
  sp.d = 4;
  sp.clusters = 8;
  sp.seed = 42;
  if (failed(ctx, bfcr_synth_data(ctx, &sp, &train), "bfcr_synth_data")) goto done;

  /* Test data: the next n/4 rows of the same recipe (same centres and slopes, unseen
   * rows). This rank's contiguous block, built by the caller and wrapped. */
  int64_t test_rows = train_rows / 4;
  int64_t first = test_rows * rank / size, last = test_rows * (rank + 1) / size;
  int64_t n_local = last - first;
  Xt = malloc((size_t)(n_local > 0 ? n_local : 1) * (size_t)sp.d * sizeof *Xt);
  yt = malloc((size_t)(n_local > 0 ? n_local : 1) * sizeof *yt);
  pred = malloc((size_t)(n_local > 0 ? n_local : 1) * sizeof *pred);
  pred2 = malloc((size_t)(n_local > 0 ? n_local : 1) * sizeof *pred2);
  st = (Xt && yt && pred && pred2) ? bfcr_synth_rows(&sp, sp.n + first, n_local, Xt, yt, NULL)
                                   : BFCR_ERR_NOMEM;
  /* A local failure: agree on it before the next collective call. */
  int bad = st != BFCR_OK, any_bad = 0;
  MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_bad) {
    if (rank == 0) fprintf(stderr, "fit_predict: cannot build the test rows\n");
    goto done;
  }
  if (failed(ctx, bfcr_data_from_arrays(ctx, n_local, sp.d, Xt, yt, NULL, &test),
             "bfcr_data_from_arrays"))
    goto done;

  /* Fit with the library's defaults: level chosen by the default criterion, ridge per
   * cluster with its penalty chosen by GCV. */
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  if (failed(ctx, bfcr_fit(ctx, train, &fp, &model), "bfcr_fit")) goto done;
  if (failed(ctx, bfcr_predict(ctx, model, test, pred), "bfcr_predict")) goto done;

  double rmse = NAN, mae = NAN, r2 = NAN;
  if (failed(ctx, bfcr_score(ctx, yt, pred, n_local, &rmse, &mae, &r2), "bfcr_score")) goto done;
  if (rank == 0) {
    printf("bfcr %s, %d rank(s): train %lld rows, test %lld rows, %d features\n",
           BFCR_VERSION_STRING, size, (long long)bfcr_data_global_rows(train),
           (long long)bfcr_data_global_rows(test), bfcr_data_features(test));
    printf("level %d of %d, %lld clusters\n", bfcr_model_chosen_level(model),
           bfcr_model_num_levels(model) - 1, (long long)bfcr_model_clusters(model));
    /* %.17g: the same digits for any rank count (the check in tests/cli/test_install.sh). */
    printf("scores: rmse=%.17g mae=%.17g r2=%.17g\n", rmse, mae, r2);
  }

  /* Save, load back, and check the round trip predicts the very same values. */
  if (failed(ctx, bfcr_model_save(ctx, model, model_path), "bfcr_model_save")) goto done;
  if (failed(ctx, bfcr_model_load(ctx, model_path, &loaded), "bfcr_model_load")) goto done;
  if (failed(ctx, bfcr_predict(ctx, loaded, test, pred2), "bfcr_predict (loaded)")) goto done;
  bad = n_local > 0 && memcmp(pred, pred2, (size_t)n_local * sizeof *pred) != 0;
  MPI_Allreduce(&bad, &any_bad, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  if (any_bad) {
    if (rank == 0) fprintf(stderr, "fit_predict: the loaded model predicts differently\n");
    goto done;
  }
  if (!isfinite(rmse) || !isfinite(r2)) {
    if (rank == 0) fprintf(stderr, "fit_predict: non-finite scores\n");
    goto done;
  }
  if (rank == 0) printf("model saved to %s and reloaded: predictions identical\n", model_path);
  rc = 0;

done:
  bfcr_model_destroy(&loaded);
  bfcr_model_destroy(&model);
  bfcr_data_destroy(&test);
  bfcr_data_destroy(&train);
  free(pred2);
  free(pred);
  free(yt);
  free(Xt);
  bfcr_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc;
}
