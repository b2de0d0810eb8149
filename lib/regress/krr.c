/* Gaussian kernel ridge regression on one cluster, width and penalty by GCV.
 *
 * What: alpha = (K + lambda I)^{-1} (y - mean_y) with K_ij = exp(-|x_i - x_j|^2 / (2 h^2));
 * f(x) = mean_y + sum_i alpha_i k(x, x_i). The mean is the (unpenalised) intercept.
 *
 * Search: for each width h, K = U diag(e) U^T; with b = U^T yc, c = U^T 1:
 *   residual yc - K alpha = lambda (K + lambda I)^{-1} yc, so RSS = sum (lambda/(e+lambda))^2 b^2;
 *   smoother y -> yhat is S = J + H (I - J), J = 1 1^T / n, H = K (K + lambda I)^{-1},
 *   so df = trace S = 1 + sum e/(e+lambda) - 1^T H 1 / n = 1 + sum e/(e+lambda) (1 - c^2/n);
 *   GCV = n RSS / (n - df)^2.
 * These need no eigenvectors (search_tridiag): with K = Q T Q^T (dsytrd), the same sums
 * are lambda^2 |(T + lambda I)^{-1} Q^T yc|^2 and n - df = lambda (tr (T + lambda I)^{-1}
 * - w^T (T + lambda I)^{-1} w / n), w = Q^T 1, each O(n) per penalty from an LDL^T of
 * the tridiagonal T + lambda I. Why: dsyevd with vectors costs the reduction plus the
 * divide-and-conquer merges and the back-transformation (about 3x the reduction alone
 * at n = 800); the chosen (h, lambda) are the same (GCV agrees to about 1e-13 relative,
 * far inside the 1e-10 tie rule; alpha to about 1e-12). The spectral path
 * (search_spectral, eigenvalues clamped at 0) remains for a T + lambda I that is not
 * numerically positive definite, which needs lambda near rounding level.
 *
 * Complexity: per width O(n^2 d) for the squared distances (cblas_dsyrk on the centred
 * rows: |x_i|^2 + |x_j|^2 - 2 x_i.x_j, clamped at 0, diagonal exactly 0; recomputing
 * them costs under 3% of a width), n^2 exp and one dsytrd (4/3 n^3 flops); per penalty
 * O(n). Memory: two n x n matrices (the current and the best width's reflectors).
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

double bfcr_krr_fit_cost_ns(double m, int d) {
  const double r = m * 1e-3;
  return m * m * m * (0.5 + 0.12 * r * r) + m * m * (120.0 + 3.0 * d) + 5e4;
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

/* RSS, df and GCV at one penalty from the spectrum (e clamped at 0): the fallback path. */
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

/* K at width h into the upper triangle of A (column-major n x n). */
static void kernel_upper(const bfcr_krr_model *m, double h, double *A) {
  const int64_t n = m->n;
  const double scale = -1.0 / (2.0 * h * h);
  sq_dists(m->X, m->xsq, n, m->d, A);
  for (int64_t j = 0; j < n; j++)
    for (int64_t i = 0; i <= j; i++) A[i + j * n] = exp(A[i + j * n] * scale);
}

/* Width h of the grid (or the fixed one), visiting index kh. */
static double grid_h(const bfcr_krr_params *p, const bfcr_krr_model *m, int fixed, int nh, int kh) {
  return fixed ? p->h : m->h_ref * bfcr_log_grid(p->h_min, p->h_max, nh, kh);
}

static double grid_lambda(const bfcr_krr_params *p, int fixed, int nl, int kl) {
  return fixed ? p->lambda : bfcr_log_grid(p->lambda_min, p->lambda_max, nl, kl);
}

/* Keeps the incumbent (h, lambda) by the tie rule; returns 1 when (h, lambda) replaced it. */
static int offer(bfcr_krr_model *out, int *have, double *best, double h, double lambda, double gcv,
                 double df) {
  if (*have && !(gcv < *best - KRR_GCV_TIE_RTOL * fabs(*best))) return 0;
  *have = 1;
  *best = gcv;
  out->h = h;
  out->lambda = lambda;
  out->gcv = gcv;
  out->df = df;
  return 1;
}

#define KRR_BREAKDOWN 1000 /* internal: T + lambda I not numerically positive definite */

/* The search through the tridiagonal form (the default path). Per width,
 * K = Q T Q^T (LAPACKE_dsytrd, 4/3 n^3 flops, no eigenvectors), v = Q^T yc and
 * w = Q^T 1 (dormtr on two columns, O(n^2)). Per penalty, with Z = (T + lambda I)^{-1}
 * = (L D L^T)^{-1} (dpttrf, O(n)):
 *   RSS    = lambda^2 |Z v|^2           (residual = lambda (K + lambda I)^{-1} yc)
 *   n - df = lambda (tr Z - w^T Z w / n)
 *            (= sum_i lambda / (e_i + lambda) (1 - c_i^2 / n)),
 * tr Z from the diagonal of the inverse of L D L^T in O(n)
 * (Z_ii = 1 / D_i + L_i^2 Z_{i+1,i+1}, positive terms only). The same RSS, df and GCV as
 * the spectral formulas, to rounding. alpha = Q Z v for the chosen pair, from the kept
 * reflectors. Returns KRR_BREAKDOWN when some T + lambda I has a pivot <= 0 (possible
 * only for penalties near the rounding level of K's spectrum); the caller then runs the
 * spectral search. */
static bfcr_status search_tridiag(const bfcr_krr_params *p, int fixed, const double *yc,
                                  bfcr_krr_model *out) {
  const int64_t n = out->n;
  const int nh = fixed ? 1 : p->h_steps, nl = fixed ? 1 : p->lambda_steps;
  const size_t nn = (size_t)n * (size_t)n;
  bfcr_status st = BFCR_OK;
  /* Per width: A (reflectors), tau, dg (diagonal), of (off-diagonal), V (v and w);
   * the *b copies keep the incumbent's width. */
  double *A = malloc(nn * sizeof(double)), *B = malloc(nn * sizeof(double)), *work = NULL;
  double *vec = malloc((size_t)n * 14 * sizeof(double));
  if (!A || !B || !vec) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  /* One LAPACK workspace for dsytrd and dormtr (the _work calls also skip LAPACKE's
   * O(n^2) NaN scan of the input: K is finite by construction). */
  double q1 = 0.0, q2 = 0.0;
  lapack_int info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n, vec,
                                        vec, vec, &q1, -1);
  if (info == 0)
    info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'U', 'T', (lapack_int)n, 2, A, (lapack_int)n,
                               vec, vec, (lapack_int)n, &q2, -1);
  const lapack_int lwork = (lapack_int)(q1 > q2 ? q1 : q2) + 1;
  if (info != 0 || !(work = malloc((size_t)lwork * sizeof(double)))) {
    st = info != 0 ? BFCR_ERR_NUMERIC : BFCR_ERR_NOMEM;
    goto cleanup;
  }
  double *tau = vec, *taub = vec + n, *dg = vec + 2 * n, *dgb = vec + 3 * n;
  double *of = vec + 4 * n, *ofb = vec + 5 * n, *V = vec + 6 * n, *Vb = vec + 8 * n;
  double *ld = vec + 10 * n, *le = vec + 11 * n, *Zs = vec + 12 * n; /* Zs: n x 2 */
  int have = 0;
  double best = INFINITY;
  for (int kh = nh - 1; kh >= 0; kh--) {
    const double h = grid_h(p, out, fixed, nh, kh);
    kernel_upper(out, h, A);
    info = LAPACKE_dsytrd_work(LAPACK_COL_MAJOR, 'U', (lapack_int)n, A, (lapack_int)n, dg, of, tau,
                               work, lwork);
    if (info == 0) {
      for (int64_t i = 0; i < n; i++) {
        V[i] = yc[i];
        V[n + i] = 1.0;
      }
      info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'U', 'T', (lapack_int)n, 2, A,
                                 (lapack_int)n, tau, V, (lapack_int)n, work, lwork);
    }
    if (info != 0) {
      st = info == LAPACK_WORK_MEMORY_ERROR ? BFCR_ERR_NOMEM : BFCR_ERR_NUMERIC;
      goto cleanup;
    }
    int improved = 0;
    for (int kl = nl - 1; kl >= 0; kl--) {
      const double lambda = grid_lambda(p, fixed, nl, kl);
      for (int64_t i = 0; i < n; i++) ld[i] = dg[i] + lambda;
      memcpy(le, of, (size_t)(n - 1) * sizeof(double));
      memcpy(Zs, V, (size_t)(2 * n) * sizeof(double));
      if (LAPACKE_dpttrf((lapack_int)n, ld, le) != 0) {
        st = KRR_BREAKDOWN;
        goto cleanup;
      }
      LAPACKE_dpttrs(LAPACK_COL_MAJOR, (lapack_int)n, 2, ld, le, Zs, (lapack_int)n);
      double rss = 0.0, wzw = 0.0, z = 1.0 / ld[n - 1], trz = z;
      for (int64_t i = 0; i < n; i++) {
        rss += Zs[i] * Zs[i];
        wzw += V[n + i] * Zs[n + i];
      }
      for (int64_t i = n - 2; i >= 0; i--) {
        z = 1.0 / ld[i] + le[i] * le[i] * z;
        trz += z;
      }
      rss *= lambda * lambda;
      const double resid = lambda * (trz - wzw / (double)n), df = (double)n - resid;
      const double gcv = resid > 0.0 ? (double)n * rss / (resid * resid) : INFINITY;
      if (isnan(gcv)) {
        st = BFCR_ERR_NUMERIC;
        goto cleanup;
      }
      improved |= offer(out, &have, &best, h, lambda, gcv, df);
    }
    if (improved) { /* keep this width's reduction; the old best buffers become scratch */
      swap_ptr(&A, &B);
      swap_ptr(&tau, &taub);
      swap_ptr(&dg, &dgb);
      swap_ptr(&of, &ofb);
      swap_ptr(&V, &Vb);
    }
  }
  /* alpha = Q (T + lambda I)^{-1} Q^T yc at the chosen pair. */
  for (int64_t i = 0; i < n; i++) ld[i] = dgb[i] + out->lambda;
  memcpy(le, ofb, (size_t)(n - 1) * sizeof(double));
  memcpy(out->alpha, Vb, (size_t)n * sizeof(double));
  if (LAPACKE_dpttrf((lapack_int)n, ld, le) != 0) {
    st = KRR_BREAKDOWN;
    goto cleanup;
  }
  info = LAPACKE_dpttrs(LAPACK_COL_MAJOR, (lapack_int)n, 1, ld, le, out->alpha, (lapack_int)n);
  if (info == 0)
    info = LAPACKE_dormtr_work(LAPACK_COL_MAJOR, 'L', 'U', 'N', (lapack_int)n, 1, B, (lapack_int)n,
                               taub, out->alpha, (lapack_int)n, work, lwork);
  if (info != 0) st = info == LAPACK_WORK_MEMORY_ERROR ? BFCR_ERR_NOMEM : BFCR_ERR_NUMERIC;
cleanup:
  free(A);
  free(B);
  free(vec);
  free(work);
  return st;
}

/* The spectral search (one dsyevd per width), for when the tridiagonal path breaks down:
 * eigenvalues clamped at 0 keep e + lambda > 0 for any lambda > 0. */
static bfcr_status search_spectral(const bfcr_krr_params *p, int fixed, const double *yc,
                                   bfcr_krr_model *out) {
  const int64_t n = out->n;
  const int nh = fixed ? 1 : p->h_steps, nl = fixed ? 1 : p->lambda_steps;
  const size_t nn = (size_t)n * (size_t)n;
  bfcr_status st = BFCR_OK;
  double *A = malloc(nn * sizeof(double)), *B = malloc(nn * sizeof(double));
  double *vec = malloc((size_t)n * 6 * sizeof(double));
  if (!A || !B || !vec) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  double *e = vec, *eb = vec + n, *b = vec + 2 * n, *bb = vec + 3 * n, *c = vec + 4 * n,
         *cb = vec + 5 * n;
  int have = 0;
  double best = INFINITY;
  for (int kh = nh - 1; kh >= 0; kh--) {
    const double h = grid_h(p, out, fixed, nh, kh);
    kernel_upper(out, h, A);
    lapack_int info =
        LAPACKE_dsyevd(LAPACK_COL_MAJOR, 'V', 'U', (lapack_int)n, A, (lapack_int)n, e);
    if (info != 0) {
      st = info == LAPACK_WORK_MEMORY_ERROR ? BFCR_ERR_NOMEM : BFCR_ERR_NUMERIC;
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
      const double lambda = grid_lambda(p, fixed, nl, kl);
      double rss, df, gcv;
      eval_gcv(e, b, c, n, lambda, &rss, &df, &gcv);
      if (isnan(gcv)) {
        st = BFCR_ERR_NUMERIC;
        goto cleanup;
      }
      improved |= offer(out, &have, &best, h, lambda, gcv, df);
    }
    if (improved) {
      swap_ptr(&A, &B);
      swap_ptr(&e, &eb);
      swap_ptr(&b, &bb);
      swap_ptr(&c, &cb);
    }
  }
  /* alpha = U diag(1 / (e + lambda)) b, column by column (fixed order). */
  memset(out->alpha, 0, (size_t)n * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    const double w = bb[i] / (eb[i] + out->lambda);
    const double *u = B + i * n;
    for (int64_t k = 0; k < n; k++) out->alpha[k] += u[k] * w;
  }
cleanup:
  free(A);
  free(B);
  free(vec);
  return st;
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
  if (n > 0x7fffffff) return BFCR_ERR_NOMEM; /* LAPACK takes a 32-bit order */
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return BFCR_ERR_NUMERIC;
    for (int j = 0; j < d; j++)
      if (!isfinite(X[i * ldx + j])) return BFCR_ERR_NUMERIC;
  }

  bfcr_status st = BFCR_OK;
  const int64_t dd = d;
  double *yc = NULL;
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

  st = p->spectral ? KRR_BREAKDOWN : search_tridiag(p, fixed, yc, out);
  if (st == KRR_BREAKDOWN) st = search_spectral(p, fixed, yc, out);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t k = 0; k < n; k++)
    if (!isfinite(out->alpha[k])) {
      st = BFCR_ERR_NUMERIC;
      goto cleanup;
    }

cleanup:
  free(yc);
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
