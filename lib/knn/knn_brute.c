/* Reference exact nearest neighbour by full scan, O(m nR d). Used by the tests as the
 * ground truth, and by the GEMM path when coordinates are so large that shifting them
 * overflows. Scans j in increasing order with the strict (dist2, index) order, so the
 * smallest index wins every exact tie. */
#include <math.h>

#include "knn/knn.h"

void bfcr_knn_brute(const double *R, int64_t nR, int d, const double *Q, int64_t m,
                    int exclude_self, int64_t *nn, double *dist2) {
  for (int64_t i = 0; i < m; i++) {
    double bd = INFINITY;
    int64_t bj = INT64_MAX;
    for (int64_t j = 0; j < nR; j++) {
      if (exclude_self && j == i) continue;
      const double s = bfcr_dist2(Q + i * d, R + j * d, d);
      if (bfcr_nn_better(s, j, bd, bj)) {
        bd = s;
        bj = j;
      }
    }
    nn[i] = bj == INT64_MAX ? -1 : bj;
    dist2[i] = bd;
  }
}
