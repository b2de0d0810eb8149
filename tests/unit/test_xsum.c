/* Exact sums: any order and any split give the same bits, and the value is the exact
 * sum rounded (checked where the exact sum is known). */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/xsum.h"

static double sum_of(const double *x, int n, const int *perm, int split) {
  bfcr_xsum a, b;
  bfcr_xsum_init(&a);
  bfcr_xsum_init(&b);
  for (int i = 0; i < n; i++) bfcr_xsum_add(i < split ? &a : &b, x[perm ? perm[i] : i]);
  bfcr_xsum_merge(&a, &b);
  return bfcr_xsum_value(&a);
}

Test(xsum, order_and_split_independent) {
  enum { N = 2000 };
  double x[N];
  int perm[N];
  srand(7);
  for (int i = 0; i < N; i++) { /* signs and magnitudes from 1e-300 to 1e300, subnormals */
    double m = (double)rand() / RAND_MAX - 0.5;
    int e = rand() % 2000 - 1000;
    x[i] = i % 97 == 0 ? 4.9e-324 * (i % 5) : ldexp(m, e);
    perm[i] = i;
  }
  double ref = sum_of(x, N, NULL, N);
  for (int r = 0; r < 20; r++) {
    for (int i = N - 1; i > 0; i--) { /* Fisher-Yates */
      int j = rand() % (i + 1), t = perm[i];
      perm[i] = perm[j];
      perm[j] = t;
    }
    double v = sum_of(x, N, perm, rand() % (N + 1));
    cr_assert(memcmp(&v, &ref, sizeof v) == 0, "order %d: %a vs %a", r, v, ref);
  }
}

Test(xsum, exact_values) {
  double a[] = {1e300, 1.0, -1e300};
  cr_assert_eq(sum_of(a, 3, NULL, 3), 1.0); /* a plain double sum gives 0 */
  double b[] = {DBL_MAX, DBL_MAX, -DBL_MAX};
  cr_assert_eq(sum_of(b, 3, NULL, 1), DBL_MAX); /* no overflow in between */
  double c[] = {4.9e-324, 4.9e-324, -4.9e-324, 0.1};
  cr_assert_eq(sum_of(c, 4, NULL, 2), 0.1 + 4.9e-324);
  double d[] = {-3.0, 1.0, 0.5};
  cr_assert_eq(sum_of(d, 3, NULL, 3), -1.5);
  /* many equal terms: 2^30 additions pass the carry threshold */
  bfcr_xsum s;
  bfcr_xsum_init(&s);
  for (int i = 0; i < (1 << 20); i++) bfcr_xsum_add(&s, 0.1);
  double v = bfcr_xsum_value(&s), exact = 0.1 * (double)(1 << 20); /* exact: a power of 2 */
  cr_assert_eq(v, exact);
  bfcr_xsum_init(&s);
  cr_assert_eq(bfcr_xsum_value(&s), 0.0);
  /* difference of two exact sums: (1e300 + 1 + 2^-60) - (1e300 + 0.5) = 0.5 + 2^-60 */
  bfcr_xsum t;
  bfcr_xsum_init(&t);
  bfcr_xsum_add(&s, 1e300);
  bfcr_xsum_add(&s, 1.0);
  bfcr_xsum_add(&s, 0x1p-60);
  bfcr_xsum_add(&t, 0.5);
  bfcr_xsum_add(&t, 1e300);
  bfcr_xsum_sub(&s, &t);
  cr_assert_eq(bfcr_xsum_value(&s), 0.5 + 0x1p-60);
  bfcr_xsum_sub(&s, &s);
  cr_assert_eq(bfcr_xsum_value(&s), 0.0);
}

/* Reference: Neumaier's compensated sum in double (about 1 ulp on nonnegative terms).
 * Not long double: valgrind runs x87 arithmetic in 64 bits, so a long double reference
 * would be no better than the plain double sum there. */
static double neumaier(const double *x, int n) {
  double s = 0.0, c = 0.0;
  for (int i = 0; i < n; i++) {
    double t = s + x[i];
    c += fabs(s) >= fabs(x[i]) ? (s - t) + x[i] : (x[i] - t) + s;
    s = t;
  }
  return s + c;
}

Test(xsum, close_to_a_compensated_sum) {
  enum { N = 5000 };
  double x[N];
  srand(3);
  for (int i = 0; i < N; i++) x[i] = ((double)rand() / RAND_MAX) * 1e3; /* no cancellation */
  double v = sum_of(x, N, NULL, N / 3), ref = neumaier(x, N);
  cr_assert(fabs(v - ref) <= 2 * DBL_EPSILON * ref, "%.17g vs %.17g", v, ref);
  /* multiples of 2^-10 below 2^10: every partial sum is exact, so the sum must be too */
  double plain = 0.0;
  for (int i = 0; i < N; i++) {
    x[i] = ldexp((double)(rand() % (1 << 20)), -10);
    plain += x[i];
  }
  cr_assert_eq(sum_of(x, N, NULL, N / 2), plain);
}

Test(xsum, non_finite_terms) {
  double a[] = {1.0, INFINITY, 2.0};
  cr_assert(isinf(sum_of(a, 3, NULL, 1)) && sum_of(a, 3, NULL, 1) > 0);
  double b[] = {INFINITY, -INFINITY, 1.0};
  cr_assert(isnan(sum_of(b, 3, NULL, 2)));
  double c[] = {NAN, 1.0};
  cr_assert(isnan(sum_of(c, 2, NULL, 0)));
}
