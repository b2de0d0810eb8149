#ifndef BFCR_MODEL_H
#define BFCR_MODEL_H
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"
#include "bfcr/context.h"
#include "bfcr/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Rule that picks the level of the summary tree whose clusters get the models. */
typedef enum bfcr_criterion {
  BFCR_CRIT_HCI = 0, /* paper's hierarchical clustering index, maximised */
  BFCR_CRIT_CH = 1,  /* Calinski-Harabasz, maximised */
  BFCR_CRIT_DB = 2,  /* Davies-Bouldin with RMS scatter, minimised */
  BFCR_CRIT_BIC = 3, /* BIC of hard-assignment spherical Gaussians, minimised */
  BFCR_CRIT_GCV = 4  /* size-weighted GCV of the per-cluster ridge models, minimised */
} bfcr_criterion;

typedef enum bfcr_regressor {
  BFCR_REG_RIDGE = 0, /* ridge, lambda by GCV from the cluster summary */
  BFCR_REG_OLS = 1,   /* least squares by SVD (dgelsd), numerical rank recorded */
  BFCR_REG_KRR = 2,   /* Gaussian kernel ridge per piece of at most kernel_cap rows, width and
                         penalty by GCV on the piece's rows (docs/models.md) */
  BFCR_REG_SVR = 3    /* epsilon-SVR (RBF, libsvm) per piece, C, width and epsilon by a holdout
                         of the piece's rows */
} bfcr_regressor;

typedef enum bfcr_routing {
  BFCR_ROUTE_CENTROID = 0, /* nearest centroid of the chosen level (paper) */
  BFCR_ROUTE_SAMPLE = 1    /* cluster of the nearest training row (model keeps rows) */
} bfcr_routing;

typedef enum bfcr_small_policy {
  BFCR_SMALL_SHRINK = 0,  /* ridge shrunk toward the parent's model, lambda by GCV */
  BFCR_SMALL_ANCESTOR = 1, /* use the nearest ancestor holding >= min_cluster_size rows */
  BFCR_SMALL_AUTO = 2      /* ancestor, unless the level CV (select = cv, level = 0, ridge)
                              finds shrink better by one standard error (docs/accuracy.md);
                              the fitted model records the policy applied */
} bfcr_small_policy;

typedef enum bfcr_lambda_mode {
  BFCR_LAMBDA_LEVEL = 0,   /* one penalty per level, by the level's pooled GCV */
  BFCR_LAMBDA_CLUSTER = 1, /* one penalty per cluster, by the cluster's own GCV */
  BFCR_LAMBDA_FIXED = 2    /* the penalty given in bfcr_fit_params.lambda */
} bfcr_lambda_mode;

typedef enum bfcr_select {
  BFCR_SELECT_CV = 0,       /* K-fold cross-validation of every level (docs/accuracy.md) */
  BFCR_SELECT_CRITERION = 1 /* the criterion (bfcr_fit_params.criterion) alone */
} bfcr_select;

typedef struct bfcr_tree_params {
  int standardize;          /* z-score features before distances; default 1 */
  int max_levels;           /* stop after this many levels; default 64 */
  int nn_method;   /* nearest-neighbour search: 0 = auto (chosen by a probe of the data),
                      1 = kd-tree, 2 = GEMM tiles; same answers bit for bit, so the time only
                      changes (docs/knn.md); not stored in model files; default 0 */
} bfcr_tree_params;

typedef struct bfcr_fit_params {
  bfcr_tree_params tree;
  bfcr_criterion criterion; /* default BFCR_CRIT_BIC (chosen by validation, see README) */
  int level;                /* fixed level (1..L), 0 = pick by criterion, -1 = top (L: one
                               global model) */
  bfcr_regressor regressor; /* default BFCR_REG_RIDGE */
  bfcr_small_policy small;  /* default BFCR_SMALL_AUTO */
  int64_t min_cluster_size; /* clusters below this take their parent's model; 0 = automatic
                               (2 for small = shrink, d + 2 for small = ancestor) */
  bfcr_routing routing;     /* default BFCR_ROUTE_SAMPLE */
  bfcr_lambda_mode lambda_mode; /* default BFCR_LAMBDA_LEVEL */
  double lambda;            /* BFCR_LAMBDA_FIXED: the ridge penalty */
  double lambda_min;        /* ridge grid: absolute penalties on standardized features */
  double lambda_max;        /* (a penalty of 1 weighs like one extra observation) */
  int lambda_steps;
  double rcond;             /* OLS: singular values below rcond * s_max are dropped */
  uint64_t seed;            /* for any sampling; results are seeded, never random */
  int64_t kernel_cap;       /* KRR/SVR: most rows per kernel model; a larger cluster is SPLIT
                               into contiguous pieces. 0 = automatic (2000); unused (stored
                               as 0) for ridge and OLS */
  int all_metrics;          /* 1: every level metric; 0 (default): Davies-Bouldin (the
                               costly one) only when the level is chosen by db. Skipped
                               metrics are NaN with their bit in bfcr_level_info.skipped.
                               Not stored in the model file. */
  double guard_margin;      /* safe extrapolation: a prediction outside its cluster's training
                               target range widened by this fraction of the range on each side
                               is replaced by the global model's, clipped to that interval
                               (docs/accuracy.md); < 0 = off. Default 0.5 */
  bfcr_select select;       /* how the level is chosen when level = 0; default BFCR_SELECT_CV */
  int folds;                /* cross-validation folds (>= 2; fewer when n is smaller); default 5 */
  double shrink;            /* hierarchical shrinkage of each level's model toward its
                               ancestors' (docs/accuracy.md): < 0 = automatic (lambda and
                               level chosen by the cross-validation; hard routing unless a
                               shrunk candidate has a lower CV error; off without CV),
                               0 = off (hard routing), > 0 = this lambda. Default -1 */
  unsigned select_regressors; /* regressor candidates of the CV (select = cv, level = 0,
                               regressor = ridge): bit (1u << r) per bfcr_regressor r; ridge
                               is always a candidate, KRR is the only kernel candidate so far
                               (docs/accuracy.md). Default ridge | KRR; 0 = ridge only. Not
                               stored in the model file (the chosen regressor is). */
  double kernel_budget;     /* estimated seconds (one core) the kernel CV candidates may cost
                               (cv_kernel.c's cost model); levels over it are skipped and
                               reported; 0 = automatic (10), < 0 = no limit */
  int guard_space;          /* feature-space guard (with guard_margin >= 0, d <= 31): a row whose
                               leverage under its cluster's ridge model exceeds the largest of
                               the cluster's own training rows takes the guard's fallback too
                               (docs/accuracy.md). 1 = on, 0 = off. Default 0 */
} bfcr_fit_params;

BFCR_API void bfcr_tree_params_init(bfcr_tree_params *p);
BFCR_API void bfcr_fit_params_init(bfcr_fit_params *p);
BFCR_API const char *bfcr_criterion_name(bfcr_criterion c);
/* Parse "hci", "ch", "db", "bic", "gcv". Returns BFCR_ERR_ARG when unknown. */
BFCR_API bfcr_status bfcr_criterion_parse(const char *s, bfcr_criterion *c);

/* Quality of one level of the summary tree. Metrics that do not apply are NaN
 * (HCI and DB need >= 2 clusters, GCV needs a target). */
typedef struct bfcr_level_info {
  int level;                /* 0 = samples, L = a single node */
  int64_t clusters;
  int64_t min_size, max_size;
  double hci, ch, db, bic, gcv;
  double within_ss;         /* sum of squared distances to cluster centroids */
  unsigned skipped;         /* BFCR_METRIC_* bits: metrics left NaN because nothing read them
                               (bfcr_fit_params.all_metrics = 0), not because they do not
                               apply to the level */
} bfcr_level_info;
#define BFCR_METRIC_DB 1u

/* The hierarchical summary tree of a dataset (no regression). */
typedef struct bfcr_tree bfcr_tree;

/* Build all best-friend levels up to a single node. Collective. */
BFCR_API bfcr_status bfcr_tree_build(bfcr_ctx *ctx, const bfcr_data *data,
                                     const bfcr_tree_params *params, bfcr_tree **out);
BFCR_API void bfcr_tree_destroy(bfcr_tree **tree);
/* Number of levels including level 0 (samples). */
BFCR_API int bfcr_tree_num_levels(const bfcr_tree *tree);
BFCR_API bfcr_status bfcr_tree_level_info(const bfcr_tree *tree, int level, bfcr_level_info *info);
/* Cluster id (0..clusters-1, in dendrogram order) of each local row at level. Local. */
BFCR_API bfcr_status bfcr_tree_labels(const bfcr_tree *tree, int level, int64_t *labels);

/* Fit: build the tree, score every level, pick one, fit one model per cluster.
 * The model is identical on every rank and for any number of ranks and threads.
 * Collective. */
BFCR_API bfcr_status bfcr_fit(bfcr_ctx *ctx, const bfcr_data *train,
                              const bfcr_fit_params *params, bfcr_model **out);
BFCR_API void bfcr_model_destroy(bfcr_model **model);

/* Predict the local rows of data (encoded with the model's schema). Collective. */
BFCR_API bfcr_status bfcr_predict(bfcr_ctx *ctx, const bfcr_model *model,
                                  const bfcr_data *data, double *yhat_local);
/* The same predictions, with every cluster's model applied on its owner rank: rows are
 * sent to the owners with MPI_Alltoallv and the results come back in input order (the
 * path for models too large to replicate). Bit-identical to bfcr_predict. Collective. */
BFCR_API bfcr_status bfcr_predict_owned(bfcr_ctx *ctx, const bfcr_model *model,
                                        const bfcr_data *data, double *yhat_local);
/* bfcr_predict, and the number of rows (over all ranks) whose prediction the
 * safe-extrapolation guard replaced (bfcr_fit_params.guard_margin). Collective. */
BFCR_API bfcr_status bfcr_predict_guarded(bfcr_ctx *ctx, const bfcr_model *model,
                                          const bfcr_data *data, double *yhat_local,
                                          int64_t *guarded);
/* Cluster (at the chosen level) each local row is routed to. Collective. */
BFCR_API bfcr_status bfcr_model_assign(bfcr_ctx *ctx, const bfcr_model *model,
                                       const bfcr_data *data, int64_t *labels_local);

/* Write atomically (rank 0 writes; all ranks agree on the status). Collective. */
BFCR_API bfcr_status bfcr_model_save(bfcr_ctx *ctx, const bfcr_model *model, const char *path);
/* Read and validate (format, version, sizes, checksum). Collective. */
BFCR_API bfcr_status bfcr_model_load(bfcr_ctx *ctx, const char *path, bfcr_model **out);

BFCR_API const bfcr_schema *bfcr_model_schema(const bfcr_model *model);
BFCR_API int bfcr_model_num_levels(const bfcr_model *model);
BFCR_API bfcr_status bfcr_model_level_info(const bfcr_model *model, int level, bfcr_level_info *info);
BFCR_API int bfcr_model_chosen_level(const bfcr_model *model);
BFCR_API int64_t bfcr_model_clusters(const bfcr_model *model);
BFCR_API const bfcr_fit_params *bfcr_model_params(const bfcr_model *model);
/* In-sample scores computed by the fit: each training row predicted by its own cluster's
 * model (equal to predicting the training rows when routing = sample). Not Collective. */
BFCR_API void bfcr_model_train_scores(const bfcr_model *model, double *rmse, double *mae,
                                      double *r2);
/* Kernel regressors (KRR, SVR): number of kernel models (pieces) over all clusters; 0 for
 * linear regressors. Clusters below min_cluster_size rows have no piece and keep their
 * linear (ridge) model. Not Collective. */
BFCR_API int64_t bfcr_model_pieces(const bfcr_model *model);
/* Cross-validation table of the fit (select = cv). Returns the folds used (0 when the
 * level was not chosen by CV); for level 1..num_levels-1 the CV RMSE and its standard
 * error (NaN at level 0); best_level: the level of lowest CV RMSE (the chosen level is
 * the highest one within one standard error of it). Not Collective. */
BFCR_API int bfcr_model_cv(const bfcr_model *model, int level, double *rmse, double *se,
                           int *best_level);
/* Hierarchical shrinkage: the lambda applied (0 = hard routing) into *lambda, and the
 * number of lambda grid points of the CV table (0 when not computed). For grid point g <
 * that number and level 1..num_levels-1: the grid's lambda (g = 0 is 0, hard routing) and
 * the CV RMSE of that candidate. Not Collective. */
BFCR_API int bfcr_model_shrink(const bfcr_model *model, double *lambda, int g, int level,
                               double *grid_lambda, double *rmse);
/* The one-standard-error decision of the shrinkage CV, for the model returned by the fit
 * (not stored in the model file): for candidate (grid point g > 0, level below the top),
 * the mean paired per-row difference of squared errors against the hard-routing pick and
 * its standard error; the candidate could replace the pick only when dmse < -se. Returns
 * 1 when available (NaN for a (g, level) that was no candidate), else 0. Not Collective. */
BFCR_API int bfcr_model_shrink_diff(const bfcr_model *model, int g, int level, double *dmse,
                                    double *se);
/* Kernel ridge candidates of the CV (select_regressors with KRR): for level 1..num_levels-1
 * the state (0: not a candidate, 1: scored, 2: skipped, over the budget, 3: skipped, no
 * cluster large enough for a kernel model), the estimated cost in seconds, and for scored
 * levels the CV RMSE and the mean paired difference of squared errors against the ridge
 * pick with its standard error (the candidate replaces the pick only when dmse < -se).
 * Level 0: the cost paid once when any level is scored (rows, routing, ridge fold models).
 * Returns -1 when the fit had no kernel candidates (or the model was loaded from a file:
 * not stored). Not Collective. */
BFCR_API int bfcr_model_cv_kernel(const bfcr_model *model, int level, double *rmse, double *dmse,
                                  double *se, double *cost);

/* Small-cluster policy candidates of the CV (small = BFCR_SMALL_AUTO, ridge, level chosen by
 * the CV): for level 1..num_levels-1 the shrink policy's CV RMSE at that level (hard
 * routing), the mean paired difference of squared errors against the ancestor pick and its
 * standard error (the candidate replaces the pick only when dmse < -se), and the level's
 * penalty; NaN where not scored. Level 0: *rmse = the ancestor pick's CV RMSE. Returns -1
 * when not run (or the model was loaded from a file: not stored), -2 when skipped (over the
 * budget), -3 when a candidate passed but the honest check (a tree per fold) overturned it
 * (ancestor kept), else the level of the shrink candidate chosen (0: ancestor kept). Not
 * Collective. */
BFCR_API int bfcr_model_cv_small(const bfcr_model *model, int level, double *rmse, double *dmse,
                                 double *se, double *lambda);

/* Coefficients of cluster c in original (unstandardized) feature units: d weights
 * then the intercept, written to coef[0..d]. Also the cluster's training size,
 * the ridge lambda (0 for OLS) and the numerical rank. For KRR/SVR models these are the
 * cluster's ridge model, which predicts only for clusters without kernel pieces.
 * Not Collective. */
BFCR_API bfcr_status bfcr_model_cluster(const bfcr_model *model, int64_t c, double *coef,
                                        int64_t *size, double *lambda, int *rank);

#ifdef __cplusplus
}
#endif
#endif
