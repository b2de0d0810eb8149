/* Stable radix sort of (key, value) pairs (radix.c). */
#ifndef BFCR_PAR_RADIX_H
#define BFCR_PAR_RADIX_H

#include <stdint.h>

/* Sorts the n pairs (key[i], val[i]) by the low `bits` bits of key (1..64), stably:
 * pairs with equal keys keep their input order, as a (key, input position) comparison
 * sort would. tkey and tval are n-entry scratch arrays. Local, one thread, O(n bits / 11)
 * with passes skipped where every key has the same digit. */
void bfcr_radix_sort_pairs(uint64_t *key, int64_t *val, int64_t n, int bits, uint64_t *tkey,
                           int64_t *tval);

/* Bits needed to hold v (0 for v = 0). */
int bfcr_radix_bits(uint64_t v);

#endif
