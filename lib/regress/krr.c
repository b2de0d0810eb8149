/* Gaussian kernel ridge regression on one cluster, width and penalty by GCV.
 *
 * What: alpha = (K + lambda I)^{-1} (y - mean_y) with K_ij = exp(-|x_i - x_j|^2 / (2 h^2));
 * f(x) = mean_y + sum_i alpha_i k(x, x_i). The mean is the (unpenalised) intercept.
 *
 * Search: for each width h, K = U diag(e) U^T once (LAPACKE_dsyevd). With b = U^T yc,
 * c = U^T 1, every penalty costs O(n):
 *   residual yc - K alpha = lambda (K + lambda I)^{-1} yc, so RSS = sum (lambda/(e+lambda))^2 b^2;
 *   smoother y -> yhat is S = J + H (I - J), J = 1 1^T / n, H = K (K + lambda I)^{-1},
 *   so df = trace S = 1 + sum e/(e+lambda) - 1^T H 1 / n = 1 + sum e/(e+lambda) (1 - c^2/n);
 *   GCV = n RSS / (n - df)^2.
 * The eigenvalues are clamped at 0 (K is positive semidefinite; dsyevd may return
 * -1e-16-sized values), so e + lambda > 0 for every lambda > 0.
 *
 * Complexity: per width O(n^2 d) for the squared distances (cblas_dsyrk on the centred
 * rows: |x_i|^2 + |x_j|^2 - 2 x_i.x_j, clamped at 0, diagonal exactly 0), n^2 exp and
 * one dsyevd (about 4-5 n^3 flops); per penalty O(n). Memory: two n x n matrices (the
 * current and the best eigenvectors) plus dsyevd's 2 n^2 workspace.
 *
 * Prediction uses the canonical distance loop (knn.h) instead of GEMM: the kernel's n
 * exp calls per query cost more than the distances at the dimensions bfcr sees, and the
 * loop makes each prediction independent of how queries are blocked (OpenBLAS picks
 * different kernels for different matrix shapes).
 *
 * Ties: widths from largest to smallest, penalties from largest to smallest; a point
 * replaces the incumbent only if its GCV is lower by a relative 1e-10 (smoother model
 * on ties). Deterministic: fixed loop orders, no threads of its own; BLAS results are
 * reproducible for a fixed OpenBLAS thread count (callers keep one). */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_statistics_double.h>
#include <lapacke.h>

#include "knn/knn.h"
#include "regress/krr.h"

#define KRR_GCV_TIE_RTOL 1e-10

void bfcr_krr_params_init(bfcr_krr_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->h_min = 0.25;
  p->h_max = 4.0;
  p->h_steps = 9;
  p->lambda_min = 0.1;
  p->lambda_max = 100.0;
  p->lambda_steps = 13;
  p->h = 0.0;
  p->lambda = 0.0;
  p->max_rows = 2000;
}

double bfcr_log_grid(double lo, double hi, int steps, int k) {
  if (k <= 0 || steps <= 1) return lo;
  if (k >= steps - 1) return hi;
  const double t = (double)k / (double)(steps - 1);
  return exp(log(lo) + t * (log(hi) - log(lo)));
}

int64_t bfcr_split_pieces(int64_t n, int64_t cap) {
  if (n <= 0) return 0;
  if (cap < 1 || n <= cap) return 1;
  return (n - 1) / cap + 1;
}

int64_t bfcr_split_start(int64_t n, int64_t pieces, int64_t k) {
  if (pieces <= 0 || k <= 0) return 0;
  if (k >= pieces) return n;
  /* floor(k n / pieces) without overflow for any n, pieces < 2^62. */
  const int64_t q = n / pieces, r = n % pieces;
  return k * q + (k * r) / pieces;
}

bfcr_status bfcr_median_pairwise_dist(const double *X, int64_t ldx, int64_t n, int d, double *out) {
  if (!X || !out || n < 0 || d < 1 || ldx < d) return BFCR_ERR_ARG;
  *out = 1.0;
  if (n < 2) return BFCR_OK;
  const int64_t np = n * (n - 1) / 2;
  if (n > (int64_t)1 << 31) return BFCR_ERR_NOMEM;
  double *dd = malloc((size_t)np * sizeof *dd);
  if (!dd) return BFCR_ERR_NOMEM;
  int64_t k = 0;
  double dmax = 0.0;
  for (int64_t j = 1; j < n; j++)
    for (int64_t i = 0; i < j; i++) {
      const double v = bfcr_dist2(X + i * ldx, X + j * ldx, d);
      dd[k++] = v;
      if (v > dmax) dmax = v;
    }
  /* Lower median of the squared distances (sqrt is monotone): the ((np - 1) / 2)-th
   * smallest, by GSL's deterministic selection. */
  double med2 = gsl_stats_select(dd, 1, (size_t)np, (size_t)((np - 1) / 2));
  free(dd);
  if (!(med2 > 0.0)) med2 = dmax;
  *out = med2 > 0.0 ? sqrt(med2) : 1.0;
  return BFCR_OK;
}

void bfcr_krr_free(bfcr_krr_model *m) {
  if (!m) return;
  free(m->center);
  free(m->X);
  free(m->xsq);
  free(m->alpha);
  memset(m, 0, sizeof *m);
}

/* Squared distances of the centred rows into the upper triangle of A (column-major,
 * n x n): dsyrk gives -2 X X^T, then |x_i|^2 + |x_j|^2 is added and clamped at 0. */
static void sq_dists(const double *Xc, const double *xsq, int64_t n, int d, double *A) {
  cblas_dsyrk(CblasColMajor, CblasUpper, CblasTrans, (int)n, d, -2.0, Xc, d, 0.0, A, (int)n);
  for (int64_t j = 0; j < n; j++) {
    double *col = A + j * n;
    for (int64_t i = 0; i < j; i++) {
      const double v = xsq[i] + xsq[j] + col[i];
      col[i] = v > 0.0 ? v : 0.0;
    }
    col[j] = 0.0;
  }
}

/* RSS, df and GCV at one penalty from the spectrum (e clamped at 0). */
static void eval_gcv(const double *e, const double *b, const double *c, int64_t n, double lambda,
                     double *rss_out, double *df_out, double *gcv_out) {
  double rss = 0.0, dfk = 0.0;
  const double inv_n = 1.0 / (double)n;
  for (int64_t i = 0; i < n; i++) {
    const double den = e[i] + lambda;
    const double r = (lambda / den) * b[i];
    rss += r * r;
    dfk += (e[i] / den) * (1.0 - c[i] * c[i] * inv_n);
  }
  const double df = 1.0 + dfk, resid = (double)n - df;
  *rss_out = rss;
  *df_out = df;
  *gcv_out = resid > 0.0 ? (double)n * rss / (resid * resid) : INFINITY;
}

static void swap_ptr(double **a, double **b) {
  double *t = *a;
  *a = *b;
  *b = t;
}

bfcr_status bfcr_krr_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         const bfcr_krr_params *p, bfcr_krr_model *out) {
  if (!out) return BFCR_ERR_ARG;
  memset(out, 0, sizeof *out);
  if (!X || !y || !p || n < 1 || d < 1 || ldx < d) return BFCR_ERR_ARG;
  if (p->max_rows >= 1 && n > p->max_rows) return BFCR_ERR_ARG;
  const int fixed = p->h > 0.0 && p->lambda > 0.0;
  if (fixed && !(isfinite(p->h) && isfinite(p->lambda))) return BFCR_ERR_ARG;
  if (!fixed && (p->h_steps < 1 || p->lambda_steps < 1 || !(p->h_min > 0.0) ||
                 !(p->h_max >= p->h_min) || !isfinite(p->h_max) || !(p->lambda_min > 0.0) ||
                 !(p->lambda_max >= p->lambda_min) || !isfinite(p->lambda_max)))
    return BFCR_ERR_ARG;
  if (n > 0x7fffffff) return BFCR_ERR_NOMEM; /* dsyevd takes a 32-bit order */
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return BFCR_ERR_NUMERIC;
    for (int j = 0; j < d; j++)
      if (!isfinite(X[i * ldx + j])) return BFCR_ERR_NUMERIC;
  }

  bfcr_status st = BFCR_OK;
  const int64_t dd = d;
  double *A = NULL, *B = NULL, *yc = NULL, *e = NULL, *eb = NULL, *b = NULL, *bb = NULL;
  double *c = NULL, *cb = NULL;
  out->n = n;
  out->d = d;
  out->center = calloc((size_t)dd, sizeof(double));
  out->X = malloc((size_t)(n * dd) * sizeof(double));
  out->xsq = malloc((size_t)n * sizeof(double));
  out->alpha = calloc((size_t)n, sizeof(double));
  yc = malloc((size_t)n * sizeof(double));
  if (!out->center || !out->X || !out->xsq || !out->alpha || !yc) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }

  /* Centre (column means and mean_y in row order), then norms. */
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) out->center[j] += X[i * ldx + j];
  for (int j = 0; j < d; j++) out->center[j] /= (double)n;
  double my = 0.0;
  for (int64_t i = 0; i < n; i++) my += y[i];
  my /= (double)n;
  out->mean_y = my;
  for (int64_t i = 0; i < n; i++) {
    double s = 0.0;
    for (int j = 0; j < d; j++) {
      const double v = X[i * ldx + j] - out->center[j];
      out->X[i * dd + j] = v;
      s += v * v;
    }
    out->xsq[i] = s;
    yc[i] = y[i] - my;
  }

  if ((st = bfcr_median_pairwise_dist(out->X, dd, n, d, &out->h_ref)) != BFCR_OK) goto cleanup;
  if (n == 1) { /* nothing to fit: f = y[0] */
    out->h = fixed ? p->h : out->h_ref;
    out->lambda = fixed ? p->lambda : p->lambda_max;
    out->gcv = INFINITY;
    out->df = 1.0;
    goto cleanup;
  }

  const size_t nn = (size_t)n * (size_t)n;
  A = malloc(nn * sizeof(double));
  B = malloc(nn * sizeof(double));
  e = malloc((size_t)n * sizeof(double));
  eb = malloc((size_t)n * sizeof(double));
  b = malloc((size_t)n * sizeof(double));
  bb = malloc((size_t)n * sizeof(double));
  c = malloc((size_t)n * sizeof(double));
  cb = malloc((size_t)n * sizeof(double));
  if (!A || !B || !e || !eb || !b || !bb || !c || !cb) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }

  const int nh = fixed ? 1 : p->h_steps, nl = fixed ? 1 : p->lambda_steps;
  int have = 0;
  double best_gcv = INFINITY;
  for (int kh = nh - 1; kh >= 0; kh--) {
    const double h = fixed ? p->h : out->h_ref * bfcr_log_grid(p->h_min, p->h_max, nh, kh);
    const double scale = -1.0 / (2.0 * h * h);
    sq_dists(out->X, out->xsq, n, d, A);
    for (int64_t j = 0; j < n; j++)
      for (int64_t i = 0; i <= j; i++) A[i + j * n] = exp(A[i + j * n] * scale);
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, e);
    if (info == LAPACK_WORK_MEMORY_ERROR) {
      st = BFCR_ERR_NOMEM;
      goto cleanup;
    }
    if (info != 0) {
      st = BFCR_ERR_NUMERIC;
      goto cleanup;
    }
    for (int64_t i = 0; i < n; i++) {
      const double *u = A + i * n; /* eigenvector i */
      double sb = 0.0, sc = 0.0;
      for (int64_t k = 0; k < n; k++) {
        sb += u[k] * yc[k];
        sc += u[k];
      }
      b[i] = sb;
      c[i] = sc;
      if (!(e[i] > 0.0)) e[i] = 0.0;
    }
    int improved = 0;
    for (int kl = nl - 1; kl >= 0; kl--) {
      const double lambda = fixed ? p->lambda : bfcr_log_grid(p->lambda_min, p->lambda_max, nl, kl);
      double rss, df, gcv;
      eval_gcv(e, b, c, n, lambda, &rss, &df, &gcv);
      if (isnan(gcv)) {
        st = BFCR_ERR_NUMERIC;
        goto cleanup;
      }
      if (!have || gcv < best_gcv - KRR_GCV_TIE_RTOL * fabs(best_gcv)) {
        have = 1;
        best_gcv = gcv;
        out->h = h;
        out->lambda = lambda;
        out->gcv = gcv;
        out->df = df;
        improved = 1;
      }
    }
    if (improved) { /* keep this width's spectrum; the old best buffers become scratch */
      swap_ptr(&A, &B);
      swap_ptr(&e, &eb);
      swap_ptr(&b, &bb);
      swap_ptr(&c, &cb);
    }
  }

  /* alpha = U diag(1 / (e + lambda)) b, column by column (fixed order). */
  for (int64_t i = 0; i < n; i++) {
    const double w = bb[i] / (eb[i] + out->lambda);
    const double *u = B + i * n;
    for (int64_t k = 0; k < n; k++) out->alpha[k] += u[k] * w;
  }
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(out->alpha[k])) {
      st = BFCR_ERR_NUMERIC;
      goto cleanup;
    }

cleanup:
  free(A);
  free(B);
  free(yc);
  free(e);
  free(eb);
  free(b);
  free(bb);
  free(c);
  free(cb);
  if (st != BFCR_OK) bfcr_krr_free(out);
  return st;
}

bfcr_status bfcr_krr_predict(const bfcr_krr_model *m, const double *Q, int64_t ldq, int64_t nq,
                             double *yhat) {
  if (!m || nq < 0 || (nq > 0 && (!Q || !yhat)) || ldq < m->d) return BFCR_ERR_ARG;
  if (m->n < 1 || m->d < 1 || !m->X || !m->alpha || !m->center || !(m->h > 0.0))
    return BFCR_ERR_ARG;
  const int d = m->d;
  double *q = malloc((size_t)d * sizeof *q);
  if (!q) return BFCR_ERR_NOMEM;
  bfcr_status st = BFCR_OK;
  for (int64_t r = 0; r < nq; r++) {
    const double *src = Q + r * ldq;
    for (int j = 0; j < d; j++) {
      if (!isfinite(src[j])) {
        st = BFCR_ERR_NUMERIC;
        goto cleanup;
      }
    }
    yhat[r] = bfcr_krr_eval(m, src, q);
  }
cleanup:
  free(q);
  return st;
}

double bfcr_krr_eval(const bfcr_krr_model *m, const double *x, double *q) {
  const int d = m->d;
  const int64_t n = m->n;
  const double scale = -1.0 / (2.0 * m->h * m->h);
  for (int j = 0; j < d; j++) q[j] = x[j] - m->center[j];
  double s = 0.0;
  for (int64_t i = 0; i < n; i++)
    s += m->alpha[i] * exp(bfcr_dist2(q, m->X + i * (int64_t)d, d) * scale);
  return m->mean_y + s;
}
