/* Keyed SplitMix64 streams and their gsl_rng view (see stream.h for the design). */
#include "synth/stream.h"

#define GAMMA UINT64_C(0x9e3779b97f4a7c15) /* 2^64 / golden ratio, odd */

/* Stafford's "Mix13" finalizer: a bijection of 64-bit words with full avalanche. */
static uint64_t mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  return z ^ (z >> 31);
}

void bfcr_stream_open(bfcr_stream *s, uint64_t seed, uint64_t purpose, uint64_t index) {
  uint64_t h = mix64(seed + GAMMA);
  h = mix64(h ^ (purpose * GAMMA));
  s->state = mix64(h + index * GAMMA);
}

uint64_t bfcr_stream_next(bfcr_stream *s) {
  s->state += GAMMA;
  return mix64(s->state);
}

double bfcr_stream_uniform(bfcr_stream *s) {
  return (double)(bfcr_stream_next(s) >> 11) * 0x1.0p-53;
}

static void rng_set(void *state, unsigned long seed) {
  bfcr_stream_open(state, (uint64_t)seed, 0, 0);
}
/* 32-bit outputs (the high half, the better-mixed bits) whatever the width of long. */
static unsigned long rng_get(void *state) {
  return (unsigned long)(bfcr_stream_next(state) >> 32);
}
static double rng_get_double(void *state) {
  return bfcr_stream_uniform(state);
}

static const gsl_rng_type stream_rng_type = {
    "bfcr_splitmix64", UINT32_MAX, 0, sizeof(bfcr_stream), rng_set, rng_get, rng_get_double};

gsl_rng bfcr_stream_rng(bfcr_stream *s) {
  gsl_rng r = {&stream_rng_type, s};
  return r;
}
