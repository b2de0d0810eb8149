/* Epsilon-support vector regression (SVR) with an RBF kernel on the rows of one cluster,
 * through libsvm (svm_train / svm_predict): the paper's third model family (DESIGN.md
 * section 1). C, gamma and epsilon are chosen on a deterministic holdout of the
 * cluster's own rows; then the model is refitted on all of them.
 *
 * libsvm facts that matter here (libsvm 3.24, Debian libsvm-dev):
 * - svm_train, svm_predict are deterministic for a given input. libsvm calls rand()
 *   (process-global state) only in svm_cross_validation and for probability estimates;
 *   neither is used, so results never depend on the C library's RNG.
 * - Its progress output goes through one process-wide hook. Every fit installs a silent
 *   one (svm_set_print_string_function), the only way to keep libsvm from writing to
 *   stdout; libsvm has no getter, so a program that wants libsvm's messages must set its
 *   own hook again after calling bfcr. Fits may run in parallel threads (they install the
 *   same function).
 * - libsvm's training allocates without checking (its own malloc/new); an allocation
 *   failure inside it is not reported as BFCR_ERR_NOMEM. Memory is O(n d) plus a kernel
 *   cache of cache_mb megabytes.
 *
 * Not Collective: single-process, no threads of its own. */
#ifndef BFCR_REGRESS_SVR_H
#define BFCR_REGRESS_SVR_H

#include <stdint.h>
#include "bfcr/status.h"

struct svm_model;
struct svm_node;

typedef struct bfcr_svr_params {
  double C_min, C_max; /* cost grid, for y standardized within the cluster; default 0.1 .. 100 */
  int C_steps;         /* log-spaced, >= 1; default 4 (decades) */
  double h_min, h_max; /* RBF width grid relative to the median pairwise distance,
                          gamma = 1 / (2 h^2); default 0.5 .. 2 */
  int h_steps;         /* log-spaced, >= 1; default 3 */
  double eps_min, eps_max;  /* tube half-width grid, standardized y units; default 0.02 .. 0.2 */
  int eps_steps;            /* log-spaced, >= 1; default 2 */
  double C, gamma, epsilon; /* C > 0, gamma > 0 and epsilon >= 0: fixed, no search;
                               default 0, 0, -1 (search) */
  int holdout_stride;       /* row i is in the holdout iff i % stride == stride - 1 (rows
                               are in dendrogram order, so the holdout covers the cluster
                               evenly); default 5 */
  int64_t min_search_rows;  /* fewer rows: no search, the grids' middle points; default 20 */
  int64_t max_rows;         /* SPLIT cap (see krr.h bfcr_split_*); bfcr_svr_fit rejects
                               n > max_rows; default 2000 */
  double tol;               /* libsvm stopping tolerance; default 1e-3 (libsvm's) */
  double cache_mb;          /* libsvm kernel cache; default 64 */
} bfcr_svr_params;

/* Fill with the defaults (the only place they are defined). */
void bfcr_svr_params_init(bfcr_svr_params *p);

typedef struct bfcr_svr_model {
  int64_t n;
  int d;
  double C, gamma, epsilon; /* chosen (or given); C and epsilon in standardized-y units */
  double h_ref;             /* median pairwise distance of the rows */
  double val_rmse;          /* holdout RMSE of the chosen setting, y units (NaN: no search) */
  double mean_y, sd_y;      /* y standardization; sd_y = 0: constant model mean_y */
  int64_t nsv;              /* support vectors */
  struct svm_model *svm;    /* NULL for a constant model */
  struct svm_node *nodes;   /* training rows as libsvm nodes: the model's support vectors
                               point into them */
} bfcr_svr_model;

/* Fit on n rows of X (row-major, stride ldx >= d) and y. Search (unless p->C, p->gamma
 * and p->epsilon are all given): every (C, h, epsilon) of the grids, in order C
 * ascending, h descending, epsilon descending, is trained on the non-holdout rows and
 * scored by RMSE on the holdout; a setting replaces the incumbent only when its RMSE is
 * lower by a relative 1e-10 (ties keep the simpler model). n < min_search_rows skips the
 * search. Constant y (sd 0) or n = 1 gives the constant model.
 * Errors: BFCR_ERR_ARG (NULL pointers, n < 1, d < 1, ldx < d, n > max_rows, bad grid or
 * a parameter libsvm rejects), BFCR_ERR_NUMERIC (non-finite input or prediction),
 * BFCR_ERR_NOMEM. On error *out is left empty. */
bfcr_status bfcr_svr_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         const bfcr_svr_params *p, bfcr_svr_model *out);

/* yhat[i] for m query rows of Q (stride ldq >= d). Each prediction depends only on its
 * own row. Errors: BFCR_ERR_ARG, BFCR_ERR_NUMERIC (non-finite query), BFCR_ERR_NOMEM. */
bfcr_status bfcr_svr_predict(const bfcr_svr_model *model, const double *Q, int64_t ldq, int64_t m,
                             double *yhat);

/* The fitted function as plain arrays (for storage without libsvm):
 *   f(x) = mean_y + sd_y (sum_i coef[i] exp(-gamma |x - sv_i|^2) - rho)
 * with the model->nsv support vectors in libsvm's order: sv [nsv * d] row-major, coef
 * [nsv]. The constant model has nsv = 0 and rho = 0. Errors: BFCR_ERR_ARG. */
bfcr_status bfcr_svr_export(const bfcr_svr_model *model, double *sv, double *coef, double *rho);

/* f(x) from the plain arrays of bfcr_svr_export, in libsvm's order of operations
 * (squared distance summed over the features, exp(-gamma s), products summed over the
 * support vectors in order, minus rho), so it equals bfcr_svr_predict bit for bit. nsv = 0
 * gives mean_y. No checks. */
double bfcr_svr_eval(int64_t nsv, int d, const double *sv, const double *coef, double rho,
                     double gamma, double mean_y, double sd_y, const double *x);

/* Free the libsvm model and the nodes, clear the struct; NULL-safe. */
void bfcr_svr_free(bfcr_svr_model *model);

#endif
