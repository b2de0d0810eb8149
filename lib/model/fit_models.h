/* Per-cluster regression on the levels of a summary tree. */
#ifndef BFCR_MODEL_FIT_MODELS_H
#define BFCR_MODEL_FIT_MODELS_H

#include "model/model_impl.h"
#include "model/standardize.h"
#include "regress/regress.h"
#include "tree/tree.h"

/* Nodes are pooled in fixed chunks (not per thread) so a level's totals are the same for
 * any thread or rank count (fit_models.c and the rows mode of fit_rows.c). */
#define BFCR_POOL_CHUNK 256

/* The level's penalty by pooled GCV, n RSS / (n - df)^2, from per-chunk sums
 * part[nchunks][2K] (RSS of the K penalties, then their df), summed over the chunks in
 * order; ties within 1e-12 go to the larger penalty (the later grid point). */
void bfcr_pooled_pick(const double *part, int64_t nchunks, int K, double n, const double *lam,
                      double *lambda, double *gcv);

typedef struct bfcr_level_fit {
  double *sum;        /* [nodes held * stride] regression summaries of nodes sum_lo.. */
  int64_t sum_lo;     /* first node held: 0 (all of them), or with several ranks the
                       * first node this rank owns (those starting in its chunk of
                       * the dendrogram order; fit_models.c) */
  int64_t sum_stride; /* 0: full summaries (bfcr_sum_len(d)); rows mode: d + 2, only
                       * count and means (fit_rows.h) */
  double *w;          /* [nodes held * d] effective standardized coefficients */
  int w_part;         /* 0: w holds all m nodes; 1 (several ranks, until
                       * bfcr_level_fit_share): only the nodes [w_lo, w_hi) this rank
                       * owns (the models: see cm_part) */
  int64_t w_lo, w_hi;
  bfcr_cluster_model *cm; /* effective models of nodes [cm_lo, cm_hi): all m (cm_part 0),
                           * or with several ranks (cm_part 1) the nodes this rank owns: a
                           * level above the replication bound as fitted (first position in
                           * the rank's chunk), and from the distributed CV on (fit.c) the
                           * levels below the chosen one (the CV's owners, last position) */
  int cm_part;
  int64_t cm_lo, cm_hi;
} bfcr_level_fit;

/* Fit the models of every node on levels lo..top, top-down: ridge shrunk toward the
 * parent's model (small = shrink) or plain ridge with small clusters taking their
 * parent's model (small = ancestor), or OLS. Also the size-weighted GCV of each fitted
 * level into t->info[l].gcv. zs gives the local rows (global order; one rank needs the
 * stored Z), y their targets.
 * p has min_cluster_size resolved. Collective. */
bfcr_status bfcr_fit_levels(bfcr_ctx *ctx, bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                            const bfcr_fit_params *p, int lo, bfcr_level_fit *lf);
/* The same with the replication bound given in nodes (rep_max <= 0: bfcr_tree_rep_max(d),
 * the tree build's): with several ranks the models of a level of more nodes stay with
 * their owners (cm_part). For tests, which hold small levels with a tiny bound. */
bfcr_status bfcr_fit_levels_rep(bfcr_ctx *ctx, bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                                const bfcr_fit_params *p, int lo, int64_t rep_max,
                                bfcr_level_fit *lf);
/* Mean of the features of node i (its centroid in standardized units); i must be held. */
static inline const double *bfcr_level_fit_mean(const bfcr_level_fit *lf, int d, int64_t i) {
  return lf->sum + (i - lf->sum_lo) * (lf->sum_stride ? lf->sum_stride : bfcr_sum_len(d)) + 1;
}
/* Coefficients of node i (it must be held: see w_part). */
static inline double *bfcr_level_fit_w(const bfcr_level_fit *lf, int d, int64_t i) {
  return lf->w + (i - (lf->w_part ? lf->w_lo : 0)) * d;
}
/* Several ranks: replicate the coefficients of levels from..top on every rank (the saved
 * model, the shrinkage and the guard read them; the CV reads only cm). A no-op for
 * levels already whole. Collective; the status is agreed. */
bfcr_status bfcr_level_fit_share(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_level_fit *lf, int from);
/* Several ranks: the models of nodes [a, b) of a level held in owned runs (cm_part; the
 * runs of all ranks tile the level in rank order) into *out (malloc'd, b - a records),
 * fetched from their owners in one batched exchange, in node order. Collective; opens
 * with a status agreement; the status is agreed. */
bfcr_status bfcr_level_fit_cm_fetch(bfcr_ctx *ctx, const bfcr_level_fit *lf, int64_t a, int64_t b,
                                    bfcr_cluster_model **out);
void bfcr_level_fit_free(bfcr_level_fit *lf, int nlevels);

#endif
