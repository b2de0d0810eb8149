/* Decimal text -> double, strict and correctly rounded, independent of the locale.
 *
 * What: the grammar [+-]? (digits [. digits?] | . digits) ([eE] [+-]? digits)?, the
 * whole field and nothing else (no spaces, hex, "1,5", "1_000", "1e", "--1").
 *
 * How (Clinger's fast path, then an exact fallback):
 * 1. One pass collects the significant digits into a uint64 w and the decimal
 *    exponent e, so the value is w * 10^e when there are at most 19 of them.
 * 2. Fast path: w <= 2^53 and |e| <= 22. Both w and 10^|e| are exact doubles, so one
 *    IEEE multiplication or division gives the correctly rounded result. For
 *    22 < e <= 37 the part 10^(e-22) is first moved into w when the product stays
 *    <= 2^53 (exact integer arithmetic), then one multiply by 1e22.
 * 2b. Up to 19 digits and |e| <= 27 (e.g. the 17 digits of %.17g output), when long
 *    double has a 64-bit significand (x86) and the arithmetic really carries it at run
 *    time (a probe: valgrind emulates x87 at double precision): w and 10^|e| are exact
 *    there, so one extended multiplication or division rounds once, within half an extended ulp of
 *    the true value. Rounding that to double is then correct unless the 11 bits below
 *    the double's last bit sit at (or next to) the halfway pattern 10000000000b; those
 *    rare cases go on to step 3. About 10x cheaper than step 3.
 * 3. Otherwise: the significant digits are rewritten as a canonical string "DDDDe-123"
 *    (no radix character, at most 800 digits plus a sticky digit, which keeps every
 *    rounding decision of binary64 intact) and given to strtod, which glibc rounds
 *    correctly. Without a decimal point the string means the same in every locale, so
 *    no setlocale/newlocale is needed and no global state is touched.
 * Cost: O(len); the fast path does no division per digit and no allocation. It takes
 * typical CSV data (up to 15-16 significant digits, modest exponents) and, with 2b,
 * %.17g output.
 * Underflow: values below the smallest subnormal round to a signed zero, subnormals
 * are returned correctly rounded; both are accepted. Overflow (1e309) is reported. */
#include "io/numparse.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* Step 2b needs the x87 80-bit format: 64-bit significand stored explicitly in the
 * first 8 bytes (little-endian). */
#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define NUMPARSE_EXT 1
static const long double ext_pow10[28] = {1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,
                                          1e7L,  1e8L,  1e9L,  1e10L, 1e11L, 1e12L, 1e13L,
                                          1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L, 1e20L,
                                          1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};

/* w * 10^e correctly rounded to double (1), or 0 when the one extended rounding could
 * have moved the value across a halfway point between doubles. 1 <= w < 2^64, |e| <= 27,
 * so the result is a normal double. */
static int ext_path(uint64_t w, int64_t e, double *out) {
  /* The arithmetic must really carry 64 bits: emulators (valgrind) and an x87 set to
   * double precision round 1 + 2^-63 to 1, and those numbers take the exact path. */
  volatile long double one = 1.0L, tiny = LDBL_EPSILON;
  if (one + tiny == one) return 0;
  const long double r = e >= 0 ? (long double)w * ext_pow10[e] : (long double)w / ext_pow10[-e];
  uint64_t sig;
  memcpy(&sig, &r, sizeof sig);
  const unsigned low = (unsigned)(sig & 0x7ff);
  if (low >= 0x3ff && low <= 0x401) return 0;
  *out = (double)r;
  return 1;
}
#endif

#define SLOW_MAX_DIGITS 800

static const double exact_pow10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
static const uint64_t int_pow10[16] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull};

static int lower(int c) {
  return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

static int ieq(const char *p, const char *end, const char *word) {
  for (; *word; word++, p++)
    if (p >= end || lower((unsigned char)*p) != *word) return 0;
  return p == end;
}

/* inf, infinity, nan, nan(chars): what strtod would turn into a non-finite value. */
static int nonfinite_spelling(const char *p, const char *end) {
  if (p < end && (*p == '+' || *p == '-')) p++;
  if (ieq(p, end, "inf") || ieq(p, end, "infinity") || ieq(p, end, "nan")) return 1;
  if (end - p >= 5 && lower((unsigned char)p[0]) == 'n' && lower((unsigned char)p[1]) == 'a' &&
      lower((unsigned char)p[2]) == 'n' && p[3] == '(' && end[-1] == ')')
    return 1;
  return 0;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* Exact fallback: canonical "digits e exponent" string, rounded by strtod. */
static bfcr_num_result slow_path(const char *s, const char *int_beg, const char *int_end,
                                 const char *frac_beg, const char *frac_end, int neg, int64_t exp10,
                                 double *out) {
  char buf[SLOW_MAX_DIGITS + 40];
  size_t n = 0;
  int sticky = 0;
  int64_t dropped = 0;
  int started = 0;
  (void)s;
  if (neg) buf[n++] = '-';
  size_t first_digit = n;
  for (int part = 0; part < 2; part++) {
    const char *b = part == 0 ? int_beg : frac_beg;
    const char *e = part == 0 ? int_end : frac_end;
    for (const char *p = b; p < e; p++) {
      if (!started && *p == '0') continue;
      started = 1;
      if (n - first_digit < SLOW_MAX_DIGITS)
        buf[n++] = *p;
      else {
        dropped++;
        if (*p != '0') sticky = 1;
      }
    }
  }
  if (n == first_digit) {
    *out = neg ? -0.0 : 0.0;
    return BFCR_NUM_OK;
  }
  int64_t e = exp10 - (int64_t)(frac_end - frac_beg) + dropped;
  if (sticky) {
    buf[n++] = '1';
    e -= 1;
  }
  /* With at most 801 digits any |e| beyond 1e5 is a certain overflow or underflow. */
  if (e > 100000) e = 100000;
  if (e < -100000) e = -100000;
  /* The exponent by hand: snprintf would cost as much as the conversion itself. */
  buf[n++] = 'e';
  if (e < 0) {
    buf[n++] = '-';
    e = -e;
  }
  char digits[8];
  int nd = 0;
  do {
    digits[nd++] = (char)('0' + e % 10);
    e /= 10;
  } while (e > 0);
  while (nd > 0) buf[n++] = digits[--nd];
  buf[n] = '\0';
  char *endp = NULL;
  double v = strtod(buf, &endp);
  if (endp == buf || *endp != '\0') return BFCR_NUM_SYNTAX; /* cannot happen: canonical */
  if (isinf(v)) return BFCR_NUM_OVERFLOW;
  *out = v;
  return BFCR_NUM_OK;
}

/* The number at the start of [s, end): *stop = the first byte after it. SYNTAX when no
 * number starts at s or its exponent is incomplete. */
static inline bfcr_num_result parse_prefix(const char *s, const char *end, double *out,
                                           const char **stop) {
  const char *p = s;
  int neg = 0;
  *stop = s;
  if (p < end && (*p == '+' || *p == '-')) {
    neg = *p == '-';
    p++;
  }
  /* Digits accumulate into w unchecked: more than 19 significant digits may wrap
   * (defined for unsigned), and that case takes the slow path anyway. */
  uint64_t w = 0;
  const char *int_beg = p;
  while (p < end && *p == '0') p++; /* leading zeros are not significant */
  const char *sig_beg = p;
  while (p < end && is_digit(*p)) w = w * 10 + (unsigned)(*p++ - '0');
  const char *int_end = p;
  int64_t nd = int_end - sig_beg; /* significant digits */
  const char *frac_beg = p, *frac_end = p;
  if (p < end && *p == '.') {
    p++;
    frac_beg = p;
    if (nd == 0)
      while (p < end && *p == '0') p++;
    const char *fs = p;
    while (p < end && is_digit(*p)) w = w * 10 + (unsigned)(*p++ - '0');
    frac_end = p;
    nd += frac_end - fs;
  }
  if (int_end == int_beg && frac_end == frac_beg) return BFCR_NUM_SYNTAX;
  int64_t ex = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    int eneg = 0;
    if (p < end && (*p == '+' || *p == '-')) {
      eneg = *p == '-';
      p++;
    }
    if (p == end || !is_digit(*p)) return BFCR_NUM_SYNTAX;
    while (p < end && is_digit(*p)) {
      if (ex < 1000000000) ex = ex * 10 + (*p - '0');
      p++;
    }
    if (eneg) ex = -ex;
  }
  *stop = p;

  if (nd == 0) {
    *out = neg ? -0.0 : 0.0;
    return BFCR_NUM_OK;
  }
  int64_t e = ex - (frac_end - frac_beg);
  const uint64_t two53 = (uint64_t)1 << 53;
  if (nd <= 19 && w <= two53) {
    double v = 0;
    int fast = 1;
    if (e >= 0 && e <= 22) {
      v = (double)w * exact_pow10[e];
    } else if (e < 0 && e >= -22) {
      v = (double)w / exact_pow10[-e];
    } else if (e > 22 && e <= 22 + 15 && w <= two53 / int_pow10[e - 22]) {
      v = (double)(w * int_pow10[e - 22]) * 1e22;
    } else {
      fast = 0;
    }
    if (fast) {
      *out = neg ? -v : v;
      return BFCR_NUM_OK;
    }
  }
#ifdef NUMPARSE_EXT
  if (nd <= 19 && e >= -27 && e <= 27) {
    double v;
    if (ext_path(w, e, &v)) {
      *out = neg ? -v : v;
      return BFCR_NUM_OK;
    }
  }
#endif
  return slow_path(s, int_beg, int_end, frac_beg, frac_end, neg, ex, out);
}

bfcr_num_result bfcr_parse_double(const char *s, size_t len, double *out) {
  const char *stop;
  double v;
  bfcr_num_result r = parse_prefix(s, s + len, &v, &stop);
  if (r == BFCR_NUM_SYNTAX && stop == s && nonfinite_spelling(s, s + len))
    return BFCR_NUM_NONFINITE;
  if (r == BFCR_NUM_OK && stop != s + len) return BFCR_NUM_SYNTAX;
  if (r == BFCR_NUM_OVERFLOW && stop != s + len) return BFCR_NUM_SYNTAX;
  if (r == BFCR_NUM_OK) *out = v;
  return r;
}

bfcr_num_result bfcr_parse_double_prefix(const char *s, const char *end, double *out,
                                         const char **stop) {
  return parse_prefix(s, end, out, stop);
}
