/* Internal layout of a fitted model: everything predict needs, and everything the
 * model file stores (lib/io/model_file.c serializes exactly these fields). */
#ifndef BFCR_MODEL_IMPL_H
#define BFCR_MODEL_IMPL_H

#include <stdatomic.h>
#include <stdint.h>
#include "core/ctx.h"
#include "io/schema.h"

/* Flags of a cluster model. */
enum {
  BFCR_CM_FALLBACK = 1, /* too small: the model of an ancestor is used (small=ancestor) */
  BFCR_CM_RANKDEF = 2   /* OLS: numerical rank < d */
};

/* Routing search structure, built by the first predict and kept (route_cache.c). */
typedef struct bfcr_route_cache bfcr_route_cache;

typedef struct bfcr_cluster_model {
  int64_t size;      /* training rows in the cluster */
  double intercept;  /* y = intercept + sum_j w[j] * z[j], z = standardized features */
  double lambda;     /* ridge penalty (absolute, scatter units); 0 for OLS */
  double gcv;        /* GCV score of the chosen lambda (NaN for OLS) */
  int32_t rank;      /* numerical rank (OLS) or d (ridge) */
  int32_t flags;     /* BFCR_CM_* */
  int32_t src_level; /* level of the node whose model is used (== chosen level unless fallback) */
  int32_t pad;
  int64_t src_node; /* index of that node within its level */
} bfcr_cluster_model;

/* One kernel model (regressor KRR or SVR): a contiguous piece of a cluster's training rows
 * in dendrogram order (SPLIT, lib/model/fit_kernel.c). Fitted on the standardized rows z
 * and the standardized target; in target units the prediction is
 * ky_mean + ky_scale * f(z), with
 *   KRR: f(z) = mean_y + sum_i coef_i exp(-|z - center - row_i|^2 / (2 width^2))
 *        (rows stored minus the piece's center, as bfcr_krr_model keeps them; sd_y = 1)
 *   SVR: f(z) = mean_y + sd_y (sum_i coef_i exp(-width |z - row_i|^2) - bias)
 *        (rows are the support vectors, uncentred; libsvm's order of operations). */
typedef struct bfcr_kernel_piece {
  int64_t cluster; /* cluster of the chosen level (pieces are sorted by cluster, then first) */
  int64_t first;   /* first training row, as a position in dendrogram order */
  int64_t n;       /* training rows of the piece */
  int64_t m;       /* rows stored at krows + off * d: n (KRR) or support vectors (SVR) */
  int64_t off;     /* derived: sum of m over the earlier pieces (not stored in the file) */
  double width;    /* KRR: h; SVR: gamma */
  double penalty;  /* KRR: lambda; SVR: C */
  double epsilon;  /* SVR: tube half-width (standardized piece target); KRR: 0 */
  double bias;     /* SVR: rho; KRR: 0 */
  double score;    /* KRR: GCV; SVR: holdout RMSE (NaN without search); standardized target */
  double mean_y, sd_y;
} bfcr_kernel_piece;

struct bfcr_model {
  bfcr_fit_params params; /* as used, with automatic values resolved */
  bfcr_schema *schema;
  int d;
  double *mean, *scale;    /* [d] standardization: z = (x - mean) / scale */
  int nlevels;             /* levels including 0 (samples) */
  bfcr_level_info *levels; /* [nlevels] */
  int chosen;              /* chosen level */
  int64_t k;               /* clusters at the chosen level */
  double *centroids;       /* [k * d] standardized (cent_sharded: below) */
  bfcr_cluster_model *cm;  /* [k] */
  double *w;               /* [k * d] standardized coefficients */
  int64_t n_train;         /* routing = sample: training rows kept (all ranks together) */
  int train_sharded;       /* 1: this rank holds only rows [train_lo, train_lo + train_nloc)
                            * of the n_train kept rows (route_shard.h: a linear model
                            * fitted or loaded on several ranks); 0: all of them */
  int64_t train_lo, train_nloc;
  double *train_z;      /* [rows held * d] standardized training rows, or NULL */
  int64_t *train_label; /* [rows held] cluster of each kept row, or NULL */
  double train_rmse;    /* in-sample scores: every training row predicted by the model */
  double train_mae;     /* of its own cluster (what predict gives on the training rows */
  double train_r2;      /* when routing = sample) */
  /* Kernel regressors only (all zero / NULL otherwise). Clusters with fewer than
   * min_cluster_size rows (and k > 1) have no piece: their linear model above applies. */
  int64_t npieces;
  bfcr_kernel_piece *kp;    /* [npieces] */
  double *kcenter;          /* [npieces * d] mean of each piece's standardized rows */
  int64_t nkrows;           /* sum of kp[].m */
  double *krows;            /* [nkrows * d] */
  double *kcoef;            /* [nkrows] */
  int64_t *train_piece;     /* [n_train] piece of each kept training row (-1: linear), or NULL */
  double ky_mean, ky_scale; /* target standardization of the kernel models (ky_scale > 0) */
  /* Not part of the model's content (never saved): the routing kd-tree, NULL until the
   * first predict (calloc'd models start empty). */
  _Atomic(bfcr_route_cache *) route;
  /* Safe extrapolation (guard.c; file section GARD), all NULL / 0 when off. */
  double *guard_range;      /* [2k] training target range (min, max) of each cluster's model */
  double *guard_w;          /* [d] global (top level) model, standardized weights */
  double guard_b;           /* its intercept */
  double guard_margin;      /* accepted: range widened by margin x its width on each side */
  /* Feature-space guard (guard.c; file section GLEV), NULL / 0 when off: per cluster, the
   * mean mu [d], the Cholesky factor L of S + lambda I packed by rows [d (d + 1) / 2] (S the
   * centred scatter of its model's rows, lambda its ridge penalty) and the largest
   * leverage h = |L^-1 (z - mu)|^2 of those rows; bfcr_guard_lev_width(d) doubles each. */
  double *guard_lev; /* [k * bfcr_guard_lev_width(d)] */
  /* Level choice by cross-validation (cv.c; file section CVTB), NULL / 0 when not used. */
  int cv_folds, cv_best;    /* folds used; level of lowest CV RMSE */
  double *cv_rmse, *cv_se;  /* [nlevels] CV RMSE and its standard error (NaN at level 0) */
  /* Hierarchical shrinkage along the routed path (shrink.c, cv_shrink.c; file section
   * SHRK): the lambda applied (0: hard routing; m->w already holds the shrunk models) and
   * the CV table of the candidates, NULL / 0 when not computed. */
  double shrink_lambda;
  int shrink_ng;            /* grid points, the first is 0 (hard routing) */
  double *shrink_grid;      /* [shrink_ng] */
  double *shrink_rmse;      /* [shrink_ng * nlevels] CV RMSE of (lambda g, level l) at
                             * g * nlevels + l (NaN at level 0) */
  /* The one-SE decision of the fit (cv_shrink.c; not in the file, NULL when loaded): mean
   * paired difference of squared errors against the pick and its standard error, same
   * layout, NaN where (g, l) was no candidate. */
  double *shrink_dmse, *shrink_dse;
  /* Kernel ridge candidates of the CV (cv_kernel.c; not in the file, NULL when loaded):
   * [nlevels] state (bfcr_model_cv_kernel), estimated cost (s), CV RMSE, mean paired
   * difference against the ridge pick and its SE. */
  unsigned char *kcv_state;
  double *kcv_cost, *kcv_rmse, *kcv_dmse, *kcv_dse;
  double kcv_budget; /* the budget applied (s; < 0: none) */
  /* Honest check of the ridge pick against the global model (cv_honest.c; not in the
   * file): state 0 not run, 1 pick kept, 2 replaced by the global model; the pick checked
   * (level, shrinkage lambda), the mean paired difference of squared errors (pick - global)
   * over the rows and its standard error. */
  int hcv_state, hcv_level;
  double hcv_lambda, hcv_dmse, hcv_dse;
  /* 1: centroids holds only clusters [cent_lo, cent_lo + cent_nloc) (a linear model routed
   * by training rows, fitted on several ranks: only the file reads them, and the ranks tile
   * 0..k in rank order; model_file.c writes them in order); 0: all k. */
  int cent_sharded;
  int64_t cent_lo, cent_nloc;
  /* Small-cluster policy candidates (cv_small.c; not in the file): state 0 not run, 1
   * scored, 2 skipped (over the budget), 3 the shrink pick overturned by the honest check
   * (cv_honest.c: the ancestor pick kept); the shrink level chosen (0: ancestor kept), the
   * ancestor pick's CV RMSE, and per level [nlevels] the shrink candidate's CV RMSE, mean
   * paired difference against the pick and its SE, and the level's penalty. */
  int scv_state, scv_pick;
  double scv_pick_rmse;
  double *scv_rmse, *scv_dmse, *scv_dse, *scv_lambda;
};

static inline int bfcr_is_kernel_regressor(int r) {
  return r == BFCR_REG_KRR || r == BFCR_REG_SVR;
}

void bfcr_model_free(bfcr_model *m);

#endif
