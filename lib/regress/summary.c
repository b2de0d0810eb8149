/* Mergeable regression summaries: count, mean and centred scatter of z = (x, y).
 *
 * What: bfcr_sum_rows builds the summary of a block of rows; bfcr_sum_merge combines two
 * summaries with the stable pairwise update (Chan, Golub, LeVeque 1979), so a parent's
 * summary is obtained from its children without touching the rows again.
 *
 * Rows: corrected two-pass. Pass 1 takes the mean in row order; pass 2 accumulates the
 * scatter about that mean together with the residual sums r = sum (z - mean), and the
 * result is corrected by mean += r/n, M -= r r^T / n (exact identity). The correction
 * removes the rounding error of the first-pass mean, which matters when the data sit
 * far from the origin (values ~1e8 with unit noise). Raw sums of squares are never
 * formed: they cancel catastrophically.
 *
 * Complexity: O(n p^2) flops, p = d + 1. For small p the scatter is a packed axpy per
 * row (the packed column j is contiguous, so the loop vectorises without changing the
 * per-element order). For p >= BFCR_SUM_SYRK_MIN the centred rows go through
 * cblas_dsyrk in fixed chunks of BFCR_SUM_CHUNK rows whose results are added in chunk
 * order (measured crossover in docs/regression.md).
 *
 * Determinism: every element is a sum in row order (loop path), or a sum of chunk
 * results in chunk order, each chunk a fixed BLAS call (SYRK path); the result depends
 * only on the input, never on threads or ranks. The loop path is also bit-identical
 * across machines (no FMA contraction, -ffp-contract=off); the SYRK path matches
 * across machines with the same OpenBLAS kernel. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "regress/regress.h"

/* Threshold on p = d + 1 for the SYRK path and its row-chunk size. */
#define BFCR_SUM_SYRK_MIN 16
#define BFCR_SUM_CHUNK 256

int64_t bfcr_sum_rows_work_len(int d) {
  int64_t p = (int64_t)d + 1;
  if (p < BFCR_SUM_SYRK_MIN) return 2 * p;
  return 2 * p + (int64_t)BFCR_SUM_CHUNK * p + p * p;
}

void bfcr_sum_merge(const double *a, const double *b, int d, double *out) {
  const int64_t p = (int64_t)d + 1, len = bfcr_sum_len(d);
  const double na = a[0], nb = b[0];
  if (nb == 0.0) { /* identity; memmove because out may alias a or b */
    if (out != a) memmove(out, a, (size_t)len * sizeof(double));
    return;
  }
  if (na == 0.0) {
    if (out != b) memmove(out, b, (size_t)len * sizeof(double));
    return;
  }
  const double n = na + nb;
  const double f = na * nb / n, g = nb / n;
  const double *ma = a + 1, *mb = b + 1;
  /* Scatter first: it reads both means, which are overwritten below when out aliases
   * a or b. Every element is read and written at the same index, so aliasing is safe. */
  const double *sa = a + 1 + p, *sb = b + 1 + p;
  double *so = out + 1 + p;
  for (int64_t j = 0; j < p; j++) {
    const double dj = mb[j] - ma[j];
    const double *ca = sa + bfcr_pk(0, j), *cb = sb + bfcr_pk(0, j);
    double *co = so + bfcr_pk(0, j);
    for (int64_t i = 0; i <= j; i++) co[i] = ca[i] + cb[i] + f * (mb[i] - ma[i]) * dj;
  }
  double *mo = out + 1;
  for (int64_t j = 0; j < p; j++) mo[j] = ma[j] + g * (mb[j] - ma[j]);
  out[0] = n;
}

/* Row i: X + i ldx, or xr[i] when row pointers are given. */
double bfcr_sum_rss(const double *s, int d, const double *w, double b) {
  int64_t p = d + 1;
  const double *mean = s + 1, *M = s + 1 + p;
  double rss = M[bfcr_pk(d, d)], r0 = mean[d] - b;
  for (int j = 0; j < d; j++) {
    rss -= 2.0 * w[j] * M[bfcr_pk(j, d)];
    r0 -= w[j] * mean[j];
    for (int k = 0; k < d; k++) rss += w[j] * w[k] * M[j <= k ? bfcr_pk(j, k) : bfcr_pk(k, j)];
  }
  if (rss < 0.0) rss = 0.0;
  return rss + s[0] * r0 * r0;
}

static inline const double *xrow(const double *X, int64_t ldx, const double *const *xr, int64_t i) {
  return xr ? xr[i] : X + i * ldx;
}
/* z_i = (X[i, 0..d-1], y[i]) */
static inline double zval(const double *X, int64_t ldx, const double *const *xr, const double *y,
                          int d, int64_t i, int64_t j) {
  return j < d ? xrow(X, ldx, xr, i)[j] : y[i];
}

static void sum_rows_impl(const double *X, int64_t ldx, const double *const *xr, const double *y,
                          int64_t n, int d, double *work, double *out) {
  const int64_t p = (int64_t)d + 1, len = bfcr_sum_len(d);
  memset(out, 0, (size_t)len * sizeof(double));
  if (n <= 0) return;
  double *mean = out + 1, *M = out + 1 + p;
  double *c = work, *r = work + p; /* centred row, residual sums */

  /* Pass 1: mean in row order. */
  for (int64_t i = 0; i < n; i++) {
    const double *xi = xrow(X, ldx, xr, i);
    for (int64_t j = 0; j < d; j++) mean[j] += xi[j];
    mean[d] += y[i];
  }
  for (int64_t j = 0; j < p; j++) mean[j] /= (double)n;

  /* Pass 2: scatter about the pass-1 mean, plus the residual sums. */
  memset(r, 0, (size_t)p * sizeof(double));
  if (p < BFCR_SUM_SYRK_MIN) {
    for (int64_t i = 0; i < n; i++) {
      for (int64_t j = 0; j < p; j++) {
        c[j] = zval(X, ldx, xr, y, d, i, j) - mean[j];
        r[j] += c[j];
      }
      for (int64_t j = 0; j < p; j++) {
        double *col = M + bfcr_pk(0, j);
        const double cj = c[j];
        for (int64_t k = 0; k <= j; k++) col[k] += c[k] * cj;
      }
    }
  } else {
    double *blk = work + 2 * p;                    /* BFCR_SUM_CHUNK x p, row-major */
    double *G = blk + (int64_t)BFCR_SUM_CHUNK * p; /* p x p, column-major, upper used */
    for (int64_t i0 = 0; i0 < n; i0 += BFCR_SUM_CHUNK) {
      const int64_t m = n - i0 < BFCR_SUM_CHUNK ? n - i0 : BFCR_SUM_CHUNK;
      for (int64_t i = 0; i < m; i++) {
        double *bi = blk + i * p;
        for (int64_t j = 0; j < p; j++) {
          bi[j] = zval(X, ldx, xr, y, d, i0 + i, j) - mean[j];
          r[j] += bi[j];
        }
      }
      /* blk viewed column-major is p x m with leading dimension p: G = blk blk^T. */
      cblas_dsyrk(CblasColMajor, CblasUpper, CblasNoTrans, (int)p, (int)m, 1.0, blk, (int)p, 0.0, G,
                  (int)p);
      for (int64_t j = 0; j < p; j++) {
        double *col = M + bfcr_pk(0, j);
        const double *gj = G + j * p;
        for (int64_t k = 0; k <= j; k++) col[k] += gj[k];
      }
    }
  }

  /* Correction for the rounding error of the pass-1 mean. */
  for (int64_t j = 0; j < p; j++) {
    double *col = M + bfcr_pk(0, j);
    for (int64_t k = 0; k <= j; k++) col[k] -= r[k] * r[j] / (double)n;
  }
  for (int64_t j = 0; j < p; j++) mean[j] += r[j] / (double)n;
  out[0] = (double)n;
}

void bfcr_sum_rows_work(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                        double *work, double *out) {
  sum_rows_impl(X, ldx, NULL, y, n, d, work, out);
}

void bfcr_sum_rowptrs_work(const double *const *xr, const double *y, int64_t n, int d, double *work,
                           double *out) {
  sum_rows_impl(NULL, 0, xr, y, n, d, work, out);
}

void bfcr_sum_rows(const double *X, int64_t ldx, const double *y, int64_t n, int d, double *out) {
  const int64_t p = (int64_t)d + 1;
  double small[2 * BFCR_SUM_SYRK_MIN];
  if (p < BFCR_SUM_SYRK_MIN) {
    bfcr_sum_rows_work(X, ldx, y, n, d, small, out);
    return;
  }
  double *work = malloc((size_t)bfcr_sum_rows_work_len(d) * sizeof(double));
  if (!work) {
    /* No status channel here: poison the summary so that every consumer fails loudly
     * (bfcr_ridge_fit returns BFCR_ERR_NUMERIC on non-finite summaries). Callers that
     * must distinguish use bfcr_sum_rows_work with their own workspace. */
    const int64_t len = bfcr_sum_len(d);
    out[0] = (double)n;
    for (int64_t k = 1; k < len; k++) out[k] = NAN;
    return;
  }
  bfcr_sum_rows_work(X, ldx, y, n, d, work, out);
  free(work);
}
