/* Shared by the accuracy benchmarks: the seeded train/held-out split and row subsets,
 * so every benchmark scores the same rows. */
#ifndef BFCR_BENCH_SPLIT_H
#define BFCR_BENCH_SPLIT_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"

static inline uint64_t bench_mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/* Row i is in the held-out part iff hash(seed, salt, i) < fraction. */
static inline int bench_held_out(uint64_t seed, uint64_t salt, int64_t i, double fraction) {
  return (double)(bench_mix(seed ^ bench_mix(salt ^ bench_mix((uint64_t)i))) >> 11) * 0x1.0p-53 <
         fraction;
}

/* The rows of `all` whose keep[] equals want, as a new dataset (NULL on failure). */
static inline bfcr_data *bench_subset(bfcr_ctx *ctx, const bfcr_data *all, const int *keep,
                                      int want) {
  int64_t n = bfcr_data_local_rows(all), m = 0;
  int d = bfcr_data_features(all);
  const double *X = bfcr_data_X(all), *y = bfcr_data_y(all);
  double *Xs = malloc((size_t)(n * d + 1) * sizeof *Xs), *ys = malloc((size_t)(n + 1) * sizeof *ys);
  bfcr_data *out = NULL;
  if (Xs && ys) {
    for (int64_t i = 0; i < n; i++)
      if (keep[i] == want) {
        memcpy(Xs + m * d, X + i * d, (size_t)d * sizeof(double));
        ys[m++] = y[i];
      }
    if (bfcr_data_from_arrays(ctx, m, d, Xs, ys, NULL, &out) != BFCR_OK) out = NULL;
  }
  free(Xs);
  free(ys);
  return out;
}

#endif
