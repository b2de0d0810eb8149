/* Exact, order-independent sums of doubles (see xsum.h). */
#include "par/xsum.h"

#include <mpi.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define M32 0xffffffffULL
/* Each addition puts less than 2^33 into a limb: 2^29 of them fit an int64 with room. */
#define CARRY_EVERY ((int64_t)1 << 29)

void bfcr_xsum_init(bfcr_xsum *s) {
  memset(s, 0, sizeof *s);
}

/* Digits into canonical form: limbs 0..L-2 in [0, 2^32), the top one signed. */
static void carry(bfcr_xsum *s) {
  for (int j = 0; j < BFCR_XSUM_LIMBS - 1; j++) {
    int64_t low = (int64_t)((uint64_t)s->limb[j] & M32);
    s->limb[j + 1] += (s->limb[j] - low) / ((int64_t)1 << 32); /* exact division */
    s->limb[j] = low;
  }
  s->pending = 0;
}

void bfcr_xsum_add(bfcr_xsum *s, double x) {
  uint64_t u;
  memcpy(&u, &x, sizeof u);
  int ex = (int)((u >> 52) & 0x7ff);
  if (ex == 0x7ff) { /* inf or NaN */
    s->special += x;
    return;
  }
  uint64_t m = u & ((1ULL << 52) - 1);
  if (ex) m |= 1ULL << 52;
  if (!m) return;
  /* x = +-m 2^(e - 1074) with e = max(ex, 1) - 1: bit position of m's lowest bit. */
  int pos = (ex ? ex : 1) - 1, j = pos >> 5, off = pos & 31;
  uint64_t a = (m & M32) << off, b = (m >> 32) << off;
  int64_t d0 = (int64_t)(a & M32), d1 = (int64_t)(a >> 32) + (int64_t)(b & M32),
          d2 = (int64_t)(b >> 32);
  if (u >> 63) {
    s->limb[j] -= d0;
    s->limb[j + 1] -= d1;
    s->limb[j + 2] -= d2;
  } else {
    s->limb[j] += d0;
    s->limb[j + 1] += d1;
    s->limb[j + 2] += d2;
  }
  if (++s->pending >= CARRY_EVERY) carry(s);
}

void bfcr_xsum_merge(bfcr_xsum *s, const bfcr_xsum *t) {
  bfcr_xsum c = *t;
  carry(&c);
  carry(s);
  for (int j = 0; j < BFCR_XSUM_LIMBS; j++) s->limb[j] += c.limb[j];
  s->special += c.special;
  s->pending = 1;
}

void bfcr_xsum_sub(bfcr_xsum *s, const bfcr_xsum *t) {
  bfcr_xsum c = *t;
  carry(&c); /* digits in range, so no limb is INT64_MIN to negate */
  for (int j = 0; j < BFCR_XSUM_LIMBS; j++) c.limb[j] = -c.limb[j];
  c.special = -c.special;
  bfcr_xsum_merge(s, &c);
}

double bfcr_xsum_value(bfcr_xsum *s) {
  if (s->special != 0.0 || isnan(s->special)) return isnan(s->special) ? NAN : s->special;
  carry(s);
  /* A negative sum has a negative top digit over nonnegative ones: convert its negation
   * (canonical too), so that no digits cancel in the conversion. */
  bfcr_xsum a = *s;
  double sign = 1.0;
  if (a.limb[BFCR_XSUM_LIMBS - 1] < 0) {
    for (int j = 0; j < BFCR_XSUM_LIMBS; j++) a.limb[j] = -a.limb[j];
    carry(&a);
    sign = -1.0;
  }
  /* From the top digit down: the first terms are exact, the rest keep the error below
   * 2 ulp; a function of the canonical digits, hence of the exact sum. */
  double r = 0.0;
  for (int j = BFCR_XSUM_LIMBS - 1; j >= 0; j--)
    if (a.limb[j]) r += ldexp((double)a.limb[j], 32 * j - 1074);
  return sign * r;
}

bfcr_status bfcr_xsum_allreduce(bfcr_ctx *ctx, bfcr_xsum *s, int count) {
  if (ctx->size == 1 || count < 1) return BFCR_OK;
  const int L = BFCR_XSUM_LIMBS;
  int64_t *dig = malloc((size_t)count * L * sizeof *dig);
  double *sp = malloc((size_t)count * sizeof *sp);
  bfcr_status st = dig && sp ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "exact sums: out of memory");
  st = bfcr_agree(ctx, st);
  if (st == BFCR_OK) {
    for (int i = 0; i < count; i++) {
      carry(&s[i]); /* digits below 2^32: the sum over ranks cannot overflow */
      memcpy(dig + (int64_t)i * L, s[i].limb, (size_t)L * sizeof *dig);
      sp[i] = isnan(s[i].special) ? NAN : s[i].special;
    }
    int ok = MPI_Allreduce(MPI_IN_PLACE, dig, count * L, MPI_INT64_T, MPI_SUM, ctx->comm) ==
                 MPI_SUCCESS &&
             MPI_Allreduce(MPI_IN_PLACE, sp, count, MPI_DOUBLE, MPI_SUM, ctx->comm) == MPI_SUCCESS;
    if (!ok) st = bfcr_err(ctx, BFCR_ERR_MPI, "exact sums: MPI_Allreduce failed");
    for (int i = 0; ok && i < count; i++) {
      memcpy(s[i].limb, dig + (int64_t)i * L, (size_t)L * sizeof *dig);
      s[i].special = isnan(sp[i]) ? NAN : sp[i]; /* inf + -inf = NaN in any order */
      s[i].pending = 1;
    }
  }
  free(dig);
  free(sp);
  return st;
}
