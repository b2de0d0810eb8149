/* bfcr_kdtree_max_ratio (the Davies-Bouldin inner max) against a full scan with the
 * canonical distance: exact equality on blobs with spread weights, on a grid with
 * duplicate points (dist2 == 0 gives +inf), with zero weights, and with a starting
 * value that is already the maximum or +inf. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "knn/kdtree_impl.h"

static uint64_t rng_state;
static double unif(void) {
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (double)((rng_state * 2685821657736338717ull) >> 11) * 0x1p-53;
}

static double scan(const double *X, const double *w, int64_t n, int d, int64_t i, double best) {
  for (int64_t j = 0; j < n; j++) {
    if (j == i) continue;
    double d2 = bfcr_dist2(X + i * d, X + j * d, d);
    double r = d2 > 0.0 ? (w[i] + w[j]) / sqrt(d2) : INFINITY;
    if (r > best) best = r;
  }
  return best;
}

/* Every query against the scan, with the walks chosen for this CPU or (plain) the plain
 * C ones. */
static void check_walks(const double *X, const double *w, int64_t n, int d, int plain) {
  bfcr_kdtree *t = NULL;
  cr_assert_eq(bfcr_kdtree_build(X, n, d, 2, &t), BFCR_OK);
  if (plain) {
    t->walks = bfcr_kd_walks_plain();
    t->avx2 = 0;
  }
  double *nm = malloc((size_t)bfcr_kdtree_nnodes(t) * sizeof *nm);
  double *work = malloc((size_t)d * 5 * sizeof *work);
  cr_assert_eq(bfcr_kdtree_node_max(t, w, nm), BFCR_OK);
  for (int64_t i = 0; i < n; i++) {
    double ref = scan(X, w, n, d, i, 0.0);
    double got = bfcr_kdtree_max_ratio(t, w, nm, X + i * d, w[i], i, 0.0, work);
    cr_assert(got == ref || (isinf(got) && isinf(ref)), "row %lld: %.17g vs %.17g", (long long)i,
              got, ref);
    /* Starting from the answer returns it unchanged. */
    cr_assert(bfcr_kdtree_max_ratio(t, w, nm, X + i * d, w[i], i, ref, work) == ref || isinf(ref));
  }
  cr_assert(isinf(bfcr_kdtree_max_ratio(t, w, nm, X, w[0], 0, INFINITY, work)));
  free(work);
  free(nm);
  bfcr_kdtree_free(t);
}

static void check(const double *X, const double *w, int64_t n, int d) {
  check_walks(X, w, n, d, 0);
  check_walks(X, w, n, d, 1);
}

static void blobs_with_spread_weights(int d, double offset) {
  rng_state = 99;
  const int64_t n = 3000;
  double *X = malloc((size_t)(n * d) * sizeof *X), *w = malloc((size_t)n * sizeof *w);
  for (int64_t i = 0; i < n; i++) {
    double c = (double)(i % 4) * 3.0;
    for (int k = 0; k < d; k++) X[i * d + k] = offset + c + unif() - 0.5;
    /* Mostly small weights, a few large ones: the node maxima must track them. */
    w[i] = unif() < 0.02 ? 2.0 * unif() : 0.05 * unif();
  }
  check(X, w, n, d);
  free(X);
  free(w);
}

/* 5: the fixed-width walk of its dimension; 20: the walk for trees wider than 16; the
 * offset puts the points where float keeps few digits of their spread (float filter). */
Test(knn_maxratio, blobs_with_spread_weights) {
  blobs_with_spread_weights(5, 0.0);
  blobs_with_spread_weights(20, 0.0);
  blobs_with_spread_weights(8, 1e6);
}

Test(knn_maxratio, grid_duplicates_and_zero_weights) {
  rng_state = 7;
  const int64_t n = 1500;
  const int d = 3;
  double *X = malloc((size_t)(n * d) * sizeof *X), *w = malloc((size_t)n * sizeof *w);
  for (int64_t i = 0; i < n; i++) {
    for (int k = 0; k < d; k++) X[i * d + k] = floor(unif() * 12.0);
    w[i] = unif() < 0.5 ? 0.0 : unif();
  }
  check(X, w, n, d);
  /* All weights zero: every finite-distance ratio is 0, duplicates still give +inf. */
  for (int64_t i = 0; i < n; i++) w[i] = 0.0;
  check(X, w, n, d);
  free(X);
  free(w);
}
