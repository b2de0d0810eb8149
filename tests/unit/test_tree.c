/* The summary tree: the paper's 12-city HCI example, components, dendrogram order,
 * node summaries against direct computation, and thread-count independence. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "tree/tree.h"

/* 12 points on a line reproducing the paper's worked example (Li et al., section 3):
 * level 1 has 4 clusters with mean edge weights c = (1, 4.75, 2, 1.5) and centroid
 * best-friend distances d = (30, 30, 16, 16); level 2 has c = (30, 16), d = (70, 70). */
static void twelve_cities(double *x) {
  const double s = 70.0 + 150.0 / 7.0 - 6.4; /* puts the level-2 centroids 70 apart */
  const double pts[12] = {-0.5, 0.5,                                  /* A: c = 1 */
                          21.8, 24.8, 28.8, 33.8, 40.8,               /* B: gaps 3 4 5 7 */
                          s - 11.0 / 6.0, s - 1.0 / 3.0, s + 13.0 / 6.0, /* C: gaps 1.5 2.5 */
                          s + 15.25, s + 16.75};                      /* D: gap 1.5 */
  memcpy(x, pts, sizeof pts);
}

Test(tree, paper_twelve_city_hci) {
  bfcr_ctx *ctx = tu_ctx();
  double x[12];
  twelve_cities(x);
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, x, NULL, 12, 0, 12, 1, 64, &t), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(t->nlevels, 4);
  cr_assert_eq(t->info[1].clusters, 4);
  cr_assert_eq(t->info[2].clusters, 2);
  cr_assert_eq(t->info[3].clusters, 1);
  double h1 = ((30 - 1.0) / 31 + (30 - 4.75) / 34.75 + (16 - 2.0) / 18 + (16 - 1.5) / 17.5) / 4;
  double h2 = ((70 - 30.0) / 100 + (70 - 16.0) / 86) / 2;
  cr_assert_float_eq(t->info[1].hci, h1, 1e-9);
  cr_assert_float_eq(t->info[2].hci, h2, 1e-9);
  cr_assert_float_eq(round(t->info[1].hci * 100) / 100, 0.82, 1e-12);
  cr_assert_float_eq(round(t->info[2].hci * 100) / 100, 0.51, 1e-12);
  cr_assert(isnan(t->info[3].hci));
  bfcr_tree_free(t);
  tu_ctx_free(&ctx);
}

static void blobs(double *X, int64_t n, int d, unsigned seed) {
  srand(seed);
  for (int64_t i = 0; i < n; i++) {
    int c = (int)(i % 5);
    for (int k = 0; k < d; k++)
      X[i * d + k] = 10.0 * c * (k == 0) + (double)rand() / RAND_MAX - 0.5;
  }
}

/* Every node is a contiguous range of the dendrogram order, its summary equals the
 * direct mean/SSE of its samples, and its children tile it. */
static void check_structure(const bfcr_tree *t, const double *X) {
  int d = t->d;
  int64_t w = bfcr_ns_width(d);
  for (int l = 1; l < t->nlevels; l++) {
    const bfcr_level *L = &t->lv[l];
    cr_assert_eq(L->start[0], 0);
    cr_assert_eq(L->start[L->m], t->n);
    int64_t child = 0;
    for (int64_t i = 0; i < L->m; i++) {
      const double *ns = L->ns + i * w;
      int64_t lo = L->start[i], hi = L->start[i + 1];
      cr_assert_eq((int64_t)ns[BFCR_NS_N], hi - lo);
      double sse = 0.0;
      for (int k = 0; k < d; k++) {
        double mu = 0.0;
        for (int64_t p = lo; p < hi; p++) mu += X[t->order[p] * d + k];
        mu /= (double)(hi - lo);
        cr_assert(fabs(mu - ns[BFCR_NS_MEAN + k]) <= 1e-12 * (1 + fabs(mu)), "level %d node %ld",
                  l, (long)i);
        for (int64_t p = lo; p < hi; p++) {
          double dv = X[t->order[p] * d + k] - mu;
          sse += dv * dv;
        }
      }
      cr_assert(fabs(sse - ns[bfcr_ns_sse(d)]) <= 1e-9 * (1 + sse));
      /* children: consecutive nodes of level l - 1 whose ranges tile [lo, hi) */
      if (l >= 2) {
        const bfcr_level *C = &t->lv[l - 1];
        cr_assert_eq(C->start[child], lo);
        for (int64_t c = child; c < child + L->nchild[i]; c++) cr_assert_eq(C->parent[c], i);
        child += L->nchild[i];
        cr_assert_eq(C->start[child], hi);
      }
    }
  }
  /* level-0 parents agree with the level-1 ranges */
  for (int64_t p = 0; p < t->n; p++) {
    int64_t node = t->lv[0].parent[t->order[p]];
    cr_assert(t->lv[1].start[node] <= p && p < t->lv[1].start[node + 1]);
  }
}

Test(tree, dendrogram_and_summaries) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 3000;
  const int d = 3;
  double *X = malloc(n * d * sizeof *X);
  blobs(X, n, d, 7);
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, X, NULL, n, 0, n, d, 64, &t), BFCR_OK);
  cr_assert_eq(t->info[t->nlevels - 1].clusters, 1);
  for (int l = 1; l < t->nlevels; l++) cr_assert(t->info[l].clusters * 2 <= t->info[l - 1].clusters);
  check_structure(t, X);
  bfcr_tree_free(t);
  free(X);
  tu_ctx_free(&ctx);
}

Test(tree, threads_do_not_change_anything) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 4000;
  const int d = 4;
  double *X = malloc(n * d * sizeof *X);
  blobs(X, n, d, 11);
  bfcr_tree *a = NULL, *b = NULL;
  bfcr_ctx_set_threads(ctx, 1);
  cr_assert_eq(bfcr_tree_build_z(ctx, X, NULL, n, 0, n, d, 64, &a), BFCR_OK);
  bfcr_ctx_set_threads(ctx, 2);
  cr_assert_eq(bfcr_tree_build_z(ctx, X, NULL, n, 0, n, d, 64, &b), BFCR_OK);
  cr_assert_eq(a->nlevels, b->nlevels);
  cr_assert_arr_eq(a->order, b->order, n * sizeof(int64_t));
  for (int l = 1; l < a->nlevels; l++) {
    cr_assert_eq(a->lv[l].m, b->lv[l].m);
    cr_assert_arr_eq(a->lv[l].ns, b->lv[l].ns, a->lv[l].m * bfcr_ns_width(d) * sizeof(double));
    const bfcr_level_info *ia = &a->info[l], *ib = &b->info[l];
    cr_assert_eq(ia->clusters, ib->clusters);
    cr_assert_eq(ia->min_size, ib->min_size);
    cr_assert_eq(ia->max_size, ib->max_size);
    const double va[6] = {ia->hci, ia->ch, ia->db, ia->bic, ia->gcv, ia->within_ss};
    const double vb[6] = {ib->hci, ib->ch, ib->db, ib->bic, ib->gcv, ib->within_ss};
    cr_assert_arr_eq(va, vb, sizeof va, "level %d", l);
  }
  bfcr_tree_free(a);
  bfcr_tree_free(b);
  free(X);
  tu_ctx_free(&ctx);
}

/* Exact duplicates: copies of a few distinct rows always land in one level-1 cluster
 * (their best friends are each other at distance 0), and the tree still reaches one node. */
Test(tree, duplicates_and_grid) {
  bfcr_ctx *ctx = tu_ctx();
  const int64_t n = 2000;
  const int d = 2;
  double *X = malloc(n * d * sizeof *X);
  for (int64_t i = 0; i < n; i++) {
    X[i * d] = (double)(i % 37);
    X[i * d + 1] = (double)((i / 37) % 11);
  }
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, X, NULL, n, 0, n, d, 64, &t), BFCR_OK);
  for (int64_t i = 37 * 11; i < n; i++)
    cr_assert_eq(t->lv[0].parent[i], t->lv[0].parent[i % (37 * 11)]);
  cr_assert_eq(t->info[t->nlevels - 1].clusters, 1);
  check_structure(t, X);
  bfcr_tree_free(t);
  free(X);
  tu_ctx_free(&ctx);
}

Test(tree, single_sample_and_identical_points) {
  bfcr_ctx *ctx = tu_ctx();
  double one[2] = {1.0, 2.0};
  bfcr_tree *t = NULL;
  cr_assert_eq(bfcr_tree_build_z(ctx, one, NULL, 1, 0, 1, 2, 64, &t), BFCR_OK);
  cr_assert_eq(t->nlevels, 1);
  bfcr_tree_free(t);
  double same[20];
  for (int i = 0; i < 20; i++) same[i] = 3.0;
  cr_assert_eq(bfcr_tree_build_z(ctx, same, NULL, 10, 0, 10, 2, 64, &t), BFCR_OK);
  cr_assert_eq(t->nlevels, 2);
  cr_assert_eq(t->info[1].clusters, 1);
  cr_assert_eq(t->info[1].within_ss, 0.0);
  bfcr_tree_free(t);
  tu_ctx_free(&ctx);
}

Test(tree, components_canonical) {
  /* 0<->1, 2->1, 3<->4, 5->3 : two components numbered by smallest member */
  int64_t bf[6] = {1, 0, 1, 4, 3, 3}, comp[6], work[6];
  cr_assert_eq(bfcr_components(bf, 6, comp, work), 2);
  int64_t want[6] = {0, 0, 0, 1, 1, 1};
  cr_assert_arr_eq(comp, want, sizeof want);
}
