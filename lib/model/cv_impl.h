/* Pieces of the cross-validated level selection shared by the replicated path (cv.c)
 * and the distributed one (cv_dist.c): the fold hash, the per-node fold accumulators
 * and solves, the guarded fold prediction. */
#ifndef BFCR_MODEL_CV_IMPL_H
#define BFCR_MODEL_CV_IMPL_H

#include <math.h>
#include <stdint.h>

#include "model/fit_models.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Per node and fold: d weights, intercept, target min, max of the training part. */
#define CVW(d) ((int64_t)(d) + 3)

/* Doubles per fold accumulator: n, sz, sy, Szz, szy, ymin, ymax. */
static inline int64_t bfcr_cv_accw(int d) {
  return 1 + d + 1 + (int64_t)d * d + d + 2;
}

/* The fold key hash (splitmix64 finaliser). */
static inline uint64_t bfcr_cv_smix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct bfcr_kdtree;
/* Nearest training row outside each row's fold (cv.c): nn[i] for the n rows Z (row
 * order). bf: the rows' nearest rows when known (level 0's best friends), else NULL; kd0:
 * a kd-tree over Z to reuse, or NULL. Exact, ties to the smaller index. Local. */
bfcr_status bfcr_cv_route_rows(bfcr_ctx *ctx, const double *Z, int64_t n, int d, const int *fold,
                               const int64_t *bf, const struct bfcr_kdtree *kd0, int64_t *nn);

void bfcr_cv_acc_init(double *acc, int K, int d);
void bfcr_cv_acc_rows(const bfcr_tree *t, int l, int64_t c, int64_t p0, int64_t p1,
                      const int64_t *ord, int64_t base, const double *Z, const double *y,
                      const int *fold, double *acc);
void bfcr_cv_node_solve(const bfcr_tree *t, int l, int64_t c, int K, int64_t minsize, double lambda,
                        const double *par, int has_par, double *acc, double *out,
                        unsigned char *use_par, double *A, double *rhs);
/* The same with every fold's model shrunk toward the parent's fold model (par, required)
 * instead of 0 (the small-cluster shrink policy, cv_small.c); a fold whose training part is
 * under minsize, or whose system is not positive definite, takes the parent's model. */
void bfcr_cv_node_solve_toward(const bfcr_tree *t, int l, int64_t c, int K, int64_t minsize,
                               double lambda, const double *par, double *acc, double *out,
                               double *A, double *rhs);

/* Prediction of fold model o for row z, guarded as predict guards (guard.c) with the
 * fold's global model g when margin >= 0. */
static inline double bfcr_cv_fold_pred(const double *o, const double *g, const double *z, int d,
                                       double margin) {
  double s = o[d];
  for (int j = 0; j < d; j++) s += o[j] * z[j];
  if (margin < 0) return s;
  double lo = o[d + 1], hi = o[d + 2], pad = margin * (hi - lo);
  lo -= pad;
  hi += pad;
  if (isnan(s) || (s >= lo && s <= hi)) return s;
  double v = g[d];
  for (int j = 0; j < d; j++) v += g[j] * z[j];
  return v < lo ? lo : v > hi ? hi : v;
}

/* The distributed selection (cv_dist.c), called by bfcr_cv_select with several ranks
 * after its checks (K folds, 2 <= K <= n). Collective; status agreed. */
bfcr_status bfcr_cv_select_dist(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                                const bfcr_zsrc *zs, const double *y, int64_t n_local, int K,
                                const bfcr_fit_params *p, bfcr_model *m);

#endif
