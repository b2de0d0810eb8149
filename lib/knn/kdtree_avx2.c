/* 4-wide (AVX2) version of the kd-tree leaf kernel of kdtree_impl.h, compiled for AVX2
 * by a function attribute and chosen at run time, so the library still runs on any
 * x86-64. Each lane computes sum_k (q_k - p_k)^2 with k = 0..d-1 in order, multiply then
 * add (no FMA): bit-identical to bfcr_dist2 and to the SSE2 kernel. Blocks of 16 points
 * stop early once every partial sum exceeds the cut (partial sums only grow). */
#include "knn/kdtree_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>

int bfcr_kd_cpu_avx2(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

__attribute__((target("avx2"))) void bfcr_kd_leaf_dist_avx2(const double *base, int d,
                                                            const double *q, int m, double cut,
                                                            double *acc) {
  int j0 = 0;
  const __m256d cutv = _mm256_set1_pd(cut);
  for (; j0 + 16 <= m; j0 += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < d; k++) {
      const __m256d qk = _mm256_set1_pd(q[k]);
      const double *col = base + (int64_t)k * m + j0;
      __m256d u0 = _mm256_sub_pd(qk, _mm256_loadu_pd(col));
      __m256d u1 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 4));
      __m256d u2 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 8));
      __m256d u3 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 12));
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(u0, u0));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(u1, u1));
      a2 = _mm256_add_pd(a2, _mm256_mul_pd(u2, u2));
      a3 = _mm256_add_pd(a3, _mm256_mul_pd(u3, u3));
      if ((k & 1) && k + 1 < d) {
        __m256d le = _mm256_or_pd(
            _mm256_or_pd(_mm256_cmp_pd(a0, cutv, _CMP_LE_OQ), _mm256_cmp_pd(a1, cutv, _CMP_LE_OQ)),
            _mm256_or_pd(_mm256_cmp_pd(a2, cutv, _CMP_LE_OQ), _mm256_cmp_pd(a3, cutv, _CMP_LE_OQ)));
        if (_mm256_movemask_pd(le) == 0) break;
      }
    }
    _mm256_storeu_pd(acc + j0, a0);
    _mm256_storeu_pd(acc + j0 + 4, a1);
    _mm256_storeu_pd(acc + j0 + 8, a2);
    _mm256_storeu_pd(acc + j0 + 12, a3);
  }
  for (; j0 + 4 <= m; j0 += 4) {
    __m256d a = _mm256_setzero_pd();
    for (int k = 0; k < d; k++) {
      __m256d u = _mm256_sub_pd(_mm256_set1_pd(q[k]), _mm256_loadu_pd(base + (int64_t)k * m + j0));
      a = _mm256_add_pd(a, _mm256_mul_pd(u, u));
    }
    _mm256_storeu_pd(acc + j0, a);
  }
  for (int j = j0; j < m; j++) {
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      double u = q[k] - base[(int64_t)k * m + j];
      s += u * u;
    }
    acc[j] = s;
  }
}

#else

int bfcr_kd_cpu_avx2(void) {
  return 0;
}

void bfcr_kd_leaf_dist_avx2(const double *base, int d, const double *q, int m, double cut,
                            double *acc) {
  (void)base, (void)d, (void)q, (void)m, (void)cut, (void)acc;
}

#endif
