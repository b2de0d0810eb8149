/* ranks: 1 2 3 4 */
/* Level 0 kept as own rows (tree.h lv0_local): with several ranks the built tree holds
 * level 0's best friends and components of this rank's rows only, equal to the
 * one-process tree's entries of those rows, and every level's labels equal the
 * one-process labels. Layouts: even, uneven with an empty first rank, all rows on the
 * last rank; clustered data and a grid with ties everywhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "mpitest.h"
#include "tree/tree.h"

static void check(bfcr_ctx *world, bfcr_ctx *self, const char *name, const double *Z,
                  const double *y, int64_t n, int d, int how) {
  const int P = bfcr_ctx_size(world), me = bfcr_ctx_rank(world);
  int64_t lo, hi;
  mt_block(n, P, me, how, &lo, &hi);
  bfcr_tree *tw = NULL, *ts = NULL;
  bfcr_status st = bfcr_tree_build_z(world, Z + lo * d, y + lo, hi - lo, lo, n, d, 64, &tw);
  MT_CHECK(st == BFCR_OK, "%s/%d: build: %s", name, how, bfcr_ctx_errmsg(world));
  bfcr_status st2 = bfcr_tree_build_z(self, Z, y, n, 0, n, d, 64, &ts);
  MT_CHECK(st2 == BFCR_OK, "%s/%d: self build", name, how);
  if (st == BFCR_OK && st2 == BFCR_OK) {
    MT_CHECK(tw->lv0_local == (P > 1), "%s/%d: lv0_local %d at %d ranks", name, how, tw->lv0_local,
             P);
    MT_CHECK(ts->lv0_local == 0, "%s/%d: one process keeps all rows", name, how);
    const int64_t base = tw->lv0_local ? 0 : lo;
    for (int64_t i = 0; i < hi - lo; i++) {
      MT_CHECK(tw->lv[0].bf[base + i] == ts->lv[0].bf[lo + i], "%s/%d: bf of row %lld", name, how,
               (long long)(lo + i));
      MT_CHECK(tw->lv[0].parent[base + i] == ts->lv[0].parent[lo + i],
               "%s/%d: component of row %lld", name, how, (long long)(lo + i));
    }
    MT_CHECK(tw->nlevels == ts->nlevels, "%s/%d: levels", name, how);
    int64_t *lw = malloc(sizeof(int64_t) * (size_t)(hi - lo + 1)),
            *ls = malloc(sizeof(int64_t) * (size_t)(n + 1));
    for (int l = 0; l < tw->nlevels && l < ts->nlevels; l++) {
      bfcr_tree_labels(tw, l, lw);
      bfcr_tree_labels(ts, l, ls);
      MT_CHECK(memcmp(lw, ls + lo, sizeof(int64_t) * (size_t)(hi - lo)) == 0,
               "%s/%d: labels of level %d", name, how, l);
    }
    free(lw);
    free(ls);
  }
  bfcr_tree_destroy(&tw);
  bfcr_tree_destroy(&ts);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *world = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &world);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  /* Clustered rows: 8 centres in 3-D, 1500 rows. */
  const int d = 3;
  const int64_t n = 1500;
  double *Z = malloc(sizeof(double) * (size_t)(n * d)), *y = malloc(sizeof(double) * (size_t)n);
  uint64_t s = 7;
  for (int64_t i = 0; i < n; i++) {
    int c = (int)(mt_rng(&s) % 8);
    for (int j = 0; j < d; j++) Z[i * d + j] = 4.0 * ((c >> j) & 1) + mt_gauss(&s);
    y[i] = Z[i * d] - Z[i * d + 1] + 0.1 * mt_gauss(&s);
  }
  for (int how = 0; how <= 2; how++) check(world, self, "clusters", Z, y, n, d, how);
  free(Z);
  free(y);
  /* A grid: equal distances everywhere (ties to the smaller index). */
  int64_t ng = 0;
  double *G = mt_grid(9, 2, 1, &ng, 3);
  double *yg = malloc(sizeof(double) * (size_t)ng);
  for (int64_t i = 0; i < ng; i++) yg[i] = G[2 * i] + 0.5 * G[2 * i + 1];
  for (int how = 0; how <= 1; how++) check(world, self, "grid", G, yg, ng, 2, how);
  free(G);
  free(yg);
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_tree_lv0");
}
