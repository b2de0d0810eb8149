/* Keyed random streams: the one source of randomness for generated data.
 *
 * A stream is named by (seed, purpose, index) and is a pure function of that key, so
 * the numbers drawn for global row i never depend on which rank or thread draws them
 * or on how rows are chunked. Opening a stream costs three 64-bit hash rounds (no
 * warm-up, no tables), cheap enough to open one per row.
 *
 * The generator is SplitMix64 (Steele, Lea, Flood 2014: a Weyl sequence passed through
 * a bijective 64-bit finalizer; passes BigCrush) started at mix(h(seed, purpose) +
 * index * gamma). Since mix and index -> index * gamma (odd gamma) are bijections, the
 * rows of one (seed, purpose) start at distinct states; two rows share draws only if
 * their starts land within K draws of each other on the 2^64 cycle, about n^2 K / 2^64
 * expected pairs (1e-6 for a million rows of 20 draws).
 *
 * bfcr_stream_rng exposes a stream as a gsl_rng (32-bit get, 53-bit get_double), so
 * GSL's distributions (gsl_ran_gaussian_ziggurat, gsl_rng_uniform_int) draw from it
 * without any allocation. */
#ifndef BFCR_SYNTH_STREAM_H
#define BFCR_SYNTH_STREAM_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

/* Purposes: distinct constants keep the streams of different uses independent. */
enum {
  BFCR_STREAM_SYNTH_PARAMS = 0x7061726d, /* cluster c's centre, beta_c, b_c */
  BFCR_STREAM_SYNTH_ROWS = 0x726f7773    /* row i's cluster, features and noise */
};

typedef struct bfcr_stream {
  uint64_t state; /* Weyl counter; the next draw is mix(state += gamma) */
} bfcr_stream;

/* The stream named (seed, purpose, index). Not Collective; thread-safe. */
void bfcr_stream_open(bfcr_stream *s, uint64_t seed, uint64_t purpose, uint64_t index);
/* Next 64 random bits / a uniform double in [0, 1) with 53 random bits. */
uint64_t bfcr_stream_next(bfcr_stream *s);
double bfcr_stream_uniform(bfcr_stream *s);
/* A gsl_rng view of s (no allocation): draws through it advance s. Valid while s is. */
gsl_rng bfcr_stream_rng(bfcr_stream *s);

#endif
