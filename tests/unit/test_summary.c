/* Mergeable summaries: merging the summaries of the parts of a row set must give the
 * summary of the whole (bfcr_sum_rows on the union), for random splits with empty and
 * one-row parts, for data far from the origin, and in any merge order. References are
 * computed independently in long double. */
#include <criterion/criterion.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"

#define SEED 20240611UL

static gsl_rng *new_rng(unsigned long seed) {
  gsl_rng *r = gsl_rng_alloc(gsl_rng_mt19937);
  gsl_rng_set(r, seed);
  return r;
}

/* n rows of d features (row stride ldx) plus y: offset + scale * N(0,1), with a linear
 * dependence of y on x so the cross terms are not just noise. */
static void gen(gsl_rng *r, int64_t n, int d, int64_t ldx, double offset, double scale, double *X,
                double *y) {
  for (int64_t i = 0; i < n; i++) {
    double t = 0.0;
    for (int j = 0; j < d; j++) {
      double v = gsl_ran_gaussian(r, scale);
      X[i * ldx + j] = offset * (1.0 + 0.1 * j) + v;
      t += (j + 1) * v;
    }
    for (int64_t j = d; j < ldx; j++) X[i * ldx + j] = NAN; /* padding must never be read */
    y[i] = offset + 0.5 * t + gsl_ran_gaussian(r, scale);
  }
}

/* Reference summary: compensated means, scatter accumulated in long double. */
static void ref_summary(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                        double *out) {
  const int64_t p = d + 1;
  long double *mu = calloc((size_t)p, sizeof(long double));
  long double *M = calloc((size_t)(p * p), sizeof(long double));
  /* Means by Neumaier-compensated sums in double: accurate also under valgrind, which
   * computes long double in double precision. */
  for (int64_t j = 0; j < p; j++) {
    double sum = 0.0, comp = 0.0;
    for (int64_t i = 0; i < n; i++) {
      double v = j < d ? X[i * ldx + j] : y[i], t = sum + v;
      comp += fabs(sum) >= fabs(v) ? (sum - t) + v : (v - t) + sum;
      sum = t;
    }
    mu[j] = ((long double)sum + comp) / n;
  }
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < p; j++)
      for (int64_t k = 0; k <= j; k++) {
        long double a = (k < d ? X[i * ldx + k] : y[i]) - mu[k];
        long double b = (j < d ? X[i * ldx + j] : y[i]) - mu[j];
        M[k + j * p] += a * b;
      }
  out[0] = (double)n;
  for (int64_t j = 0; j < p; j++) out[1 + j] = (double)mu[j];
  for (int64_t j = 0; j < p; j++)
    for (int64_t k = 0; k <= j; k++) out[1 + p + bfcr_pk(k, j)] = (double)M[k + j * p];
  free(mu);
  free(M);
}

/* Largest error of summary a against b, relative to the natural scale of each entry:
 * means against |mean| + sd, scatter M_ij against sqrt(M_ii M_jj). */
static double sum_err(const double *a, const double *b, int d) {
  const int64_t p = d + 1;
  const double *Ma = a + 1 + p, *Mb = b + 1 + p;
  double e = fabs(a[0] - b[0]);
  for (int64_t j = 0; j < p; j++) {
    double sd = sqrt(Mb[bfcr_pk(j, j)] / (b[0] > 0 ? b[0] : 1.0));
    double den = fabs(b[1 + j]) + sd;
    if (den > 0) e = fmax(e, fabs(a[1 + j] - b[1 + j]) / den);
    for (int64_t k = 0; k <= j; k++) {
      double s = sqrt(Mb[bfcr_pk(k, k)] * Mb[bfcr_pk(j, j)]);
      double diff = fabs(Ma[bfcr_pk(k, j)] - Mb[bfcr_pk(k, j)]);
      if (s > 0)
        e = fmax(e, diff / s);
      else
        e = fmax(e, diff);
    }
  }
  return e;
}

/* Split rows [0, n) into `parts` groups by a random assignment (some groups forced
 * empty or single-row), summarise each group from its own copy of the rows, merge the
 * group summaries in a random order, and compare with the summary of all rows. */
static double split_merge_err(gsl_rng *r, const double *X, int64_t ldx, const double *y, int64_t n,
                              int d, int parts) {
  const int64_t len = bfcr_sum_len(d);
  int *grp = malloc((size_t)n * sizeof(int));
  for (int64_t i = 0; i < n; i++) grp[i] = (int)gsl_rng_uniform_int(r, (unsigned long)parts);
  /* Group 0 empty, group 1 a single row (when there are enough groups and rows). */
  if (parts >= 3 && n >= 2) {
    for (int64_t i = 0; i < n; i++)
      if (grp[i] <= 1) grp[i] = 2;
    grp[gsl_rng_uniform_int(r, (unsigned long)n)] = 1;
  }
  double *sums = malloc((size_t)(parts * len) * sizeof(double));
  double *gX = malloc((size_t)(n * ldx + 1) * sizeof(double));
  double *gy = malloc((size_t)(n + 1) * sizeof(double));
  for (int g = 0; g < parts; g++) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (grp[i] == g) {
        memcpy(gX + m * ldx, X + i * ldx, (size_t)ldx * sizeof(double));
        gy[m++] = y[i];
      }
    bfcr_sum_rows(gX, ldx, gy, m, d, sums + g * len);
  }
  /* Random merge order: repeatedly merge two random live summaries (in place). */
  int *live = malloc((size_t)parts * sizeof(int));
  for (int g = 0; g < parts; g++) live[g] = g;
  int nl = parts;
  while (nl > 1) {
    int a = (int)gsl_rng_uniform_int(r, (unsigned long)nl);
    int b = (int)gsl_rng_uniform_int(r, (unsigned long)(nl - 1));
    if (b >= a) b++;
    double *sa = sums + live[a] * len, *sb = sums + live[b] * len;
    bfcr_sum_merge(sa, sb, d, sa); /* out aliases a */
    live[b] = live[--nl];
  }
  double *direct = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X, ldx, y, n, d, direct);
  double e = sum_err(sums + live[0] * len, direct, d);
  free(grp);
  free(sums);
  free(gX);
  free(gy);
  free(live);
  free(direct);
  return e;
}

Test(summary, merge_equals_direct_random_splits) {
  gsl_rng *r = new_rng(SEED);
  const int dims[] = {1, 3, 8, 20}; /* 20 takes the SYRK path */
  for (int t = 0; t < 4; t++) {
    int d = dims[t];
    for (int64_t n = 1; n <= 700; n = n * 3 + 1) {
      int64_t ldx = d + (t & 1); /* also a padded stride */
      double *X = malloc((size_t)(n * ldx) * sizeof(double)),
             *y = malloc((size_t)n * sizeof(double));
      gen(r, n, d, ldx, 3.0, 2.0, X, y);
      for (int parts = 1; parts <= 9; parts += 4) {
        double e = split_merge_err(r, X, ldx, y, n, d, parts);
        cr_assert(e < 1e-12, "d=%d n=%ld parts=%d: merged vs direct error %.3g (seed %lu)", d,
                  (long)n, parts, e, SEED);
      }
      free(X);
      free(y);
    }
  }
  gsl_rng_free(r);
}

/* Values ~1e8 with unit noise. The stable update keeps the scatter; what limits it is
 * that a mean near 1e8 is stored to an absolute 1.5e-8 (one ulp), which enters the
 * merge term (nA nB / n) delta delta^T: the attainable relative accuracy is about
 * eps * |mean| / sd = 3e-8 per merge. Raw sums of squares would lose everything. */
Test(summary, merge_large_offset_keeps_scatter) {
  gsl_rng *r = new_rng(SEED + 1);
  const int d = 3;
  const int64_t n = 2000;
  const double offset = 1e8, sd = 1.0;
  double *X = malloc((size_t)(n * d) * sizeof(double)), *y = malloc((size_t)n * sizeof(double));
  gen(r, n, d, d, offset, sd, X, y);
  /* One ulp of the largest mean relative to the noise: 3.3e-8 (measured: up to 8e-10). */
  const double bound = 2.22e-16 * (1.5 * offset) / sd;
  for (int rep = 0; rep < 5; rep++) {
    double e = split_merge_err(r, X, d, y, n, d, 2 + 3 * rep);
    cr_assert(e < bound, "offset 1e8: merged vs direct %.3g >= %.3g", e, bound);
  }
  /* The direct summary itself is accurate to working precision (corrected two-pass). */
  const int64_t len = bfcr_sum_len(d);
  double *direct = malloc((size_t)len * sizeof(double)),
         *ref = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X, d, y, n, d, direct);
  ref_summary(X, d, y, n, d, ref);
  double e = sum_err(direct, ref, d);
  cr_assert(e < 1e-12, "direct summary at offset 1e8: error %.3g", e);
  /* Means to within 2 ulps (the first-pass mean alone is off by ~1e-7 here). */
  for (int j = 0; j <= d; j++)
    cr_assert(fabs(direct[1 + j] - ref[1 + j]) <= 2 * 2.22e-16 * fabs(ref[1 + j]),
              "mean %d: %.17g vs %.17g", j, direct[1 + j], ref[1 + j]);
  /* The data are hard: the textbook one-pass formula sum x^2 - n mean^2 is far off. */
  double s = 0.0, s2 = 0.0;
  for (int64_t i = 0; i < n; i++) {
    s += X[i * d];
    s2 += X[i * d] * X[i * d];
  }
  double naive = s2 - s * s / (double)n, m00 = ref[1 + 1 + d + bfcr_pk(0, 0)];
  cr_assert(fabs(naive - m00) / m00 > 1e-3, "naive formula unexpectedly accurate");
  free(direct);
  free(ref);
  free(X);
  free(y);
  gsl_rng_free(r);
}

Test(summary, rows_match_long_double_reference) {
  gsl_rng *r = new_rng(SEED + 2);
  const int dims[] = {1, 2, 5, 14, 15, 31, 60}; /* both sides of the SYRK threshold */
  for (int t = 0; t < 7; t++) {
    int d = dims[t];
    const int64_t ns[] = {1, 2, 7, 255, 256, 257, 1000};
    for (int k = 0; k < 7; k++) {
      int64_t n = ns[k], ldx = d + 2;
      double *X = malloc((size_t)(n * ldx) * sizeof(double)),
             *y = malloc((size_t)n * sizeof(double));
      gen(r, n, d, ldx, 1e3, 1.0, X, y);
      const int64_t len = bfcr_sum_len(d);
      double *a = malloc((size_t)len * sizeof(double)), *b = malloc((size_t)len * sizeof(double));
      double *c = malloc((size_t)len * sizeof(double));
      double *work = malloc((size_t)bfcr_sum_rows_work_len(d) * sizeof(double));
      bfcr_sum_rows(X, ldx, y, n, d, a);
      ref_summary(X, ldx, y, n, d, b);
      double e = sum_err(a, b, d);
      cr_assert(e < 1e-13, "d=%d n=%ld: error vs long double %.3g", d, (long)n, e);
      /* Deterministic, and the allocation-free variant is bit-identical. */
      bfcr_sum_rows_work(X, ldx, y, n, d, work, c);
      cr_assert(memcmp(a, c, (size_t)len * sizeof(double)) == 0, "d=%d n=%ld: work variant differs",
                d, (long)n);
      bfcr_sum_rows(X, ldx, y, n, d, c);
      cr_assert(memcmp(a, c, (size_t)len * sizeof(double)) == 0, "d=%d n=%ld: not repeatable", d,
                (long)n);
      free(a);
      free(b);
      free(c);
      free(work);
      free(X);
      free(y);
    }
  }
  gsl_rng_free(r);
}

Test(summary, merge_identity_alias_and_small_parts) {
  gsl_rng *r = new_rng(SEED + 3);
  const int d = 4;
  const int64_t len = bfcr_sum_len(d), n = 9;
  double X[9 * 4], y[9];
  gen(r, n, d, d, -5.0, 3.0, X, y);
  double *a = malloc((size_t)len * sizeof(double)), *z = calloc((size_t)len, sizeof(double));
  double *o = malloc((size_t)len * sizeof(double)), *o2 = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X, d, y, n, d, a);
  /* Empty summaries (bfcr_sum_rows with n = 0, or all zeros) are exact identities. */
  double *e0 = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X, d, y, 0, d, e0);
  cr_assert(memcmp(e0, z, (size_t)len * sizeof(double)) == 0, "n = 0 summary is not all zeros");
  bfcr_sum_merge(a, z, d, o);
  cr_assert(memcmp(a, o, (size_t)len * sizeof(double)) == 0);
  bfcr_sum_merge(z, a, d, o);
  cr_assert(memcmp(a, o, (size_t)len * sizeof(double)) == 0);
  bfcr_sum_merge(z, z, d, o);
  cr_assert(o[0] == 0.0);
  /* A one-row summary has zero scatter and the row as mean. */
  double *s1 = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X, d, y, 1, d, s1);
  cr_assert(s1[0] == 1.0 && s1[1] == X[0] && s1[1 + d] == y[0]);
  for (int64_t k = 1 + d + 1; k < len; k++) cr_assert(s1[k] == 0.0);
  /* Building up row by row with one-row summaries gives the direct summary. */
  double *acc = calloc((size_t)len, sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    bfcr_sum_rows(X + i * d, d, y + i, 1, d, s1);
    bfcr_sum_merge(acc, s1, d, acc);
  }
  cr_assert(sum_err(acc, a, d) < 1e-13, "row-by-row merge error %.3g", sum_err(acc, a, d));
  /* Aliasing: out == a, out == b and separate out give the same bits. */
  double *b = malloc((size_t)len * sizeof(double));
  bfcr_sum_rows(X + 4 * d, d, y + 4, 5, d, b);
  bfcr_sum_rows(X, d, y, 4, d, a);
  bfcr_sum_merge(a, b, d, o);
  memcpy(o2, a, (size_t)len * sizeof(double));
  bfcr_sum_merge(o2, b, d, o2);
  cr_assert(memcmp(o, o2, (size_t)len * sizeof(double)) == 0, "out aliasing a changes the result");
  memcpy(o2, b, (size_t)len * sizeof(double));
  bfcr_sum_merge(a, o2, d, o2);
  cr_assert(memcmp(o, o2, (size_t)len * sizeof(double)) == 0, "out aliasing b changes the result");
  free(a);
  free(z);
  free(o);
  free(o2);
  free(e0);
  free(s1);
  free(acc);
  free(b);
  gsl_rng_free(r);
}
