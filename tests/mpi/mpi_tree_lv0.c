/* ranks: 1 2 3 4 */
/* Level 0 kept as own rows (tree.h lv0_local): with several ranks the built tree holds
 * level 0's best friends and components of this rank's rows only, equal to the
 * one-process tree's entries of those rows, and every level's labels equal the
 * one-process labels. Levels >= 1 built in chunks (levels_dist.c; with the replication
 * bound at 0, 1, 4 and 30 nodes as well as the default, so levels 1, 2, 3 ... are held in
 * turn): every level's start, parent, nchild and summaries (a held level's: those each
 * rank keeps, and all of them gathered) and every metric have the one-process bits, with
 * and without Davies-Bouldin and with max_levels stopping at levels 1-3. Layouts: even, uneven with
 * an empty first rank, all rows on the last rank, reversed uneven; clustered data, a grid with ties
 * everywhere, a doubled grid (zero distances), and tiny sets where level 1 has 1-3 nodes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "mpitest.h"
#include "tree/tree.h"

/* Levels >= 1 and the metrics against the one-process tree (collective: ns_all). */
static void check_levels(bfcr_ctx *world, const bfcr_tree *tw, const bfcr_tree *ts,
                         const char *name, int how) {
  const int P = bfcr_ctx_size(world);
  const int64_t w = bfcr_ns_width(ts->d);
  int held = 0;
  for (int l = 1; l < tw->nlevels; l++) {
    MT_CHECK(tw->lv[l].held == 0, "%s/%d: level %d still held in chunks", name, how, l);
    held += tw->lv[l].ns_hi > 0;
  }
  MT_CHECK(tw->dist_levels == (P > 1 ? 1 + held : 0), "%s/%d: %d distributed levels, %d held", name,
           how, tw->dist_levels, held);
  for (int l = 1; l < ts->nlevels && l < tw->nlevels; l++) {
    const bfcr_level *A = &tw->lv[l], *B = &ts->lv[l];
    const int64_t m = B->m;
    MT_CHECK(A->m == m, "%s/%d: level %d has %lld nodes, not %lld", name, how, l, (long long)A->m,
             (long long)m);
    if (A->m != m) continue;
    MT_CHECK(memcmp(A->start, B->start, sizeof(int64_t) * (size_t)(m + 1)) == 0,
             "%s/%d: start of level %d", name, how, l);
    MT_CHECK(memcmp(A->nchild, B->nchild, sizeof(int64_t) * (size_t)m) == 0,
             "%s/%d: nchild of level %d", name, how, l);
    if (l + 1 < ts->nlevels)
      MT_CHECK(memcmp(A->parent, B->parent, sizeof(int64_t) * (size_t)m) == 0,
               "%s/%d: parent of level %d", name, how, l);
    if (A->ns_hi > 0) {
      for (int64_t c = A->ns_lo; c < A->ns_hi && c < m; c++)
        MT_CHECK(memcmp(A->ns + (c - A->ns_lo) * w, B->ns + c * w, sizeof(double) * (size_t)w) == 0,
                 "%s/%d: kept summary %lld of level %d", name, how, (long long)c, l);
    } else {
      MT_CHECK(memcmp(A->ns, B->ns, sizeof(double) * (size_t)(m * w)) == 0,
               "%s/%d: summaries of level %d", name, how, l);
    }
    double *all = NULL;
    bfcr_status st = bfcr_tree_ns_all(world, tw, l, &all);
    MT_CHECK(st == BFCR_OK, "%s/%d: ns_all of level %d", name, how, l);
    if (all)
      MT_CHECK(memcmp(all, B->ns, sizeof(double) * (size_t)(m * w)) == 0,
               "%s/%d: gathered summaries of level %d", name, how, l);
    free(all);
  }
  for (int l = 0; l < ts->nlevels && l < tw->nlevels; l++)
    MT_CHECK(memcmp(&tw->info[l], &ts->info[l], sizeof ts->info[l]) == 0,
             "%s/%d: metrics of level %d", name, how, l);
}

/* With replication bound rep (nodes; 0 = the default), levels above it held in chunks: the
 * held levels are those of more than rep nodes with a level above them. */
static void check_rep(bfcr_ctx *world, bfcr_ctx *self, const char *name, const double *Z,
                      const double *y, int64_t n, int d, int how, int64_t rep) {
  const int P = bfcr_ctx_size(world), me = bfcr_ctx_rank(world);
  int64_t lo, hi;
  mt_block(n, P, me, how, &lo, &hi);
  for (int v = 0; v < 3; v++) {
    const int flags = v == 1 ? BFCR_TREE_SKIP_DB : 0, maxl = v == 2 ? 3 : 64;
    bfcr_zsrc zw = {Z + lo * d, NULL, NULL, NULL, d}, zz = {Z, NULL, NULL, NULL, d};
    bfcr_tree *aw = NULL, *as = NULL;
    bfcr_status s1 =
        bfcr_tree_build_src_rep(world, &zw, y + lo, hi - lo, lo, n, d, maxl, flags, rep, &aw);
    bfcr_status s2 = bfcr_tree_build_src_ex(self, &zz, y, n, 0, n, d, maxl, flags, &as);
    MT_CHECK(s1 == BFCR_OK && s2 == BFCR_OK, "%s/%d/rep%lld/v%d: build: %s", name, how,
             (long long)rep, v, bfcr_ctx_errmsg(world));
    if (s1 == BFCR_OK && s2 == BFCR_OK) {
      MT_CHECK(aw->nlevels == as->nlevels, "%s/%d/rep%lld/v%d: levels", name, how, (long long)rep,
               v);
      int expect = P > 1 ? 1 : 0; /* the levels that must have been held */
      for (int l = 1; P > 1 && l + 1 < as->nlevels; l++)
        expect += as->lv[l].m > 1 && as->lv[l].m > rep;
      MT_CHECK(aw->dist_levels == expect, "%s/%d/rep%lld/v%d: %d distributed levels, not %d", name,
               how, (long long)rep, v, aw->dist_levels, expect);
      if (aw->nlevels == as->nlevels) check_levels(world, aw, as, name, how);
    }
    bfcr_tree_destroy(&aw);
    bfcr_tree_destroy(&as);
  }
}

static void check(bfcr_ctx *world, bfcr_ctx *self, const char *name, const double *Z,
                  const double *y, int64_t n, int d, int how) {
  const int P = bfcr_ctx_size(world), me = bfcr_ctx_rank(world);
  int64_t lo, hi;
  mt_block(n, P, me, how, &lo, &hi);
  const int64_t reps[] = {1, 4, 30};
  for (int r = 0; r < 3; r++) check_rep(world, self, name, Z, y, n, d, how, reps[r]);
  /* Davies-Bouldin skipped and stops after levels 1-3, against the same one-process build. */
  for (int v = 0; v < 4; v++) {
    const int flags = v == 0 ? BFCR_TREE_SKIP_DB : 0, maxl = v == 0 ? 64 : v;
    bfcr_zsrc zw = {Z + lo * d, NULL, NULL, NULL, d}, zz = {Z, NULL, NULL, NULL, d};
    bfcr_tree *aw = NULL, *as = NULL;
    bfcr_status s1 =
        bfcr_tree_build_src_ex(world, &zw, y + lo, hi - lo, lo, n, d, maxl, flags, &aw);
    bfcr_status s2 = bfcr_tree_build_src_ex(self, &zz, y, n, 0, n, d, maxl, flags, &as);
    MT_CHECK(s1 == BFCR_OK && s2 == BFCR_OK, "%s/%d/v%d: build: %s", name, how, v,
             bfcr_ctx_errmsg(world));
    if (s1 == BFCR_OK && s2 == BFCR_OK) {
      MT_CHECK(aw->nlevels == as->nlevels, "%s/%d/v%d: levels", name, how, v);
      if (aw->nlevels == as->nlevels) check_levels(world, aw, as, name, how);
    }
    bfcr_tree_destroy(&aw);
    bfcr_tree_destroy(&as);
  }
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
    if (tw->nlevels == ts->nlevels) check_levels(world, tw, ts, name, how);
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
  mt_cube_rows(n, d, 0.0, &s, Z, y);
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
  /* A doubled grid: every row has a copy at distance 0 (mutual pairs, ties). */
  G = mt_grid(7, 2, 1, &ng, 5);
  yg = malloc(sizeof(double) * (size_t)ng);
  for (int64_t i = 0; i < ng; i++) yg[i] = G[2 * i] - G[2 * i + 1];
  for (int how = 0; how <= 3; how++) check(world, self, "grid2", G, yg, ng, 2, how);
  free(G);
  free(yg);
  /* Tiny sets: level 1 of one to a few nodes, ranks with no rows or no level-1 node. */
  for (int64_t nt = 2; nt <= 9; nt++) {
    double *T = malloc(sizeof(double) * (size_t)(nt * 2)),
           *yt = malloc(sizeof(double) * (size_t)nt);
    uint64_t q = 11 + (uint64_t)nt;
    for (int64_t i = 0; i < nt; i++) {
      T[2 * i] = (double)(i % 3) * 10.0 + mt_unif(&q);
      T[2 * i + 1] = mt_unif(&q);
      yt[i] = mt_gauss(&q);
    }
    for (int how = 0; how <= 3; how++) check(world, self, "tiny", T, yt, nt, 2, how);
    free(T);
    free(yt);
  }
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_tree_lv0");
}
