/* bfcr_crc64 on long inputs: the folding path (carry-less multiplication where the CPU
 * has it, tables elsewhere) against a bit-at-a-time reference of the same CRC-64
 * (ECMA-182 reflected, init and final xor all ones), over lengths that cross every
 * folding boundary, unaligned starts and chained calls. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "io/model_file.h"

static uint64_t crc_bitwise(uint64_t crc, const unsigned char *p, size_t len) {
  uint64_t s = ~crc;
  for (size_t i = 0; i < len; i++) {
    s ^= p[i];
    for (int b = 0; b < 8; b++) s = (s >> 1) ^ (0xC96C5795D7870F42ull & (0 - (s & 1)));
  }
  return ~s;
}

static uint64_t rng = 12345;
static unsigned char next_byte(void) {
  rng = rng * 6364136223846793005ull + 1442695040888963407ull;
  return (unsigned char)(rng >> 56);
}

Test(crc64, long_inputs_match_bitwise_reference) {
  const size_t cap = 70000;
  unsigned char *buf = malloc(cap + 64);
  cr_assert_not_null(buf);
  for (size_t i = 0; i < cap + 64; i++) buf[i] = next_byte();
  const size_t lens[] = {0,   1,   15,  16,  17,  63,   64,   65,   127,  128,   129,
                         191, 192, 255, 256, 257, 1000, 4095, 4096, 4097, 65536, 69999};
  for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++) {
    for (size_t off = 0; off < 9; off += 3) {
      const unsigned char *p = buf + off;
      const size_t n = lens[a];
      cr_assert_eq(bfcr_crc64(0, p, n), crc_bitwise(0, p, n), "len %zu offset %zu", n, off);
      /* Chained: any split gives the value of the whole. */
      const size_t cut = n / 3;
      cr_assert_eq(bfcr_crc64(bfcr_crc64(0, p, cut), p + cut, n - cut), crc_bitwise(0, p, n),
                   "len %zu split at %zu", n, cut);
    }
  }
  free(buf);
}

Test(crc64, all_zero_block) {
  unsigned char *z = calloc(5000, 1);
  cr_assert_not_null(z);
  cr_assert_eq(bfcr_crc64(0, z, 5000), crc_bitwise(0, z, 5000));
  free(z);
}
