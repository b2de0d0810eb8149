/* bfcr predict: load a model, read a CSV with the model's schema (the target column
 * may be present and is then only used by --truth), predict, and write one column
 * `prediction`, one row per input row in input order. The output is written last and
 * atomically: any failure leaves an existing file untouched. */
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "options.h"

int cmd_predict(app *a, int argc, char **argv) {
  const char *out = NULL, *truth = NULL;
  int threads = 1, verbose = 0, owned = 0;
  app_opt opts[] = {
      {.name = "--output",
       .short_name = 'o',
       .metavar = "PRED.csv",
       .kind = APP_OPT_STRING,
       .dest = &out,
       .help = "predictions file to write (column `prediction`)",
       .required = 1},
      {.name = "--truth",
       .metavar = "NAME",
       .kind = APP_OPT_STRING,
       .dest = &truth,
       .help = "score against this column (the model's target): RMSE, MAE, R^2"},
      {.name = "--owned",
       .kind = APP_OPT_FLAG,
       .dest = &owned,
       .help = "apply each model on its owner rank, rows sent by MPI_Alltoallv (same output)"},
      APP_OPT_THREADS_ENTRY(&threads),
      APP_OPT_VERBOSE_ENTRY(&verbose),
  };
  static const char *const pos_names[] = {"MODEL", "DATA.csv"};
  const char *pos[2] = {NULL, NULL};
  app_cmd_spec spec = {
      .name = "predict",
      .usage = "MODEL DATA.csv -o PRED.csv [--truth NAME] [--owned] [options]",
      .summary =
          "Predict every row of DATA.csv with a model written by 'bfcr fit'. DATA.csv must\n"
          "have the training header (the target column may be missing).",
      .pos_names = pos_names,
      .npos = 2,
      .pos = pos,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;

  bfcr_model *model = NULL;
  bfcr_data *data = NULL;
  double *yhat = NULL;
  int rc = app_setup_threads(a, threads, app_seen(&spec, "--threads"));
  if (rc) goto cleanup;
  app_set_verbose(a, verbose);

  rc = app_fail_status(a, bfcr_model_load(a->ctx, pos[0], &model));
  if (rc) goto cleanup;
  const bfcr_schema *schema = bfcr_model_schema(model);
  const char *target = bfcr_schema_target(schema);
  if (truth && (!target || strcmp(truth, target) != 0)) {
    rc = app_fail(a, BFCR_ERR_ARG, "--truth %s: the model's target is %s%s%s", truth,
                  target ? "'" : "", target ? target : "(none)", target ? "'" : "");
    goto cleanup;
  }
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = target;
  rc = app_fail_status(a, bfcr_data_read_csv(a->ctx, pos[1], &cp, schema, &data));
  if (rc) goto cleanup;

  int64_t n_local = bfcr_data_local_rows(data);
  const double *y = bfcr_data_y(data);
  /* A rank without rows may have no target array; the column exists if any has one. */
  if (truth && app_all_ok(y == NULL)) {
    rc =
        app_fail(a, BFCR_ERR_INPUT, "%s: no column '%s' to score against (--truth)", pos[1], truth);
    goto cleanup;
  }
  yhat = malloc((size_t)(n_local > 0 ? n_local : 1) * sizeof *yhat);
  if (!app_all_ok(yhat != NULL)) {
    rc = app_fail(a, BFCR_ERR_NOMEM, "out of memory for %lld predictions", (long long)n_local);
    goto cleanup;
  }
  int64_t guarded = 0;
  rc = app_fail_status(a, owned ? bfcr_predict_owned(a->ctx, model, data, yhat)
                                : bfcr_predict_guarded(a->ctx, model, data, yhat, &guarded));
  if (rc) goto cleanup;
  double rmse = 0, mae = 0, r2 = 0;
  if (truth) {
    rc = app_fail_status(a, bfcr_score(a->ctx, y ? y : yhat, yhat, n_local, &rmse, &mae, &r2));
    if (rc) goto cleanup;
  }
  bfcr_column col = {.name = "prediction", .type = BFCR_COLTYPE_DOUBLE, .local = yhat};
  rc = app_fail_status(a, bfcr_write_columns_csv(a->ctx, out, 1, &col, n_local));
  if (rc) goto cleanup;
  if (a->rank == 0) {
    app_progress_break(a);
    printf("bfcr predict: %lld rows of %s with %s -> %s\n", (long long)bfcr_data_global_rows(data),
           pos[1], pos[0], out);
    if (truth) printf("%s: RMSE %.6g  MAE %.6g  R^2 %.6f\n", truth, rmse, mae, r2);
    if (verbose && !owned)
      printf(
          "guarded: %lld rows outside their cluster's target range (or data ellipsoid) "
          "moved to the global model\n",
          (long long)guarded);
  }

cleanup:
  free(yhat);
  bfcr_data_destroy(&data);
  bfcr_model_destroy(&model);
  return rc;
}
