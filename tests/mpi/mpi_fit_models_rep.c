/* ranks: 1 2 3 4 */
/* Distributed models (fit_models.c): with several ranks the models of a level above the
 * replication bound stay with their owners (cm_part) and the next level down fetches its
 * parents' from them; with the bound at 1, 4 and 30 nodes as well as the default, levels
 * 1, 2, 3 ... are held in turn. Every node's model record and coefficients (those each
 * rank holds, and every node's fetched from the owners by bfcr_level_fit_cm_fetch) and
 * every level's GCV have the one-process bits, for ridge with one penalty per level,
 * per cluster (the level GCV summed by the chain), a fixed penalty with shrinkage toward
 * the parent, and OLS. Layouts: even, uneven with an empty first rank, all rows on the last
 * rank. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"
#include "model/fit_models.h"
#include "mpitest.h"
#include "tree/tree.h"

static void check_fit(bfcr_ctx *world, bfcr_ctx *self, const double *Z, const double *y, int64_t n,
                      int d, int how, int64_t rep, const bfcr_fit_params *p, int v) {
  const int P = bfcr_ctx_size(world), me = bfcr_ctx_rank(world);
  int64_t lo, hi;
  mt_block(n, P, me, how, &lo, &hi);
  bfcr_zsrc zw = {Z + lo * d, NULL, NULL, NULL, d}, zz = {Z, NULL, NULL, NULL, d};
  bfcr_tree *tw = NULL, *ts = NULL;
  bfcr_status s1 = bfcr_tree_build_src_rep(world, &zw, y + lo, hi - lo, lo, n, d, 64, 0, rep, &tw);
  bfcr_status s2 = bfcr_tree_build_src_ex(self, &zz, y, n, 0, n, d, 64, 0, &ts);
  MT_CHECK(s1 == BFCR_OK && s2 == BFCR_OK, "%d/rep%lld/v%d: build", how, (long long)rep, v);
  if (s1 != BFCR_OK || s2 != BFCR_OK) goto done;
  const int L = ts->nlevels;
  MT_CHECK(tw->nlevels == L, "%d/rep%lld/v%d: levels", how, (long long)rep, v);
  if (tw->nlevels != L) goto done;
  bfcr_level_fit *fw = calloc((size_t)L, sizeof *fw), *fs = calloc((size_t)L, sizeof *fs);
  const int lo_l = L > 1 ? 1 : 0;
  s1 = bfcr_fit_levels_rep(world, tw, &zw, y + lo, p, lo_l, rep, fw);
  s2 = bfcr_fit_levels(self, ts, &zz, y, p, lo_l, fs);
  MT_CHECK(s1 == BFCR_OK && s2 == BFCR_OK, "%d/rep%lld/v%d: fit: %s", how, (long long)rep, v,
           bfcr_ctx_errmsg(world));
  const int64_t bound = rep > 0 ? rep : bfcr_tree_rep_max(d);
  for (int l = lo_l; s1 == BFCR_OK && s2 == BFCR_OK && l < L; l++) {
    const int64_t m = ts->lv[l].m;
    const bfcr_level_fit *A = &fw[l], *B = &fs[l];
    MT_CHECK(A->cm_part == (P > 1 && m > bound), "%d/rep%lld/v%d: level %d (%lld nodes) part %d",
             how, (long long)rep, v, l, (long long)m, A->cm_part);
    MT_CHECK(A->cm_part || (A->cm_lo == 0 && A->cm_hi == m), "%d/rep%lld/v%d: level %d whole", how,
             (long long)rep, v, l);
    for (int64_t c = A->cm_lo; c < A->cm_hi; c++)
      MT_CHECK(memcmp(&A->cm[c - A->cm_lo], &B->cm[c], sizeof B->cm[c]) == 0,
               "%d/rep%lld/v%d: model of node %lld of level %d", how, (long long)rep, v,
               (long long)c, l);
    for (int64_t c = A->w_part ? A->w_lo : 0; c < (A->w_part ? A->w_hi : m); c++)
      MT_CHECK(memcmp(bfcr_level_fit_w(A, d, c), B->w + c * d, sizeof(double) * (size_t)d) == 0,
               "%d/rep%lld/v%d: coefficients of node %lld of level %d", how, (long long)rep, v,
               (long long)c, l);
    MT_CHECK(memcmp(&tw->info[l].gcv, &ts->info[l].gcv, sizeof(double)) == 0,
             "%d/rep%lld/v%d: GCV of level %d", how, (long long)rep, v, l);
    if (A->cm_part) { /* every node's record from its owner, and a slice */
      bfcr_cluster_model *all = NULL, *mid = NULL;
      const int64_t a = m / 3, b = m - m / 4;
      MT_CHECK(bfcr_level_fit_cm_fetch(world, A, 0, m, &all) == BFCR_OK, "%d: fetch", how);
      MT_CHECK(bfcr_level_fit_cm_fetch(world, A, a, b, &mid) == BFCR_OK, "%d: fetch", how);
      if (all) MT_CHECK(memcmp(all, B->cm, sizeof *all * (size_t)m) == 0, "%d: fetched all", how);
      if (mid)
        MT_CHECK(memcmp(mid, B->cm + a, sizeof *mid * (size_t)(b - a)) == 0,
                 "%d: fetched [%lld, %lld)", how, (long long)a, (long long)b);
      free(all);
      free(mid);
    }
  }
  bfcr_level_fit_free(fw, L);
  bfcr_level_fit_free(fs, L);
  free(fw);
  free(fs);
done:
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
  mt_cube_rows(n, d, 1.0, &s, Z, y);
  const int64_t reps[] = {1, 4, 30, 0};
  for (int v = 0; v < 4; v++) {
    bfcr_fit_params p;
    bfcr_fit_params_init(&p);
    p.select = BFCR_SELECT_CRITERION; /* no rows kept for a CV */
    if (v == 1) p.lambda_mode = BFCR_LAMBDA_CLUSTER;
    if (v == 2) {
      p.lambda_mode = BFCR_LAMBDA_FIXED;
      p.small = BFCR_SMALL_SHRINK;
    }
    if (v == 3) p.regressor = BFCR_REG_OLS;
    p.min_cluster_size = p.small == BFCR_SMALL_SHRINK ? 2 : d + 2;
    for (int how = 0; how <= 2; how++)
      for (int r = 0; r < 4; r++) check_fit(world, self, Z, y, n, d, how, reps[r], &p, v);
  }
  free(Z);
  free(y);
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_fit_models_rep");
}
