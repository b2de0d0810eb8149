/* ranks: 1 2 3 5 8 */
/* The cells of the distributed exact searches (lib/knn/slab.c, a recursive bisection of the
 * ranks): every row has one cell, the cells are balanced (the whole set is the sample here,
 * so the splits are exact quantiles), and the reach set is a superset of the truth: for a
 * row or a query z and a bound r2, every row x with bfcr_dist2(x, z) <= r2 (ties at the
 * bound included) lies in z's home cell or in a cell of bfcr_slab_reach's list, which is
 * increasing, skips the home and the empty cells. Data: blobs at d = 1, 3, 8, a doubled
 * integer grid (many equal distances and projections), fewer rows than ranks; with 3, 5
 * and 8 ranks the bisection is uneven and uses 2 or 3 axes. bfcr_slab_home gives a
 * non-empty cell. bfcr_slab_reach_csr lists the same sets as bfcr_slab_reach ball by ball. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/slab.h"
#include "mpitest.h"

static double *make_blobs(int64_t n, int d, uint64_t seed) {
  return mt_blobs(n, d, seed * 7 + 1, seed);
}

static int cmp_d(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* Checks the reach of z (home h) at bound r2 against every row. */
static void check_reach(const bfcr_slabs *s, const double *X, const int *cell, int64_t n, int d,
                        const double *z, int h, double r2, int *out, const char *what) {
  const int cnt = bfcr_slab_reach(s, z, r2, h, out);
  MT_CHECK(cnt == bfcr_slab_reach(s, z, r2, h, NULL), "%s: count and list disagree", what);
  for (int k = 0; k < cnt; k++) {
    MT_CHECK(out[k] != h && bfcr_slab_rows(s, out[k]) != 0.0, "%s: home or empty cell %d", what,
             out[k]);
    MT_CHECK(k == 0 || out[k] > out[k - 1], "%s: list not increasing", what);
  }
  for (int64_t x = 0; x < n; x++) {
    if (cell[x] == h || !(bfcr_dist2(X + x * d, z, d) <= r2)) continue;
    int in = 0;
    for (int k = 0; k < cnt; k++) in |= out[k] == cell[x];
    MT_CHECK(in, "%s: row %lld (cell %d) within the bound, not reached", what, (long long)x,
             cell[x]);
    if (!in) return;
  }
}

static void run_case(bfcr_ctx *ctx, const double *X, int64_t n, int d, const char *what) {
  int P, me;
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  int64_t *off = malloc((size_t)P * sizeof(int64_t));
  int *cnt = malloc((size_t)P * sizeof(int)), *cell = malloc((size_t)(n > 0 ? n : 1) * sizeof(int));
  int *out = malloc((size_t)P * sizeof(int));
  int64_t *rows = calloc((size_t)P, sizeof(int64_t));
  double *d2 = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  for (int p = 0; p < P; p++) {
    int64_t lo, hi;
    mt_block(n, P, p, 1, &lo, &hi);
    off[p] = lo;
    cnt[p] = (int)(hi - lo);
  }
  const bfcr_zsrc zs = {X + off[me] * d, NULL, NULL, NULL, d};
  bfcr_slabs s;
  bfcr_status st = bfcr_slab_plan(ctx, &zs, cnt[me], off[me], n, off, cnt, d, &s, NULL);
  MT_CHECK(st == BFCR_OK, "%s: plan failed", what);
  if (st != BFCR_OK) goto done;
  MT_CHECK(s.naxes == bfcr_slab_naxes(P, d) && s.naxes >= 1, "%s: naxes %d", what, s.naxes);
  /* Every rank computes the cell of every row (the descent is the same code everywhere). */
  double mine[3 * BFCR_SLAB_MAX_AXES + 1];
  bfcr_slab_range_init(&s, mine);
  for (int64_t g = 0; g < n; g++) {
    cell[g] = bfcr_slab_of(&s, X + g * d, g);
    MT_CHECK(cell[g] >= 0 && cell[g] < P, "%s: cell %d", what, cell[g]);
    rows[cell[g]]++;
    if (cell[g] == me) bfcr_slab_range_add(&s, X + g * d, mine);
  }
  MT_CHECK(bfcr_slab_ranges(ctx, &s, mine, NULL) == BFCR_OK, "%s: ranges failed", what);
  int depth = 0;
  while ((1 << depth) < P) depth++;
  for (int p = 0; p < P; p++) {
    MT_CHECK((double)rows[p] == bfcr_slab_rows(&s, p), "%s: rows of cell %d", what, p);
    if (n >= 64 * P)
      MT_CHECK(llabs(rows[p] * P - n) <= (int64_t)P * (depth + 1), "%s: cell %d holds %lld of %lld",
               what, p, (long long)rows[p], (long long)n);
  }
  /* Own cell's rows at the bound of their 1st, 2nd or 5th nearest row (ties included), and
   * queries (fresh points, far points) from their home cell. */
  uint64_t rs = 977 + (uint64_t)me;
  for (int64_t g = 0; g < n; g++) {
    if (cell[g] != me || g % 3 != 0) continue;
    for (int64_t x = 0; x < n; x++) d2[x] = bfcr_dist2(X + x * d, X + g * d, d);
    qsort(d2, (size_t)n, sizeof(double), cmp_d);
    const int64_t k = (int64_t)(mt_rng(&rs) % 3);
    const double r2 = d2[(k == 2 ? 5 : k + 1) < n ? (k == 2 ? 5 : k + 1) : n - 1];
    check_reach(&s, X, cell, n, d, X + g * d, me, r2, out, what);
  }
  { /* bfcr_slab_reach_csr (own rows, some idx'd, assorted bounds) = the lists one by one */
    int64_t m = 0;
    for (int64_t g = 0; g < n; g++) m += cell[g] == me;
    int64_t *idx = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
    int64_t *ptr = malloc((size_t)(m + 1) * sizeof(int64_t));
    double *r2 = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
    int *pc = calloc((size_t)P, sizeof(int)), *want = calloc((size_t)P, sizeof(int));
    for (int64_t g = 0, j = 0; g < n; g++) {
      if (cell[g] != me) continue;
      idx[j] = g;
      r2[j] = j % 7 == 6 ? INFINITY : bfcr_dist2(X + g * d, X + ((g * 13 + 5) % n) * d, d);
      j++;
    }
    bfcr_status cs = BFCR_OK;
    int *list = bfcr_slab_reach_csr(ctx, &cs, &s, X, idx, r2, m, me, 2, ptr, pc);
    MT_CHECK(list && cs == BFCR_OK && ptr[0] == 0, "%s: reach csr failed", what);
    for (int64_t j = 0; list && j < m; j++) {
      const int c = bfcr_slab_reach(&s, X + idx[j] * d, r2[j], me, out);
      int same = ptr[j + 1] - ptr[j] == c;
      for (int k = 0; same && k < c; k++) same = list[ptr[j] + k] == out[k];
      for (int k = 0; k < c; k++) want[out[k]]++;
      MT_CHECK(same, "%s: reach csr of ball %lld differs", what, (long long)j);
      if (!same) break;
    }
    for (int p = 0; list && p < P; p++) MT_CHECK(pc[p] == want[p], "%s: csr count %d", what, p);
    free(list), free(idx), free(ptr), free(r2), free(pc), free(want);
  }
  double *q = malloc((size_t)d * sizeof(double));
  for (int i = 0; i < 40; i++) {
    const int64_t g = n > 0 ? (int64_t)(mt_rng(&rs) % (uint64_t)n) : 0;
    for (int k = 0; k < d; k++)
      q[k] = (n > 0 ? X[g * d + k] : 0.0) + (i % 10 == 9 ? 100.0 : 0.5) * mt_gauss(&rs);
    const int h = bfcr_slab_home(&s, q);
    MT_CHECK(h >= 0 && h < P && bfcr_slab_rows(&s, h) != 0.0, "%s: home %d", what, h);
    double best = INFINITY;
    for (int64_t x = 0; x < n; x++) {
      if (cell[x] == h) best = fmin(best, bfcr_dist2(X + x * d, q, d));
    }
    check_reach(&s, X, cell, n, d, q, h, best, out, what);
    check_reach(&s, X, cell, n, d, q, h, INFINITY, out, what);
  }
  free(q);
done:
  bfcr_slabs_free(&s);
  free(off), free(cnt), free(cell), free(out), free(rows), free(d2);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  if (bfcr_ctx_create(MPI_COMM_WORLD, &ctx) != BFCR_OK) return 1;
  MT_CHECK(bfcr_slab_naxes(2, 8) == 1 && bfcr_slab_naxes(3, 8) == 2 && bfcr_slab_naxes(5, 8) == 3 &&
               bfcr_slab_naxes(8, 8) == 3 && bfcr_slab_naxes(32, 8) == 5 &&
               bfcr_slab_naxes(12288, 8) == 8 && bfcr_slab_naxes(4, 1) == 1 &&
               bfcr_slab_naxes(1, 3) == 1,
           "bfcr_slab_naxes");
  const int dims[3] = {1, 3, 8};
  for (int t = 0; t < 3; t++) {
    double *X = make_blobs(1500, dims[t], 11 + (uint64_t)t);
    run_case(ctx, X, 1500, dims[t],
             dims[t] == 1   ? "blobs d=1"
             : dims[t] == 3 ? "blobs d=3"
                            : "blobs d=8");
    free(X);
  }
  {
    int64_t ng;
    double *G = mt_grid(20, 2, 1, &ng, 5);
    run_case(ctx, G, ng, 2, "grid 20^2 doubled");
    free(G);
  }
  {
    double *X = make_blobs(6, 3, 3);
    run_case(ctx, X, 6, 3, "6 rows");
    free(X);
  }
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_slab_plan");
}
