/* Exact 1-NN for high dimension: OpenBLAS GEMM tiles shortlist, canonical re-check.
 *
 * What: for each query row q of Q, the row r of R minimising bfcr_dist2(q, r), ties to
 * the smallest index. The shortlist value is the GEMM trick on shifted and scaled data
 *   v(q, r) = |q'|^2 + |r'|^2 - 2 q'.r',   q' = (q - mu) 2^-e,  r' = (r - mu) 2^-e,
 * computed as one augmented product per tile: [q', 1] . [-2 r', |r'|^2 (1 - c eps)]^T,
 * so that the pass over a tile is a single comparison per pair. mu is R's column mean
 * (shortens the vectors, hence the rounding margin) and 2^e a power of two that brings
 * the largest |coordinate| below 1 (exact; no overflow, no catastrophic underflow).
 * Every pair whose value lies within the rounding margin of the best canonical
 * distance found so far is re-checked at once with bfcr_dist2 on the caller's rows, and
 * the (dist2, index) order decides. Re-checking on the spot needs no candidate list, so
 * inputs with thousands of exact duplicates cost one extra d-flop distance each.
 *
 * Margin (u = 2^-53, eps = 2u, S = |q'|^2 + |r'|^2, both computed in floating point):
 *   - dot products, squared norms and the augmented row: |fl - exact| <= (d+1) u (1+o(1))
 *     times the sum of absolute terms, <= (4d + 4) u S in total, whatever order or FMA
 *     OpenBLAS uses; the shift adds <= 4 u S (each coordinate rounded once); the final
 *     comparison a few u S more;
 *   - the canonical value itself: |bfcr_dist2 - D| <= d u D (1+o(1)) + d 2^-1074
 *     (subnormal terms).
 * A pair can be the answer only if its lower bound v - c eps S does not exceed
 * 2^-2e (D* (1 + 4 d eps) + 4 (d + 2) 2^-1074) where D* is the best canonical value so
 * far; c = 4d + 32 (i.e. (8d + 64) u, about twice what the sum above needs), plus
 * (4d + 32) 2^-1074 for scaled coordinates that became subnormal. A larger c
 * only re-checks more pairs; it never changes a result. When D* is +inf (overflow in
 * the canonical distance) the threshold is +inf and every pair is re-checked, as the
 * canonical order then has ties at +inf.
 * Complexity: 2 (d+1) m nR flops in DGEMM, O(m nR) comparisons, O((m + nR) d) memory
 * plus one tile per thread.
 * Threads: OpenMP over blocks of queries (dynamic); each block walks every reference
 * tile in order; the result of a query depends on the data only. OpenBLAS must run
 * single-threaded inside (OPENBLAS_NUM_THREADS=1, set by the caller: the library never
 * flips that process-wide switch); nested BLAS threads oversubscribe the cores. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <cblas.h>
#include <omp.h>

#include "knn/knn.h"

#define GEMM_BQ 256 /* queries per tile */
#define GEMM_BR 512 /* reference rows per tile */

int bfcr_knn_gemm_prep(const double *R, int64_t nR, int d, const double *Q, int64_t m, double *mu,
                       bfcr_gemm_prep *p) {
  p->c_eps = (4.0 * d + 32.0) * DBL_EPSILON;
  p->tiny = (4.0 * d + 32.0) * ldexp(1.0, -1074);
  p->e = 0;
  /* Shift: R's column means (any value works for exactness; this one shortens vectors). */
  for (int k = 0; k < d; k++) mu[k] = 0.0;
  for (int64_t j = 0; j < nR; j++) {
    for (int k = 0; k < d; k++) mu[k] += R[j * d + k];
  }
  for (int k = 0; k < d; k++) mu[k] /= (double)nR;
  double amax = 0.0;
  for (int64_t j = 0; j < nR; j++) {
    for (int k = 0; k < d; k++) amax = fmax(amax, fabs(R[j * d + k] - mu[k]));
  }
  for (int64_t i = 0; i < m; i++) {
    for (int k = 0; k < d; k++) amax = fmax(amax, fabs(Q[i * d + k] - mu[k]));
  }
  if (!isfinite(amax)) return -1; /* coordinates near DBL_MAX: the shifted values overflow */
  if (amax > 0.0) (void)frexp(amax, &p->e);
  return 0;
}

bfcr_status bfcr_knn_gemm(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                          int exclude_self, int nthreads, int64_t *nn, double *dist2) {
  /* Pruning needs several blocks on both sides to pay for the split tree. */
  if (nR >= 4 * BFCR_KNN_BLOCK_LEAF && m >= BFCR_KNN_BLOCK_LEAF)
    return bfcr_knn_blocked(R, nR, d, Q, m, exclude_self, nthreads, BFCR_KNN_BLOCK_LEAF, NULL, nn,
                            dist2);
  return bfcr_knn_gemm_tiles(R, nR, d, Q, m, exclude_self, nthreads, nn, dist2);
}

bfcr_status bfcr_knn_gemm_tiles(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                                int exclude_self, int nthreads, int64_t *nn, double *dist2) {
  if (!R || d < 1 || nR < 1 || m < 0 || (m > 0 && (!Q || !nn || !dist2))) return BFCR_ERR_ARG;
  if (exclude_self && (m != nR || nR < 2)) return BFCR_ERR_ARG;
  if (nR > INT64_MAX / 8 / (d + 1) || m > INT64_MAX / 8 / (d + 1)) return BFCR_ERR_NOMEM;
  if (m == 0) return BFCR_OK;
  const int nt = nthreads < 1 ? 1 : nthreads;
  const int K = d + 1;
  bfcr_status st = BFCR_OK;
  double *mu = calloc((size_t)d, sizeof(double));
  double *Ra = malloc((size_t)nR * (size_t)K * sizeof(double));
  double *Qa = malloc((size_t)m * (size_t)K * sizeof(double));
  double *qn = malloc((size_t)m * sizeof(double));
  int failed = 0;
  if (!mu || !Ra || !Qa || !qn) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  bfcr_gemm_prep gp;
  if (bfcr_knn_gemm_prep(R, nR, d, Q, m, mu, &gp) != 0) {
    bfcr_knn_brute(R, nR, d, Q, m, exclude_self, nn, dist2); /* overflow: exact scan */
    goto cleanup;
  }
  const int e = gp.e;
  const double c_eps = gp.c_eps, tiny = gp.tiny;
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(R, Ra, mu, nR, d, K, e, c_eps)
  for (int64_t j = 0; j < nR; j++) {
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      double x = ldexp(R[j * d + k] - mu[k], -e);
      Ra[j * K + k] = -2.0 * x;
      s += x * x;
    }
    Ra[j * K + d] = s - c_eps * s;
  }
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(Q, Qa, qn, mu, m, d, K, e)
  for (int64_t i = 0; i < m; i++) {
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      double x = ldexp(Q[i * d + k] - mu[k], -e);
      Qa[i * K + k] = x;
      s += x * x;
    }
    Qa[i * K + d] = 1.0;
    qn[i] = s;
  }

  const int64_t nqb = (m + GEMM_BQ - 1) / GEMM_BQ;
#pragma omp parallel num_threads(nt) default(none) \
    shared(R, Q, Ra, Qa, qn, nR, m, d, K, e, c_eps, tiny, exclude_self, nn, dist2, failed, nqb)
  {
    double *G = malloc((size_t)GEMM_BQ * GEMM_BR * sizeof(double));
    double bd[GEMM_BQ], thr[GEMM_BQ];
    int64_t bj[GEMM_BQ];
    if (!G) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 1)
    for (int64_t qb = 0; qb < nqb; qb++) {
      if (!G) continue;
      const int64_t i0 = qb * GEMM_BQ;
      const int mq = (int)(m - i0 < GEMM_BQ ? m - i0 : GEMM_BQ);
      for (int i = 0; i < mq; i++) {
        bd[i] = INFINITY;
        bj[i] = INT64_MAX;
        thr[i] = INFINITY;
      }
      for (int64_t j0 = 0; j0 < nR; j0 += GEMM_BR) {
        const int mr = (int)(nR - j0 < GEMM_BR ? nR - j0 : GEMM_BR);
        cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mq, mr, K, 1.0, Qa + i0 * K, K,
                    Ra + j0 * K, K, 0.0, G, mr);
        for (int i = 0; i < mq; i++) {
          const double *g = G + (int64_t)i * mr;
          const int64_t gi = i0 + i;
          double t = thr[i];
          for (int j = 0; j < mr; j++) {
            if (!(g[j] <= t)) continue;
            const int64_t gj = j0 + j;
            if (exclude_self && gj == gi) continue;
            const double dc = bfcr_dist2(Q + gi * d, R + gj * d, d);
            if (bfcr_nn_better(dc, gj, bd[i], bj[i])) {
              bd[i] = dc;
              bj[i] = gj;
              t = bfcr_knn_gemm_threshold(dc, d, e) + c_eps * qn[gi] - qn[gi] + tiny;
              if (isnan(t)) t = INFINITY;
            }
          }
          thr[i] = t;
        }
      }
      for (int i = 0; i < mq; i++) {
        nn[i0 + i] = bj[i];
        dist2[i0 + i] = bd[i];
      }
    }
    free(G);
  }
  if (failed) st = BFCR_ERR_NOMEM;
cleanup:
  free(mu);
  free(Ra);
  free(Qa);
  free(qn);
  return st;
}
