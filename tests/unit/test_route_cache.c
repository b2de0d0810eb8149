/* The routing kd-tree cached in the model (lib/model/route_cache.c): built once by the
 * first predict, reused after, and the predictions and routes are bit-identical to the
 * uncached exact search (bfcr_knn_brute) for both routing rules, for 1 and 2 threads and
 * for rows predicted one by one or in a batch. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "model/model_impl.h"
#include "model/standardize.h"
#include "testutil.h"

static bfcr_data *synth(bfcr_ctx *ctx, int64_t n, int d, uint64_t seed) {
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = n;
  sp.d = d;
  sp.seed = seed;
  double *X = malloc(n * d * sizeof *X), *y = malloc(n * sizeof *y);
  cr_assert_eq(bfcr_synth_rows(&sp, 0, n, X, y, NULL), BFCR_OK);
  bfcr_data *data = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &data), BFCR_OK);
  free(X);
  free(y);
  return data;
}

/* Routes by a plain brute-force search, no tree (the reference). */
static void brute_routes(const bfcr_model *m, const bfcr_data *q, int64_t *lab) {
  int64_t n = bfcr_data_local_rows(q);
  double *Z = malloc(n * m->d * sizeof *Z), *d2 = malloc(n * sizeof *d2);
  int64_t *nn = malloc(n * sizeof *nn);
  bfcr_standardize_apply(bfcr_data_X(q), n, m->d, m->mean, m->scale, Z, 1);
  int by_row = m->params.routing == BFCR_ROUTE_SAMPLE && m->train_z;
  bfcr_knn_brute(by_row ? m->train_z : m->centroids, by_row ? m->n_train : m->k, m->d, Z, n, 0, nn,
                 d2);
  for (int64_t i = 0; i < n; i++) lab[i] = by_row ? m->train_label[nn[i]] : nn[i];
  free(Z);
  free(d2);
  free(nn);
}

static void check_routing(bfcr_routing routing, int threads) {
  bfcr_ctx *ctx = tu_ctx();
  cr_assert_eq(bfcr_ctx_set_threads(ctx, threads), BFCR_OK);
  bfcr_data *train = synth(ctx, 3000, 3, 11), *q = synth(ctx, 500, 3, 12);
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  p.routing = routing;
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_fit(ctx, train, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert(m->k > 1, "need several clusters");
  cr_assert_null(atomic_load(&m->route), "no cache before the first predict");
  int64_t n = bfcr_data_local_rows(q);
  double *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b), *one = malloc(n * sizeof *one);
  int64_t *lab = malloc(n * sizeof *lab), *ref = malloc(n * sizeof *ref);
  cr_assert_eq(bfcr_predict(ctx, m, q, a), BFCR_OK);
  bfcr_route_cache *c = atomic_load(&m->route);
  cr_assert_not_null(c, "the first predict keeps the routing structure");
  cr_assert_eq(bfcr_predict(ctx, m, q, b), BFCR_OK);
  cr_assert_eq(atomic_load(&m->route), c, "built once");
  cr_assert_eq(memcmp(a, b, n * sizeof *a), 0);
  /* Row by row through the cache. */
  for (int64_t i = 0; i < n; i++) {
    bfcr_data *r = NULL;
    cr_assert_eq(bfcr_data_from_arrays(ctx, 1, 3, bfcr_data_X(q) + i * 3, NULL, NULL, &r), BFCR_OK);
    cr_assert_eq(bfcr_predict(ctx, m, r, one + i), BFCR_OK);
    bfcr_data_destroy(&r);
  }
  cr_assert_eq(memcmp(a, one, n * sizeof *a), 0, "row by row differs from the batch");
  cr_assert_eq(bfcr_model_assign(ctx, m, q, lab), BFCR_OK);
  brute_routes(m, q, ref);
  cr_assert_eq(memcmp(lab, ref, n * sizeof *lab), 0, "cached routes differ from brute force");
  free(a);
  free(b);
  free(one);
  free(lab);
  free(ref);
  bfcr_model_destroy(&m);
  bfcr_data_destroy(&train);
  bfcr_data_destroy(&q);
  tu_ctx_free(&ctx);
}

Test(route_cache, sample_routing_1_thread) {
  check_routing(BFCR_ROUTE_SAMPLE, 1);
}
Test(route_cache, sample_routing_2_threads) {
  check_routing(BFCR_ROUTE_SAMPLE, 2);
}
Test(route_cache, centroid_routing) {
  check_routing(BFCR_ROUTE_CENTROID, 1);
}

Test(route_cache, saved_and_loaded_models_predict_the_same_bits) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *train = synth(ctx, 2000, 4, 21), *q = synth(ctx, 300, 4, 22);
  bfcr_model *m = NULL, *l = NULL;
  bfcr_fit_params p;
  bfcr_fit_params_init(&p);
  p.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  cr_assert_eq(bfcr_fit(ctx, train, &p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  double a[300], b[300];
  cr_assert_eq(bfcr_predict(ctx, m, q, a), BFCR_OK); /* m now holds its cache */
  const char *path = tu_write_file("route.bfcr", "", 0);
  cr_assert_eq(bfcr_model_save(ctx, m, path), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_load(ctx, path, &l), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_null(atomic_load(&l->route));
  cr_assert_eq(bfcr_predict(ctx, l, q, b), BFCR_OK);
  cr_assert_eq(memcmp(a, b, sizeof a), 0);
  bfcr_model_destroy(&m);
  bfcr_model_destroy(&l);
  bfcr_data_destroy(&train);
  bfcr_data_destroy(&q);
  tu_ctx_free(&ctx);
}
