/* Exact sums of doubles: the value does not depend on the order of the additions, so
 * threads and ranks may add in any split and still agree to the last bit.
 *
 * Why: a sum over rows spread over P ranks and T threads is either a fixed-order chain
 * (sequential across ranks: P hops of latency and idle ranks) or the canonical pairwise
 * tree of reduce.h (one pass per rank, single-threaded inside). When many sums of
 * cheap per-row values run at once (the shrinkage candidates of the CV: levels x grid),
 * an exact accumulator lets every thread add its rows and the ranks combine with one
 * integer MPI_Allreduce. Finite values are added as exact integers (53-bit significand
 * shifted to its binary exponent) into 32-bit digits held in int64 limbs; infinities
 * and NaN go to a separate double whose result (inf, -inf or NaN) does not depend on
 * order either. The rounding to double happens once, from a canonical digit form, so
 * it is a function of the exact sum alone (faithful: error below 2 ulp). */
#ifndef BFCR_PAR_XSUM_H
#define BFCR_PAR_XSUM_H

#include <stdint.h>

#include "core/ctx.h"

/* Digits of 2^32 from 2^-1074 up: 2098 exponent bits + 53 significand bits + carries. */
#define BFCR_XSUM_LIMBS 70

typedef struct bfcr_xsum {
  int64_t limb[BFCR_XSUM_LIMBS];
  int64_t pending; /* additions since the last carry pass */
  double special;  /* sum of the non-finite terms (0 when none) */
} bfcr_xsum;

void bfcr_xsum_init(bfcr_xsum *s);
/* s += x exactly. */
void bfcr_xsum_add(bfcr_xsum *s, double x);
/* s += t exactly. */
void bfcr_xsum_merge(bfcr_xsum *s, const bfcr_xsum *t);
/* s -= t exactly (non-finite terms: inf - inf = NaN, as in a plain sum). */
void bfcr_xsum_sub(bfcr_xsum *s, const bfcr_xsum *t);
/* The sum rounded to a double (a function of the exact value only). */
double bfcr_xsum_value(bfcr_xsum *s);
/* Collective: every rank's s[0..count-1] becomes the exact sum over the ranks. Opens
 * with a status agreement; the same status on every rank. */
bfcr_status bfcr_xsum_allreduce(bfcr_ctx *ctx, bfcr_xsum *s, int count);

#endif
