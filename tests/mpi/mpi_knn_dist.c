/* ranks: 1 2 3 4 */
/* The distributed best-friend search equals bfcr_knn_allnn on the whole matrix bit for bit
 * (bf and the bits of dist2), for 1-4 ranks, 1 and 2 threads, even and uneven blocks (empty
 * ones included), on blobs (slabs for d = 1, 2, 8 and one-hot d = 20; ring for continuous
 * d = 20, 40), tiny n (n = 2, n < P, n = P + 1), exact duplicates, integer grids and d = 1.
 * Bad layouts and non-finite values fail with the same status on every rank. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_dist.h"
#include "mpitest.h"

/* 16 blobs: centres ~ N(0, 10^2), rows centre + N(0, 1.5^2). */
static double *make_blobs(int64_t n, int d, uint64_t seed) {
  double *c = malloc(16 * (size_t)d * sizeof(double)),
         *X = malloc((size_t)(n * d) * sizeof(double));
  for (int i = 0; i < 16 * d; i++) c[i] = 10.0 * mt_gauss(&seed);
  for (int64_t i = 0; i < n; i++) {
    int b = (int)(mt_rng(&seed) >> 60);
    for (int k = 0; k < d; k++) X[i * d + k] = c[b * d + k] + 1.5 * mt_gauss(&seed);
  }
  free(c);
  return X;
}

/* `distinct` blob rows, each repeated, in a shuffled order. */
static double *make_dups(int64_t n, int d, int64_t distinct, uint64_t seed) {
  double *U = make_blobs(distinct, d, seed), *X = malloc((size_t)(n * d) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    int64_t j = (int64_t)(mt_rng(&seed) % (uint64_t)distinct);
    memcpy(X + i * d, U + j * d, (size_t)d * sizeof(double));
  }
  free(U);
  return X;
}

/* Blobs in `cont` columns plus one-hot columns (d - cont of them): the kd-tree range of knn.c
 * for d above the crossover. */
static double *make_onehot(int64_t n, int d, int cont, uint64_t seed) {
  double *B = make_blobs(n, cont, seed), *X = calloc((size_t)(n * d), sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    memcpy(X + i * d, B + i * cont, (size_t)cont * sizeof(double));
    X[i * d + cont + (int)(mt_rng(&seed) % (uint64_t)(d - cont))] = 1.0;
  }
  free(B);
  return X;
}

#define SL_METHOD BFCR_KNN_DIST_SLABS
#define RG_METHOD BFCR_KNN_DIST_RING

static void check_case(bfcr_ctx *ctx, const char *name, const double *X, int64_t n, int d,
                       int expect_method) {
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  int64_t *bf0 = malloc((size_t)n * sizeof(int64_t)), *bf = malloc((size_t)n * sizeof(int64_t));
  double *d0 = malloc((size_t)n * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
  MT_CHECK(bfcr_knn_allnn(X, n, d, 1, bf0, d0) == BFCR_OK, "%s: reference", name);
  (void)expect_method; /* the method is chosen by a probe (or forced), not by d */
  for (int threads = 1; threads <= 2; threads++) {
    bfcr_ctx_set_threads(ctx, threads);
    for (int how = 0; how < 5; how++) {
      if (threads == 2 && how != 1) continue; /* threads change nothing across ranks */
      /* how 3, 4: layout 0 with the slabs (tree) and the ring (GEMM) forced. */
      ctx->nn_method = how == 3 ? BFCR_NN_TREE : how == 4 ? BFCR_NN_GEMM : BFCR_NN_AUTO;
      int64_t lo, hi;
      mt_block(n, P, rank, how > 2 ? 0 : how, &lo, &hi);
      for (int64_t i = 0; i < n; i++) {
        bf[i] = -7;
        d2[i] = -7.0;
      }
      bfcr_knn_dist_stats stats;
      bfcr_status st =
          bfcr_knn_allnn_dist_stats(ctx, X + lo * d, hi - lo, lo, n, d, bf, d2, &stats);
      MT_CHECK(st == BFCR_OK, "%s (layout %d, %d threads): status %d: %s", name, how, threads,
               (int)st, bfcr_ctx_errmsg(ctx));
      if (st != BFCR_OK) continue;
      if (how >= 3) {
        const int method = P == 1 ? BFCR_KNN_DIST_LOCAL : how == 3 ? SL_METHOD : RG_METHOD;
        MT_CHECK((int)stats.method == method, "%s: method %d, expected %d", name, (int)stats.method,
                 method);
      }
      int64_t bad = 0, first = -1;
      for (int64_t i = 0; i < n; i++) {
        if (bf[i] != bf0[i] || memcmp(&d2[i], &d0[i], sizeof(double)) != 0) {
          if (first < 0) first = i;
          bad++;
        }
      }
      MT_CHECK(bad == 0,
               "%s (n = %lld, d = %d, layout %d, %d threads): %lld rows differ, first %lld: "
               "bf %lld vs %lld, dist2 %.17g vs %.17g",
               name, (long long)n, d, how, threads, (long long)bad, (long long)first,
               (long long)(first >= 0 ? bf[first] : 0), (long long)(first >= 0 ? bf0[first] : 0),
               first >= 0 ? d2[first] : 0.0, first >= 0 ? d0[first] : 0.0);
      /* Owner-only distances: bf replicated, dist2 for this rank's rows only. */
      double *own = malloc((size_t)(hi > lo ? hi - lo : 1) * sizeof(double));
      for (int64_t i = 0; i < n; i++) bf[i] = -7;
      for (int64_t i = 0; i < hi - lo; i++) own[i] = -7.0;
      bfcr_zsrc zs = {X + lo * d, NULL, NULL, NULL, d};
      st = bfcr_knn_allnn_dist_own(ctx, &zs, hi - lo, lo, n, d, bf, own, NULL);
      MT_CHECK(st == BFCR_OK, "%s own (layout %d): status %d", name, how, (int)st);
      bad = 0;
      for (int64_t i = 0; st == BFCR_OK && i < n; i++) bad += bf[i] != bf0[i];
      for (int64_t i = 0; st == BFCR_OK && i < hi - lo; i++)
        bad += memcmp(&own[i], &d0[lo + i], sizeof(double)) != 0;
      MT_CHECK(bad == 0, "%s own (n = %lld, layout %d, %d threads): %lld values differ", name,
               (long long)n, how, threads, (long long)bad);
      /* Nothing replicated: bf and dist2 of this rank's rows only. */
      int64_t *bfm = malloc((size_t)(hi > lo ? hi - lo : 1) * sizeof(int64_t));
      for (int64_t i = 0; i < hi - lo; i++) bfm[i] = -7, own[i] = -7.0;
      st = bfcr_knn_allnn_dist_mine(ctx, &zs, hi - lo, lo, n, d, bfm, own, NULL);
      MT_CHECK(st == BFCR_OK, "%s mine (layout %d): status %d", name, how, (int)st);
      bad = 0;
      for (int64_t i = 0; st == BFCR_OK && i < hi - lo; i++)
        bad += bfm[i] != bf0[lo + i] || memcmp(&own[i], &d0[lo + i], sizeof(double)) != 0;
      MT_CHECK(bad == 0, "%s mine (n = %lld, layout %d, %d threads): %lld values differ", name,
               (long long)n, how, threads, (long long)bad);
      free(bfm);
      free(own);
    }
  }
  bfcr_ctx_set_threads(ctx, 1);
  ctx->nn_method = BFCR_NN_AUTO;
  free(bf0);
  free(bf);
  free(d0);
  free(d2);
}

static void check_errors(bfcr_ctx *ctx) {
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  const int64_t n = 40;
  const int d = 3;
  double *X = make_blobs(n, d, 99);
  int64_t bf[40];
  double d2[40];
  int64_t lo = n * rank / P, hi = n * (rank + 1) / P;
  /* Wrong offset on the last rank: every rank must report BFCR_ERR_ARG. */
  int64_t off = lo + (rank == P - 1 && P > 1 ? 1 : 0);
  int64_t cnt = hi - lo - (rank == P - 1 && P > 1 ? 1 : 0);
  if (P == 1) cnt = n - 1; /* one rank holding fewer than n rows */
  bfcr_status st = bfcr_knn_allnn_dist(ctx, X + off * d, cnt, off, n, d, bf, d2);
  MT_CHECK(st == BFCR_ERR_ARG, "bad layout: status %d", (int)st);
  bfcr_ctx_clear_error(ctx);
  /* A NaN on the last rank only. */
  X[(hi - 1) * d + 1] = rank == P - 1 ? NAN : X[(hi - 1) * d + 1];
  st = bfcr_knn_allnn_dist(ctx, X + lo * d, hi - lo, lo, n, d, bf, d2);
  MT_CHECK(st == BFCR_ERR_ARG, "NaN input: status %d", (int)st);
  bfcr_ctx_clear_error(ctx);
  /* n < 2 everywhere. */
  st = bfcr_knn_allnn_dist(ctx, X, rank == 0 ? 1 : 0, 0, 1, d, bf, d2);
  MT_CHECK(st == BFCR_ERR_ARG, "n = 1: status %d", (int)st);
  bfcr_ctx_clear_error(ctx);
  free(X);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  const int P = bfcr_ctx_size(ctx);
  const int SL = BFCR_KNN_DIST_SLABS, RG = BFCR_KNN_DIST_RING;
  double *X;
  int64_t n;

  static const struct {
    int64_t n;
    int d, method;
  } blobs[] = {{10000, 2, 1}, {6000, 8, 1}, {2000, 20, 2}, {1000, 40, 2}, {3000, 1, 1}};
  for (size_t c = 0; c < sizeof blobs / sizeof blobs[0]; c++) {
    X = make_blobs(blobs[c].n, blobs[c].d, 1000 + c);
    check_case(ctx, "blobs", X, blobs[c].n, blobs[c].d, blobs[c].method == 1 ? SL : RG);
    free(X);
  }
  /* Tiny n: fewer rows than ranks, and P + 1 rows. */
  static const int tiny_d[] = {2, 30};
  for (int t = 0; t < 2; t++) {
    const int d = tiny_d[t];
    for (int64_t m = 2; m <= P + 1; m++) {
      X = make_blobs(m, d, 7 + m);
      /* Two rows have at most two values per column: the kd-tree range of knn.c. */
      check_case(ctx, "tiny", X, m, d, d <= 16 || m == 2 ? SL : RG);
      free(X);
    }
    X = make_dups(3, d, 1, 5); /* three copies of one row */
    check_case(ctx, "tiny copies", X, 3, d, SL);
    free(X);
  }
  /* Exact duplicates: copies of a few hundred distinct rows. */
  X = make_dups(6000, 3, 300, 11);
  check_case(ctx, "duplicates d=3", X, 6000, 3, SL);
  free(X);
  X = make_dups(2000, 24, 200, 12);
  check_case(ctx, "duplicates d=24", X, 2000, 24, RG);
  free(X);
  X = make_dups(3000, 1, 50, 13);
  check_case(ctx, "duplicates d=1", X, 3000, 1, SL);
  free(X);
  /* Integer grids (massive ties), single and doubled. */
  X = mt_grid(70, 2, 0, &n, 21);
  check_case(ctx, "grid 70^2", X, n, 2, SL);
  free(X);
  X = mt_grid(12, 3, 1, &n, 22);
  check_case(ctx, "grid 12^3 x2", X, n, 3, SL);
  free(X);
  X = mt_grid(500, 1, 1, &n, 23);
  check_case(ctx, "grid 500 x2 (d=1)", X, n, 1, SL);
  free(X);
  X = mt_grid(4, 5, 0, &n, 24);
  check_case(ctx, "grid 4^5", X, n, 5, SL);
  free(X);
  /* One-hot columns: d = 22 but 2 continuous columns, so the kd-tree (slab) range. */
  X = make_onehot(5000, 22, 2, 31);
  check_case(ctx, "one-hot d=22", X, 5000, 22, SL);
  free(X);

  check_errors(ctx);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_knn_dist");
}
