/* Synthetic generator: rows independent of chunking, seeds, the recipe's statistics,
 * the dataset and CSV forms, and argument checks. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/schema.h"
#include "synth/stream.h"
#include "synth/synth_impl.h"
#include "testutil.h"

static bfcr_synth_params params(int64_t n, uint64_t seed) {
  bfcr_synth_params p;
  bfcr_synth_params_init(&p);
  p.n = n;
  p.seed = seed;
  return p;
}

Test(synth, defaults_are_the_documented_recipe) {
  bfcr_synth_params p;
  bfcr_synth_params_init(&p);
  cr_expect_eq(p.n, 100000);
  cr_expect_eq(p.d, 8);
  cr_expect_eq(p.clusters, 16);
  cr_expect_eq(p.spread, 10.0);
  cr_expect_eq(p.width, 1.5);
  cr_expect_eq(p.noise, 0.5);
  cr_expect_eq(p.offset, 5.0);
  cr_expect_eq(p.seed, 1u);
}

Test(synth, rows_do_not_depend_on_chunking) {
  enum { N = 1000, D = 8 };
  bfcr_synth_params p = params(N, 7);
  static double X[N * D], y[N], X2[N * D], y2[N];
  static int64_t lab[N], lab2[N];
  cr_assert_eq(bfcr_synth_rows(&p, 0, N, X, y, lab), BFCR_OK);
  const int64_t steps[] = {1, 7, 333, N};
  for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
    memset(X2, 0, sizeof X2);
    for (int64_t a = 0; a < N; a += steps[s]) {
      int64_t c = N - a < steps[s] ? N - a : steps[s];
      cr_assert_eq(bfcr_synth_rows(&p, a, c, X2 + a * D, y2 + a, lab2 + a), BFCR_OK);
    }
    cr_expect_eq(memcmp(X, X2, sizeof X), 0, "X differs with chunks of %lld", (long long)steps[s]);
    cr_expect_eq(memcmp(y, y2, sizeof y), 0, "y differs with chunks of %lld", (long long)steps[s]);
    cr_expect_eq(memcmp(lab, lab2, sizeof lab), 0, "labels differ with chunks of %lld",
                 (long long)steps[s]);
  }
  /* Labels are optional and do not change the rows. */
  cr_assert_eq(bfcr_synth_rows(&p, 500, 100, X2, y2, NULL), BFCR_OK);
  cr_expect_eq(memcmp(X + 500 * D, X2, 100 * D * sizeof(double)), 0);
  cr_expect_eq(memcmp(y + 500, y2, 100 * sizeof(double)), 0);
}

Test(synth, rows_do_not_depend_on_n) {
  bfcr_synth_params a = params(10, 3), b = params(1000000, 3);
  double Xa[20 * 8], ya[20], Xb[20 * 8], yb[20];
  /* Rows past n continue the same sequence (held-out data). */
  cr_assert_eq(bfcr_synth_rows(&a, 0, 20, Xa, ya, NULL), BFCR_OK);
  cr_assert_eq(bfcr_synth_rows(&b, 0, 20, Xb, yb, NULL), BFCR_OK);
  cr_expect_eq(memcmp(Xa, Xb, sizeof Xa), 0);
  cr_expect_eq(memcmp(ya, yb, sizeof ya), 0);
}

Test(synth, seeds_differ) {
  enum { N = 200 };
  bfcr_synth_params p1 = params(N, 1), p2 = params(N, 2), p1b = params(N, 1);
  double X1[N * 8], y1[N], X2[N * 8], y2[N], X3[N * 8], y3[N];
  cr_assert_eq(bfcr_synth_rows(&p1, 0, N, X1, y1, NULL), BFCR_OK);
  cr_assert_eq(bfcr_synth_rows(&p2, 0, N, X2, y2, NULL), BFCR_OK);
  cr_assert_eq(bfcr_synth_rows(&p1b, 0, N, X3, y3, NULL), BFCR_OK);
  cr_expect_eq(memcmp(X1, X3, sizeof X1), 0, "same seed, different rows");
  int same = 0;
  for (int i = 0; i < N * 8; i++) same += X1[i] == X2[i];
  for (int i = 0; i < N; i++) same += y1[i] == y2[i];
  cr_expect_eq(same, 0, "seeds 1 and 2 share %d values", same);
  /* Neighbouring rows of one seed are unrelated too. */
  int adjacent = 0;
  for (int i = 0; i + 1 < N; i++) adjacent += memcmp(X1 + i * 8, X1 + (i + 1) * 8, 64) == 0;
  cr_expect_eq(adjacent, 0);
}

/* Pinned values: the generator is part of the benchmarks' definition, so a change to
 * the streams, the draw order or the recipe must be deliberate (update docs too). */
Test(synth, pinned_first_rows) {
  bfcr_synth_params p = params(3, 1);
  double X[3 * 8], y[3];
  int64_t lab[3];
  cr_assert_eq(bfcr_synth_rows(&p, 0, 3, X, y, lab), BFCR_OK);
  const int64_t want_lab[3] = {12, 11, 9};
  const double want_x0 = -1.8029569270340304, want_y2 = 5.9128837306087201;
  for (int i = 0; i < 3; i++) cr_expect_eq(lab[i], want_lab[i], "label of row %d", i);
  cr_expect_eq(X[0], want_x0, "x[0][0] = %.17g", X[0]);
  cr_expect_eq(y[2], want_y2, "y[2] = %.17g", y[2]);
}

/* Statistics of the recipe on 200000 rows (fixed seed; tolerances about 5 standard
 * errors, so a wrong scale, a missing term or a biased draw fails). */
Test(synth, recipe_statistics) {
  enum { N = 200000, D = 8, K = 16 };
  bfcr_synth_params p = params(N, 12345);
  double *X = malloc(sizeof(double) * N * D), *y = malloc(sizeof(double) * N);
  int64_t *lab = malloc(sizeof(int64_t) * N);
  cr_assert(X && y && lab);
  cr_assert_eq(bfcr_synth_rows(&p, 0, N, X, y, lab), BFCR_OK);
  bfcr_synth_model m;
  cr_assert_eq(bfcr_synth_model_init(&m, &p), BFCR_OK);

  /* Labels: uniform over the clusters (chi-square, 15 degrees of freedom). */
  int64_t count[K] = {0};
  for (int i = 0; i < N; i++) {
    cr_assert(lab[i] >= 0 && lab[i] < K);
    count[lab[i]]++;
  }
  double chi2 = 0.0, expect = (double)N / K;
  for (int c = 0; c < K; c++) chi2 += (count[c] - expect) * (count[c] - expect) / expect;
  cr_expect_lt(chi2, 45.0, "label chi-square %g (p < 1e-4 under uniform)", chi2);
  cr_expect_gt(chi2, 3.0, "label chi-square %g: suspiciously uniform", chi2);

  /* Feature deviations x - mu_c: mean 0, variance width^2, normal kurtosis. */
  double s1 = 0, s2 = 0, s4 = 0, r1 = 0, r2 = 0, r4 = 0;
  int64_t within = 0;
  for (int i = 0; i < N; i++) {
    const double *mu = m.centre + lab[i] * D, *be = m.beta + lab[i] * D;
    double dot = 0;
    for (int j = 0; j < D; j++) {
      double e = X[i * D + j] - mu[j];
      s1 += e, s2 += e * e, s4 += e * e * e * e;
      dot += e * be[j];
    }
    double r = y[i] - dot - m.b[lab[i]]; /* the target noise */
    r1 += r, r2 += r * r, r4 += r * r * r * r;
    within += fabs(r) < p.noise;
  }
  const double ne = (double)N * D, w2 = p.width * p.width, n2 = p.noise * p.noise;
  cr_expect_lt(fabs(s1 / ne), 5 * p.width / sqrt(ne), "feature mean %g", s1 / ne);
  cr_expect_lt(fabs(s2 / ne / w2 - 1), 5 * sqrt(2 / ne), "feature variance %g", s2 / ne);
  cr_expect_lt(fabs(s4 / ne / (s2 / ne * s2 / ne) - 3), 5 * sqrt(24 / ne), "feature kurtosis");
  cr_expect_lt(fabs(r1 / N), 5 * p.noise / sqrt(N), "noise mean %g", r1 / N);
  cr_expect_lt(fabs(r2 / N / n2 - 1), 5 * sqrt(2.0 / N), "noise variance %g", r2 / N);
  cr_expect_lt(fabs(r4 / N / (r2 / N * r2 / N) - 3), 5 * sqrt(24.0 / N), "noise kurtosis");
  /* P(|Z| < 1) = 0.6827: checks the shape, not only the moments. */
  cr_expect_lt(fabs((double)within / N - 0.682689), 5 * sqrt(0.2166 / N), "P(|noise| < sd)");
  bfcr_synth_model_free(&m);
  free(X);
  free(y);
  free(lab);
}

/* Cluster parameters: centres N(0, spread^2), slopes N(0, 1), intercepts N(0, offset^2). */
Test(synth, cluster_parameter_statistics) {
  bfcr_synth_params p = params(1, 99);
  p.clusters = 4000;
  bfcr_synth_model m;
  cr_assert_eq(bfcr_synth_model_init(&m, &p), BFCR_OK);
  const int n = p.clusters * p.d;
  double cm = 0, cv = 0, bm = 0, bv = 0, om = 0, ov = 0;
  for (int i = 0; i < n; i++) cm += m.centre[i], cv += m.centre[i] * m.centre[i];
  for (int i = 0; i < n; i++) bm += m.beta[i], bv += m.beta[i] * m.beta[i];
  for (int c = 0; c < p.clusters; c++) om += m.b[c], ov += m.b[c] * m.b[c];
  cr_expect_lt(fabs(cm / n), 5 * p.spread / sqrt(n));
  cr_expect_lt(fabs(cv / n / (p.spread * p.spread) - 1), 5 * sqrt(2.0 / n), "centre var %g",
               cv / n);
  cr_expect_lt(fabs(bm / n), 5 / sqrt(n));
  cr_expect_lt(fabs(bv / n - 1), 5 * sqrt(2.0 / n), "slope var %g", bv / n);
  cr_expect_lt(fabs(om / p.clusters), 5 * p.offset / sqrt(p.clusters));
  cr_expect_lt(fabs(ov / p.clusters / (p.offset * p.offset) - 1), 5 * sqrt(2.0 / p.clusters),
               "intercept var %g", ov / p.clusters);
  /* The first clusters do not depend on how many clusters there are. */
  bfcr_synth_params q = p;
  q.clusters = 3;
  bfcr_synth_model m3;
  cr_assert_eq(bfcr_synth_model_init(&m3, &q), BFCR_OK);
  cr_expect_eq(memcmp(m3.centre, m.centre, 3 * 8 * sizeof(double)), 0);
  cr_expect_eq(memcmp(m3.b, m.b, 3 * sizeof(double)), 0);
  bfcr_synth_model_free(&m3);
  bfcr_synth_model_free(&m);
}

Test(synth, zero_noise_is_exactly_linear) {
  bfcr_synth_params p = params(50, 5);
  p.noise = 0.0;
  double X[50 * 8], y[50];
  int64_t lab[50];
  cr_assert_eq(bfcr_synth_rows(&p, 0, 50, X, y, lab), BFCR_OK);
  bfcr_synth_model m;
  cr_assert_eq(bfcr_synth_model_init(&m, &p), BFCR_OK);
  for (int i = 0; i < 50; i++) {
    double dot = 0;
    for (int j = 0; j < 8; j++)
      dot += (X[i * 8 + j] - m.centre[lab[i] * 8 + j]) * m.beta[lab[i] * 8 + j];
    cr_expect_lt(fabs(y[i] - dot - m.b[lab[i]]), 1e-12 * (1 + fabs(y[i])), "row %d", i);
  }
  bfcr_synth_model_free(&m);
}

Test(synth, bad_arguments) {
  bfcr_synth_params p = params(10, 1);
  double X[8], y[1];
  cr_expect_eq(bfcr_synth_rows(NULL, 0, 1, X, y, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_synth_rows(&p, -1, 1, X, y, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_synth_rows(&p, 0, -1, X, y, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_synth_rows(&p, INT64_MAX, 2, X, y, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_synth_rows(&p, 0, 1, NULL, y, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_synth_rows(&p, 0, 0, NULL, NULL, NULL), BFCR_OK);
  char msg[256];
  bfcr_synth_params q = p;
  q.d = 0;
  cr_expect_eq(bfcr_synth_check(&q, msg, sizeof msg), BFCR_ERR_ARG);
  cr_expect(strstr(msg, "d must be >= 1, got 0") != NULL, "%s", msg);
  q = p, q.clusters = 0;
  cr_expect_eq(bfcr_synth_rows(&q, 0, 1, X, y, NULL), BFCR_ERR_ARG);
  q = p, q.width = -1;
  cr_expect_eq(bfcr_synth_rows(&q, 0, 1, X, y, NULL), BFCR_ERR_ARG);
  q = p, q.noise = NAN;
  cr_expect_eq(bfcr_synth_rows(&q, 0, 1, X, y, NULL), BFCR_ERR_ARG);
  q = p, q.n = -5;
  cr_expect_eq(bfcr_synth_check(&q, msg, sizeof msg), BFCR_ERR_ARG);
  cr_expect(strstr(msg, "n must be >= 0, got -5") != NULL, "%s", msg);

  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *data = NULL;
  q = p, q.spread = INFINITY;
  cr_expect_eq(bfcr_synth_data(ctx, &q, &data), BFCR_ERR_ARG);
  cr_expect_null(data);
  cr_expect(strstr(bfcr_ctx_errmsg(ctx), "spread") != NULL, "%s", bfcr_ctx_errmsg(ctx));
  cr_expect_eq(bfcr_synth_data(ctx, &p, NULL), BFCR_ERR_ARG);
  tu_ctx_free(&ctx);
}

Test(synth, block_starts) {
  cr_expect_eq(bfcr_synth_block_start(10, 3, 0), 0);
  cr_expect_eq(bfcr_synth_block_start(10, 3, 1), 3);
  cr_expect_eq(bfcr_synth_block_start(10, 3, 2), 6);
  cr_expect_eq(bfcr_synth_block_start(10, 3, 3), 10);
  cr_expect_eq(bfcr_synth_block_start(2, 4, 1), 0);
  cr_expect_eq(bfcr_synth_block_start(2, 4, 2), 1);
  /* floor(r n / P) without overflowing r * n. */
  int64_t big = INT64_MAX / 2;
  cr_expect_eq(bfcr_synth_block_start(big, 4, 3), big / 4 * 3 + (big % 4) * 3 / 4);
  cr_expect_eq(bfcr_synth_block_start(big, 4, 4), big);
}

Test(synth, dataset_on_one_rank) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_synth_params p = params(1234, 8);
  p.d = 3;
  bfcr_data *data = NULL;
  cr_assert_eq(bfcr_synth_data(ctx, &p, &data), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_expect_eq(bfcr_data_local_rows(data), 1234);
  cr_expect_eq(bfcr_data_global_rows(data), 1234);
  cr_expect_eq(bfcr_data_row_offset(data), 0);
  cr_expect_eq(bfcr_data_features(data), 3);
  const bfcr_schema *s = bfcr_data_schema(data);
  cr_assert_not_null(s);
  cr_expect_eq(bfcr_schema_features(s), 3);
  cr_expect_str_eq(bfcr_schema_feature_name(s, 0), "x1");
  cr_expect_str_eq(bfcr_schema_feature_name(s, 2), "x3");
  cr_expect_str_eq(bfcr_schema_target(s), "y");
  cr_expect_null(data->line);
  double *X = malloc(1234 * 3 * sizeof(double)), *y = malloc(1234 * sizeof(double));
  cr_assert_eq(bfcr_synth_rows(&p, 0, 1234, X, y, NULL), BFCR_OK);
  cr_expect_eq(memcmp(bfcr_data_X(data), X, 1234 * 3 * sizeof(double)), 0);
  cr_expect_eq(memcmp(bfcr_data_y(data), y, 1234 * sizeof(double)), 0);
  bfcr_data_destroy(&data);
  /* Threads split the rows differently; the rows stay the same. */
  cr_assert_eq(bfcr_ctx_set_threads(ctx, 2), BFCR_OK);
  p.n = 10000;
  cr_assert_eq(bfcr_synth_data(ctx, &p, &data), BFCR_OK);
  double *X2 = malloc(10000 * 3 * sizeof(double)), *y2 = malloc(10000 * sizeof(double));
  cr_assert_eq(bfcr_synth_rows(&p, 0, 10000, X2, y2, NULL), BFCR_OK);
  cr_expect_eq(memcmp(bfcr_data_X(data), X2, 10000 * 3 * sizeof(double)), 0);
  cr_expect_eq(memcmp(bfcr_data_y(data), y2, 10000 * sizeof(double)), 0);
  bfcr_data_destroy(&data);
  free(X), free(y), free(X2), free(y2);
  tu_ctx_free(&ctx);
}

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) n = 0;
  fclose(f);
  if (buf) buf[n] = '\0';
  *len = (size_t)n;
  return buf;
}

/* The written file parses back to exactly the generated values, whatever the rounds. */
Test(synth, csv_round_trips_exactly) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_synth_params p = params(103, 21);
  p.d = 4;
  const char *path = tu_write_file("synth.csv", "old", 3);
  cr_assert_eq(bfcr_synth_write_csv(ctx, &p, path), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  size_t len = 0;
  char *text = slurp(path, &len);
  cr_assert_not_null(text);
  cr_assert(strncmp(text, "x1,x2,x3,x4,y\n", 14) == 0, "header: %.20s", text);
  double X[103 * 4], y[103];
  cr_assert_eq(bfcr_synth_rows(&p, 0, 103, X, y, NULL), BFCR_OK);
  char *at = text + 14;
  for (int i = 0; i < 103; i++) {
    for (int j = 0; j <= 4; j++) {
      char *end;
      double v = strtod(at, &end);
      cr_assert(end > at, "row %d field %d unparsable", i, j);
      cr_assert_eq(*end, j < 4 ? ',' : '\n', "row %d field %d separator", i, j);
      cr_assert_eq(v, j < 4 ? X[i * 4 + j] : y[i], "row %d field %d", i, j);
      at = end + 1;
    }
  }
  cr_expect_eq(*at, '\0', "trailing bytes after the last row");
  /* Small rounds, several threads: the same bytes. */
  cr_assert_eq(bfcr_ctx_set_threads(ctx, 2), BFCR_OK);
  const char *path2 = tu_write_file("synth2.csv", "", 0);
  cr_assert_eq(bfcr_synth_write_csv_rounds(ctx, &p, path2, 10), BFCR_OK);
  size_t len2 = 0;
  char *text2 = slurp(path2, &len2);
  cr_assert_not_null(text2);
  cr_expect_eq(len2, len);
  cr_expect_eq(memcmp(text, text2, len), 0);
  free(text);
  free(text2);
  /* Enough rows per round for both threads: the same bytes as one thread writes. */
  p.n = 5000;
  cr_assert_eq(bfcr_synth_write_csv_rounds(ctx, &p, path2, 2000), BFCR_OK);
  text2 = slurp(path2, &len2);
  cr_assert_eq(bfcr_ctx_set_threads(ctx, 1), BFCR_OK);
  cr_assert_eq(bfcr_synth_write_csv(ctx, &p, path), BFCR_OK);
  text = slurp(path, &len);
  cr_assert(text && text2);
  cr_expect_eq(len2, len);
  cr_expect_eq(memcmp(text, text2, len), 0);
  free(text);
  free(text2);
  /* No rows: the header only. */
  p.n = 0;
  cr_assert_eq(bfcr_synth_write_csv(ctx, &p, path2), BFCR_OK);
  text2 = slurp(path2, &len2);
  cr_expect_str_eq(text2, "x1,x2,x3,x4,y\n");
  free(text2);
  tu_ctx_free(&ctx);
}

/* Read back by the CSV reader, the file is the dataset bfcr_synth_data builds. */
Test(synth, csv_reads_back_as_the_dataset) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_synth_params p = params(2500, 4);
  p.d = 6;
  const char *path = tu_write_file("readback.csv", "", 0);
  cr_assert_eq(bfcr_synth_write_csv(ctx, &p, path), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = "y";
  bfcr_data *read = NULL, *gen = NULL;
  cr_assert_eq(bfcr_data_read_csv(ctx, path, &cp, NULL, &read), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_synth_data(ctx, &p, &gen), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_data_local_rows(read), 2500);
  cr_assert_eq(bfcr_data_features(read), 6);
  cr_expect_eq(memcmp(bfcr_data_X(read), bfcr_data_X(gen), 2500 * 6 * sizeof(double)), 0);
  cr_expect_eq(memcmp(bfcr_data_y(read), bfcr_data_y(gen), 2500 * sizeof(double)), 0);
  const bfcr_schema *a = bfcr_data_schema(read), *b = bfcr_data_schema(gen);
  cr_expect_eq(a->ncols, b->ncols);
  cr_expect_eq(a->target_col, b->target_col);
  for (int j = 0; j < 6; j++)
    cr_expect_str_eq(bfcr_schema_feature_name(a, j), bfcr_schema_feature_name(b, j));
  cr_expect_str_eq(bfcr_schema_target(a), bfcr_schema_target(b));
  bfcr_data_destroy(&read);
  bfcr_data_destroy(&gen);
  tu_ctx_free(&ctx);
}

Test(synth, csv_errors_leave_no_file) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_synth_params p = params(10, 1);
  const char *dir = tu_write_file("not_a_dir", "x", 1);
  char path[600];
  snprintf(path, sizeof path, "%s/out.csv", dir);
  cr_expect_eq(bfcr_synth_write_csv(ctx, &p, path), BFCR_ERR_IO);
  cr_expect(strlen(bfcr_ctx_errmsg(ctx)) > 0);
  FILE *f = fopen(path, "r");
  cr_expect_null(f);
  if (f) fclose(f);
  cr_expect_eq(bfcr_synth_write_csv(ctx, &p, ""), BFCR_ERR_ARG);
  p.clusters = -1;
  const char *keep = tu_write_file("keep.csv", "keep\n", 5);
  cr_expect_eq(bfcr_synth_write_csv(ctx, &p, keep), BFCR_ERR_ARG);
  size_t len;
  char *text = slurp(keep, &len);
  cr_expect_str_eq(text, "keep\n");
  free(text);
  tu_ctx_free(&ctx);
}

/* Numbers formatted under a locale with another decimal separator still get '.'. */
Test(synth, decimal_point_fix) {
  char a[32] = "-1,25e-07",
       b[32] =
           "3\xd9\xab"
           "5",
       c[32] = "42", d[32] = "0.5";
  cr_expect_eq(bfcr_synth_point_fix(a, strlen(a), ","), strlen(a));
  cr_expect_str_eq(a, "-1.25e-07");
  cr_expect_eq(bfcr_synth_point_fix(b, strlen(b), "\xd9\xab"), 3u); /* Arabic separator */
  cr_expect_str_eq(b, "3.5");
  cr_expect_eq(bfcr_synth_point_fix(c, 2, ","), 2u);
  cr_expect_str_eq(c, "42");
  cr_expect_eq(bfcr_synth_point_fix(d, 3, "."), 3u);
  cr_expect_str_eq(d, "0.5");
}

Test(stream, keyed_and_uniform) {
  bfcr_stream a, b;
  bfcr_stream_open(&a, 1, 2, 3);
  bfcr_stream_open(&b, 1, 2, 3);
  for (int i = 0; i < 10; i++) cr_expect_eq(bfcr_stream_next(&a), bfcr_stream_next(&b));
  bfcr_stream_open(&a, 1, 2, 3);
  bfcr_stream_open(&b, 1, 3, 3); /* another purpose */
  cr_expect_neq(bfcr_stream_next(&a), bfcr_stream_next(&b));
  bfcr_stream_open(&b, 2, 2, 3); /* another seed */
  cr_expect_neq(bfcr_stream_next(&a), bfcr_stream_next(&b));
  /* gsl view: uniform doubles in [0, 1) with mean 1/2 and variance 1/12. */
  bfcr_stream_open(&a, 42, 0, 0);
  gsl_rng r = bfcr_stream_rng(&a);
  double s = 0, s2 = 0;
  const int n = 100000;
  for (int i = 0; i < n; i++) {
    double u = gsl_rng_uniform(&r);
    cr_assert(u >= 0.0 && u < 1.0);
    s += u, s2 += u * u;
  }
  cr_expect_lt(fabs(s / n - 0.5), 5 * sqrt(1.0 / 12 / n));
  cr_expect_lt(fabs(s2 / n - s / n * s / n - 1.0 / 12), 0.002);
  cr_expect_eq(gsl_rng_max(&r), 0xffffffffUL);
  /* Bits of neighbouring row streams are uncorrelated: about half differ. */
  int64_t differ = 0;
  for (uint64_t i = 0; i < 1000; i++) {
    bfcr_stream_open(&a, 1, 9, i);
    bfcr_stream_open(&b, 1, 9, i + 1);
    for (uint64_t x = bfcr_stream_next(&a) ^ bfcr_stream_next(&b); x; x &= x - 1) differ++;
  }
  cr_expect_lt(fabs(differ / 64000.0 - 0.5), 0.01);
}
