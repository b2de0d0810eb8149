/* bfcr tree: describe a saved model: per-level table, chosen level, parameters, the
 * features, and a summary of the clusters (sizes, ridge penalties, numerical ranks),
 * as text or as one JSON object. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "choices.h"
#include "options.h"
#include "print.h"

typedef struct cluster_summary {
  int64_t k;
  int64_t size_min, size_max, size_median, size_total;
  double lambda_min, lambda_max;
  int64_t rank_deficient; /* clusters whose model has rank < d */
  int64_t below_min;      /* clusters smaller than min_cluster_size */
} cluster_summary;

static int cmp_i64(const void *x, const void *y) {
  int64_t a = *(const int64_t *)x, b = *(const int64_t *)y;
  return (a > b) - (a < b);
}

static bfcr_status summarize(const bfcr_model *m, int d, cluster_summary *s) {
  memset(s, 0, sizeof *s);
  s->k = bfcr_model_clusters(m);
  s->lambda_min = INFINITY;
  s->lambda_max = -INFINITY;
  if (s->k <= 0) return BFCR_OK;
  int64_t *sizes = malloc((size_t)s->k * sizeof *sizes);
  double *coef = malloc(((size_t)d + 1) * sizeof *coef);
  if (!sizes || !coef) {
    free(sizes);
    free(coef);
    return BFCR_ERR_NOMEM;
  }
  int64_t min_size = bfcr_model_params(m)->min_cluster_size;
  bfcr_status st = BFCR_OK;
  for (int64_t c = 0; c < s->k && st == BFCR_OK; c++) {
    double lambda = 0;
    int rank = 0;
    st = bfcr_model_cluster(m, c, coef, &sizes[c], &lambda, &rank);
    s->size_total += sizes[c];
    if (lambda < s->lambda_min) s->lambda_min = lambda;
    if (lambda > s->lambda_max) s->lambda_max = lambda;
    s->rank_deficient += rank < d;
    s->below_min += sizes[c] < min_size;
  }
  if (st == BFCR_OK) {
    qsort(sizes, (size_t)s->k, sizeof *sizes, cmp_i64);
    s->size_min = sizes[0];
    s->size_max = sizes[s->k - 1];
    s->size_median = sizes[(s->k - 1) / 2];
  }
  free(sizes);
  free(coef);
  return st;
}

static void print_text(const char *path, const bfcr_model *m, const bfcr_level_info *lv, int n,
                       const cluster_summary *s) {
  const bfcr_schema *sc = bfcr_model_schema(m);
  const bfcr_fit_params *p = bfcr_model_params(m);
  int d = bfcr_schema_features(sc);
  printf("model %s: target %s, d = %d features\nfeatures:", path,
         bfcr_schema_target(sc) ? bfcr_schema_target(sc) : "(none)", d);
  for (int j = 0; j < d; j++) printf("%s%s", j ? ", " : " ", bfcr_schema_feature_name(sc, j));
  printf("\n\n");
  print_level_table(stdout, lv, n, bfcr_model_chosen_level(m));
  if (bfcr_model_cv(m, 0, NULL, NULL, NULL) > 0)
    print_cv_table(stdout, m, n, bfcr_model_chosen_level(m));
  printf("\nchosen level: %d, %lld clusters\n", bfcr_model_chosen_level(m), (long long)s->k);
  if (s->k > 0) {
    printf("cluster sizes: min %lld, median %lld, max %lld, mean %.1f (%lld training rows)\n",
           (long long)s->size_min, (long long)s->size_median, (long long)s->size_max,
           (double)s->size_total / (double)s->k, (long long)s->size_total);
    printf("clusters below min_cluster_size: %lld; rank-deficient models: %lld\n",
           (long long)s->below_min, (long long)s->rank_deficient);
    printf("ridge lambda: %.6g .. %.6g\n", s->lambda_min, s->lambda_max);
  }
  printf("\nparameters:\n");
  printf("  criterion %s, level %d, regressor %s, routing %s, small %s\n",
         app_choice_name(app_criteria, (int)p->criterion), p->level,
         app_choice_name(app_regressors, (int)p->regressor),
         app_choice_name(app_routings, (int)p->routing),
         app_choice_name(app_small_policies, (int)p->small));
  printf("  min_cluster_size %lld, standardize %d, max_levels %d, seed %llu\n",
         (long long)p->min_cluster_size, p->tree.standardize, p->tree.max_levels,
         (unsigned long long)p->seed);
  printf("  select %s (%d folds), guard margin %g%s\n",
         app_choice_name(app_selects, (int)p->select), p->select == BFCR_SELECT_CV ? p->folds : 0,
         p->guard_margin, p->guard_margin < 0 ? " (off)" : "");
  double shl = 0.0;
  bfcr_model_shrink(m, &shl, 0, 0, NULL, NULL);
  if (shl > 0)
    printf("  hierarchical shrinkage lambda %g (each level's model toward its ancestors')\n", shl);
  else
    printf("  hierarchical shrinkage off (hard routing)\n");
  printf("  lambda grid %g .. %g (%d steps), rcond %g\n", p->lambda_min, p->lambda_max,
         p->lambda_steps, p->rcond);
}

static void print_json(const char *path, const bfcr_model *m, const bfcr_level_info *lv, int n,
                       const cluster_summary *s) {
  const bfcr_schema *sc = bfcr_model_schema(m);
  const bfcr_fit_params *p = bfcr_model_params(m);
  int d = bfcr_schema_features(sc);
  fputs("{\"model\":", stdout);
  json_str(stdout, path);
  fputs(",\"target\":", stdout);
  if (bfcr_schema_target(sc))
    json_str(stdout, bfcr_schema_target(sc));
  else
    fputs("null", stdout);
  printf(",\"d\":%d,\"features\":[", d);
  for (int j = 0; j < d; j++) {
    if (j) fputc(',', stdout);
    json_str(stdout, bfcr_schema_feature_name(sc, j));
  }
  printf("],\"chosen_level\":%d,\"clusters\":%lld,\"levels\":", bfcr_model_chosen_level(m),
         (long long)s->k);
  print_levels_json(stdout, lv, n);
  printf(",\"cluster_sizes\":{\"min\":%lld,\"median\":%lld,\"max\":%lld,\"total\":%lld}",
         (long long)s->size_min, (long long)s->size_median, (long long)s->size_max,
         (long long)s->size_total);
  printf(",\"below_min_cluster_size\":%lld,\"rank_deficient\":%lld,\"lambda_min\":",
         (long long)s->below_min, (long long)s->rank_deficient);
  json_num(stdout, s->lambda_min);
  json_field(stdout, "lambda_max", s->lambda_max);
  fputs(",\"params\":{\"criterion\":", stdout);
  json_str(stdout, app_choice_name(app_criteria, (int)p->criterion));
  printf(",\"level\":%d,\"regressor\":", p->level);
  json_str(stdout, app_choice_name(app_regressors, (int)p->regressor));
  fputs(",\"routing\":", stdout);
  json_str(stdout, app_choice_name(app_routings, (int)p->routing));
  fputs(",\"small\":", stdout);
  json_str(stdout, app_choice_name(app_small_policies, (int)p->small));
  printf(",\"min_cluster_size\":%lld,\"standardize\":%d,\"max_levels\":%d,\"seed\":%llu",
         (long long)p->min_cluster_size, p->tree.standardize, p->tree.max_levels,
         (unsigned long long)p->seed);
  json_field(stdout, "lambda_min", p->lambda_min);
  json_field(stdout, "lambda_max", p->lambda_max);
  printf(",\"lambda_steps\":%d,\"rcond\":", p->lambda_steps);
  json_num(stdout, p->rcond);
  fputs("}}\n", stdout);
}

int cmd_tree(app *a, int argc, char **argv) {
  int json = 0;
  app_opt opts[] = {
      {.name = "--json", .kind = APP_OPT_FLAG, .dest = &json, .help = "print one JSON object"},
  };
  static const char *const pos_names[] = {"MODEL"};
  const char *pos[1] = {NULL};
  app_cmd_spec spec = {
      .name = "tree",
      .usage = "MODEL [--json]",
      .summary =
          "Describe a model written by 'bfcr fit': per-level table, chosen level,\n"
          "parameters, features, and the clusters' sizes, ridge penalties and ranks.",
      .pos_names = pos_names,
      .npos = 1,
      .pos = pos,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;

  bfcr_model *model = NULL;
  bfcr_level_info *levels = NULL;
  int nlevels = 0;
  cluster_summary s;
  int rc = app_fail_status(a, bfcr_model_load(a->ctx, pos[0], &model));
  if (rc) goto cleanup;
  rc = app_fail_status(a, app_levels_of_model(model, &levels, &nlevels));
  if (rc) goto cleanup;
  bfcr_status st = summarize(model, bfcr_schema_features(bfcr_model_schema(model)), &s);
  if (!app_all_ok(st == BFCR_OK)) {
    /* Local work: a rank that succeeded blames the likeliest cause on another rank. */
    if (st == BFCR_OK) st = BFCR_ERR_NOMEM;
    rc = app_fail(a, st, "cannot read the clusters of %s (%s)", pos[0], bfcr_status_name(st));
    goto cleanup;
  }
  if (a->rank == 0) {
    if (json)
      print_json(pos[0], model, levels, nlevels, &s);
    else
      print_text(pos[0], model, levels, nlevels, &s);
  }

cleanup:
  free(levels);
  bfcr_model_destroy(&model);
  return rc;
}
