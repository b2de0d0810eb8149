/* Kernel regressors through bfcr_fit: KRR and SVR per piece of each cluster (SPLIT),
 * their model file section (KERN) and prediction (both routings, owned path). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/model_file.h"
#include "model/model_impl.h"
#include "regress/svr.h"
#include "testutil.h"

/* Deterministic uniform in [0, 1) from (seed, i): splitmix64. */
static double unif(uint64_t seed, uint64_t i) {
  uint64_t z = seed * 0x9E3779B97F4A7C15u + i * 0xBF58476D1CE4E5B9u + 0x94D049BB133111EBu;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
  z ^= z >> 31;
  return (double)(z >> 11) * 0x1.0p-53;
}

/* Four separated squares in 2-D with a smooth nonlinear target inside each: a per-cluster
 * linear model cannot follow it, a kernel model can. Rows [lo, hi) of the set `seed`. */
static bfcr_data *make_wave(bfcr_ctx *ctx, int64_t n, uint64_t seed) {
  double *X = malloc((size_t)(2 * n) * sizeof *X), *y = malloc((size_t)n * sizeof *y);
  for (int64_t i = 0; i < n; i++) {
    int b = (int)(i % 4);
    double u = unif(seed, 3 * (uint64_t)i), v = unif(seed, 3 * (uint64_t)i + 1);
    double x0 = 10.0 * (b % 2) + 3.0 * u, x1 = 10.0 * (b / 2) + 3.0 * v;
    X[2 * i] = x0;
    X[2 * i + 1] = x1;
    y[i] = 5.0 * b + sin(2.5 * x0) * cos(2.0 * x1) + 0.05 * (unif(seed, 3 * (uint64_t)i + 2) - 0.5);
  }
  bfcr_data *data = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, 2, X, y, NULL, &data), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  free(X);
  free(y);
  return data;
}

static double test_rmse(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *te) {
  int64_t n = bfcr_data_local_rows(te);
  double *p = malloc((size_t)n * sizeof *p), r;
  cr_assert_eq(bfcr_predict(ctx, m, te, p), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_score(ctx, bfcr_data_y(te), p, n, &r, NULL, NULL), BFCR_OK);
  free(p);
  return r;
}

static bfcr_model *fit(bfcr_ctx *ctx, const bfcr_data *tr, bfcr_regressor reg, int64_t cap,
                       bfcr_routing routing) {
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.regressor = reg;
  p.kernel_cap = cap;
  p.routing = routing;
  p.level = 1; /* four squares: the first level's clusters are small pieces of them */
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  return m;
}

Test(fit_kernel, krr_beats_ridge_on_a_nonlinear_target) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 1200, 1), *te = make_wave(ctx, 400, 2);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.level = -1; /* top: one cluster, so SPLIT decides the pieces */
  bfcr_model *ridge = NULL;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &ridge), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  p.regressor = BFCR_REG_KRR;
  p.kernel_cap = 300;
  bfcr_model *krr = NULL;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &krr), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  /* 1200 rows, cap 300: exactly 4 contiguous pieces of 300 rows. */
  cr_assert_eq(bfcr_model_pieces(krr), 4);
  for (int64_t q = 0; q < 4; q++) {
    cr_assert_eq(krr->kp[q].n, 300);
    cr_assert_eq(krr->kp[q].first, 300 * q);
    cr_assert_eq(krr->kp[q].m, 300);
  }
  cr_assert_eq(bfcr_model_params(krr)->kernel_cap, 300);
  cr_assert_eq(bfcr_model_params(ridge)->kernel_cap, 0);
  double rr = test_rmse(ctx, ridge, te), rk = test_rmse(ctx, krr, te);
  cr_assert(rk < 0.25 * rr, "krr %g vs ridge %g", rk, rr);
  cr_assert(rk < 0.2, "krr test rmse %g (target amplitude 1, noise 0.015)", rk);
  /* In-sample scores are the kernel model's. */
  double tr_rmse;
  bfcr_model_train_scores(krr, &tr_rmse, NULL, NULL);
  cr_assert(tr_rmse < rk * 1.5 && tr_rmse > 0, "train rmse %g", tr_rmse);
  bfcr_model_destroy(&ridge);
  bfcr_model_destroy(&krr);
  bfcr_data_destroy(&tr);
  bfcr_data_destroy(&te);
  tu_ctx_free(&ctx);
}

Test(fit_kernel, per_cluster_pieces_small_clusters_and_training_rows) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 1000, 3);
  bfcr_model *m = fit(ctx, tr, BFCR_REG_KRR, 8, BFCR_ROUTE_SAMPLE);
  const bfcr_fit_params *p = bfcr_model_params(m);
  /* Every cluster with >= min_cluster_size rows is split into ceil(size / 8) pieces. */
  int64_t want = 0, q = 0;
  for (int64_t c = 0; c < m->k; c++) {
    int64_t size = m->cm[c].size;
    if (size < p->min_cluster_size) continue;
    int64_t k = (size + 7) / 8, tot = 0;
    want += k;
    for (int64_t j = 0; j < k; j++, q++) {
      cr_assert_eq(m->kp[q].cluster, c);
      cr_assert(m->kp[q].n <= 8 && m->kp[q].n >= size / k);
      tot += m->kp[q].n;
    }
    cr_assert_eq(tot, size);
  }
  cr_assert_eq(m->npieces, want);
  int split = 0;
  for (q = 1; q < m->npieces; q++) split |= m->kp[q].cluster == m->kp[q - 1].cluster;
  cr_assert(split, "no cluster was split into several pieces");
  cr_assert(m->levels[m->chosen].min_size < p->min_cluster_size,
            "the data should have small clusters (min size %lld)",
            (long long)m->levels[m->chosen].min_size);
  /* Routing by sample: a training row's prediction is its own piece's fitted value (the
   * rows are distinct), so predicting the training set gives the in-sample scores. */
  int64_t n = bfcr_data_local_rows(tr);
  double *pr = malloc((size_t)n * sizeof *pr), rmse, r0;
  cr_assert_eq(bfcr_predict(ctx, m, tr, pr), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_score(ctx, bfcr_data_y(tr), pr, n, &rmse, NULL, NULL), BFCR_OK);
  bfcr_model_train_scores(m, &r0, NULL, NULL);
  cr_assert(fabs(rmse - r0) <= 1e-12 * r0, "predicted %.17g, in-sample %.17g", rmse, r0);
  free(pr);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&tr);
  tu_ctx_free(&ctx);
}

/* Round trip of a model through the file bytes: identical bytes and predictions. */
static void round_trip(bfcr_ctx *ctx, const bfcr_model *m, const bfcr_data *te) {
  unsigned char *b1 = NULL, *b2 = NULL;
  size_t n1 = 0, n2 = 0;
  bfcr_model *back = NULL;
  cr_assert_eq(bfcr_model_encode(ctx, m, &b1, &n1), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_decode(ctx, "k.bfcr", b1, n1, &back), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_encode(ctx, back, &b2, &n2), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert(n1 == n2 && memcmp(b1, b2, n1) == 0, "save -> load -> save differs");
  int64_t n = bfcr_data_local_rows(te);
  double *a = malloc((size_t)n * sizeof *a), *b = malloc((size_t)n * sizeof *b);
  double *c = malloc((size_t)n * sizeof *c);
  cr_assert_eq(bfcr_predict(ctx, m, te, a), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_predict(ctx, back, te, b), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_predict_owned(ctx, back, te, c), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert(memcmp(a, b, (size_t)n * sizeof *a) == 0, "loaded model predicts differently");
  cr_assert(memcmp(a, c, (size_t)n * sizeof *a) == 0, "owned prediction differs");
  for (int64_t i = 0; i < n; i++) cr_assert(isfinite(a[i]));
  free(a);
  free(b);
  free(c);
  free(b1);
  free(b2);
  bfcr_model_free(back);
}

Test(fit_kernel, save_load_round_trip_both_regressors_and_routings) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 800, 4), *te = make_wave(ctx, 200, 5);
  for (int reg = BFCR_REG_KRR; reg <= BFCR_REG_SVR; reg++)
    for (int rt = 0; rt < 2; rt++) {
      bfcr_model *m = fit(ctx, tr, (bfcr_regressor)reg, 60, (bfcr_routing)rt);
      cr_assert(m->npieces > 4);
      round_trip(ctx, m, te);
      bfcr_model_destroy(&m);
    }
  bfcr_data_destroy(&tr);
  bfcr_data_destroy(&te);
  tu_ctx_free(&ctx);
}

Test(fit_kernel, threads_give_identical_model_bytes) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 800, 6);
  unsigned char *b[2] = {NULL, NULL};
  size_t n[2] = {0, 0};
  for (int th = 1; th <= 2; th++) {
    bfcr_ctx_set_threads(ctx, th);
    bfcr_model *m = fit(ctx, tr, BFCR_REG_KRR, 50, BFCR_ROUTE_SAMPLE);
    cr_assert_eq(bfcr_model_encode(ctx, m, &b[th - 1], &n[th - 1]), BFCR_OK);
    bfcr_model_destroy(&m);
  }
  cr_assert(n[0] == n[1] && memcmp(b[0], b[1], n[0]) == 0, "1 and 2 threads differ");
  free(b[0]);
  free(b[1]);
  bfcr_data_destroy(&tr);
  tu_ctx_free(&ctx);
}

Test(fit_kernel, svr_runs_and_plain_form_equals_libsvm) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 600, 7), *te = make_wave(ctx, 200, 8);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.level = -1; /* one cluster, SPLIT into 4 pieces of 150 rows (large enough to search) */
  bfcr_model *r = NULL, *s = NULL;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &r), BFCR_OK);
  p.regressor = BFCR_REG_SVR;
  p.kernel_cap = 150;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &s), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(s->npieces, 4);
  double rs = test_rmse(ctx, s, te), rr = test_rmse(ctx, r, te);
  cr_assert(rs < 0.5 * rr, "svr %g vs ridge %g", rs, rr);
  for (int64_t q = 0; q < s->npieces; q++) cr_assert(s->kp[q].m <= s->kp[q].n);
  bfcr_model_destroy(&s);
  bfcr_model_destroy(&r);
  /* The stored form (bfcr_svr_export / bfcr_svr_eval) is libsvm's prediction bit for bit. */
  const double *X = bfcr_data_X(tr), *y = bfcr_data_y(tr);
  bfcr_svr_params sp;
  bfcr_svr_params_init(&sp);
  bfcr_svr_model mod;
  cr_assert_eq(bfcr_svr_fit(X, 2, y, 300, 2, &sp, &mod), BFCR_OK);
  double *sv = malloc((size_t)(mod.nsv * 2 + 1) * sizeof *sv);
  double *coef = malloc((size_t)(mod.nsv + 1) * sizeof *coef), rho;
  cr_assert_eq(bfcr_svr_export(&mod, sv, coef, &rho), BFCR_OK);
  cr_assert(mod.nsv > 0);
  const double *Q = bfcr_data_X(te);
  for (int64_t i = 0; i < 200; i++) {
    double a,
        b = bfcr_svr_eval(mod.nsv, 2, sv, coef, rho, mod.gamma, mod.mean_y, mod.sd_y, Q + 2 * i);
    cr_assert_eq(bfcr_svr_predict(&mod, Q + 2 * i, 2, 1, &a), BFCR_OK);
    cr_assert(memcmp(&a, &b, sizeof a) == 0, "row %lld: libsvm %.17g, plain %.17g", (long long)i, a,
              b);
  }
  free(sv);
  free(coef);
  bfcr_svr_free(&mod);
  bfcr_data_destroy(&tr);
  bfcr_data_destroy(&te);
  tu_ctx_free(&ctx);
}

/* Offset of the payload of the section with this tag (0 when absent). */
static size_t find_section(const unsigned char *b, size_t n, const char *tag) {
  size_t pos = BFCR_MODEL_HEADER_BYTES;
  while (pos + 12 <= n - 8) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | b[pos + 4 + i];
    if (memcmp(b + pos, tag, 4) == 0) return pos + 12;
    pos += 12 + (size_t)len;
  }
  return 0;
}

static void reseal(unsigned char *b, size_t n) {
  uint64_t c = bfcr_crc64(0, b, n - 8);
  for (int i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(c >> (8 * i));
}

static void put64(unsigned char *b, uint64_t v) {
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(v >> (8 * i));
}

static void expect_reject(bfcr_ctx *ctx, const unsigned char *b, size_t n, const char *what) {
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_model_decode(ctx, "bad.bfcr", b, n, &m), BFCR_ERR_FORMAT,
               "accepted (wanted: %s)", what);
  cr_assert_null(m);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), what), "message '%s' lacks '%s'", bfcr_ctx_errmsg(ctx),
            what);
}

Test(fit_kernel, corrupt_kernel_section_is_rejected) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 500, 9);
  bfcr_model *m = fit(ctx, tr, BFCR_REG_KRR, 100, BFCR_ROUTE_SAMPLE);
  unsigned char *b = NULL, *c = malloc(1);
  size_t n = 0;
  cr_assert_eq(bfcr_model_encode(ctx, m, &b, &n), BFCR_OK);
  cr_assert_eq(b[18], BFCR_MODEL_MINOR_NO_GLEV); /* no GLEV: written as 1.3 */
  size_t k = find_section(b, n, "KERN");
  cr_assert(k > 0, "no KERN section");
  /* KERN: i64 cap, f64 mean, f64 scale, i64 npieces, u32 d, then 88 + 8 d bytes a piece. */
  size_t piece0 = k + 36;
  struct {
    size_t at;
    uint64_t v;
    const char *what;
  } cases[] = {
      {k + 24, UINT64_C(1) << 60, "piece count"},           /* huge count: no allocation */
      {k, 0, "kernel cap 0"},                               /* cap */
      {k + 16, 0, "target standardization"},                /* scale 0 */
      {piece0 + 16, 1000000, "rows"},                       /* piece n above the cap */
      {piece0 + 24, 7, "stores 7 of its"},                  /* KRR stores all its rows */
      {piece0, 99999, "cluster 99999 out of range"},        /* cluster */
      {piece0 + 32, UINT64_C(0x7FF8000000000000), "width"}, /* NaN width */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    c = realloc(c, n);
    memcpy(c, b, n);
    put64(c + cases[i].at, cases[i].v);
    reseal(c, n);
    expect_reject(ctx, c, n, cases[i].what);
  }
  /* Unsealed damage: the checksum catches it first. */
  memcpy(c, b, n);
  c[piece0 + 40] ^= 0x10;
  expect_reject(ctx, c, n, "checksum mismatch");
  /* A kernel model without its KERN section. */
  size_t kstart = k - 12;
  memcpy(c, b, n);
  memmove(c + kstart, b + n - 8, 8); /* drop it and the optional sections after it */
  size_t n2 = kstart + 8;
  int dropped = 0;
  for (size_t pos = kstart; pos + 12 <= n - 8; dropped++) {
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | b[pos + 4 + i];
    pos += 12 + (size_t)len;
  }
  c[20] = (unsigned char)(c[20] - dropped);                    /* section count */
  put64(c + 24, (uint64_t)(kstart - BFCR_MODEL_HEADER_BYTES)); /* body length */
  reseal(c, n2);
  expect_reject(ctx, c, n2, "section KERN missing");
  free(c);
  free(b);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&tr);
  tu_ctx_free(&ctx);
}

Test(fit_kernel, version_1_0_linear_file_still_loads) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 300, 10);
  bfcr_model *m = fit(ctx, tr, BFCR_REG_RIDGE, 0, BFCR_ROUTE_SAMPLE), *back = NULL;
  unsigned char *b = NULL;
  size_t n = 0;
  cr_assert_eq(bfcr_model_encode(ctx, m, &b, &n), BFCR_OK);
  cr_assert_eq(find_section(b, n, "KERN"), 0);
  b[18] = 0; /* a 1.0 writer wrote the same bytes for a linear model */
  reseal(b, n);
  cr_assert_eq(bfcr_model_decode(ctx, "old.bfcr", b, n, &back), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(back->params.regressor, BFCR_REG_RIDGE);
  cr_assert_eq(back->npieces, 0);
  bfcr_model_free(back);
  free(b);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&tr);
  tu_ctx_free(&ctx);
}

Test(fit_kernel, bad_parameters_are_refused_before_fitting) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *tr = make_wave(ctx, 100, 11);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  bfcr_model *m = NULL;
  p.regressor = (bfcr_regressor)7;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &m), BFCR_ERR_ARG);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "unknown regressor 7"), "%s", bfcr_ctx_errmsg(ctx));
  p.regressor = BFCR_REG_KRR;
  p.kernel_cap = -1;
  cr_assert_eq(bfcr_fit(ctx, tr, &p, &m), BFCR_ERR_ARG);
  cr_assert_null(m);
  bfcr_data_destroy(&tr);
  tu_ctx_free(&ctx);
}
