/* Kernel ridge regression (KRR) with a Gaussian kernel on the rows of one cluster, the
 * paper's main per-cluster model (DESIGN.md section 1; the paper does not name its
 * kernel, Gaussian is assumed). Width and penalty are chosen by generalized
 * cross-validation on the cluster's own rows. Also the SPLIT helpers (a cluster larger
 * than a cap becomes contiguous pieces, one model each) and the median pairwise
 * distance shared with svr.c.
 *
 * Model: k(x, x') = exp(-|x - x'|^2 / (2 h^2)); alpha = (K + lambda I)^{-1} (y - mean_y);
 * f(x) = mean_y + sum_i alpha_i k(x, x_i). Rows are expected standardized (the caller
 * z-scores with the training mean and sd, as for the tree).
 *
 * Not Collective: single-process, no MPI, no OpenMP of its own. BLAS and LAPACK (dsyrk,
 * dsytrd, dormtr) results depend on OpenBLAS's thread count: callers keep one BLAS thread
 * (DESIGN.md section 5), and then every result is bit-identical from run to run. */
#ifndef BFCR_REGRESS_KRR_H
#define BFCR_REGRESS_KRR_H

#include <stdint.h>
#include "bfcr/status.h"

typedef struct bfcr_krr_params {
  double h_min, h_max;           /* width grid, relative to the median pairwise distance of the
                                    rows; default 0.25 .. 4 */
  int h_steps;                   /* log-spaced, >= 1; default 9 (factor sqrt 2) */
  double lambda_min, lambda_max; /* absolute penalty grid (K has a unit diagonal, so a
                                    penalty of 1 weighs like one row); default 0.1 .. 100
                                    (docs/models.md: why the floor is 0.1) */
  int lambda_steps;              /* log-spaced, >= 1; default 13 (four per decade) */
  double h, lambda; /* both > 0: this absolute width and penalty, no search; default 0 */
  int64_t max_rows; /* SPLIT cap: clusters above it are fitted as contiguous pieces
                       (bfcr_split_*); bfcr_krr_fit rejects n > max_rows; default 2000 */
  int spectral;     /* 1: search with one dsyevd per width (the reference the default
                       tridiagonal search is tested against); default 0 */
} bfcr_krr_params;

/* Fill with the defaults (the only place they are defined). */
void bfcr_krr_params_init(bfcr_krr_params *p);

typedef struct bfcr_krr_model {
  int64_t n; /* training rows */
  int d;
  double h;      /* chosen (or given) absolute width */
  double lambda; /* chosen (or given) penalty */
  double h_ref;  /* median pairwise distance of the rows (the width grid's unit) */
  double gcv;    /* n RSS / (n - df)^2 at (h, lambda); +inf when n <= df */
  double df;     /* trace of the smoother y -> yhat (1 for the mean + kernel part) */
  double mean_y;
  double *center; /* [d] column means of the training rows */
  double *X;      /* [n * d] training rows minus center, row-major (distances are
                     translation invariant; centring keeps |x|^2 + |y|^2 - 2 x.y accurate) */
  double *xsq;    /* [n] |X_i|^2 */
  double *alpha;  /* [n] dual coefficients */
} bfcr_krr_model;

/* Fit on n rows of X (row-major, stride ldx >= d) and y. Search (unless p->h and
 * p->lambda are both > 0): for each width of the grid, with K = U diag(e) U^T,
 * b = U^T (y - mean_y) and c = U^T 1, each penalty scores
 *   RSS = sum_i (lambda / (e_i + lambda))^2 b_i^2
 *   df  = 1 + sum_i e_i / (e_i + lambda) (1 - c_i^2 / n)   (exact trace of the smoother,
 *         intercept = mean included)
 *   GCV = n RSS / (n - df)^2,
 * computed without eigenvectors: one tridiagonal reduction K = Q T Q^T per width
 * (LAPACKE_dsytrd) and, per penalty, an O(n) LDL^T factorization of T + lambda I (krr.c
 * gives the identities). If some T + lambda I is not numerically positive definite
 * (a penalty at the rounding level of K's spectrum) the fit falls back to one dsyevd per
 * width with e clamped at 0.
 * Visiting order: widths from largest to smallest, penalties from largest to smallest;
 * a point replaces the incumbent only when its GCV is lower by more than a relative
 * 1e-10, so ties go to the smoother model. alpha = (K + lambda I)^{-1} (y - mean_y) for
 * the chosen point, from the kept reduction. n = 1 predicts y[0] (alpha = 0).
 * Cost: h_steps dsytrd of size n (4/3 n^3 flops each) plus O(n^2 d) distances, about
 * bfcr_krr_fit_cost_ns; memory about 2 n^2 doubles at the peak.
 * Errors: BFCR_ERR_ARG (NULL pointers, n < 1, d < 1, ldx < d, n > max_rows, bad grid),
 * BFCR_ERR_NUMERIC (non-finite input, LAPACK failure, non-finite alpha),
 * BFCR_ERR_NOMEM. On error *out is left empty (all pointers NULL). */
bfcr_status bfcr_krr_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         const bfcr_krr_params *p, bfcr_krr_model *out);

/* yhat[i] = f(Q_i) for m query rows of Q (stride ldq >= d). Distances by the canonical
 * loop (knn.h) and sums over the training rows in index order, so a prediction does not
 * depend on m, on the order of the queries or on BLAS. Cost O(m n d) plus m n exp.
 * Errors: BFCR_ERR_ARG, BFCR_ERR_NUMERIC (non-finite query), BFCR_ERR_NOMEM. */
bfcr_status bfcr_krr_predict(const bfcr_krr_model *model, const double *Q, int64_t ldq, int64_t m,
                             double *yhat);

/* f(x) for one finite query row x, with q (d doubles) as scratch: exactly the operations
 * of bfcr_krr_predict (x - center, then the canonical distance to each training row and
 * the sum in index order). Uses only n, d, h, mean_y, center, X and alpha, so the model may
 * be a view of arrays stored elsewhere (the fitted model, lib/model). No checks. */
double bfcr_krr_eval(const bfcr_krr_model *model, const double *x, double *q);

/* Estimated one-core CPU time, in ns, of bfcr_krr_fit on m rows of d features with the
 * default grids (9 widths x 13 penalties): per width a dsytrd of order m (4/3 m^3 flops,
 * half of them matrix-vector products, which slow down once the m x m matrix leaves the
 * cache: the 0.12 (m / 1000)^2 term), m^2 exp and the O(m^2 d) distances; plus fixed
 * costs. Measured with one BLAS thread on this project's 2-core machine (docs/accuracy.md,
 * "Kernel ridge candidates in the CV"): m^3 (0.5 + 0.12 (m / 1000)^2) + m^2 (120 + 3 d)
 * + 5e4. The one cost model of a KRR fit, for the CV budget and the division of pieces
 * over ranks. */
double bfcr_krr_fit_cost_ns(double m, int d);

/* Free the arrays and clear the struct; NULL-safe. */
void bfcr_krr_free(bfcr_krr_model *model);

/* Median of the n (n - 1) / 2 pairwise Euclidean distances between the rows (canonical
 * distance, lower median for an even count). When it is 0 (over half the pairs are
 * duplicates) the largest distance is used, and 1 when every row is the same; n < 2
 * gives 1. Allocates n (n - 1) / 2 doubles. Errors: BFCR_ERR_ARG, BFCR_ERR_NOMEM. */
bfcr_status bfcr_median_pairwise_dist(const double *X, int64_t ldx, int64_t n, int d, double *out);

/* Value k (0 .. steps - 1) of a log-spaced grid from lo to hi (lo at k = 0, hi exactly at
 * k = steps - 1; steps = 1 gives lo). */
double bfcr_log_grid(double lo, double hi, int steps, int k);

/* SPLIT (the paper's, DESIGN.md section 1): a cluster of n rows in dendrogram order
 * becomes ceil(n / cap) contiguous pieces of near-equal size (they differ by at most
 * one row, none exceeds cap). Piece k covers rows [start(k), start(k + 1)). The pieces
 * depend only on n and cap, never on the number of ranks. cap < 1 means no split. */
int64_t bfcr_split_pieces(int64_t n, int64_t cap);
int64_t bfcr_split_start(int64_t n, int64_t pieces, int64_t k);

#endif
