/* bfcr_ami: hand-worked values, scikit-learn 1.2.1 cross-checks (constants below were
 * printed by sklearn.metrics.adjusted_mutual_info_score with average_method =
 * "arithmetic" / "max" / "geometric" / "min"), label invariances, degenerate
 * partitions, and the grouped expected-MI sum against a naive cell-by-cell one. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "quality/ami.h"
#include "testutil.h"

static bfcr_ami_result detail(const int64_t *a, const int64_t *b, int64_t n) {
  bfcr_ami_result r;
  cr_assert_eq(bfcr_ami_detail(a, b, n, &r), BFCR_OK);
  return r;
}

/* Worked by hand: N = 4, a = {0,0,1,1}, b = {0,1,0,1}. MI = 0, H = ln 2 on both sides.
 * Each of the 4 cells has a_i = b_j = 2: P(k=1) = C(2,1)C(2,1)/C(4,2) = 4/6 with term
 * (1/4) ln(4*1/4) = 0, P(k=2) = 1/6 with term (2/4) ln 2, so E[MI] = 4 * ln2/12 = ln2/3
 * and AMI = (0 - ln2/3) / (ln2 - ln2/3) = -1/2 for every normaliser. */
Test(ami, hand_worked_xor) {
  const int64_t a[4] = {0, 0, 1, 1}, b[4] = {0, 1, 0, 1};
  bfcr_ami_result r = detail(a, b, 4);
  cr_expect_eq(r.mi, 0.0);
  cr_expect_float_eq(r.emi, log(2.0) / 3.0, 1e-15);
  cr_expect_float_eq(r.h_a, log(2.0), 1e-15);
  cr_expect_float_eq(r.h_b, log(2.0), 1e-15);
  cr_expect_float_eq(r.ami_arithmetic, -0.5, 1e-14);
  cr_expect_float_eq(r.ami_max, -0.5, 1e-14);
  cr_expect_float_eq(r.ami_geometric, -0.5, 1e-14);
  cr_expect_float_eq(r.ami_min, -0.5, 1e-14);
  double v = 0;
  cr_assert_eq(bfcr_ami(a, b, 4, &v), BFCR_OK);
  cr_expect_float_eq(v, -0.5, 1e-14);
}

Test(ami, identical_partitions_are_one) {
  /* Same partition under different label values (and orders of first appearance). */
  const int64_t a[9] = {0, 0, 1, 1, 1, 2, 2, 2, 2};
  const int64_t b[9] = {-5, -5, INT64_MAX, INT64_MAX, INT64_MAX, 7, 7, 7, 7};
  bfcr_ami_result r = detail(a, b, 9);
  cr_expect_eq(r.ami_arithmetic, 1.0);
  cr_expect_eq(r.ami_max, 1.0);
  cr_expect_eq(r.ami_min, 1.0);
  cr_expect_eq(r.classes_a, 3);
  cr_expect_eq(r.classes_b, 3);
  cr_expect_float_eq(r.mi, r.h_a, 1e-15);
  /* All alone and all together: the formula is 0/0, the partitions are the same. */
  int64_t solo[6], one[6];
  for (int i = 0; i < 6; i++) {
    solo[i] = 10 * i;
    one[i] = 3;
  }
  double v = 0;
  cr_assert_eq(bfcr_ami(solo, solo, 6, &v), BFCR_OK);
  cr_expect_eq(v, 1.0);
  cr_assert_eq(bfcr_ami(one, one, 6, &v), BFCR_OK);
  cr_expect_eq(v, 1.0);
  cr_assert_eq(bfcr_ami(a, a, 1, &v), BFCR_OK);
  cr_expect_eq(v, 1.0);
}

Test(ami, sklearn_small_case) {
  const int64_t a[10] = {0, 0, 0, 1, 1, 1, 2, 2, 2, 2};
  const int64_t b[10] = {0, 0, 1, 1, 1, 2, 2, 2, 3, 3};
  bfcr_ami_result r = detail(a, b, 10);
  cr_expect_float_eq(r.mi, 0.7069914743683362, 1e-13);
  cr_expect_float_eq(r.emi, 0.43958606478573625, 1e-13);
  cr_expect_float_eq(r.ami_arithmetic, 0.3393713656092224, 1e-12);
  cr_expect_float_eq(r.ami_max, 0.2885962274645088, 1e-12);
  cr_expect_float_eq(r.ami_geometric, 0.34278778180942526, 1e-12);
  cr_expect_float_eq(r.ami_min, 0.411827631033174, 1e-12);
  /* Symmetric in its arguments. */
  bfcr_ami_result s = detail(b, a, 10);
  cr_expect_float_eq(s.ami_arithmetic, r.ami_arithmetic, 1e-14);
  cr_expect_float_eq(s.ami_max, r.ami_max, 1e-14);
  cr_expect_eq(s.classes_a, 4);
  cr_expect_eq(s.classes_b, 3);
}

Test(ami, extreme_label_values_and_negative_ami) {
  /* sklearn on {5,5,5,-7,-7,9} vs {100,1,100,1,100,1}. */
  const int64_t a[6] = {5, 5, 5, -7, -7, 9};
  const int64_t b[6] = {INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN, INT64_MAX, INT64_MIN};
  bfcr_ami_result r = detail(a, b, 6);
  cr_expect_float_eq(r.mi, 0.14384103622589062, 1e-13);
  cr_expect_float_eq(r.emi, 0.26808636871529057, 1e-13);
  cr_expect_float_eq(r.ami_arithmetic, -0.2126798984884678, 1e-12);
  cr_expect_float_eq(r.ami_max, -0.167149658523393, 1e-12);
  cr_expect_float_eq(r.ami_geometric, -0.2182798130461955, 1e-12);
  cr_expect_float_eq(r.ami_min, -0.2923001345388842, 1e-12);
}

Test(ami, one_constant_labeling_is_zero) {
  const int64_t a[5] = {3, 3, 3, 3, 3}, b[5] = {0, 1, 1, 2, 2};
  bfcr_ami_result r = detail(a, b, 5);
  cr_expect_eq(r.h_a, 0.0);
  cr_expect_float_eq(r.emi, 0.0, 1e-15);
  cr_expect_eq(r.ami_arithmetic, 0.0);
  cr_expect_eq(r.ami_max, 0.0);
  /* min normaliser: 0/0, defined as 0 (sklearn returns noise / eps here). */
  cr_expect_eq(r.ami_min, 0.0);
  cr_expect_eq(r.ami_geometric, 0.0);
}

/* Independent labelings: a balanced design (MI exactly 0, AMI slightly below 0) and a
 * labeling by item index against one by a multiplicative hash. */
Test(ami, independent_is_near_zero) {
  int64_t a[2000], b[2000];
  for (int i = 0; i < 240; i++) {
    a[i] = i % 4;
    b[i] = (i / 4) % 3;
  }
  bfcr_ami_result r = detail(a, b, 240);
  cr_expect_float_eq(r.mi, 0.0, 1e-15);
  cr_expect_float_eq(r.ami_arithmetic, -0.010310163100523646, 1e-12);
  cr_expect_float_eq(r.ami_max, -0.009230512441530126, 1e-12);

  /* 667 clusters of <= 3 against 101 classes: many sizes, exercising the grouping. */
  for (int i = 0; i < 2000; i++) {
    a[i] = i / 3;
    b[i] = ((int64_t)i * 7919) % 101;
  }
  r = detail(a, b, 2000);
  cr_expect_lt(fabs(r.ami_arithmetic), 0.01);
  cr_expect_float_eq(r.ami_arithmetic, -0.006413726507946037, 1e-11);
  cr_expect_float_eq(r.ami_max, -0.004377430748702869, 1e-11);
}

Test(ami, nested_partitions) {
  int64_t a[2000], b[2000];
  for (int i = 0; i < 2000; i++) {
    a[i] = i / 10;
    b[i] = i / 25;
  }
  bfcr_ami_result r = detail(a, b, 2000);
  cr_expect_float_eq(r.ami_arithmetic, 0.7779230204682281, 1e-11);
  cr_expect_float_eq(r.ami_max, 0.6646136962078459, 1e-11);
  /* Blocks of 10 inside blocks of 50: a refines b, so MI = H(b). */
  for (int i = 0; i < 2000; i++) b[i] = i / 50;
  r = detail(a, b, 2000);
  cr_expect_float_eq(r.mi, r.h_b, 1e-13);
  cr_expect_gt(r.ami_arithmetic, 0.0);
  cr_expect_lt(r.ami_arithmetic, 1.0);
}

/* The expected MI summed per pair of distinct sizes equals the textbook sum over all
 * cells (here with libm's lgamma, independent of the GSL table). */
static double naive_emi(const int64_t *sa, int ka, const int64_t *sb, int kb, int64_t n) {
  double e = 0, dn = (double)n;
  for (int i = 0; i < ka; i++)
    for (int j = 0; j < kb; j++) {
      int64_t a = sa[i], b = sb[j];
      for (int64_t k = (a + b - n > 1 ? a + b - n : 1); k <= (a < b ? a : b); k++) {
        double lp = lgamma(a + 1.0) + lgamma(b + 1.0) + lgamma(n - a + 1.0) + lgamma(n - b + 1.0) -
                    lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(a - k + 1.0) - lgamma(b - k + 1.0) -
                    lgamma(n - a - b + k + 1.0);
        e += (k / dn) * log(dn * k / ((double)a * b)) * exp(lp);
      }
    }
  return e;
}

Test(ami, grouped_expected_mi_matches_naive_sum) {
  const int64_t sa[7] = {5, 1, 5, 12, 1, 5, 21}; /* n = 50, repeated sizes */
  const int64_t sb[5] = {10, 10, 3, 17, 10};
  double emi = -1;
  cr_assert_eq(bfcr_ami_expected_mi(sa, 7, sb, 5, 50, &emi), BFCR_OK);
  cr_expect_float_eq(emi, naive_emi(sa, 7, sb, 5, 50), 1e-12);
  /* Sizes that do not partition n are refused. */
  cr_expect_eq(bfcr_ami_expected_mi(sa, 7, sb, 5, 51, &emi), BFCR_ERR_ARG);
  const int64_t bad[2] = {0, 50};
  cr_expect_eq(bfcr_ami_expected_mi(bad, 2, sb, 5, 50, &emi), BFCR_ERR_ARG);
}

Test(ami, argument_errors) {
  const int64_t a[2] = {0, 1};
  double v = 42;
  bfcr_ami_result r;
  cr_expect_eq(bfcr_ami(NULL, a, 2, &v), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_ami(a, NULL, 2, &v), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_ami(a, a, 2, NULL), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_ami(a, a, 0, &v), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_ami(a, a, -3, &v), BFCR_ERR_ARG);
  cr_expect_eq(bfcr_ami_detail(a, a, 2, NULL), BFCR_ERR_ARG);
  cr_expect_eq(v, 42.0);
  cr_expect_eq(bfcr_ami_detail(a, a, 2, &r), BFCR_OK);
}

/* Inputs are read only and the result does not depend on the item order. */
Test(ami, permutation_invariant_and_inputs_untouched) {
  int64_t a[300], b[300], pa[300], pb[300];
  for (int i = 0; i < 300; i++) {
    a[i] = (i * 37) % 11;
    b[i] = (i % 11 < 7) ? i % 5 : 9;
  }
  for (int i = 0; i < 300; i++) {
    int j = (i * 113) % 300; /* 113 is coprime to 300: a permutation */
    pa[i] = a[j];
    pb[i] = b[j];
  }
  int64_t a0[300];
  for (int i = 0; i < 300; i++) a0[i] = a[i];
  bfcr_ami_result r = detail(a, b, 300), s = detail(pa, pb, 300);
  cr_expect_eq(r.ami_arithmetic, s.ami_arithmetic);
  cr_expect_eq(r.ami_max, s.ami_max);
  for (int i = 0; i < 300; i++) cr_assert_eq(a[i], a0[i]);
}
