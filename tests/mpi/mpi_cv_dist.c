/* ranks: 1 2 3 4 */
/* The distributed cross-validation's pieces: bfcr_sum_rows_canonical equals the
 * one-process left-to-right sum bit for bit on uneven splits with empty ranks and agrees
 * on an error for blocks that do not tile; bfcr_kdtree_query_grp equals a brute-force
 * search (groups skipped, bounds, ties); and a CV fit on uneven row blocks (one rank
 * empty) with 2 and 7 folds and a large min_cluster_size (folds that take the parent's
 * model, fetched from its owner) writes the one-process model bytes; the slab routing
 * (bfcr_knn_cv_route) gives a brute-force search's index for every flagged row on grids
 * (many equal distances), copies of three rows, Gaussian rows (also with groups above
 * 127 and coordinates beyond the float range) and sets smaller than the rank count, in
 * four block layouts (empty ranks), without and with the level-0 slab search's plan,
 * tree order and rows (bfcr_knn_allnn_dist_keep; also with that order reversed, a poor
 * tree, and kept from other rows, whose hash differs); the fits with 3 features take the
 * slab routing in bfcr_fit on 2-4 ranks (P > 1, d <= 16), the fit with 17 features and
 * 5 folds the ring (d > 16). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "core/ctx.h"
#include "io/model_file.h"
#include "knn/knn.h"
#include "knn/knn_cv_route.h"
#include "knn/knn_dist.h"
#include "knn/slab.h"
#include "mpitest.h"
#include "par/sum_rows.h"

/* Split of n rows over P ranks: rank 1 empty (when P > 2), the others uneven. */
static void split(int64_t n, int P, int r, int64_t *lo, int64_t *hi) {
  int64_t *b = malloc(sizeof(int64_t) * (size_t)(P + 1));
  b[0] = 0;
  for (int q = 1; q <= P; q++) {
    int64_t w = (q == 2 && P > 2) ? 0 : (int64_t)q * 3 + 1;
    b[q] = b[q - 1] + w;
  }
  for (int q = 1; q <= P; q++) b[q] = b[q] * n / b[P];
  *lo = b[r];
  *hi = b[r + 1];
  free(b);
}

static double val(int64_t i) { /* values of very different magnitudes: order matters */
  return (i % 3 == 0 ? 1e16 : 1.0) * sin((double)i * 0.7) + (double)(i % 11) * 0.1;
}

static void check_sums(bfcr_ctx *ctx) {
  int P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  const int64_t n = 1001;
  int64_t lo, hi;
  split(n, P, r, &lo, &hi);
  double *v = malloc(sizeof(double) * (size_t)(2 * (hi - lo) + 1)), ref[2] = {0, 0}, got[2];
  for (int64_t i = lo; i < hi; i++) {
    v[i - lo] = val(i);
    v[(hi - lo) + i - lo] = -val(n - i);
  }
  for (int64_t i = 0; i < n; i++) {
    ref[0] += val(i);
    ref[1] += -val(n - i);
  }
  bfcr_status st = bfcr_sum_rows_canonical(ctx, v, hi - lo, lo, n, 2, hi - lo, got);
  MT_CHECK(st == BFCR_OK, "sum: %s", bfcr_ctx_errmsg(ctx));
  MT_CHECK(memcmp(got, ref, sizeof ref) == 0, "sum %.17g %.17g vs %.17g %.17g", got[0], got[1],
           ref[0], ref[1]);
  /* a wrong total: every rank reports it */
  st = bfcr_sum_rows_canonical(ctx, v, hi - lo, lo, n + 1, 1, hi - lo, got);
  MT_CHECK(st == BFCR_ERR_ARG, "sum over a wrong total: status %d", (int)st);
  free(v);
}

static void check_query_grp(void) {
  const int d = 3;
  const int64_t n = 700, m = 120;
  double *R = malloc(sizeof(double) * n * d), *Q = malloc(sizeof(double) * m * d);
  double *b2 = malloc(sizeof(double) * m), *dist2 = malloc(sizeof(double) * m);
  int *grp = malloc(sizeof(int) * n), *qg = malloc(sizeof(int) * m);
  int64_t *nn = malloc(sizeof(int64_t) * m);
  for (int64_t i = 0; i < n; i++) {
    for (int j = 0; j < d; j++) R[i * d + j] = (double)((i * (7 + j * 5)) % 13); /* ties */
    grp[i] = (int)(i % 4);
  }
  for (int64_t q = 0; q < m; q++) {
    for (int j = 0; j < d; j++) Q[q * d + j] = (double)((q * (3 + j)) % 14) - 0.5 * (q % 2);
    qg[q] = (int)(q % 5); /* group 4: nothing skipped */
    b2[q] = q % 3 == 0 ? 2.0 : INFINITY;
  }
  for (int th = 1; th <= 2; th++) {
    bfcr_kdtree *t = NULL;
    MT_CHECK(bfcr_kdtree_build(R, n, d, th, &t) == BFCR_OK, "kdtree build");
    if (!t) break;
    MT_CHECK(bfcr_kdtree_query_grp(t, Q, qg, m, grp, b2, th, nn, dist2) == BFCR_OK, "query_grp");
    for (int64_t q = 0; q < m; q++) {
      double bd = b2[q];
      int64_t bj = -1;
      for (int64_t i = 0; i < n; i++) {
        if (grp[i] == qg[q]) continue;
        double s = 0.0;
        for (int j = 0; j < d; j++) {
          double e = Q[q * d + j] - R[i * d + j];
          s += e * e;
        }
        if (s < bd || (s == bd && bj < 0)) {
          bd = s;
          bj = i;
        }
      }
      MT_CHECK(nn[q] == bj && (bj < 0 || dist2[q] == bd), "query %lld: %lld (%g) vs %lld (%g)",
               (long long)q, (long long)nn[q], dist2[q], (long long)bj, bd);
    }
    bfcr_kdtree_free(t);
  }
  free(R);
  free(Q);
  free(b2);
  free(dist2);
  free(grp);
  free(qg);
  free(nn);
}

/* Row i of d >= 3 features: three informative columns, the others small clustered noise. */
static void row(int64_t i, int d, double *x, double *y) {
  double c = (double)(i % 9);
  x[0] = c + 0.01 * (double)((i * 37) % 101);
  x[1] = 0.5 * c - 0.02 * (double)((i * 53) % 97);
  x[2] = (double)((i * 11) % 7);
  for (int j = 3; j < d; j++) x[j] = 0.3 * c * (j % 2) + 0.1 * (double)((i * (13 + 2 * j)) % 17);
  *y = (c < 4 ? 3.0 : -1.0) * x[0] + x[1] - 0.3 * x[2] + 0.05 * (double)(i % 5);
}

static bfcr_status make(bfcr_ctx *ctx, int64_t n, int d, int uneven, bfcr_data **out) {
  int P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  int64_t lo = 0, hi = n;
  if (uneven) split(n, P, r, &lo, &hi);
  double *X = malloc(sizeof(double) * (size_t)(d * (hi - lo) + 1)),
         *y = malloc(sizeof(double) * (size_t)(hi - lo + 1));
  for (int64_t i = lo; i < hi; i++) row(i, d, X + d * (i - lo), y + (i - lo));
  bfcr_status st = bfcr_data_from_arrays(ctx, hi - lo, d, X, y, NULL, out);
  free(X);
  free(y);
  return st;
}

static void check_fit(bfcr_ctx *world, bfcr_ctx *self, int folds, int64_t minsize, int th, int d) {
  const int64_t n = 2400;
  bfcr_data *dw = NULL, *ds = NULL;
  bfcr_model *mw = NULL, *ms = NULL;
  unsigned char *bw = NULL, *bs = NULL;
  size_t lw = 0, ls = 0;
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  fp.select_regressors = 1u << BFCR_REG_RIDGE; /* kernel candidates: test_cv_kernel */
  fp.folds = folds;
  fp.min_cluster_size = minsize;
  bfcr_ctx_set_threads(world, th);
  bfcr_ctx_set_threads(self, th);
  MT_CHECK(make(world, n, d, 1, &dw) == BFCR_OK, "data");
  MT_CHECK(make(self, n, d, 0, &ds) == BFCR_OK, "self data");
  MT_CHECK(bfcr_fit(world, dw, &fp, &mw) == BFCR_OK, "fit: %s", bfcr_ctx_errmsg(world));
  MT_CHECK(bfcr_fit(self, ds, &fp, &ms) == BFCR_OK, "self fit: %s", bfcr_ctx_errmsg(self));
  if (mw && ms) {
    MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "encode");
    MT_CHECK(bfcr_model_encode(self, ms, &bs, &ls) == BFCR_OK, "self encode");
    MT_CHECK(bw && bs && lw == ls && memcmp(bw, bs, lw) == 0,
             "folds %d minsize %lld threads %d d %d: model bytes differ", folds, (long long)minsize,
             th, d);
  }
  free(bw);
  free(bs);
  bfcr_model_destroy(&mw);
  bfcr_model_destroy(&ms);
  bfcr_data_destroy(&dw);
  bfcr_data_destroy(&ds);
}

/* One case of the slab routing: X (n x d, replicated here), groups grp, flags need; every
 * layout of mt_block; nn of every flagged own row against a brute force on (dist2, index)
 * with bfcr_dist2 on (min, max) (the canonical distance). */
static void route_case(bfcr_ctx *ctx, const char *what, const double *X, int64_t n, int d,
                       const int *grp, const unsigned char *need, int th) {
  const int P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  bfcr_ctx_set_threads(ctx, th);
  for (int how = 0; how < 4; how++) {
    int64_t lo, hi;
    mt_block(n, P, r, how, &lo, &hi);
    const int64_t nl = hi - lo;
    int64_t *nn = malloc(sizeof(int64_t) * (size_t)(nl + 1));
    for (int64_t i = 0; i < nl; i++) nn[i] = -7; /* unflagged rows stay untouched */
    const bfcr_zsrc zs = {X + lo * d, NULL, NULL, NULL, d};
    /* keep: 0 none; 1 the level-0 slab search's plan, tree order and rows (the fit's
     * reuse); 2 the same with the order reversed (a poor tree: still exact); 3 what a
     * search of other rows kept (same n and d; the hash differs, so the rows move). */
    double *other = malloc(sizeof(double) * (size_t)(nl * d + 1));
    for (int64_t i = 0; i < nl * d; i++) other[i] = X[lo * d + i] * 0.5 + 1.0;
    const bfcr_zsrc zo = {other, NULL, NULL, NULL, d};
    for (int keep = 0; keep <= 3 && (keep == 0 || n >= 2); keep++) {
      bfcr_slab_keep *k = NULL;
      bfcr_status st = BFCR_OK;
      if (keep) {
        int64_t *bf = malloc(sizeof(int64_t) * (size_t)(nl + 1));
        double *d2 = malloc(sizeof(double) * (size_t)(nl + 1));
        const int method = ctx->nn_method;
        ctx->nn_method = BFCR_NN_TREE; /* the slabs, whatever the probe says for tiny sets */
        st = bfcr_knn_allnn_dist_keep(ctx, keep == 3 ? &zo : &zs, nl, lo, n, d, bf, d2, &k);
        ctx->nn_method = method;
        MT_CHECK(st == BFCR_OK && (P == 1 || k), "%s, layout %d: level-0 search: %s", what, how,
                 bfcr_ctx_errmsg(ctx));
        if (k && keep == 2)
          for (int64_t p = 0; p < k->ns / 2; p++) {
            const int32_t o = k->order[p];
            k->order[p] = k->order[k->ns - 1 - p];
            k->order[k->ns - 1 - p] = o;
          }
        free(bf);
        free(d2);
      }
      for (int64_t i = 0; i < nl; i++) nn[i] = -7;
      if (st == BFCR_OK) st = bfcr_knn_cv_route(ctx, &zs, nl, grp + lo, need + lo, k, nn);
      bfcr_slab_keep_free(k);
      MT_CHECK(st == BFCR_OK, "%s, layout %d, keep %d: %s", what, how, keep, bfcr_ctx_errmsg(ctx));
      int bad = 0;
      for (int64_t i = 0; st == BFCR_OK && i < nl; i++) {
        const int64_t g = lo + i;
        int64_t bj = -1;
        double bd = INFINITY;
        if (need[g]) {
          for (int64_t j = 0; j < n; j++) {
            if (grp[j] == grp[g]) continue;
            const int64_t a = g < j ? g : j, b = g < j ? j : g;
            const double s = bfcr_dist2(X + a * d, X + b * d, d);
            if (bj < 0 || bfcr_nn_better(s, j, bd, bj)) {
              bd = s;
              bj = j;
            }
          }
        } else {
          bj = -7;
        }
        if (nn[i] != bj && bad++ < 3)
          MT_CHECK(0, "%s, layout %d, keep %d, threads %d, row %lld: %lld, brute force %lld", what,
                   how, keep, th, (long long)g, (long long)nn[i], (long long)bj);
      }
    }
    free(other);
    free(nn);
  }
}

static void check_route(bfcr_ctx *ctx) {
  const int P = bfcr_ctx_size(ctx);
  uint64_t seed = 77;
  /* grids (each point twice: ties at distance 0 and between neighbours) */
  static const int grid[][3] = {{20, 2, 5}, {7, 3, 2}, {200, 1, 3}};
  for (int c = 0; c < 3; c++) {
    int64_t n;
    double *X = mt_grid(grid[c][0], grid[c][1], 1, &n, 90 + c);
    int *grp = malloc(sizeof(int) * (size_t)n);
    unsigned char *need = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
      grp[i] = (int)(mt_rng(&seed) % (uint64_t)grid[c][2]);
      need[i] = c == 0 || i % 3 != 1;
    }
    route_case(ctx, "grid x2", X, n, grid[c][1], grp, need, 1 + c % 2);
    free(X);
    free(grp);
    free(need);
  }
  /* Gaussian rows (distances with rounding), and copies of three rows */
  {
    const int64_t n = 600;
    const int d = 4;
    double *X = malloc(sizeof(double) * (size_t)(n * d));
    int *grp = malloc(sizeof(int) * (size_t)n);
    unsigned char *need = malloc((size_t)n);
    for (int64_t i = 0; i < n * d; i++) X[i] = mt_gauss(&seed) * (i % d == 0 ? 10.0 : 1.0);
    for (int64_t i = 0; i < n; i++) {
      grp[i] = (int)(i % 4);
      need[i] = i % 5 != 0;
    }
    route_case(ctx, "gaussian", X, n, d, grp, need, 2);
    /* groups above 127 (4-byte tags) and coordinates beyond the float range (coarse
     * boundary rows that are always flagged) */
    for (int64_t i = 0; i < n; i++) grp[i] = (int)(i % 4) * 1000 + 7;
    route_case(ctx, "gaussian, large groups", X, n, d, grp, need, 1);
    for (int64_t i = 0; i < n * d; i++) X[i] *= i % 7 == 0 ? 1e39 : 1.0;
    route_case(ctx, "gaussian, beyond float", X, n, d, grp, need, 2);
    for (int64_t i = 0; i < n; i++)
      memcpy(X + i * d, X + (i * 7 % 3) * d, sizeof(double) * (size_t)d);
    for (int64_t i = 0; i < n; i++) grp[i] = (int)(mt_rng(&seed) % 3);
    route_case(ctx, "copies of 3 rows", X, n, d, grp, need, 1);
    free(X);
    free(grp);
    free(need);
  }
  /* d = 20 rows near a 2-D sheet (low intrinsic dimension): the case where the fit routes
   * on cells above 16 dimensions because level 0 ran on cells (bfcr_knn_cv_route_slabs) */
  {
    const int64_t n = 500;
    const int d = 20;
    double *X = malloc(sizeof(double) * (size_t)(n * d));
    int *grp = malloc(sizeof(int) * (size_t)n);
    unsigned char *need = malloc((size_t)n);
    for (int64_t i = 0; i < n; i++) {
      const double u = mt_gauss(&seed), v = mt_gauss(&seed);
      for (int k = 0; k < d; k++)
        X[i * d + k] = (k % 3 == 0   ? u
                        : k % 3 == 1 ? v
                                     : u * v) *
                           (1.0 + 0.1 * k) +
                       1e-3 * mt_gauss(&seed);
      grp[i] = (int)(i % 5);
      need[i] = i % 4 != 0;
    }
    route_case(ctx, "d = 20 sheet", X, n, d, grp, need, 2);
    free(X);
    free(grp);
    free(need);
  }
  /* fewer rows than ranks (empty slabs); one group only (no answer: -1) */
  for (int64_t n = 1; n <= P + 1; n++) {
    double *X = malloc(sizeof(double) * (size_t)(n * 2));
    int *grp = malloc(sizeof(int) * (size_t)n);
    unsigned char *need = malloc((size_t)n);
    for (int64_t i = 0; i < n * 2; i++) X[i] = (double)(mt_rng(&seed) % 4);
    for (int64_t i = 0; i < n; i++) {
      grp[i] = (int)(i % 2);
      need[i] = 1;
    }
    route_case(ctx, "tiny set", X, n, 2, grp, need, 1);
    for (int64_t i = 0; i < n; i++) grp[i] = 0;
    route_case(ctx, "one group", X, n, 2, grp, need, 1);
    free(X);
    free(grp);
    free(need);
  }
  bfcr_ctx_set_threads(ctx, 1);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *world = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &world);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  check_sums(world);
  check_query_grp();
  check_route(world);
  check_fit(world, self, 2, 0, 1, 3);
  check_fit(world, self, 7, 60, 2, 3);
  check_fit(world, self, 3, 0, 2, 3);
  check_fit(world, self, 5, 0, 1, 17); /* above 16 features: the ring (any rank count) */
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_cv_dist");
}
