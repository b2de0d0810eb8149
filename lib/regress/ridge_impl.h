/* Internal to lib/regress: the spectral quantities of a ridge problem and the penalty
 * search over them, shared by the summary (primal, d x d) path of ridge.c and the rows
 * (dual, n x n) path of ridge_rows.c, so both choose lambda with the same arithmetic. */
#ifndef BFCR_REGRESS_RIDGE_IMPL_H
#define BFCR_REGRESS_RIDGE_IMPL_H

#include "regress/regress.h"

/* Eigenvalues s_j of Sxx (equivalently of the centred Gram matrix) with
 * beta_j = v_j . s_xy' (primal) = sqrt(s_j) u_j . y' (dual); dropped directions have
 * s_j = beta_j = 0. */
typedef struct bfcr_spectrum {
  int d; /* entries of s and beta */
  double n;
  const double *s;
  const double *beta;
  double rss0;  /* residual sum of squares at lambda = 0 (clamped >= 0) */
  double nfree; /* n - 1 - (number of kept eigenvalues) */
} bfcr_spectrum;

/* RSS, df and GCV at one penalty. */
void bfcr_spectrum_eval(const bfcr_spectrum *sp, double lambda, double *rss, double *df,
                        double *gcv);
/* Penalty by GCV on the grid (scale = trace/d, 1 when 0) or fixed_lambda >= 0; fills
 * res. Returns BFCR_ERR_NUMERIC on a NaN GCV or a non-finite scale. */
bfcr_status bfcr_spectrum_select(const bfcr_spectrum *sp, const bfcr_ridge_grid *grid,
                                 double fixed_lambda, double trace, int dim,
                                 bfcr_ridge_result *res);
/* Rank cut tolerance on eigenvalues: max(d, 1) eps s_max (d = features). */
double bfcr_spectrum_tol(int d, double smax);

#endif
