#ifndef BFCR_SYNTH_H
#define BFCR_SYNTH_H
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"
#include "bfcr/context.h"
#include "bfcr/data.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Seeded synthetic data: clustered features with a piecewise-linear target.
 * Recipe (the "blob data" of the benchmarks): `clusters` centres drawn from
 * N(0, spread^2 I) in d dimensions; row i picks a centre c uniformly, x = centre +
 * N(0, width^2 I); y = (x - centre) . beta_c + b_c + N(0, noise^2), beta_c ~ N(0, I),
 * b_c ~ N(0, offset^2). Row i depends only on (seed, i), never on how rows are split
 * over ranks, so weak-scaling runs at every rank count see consistent data. */
typedef struct bfcr_synth_params {
  int64_t n;        /* rows in all; default 100000 */
  int d;            /* features; default 8 */
  int clusters;     /* default 16 */
  double spread;    /* default 10 */
  double width;     /* default 1.5 */
  double noise;     /* default 0.5 */
  double offset;    /* default 5 */
  uint64_t seed;    /* default 1 */
  /* Low intrinsic dimension (docs/synthetic.md): with latent_dim = k in [1, d], centres,
   * row offsets and slopes live in R^k and x = A (centre + e) + N(0, latent_noise^2 I_d)
   * with one fixed d x k map A (entries N(0, 1/k)): rows near a k-dimensional clustered
   * subspace of R^d. 0 (default) = the recipe above, unchanged. */
  int latent_dim;
  double latent_noise; /* default 0.05 */
} bfcr_synth_params;

BFCR_API void bfcr_synth_params_init(bfcr_synth_params *p);
/* Rows [first, first + count) into X (count x d, row-major), y (count), and the true
 * cluster of each row into label (may be NULL). Not Collective; thread-safe. */
BFCR_API bfcr_status bfcr_synth_rows(const bfcr_synth_params *p, int64_t first, int64_t count,
                                     double *X, double *y, int64_t *label);
/* A dataset of p->n rows split in contiguous near-equal blocks over the ranks
 * (feature names x1..xd, target y), without any file. Collective. */
BFCR_API bfcr_status bfcr_synth_data(bfcr_ctx *ctx, const bfcr_synth_params *p, bfcr_data **out);
/* Write p->n rows as CSV (header x1..xd,y), atomically; rank 0 writes. Collective. */
BFCR_API bfcr_status bfcr_synth_write_csv(bfcr_ctx *ctx, const bfcr_synth_params *p,
                                          const char *path);

#ifdef __cplusplus
}
#endif
#endif
