/* Exact nearest neighbours (lib/knn): every path must return bfcr_dist2's exact value
 * and the smallest index among ties, equal to the brute-force scan, for 1 and 2
 * threads. Data sets are generated from fixed seeds (printed on failure). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/kdtree_impl.h"
#include "testutil.h"

/* Under memcheck (the valgrind tier) the largest random case runs at 1500 rows instead of
 * 5000: still several kd-tree levels and enough rows for bfcr_knn_gemm's
 * blocked path (>= 4 blocks of BFCR_KNN_BLOCK_LEAF), at a tenth of the brute-force cost. */
#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#endif
#endif
#ifndef UNDER_VALGRIND
#define UNDER_VALGRIND() 0
#endif

static double *random_data(int64_t n, int d, uint64_t seed, double scale) {
  double *X = malloc((size_t)(n * d) * sizeof(double));
  for (int64_t i = 0; i < n * d; i++) X[i] = scale * (2.0 * tu_unif(&seed) - 1.0);
  return X;
}

/* Brute force with per-query exclusion and bound (the reference for query options). */
static void brute_ex(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                     const int64_t *ex, const double *b2, int64_t *nn, double *d2) {
  for (int64_t i = 0; i < m; i++) {
    double bd = b2 ? b2[i] : INFINITY;
    int64_t bj = INT64_MAX;
    for (int64_t j = 0; j < nR; j++) {
      if (ex && ex[i] == j) continue;
      double v = bfcr_dist2(Q + i * d, R + j * d, d);
      if (bfcr_nn_better(v, j, bd, bj)) {
        bd = v;
        bj = j;
      }
    }
    nn[i] = bj == INT64_MAX ? -1 : bj;
    d2[i] = bj == INT64_MAX ? INFINITY : bd;
  }
}

/* The plain C walks instead of the ones chosen for this CPU (kdtree_walks*.c): both
 * builds must give the same answers. Checked at one thread and up to 3000 points (the
 * walks do not depend on the thread count; the valgrind tier runs this file too). */
static void use_plain_walks(bfcr_kdtree *t) {
  t->walks = bfcr_kd_walks_plain();
  t->avx2 = 0;
}

/* Every all-points path (kd-tree, plain and CPU walks, GEMM, dispatch), 1 and 2 threads,
 * against brute. */
static void check_allnn(const char *label, const double *X, int64_t n, int d) {
  int64_t *enn = malloc((size_t)n * sizeof(int64_t)), *nn = malloc((size_t)n * sizeof(int64_t));
  double *ed2 = malloc((size_t)n * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
  char what[160];
  bfcr_knn_brute(X, n, d, X, n, 1, enn, ed2);
  for (int nt = 1; nt <= 2; nt++) {
    for (int plain = 0; plain <= (nt == 1 && n <= 3000); plain++) { /* plain walks: 1 thread */
      bfcr_kdtree *t = NULL;
      cr_assert_eq(bfcr_kdtree_build(X, n, d, nt, &t), BFCR_OK);
      if (plain) use_plain_walks(t);
      memset(nn, 0xff, (size_t)n * sizeof(int64_t));
      cr_assert_eq(bfcr_kdtree_allnn(t, nt, nn, d2), BFCR_OK);
      snprintf(what, sizeof what, "%s kd allnn n=%lld d=%d threads=%d plain=%d", label,
               (long long)n, d, nt, plain);
      tu_expect_nn(what, n, nn, d2, enn, ed2);
      /* allnn and query with self-exclusion agree. */
      int64_t *ex = malloc((size_t)n * sizeof(int64_t));
      for (int64_t i = 0; i < n; i++) ex[i] = i;
      cr_assert_eq(bfcr_kdtree_query(t, X, n, ex, NULL, nt, nn, d2), BFCR_OK);
      snprintf(what, sizeof what, "%s kd query-exclude n=%lld d=%d threads=%d plain=%d", label,
               (long long)n, d, nt, plain);
      tu_expect_nn(what, n, nn, d2, enn, ed2);
      free(ex);
      bfcr_kdtree_free(t);
    }

    cr_assert_eq(bfcr_knn_gemm(X, n, d, X, n, 1, nt, nn, d2), BFCR_OK);
    snprintf(what, sizeof what, "%s gemm allnn n=%lld d=%d threads=%d", label, (long long)n, d, nt);
    tu_expect_nn(what, n, nn, d2, enn, ed2);
    cr_assert_eq(bfcr_knn_allnn(X, n, d, nt, nn, d2), BFCR_OK);
    snprintf(what, sizeof what, "%s knn_allnn n=%lld d=%d threads=%d", label, (long long)n, d, nt);
    tu_expect_nn(what, n, nn, d2, enn, ed2);
  }
  free(enn);
  free(nn);
  free(ed2);
  free(d2);
}

/* Outside queries: kd-tree, GEMM and dispatch against brute. */
static void check_query(const char *label, const double *R, int64_t nR, int d, const double *Q,
                        int64_t m) {
  int64_t *enn = malloc((size_t)m * sizeof(int64_t)), *nn = malloc((size_t)m * sizeof(int64_t));
  double *ed2 = malloc((size_t)m * sizeof(double)), *d2 = malloc((size_t)m * sizeof(double));
  char what[160];
  bfcr_knn_brute(R, nR, d, Q, m, 0, enn, ed2);
  for (int nt = 1; nt <= 2; nt++) {
    for (int plain = 0; plain <= (nt == 1 && nR <= 3000); plain++) { /* plain walks: 1 thread */
      bfcr_kdtree *t = NULL;
      cr_assert_eq(bfcr_kdtree_build(R, nR, d, nt, &t), BFCR_OK);
      if (plain) use_plain_walks(t);
      cr_assert_eq(bfcr_kdtree_query(t, Q, m, NULL, NULL, nt, nn, d2), BFCR_OK);
      bfcr_kdtree_free(t);
      snprintf(what, sizeof what, "%s kd query nR=%lld d=%d threads=%d plain=%d", label,
               (long long)nR, d, nt, plain);
      tu_expect_nn(what, m, nn, d2, enn, ed2);
    }
    cr_assert_eq(bfcr_knn_gemm(R, nR, d, Q, m, 0, nt, nn, d2), BFCR_OK);
    snprintf(what, sizeof what, "%s gemm query nR=%lld d=%d threads=%d", label, (long long)nR, d,
             nt);
    tu_expect_nn(what, m, nn, d2, enn, ed2);
    cr_assert_eq(bfcr_knn_query(R, nR, d, Q, m, nt, nn, d2), BFCR_OK);
    snprintf(what, sizeof what, "%s knn_query nR=%lld d=%d threads=%d", label, (long long)nR, d,
             nt);
    tu_expect_nn(what, m, nn, d2, enn, ed2);
  }
  free(enn);
  free(nn);
  free(ed2);
  free(d2);
}

Test(knn, random_all_sizes_and_dimensions) {
  const int ds[] = {1, 2, 3, 8, 16, 17, 64};
  const int64_t ns[] = {2, 3, 5, 100, 5000};
  for (size_t a = 0; a < sizeof ds / sizeof ds[0]; a++) {
    for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
      const int d = ds[a];
      const int64_t n = ns[b] == 5000 && UNDER_VALGRIND() ? 1500 : ns[b];
      const uint64_t seed = 1000 * (uint64_t)d + (uint64_t)n;
      char label[64];
      snprintf(label, sizeof label, "random seed=%llu", (unsigned long long)seed);
      double *X = random_data(n, d, seed, 1.0);
      check_allnn(label, X, n, d);
      double *Q = random_data(37, d, seed + 7, 1.2);
      check_query(label, X, n, d, Q, 37);
      free(Q);
      free(X);
    }
  }
}

/* Many copies of a few distinct rows: ties at distance 0 everywhere. */
Test(knn, duplicates) {
  const int ds[] = {3, 20};
  for (int a = 0; a < 2; a++) {
    const int d = ds[a];
    const int64_t n = 3000, distinct = 40;
    double *U = random_data(distinct, d, 77 + (uint64_t)d, 1.0);
    double *X = malloc((size_t)(n * d) * sizeof(double));
    uint64_t s = 5;
    for (int64_t i = 0; i < n; i++) {
      int64_t r = (int64_t)(tu_rng(&s) % (uint64_t)distinct);
      memcpy(X + i * d, U + r * d, (size_t)d * sizeof(double));
    }
    check_allnn("duplicates", X, n, d);
    check_query("duplicates", X, n, d, U, distinct);
    free(U);
    free(X);
  }
}

/* Integer grids: every point has many neighbours at exactly the same distance. */
Test(knn, integer_grids_ties_go_to_smallest_index) {
  /* 2-D 31 x 29 grid, rows shuffled so tree order differs from index order. */
  const int64_t n2 = 31 * 29;
  double *G = malloc((size_t)n2 * 2 * sizeof(double));
  int64_t *perm = malloc((size_t)n2 * sizeof(int64_t));
  for (int64_t i = 0; i < n2; i++) perm[i] = i;
  uint64_t s = 11;
  for (int64_t i = n2 - 1; i > 0; i--) {
    int64_t j = (int64_t)(tu_rng(&s) % (uint64_t)(i + 1)), x = perm[i];
    perm[i] = perm[j];
    perm[j] = x;
  }
  for (int64_t i = 0; i < n2; i++) {
    G[2 * i] = (double)(perm[i] % 31);
    G[2 * i + 1] = (double)(perm[i] / 31);
  }
  check_allnn("grid2", G, n2, 2);
  /* The tie rule itself: point (1,1) has four neighbours at 1; the smallest index wins. */
  {
    const double P[] = {1, 1, 1, 2, 0, 1, 2, 1, 1, 0};
    int64_t nn[5];
    double d2[5];
    cr_assert_eq(bfcr_knn_allnn(P, 5, 2, 2, nn, d2), BFCR_OK);
    cr_assert_eq(nn[0], 1);
    cr_assert_eq(d2[0], 1.0);
    cr_assert_eq(nn[1], 0); /* (1,2): (1,1) at 1 */
    cr_assert_eq(nn[2], 0);
  }
  /* 3-D grid 8^3 and a 17-D {0,1,2} lattice sample (GEMM path with massive ties). */
  const int64_t n3 = 512;
  double *H = malloc((size_t)n3 * 3 * sizeof(double));
  for (int64_t i = 0; i < n3; i++) {
    H[3 * i] = (double)(i % 8);
    H[3 * i + 1] = (double)((i / 8) % 8);
    H[3 * i + 2] = (double)(i / 64);
  }
  check_allnn("grid3", H, n3, 3);
  const int64_t n17 = 600;
  double *L = malloc((size_t)n17 * 17 * sizeof(double));
  for (int64_t i = 0; i < n17 * 17; i++) L[i] = (double)(tu_rng(&s) % 3);
  check_allnn("lattice17", L, n17, 17);
  check_query("lattice17", L, n17, 17, L, 50);
  free(G);
  free(perm);
  free(H);
  free(L);
}

/* Constant columns, tiny and huge magnitudes (squares underflow to 0 or overflow to inf,
 * so the canonical distance ties there and the smallest index must still win). */
Test(knn, magnitudes_and_constant_columns) {
  const double scales[] = {1e-200, 1e-150, 1.0, 1e150, 1e200, 1e300};
  const int ds[] = {4, 24};
  for (int a = 0; a < 6; a++) {
    for (int b = 0; b < 2; b++) {
      const int d = ds[b];
      const int64_t n = 400;
      double *X = random_data(n, d, 31 + (uint64_t)a, scales[a]);
      for (int64_t i = 0; i < n; i++) X[i * d + 1] = 3.0 * scales[a]; /* constant column */
      char label[64];
      snprintf(label, sizeof label, "scale=%g", scales[a]);
      check_allnn(label, X, n, d);
      double *Q = random_data(20, d, 99, scales[a]);
      check_query(label, X, n, d, Q, 20);
      free(Q);
      free(X);
    }
  }
}

/* The AVX2 walks filter leaves in float before measuring candidates exactly: points far
 * from the origin relative to their spacing (float keeps ~7 digits of 1e3 + noise, none
 * of 1e9 + noise), exact duplicates and neighbours one double ulp apart must still give
 * the canonical answer. */
Test(knn, float_filter_offsets_and_near_ties) {
  const double offsets[] = {1e3, 1e7, 1e9, 1e14};
  for (int a = 0; a < 4; a++) {
    const int d = 8;
    const int64_t n = 2000, m = 300;
    double *X = random_data(n, d, 500 + (uint64_t)a, 1e-2);
    for (int64_t i = 0; i < n * d; i++) X[i] += offsets[a];
    /* Every 7th row: a copy of the previous row nudged by one ulp in one coordinate. */
    for (int64_t i = 7; i < n; i += 7) {
      for (int k = 0; k < d; k++) X[i * d + k] = X[(i - 1) * d + k];
      X[i * d + (int)(i % d)] = nextafter(X[i * d + (int)(i % d)], INFINITY);
    }
    char label[64];
    snprintf(label, sizeof label, "offset %g", offsets[a]);
    check_allnn(label, X, n, d);
    double *Q = random_data(m, d, 600 + (uint64_t)a, 1e-2);
    for (int64_t i = 0; i < m * d; i++) Q[i] += offsets[a];
    check_query(label, X, n, d, Q, m);
    free(Q);
    free(X);
  }
}

Test(knn, query_exclude_and_bound) {
  const int ds[] = {2, 8};
  for (int a = 0; a < 2; a++) {
    const int d = ds[a];
    const int64_t n = 2000, m = 300;
    double *X = random_data(n, d, 4242, 1.0);
    double *Q = random_data(m, d, 4343, 1.0);
    /* Some queries sit exactly on a reference row that they exclude, some exclude an
     * unrelated row, some nothing. */
    int64_t *ex = malloc((size_t)m * sizeof(int64_t));
    double *b2 = malloc((size_t)m * sizeof(double));
    uint64_t s = 3;
    for (int64_t i = 0; i < m; i++) {
      int64_t j = (int64_t)(tu_rng(&s) % (uint64_t)n);
      if (i % 3 == 0) memcpy(Q + i * d, X + j * d, (size_t)d * sizeof(double));
      ex[i] = i % 3 == 2 ? -1 : j;
      b2[i] = (i % 5 == 0) ? 0.0 : 0.02 * tu_unif(&s) * d;
    }
    /* Exact bound hits: the bound equals the true answer's distance. */
    int64_t *enn = malloc((size_t)m * sizeof(int64_t)), *nn = malloc((size_t)m * sizeof(int64_t));
    double *ed2 = malloc((size_t)m * sizeof(double)), *d2 = malloc((size_t)m * sizeof(double));
    brute_ex(X, n, d, Q, m, ex, NULL, enn, ed2);
    for (int64_t i = 0; i < m; i += 7) b2[i] = ed2[i];
    brute_ex(X, n, d, Q, m, ex, b2, enn, ed2);
    bfcr_kdtree *t = NULL;
    cr_assert_eq(bfcr_kdtree_build(X, n, d, 2, &t), BFCR_OK);
    for (int nt = 1; nt <= 2; nt++) {
      cr_assert_eq(bfcr_kdtree_query(t, Q, m, ex, b2, nt, nn, d2), BFCR_OK);
      tu_expect_nn("exclude+bound", m, nn, d2, enn, ed2);
    }
    int found = 0, none = 0;
    for (int64_t i = 0; i < m; i++) {
      if (nn[i] < 0)
        none++;
      else
        found++;
    }
    cr_assert(found > 10 && none > 10, "bounds should both admit and reject (%d, %d)", found, none);
    brute_ex(X, n, d, Q, m, ex, NULL, enn, ed2);
    cr_assert_eq(bfcr_kdtree_query(t, Q, m, ex, NULL, 2, nn, d2), BFCR_OK);
    tu_expect_nn("exclude", m, nn, d2, enn, ed2);
    bfcr_kdtree_free(t);
    free(X);
    free(Q);
    free(ex);
    free(b2);
    free(enn);
    free(nn);
    free(ed2);
    free(d2);
  }
}

typedef struct {
  int64_t count;
  unsigned char *seen;
  double *d2;
  int tighten;
  int64_t best;
  double bestd;
} radius_acc;

static void radius_visit(void *user, int64_t idx, double dist2, double *r2) {
  radius_acc *a = user;
  a->count++;
  if (a->seen) {
    cr_assert_eq(a->seen[idx], 0, "index %lld visited twice", (long long)idx);
    a->seen[idx] = 1;
    a->d2[idx] = dist2;
  }
  if (a->tighten && bfcr_nn_better(dist2, idx, a->bestd, a->best)) {
    a->best = idx;
    a->bestd = dist2;
    *r2 = dist2;
  }
}

Test(knn, radius_vs_brute) {
  const int ds[] = {1, 3, 8};
  for (int a = 0; a < 3; a++) {
    const int d = ds[a];
    const int64_t n = 3000;
    double *X = random_data(n, d, 555 + (uint64_t)d, 1.0);
    /* Duplicates at the centre: rows 10..19 equal row 5. */
    for (int64_t i = 10; i < 20; i++) memcpy(X + i * d, X + 5 * d, (size_t)d * sizeof(double));
    bfcr_kdtree *t = NULL;
    cr_assert_eq(bfcr_kdtree_build(X, n, d, 1, &t), BFCR_OK);
    radius_acc acc = {0};
    acc.seen = calloc((size_t)n, 1);
    acc.d2 = malloc((size_t)n * sizeof(double));
    for (int qi = 0; qi < 20; qi++) {
      const double *q = X + (qi * 97 % n) * d;
      /* Radius equal to an exact pair distance: the boundary point must be included. */
      const double r2 = bfcr_dist2(q, X + ((qi * 31 + 1) % n) * d, d);
      memset(acc.seen, 0, (size_t)n);
      acc.count = 0;
      bfcr_kdtree_radius(t, q, r2, radius_visit, &acc);
      int64_t expect = 0;
      for (int64_t j = 0; j < n; j++) {
        const double v = bfcr_dist2(q, X + j * d, d);
        if (v <= r2) {
          expect++;
          cr_assert(acc.seen[j], "d=%d query %d: %lld within r2 not visited", d, qi, (long long)j);
          cr_assert(acc.d2[j] == v);
        }
      }
      cr_assert_eq(acc.count, expect);
    }
    /* A visitor that tightens the radius finds the nearest neighbour. */
    const double *q = X + 5 * d;
    radius_acc nnacc = {0};
    nnacc.tighten = 1;
    nnacc.best = INT64_MAX;
    nnacc.bestd = INFINITY;
    bfcr_kdtree_radius(t, q, INFINITY, radius_visit, &nnacc);
    cr_assert_eq(nnacc.best, 5);
    cr_assert_eq(nnacc.bestd, 0.0);
    free(acc.seen);
    free(acc.d2);
    bfcr_kdtree_free(t);
    free(X);
  }
}

Test(knn, larger_random_kd_two_threads) {
  /* Big enough for task-parallel build (>= 16384 rows) and many leaves. */
  const int64_t n = 40000;
  const int d = 4;
  double *X = random_data(n, d, 8080, 1.0);
  int64_t *nn1 = malloc((size_t)n * sizeof(int64_t)), *nn2 = malloc((size_t)n * sizeof(int64_t));
  double *a = malloc((size_t)n * sizeof(double)), *b = malloc((size_t)n * sizeof(double));
  cr_assert_eq(bfcr_knn_allnn(X, n, d, 1, nn1, a), BFCR_OK);
  cr_assert_eq(bfcr_knn_allnn(X, n, d, 2, nn2, b), BFCR_OK);
  tu_expect_nn("threads 1 vs 2", n, nn2, b, nn1, a);
  /* Spot-check against brute. */
  for (int64_t i = 0; i < n; i += 997) {
    int64_t e;
    double ed;
    bfcr_knn_brute(X, n, d, X + i * d, 1, 0, &e, &ed);
    /* brute without exclusion finds i itself at 0; redo excluding it */
    int64_t ex = i;
    brute_ex(X, n, d, X + i * d, 1, &ex, NULL, &e, &ed);
    cr_assert_eq(nn1[i], e);
    cr_assert_eq(a[i], ed);
  }
  free(X);
  free(nn1);
  free(nn2);
  free(a);
  free(b);
}

/* bfcr_kdtree_build_order: the order of a build gives that build's tree (rows, index,
 * boxes, answers), for 1 and 2 threads and sizes around the leaf size; an arbitrary order
 * (reversed, strided) gives a valid tree, so the answers stay exact; a non-permutation is
 * refused. */
Test(knn, rebuild_from_order) {
  const int64_t ns[] = {1, 2, 63, 64, 65, 130, 3001};
  for (size_t c = 0; c < sizeof(ns) / sizeof(ns[0]); c++) {
    const int64_t n = ns[c];
    const int d = c % 2 ? 3 : 8;
    double *X = random_data(n, d, 500 + c, 1.0);
    for (int64_t i = 0; i + 7 < n; i += 7) memcpy(X + (i + 7) * d, X + i * d, sizeof(double) * d);
    int64_t *enn = malloc((size_t)n * sizeof(int64_t)), *nn = malloc((size_t)n * sizeof(int64_t));
    double *ed2 = malloc((size_t)n * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
    int32_t *order = malloc((size_t)n * sizeof(int32_t));
    if (n >= 2) bfcr_knn_brute(X, n, d, X, n, 1, enn, ed2);
    for (int nt = 1; nt <= 2; nt++) {
      bfcr_kdtree *t = NULL, *u = NULL;
      cr_assert_eq(bfcr_kdtree_build(X, n, d, nt, &t), BFCR_OK);
      bfcr_kdtree_order32(t, order);
      for (int how = 0; how < 3; how++) {
        if (how == 1)
          for (int64_t p = 0; p < n; p++) order[p] = (int32_t)(n - 1 - p);
        if (how == 2)
          for (int64_t p = 0; p < n; p++) order[p] = (int32_t)(p * 7919 % n);
        if (how == 2 && n % 7919 == 0) continue; /* not a permutation */
        double *W = malloc((size_t)(n * d) * sizeof(double));
        memcpy(W, X, (size_t)(n * d) * sizeof(double));
        cr_assert_eq(bfcr_kdtree_build_order(W, n, d, order, nt, &u), BFCR_OK);
        if (how == 0) { /* the same tree */
          cr_assert_eq(u->nnodes, t->nnodes);
          cr_assert(!memcmp(u->X, t->X, sizeof(double) * (size_t)(n * d)));
          cr_assert(!memcmp(u->P, t->P, sizeof(double) * (size_t)(n * d)));
          cr_assert(!memcmp(u->idx, t->idx, sizeof(int64_t) * (size_t)n));
          for (int64_t i = 0; i < t->nnodes; i++) {
            cr_assert_eq(u->node[i].lo, t->node[i].lo);
            cr_assert_eq(u->node[i].hi, t->node[i].hi);
            cr_assert_eq(u->node[i].right, t->node[i].right);
            cr_assert_eq(u->node[i].min_index, t->node[i].min_index);
          }
          for (int64_t i = 0; i < t->nnodes * d; i++) {
            cr_assert_eq(u->bmin[i], t->bmin[i]);
            cr_assert_eq(u->bmax[i], t->bmax[i]);
          }
        }
        if (n >= 2) {
          char what[96];
          snprintf(what, sizeof what, "rebuild n=%lld d=%d threads=%d order %d", (long long)n, d,
                   nt, how);
          cr_assert_eq(bfcr_kdtree_allnn(u, nt, nn, d2), BFCR_OK);
          tu_expect_nn(what, n, nn, d2, enn, ed2);
        }
        bfcr_kdtree_free(u);
        u = NULL;
      }
      bfcr_kdtree_free(t);
    }
    if (n >= 2) { /* a repeated row, an out-of-range row: refused, R freed */
      for (int64_t p = 0; p < n; p++) order[p] = (int32_t)p;
      order[n - 1] = 0;
      double *W = malloc((size_t)(n * d) * sizeof(double));
      memcpy(W, X, (size_t)(n * d) * sizeof(double));
      bfcr_kdtree *u = NULL;
      cr_assert_eq(bfcr_kdtree_build_order(W, n, d, order, 1, &u), BFCR_ERR_ARG);
      cr_assert_null(u);
      order[n - 1] = (int32_t)n;
      W = malloc((size_t)(n * d) * sizeof(double));
      memcpy(W, X, (size_t)(n * d) * sizeof(double));
      cr_assert_eq(bfcr_kdtree_build_order(W, n, d, order, 1, &u), BFCR_ERR_ARG);
      cr_assert_null(u);
    }
    free(X), free(enn), free(nn), free(ed2), free(d2), free(order);
  }
}

Test(knn, invalid_arguments) {
  const double X[] = {0.0, 1.0};
  int64_t nn[2];
  double d2[2];
  bfcr_kdtree *t = NULL;
  cr_assert_eq(bfcr_kdtree_build(X, 0, 1, 1, &t), BFCR_ERR_ARG);
  cr_assert_null(t);
  cr_assert_eq(bfcr_kdtree_build(X, 2, 0, 1, &t), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_knn_allnn(X, 1, 1, 1, nn, d2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_knn_gemm(X, 2, 1, X, 1, 1, 1, nn, d2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_kdtree_build(X, 1, 1, 1, &t), BFCR_OK);
  cr_assert_eq(bfcr_kdtree_allnn(t, 1, nn, d2), BFCR_ERR_ARG); /* n >= 2 */
  /* A one-row tree still answers queries. */
  const double q = 5.0;
  cr_assert_eq(bfcr_kdtree_query(t, &q, 1, NULL, NULL, 1, nn, d2), BFCR_OK);
  cr_assert_eq(nn[0], 0);
  cr_assert_eq(d2[0], 25.0);
  bfcr_kdtree_free(t);
  bfcr_kdtree_free(NULL);
}

/* bfcr_kdtree_query_other against brute force: nearest row of another group, ties to the
 * smallest index, -1 when every row shares the query's group; CPU and plain walks, 1 and 2
 * threads, random rows and an integer grid (many exact ties). */
static void check_query_other(const char *label, const double *R, int64_t n, int d, int ngrp) {
  int *grp = malloc((size_t)n * sizeof(int));
  int64_t *rows = malloc((size_t)n * sizeof(int64_t)), *nn = malloc((size_t)n * sizeof(int64_t));
  int64_t *enn = malloc((size_t)n * sizeof(int64_t));
  double *d2 = malloc((size_t)n * sizeof(double)), *ed2 = malloc((size_t)n * sizeof(double));
  uint64_t s = 5;
  for (int64_t i = 0; i < n; i++) grp[i] = (int)(tu_rng(&s) % (uint64_t)ngrp);
  int64_t m = 0;
  for (int64_t i = n - 1; i >= 0; i -= 2) rows[m++] = i; /* every other row, reversed */
  for (int64_t r = 0; r < m; r++) {
    double bd = INFINITY;
    int64_t bj = INT64_MAX, i = rows[r];
    for (int64_t j = 0; j < n; j++) {
      if (grp[j] == grp[i]) continue;
      double v = bfcr_dist2(R + i * d, R + j * d, d);
      if (bfcr_nn_better(v, j, bd, bj)) {
        bd = v;
        bj = j;
      }
    }
    enn[r] = bj == INT64_MAX ? -1 : bj;
    ed2[r] = bj == INT64_MAX ? INFINITY : bd;
  }
  for (int plain = 0; plain <= 1; plain++)
    for (int nt = 1; nt <= 2; nt++) {
      bfcr_kdtree *t = NULL;
      cr_assert_eq(bfcr_kdtree_build(R, n, d, nt, &t), BFCR_OK);
      if (plain) use_plain_walks(t);
      cr_assert_eq(bfcr_kdtree_query_other(t, R, rows, m, grp, nt, nn, d2), BFCR_OK);
      char what[96];
      snprintf(what, sizeof what, "%s groups=%d plain=%d threads=%d", label, ngrp, plain, nt);
      tu_expect_nn(what, m, nn, d2, enn, ed2);
      bfcr_kdtree_free(t);
    }
  free(grp);
  free(rows);
  free(nn);
  free(enn);
  free(d2);
  free(ed2);
}

Test(knn, query_other_group) {
  const int dims[] = {1, 3, 8, 17};
  for (int a = 0; a < 4; a++) {
    double *X = random_data(700, dims[a], 40 + (uint64_t)a, 1.0);
    check_query_other("random", X, 700, dims[a], 5);
    check_query_other("random", X, 700, dims[a], 2);
    free(X);
  }
  double *G = malloc(2 * 23 * 19 * sizeof(double));
  for (int64_t i = 0; i < 23 * 19; i++) {
    G[2 * i] = (double)((i * 7) % 23);
    G[2 * i + 1] = (double)((i * 7) / 23 % 19);
  }
  check_query_other("grid", G, 23 * 19, 2, 5);
  check_query_other("grid", G, 23 * 19, 2, 1); /* one group: no answer */
  free(G);
  int64_t r = 0, nn;
  double d2 = 0.0;
  int g = 0;
  cr_assert_eq(bfcr_kdtree_query_other(NULL, &d2, &r, 1, &g, 1, &nn, &d2), BFCR_ERR_ARG);
}
