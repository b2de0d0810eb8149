/* bfcr cluster: build the best-friend summary tree of a CSV (no regression) and write
 * the cluster label of every row: at one level (`label`) or at every level >= 1
 * (`level1,level2,...`), one row per input row in input order. The default level is
 * the best by --criterion: hci and ch maximised, db and bic minimised, over levels
 * 1.. with at least two clusters and a finite metric, ties to the lower level; the top
 * level when none qualifies.
 * --truth NAME: that column (excluded from the features) holds known classes; the
 * adjusted mutual information of every level against it is printed (both the
 * arithmetic-mean and the max normaliser). --plot FILE.png: the rows coloured by
 * cluster at the written level (first two features) and FILE-metrics.png, every
 * metric against the level. Both gather the rows on rank 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "choices.h"
#include "options.h"
#include "plot.h"
#include "print.h"

static double metric_of(const bfcr_level_info *lv, int crit) {
  switch (crit) {
    case BFCR_CRIT_HCI:
      return lv->hci;
    case BFCR_CRIT_CH:
      return lv->ch;
    case BFCR_CRIT_DB:
      return lv->db;
    case BFCR_CRIT_BIC:
      return lv->bic;
    default:
      return NAN;
  }
}

static int choose_level(const bfcr_level_info *lv, int n, int crit) {
  int maximise = crit == BFCR_CRIT_HCI || crit == BFCR_CRIT_CH;
  int best = -1;
  double best_v = 0;
  for (int l = 1; l < n; l++) {
    double v = metric_of(&lv[l], crit);
    if (lv[l].clusters < 2 || !isfinite(v)) continue;
    if (best < 0 || (maximise ? v > best_v : v < best_v)) {
      best = l;
      best_v = v;
    }
  }
  return best >= 0 ? best : n - 1;
}

/* Collective: the local blocks of a per-row array (width values per row, in rank
 * order) concatenated on rank 0 into all (n_global * width entries there). */
static int gather_rows(app *a, const void *local, int64_t n_local, int width, MPI_Datatype type,
                       void *all) {
  MPI_Comm comm = bfcr_ctx_comm(a->ctx);
  int mine = (int)(n_local * width), *counts = NULL, *displs = NULL, rc = APP_EXIT_OK;
  if (a->rank == 0) {
    counts = malloc((size_t)a->size * sizeof *counts);
    displs = malloc((size_t)a->size * sizeof *displs);
  }
  if (!app_all_ok(a->rank != 0 || (counts && displs))) {
    rc = app_fail(a, BFCR_ERR_NOMEM, "out of memory gathering the rows on rank 0");
    goto done;
  }
  if (MPI_Gather(&mine, 1, MPI_INT, counts, 1, MPI_INT, 0, comm) != MPI_SUCCESS) {
    rc = app_fail(a, BFCR_ERR_MPI, "MPI_Gather of the row counts failed");
    goto done;
  }
  if (a->rank == 0)
    for (int r = 0, off = 0; r < a->size; r++) {
      displs[r] = off;
      off += counts[r];
    }
  if (MPI_Gatherv(local, mine, type, all, counts, displs, type, 0, comm) != MPI_SUCCESS)
    rc = app_fail(a, BFCR_ERR_MPI, "MPI_Gatherv of the rows failed");
done:
  free(displs);
  free(counts);
  return rc;
}

/* A class label per row from the truth column's values: the bits of the double, so
 * that any values (integers, codes like 1.5) define the partition; -0 is 0. */
static int64_t truth_label(double v) {
  int64_t bits;
  if (v == 0.0) v = 0.0;
  memcpy(&bits, &v, sizeof bits);
  return bits;
}

/* The AMI of every level >= 1 against the truth (rank 0: ami[2 l], ami[2 l + 1] =
 * arithmetic, max) and, with --plot, the first two features and the labels of the
 * chosen level on rank 0. Collective; returns an exit code. */
typedef struct cluster_extras {
  int64_t n;       /* global rows */
  int64_t *truth;  /* rank 0: n labels */
  int64_t *lab;    /* rank 0: n labels of one level */
  double *ami;     /* rank 0: 2 per level */
  int64_t classes; /* distinct truth labels */
  double *xy;      /* rank 0: n pairs (plot) */
} cluster_extras;

static int extras_collect(app *a, const bfcr_tree *tree, const bfcr_data *data, int nlevels,
                          int chosen, int want_ami, int want_xy, cluster_extras *ex) {
  int64_t n_local = bfcr_data_local_rows(data), n = bfcr_data_global_rows(data);
  int d = bfcr_data_features(data), rc = APP_EXIT_OK;
  size_t rows = (size_t)(n_local > 0 ? n_local : 1);
  int64_t *loc = malloc(rows * sizeof *loc);
  double *lxy = NULL;
  ex->n = n;
  if (n > INT32_MAX / 2) {
    rc = app_fail(a, BFCR_ERR_ARG,
                  "--truth and --plot gather all %lld rows on rank 0: at "
                  "most %d rows",
                  (long long)n, INT32_MAX / 2);
    goto done;
  }
  if (a->rank == 0) {
    size_t all = (size_t)(n > 0 ? n : 1);
    ex->lab = malloc(all * sizeof *ex->lab);
    if (want_ami) {
      ex->truth = malloc(all * sizeof *ex->truth);
      ex->ami = malloc((size_t)nlevels * 2 * sizeof *ex->ami);
    }
    if (want_xy) ex->xy = malloc(2 * all * sizeof *ex->xy);
  }
  int ok = loc && (a->rank != 0 ||
                   (ex->lab && (!want_ami || (ex->truth && ex->ami)) && (!want_xy || ex->xy)));
  if (want_xy) {
    lxy = malloc(2 * rows * sizeof *lxy);
    ok = ok && lxy;
  }
  if (!app_all_ok(ok)) {
    rc = app_fail(a, BFCR_ERR_NOMEM, "out of memory for the --truth/--plot rows");
    goto done;
  }
  if (want_ami) {
    const double *y = bfcr_data_y(data);
    for (int64_t i = 0; i < n_local; i++) loc[i] = truth_label(y[i]);
    if ((rc = gather_rows(a, loc, n_local, 1, MPI_INT64_T, ex->truth))) goto done;
    for (int l = 1; l < nlevels; l++) {
      rc = app_fail_status(a, bfcr_tree_labels(tree, l, loc));
      if (rc) goto done;
      if ((rc = gather_rows(a, loc, n_local, 1, MPI_INT64_T, ex->lab))) goto done;
      bfcr_status st = BFCR_OK;
      if (a->rank == 0) {
        bfcr_ami_result r;
        st = bfcr_ami_detail(ex->truth, ex->lab, n, &r);
        ex->ami[2 * l] = r.ami_arithmetic;
        ex->ami[2 * l + 1] = r.ami_max;
        ex->classes = r.classes_a;
      }
      st = (bfcr_status)app_bcast_code((int)st);
      if (st != BFCR_OK) {
        rc = app_fail(a, st, "AMI of level %d: %s", l, bfcr_status_name(st));
        goto done;
      }
    }
    if (a->rank == 0) ex->ami[0] = ex->ami[1] = NAN;
  }
  if (want_xy) {
    const double *X = bfcr_data_X(data);
    for (int64_t i = 0; i < n_local; i++) {
      lxy[2 * i] = X[i * d];
      lxy[2 * i + 1] = X[i * d + 1];
    }
    if ((rc = gather_rows(a, lxy, n_local, 2, MPI_DOUBLE, ex->xy))) goto done;
  }
  rc = app_fail_status(a, bfcr_tree_labels(tree, chosen, loc));
  if (rc) goto done;
  rc = gather_rows(a, loc, n_local, 1, MPI_INT64_T, ex->lab);
done:
  free(lxy);
  free(loc);
  return rc;
}

static void extras_free(cluster_extras *ex) {
  free(ex->truth);
  free(ex->lab);
  free(ex->ami);
  free(ex->xy);
}

static void print_ami(const cluster_extras *ex, const bfcr_level_info *lv, int nlevels, int chosen,
                      const char *truth, const char *how) {
  printf("\nAMI against column `%s` (%lld classes; expected MI hypergeometric):\n", truth,
         (long long)ex->classes);
  printf("  %5s %10s %12s %12s\n", "level", "clusters", "AMI_arith", "AMI_max");
  int best = 1;
  for (int l = 1; l < nlevels; l++) {
    printf("%c %5d %10lld %12.4f %12.4f\n", l == chosen ? '*' : ' ', l, (long long)lv[l].clusters,
           ex->ami[2 * l], ex->ami[2 * l + 1]);
    if (ex->ami[2 * l] > ex->ami[2 * best]) best = l;
  }
  printf("AMI of level %d (%s): %.4f (arithmetic mean normaliser), %.4f (max normaliser)\n", chosen,
         how, ex->ami[2 * chosen], ex->ami[2 * chosen + 1]);
  printf("best level by AMI (uses the truth, for reference): %d, AMI %.4f (arithmetic)\n", best,
         ex->ami[2 * best]);
}

/* Rank 0: both charts. Returns an exit code. */
static int extras_plot(app *a, const cluster_extras *ex, const bfcr_data *data,
                       const bfcr_level_info *lv, int nlevels, int chosen, const char *how,
                       const char *png, const char *src) {
  char err[512] = "";
  int64_t k = lv[chosen].clusters;
  int d = bfcr_data_features(data);
  double *cxy = NULL;
  int64_t *cnt = NULL;
  char *mpath = app_plot_metrics_path(png), title[600];
  int ok = mpath != NULL;
  const bfcr_schema *sc = bfcr_data_schema(data);
  if (ok && d >= 2) {
    cxy = calloc((size_t)k * 2, sizeof *cxy);
    cnt = calloc((size_t)k, sizeof *cnt);
    ok = cxy && cnt;
  }
  if (!ok) {
    snprintf(err, sizeof err, "out of memory");
  } else if (d >= 2) {
    /* Centroids in the plotted units: member means, summed in row order. */
    for (int64_t i = 0; i < ex->n; i++) {
      int64_t c = ex->lab[i];
      cxy[2 * c] += ex->xy[2 * i];
      cxy[2 * c + 1] += ex->xy[2 * i + 1];
      cnt[c]++;
    }
    for (int64_t c = 0; c < k; c++)
      if (cnt[c] > 0) {
        cxy[2 * c] /= (double)cnt[c];
        cxy[2 * c + 1] /= (double)cnt[c];
      }
    snprintf(title, sizeof title, "%s: level %d, %lld clusters (%s)%s", src, chosen, (long long)k,
             how, d > 2 ? " - first two features" : "");
    app_plot_scatter s = {ex->n,
                          k,
                          ex->xy,
                          ex->lab,
                          cxy,
                          bfcr_schema_feature_name(sc, 0),
                          bfcr_schema_feature_name(sc, 1),
                          title};
    ok = app_plot_clusters(png, &s, err, sizeof err) == 0;
  }
  if (ok)
    ok = app_plot_metrics(mpath, lv, nlevels, chosen, how, ex->ami, src, err, sizeof err) == 0;
  if (ok) {
    if (d >= 2) printf("plot: %s\n", png);
    if (d < 2) printf("plot: %s not drawn (one feature)\n", png);
    printf("plot: %s\n", mpath);
  }
  free(mpath);
  free(cnt);
  free(cxy);
  if (!ok) return app_fail(a, BFCR_ERR_IO, "--plot %s: %s", png, err);
  return APP_EXIT_OK;
}

int cmd_cluster(app *a, int argc, char **argv) {
  bfcr_tree_params tp;
  bfcr_tree_params_init(&tp);
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  const char *out = NULL, *target = NULL, *truth = NULL, *plot = NULL;
  int threads = 1, verbose = 0, all_levels = 0, level = 0;
  int crit = BFCR_CRIT_HCI, na = (int)cp.na, text = (int)cp.text;
  app_list features = {0};
  const double big = 1e300;
  app_opt opts[] = {
      {.name = "--output",
       .short_name = 'o',
       .metavar = "LABELS.csv",
       .kind = APP_OPT_STRING,
       .dest = &out,
       .help = "labels file to write",
       .required = 1},
      {.name = "--level",
       .metavar = "L",
       .kind = APP_OPT_INT,
       .dest = &level,
       .help = "write the labels of level L (1..top) as column `label`",
       .min = 1,
       .max = big,
       .defstr = "chosen by --criterion"},
      {.name = "--all-levels",
       .kind = APP_OPT_FLAG,
       .dest = &all_levels,
       .help = "write one column per level >= 1: level1,level2,..."},
      {.name = "--criterion",
       .kind = APP_OPT_CHOICE,
       .dest = &crit,
       .choices = app_cluster_criteria,
       .help = "rule choosing the level when --level is not given"},
      {.name = "--target",
       .metavar = "NAME",
       .kind = APP_OPT_STRING,
       .dest = &target,
       .help = "a column to exclude from the features (default: none)"},
      {.name = "--truth",
       .metavar = "NAME",
       .kind = APP_OPT_STRING,
       .dest = &truth,
       .help = "column of known classes (excluded from the features): print the AMI of "
               "every level against it"},
      {.name = "--plot",
       .metavar = "FILE.png",
       .kind = APP_OPT_STRING,
       .dest = &plot,
       .help = "draw the rows coloured by cluster (first two features, centroids marked) "
               "and FILE-metrics.png (every metric against the level); needs gnuplot"},
      {.name = "--features",
       .metavar = "a,b,c",
       .kind = APP_OPT_LIST,
       .dest = &features,
       .help = "feature columns (default: every column but --target)"},
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
      {.name = "--nn",
       .kind = APP_OPT_CHOICE,
       .dest = &tp.nn_method,
       .choices = app_nn_methods,
       .help = "nearest-neighbour search: chosen by a probe of the data, or forced (same "
               "result, time only)"},
      {.name = "--no-standardize",
       .kind = APP_OPT_UNFLAG,
       .dest = &tp.standardize,
       .key = "standardize",
       .help = "cluster on raw feature units instead of z-scores"},
      {.name = "--max-levels",
       .metavar = "N",
       .kind = APP_OPT_INT,
       .dest = &tp.max_levels,
       .help = "stop building the tree after N levels",
       .min = 1,
       .max = big},
      APP_OPT_THREADS_ENTRY(&threads),
      APP_OPT_VERBOSE_ENTRY(&verbose),
  };
  static const char *const pos_names[] = {"DATA.csv"};
  const char *pos[1] = {NULL};
  app_cmd_spec spec = {
      .name = "cluster",
      .usage = "DATA.csv -o LABELS.csv [--level L | --all-levels] [options]",
      .summary =
          "Build the best-friend summary tree of DATA.csv and write the cluster of every\n"
          "row (0..k-1, in dendrogram order), one row per input row. Prints the per-level\n"
          "table (the written or chosen level marked *).",
      .pos_names = pos_names,
      .npos = 1,
      .pos = pos,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
      .epilog =
          "Level choice: hci, ch maximised; db, bic minimised; over levels >= 1 with >= 2\n"
          "clusters, ties to the lower level; the top level when none qualifies.\n",
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) {
    app_list_free(&features);
    return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
  }
  if (all_levels && app_seen(&spec, "--level")) {
    app_usage_error(&spec, a->rank, "--level and --all-levels exclude each other");
    app_list_free(&features);
    return APP_EXIT_USAGE;
  }
  if (truth && target && strcmp(truth, target) != 0) {
    app_usage_error(&spec, a->rank,
                    "--truth %s and --target %s name different columns: give one (both "
                    "are excluded from the features), or list the features with --features",
                    truth, target);
    app_list_free(&features);
    return APP_EXIT_USAGE;
  }
  cp.target = truth ? truth : target;
  cp.features = (const char *const *)features.items;
  cp.na = (bfcr_na_policy)na;
  cp.text = (bfcr_text_policy)text;

  bfcr_data *data = NULL;
  bfcr_tree *tree = NULL;
  bfcr_level_info *levels = NULL;
  int64_t *labels = NULL;
  bfcr_column *cols = NULL;
  char(*names)[24] = NULL;
  cluster_extras ex = {0};
  int nlevels = 0;
  int rc = app_setup_threads(a, threads, app_seen(&spec, "--threads"));
  if (rc) goto cleanup;
  app_set_verbose(a, verbose);

  rc = app_fail_status(a, bfcr_data_read_csv(a->ctx, pos[0], &cp, NULL, &data));
  if (rc) goto cleanup;
  rc = app_fail_status(a, bfcr_tree_build(a->ctx, data, &tp, &tree));
  if (rc) goto cleanup;
  rc = app_fail_status(a, app_levels_of_tree(tree, &levels, &nlevels));
  if (rc) goto cleanup;
  if (nlevels < 2) {
    rc = app_fail(a, BFCR_ERR_INTERNAL, "the tree has no level above the samples");
    goto cleanup;
  }
  int top = nlevels - 1;
  int chosen = choose_level(levels, nlevels, crit);
  if (app_seen(&spec, "--level")) {
    if (level > top) {
      rc = app_fail(a, BFCR_ERR_ARG, "--level %d: the tree of %s has levels 1..%d", level, pos[0],
                    top);
      goto cleanup;
    }
    chosen = level;
  }
  int first = all_levels ? 1 : chosen, ncols = all_levels ? top : 1;
  int64_t n_local = bfcr_data_local_rows(data);
  size_t rows = (size_t)(n_local > 0 ? n_local : 1);
  labels = malloc((size_t)ncols * rows * sizeof *labels);
  cols = calloc((size_t)ncols, sizeof *cols);
  names = calloc((size_t)ncols, sizeof *names);
  if (!app_all_ok(labels && cols && names)) {
    rc = app_fail(a, BFCR_ERR_NOMEM, "out of memory for %d label columns", ncols);
    goto cleanup;
  }
  for (int c = 0; c < ncols; c++) {
    rc = app_fail_status(a, bfcr_tree_labels(tree, first + c, labels + (size_t)c * rows));
    if (rc) goto cleanup;
    if (all_levels)
      snprintf(names[c], sizeof names[c], "level%d", first + c);
    else
      snprintf(names[c], sizeof names[c], "label");
    cols[c].name = names[c];
    cols[c].type = BFCR_COLTYPE_INT64;
    cols[c].local = labels + (size_t)c * rows;
  }
  rc = app_fail_status(a, bfcr_write_columns_csv(a->ctx, out, ncols, cols, n_local));
  if (rc) goto cleanup;

  if (a->rank == 0) {
    app_progress_break(a);
    printf("bfcr cluster: %s: %lld rows x %d features\n\n", pos[0],
           (long long)bfcr_data_global_rows(data), bfcr_data_features(data));
    print_level_table(stdout, levels, nlevels, chosen);
    if (app_seen(&spec, "--level"))
      printf("\nlevel: %d (fixed by --level), %lld clusters\n", chosen,
             (long long)levels[chosen].clusters);
    else
      printf("\nchosen level: %d (by %s), %lld clusters\n", chosen,
             app_choice_name(app_cluster_criteria, crit), (long long)levels[chosen].clusters);
    if (all_levels)
      printf("labels of levels 1..%d written to %s\n", top, out);
    else
      printf("labels of level %d written to %s\n", chosen, out);
  }
  if (truth || plot) {
    char how[64];
    if (app_seen(&spec, "--level"))
      snprintf(how, sizeof how, "fixed by --level");
    else
      snprintf(how, sizeof how, "by %s", app_choice_name(app_cluster_criteria, crit));
    int want_xy = plot && bfcr_data_features(data) >= 2;
    rc = extras_collect(a, tree, data, nlevels, chosen, truth != NULL, want_xy, &ex);
    if (rc) goto cleanup;
    if (a->rank == 0 && truth) print_ami(&ex, levels, nlevels, chosen, truth, how);
    if (plot) {
      if (a->rank == 0) {
        fflush(stdout);
        rc = extras_plot(a, &ex, data, levels, nlevels, chosen, how, plot, pos[0]);
      }
      rc = app_bcast_code(rc);
      if (rc) goto cleanup;
    }
  }

cleanup:
  extras_free(&ex);
  free(names);
  free(cols);
  free(labels);
  free(levels);
  bfcr_tree_destroy(&tree);
  bfcr_data_destroy(&data);
  app_list_free(&features);
  return rc;
}
