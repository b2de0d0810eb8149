/* bfcr gen --latent-dim (lib/synth): row i depends only on (parameters, seed, i) for any
 * split of the rows; latent_dim = 0 leaves the blob recipe's bits unchanged; invalid
 * latent dimensions are refused; rows lie near a latent_dim-dimensional subspace (the
 * differences of rows sharing nothing but the map have rank <= K up to the noise). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/synth.h"

Test(synth_latent, rows_depend_on_index_only) {
  bfcr_synth_params p;
  bfcr_synth_params_init(&p);
  p.d = 12;
  p.latent_dim = 3;
  const int64_t n = 200;
  double *X = malloc((size_t)n * p.d * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  double *X2 = malloc((size_t)n * p.d * sizeof(double)), *y2 = malloc((size_t)n * sizeof(double));
  cr_assert_eq(bfcr_synth_rows(&p, 0, n, X, y, NULL), BFCR_OK);
  for (int64_t first = 0; first < n; first += 37) {
    const int64_t cnt = first + 37 <= n ? 37 : n - first;
    cr_assert_eq(bfcr_synth_rows(&p, first, cnt, X2 + first * p.d, y2 + first, NULL), BFCR_OK);
  }
  cr_assert(!memcmp(X, X2, (size_t)n * p.d * sizeof(double)));
  cr_assert(!memcmp(y, y2, (size_t)n * sizeof(double)));
  /* Noise-free rows: every row is A z, so any K + 1 = 4 rows' differences from row 0 span
   * at most 3 dimensions; check it with a 4 x 4 Gram determinant of 4 differences. */
  p.latent_noise = 0.0;
  cr_assert_eq(bfcr_synth_rows(&p, 0, 5, X, y, NULL), BFCR_OK);
  double D[4][12], G[4][4];
  for (int a = 0; a < 4; a++)
    for (int k = 0; k < p.d; k++) D[a][k] = X[(a + 1) * p.d + k] - X[k];
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++) {
      G[a][b] = 0.0;
      for (int k = 0; k < p.d; k++) G[a][b] += D[a][k] * D[b][k];
    }
  /* Gaussian elimination: the last pivot of a rank-3 Gram matrix is ~0. */
  double scale = G[0][0] + G[1][1] + G[2][2] + G[3][3];
  for (int c = 0; c < 3; c++)
    for (int r = c + 1; r < 4; r++) {
      const double f = G[r][c] / G[c][c];
      for (int k = c; k < 4; k++) G[r][k] -= f * G[c][k];
    }
  cr_assert(fabs(G[3][3]) < 1e-9 * scale, "last pivot %g (trace %g)", G[3][3], scale);
  free(X);
  free(y);
  free(X2);
  free(y2);
}

Test(synth_latent, off_by_default_and_checked) {
  bfcr_synth_params p, q;
  bfcr_synth_params_init(&p);
  cr_assert_eq(p.latent_dim, 0);
  q = p;
  q.latent_noise = 3.0; /* ignored when latent_dim = 0 */
  double a[8], b[8], ya, yb;
  cr_assert_eq(bfcr_synth_rows(&p, 5, 1, a, &ya, NULL), BFCR_OK);
  cr_assert_eq(bfcr_synth_rows(&q, 5, 1, b, &yb, NULL), BFCR_OK);
  cr_assert(!memcmp(a, b, sizeof a) && ya == yb);
  q.latent_dim = 9; /* > d = 8 */
  cr_assert_eq(bfcr_synth_rows(&q, 0, 1, b, &yb, NULL), BFCR_ERR_ARG);
  q.latent_dim = -1;
  cr_assert_eq(bfcr_synth_rows(&q, 0, 1, b, &yb, NULL), BFCR_ERR_ARG);
  q.latent_dim = 8;
  q.latent_noise = -1.0;
  cr_assert_eq(bfcr_synth_rows(&q, 0, 1, b, &yb, NULL), BFCR_ERR_ARG);
}
