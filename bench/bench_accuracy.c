/* Accuracy benchmark on the shipped datasets: seeded 80/20 train/test split, and a
 * further 75/25 train/validation split of the training part used to compare settings
 * (criterion x routing x small-cluster policy). Settings are judged on validation only;
 * test RMSE is reported for the record, next to a global ridge model (the top level).
 *
 * usage: bench_accuracy [--threads N] [--seed S] DATA.csv:TARGET ...  */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "bench_split.h"
#include "io/schema.h"


static double eval(bfcr_ctx *ctx, const bfcr_data *tr, const bfcr_data *te, const bfcr_fit_params *p,
                   int *level, int64_t *k) {
  bfcr_model *m = NULL;
  if (bfcr_fit(ctx, tr, p, &m) != BFCR_OK) {
    fprintf(stderr, "fit failed: %s\n", bfcr_ctx_errmsg(ctx));
    return NAN;
  }
  int64_t n = bfcr_data_local_rows(te);
  double *pred = malloc((size_t)n * sizeof *pred), rmse = NAN;
  if (bfcr_predict(ctx, m, te, pred) == BFCR_OK)
    bfcr_score(ctx, bfcr_data_y(te), pred, n, &rmse, NULL, NULL);
  if (level) *level = bfcr_model_chosen_level(m);
  if (k) *k = bfcr_model_clusters(m);
  free(pred);
  bfcr_model_destroy(&m);
  return rmse;
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_SELF, &ctx);
  uint64_t seed = 1;
  int first = 1;
  for (; first < argc && argv[first][0] == '-'; first += 2) {
    if (!strcmp(argv[first], "--threads")) bfcr_ctx_set_threads(ctx, atoi(argv[first + 1]));
    if (!strcmp(argv[first], "--seed")) seed = strtoull(argv[first + 1], NULL, 10);
  }
  const bfcr_criterion crits[] = {BFCR_CRIT_HCI, BFCR_CRIT_BIC, BFCR_CRIT_GCV};
  printf("dataset,setting,val_rmse,test_rmse,level,clusters,global_val,global_test\n");
  for (int a = first; a < argc; a++) {
    char path[1024], *target;
    snprintf(path, sizeof path, "%s", argv[a]);
    target = strrchr(path, ':');
    if (!target) continue;
    *target++ = '\0';
    bfcr_csv_params cp;
    bfcr_csv_params_init(&cp);
    cp.target = target;
    bfcr_data *all = NULL;
    if (bfcr_data_read_csv(ctx, path, &cp, NULL, &all) != BFCR_OK) {
      fprintf(stderr, "%s\n", bfcr_ctx_errmsg(ctx));
      continue;
    }
    int64_t n = bfcr_data_local_rows(all);
    int *test = malloc((size_t)n * sizeof *test), *val = malloc((size_t)n * sizeof *val);
    for (int64_t i = 0; i < n; i++) {
      test[i] = bench_held_out(seed, 1, i, 0.2);
      val[i] = test[i] ? 2 : bench_held_out(seed, 2, i, 0.25);
    }
    bfcr_data *train = bench_subset(ctx, all, test, 0), *te = bench_subset(ctx, all, test, 1);
    bfcr_data *tr2 = bench_subset(ctx, all, val, 0), *va = bench_subset(ctx, all, val, 1);
    bfcr_fit_params p;
    bfcr_fit_params_init(&p);
    bfcr_model *g = NULL;
    p.level = 0;
    bfcr_fit(ctx, tr2, &p, &g);
    int top_v = bfcr_model_num_levels(g) - 1;
    bfcr_model_destroy(&g);
    bfcr_fit(ctx, train, &p, &g);
    int top_t = bfcr_model_num_levels(g) - 1;
    bfcr_model_destroy(&g);
    p.level = top_v;
    double gv = eval(ctx, tr2, va, &p, NULL, NULL);
    p.level = top_t;
    double gt = eval(ctx, train, te, &p, NULL, NULL);
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *small_names[] = {"shrink", "shrink-d2", "ancestor"};
    for (int c = 0; c < 3; c++)
      for (int r = 0; r < 2; r++)
        for (int s = 0; s < 3; s++) {
          bfcr_fit_params_init(&p);
          p.criterion = crits[c];
          p.routing = r ? BFCR_ROUTE_SAMPLE : BFCR_ROUTE_CENTROID;
          p.small = s == 2 ? BFCR_SMALL_ANCESTOR : BFCR_SMALL_SHRINK;
          p.min_cluster_size = s == 0 ? 2 : bfcr_data_features(all) + 2;
          int lv = 0;
          int64_t k = 0;
          double v = eval(ctx, tr2, va, &p, NULL, NULL);
          double t = eval(ctx, train, te, &p, &lv, &k);
          printf("%s,%s/%s/%s,%.6g,%.6g,%d,%lld,%.6g,%.6g\n", base, bfcr_criterion_name(crits[c]),
                 r ? "sample" : "centroid", small_names[s], v, t, lv, (long long)k, gv,
                 gt);
          fflush(stdout);
        }
    free(test);
    free(val);
    bfcr_data_destroy(&train);
    bfcr_data_destroy(&te);
    bfcr_data_destroy(&tr2);
    bfcr_data_destroy(&va);
    bfcr_data_destroy(&all);
  }
  bfcr_ctx_destroy(&ctx);
  MPI_Finalize();
  return 0;
}
