/* Level 0 across ranks (filled in by the distributed engine). */
#include "core/ctx.h"
#include "tree/tree.h"

bfcr_status bfcr_level0_dist_bestfriends(bfcr_ctx *ctx, const double *Z, int64_t n_local,
                                         int64_t offset, int64_t n, int d, bfcr_level *lv0);
bfcr_status bfcr_level0_dist_nodes(bfcr_ctx *ctx, const double *Z, const double *y,
                                   int64_t n_local, int64_t offset, int64_t n, int d,
                                   const bfcr_level *lv0, int64_t k, bfcr_level *lv1);

bfcr_status bfcr_level0_dist_bestfriends(bfcr_ctx *ctx, const double *Z, int64_t n_local,
                                         int64_t offset, int64_t n, int d, bfcr_level *lv0) {
  (void)Z, (void)n_local, (void)offset, (void)n, (void)d, (void)lv0;
  return bfcr_err(ctx, BFCR_ERR_INTERNAL, "distributed level 0 not built yet");
}

bfcr_status bfcr_level0_dist_nodes(bfcr_ctx *ctx, const double *Z, const double *y,
                                   int64_t n_local, int64_t offset, int64_t n, int d,
                                   const bfcr_level *lv0, int64_t k, bfcr_level *lv1) {
  (void)Z, (void)y, (void)n_local, (void)offset, (void)n, (void)d, (void)lv0, (void)k, (void)lv1;
  return bfcr_err(ctx, BFCR_ERR_INTERNAL, "distributed level 0 not built yet");
}
