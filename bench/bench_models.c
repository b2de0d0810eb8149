/* Per-cluster model families on the paper's datasets: least squares, ridge (both
 * through bfcr_fit), Gaussian kernel ridge (lib/regress/krr.c) and epsilon-SVR
 * (lib/regress/svr.c, libsvm), plus a global ridge and a global KRR on a subsample.
 *
 * Split: row i is a test row iff hash(seed, 1, i) < 0.2 (the same function and salt as
 * bench_split.h's bench_held_out, as bench_accuracy.c, so the two benchmarks share their test rows). The tree is
 * built on the training rows; the level is the one bfcr_fit picks by its default
 * criterion (BIC) unless --level is given. Each cluster's training rows are taken in
 * dendrogram order and SPLIT into contiguous pieces of at most --cap rows; KRR and SVR
 * fit one model per piece, with their hyper-parameters chosen on the piece's own rows
 * (GCV, holdout). A test row goes to the piece of its nearest training row (exact 1-NN
 * on the standardized rows, the same routing bfcr_fit uses by default).
 *
 * usage: bench_models [--seed S] [--level L] [--cap N] [--global-krr N] [--no-svr]
 *                     DATA.csv:TARGET ...
 * Prints one CSV line per (dataset, method): test RMSE and fit seconds. Run with one
 * BLAS thread (the program sets it). */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "bench_split.h"
#include "knn/knn.h"
#include "model/standardize.h"
#include "regress/krr.h"
#include "regress/svr.h"


static double rmse(const double *a, const double *b, int64_t n) {
  double s = 0.0;
  for (int64_t i = 0; i < n; i++) s += (a[i] - b[i]) * (a[i] - b[i]);
  return sqrt(s / (double)n);
}

static void report(const char *data, int level, int64_t k, int64_t pieces, const char *method,
                   double test_rmse, double sec, const char *note) {
  printf("%s,%d,%lld,%lld,%s,%.6g,%.2f,%s\n", data, level, (long long)k, (long long)pieces, method,
         test_rmse, sec, note);
  fflush(stdout);
}

/* Test RMSE of bfcr_fit's per-cluster linear model at level (regressor reg). */
static double linear(bfcr_ctx *ctx, const bfcr_data *tr, const bfcr_data *te, int level,
                     bfcr_regressor reg, int *chosen, double *sec) {
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.level = level;
  p.regressor = reg;
  bfcr_model *m = NULL;
  double t0 = MPI_Wtime(), r = NAN;
  if (bfcr_fit(ctx, tr, &p, &m) != BFCR_OK) {
    fprintf(stderr, "fit failed: %s\n", bfcr_ctx_errmsg(ctx));
    return NAN;
  }
  *sec = MPI_Wtime() - t0;
  int64_t n = bfcr_data_local_rows(te);
  double *pred = malloc((size_t)n * sizeof *pred);
  if (bfcr_predict(ctx, m, te, pred) == BFCR_OK) r = rmse(pred, bfcr_data_y(te), n);
  if (chosen) *chosen = bfcr_model_chosen_level(m);
  free(pred);
  bfcr_model_destroy(&m);
  return r;
}

typedef struct opts {
  uint64_t seed;
  int level;          /* 0: bfcr_fit's choice (BIC) */
  int64_t cap;        /* SPLIT cap for KRR and SVR */
  int64_t global_krr; /* rows of the global KRR subsample (0: skip) */
  int svr;
  int validation;
  bfcr_krr_params kp; /* KRR grids (defaults, or --lambda-min, --h-max, --h-steps) */
} opts;

static int run(bfcr_ctx *ctx, const char *path, const char *target, const opts *o) {
  const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = target;
  bfcr_data *all = NULL, *tr = NULL, *te = NULL;
  bfcr_tree *tree = NULL;
  int rc = 1;
  int *test = NULL;
  double *mean = NULL, *scale = NULL, *Ztr = NULL, *Zte = NULL, *Zp = NULL, *yp = NULL;
  double *pk = NULL, *ps = NULL, *d2 = NULL;
  int64_t *lab = NULL, *pos = NULL, *order = NULL, *cstart = NULL, *piece_of = NULL, *nn = NULL;
  int64_t *pstart = NULL;
  bfcr_krr_model *krr = NULL;
  bfcr_svr_model *svr = NULL;
  int64_t npieces = 0;
  if (bfcr_data_read_csv(ctx, path, &cp, NULL, &all) != BFCR_OK) {
    fprintf(stderr, "%s\n", bfcr_ctx_errmsg(ctx));
    return 1;
  }
  const int64_t n = bfcr_data_local_rows(all);
  const int d = bfcr_data_features(all);
  test = malloc((size_t)n * sizeof *test);
  for (int64_t i = 0; i < n; i++) {
    test[i] = bench_held_out(o->seed, 1, i, 0.2);
    /* --validation: drop the test rows, score on a 25% part of the training rows
     * (bench_accuracy.c's validation split, salt 2). */
    if (o->validation) test[i] = test[i] ? 2 : bench_held_out(o->seed, 2, i, 0.25);
  }
  tr = bench_subset(ctx, all, test, 0);
  te = bench_subset(ctx, all, test, 1);
  if (!tr || !te) goto done;
  const int64_t ntr = bfcr_data_local_rows(tr), nte = bfcr_data_local_rows(te);
  const double *ytr = bfcr_data_y(tr), *yte = bfcr_data_y(te);

  /* Linear references through bfcr_fit; the level is bfcr_fit's choice unless given. */
  double sec = 0.0;
  int L = o->level;
  double r_ridge = linear(ctx, tr, te, L, BFCR_REG_RIDGE, &L, &sec);
  if (isnan(r_ridge)) goto done;
  bfcr_tree_params tp;
  bfcr_tree_params_init(&tp);
  if (bfcr_tree_build(ctx, tr, &tp, &tree) != BFCR_OK) {
    fprintf(stderr, "tree: %s\n", bfcr_ctx_errmsg(ctx));
    goto done;
  }
  bfcr_level_info info;
  bfcr_tree_level_info(tree, L, &info);
  const int64_t k = info.clusters;
  char note[256];
  snprintf(note, sizeof note, "cluster sizes %lld..%lld; BIC %.6g", (long long)info.min_size,
           (long long)info.max_size, info.bic);
  report(base, L, k, k, "ridge", r_ridge, sec, note);
  double r_ols = linear(ctx, tr, te, L, BFCR_REG_OLS, NULL, &sec);
  report(base, L, k, k, "ols", r_ols, sec, "");
  double r_glob = linear(ctx, tr, te, -1, BFCR_REG_RIDGE, NULL, &sec);
  report(base, -1, 1, 1, "global-ridge", r_glob, sec, "");

  /* Standardize with the training mean and sd (as the tree does). */
  mean = malloc((size_t)d * sizeof *mean);
  scale = malloc((size_t)d * sizeof *scale);
  Ztr = malloc((size_t)(ntr * d) * sizeof *Ztr);
  Zte = malloc((size_t)(nte * d) * sizeof *Zte);
  if (bfcr_standardize_fit(ctx, tr, 1, mean, scale) != BFCR_OK) goto done;
  bfcr_standardize_apply(bfcr_data_X(tr), ntr, d, mean, scale, Ztr, 1);
  bfcr_standardize_apply(bfcr_data_X(te), nte, d, mean, scale, Zte, 1);

  /* Training rows in dendrogram order; clusters of level L are contiguous there. */
  lab = malloc((size_t)ntr * sizeof *lab);
  pos = malloc((size_t)ntr * sizeof *pos);
  order = malloc((size_t)ntr * sizeof *order);
  cstart = calloc((size_t)k + 1, sizeof *cstart);
  bfcr_tree_labels(tree, L, lab);
  bfcr_tree_labels(tree, 0, pos);
  for (int64_t i = 0; i < ntr; i++) order[pos[i]] = i;
  for (int64_t p = 0; p < ntr; p++) {
    if (p > 0 && lab[order[p]] < lab[order[p - 1]]) {
      fprintf(stderr, "clusters are not contiguous in dendrogram order\n");
      goto done;
    }
    cstart[lab[order[p]] + 1]++;
  }
  for (int64_t c = 0; c < k; c++) cstart[c + 1] += cstart[c];
  for (int64_t c = 0; c < k; c++) npieces += bfcr_split_pieces(cstart[c + 1] - cstart[c], o->cap);
  pstart = malloc((size_t)(npieces + 1) * sizeof *pstart);
  for (int64_t c = 0, q = 0; c < k; c++) {
    int64_t sz = cstart[c + 1] - cstart[c], np = bfcr_split_pieces(sz, o->cap);
    for (int64_t j = 0; j < np; j++) pstart[q++] = cstart[c] + bfcr_split_start(sz, np, j);
  }
  pstart[npieces] = ntr;
  piece_of = malloc((size_t)ntr * sizeof *piece_of);
  for (int64_t q = 0; q < npieces; q++)
    for (int64_t p = pstart[q]; p < pstart[q + 1]; p++) piece_of[order[p]] = q;

  /* Route the test rows: piece of the nearest training row. */
  nn = malloc((size_t)nte * sizeof *nn);
  d2 = malloc((size_t)nte * sizeof *d2);
  if (bfcr_knn_query(Ztr, ntr, d, Zte, nte, 1, nn, d2) != BFCR_OK) goto done;

  int64_t maxp = 0;
  for (int64_t q = 0; q < npieces; q++)
    if (pstart[q + 1] - pstart[q] > maxp) maxp = pstart[q + 1] - pstart[q];
  Zp = malloc((size_t)(maxp * d + 1) * sizeof *Zp);
  yp = malloc((size_t)(maxp + 1) * sizeof *yp);
  pk = malloc((size_t)nte * sizeof *pk);
  ps = malloc((size_t)nte * sizeof *ps);
  krr = calloc((size_t)npieces, sizeof *krr);
  svr = calloc((size_t)npieces, sizeof *svr);

  bfcr_krr_params kp = o->kp;
  kp.max_rows = o->cap;
  bfcr_svr_params sp;
  bfcr_svr_params_init(&sp);
  sp.max_rows = o->cap;
  double t_krr = 0.0, t_svr = 0.0, lsum = 0.0, hsum = 0.0;
  for (int64_t q = 0; q < npieces; q++) {
    const int64_t m = pstart[q + 1] - pstart[q];
    for (int64_t r = 0; r < m; r++) {
      const int64_t i = order[pstart[q] + r];
      memcpy(Zp + r * d, Ztr + i * d, (size_t)d * sizeof(double));
      yp[r] = ytr[i];
    }
    double t0 = MPI_Wtime();
    bfcr_status st = bfcr_krr_fit(Zp, d, yp, m, d, &kp, &krr[q]);
    t_krr += MPI_Wtime() - t0;
    if (st != BFCR_OK) {
      fprintf(stderr, "krr piece %lld: %s\n", (long long)q, bfcr_status_name(st));
      goto done;
    }
    lsum += log10(krr[q].lambda);
    hsum += krr[q].h / krr[q].h_ref;
    if (o->svr) {
      t0 = MPI_Wtime();
      st = bfcr_svr_fit(Zp, d, yp, m, d, &sp, &svr[q]);
      t_svr += MPI_Wtime() - t0;
      if (st != BFCR_OK) {
        fprintf(stderr, "svr piece %lld: %s\n", (long long)q, bfcr_status_name(st));
        goto done;
      }
    }
  }
  for (int64_t t = 0; t < nte; t++) {
    const int64_t q = piece_of[nn[t]];
    if (bfcr_krr_predict(&krr[q], Zte + t * d, d, 1, pk + t) != BFCR_OK) goto done;
    if (o->svr && bfcr_svr_predict(&svr[q], Zte + t * d, d, 1, ps + t) != BFCR_OK) goto done;
  }
  snprintf(note, sizeof note,
           "cap %lld; largest piece %lld; mean log10 lambda %.2f; mean h/median %.2f",
           (long long)o->cap, (long long)maxp, lsum / (double)npieces, hsum / (double)npieces);
  report(base, L, k, npieces, "krr", rmse(pk, yte, nte), t_krr, note);
  if (o->svr) report(base, L, k, npieces, "svr", rmse(ps, yte, nte), t_svr, "");

  /* Global KRR on an evenly strided subsample of the training rows (input order). */
  if (o->global_krr > 0) {
    const int64_t stride = (ntr + o->global_krr - 1) / o->global_krr;
    const int64_t m = (ntr + stride - 1) / stride;
    double *Zg = malloc((size_t)(m * d) * sizeof *Zg), *yg = malloc((size_t)m * sizeof *yg);
    for (int64_t r = 0; r < m; r++) {
      memcpy(Zg + r * d, Ztr + r * stride * d, (size_t)d * sizeof(double));
      yg[r] = ytr[r * stride];
    }
    bfcr_krr_model g;
    kp.max_rows = m;
    double t0 = MPI_Wtime();
    bfcr_status st = bfcr_krr_fit(Zg, d, yg, m, d, &kp, &g);
    double tg = MPI_Wtime() - t0;
    if (st == BFCR_OK && bfcr_krr_predict(&g, Zte, d, nte, pk) == BFCR_OK) {
      snprintf(note, sizeof note, "subsample %lld rows; lambda %.3g; h/median %.2f", (long long)m,
               g.lambda, g.h / g.h_ref);
      report(base, -1, 1, 1, "global-krr", rmse(pk, yte, nte), tg, note);
    }
    bfcr_krr_free(&g);
    free(Zg);
    free(yg);
  }
  rc = 0;
done:
  if (krr)
    for (int64_t q = 0; q < npieces; q++) bfcr_krr_free(&krr[q]);
  if (svr)
    for (int64_t q = 0; q < npieces; q++) bfcr_svr_free(&svr[q]);
  free(krr);
  free(svr);
  free(test);
  free(mean);
  free(scale);
  free(Ztr);
  free(Zte);
  free(Zp);
  free(yp);
  free(pk);
  free(ps);
  free(d2);
  free(lab);
  free(pos);
  free(order);
  free(cstart);
  free(pstart);
  free(piece_of);
  free(nn);
  bfcr_tree_destroy(&tree);
  bfcr_data_destroy(&tr);
  bfcr_data_destroy(&te);
  bfcr_data_destroy(&all);
  return rc;
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  openblas_set_num_threads(1); /* BLAS results depend on the thread count */
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_SELF, &ctx);
  bfcr_ctx_set_threads(ctx, 1);
  int rc = 0;
  opts o;
  memset(&o, 0, sizeof o);
  o.seed = 1;
  o.cap = 2000;
  o.global_krr = 2000;
  o.svr = 1;
  bfcr_krr_params_init(&o.kp);
  int a = 1;
  for (; a < argc && argv[a][0] == '-'; a++) {
    if (!strcmp(argv[a], "--no-svr")) {
      o.svr = 0;
      continue;
    }
    if (!strcmp(argv[a], "--validation")) {
      o.validation = 1;
      continue;
    }
    const char *opt = argv[a], *val = a + 1 < argc ? argv[a + 1] : NULL;
    if (!val) {
      fprintf(stderr, "option %s needs a value\n", opt);
      rc = 2;
      break;
    }
    a++;
    if (!strcmp(opt, "--seed"))
      o.seed = strtoull(val, NULL, 10);
    else if (!strcmp(opt, "--level"))
      o.level = atoi(val);
    else if (!strcmp(opt, "--cap"))
      o.cap = strtoll(val, NULL, 10);
    else if (!strcmp(opt, "--global-krr"))
      o.global_krr = strtoll(val, NULL, 10);
    else if (!strcmp(opt, "--lambda-min"))
      o.kp.lambda_min = atof(val);
    else if (!strcmp(opt, "--h-max"))
      o.kp.h_max = atof(val);
    else if (!strcmp(opt, "--h-steps"))
      o.kp.h_steps = atoi(val);
    else {
      fprintf(stderr, "unknown option %s\n", opt);
      rc = 2;
      break;
    }
  }
  if (rc == 0) printf("dataset,level,clusters,pieces,method,test_rmse,fit_sec,note\n");
  for (; rc == 0 && a < argc; a++) {
    char path[1024];
    snprintf(path, sizeof path, "%s", argv[a]);
    char *target = strrchr(path, ':');
    if (!target) continue;
    *target++ = '\0';
    if (run(ctx, path, target, &o) != 0) rc = 1;
  }
  bfcr_ctx_destroy(&ctx);
  MPI_Finalize();
  return rc;
}
