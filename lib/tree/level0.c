/* Level 0 on one rank: the exact all-points search of lib/knn over the rows. Several
 * ranks: level0_dist.c (bfcr_tree_build_src chooses). */
#include <math.h>
#include <stdlib.h>

#include "knn/knn.h"
#include "tree/level0.h"
#include "tree/nodes.h"

bfcr_status bfcr_level0_bestfriends(bfcr_ctx *ctx, const double *Z, int64_t n, int d,
                                    bfcr_level *lv0, bfcr_kdtree **keep) {
  bfcr_status st = BFCR_OK;
  if (keep) *keep = NULL;
  BFCR_ALLOC(ctx, lv0->bf, n);
  BFCR_ALLOC(ctx, lv0->bfdist, n);
  if (n == 1) {
    lv0->bf[0] = 0;
    lv0->bfdist[0] = 0.0;
    goto cleanup;
  }
  bfcr_knn_choice ch;
  st = bfcr_knn_allnn_m(Z, n, d, ctx->nthreads, (bfcr_nn_method)ctx->nn_method, &ch, keep, lv0->bf,
                        lv0->bfdist);
  if (st == BFCR_OK) {
    char line[160];
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, "level 0", line);
  }
  if (st != BFCR_OK) {
    bfcr_err(ctx, st, "nearest-neighbour search failed at level 0");
    if (keep) {
      bfcr_kdtree_free(*keep);
      *keep = NULL;
    }
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) lv0->bfdist[i] = sqrt(lv0->bfdist[i]);
cleanup:
  return st;
}

bfcr_status bfcr_level0_nodes(bfcr_ctx *ctx, const double *Z, const double *y, int d,
                              const bfcr_level *lv0, int64_t k, bfcr_level *lv1) {
  bfcr_item_view v = {d, Z, y, NULL, lv0->bf, lv0->bfdist, NULL};
  return bfcr_make_nodes(ctx, &v, lv0, NULL, k, lv1);
}
