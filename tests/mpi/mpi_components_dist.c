/* ranks: 1 2 3 4 */
/* The distributed components of levels 0 and 1 (bfcr_components_dist) equal
 * bfcr_components on the gathered best-friend graph: the component of every own row, its
 * rank among the component's members (its level-1 position start[c] + rank), the second
 * half of each mutual pair, k and the replicated sizes and smallest members (sizes alone
 * on two layouts, as the tree asks). Graphs: exact nearest
 * neighbours of random rows and of heavily duplicated rows (ties), long chains both ways,
 * a star, random forests whose only cycles are mutual pairs, and sets of 1 .. P + 1 rows;
 * four block layouts (even, uneven, all on the last rank, reversed; empty blocks). A cycle
 * of three fails with BFCR_ERR_INTERNAL on every rank. */
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "mpitest.h"
#include "tree/components_dist.h"
#include "tree/tree.h"

/* Exact best friends of n random rows in d dimensions; levels > 0 repeat values (ties). */
static void nn_graph(int64_t n, int d, int levels, uint64_t seed, int64_t *bf) {
  double *X = malloc((size_t)(n * d) * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
  for (int64_t i = 0; i < n * d; i++)
    X[i] = levels > 0 ? (double)(mt_rng(&seed) % (uint64_t)levels) : mt_gauss(&seed);
  if (n == 1)
    bf[0] = 0;
  else
    bfcr_knn_allnn(X, n, d, 1, bf, d2);
  free(X);
  free(d2);
}

/* A random best-friend-like graph: items in a shuffled order; each one either starts a
 * mutual pair with the next or points to a random item placed before it. */
static void forest_graph(int64_t n, uint64_t seed, int64_t *bf) {
  int64_t *ord = malloc((size_t)n * sizeof(int64_t));
  for (int64_t i = 0; i < n; i++) ord[i] = i;
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(mt_rng(&seed) % (uint64_t)(i + 1)), t = ord[i];
    ord[i] = ord[j];
    ord[j] = t;
  }
  for (int64_t s = 0; s < n;) {
    if (s == 0 || (s + 1 < n && mt_rng(&seed) % 8 == 0)) {
      if (s + 1 < n) {
        bf[ord[s]] = ord[s + 1];
        bf[ord[s + 1]] = ord[s];
      } else {
        bf[ord[s]] = ord[s];
      }
      s += 2;
    } else {
      bf[ord[s]] = ord[mt_rng(&seed) % (uint64_t)s];
      s++;
    }
  }
  free(ord);
}

static void check_graph(bfcr_ctx *ctx, const char *name, const int64_t *bf, int64_t n) {
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  int64_t *comp = malloc((size_t)n * sizeof(int64_t)), *work = malloc((size_t)n * sizeof(int64_t));
  int64_t kref = bfcr_components(bf, n, comp, work);
  /* reference sizes, smallest members, ranks in components */
  int64_t *size = calloc((size_t)kref, sizeof(int64_t)), *minm = malloc((size_t)kref * 8);
  int64_t *rnk = malloc((size_t)n * sizeof(int64_t));
  for (int64_t g = 0; g < n; g++) {
    if (size[comp[g]] == 0) minm[comp[g]] = g;
    rnk[g] = size[comp[g]]++;
  }
  for (int how = 0; how < 4; how++) {
    int64_t lo, hi;
    mt_block(n, P, rank, how, &lo, &hi);
    int64_t nl = hi - lo, m1 = nl > 0 ? nl : 1, k = -1, *minidx = NULL, *nchild = NULL;
    int64_t *c = malloc((size_t)m1 * 8), *r = malloc((size_t)m1 * 8);
    unsigned char *sec = malloc((size_t)m1);
    /* layouts 1 and 3: sizes only (the tree's levels 1 and 2 need no smallest members) */
    const int with_min = how % 2 == 0;
    bfcr_status st = bfcr_components_dist(ctx, bf + lo, nl, lo, n, c, r, sec, &k,
                                          with_min ? &minidx : NULL, &nchild);
    MT_CHECK(st == BFCR_OK, "%s (n = %lld, layout %d): status %d", name, (long long)n, how,
             (int)st);
    if (st == BFCR_OK) {
      MT_CHECK(k == kref, "%s (n = %lld, layout %d): k = %lld, expected %lld", name, (long long)n,
               how, (long long)k, (long long)kref);
      int64_t bad = 0, first = -1;
      for (int64_t i = 0; i < nl; i++) {
        int64_t g = lo + i;
        int second = bf[bf[g]] == g && bf[g] < g;
        if (c[i] != comp[g] || r[i] != rnk[g] || sec[i] != second) {
          bad++;
          if (first < 0) first = g;
        }
      }
      MT_CHECK(
          bad == 0,
          "%s (n = %lld, layout %d): %lld rows differ, first %lld: comp %lld vs %lld, "
          "rank %lld vs %lld",
          name, (long long)n, how, (long long)bad, (long long)first,
          (long long)(first >= 0 ? c[first - lo] : 0), (long long)(first >= 0 ? comp[first] : 0),
          (long long)(first >= 0 ? r[first - lo] : 0), (long long)(first >= 0 ? rnk[first] : 0));
      bad = 0;
      for (int64_t j = 0; k == kref && j < k; j++)
        bad += (with_min && minidx[j] != minm[j]) || nchild[j] != size[j];
      MT_CHECK(bad == 0, "%s (n = %lld, layout %d): %lld node tables differ", name, (long long)n,
               how, (long long)bad);
    }
    free(minidx);
    free(nchild);
    free(c);
    free(r);
    free(sec);
  }
  free(comp);
  free(work);
  free(size);
  free(minm);
  free(rnk);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  const int P = bfcr_ctx_size(ctx);
  const int64_t nmax = 600;
  int64_t *bf = malloc((size_t)nmax * sizeof(int64_t));
  /* exact nearest neighbours: random rows, duplicated rows (ties), 1 .. P + 1 rows */
  static const int64_t sizes[] = {2, 37, 600};
  for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
    nn_graph(sizes[a], 2, 0, 11 + a, bf);
    check_graph(ctx, "random rows", bf, sizes[a]);
    nn_graph(sizes[a], 2, 3, 21 + a, bf);
    check_graph(ctx, "duplicated rows", bf, sizes[a]);
  }
  for (int64_t n = 1; n <= P + 1; n++) {
    nn_graph(n, 3, n % 2 ? 0 : 2, 31 + (uint64_t)n, bf);
    check_graph(ctx, "tiny", bf, n);
  }
  /* chains of depth n - 1: towards the end and towards the start */
  const int64_t n = 500;
  for (int64_t i = 0; i < n; i++) bf[i] = i + 1 < n ? i + 1 : n - 2;
  check_graph(ctx, "chain up", bf, n);
  for (int64_t i = 0; i < n; i++) bf[i] = i > 0 ? i - 1 : 1;
  check_graph(ctx, "chain down", bf, n);
  /* a star: every row's best friend is row 5 (whose own is row 0) */
  for (int64_t i = 0; i < n; i++) bf[i] = i == 5 ? 0 : 5;
  check_graph(ctx, "star", bf, n);
  for (uint64_t s = 0; s < 4; s++) {
    forest_graph(nmax, 41 + s, bf);
    check_graph(ctx, "forest", bf, nmax);
  }
  /* Not a best-friend graph: 0 -> 1 -> 2 -> 0; every rank must fail alike. */
  for (int64_t i = 0; i < 12; i++) bf[i] = i < 3 ? (i + 1) % 3 : 0;
  {
    const int rank = bfcr_ctx_rank(ctx);
    int64_t lo, hi, k = 0, *mi = NULL, *nc = NULL, c[12], r[12];
    unsigned char sec[12];
    mt_block(12, P, rank, 0, &lo, &hi);
    bfcr_status st = bfcr_components_dist(ctx, bf + lo, hi - lo, lo, 12, c, r, sec, &k, &mi, &nc);
    MT_CHECK(st == BFCR_ERR_INTERNAL, "3-cycle: status %d", (int)st);
    MT_CHECK(!mi && !nc, "3-cycle: tables returned");
    bfcr_ctx_clear_error(ctx);
  }
  free(bf);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_components_dist");
}
