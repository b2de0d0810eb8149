/* The number parser: bit-exact against glibc strtod (correctly rounded) on random
 * decimal strings and on hard cases; strict rejects; non-finite and overflow. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/numparse.h"

static uint64_t rng_state;
static uint64_t rnd(void) { /* xorshift64*: reproducible from the printed seed */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 2685821657736338717ull;
}

static int same_bits(double a, double b) {
  return memcmp(&a, &b, sizeof a) == 0;
}

static void expect_value(const char *s) {
  double v = -1, ref = strtod(s, NULL);
  bfcr_num_result r = bfcr_parse_double(s, strlen(s), &v);
  cr_assert_eq(r, BFCR_NUM_OK, "\"%s\" rejected (%d)", s, (int)r);
  cr_assert(same_bits(v, ref), "\"%s\": got %.17g, strtod %.17g", s, v, ref);
}

static void expect_result(const char *s, bfcr_num_result want) {
  double v = 0;
  cr_assert_eq(bfcr_parse_double(s, strlen(s), &v), want, "\"%s\"", s);
}

/* A random decimal: sign, 1-25 digits with a point somewhere (or none), exponent. */
static size_t random_decimal(char *buf, int long_digits) {
  size_t n = 0;
  uint64_t r = rnd();
  if (r & 1)
    buf[n++] = '-';
  else if (r & 2)
    buf[n++] = '+';
  int nd = long_digits ? 1 + (int)(rnd() % 820) : 1 + (int)(rnd() % 25);
  int point = (int)(rnd() % (uint64_t)(nd + 2)) - 1; /* -1 = none */
  for (int i = 0; i < nd; i++) {
    if (i == point) buf[n++] = '.';
    /* Runs of 9s and 0s create near-halfway cases. */
    uint64_t k = rnd() % 10;
    char c = (char)('0' + (k < 3 ? 9 : k < 5 ? 0 : rnd() % 10));
    buf[n++] = c;
  }
  if (point == nd) buf[n++] = '.';
  if (rnd() % 3) {
    buf[n++] = (rnd() & 1) ? 'e' : 'E';
    int range = rnd() % 4 == 0 ? 340 : 30;
    n += (size_t)sprintf(buf + n, "%d", (int)(rnd() % (uint64_t)(2 * range + 1)) - range);
  }
  buf[n] = '\0';
  return n;
}

Test(numparse, random_strings_bit_exact_vs_strtod) {
  rng_state = 0x9e3779b97f4a7c15ull;
  printf("numparse random seed 0x%016llx\n", (unsigned long long)rng_state);
  char buf[1024];
  long fast_like = 0;
  for (long i = 0; i < 2000000; i++) {
    size_t n = random_decimal(buf, i % 1000 == 0);
    double ref = strtod(buf, NULL);
    double v = 0;
    bfcr_num_result r = bfcr_parse_double(buf, n, &v);
    if (isinf(ref)) {
      cr_assert_eq(r, BFCR_NUM_OVERFLOW, "\"%s\" should overflow", buf);
      continue;
    }
    cr_assert_eq(r, BFCR_NUM_OK, "\"%s\" rejected", buf);
    cr_assert(same_bits(v, ref), "\"%s\": got %.17g, strtod %.17g", buf, v, ref);
    fast_like += n < 17;
  }
  cr_assert_gt(fast_like, 0);
}

/* Shortest round-trip strings (%.17g) of random doubles over the whole range. */
Test(numparse, random_doubles_round_trip) {
  rng_state = 12345;
  char buf[64];
  for (long i = 0; i < 1000000; i++) {
    uint64_t bits = rnd();
    double x;
    memcpy(&x, &bits, sizeof x);
    if (!isfinite(x)) continue;
    int n = snprintf(buf, sizeof buf, i & 1 ? "%.17g" : "%.15g", x);
    double v = 0;
    cr_assert_eq(bfcr_parse_double(buf, (size_t)n, &v), BFCR_NUM_OK, "\"%s\"", buf);
    cr_assert(same_bits(v, strtod(buf, NULL)), "\"%s\"", buf);
    if (i & 1) cr_assert(same_bits(v, x), "\"%s\" does not round-trip", buf);
  }
}

Test(numparse, hard_cases) {
  static const char *cases[] = {
      "9007199254740992",
      "9007199254740993",
      "9007199254740994",
      "9007199254740995",
      "1.00000000000000011102230246251565404236316680908203125", /* halfway: even */
      "1.00000000000000011102230246251565404236316680908203124",
      "1.00000000000000011102230246251565404236316680908203126",
      "2.2250738585072011e-308",
      "2.2250738585072012e-308",
      "2.2250738585072014e-308",
      "4.9406564584124654e-324",
      "2.4703282292062327e-324",
      "2.4703282292062328e-324",
      "1.7976931348623157e308",
      "1.7976931348623158e308",
      "1e-320",
      "123456789012345678901234567890",
      "0.000000000000000000000000000000000000000000001",
      "1e22",
      "1e23",
      "9e22",
      "8.5e37",
      "1234567e30",
      "123456789012345e22",
      "0.1",
      "0.2",
      "0.3",
      "3.0e-5",
      "7.038531e-26",
      "1.e5",
      ".5",
      "5.",
      "-0",
      "+0.0",
      "0e999999",
      "00000000000000000000000000001.5",
      "1.0000000000000000000000000000000000000000000000000000000000000000001",
      "4503599627370496.5",
      "4503599627370497.5",
      "179769313486231580793728971405301e276",
      "2.470328229206232720882538e-324"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_value(cases[i]);
  /* A 900-digit number just above a halfway point: the sticky digit must matter. */
  char big[1000];
  strcpy(big, "1.00000000000000011102230246251565404236316680908203125");
  size_t n = strlen(big);
  while (n < 950) big[n++] = '0';
  big[n++] = '1';
  big[n] = '\0';
  expect_value(big);
  big[n - 1] = '0';
  expect_value(big);
}

Test(numparse, integers_and_decimals_agree) {
  const char *forms[] = {"3", "3.0", "3.00e0", "0.3e1", "30e-1", "+3", "3.", "300e-2"};
  double ref = 3.0;
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    double v = 0;
    cr_assert_eq(bfcr_parse_double(forms[i], strlen(forms[i]), &v), BFCR_NUM_OK);
    cr_assert(same_bits(v, ref), "%s", forms[i]);
  }
}

Test(numparse, rejects) {
  const char *bad[] = {"",      "+",   "-",     ".",   "e5", "1e",    "1e+",   "--1", "+-1",
                       "0x10",  "1,5", "1_000", " 1",  "1 ", "1.5.2", "1e5.5", "abc", "1d5",
                       "0x1p3", "1e-", "1..",   "\t1", "1f", "١",     "1e1e1", "..1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) expect_result(bad[i], BFCR_NUM_SYNTAX);
  /* Only the given length counts: "12" inside "123". */
  double v = 0;
  cr_assert_eq(bfcr_parse_double("123", 2, &v), BFCR_NUM_OK);
  cr_assert_eq(v, 12.0);
}

Test(numparse, nonfinite_and_overflow) {
  const char *nf[] = {"inf", "-inf", "+Infinity", "INF", "nan", "NaN", "-nan", "nan(123)"};
  for (size_t i = 0; i < sizeof nf / sizeof nf[0]; i++) expect_result(nf[i], BFCR_NUM_NONFINITE);
  const char *of[] = {"1e309", "-1e309", "1e999999999999999", "1.7976931348623159e308",
                      "99999999999999999999e300"};
  for (size_t i = 0; i < sizeof of / sizeof of[0]; i++) expect_result(of[i], BFCR_NUM_OVERFLOW);
}

Test(numparse, underflow_policy) {
  double v = 1;
  cr_assert_eq(bfcr_parse_double("1e-400", 6, &v), BFCR_NUM_OK);
  cr_assert(v == 0.0 && !signbit(v));
  cr_assert_eq(bfcr_parse_double("-1e-400", 7, &v), BFCR_NUM_OK);
  cr_assert(v == 0.0 && signbit(v));
  cr_assert_eq(bfcr_parse_double("5e-324", 6, &v), BFCR_NUM_OK);
  cr_assert_eq(v, 4.9406564584124654e-324);
  cr_assert_eq(bfcr_parse_double("1e-999999999999", 15, &v), BFCR_NUM_OK);
  cr_assert_eq(v, 0.0);
}
