/* The stable radix sort of (key, value) pairs equals a comparison sort by (key, input
 * position) for every key width, with many ties, trivial digits and small n. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "par/radix.h"

typedef struct kv {
  uint64_t k;
  int64_t v;
} kv;

static int cmp_kv(const void *a, const void *b) { /* v = input position: stable order */
  const kv *x = a, *y = b;
  if (x->k != y->k) return x->k < y->k ? -1 : 1;
  return x->v < y->v ? -1 : x->v > y->v;
}

static uint64_t next(uint64_t *s) { /* splitmix64 */
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

static void check(int64_t n, int bits, uint64_t range, uint64_t seed) {
  uint64_t *k = malloc((size_t)(n ? n : 1) * 2 * sizeof *k);
  int64_t *v = malloc((size_t)(n ? n : 1) * 2 * sizeof *v);
  kv *ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
  cr_assert(k && v && ref);
  for (int64_t i = 0; i < n; i++) {
    uint64_t x = next(&seed);
    k[i] = range ? x % range : x;
    if (bits < 64) k[i] &= ((uint64_t)1 << bits) - 1;
    v[i] = i;
    ref[i].k = k[i];
    ref[i].v = i;
  }
  qsort(ref, (size_t)n, sizeof *ref, cmp_kv);
  bfcr_radix_sort_pairs(k, v, n, bits, k + n, v + n);
  for (int64_t i = 0; i < n; i++) {
    cr_assert_eq(k[i], ref[i].k, "n %lld bits %d: key %lld", (long long)n, bits, (long long)i);
    cr_assert_eq(v[i], ref[i].v, "n %lld bits %d: value %lld", (long long)n, bits, (long long)i);
  }
  free(k);
  free(v);
  free(ref);
}

Test(radix, equals_stable_comparison_sort) {
  check(0, 64, 0, 1);
  check(1, 64, 0, 2);
  check(5000, 64, 0, 3);    /* full 64-bit keys: 6 passes */
  check(5000, 64, 7, 4);    /* many ties, high digits all zero (skipped passes) */
  check(5000, 23, 0, 5);    /* 3 passes of a 23-bit key */
  check(4099, 11, 0, 6);    /* one pass */
  check(3000, 33, 1000, 7); /* a key wider than the values it holds */
  check(3000, 64, 1, 8);    /* every key equal: the input order stays */
}

Test(radix, bits_needed) {
  cr_assert_eq(bfcr_radix_bits(0), 0);
  cr_assert_eq(bfcr_radix_bits(1), 1);
  cr_assert_eq(bfcr_radix_bits(2047), 11);
  cr_assert_eq(bfcr_radix_bits(2048), 12);
  cr_assert_eq(bfcr_radix_bits(UINT64_MAX), 64);
}
