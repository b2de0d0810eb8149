/* bfcr cluster: build the best-friend summary tree of a CSV (no regression) and write
 * the cluster label of every row: at one level (`label`) or at every level >= 1
 * (`level1,level2,...`), one row per input row in input order. The default level is
 * the best by --criterion: hci and ch maximised, db and bic minimised, over levels
 * 1.. with at least two clusters and a finite metric, ties to the lower level; the top
 * level when none qualifies. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "choices.h"
#include "options.h"
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

int cmd_cluster(app *a, int argc, char **argv) {
  bfcr_tree_params tp;
  bfcr_tree_params_init(&tp);
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  const char *out = NULL, *target = NULL;
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
      {.name = "--threads",
       .metavar = "N",
       .kind = APP_OPT_INT,
       .dest = &threads,
       .help = "OpenMP threads per rank, 0 = OpenMP's default",
       .min = 0,
       .max = 4096,
       .defstr = "1, or OpenMP's default when OMP_NUM_THREADS is set"},
      {.name = "--verbose",
       .short_name = 'v',
       .kind = APP_OPT_FLAG,
       .dest = &verbose,
       .help = "also print the library's informational messages"},
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
  cp.target = target;
  cp.features = (const char *const *)features.items;
  cp.na = (bfcr_na_policy)na;
  cp.text = (bfcr_text_policy)text;

  bfcr_data *data = NULL;
  bfcr_tree *tree = NULL;
  bfcr_level_info *levels = NULL;
  int64_t *labels = NULL;
  bfcr_column *cols = NULL;
  char(*names)[24] = NULL;
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

cleanup:
  free(names);
  free(cols);
  free(labels);
  free(levels);
  bfcr_tree_destroy(&tree);
  bfcr_data_destroy(&data);
  app_list_free(&features);
  return rc;
}
