/* Stable LSD radix sort of (key, value) pairs.
 *
 * Why: the distributed cross-validation sorts O(n / P) keys per rank (fold hashes, the
 * (fold, node) keys of the held-out rows' routing paths); qsort's O(n log n) comparisons
 * through a function pointer cost more than the rest of those phases. 11-bit digits
 * (2048 counters, in L1), one counting pass for all digits, then one scatter per digit;
 * a digit that is the same for every key is skipped. Stability makes equal keys keep
 * their input order, which callers rely on for ties. */
#include "par/radix.h"

#include <string.h>

#define RADIX_BITS 11
#define RADIX_B (1 << RADIX_BITS)
#define RADIX_MAXP 6 /* 6 x 11 >= 64 */

int bfcr_radix_bits(uint64_t v) {
  int b = 0;
  while (v) {
    b++;
    v >>= 1;
  }
  return b;
}

void bfcr_radix_sort_pairs(uint64_t *key, int64_t *val, int64_t n, int bits, uint64_t *tkey,
                           int64_t *tval) {
  if (n < 2 || bits <= 0) return;
  if (bits > 64) bits = 64;
  const int passes = (bits + RADIX_BITS - 1) / RADIX_BITS;
  int64_t cnt[RADIX_MAXP][RADIX_B];
  memset(cnt, 0, sizeof cnt);
  for (int64_t i = 0; i < n; i++)
    for (int q = 0; q < passes; q++) cnt[q][(key[i] >> (q * RADIX_BITS)) & (RADIX_B - 1)]++;
  uint64_t *ka = key, *kb = tkey;
  int64_t *va = val, *vb = tval;
  for (int q = 0; q < passes; q++) {
    int64_t s = 0, *c = cnt[q];
    int trivial = 0;
    for (int h = 0; h < RADIX_B; h++) {
      if (c[h] == n) trivial = 1;
      int64_t v = c[h];
      c[h] = s;
      s += v;
    }
    if (trivial) continue; /* every key has this digit: the order stays */
    const int sh = q * RADIX_BITS;
    for (int64_t i = 0; i < n; i++) {
      int64_t o = c[(ka[i] >> sh) & (RADIX_B - 1)]++;
      kb[o] = ka[i];
      vb[o] = va[i];
    }
    uint64_t *tk = ka;
    ka = kb;
    kb = tk;
    int64_t *tv = va;
    va = vb;
    vb = tv;
  }
  if (ka != key) {
    memcpy(key, ka, (size_t)n * sizeof *key);
    memcpy(val, va, (size_t)n * sizeof *val);
  }
}
