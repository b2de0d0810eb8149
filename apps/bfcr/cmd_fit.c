/* bfcr fit: read the training CSV, fit, score on the training rows, save the model,
 * print the level table and the phase times, and optionally write a JSON run record.
 * Nothing is written before the fit succeeded; the model file and the report are each
 * replaced atomically, and the report's temporary file is written before the model is
 * saved so that a failing report never follows a replaced model. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mpi.h>

#include "app.h"
#include "atomic.h"
#include "choices.h"
#include "options.h"
#include "print.h"
#include "bfcr/version.h"

typedef struct fit_result {
  const char *train_path, *model_path;
  int64_t rows;
  int d;
  const char *target;
  const bfcr_level_info *levels;
  int nlevels;
  int chosen;
  int64_t clusters, pieces;
  double rmse, mae, r2;
  const bfcr_fit_params *params; /* as resolved by the model */
  const bfcr_model *model;
} fit_result;

static void write_report(FILE *f, const app *a, const fit_result *r, const app_phases *ph) {
  fputs("{\"tool\":\"bfcr\",\"version\":", f);
  json_str(f, BFCR_VERSION_STRING);
  fputs(",\"command\":\"fit\",\"argv\":[", f);
  for (int i = 0; i < a->argc; i++) {
    if (i) fputc(',', f);
    json_str(f, a->argv[i]);
  }
  fprintf(f, "],\"ranks\":%d,\"threads\":%d,\"train\":", a->size, bfcr_ctx_threads(a->ctx));
  json_str(f, r->train_path);
  fprintf(f, ",\"rows\":%lld,\"features\":%d,\"target\":", (long long)r->rows, r->d);
  json_str(f, r->target);
  fputs(",\"model\":", f);
  json_str(f, r->model_path);
  const bfcr_fit_params *p = r->params;
  fputs(",\"params\":{\"criterion\":", f);
  json_str(f, app_choice_name(app_criteria, (int)p->criterion));
  fprintf(f, ",\"level\":%d,\"regressor\":", p->level);
  json_str(f, app_choice_name(app_regressors, (int)p->regressor));
  fputs(",\"routing\":", f);
  json_str(f, app_choice_name(app_routings, (int)p->routing));
  fputs(",\"small\":", f);
  json_str(f, app_choice_name(app_small_policies, (int)p->small));
  fprintf(f,
          ",\"min_cluster_size\":%lld,\"standardize\":%d,\"max_levels\":%d,\"seed\":%llu,"
          "\"kernel_cap\":%lld,\"guard_margin\":",
          (long long)p->min_cluster_size, p->tree.standardize, p->tree.max_levels,
          (unsigned long long)p->seed, (long long)p->kernel_cap);
  json_num(f, p->guard_margin);
  fprintf(f, ",\"select_regressors\":\"ridge%s\",\"kernel_budget\":",
          p->select_regressors & (1u << BFCR_REG_KRR) ? ",krr" : "");
  json_num(f, p->kernel_budget);
  fputc('}', f);
  fputs(",\"nn_method\":", f);
  json_str(f, app_choice_name(app_nn_methods, p->tree.nn_method));
  fputs(",\"nn\":[", f); /* what each search chose ("level 0: kd-tree (probe: ...)") */
  for (int i = 0; i < bfcr_ctx_num_nn_notes(a->ctx); i++) {
    if (i) fputc(',', f);
    json_str(f, bfcr_ctx_nn_note(a->ctx, i));
  }
  fputc(']', f);
  fprintf(f, ",\"kernel_pieces\":%lld", (long long)r->pieces);
  fprintf(f, ",\"distributed_levels\":%d", bfcr_ctx_distributed_levels(a->ctx));
  fputs(",\"levels\":", f);
  print_levels_json(f, r->levels, r->nlevels);
  int best = -1, folds = bfcr_model_cv(r->model, 0, NULL, NULL, &best);
  fprintf(f, ",\"cv\":{\"folds\":%d,\"best_level\":%d,\"rmse\":[", folds, best);
  for (int l = 0; folds > 0 && l < r->nlevels; l++) {
    double cr, cs;
    bfcr_model_cv(r->model, l, &cr, &cs, NULL);
    if (l) fputc(',', f);
    json_num(f, cr);
  }
  fputs("],\"se\":[", f);
  for (int l = 0; folds > 0 && l < r->nlevels; l++) {
    double cs;
    bfcr_model_cv(r->model, l, NULL, &cs, NULL);
    if (l) fputc(',', f);
    json_num(f, cs);
  }
  fputs("]}", f);
  if (bfcr_model_cv_kernel(r->model, 0, NULL, NULL, NULL, NULL) >= 0) {
    /* kernel candidates: per level state (0 none, 1 scored, 2 over budget, 3 no kernel
     * cluster), estimated cost, CV RMSE, paired dMSE vs the ridge pick and its SE */
    static const char *const kst[] = {"none", "scored", "over budget", "no kernel cluster"};
    fputs(",\"cv_kernel\":{\"regressor\":\"krr\",\"chosen\":", f);
    json_str(f, app_choice_name(app_regressors, (int)bfcr_model_params(r->model)->regressor));
    double kfix = NAN;
    bfcr_model_cv_kernel(r->model, 0, NULL, NULL, NULL, &kfix);
    fputs(",\"fixed_cost_s\":", f);
    json_num(f, kfix);
    fputs(",\"levels\":[", f);
    for (int l = 1; l < r->nlevels; l++) {
      double kr, km, ks, kc;
      int s = bfcr_model_cv_kernel(r->model, l, &kr, &km, &ks, &kc);
      if (l > 1) fputc(',', f);
      fprintf(f, "{\"level\":%d,\"state\":", l);
      json_str(f, kst[s >= 0 && s < 4 ? s : 0]);
      fputs(",\"cost_s\":", f);
      json_num(f, kc);
      fputs(",\"rmse\":", f);
      json_num(f, kr);
      fputs(",\"dmse\":", f);
      json_num(f, km);
      fputs(",\"dse\":", f);
      json_num(f, ks);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  double spr = NAN;
  int spk = bfcr_model_cv_small(r->model, 0, &spr, NULL, NULL, NULL);
  if (spk != -1) {
    /* small-cluster policy candidates (shrink, per level below the top): CV RMSE, paired
     * dMSE vs the ancestor pick and its SE, the level's penalty; chosen level (0: none) */
    fprintf(f, ",\"cv_small\":{\"state\":\"%s\",\"chosen_level\":%d,\"pick_rmse\":",
            spk == -2   ? "over budget"
            : spk == -3 ? "overturned by the honest check"
                        : "scored",
            spk > 0 ? spk : 0);
    json_num(f, spr);
    fputs(",\"levels\":[", f);
    for (int l = 1, first = 1; spk != -2 && l < r->nlevels; l++) {
      double sr, sm, ss, sl;
      bfcr_model_cv_small(r->model, l, &sr, &sm, &ss, &sl);
      if (isnan(sr)) continue;
      fprintf(f, "%s{\"level\":%d,\"lambda\":", first ? "" : ",", l);
      first = 0;
      json_num(f, sl);
      fputs(",\"rmse\":", f);
      json_num(f, sr);
      fputs(",\"dmse\":", f);
      json_num(f, sm);
      fputs(",\"dse\":", f);
      json_num(f, ss);
      fputc('}', f);
    }
    fputs("]}", f);
  }
  double shl = 0.0;
  int ng = bfcr_model_shrink(r->model, &shl, 0, 0, NULL, NULL);
  fputs(",\"shrink\":{\"lambda\":", f);
  json_num(f, shl);
  fputs(",\"grid\":[", f);
  for (int g = 0; g < ng; g++) {
    double gl;
    bfcr_model_shrink(r->model, NULL, g, 0, &gl, NULL);
    if (g) fputc(',', f);
    json_num(f, gl);
  }
  fputs("],\"rmse\":[", f); /* [grid point][level] */
  for (int g = 0; g < ng; g++) {
    fputs(g ? ",[" : "[", f);
    for (int l = 0; l < r->nlevels; l++) {
      double cr;
      bfcr_model_shrink(r->model, NULL, g, l, NULL, &cr);
      if (l) fputc(',', f);
      json_num(f, cr);
    }
    fputc(']', f);
  }
  fputs("]", f);
  /* the one-SE decision: mean paired difference of squared errors against the pick and
   * its SE, [grid point][level] (null where no candidate) */
  for (int w = 0; w < 2 && bfcr_model_shrink_diff(r->model, 0, 0, NULL, NULL); w++) {
    fputs(w ? ",\"dmse_se\":[" : ",\"dmse\":[", f);
    for (int g = 0; g < ng; g++) {
      fputs(g ? ",[" : "[", f);
      for (int l = 0; l < r->nlevels; l++) {
        double dm, ds;
        bfcr_model_shrink_diff(r->model, g, l, &dm, &ds);
        if (l) fputc(',', f);
        json_num(f, w ? ds : dm);
      }
      fputc(']', f);
    }
    fputc(']', f);
  }
  fputs("}", f);
  fprintf(f, ",\"chosen_level\":%d,\"clusters\":%lld,\"train_rmse\":", r->chosen,
          (long long)r->clusters);
  json_num(f, r->rmse);
  json_field(f, "train_mae", r->mae);
  json_field(f, "train_r2", r->r2);
  fputs(",\"phases\":", f);
  print_phases_json(f, ph);
  json_field(f, "peak_rss_mb_max", ph->rss_max_mb);
  json_field(f, "peak_rss_mb_min", ph->rss_min_mb);
  json_field(f, "sent_mb_max", ph->sent_max_mb);
  json_field(f, "sent_mb_min", ph->sent_min_mb);
  json_field(f, "sent_mb_total", ph->sent_total_mb);
  json_field(f, "wall_seconds", MPI_Wtime() - a->t_start);
  fputs("}\n", f);
}

/* Rank 0 writes the report into a temporary file; all ranks learn the outcome. */
static int report_prepare(app *a, app_atomic *w, const char *path, const fit_result *r,
                          const app_phases *ph) {
  int code = APP_EXIT_OK;
  if (a->rank == 0) {
    char err[512];
    if (app_atomic_open(w, path, err, sizeof err) != 0) {
      code = app_fail(a, BFCR_ERR_IO, "%s", err);
    } else {
      write_report(w->f, a, r, ph);
      /* Flush and sync now, before the model is saved: a full disk must fail the run
       * while the old model is still in place. */
      if (fflush(w->f) != 0 || ferror(w->f) || fsync(fileno(w->f)) != 0) {
        app_atomic_abort(w);
        code = app_fail(a, BFCR_ERR_IO, "%s: write failed", path);
      }
    }
  }
  return app_bcast_code(code);
}

static int report_commit(app *a, app_atomic *w) {
  int code = APP_EXIT_OK;
  if (a->rank == 0) {
    char err[512];
    if (app_atomic_commit(w, err, sizeof err) != 0) code = app_fail(a, BFCR_ERR_IO, "%s", err);
  }
  return app_bcast_code(code);
}

int cmd_fit(app *a, int argc, char **argv) {
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  const char *target = NULL, *out = NULL, *report = NULL, *shrink = NULL;
  app_list selregs = {0};
  int threads = 1, verbose = 0;
  int crit = (int)fp.criterion, reg = (int)fp.regressor, route = (int)fp.routing;
  int small = (int)fp.small, na = (int)cp.na, text = (int)cp.text;
  int level = fp.level, sel = (int)fp.select;
  app_list features = {0};
  const double big = 1e300;
  app_opt opts[] = {
      {.name = "--target",
       .metavar = "NAME",
       .kind = APP_OPT_STRING,
       .dest = &target,
       .help = "target column",
       .required = 1},
      {.name = "--output",
       .short_name = 'o',
       .metavar = "MODEL",
       .kind = APP_OPT_STRING,
       .dest = &out,
       .help = "model file to write",
       .required = 1},
      APP_OPT_THREADS_ENTRY(&threads),
      {.name = "--select",
       .kind = APP_OPT_CHOICE,
       .dest = &sel,
       .choices = app_selects,
       .help = "how the level is chosen: K-fold cross-validation of every level (one-standard-"
               "error rule), or --criterion alone (the paper: --select criterion --criterion hci "
               "--routing centroid)"},
      {.name = "--folds",
       .metavar = "K",
       .kind = APP_OPT_INT,
       .dest = &fp.folds,
       .help = "cross-validation folds (fewer, with a warning, when there are fewer rows)",
       .min = 2,
       .max = 1000},
      {.name = "--shrink",
       .metavar = "auto|off|LAMBDA",
       .kind = APP_OPT_STRING,
       .dest = &shrink,
       .help = "hierarchical shrinkage of each cluster's model toward its ancestors' along the "
               "routed path (increment of a level weighted 1 / (1 + LAMBDA / parent rows)): auto "
               "= lambda and level chosen by the cross-validation, kept only when it beats hard "
               "routing there (hard routing when --level or --criterion fixes the level); off = "
               "hard routing",
       .defstr = "auto"},
      {.name = "--criterion",
       .kind = APP_OPT_CHOICE,
       .dest = &crit,
       .choices = app_criteria,
       .help = "rule choosing the level of the tree whose clusters get models (given without "
               "--select: implies --select criterion)"},
      {.name = "--level",
       .metavar = "L|top",
       .kind = APP_OPT_LEVEL,
       .dest = &level,
       .help = "use level L (1..top) instead of --criterion; top = one global model",
       .min = 0,
       .max = big,
       .defstr = fp.level == 0 ? "0, chosen by --criterion" : NULL},
      {.name = "--features",
       .metavar = "a,b,c",
       .kind = APP_OPT_LIST,
       .dest = &features,
       .help = "feature columns (default: every column but the target)"},
      {.name = "--regressor",
       .kind = APP_OPT_CHOICE,
       .dest = &reg,
       .choices = app_regressors,
       .help = "per-cluster model: ridge, least squares, Gaussian kernel ridge (krr) or RBF "
               "epsilon-SVR (svr); krr/svr fit one model per piece of at most --kernel-cap "
               "rows, hyper-parameters chosen on the piece's own rows"},
      {.name = "--kernel-cap",
       .metavar = "N",
       .kind = APP_OPT_INT64,
       .dest = &fp.kernel_cap,
       .help = "krr/svr: most rows per kernel model (larger clusters are split into "
               "contiguous pieces); cost grows as N^3",
       .min = 0,
       .max = 1e6,
       .defstr = fp.kernel_cap == 0 ? "0, automatic (2000)" : NULL},
      {.name = "--select-regressors",
       .metavar = "ridge,krr",
       .kind = APP_OPT_LIST,
       .dest = &selregs,
       .help = "regressor candidates of the cross-validation (--select cv): krr adds Gaussian "
               "kernel ridge at every level whose estimated cost fits --kernel-budget, fitted "
               "per fold; it replaces the ridge pick only when better by more than one SE "
               "(docs/accuracy.md)",
       .defstr = "ridge,krr"},
      {.name = "--kernel-budget",
       .metavar = "SECONDS",
       .kind = APP_OPT_DOUBLE,
       .dest = &fp.kernel_budget,
       .help = "estimated one-core seconds the kernel CV candidates may cost; levels over it "
               "are skipped and reported; -1 = no limit",
       .min = -1,
       .max = big,
       .defstr = "0, automatic (7)"},
      {.name = "--guard-margin",
       .metavar = "M",
       .kind = APP_OPT_DOUBLE,
       .dest = &fp.guard_margin,
       .help = "safe extrapolation: a prediction outside its cluster's training target range "
               "widened by M x the range on each side takes the global model's value, clipped; "
               "negative = off",
       .min = -1,
       .max = 1e6},
      {.name = "--guard-space",
       .metavar = "0|1",
       .kind = APP_OPT_INT,
       .dest = &fp.guard_space,
       .help = "with the guard: a row whose leverage h under its cluster's ridge model "
               "exceeds every training row's (h_max) moves toward the guard's fallback by "
               "1 - h_max / h",
       .min = 0,
       .max = 1},
      {.name = "--routing",
       .kind = APP_OPT_CHOICE,
       .dest = &route,
       .choices = app_routings,
       .help = "how a new row finds its cluster: nearest centroid or nearest training row"},
      {.name = "--small",
       .kind = APP_OPT_CHOICE,
       .dest = &small,
       .choices = app_small_policies,
       .help = "clusters below --min-cluster-size: shrink toward parent, use an ancestor, or "
               "auto: ancestor unless the cross-validation finds shrink better"},
      {.name = "--min-cluster-size",
       .metavar = "N",
       .kind = APP_OPT_INT64,
       .dest = &fp.min_cluster_size,
       .help = "smallest cluster fitted on its own rows",
       .min = 0,
       .max = big,
       .defstr = fp.min_cluster_size == 0 ? "0, automatic" : NULL},
      {.name = "--na",
       .kind = APP_OPT_CHOICE,
       .dest = &na,
       .choices = app_na_policies,
       .help = "empty/NA/NaN fields: fail naming file:line:column, or drop the row"},
      {.name = "--text",
       .kind = APP_OPT_CHOICE,
       .dest = &text,
       .choices = app_text_policies,
       .help = "text columns: one-hot encode, or fail"},
      {.name = "--no-standardize",
       .kind = APP_OPT_UNFLAG,
       .dest = &fp.tree.standardize,
       .key = "standardize",
       .help = "cluster on raw feature units instead of z-scores"},
      {.name = "--nn",
       .kind = APP_OPT_CHOICE,
       .dest = &fp.tree.nn_method,
       .choices = app_nn_methods,
       .help = "nearest-neighbour search: chosen by a probe of the data, or forced (same "
               "result, time only)"},
      {.name = "--max-levels",
       .metavar = "N",
       .kind = APP_OPT_INT,
       .dest = &fp.tree.max_levels,
       .help = "stop building the tree after N levels",
       .min = 1,
       .max = big},
      {.name = "--lambda-min",
       .metavar = "X",
       .kind = APP_OPT_DOUBLE,
       .dest = &fp.lambda_min,
       .help = "ridge grid low end, relative to the cluster's mean eigenvalue",
       .min = 0,
       .max = big},
      {.name = "--lambda-max",
       .metavar = "X",
       .kind = APP_OPT_DOUBLE,
       .dest = &fp.lambda_max,
       .help = "ridge grid high end",
       .min = 0,
       .max = big},
      {.name = "--lambda-steps",
       .metavar = "N",
       .kind = APP_OPT_INT,
       .dest = &fp.lambda_steps,
       .help = "ridge grid points",
       .min = 1,
       .max = big},
      {.name = "--rcond",
       .metavar = "X",
       .kind = APP_OPT_DOUBLE,
       .dest = &fp.rcond,
       .help = "OLS: singular values below rcond * s_max are dropped",
       .min = 0,
       .max = 1},
      {.name = "--seed",
       .metavar = "S",
       .kind = APP_OPT_U64,
       .dest = &fp.seed,
       .help = "seed of any sampling (results are seeded, never random)"},
      {.name = "--metrics",
       .kind = APP_OPT_CHOICE,
       .dest = &fp.all_metrics,
       .choices = app_metric_sets,
       .help = "level metrics to compute: those the level choice reads (Davies-Bouldin only "
               "for --criterion db, else shown as skipped) or all"},
      {.name = "--report",
       .metavar = "FILE.json",
       .kind = APP_OPT_STRING,
       .dest = &report,
       .help = "write a one-line JSON run record (written atomically)"},
      APP_OPT_VERBOSE_ENTRY(&verbose),
  };
  static const char *const pos_names[] = {"TRAIN.csv"};
  const char *pos[1] = {NULL};
  app_cmd_spec spec = {
      .name = "fit",
      .usage = "TRAIN.csv --target NAME -o MODEL [options]",
      .summary =
          "Build the best-friend summary tree of the training rows, pick a level, fit one\n"
          "regression model per cluster of that level and save the model. Prints the\n"
          "per-level table (chosen level marked *), the training RMSE and the time per\n"
          "phase (max over ranks).",
      .pos_names = pos_names,
      .npos = 1,
      .pos = pos,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
      .epilog = "Criteria: hci, ch maximised; db, bic, gcv minimised; levels with >= 2 clusters.\n",
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) {
    app_list_free(&features);
    app_list_free(&selregs);
    return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
  }
  if (shrink) {
    char *end = NULL;
    double v = strtod(shrink, &end);
    if (!strcmp(shrink, "auto"))
      fp.shrink = -1.0;
    else if (!strcmp(shrink, "off"))
      fp.shrink = 0.0;
    else if (end != shrink && *end == '\0' && isfinite(v) && v >= 0.0)
      fp.shrink = v;
    else {
      app_usage_error(&spec, a->rank, "--shrink: expected auto, off or a lambda >= 0, got '%s'",
                      shrink);
      app_list_free(&features);
      app_list_free(&selregs);
      return APP_EXIT_USAGE;
    }
  }
  fp.criterion = (bfcr_criterion)crit;
  fp.select = (bfcr_select)sel;
  if (app_seen(&spec, "--criterion") && !app_seen(&spec, "--select"))
    fp.select = BFCR_SELECT_CRITERION;
  fp.regressor = (bfcr_regressor)reg;
  if (selregs.n > 0) fp.select_regressors = 0; /* the list replaces the default */
  for (int i = 0; i < selregs.n; i++) {
    int r = -1;
    for (int c = 0; app_regressors[c].name; c++)
      if (!strcmp(selregs.items[i], app_regressors[c].name)) r = app_regressors[c].value;
    if (r != BFCR_REG_RIDGE && r != BFCR_REG_KRR) {
      app_usage_error(&spec, a->rank, "--select-regressors: expected ridge or krr, got '%s'",
                      selregs.items[i]);
      app_list_free(&features);
      app_list_free(&selregs);
      return APP_EXIT_USAGE;
    }
    fp.select_regressors |= 1u << r;
  }
  app_list_free(&selregs);
  fp.routing = (bfcr_routing)route;
  fp.small = (bfcr_small_policy)small;
  cp.na = (bfcr_na_policy)na;
  cp.text = (bfcr_text_policy)text;
  cp.target = target;
  cp.features = (const char *const *)features.items;

  bfcr_data *train = NULL;
  bfcr_model *model = NULL;
  bfcr_level_info *levels = NULL;
  app_phases ph = {0};
  app_atomic rep = {0};
  int nlevels = 0;
  int rc = app_setup_threads(a, threads, app_seen(&spec, "--threads"));
  if (rc) goto cleanup;
  app_set_verbose(a, verbose);

  rc = app_fail_status(a, bfcr_data_read_csv(a->ctx, pos[0], &cp, NULL, &train));
  if (rc) goto cleanup;
  if (level == APP_LEVEL_TOP) level = -1; /* the library resolves -1 to the top level */
  fp.level = level;
  rc = app_fail_status(a, bfcr_fit(a->ctx, train, &fp, &model));
  if (rc) goto cleanup;

  /* In-sample scores from the fit (each row by its own cluster's model): the same as
   * predicting the training rows with routing = sample, without a second search. */
  fit_result r = {.train_path = pos[0], .model_path = out, .target = target};
  bfcr_model_train_scores(model, &r.rmse, &r.mae, &r.r2);
  rc = app_fail_status(a, app_levels_of_model(model, &levels, &nlevels));
  if (rc) goto cleanup;
  r.rows = bfcr_data_global_rows(train);
  r.d = bfcr_data_features(train);
  r.levels = levels;
  r.nlevels = nlevels;
  r.chosen = bfcr_model_chosen_level(model);
  r.clusters = bfcr_model_clusters(model);
  r.pieces = bfcr_model_pieces(model);
  r.params = bfcr_model_params(model);
  r.model = model;
  /* The model holds all it needs: the training rows leave before the save, whose encoded
   * copy of the model would otherwise sit on top of them on rank 0. */
  bfcr_data_destroy(&train);

  if (report) {
    rc = app_phases_gather(a, &ph);
    if (rc) goto cleanup;
    rc = report_prepare(a, &rep, report, &r, &ph);
    if (rc) goto cleanup;
    app_phases_free(&ph);
  }
  rc = app_fail_status(a, bfcr_model_save(a->ctx, model, out));
  if (rc) goto cleanup;
  if (report) {
    rc = report_commit(a, &rep);
    if (rc) goto cleanup;
  }
  rc = app_phases_gather(a, &ph);
  if (rc) goto cleanup;

  if (a->rank == 0) {
    app_progress_break(a);
    printf("bfcr fit: %s: %lld rows x %d features, target %s; %d rank%s x %d thread%s\n\n", pos[0],
           (long long)r.rows, r.d, target, a->size, a->size == 1 ? "" : "s",
           bfcr_ctx_threads(a->ctx), bfcr_ctx_threads(a->ctx) == 1 ? "" : "s");
    print_level_table(stdout, levels, nlevels, r.chosen);
    int folds = bfcr_model_cv(model, 0, NULL, NULL, NULL);
    if (folds > 0) {
      print_cv_table(stdout, model, nlevels, r.chosen);
      double shl = 0.0;
      bfcr_model_shrink(model, &shl, 0, 0, NULL, NULL);
      if (fp.regressor != r.params->regressor)
        printf(
            "\nchosen level: %d (by %d-fold cross-validation: its kernel ridge candidate beat "
            "the ridge pick by more than one SE), %lld clusters\n",
            r.chosen, folds, (long long)r.clusters);
      else if (bfcr_model_cv_small(model, 0, NULL, NULL, NULL, NULL) > 0)
        printf(
            "\nchosen level: %d (by %d-fold cross-validation: small-cluster policy shrink "
            "beat the ancestor pick by more than one SE), %lld clusters\n",
            r.chosen, folds, (long long)r.clusters);
      else if (shl > 0)
        printf(
            "\nchosen level: %d (by %d-fold cross-validation, with hierarchical shrinkage "
            "toward the ancestors' models, lambda %g), %lld clusters\n",
            r.chosen, folds, shl, (long long)r.clusters);
      else
        printf(
            "\nchosen level: %d (by %d-fold cross-validation, one-standard-error rule), %lld "
            "clusters\n",
            r.chosen, folds, (long long)r.clusters);
    } else if (fp.level == 0)
      printf("\nchosen level: %d (by %s), %lld clusters\n", r.chosen,
             app_choice_name(app_criteria, crit), (long long)r.clusters);
    else
      printf("\nchosen level: %d (fixed by --level), %lld clusters\n", r.chosen,
             (long long)r.clusters);
    if (r.params->regressor == BFCR_REG_KRR || r.params->regressor == BFCR_REG_SVR)
      printf("%s%s: %lld kernel models (pieces of at most %lld rows)\n",
             app_choice_name(app_regressors, (int)r.params->regressor),
             fp.regressor != r.params->regressor ? " (chosen by cross-validation)" : "",
             (long long)r.pieces, (long long)r.params->kernel_cap);
    for (int i = 0; i < bfcr_ctx_num_nn_notes(a->ctx); i++)
      printf("nn %s\n", bfcr_ctx_nn_note(a->ctx, i));
    printf("training: RMSE %.6g  MAE %.6g  R^2 %.6f\n", r.rmse, r.mae, r.r2);
    printf("model written to %s%s%s\n\n", out, report ? ", run record to " : "",
           report ? report : "");
    print_phase_table(stdout, &ph, MPI_Wtime() - a->t_start);
  }

cleanup:
  if (a->rank == 0) app_atomic_abort(&rep);
  app_phases_free(&ph);
  free(levels);
  bfcr_model_destroy(&model);
  bfcr_data_destroy(&train);
  app_list_free(&features);
  return rc;
}
