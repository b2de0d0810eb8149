/* A source of standardized rows: a stored block Z, or rows computed on demand from the
 * raw block X as (x - mean) / scale, the expression of bfcr_standardize_apply (the same
 * bits either way; the build uses -ffp-contract=off). Lets the distributed fit run
 * without an n/P x d standardized copy beside the caller's data. */
#ifndef BFCR_CORE_ZSRC_H
#define BFCR_CORE_ZSRC_H

#include <stdint.h>

typedef struct bfcr_zsrc {
  const double *Z;                /* stored rows, or NULL */
  const double *X, *mean, *scale; /* used when Z is NULL */
  int d;
} bfcr_zsrc;

/* Row i (local index) into out[0..d). */
static inline void bfcr_zsrc_row(const bfcr_zsrc *s, int64_t i, double *out) {
  const int d = s->d;
  if (s->Z) {
    for (int j = 0; j < d; j++) out[j] = s->Z[i * d + j];
  } else {
    for (int j = 0; j < d; j++) out[j] = (s->X[i * d + j] - s->mean[j]) / s->scale[j];
  }
}

/* Value (i, j) of the standardized block. */
static inline double bfcr_zsrc_at(const bfcr_zsrc *s, int64_t i, int j) {
  return s->Z ? s->Z[i * s->d + j] : (s->X[i * s->d + j] - s->mean[j]) / s->scale[j];
}

#endif
