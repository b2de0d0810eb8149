/* The extended-precision fast path of the number parser (numparse.c step 2b): 17-19
 * significant digits with |exponent| <= 27, bit-exact against glibc strtod on %.17g
 * round trips, on random digit strings and on exact halfway cases (which must fall
 * through to the exact path and round to even). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/numparse.h"

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64*: reproducible */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static void expect_strtod(const char *s) {
  double v = -1, ref = strtod(s, NULL);
  bfcr_num_result r = bfcr_parse_double(s, strlen(s), &v);
  cr_assert_eq(r, BFCR_NUM_OK, "\"%s\" rejected (%d)", s, (int)r);
  cr_assert(memcmp(&v, &ref, sizeof v) == 0, "\"%s\": got %a, strtod %a", s, v, ref);
}

Test(numparse_fast, round_trip_17_digits) {
  rng_state = 0x9e3779b97f4a7c15ull;
  char buf[64];
  for (int i = 0; i < 200000; i++) {
    /* Values like blob data: a few units to a few hundred, both signs, and wider. */
    double x = ((double)(rnd() >> 11) * 0x1p-53 - 0.5) * ldexp(1.0, (int)(rnd() % 40) - 20);
    snprintf(buf, sizeof buf, "%.17g", x);
    expect_strtod(buf);
    double v = 0;
    cr_assert_eq(bfcr_parse_double(buf, strlen(buf), &v), BFCR_NUM_OK);
    cr_assert(v == x, "%s does not round-trip", buf);
  }
}

Test(numparse_fast, random_digit_strings) {
  rng_state = 12345;
  char buf[64];
  for (int i = 0; i < 300000; i++) {
    int nd = 15 + (int)(rnd() % 5); /* 15..19 significant digits */
    int n = 0;
    if (rnd() & 1) buf[n++] = '-';
    buf[n++] = (char)('1' + rnd() % 9);
    for (int k = 1; k < nd; k++) buf[n++] = (char)('0' + rnd() % 10);
    int e = (int)(rnd() % 61) - 30;
    snprintf(buf + n, sizeof buf - (size_t)n, "e%d", e);
    expect_strtod(buf);
  }
}

/* w = 2^53 + 1 and every odd m in [2^53, 2^54) times 2^s is exactly halfway between
 * two doubles: ties to even. A tie computed exactly in extended precision still rounds
 * right; the near-ties (the e-3 variants, and random_digit_strings) are what catch a
 * missing halfway check. */
Test(numparse_fast, halfway_cases) {
  char buf[64];
  const char *fixed[] = {"9007199254740993",     "9007199254740995",   "18014398509481986",
                         "18014398509481990",    "9007199254740993e0", "900719925474099.3e1",
                         "90071992547409930e-1", "4503599627370496.5", "4503599627370497.5"};
  for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++) expect_strtod(fixed[i]);
  rng_state = 777;
  for (int i = 0; i < 100000; i++) {
    /* m odd in [2^53, 2^54): m * 2^s lies exactly halfway between two doubles. */
    uint64_t m = ((uint64_t)1 << 53) | (rnd() >> 11) | 1;
    int sh = (int)(rnd() % 10);
    uint64_t w = m << sh;
    snprintf(buf, sizeof buf, "%llu", (unsigned long long)w);
    expect_strtod(buf);
    /* The same digits with a decimal point moved: w * 10^-3 is no longer a tie, but
     * it sits close to one. */
    snprintf(buf, sizeof buf, "%llue-3", (unsigned long long)w);
    expect_strtod(buf);
  }
}
