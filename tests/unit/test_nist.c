/* OLS against the NIST StRD certified values (Longley, Filip, Wampler 1-5). The data
 * files hold the data only (tests/data/nist/, public domain); the certified values
 * are below. Accuracy is the log relative error LRE = -log10(|est - cert| / |cert|)
 * (-log10 |est| when cert = 0), capped at 15; every test prints its LREs. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regress/regress.h"
#include "testutil.h"

/* Rows of `ncol` numbers ('#' lines are comments); returns the row count. */
static int load(const char *name, int ncol, double *buf, int maxrows) {
  char rel[128];
  snprintf(rel, sizeof rel, "nist/%s", name);
  FILE *f = fopen(tu_testdata(rel), "r");
  cr_assert(f, "cannot open %s", tu_testdata(rel));
  char line[1024];
  int n = 0;
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    cr_assert(n < maxrows, "%s: too many rows", name);
    char *p = line, *end;
    for (int j = 0; j < ncol; j++) {
      buf[n * ncol + j] = strtod(p, &end);
      cr_assert(end != p, "%s:%d: expected %d numbers", name, n + 1, ncol);
      p = end;
    }
    n++;
  }
  fclose(f);
  return n;
}

static double lre(double est, double cert) {
  double e = cert != 0.0 ? fabs(est - cert) / fabs(cert) : fabs(est);
  return e == 0.0 ? 15.0 : fmin(15.0, -log10(e));
}

typedef struct nist_fit {
  double coef[11]; /* intercept, then w */
  double rsd;      /* residual standard deviation sqrt(RSS / (n - p)) */
  int rank;
  double lre_coef, lre_rsd; /* smallest coefficient LRE, residual SD LRE */
} nist_fit;

static nist_fit fit_and_score(const char *name, const double *X, const double *y, int n, int d,
                              double rcond, const double *cert, double cert_rsd) {
  nist_fit r;
  cr_assert(bfcr_ols_fit(X, d, y, n, d, rcond, r.coef + 1, r.coef, &r.rank) == BFCR_OK, "%s", name);
  long double rss = 0;
  for (int i = 0; i < n; i++) {
    long double e = y[i] - (long double)r.coef[0];
    for (int j = 0; j < d; j++) e -= (long double)X[i * d + j] * r.coef[1 + j];
    rss += e * e;
  }
  r.rsd = sqrt((double)(rss / (n - d - 1)));
  r.lre_coef = 15.0;
  for (int j = 0; j <= d; j++) {
    cr_assert(isfinite(r.coef[j]));
    r.lre_coef = fmin(r.lre_coef, lre(r.coef[j], cert[j]));
  }
  r.lre_rsd = lre(r.rsd, cert_rsd);
  fprintf(stderr,
          "NIST %-9s rcond %-7.0e rank %2d  min coefficient LRE %5.2f  residual SD LRE %5.2f\n",
          name, rcond, r.rank, r.lre_coef, r.lre_rsd);
  return r;
}

Test(nist, longley) {
  static const double cert[7] = {-3482258.63459582, 15.0618722713733,  -0.358191792925910E-01,
                                 -2.02022980381683, -1.03322686717359, -0.511041056535807E-01,
                                 1829.15146461355};
  double buf[16 * 7], X[16 * 6], y[16];
  int n = load("Longley.dat", 7, buf, 16);
  cr_assert(n == 16);
  for (int i = 0; i < n; i++) {
    y[i] = buf[i * 7];
    for (int j = 0; j < 6; j++) X[i * 6 + j] = buf[i * 7 + 1 + j];
  }
  nist_fit r = fit_and_score("Longley", X, y, n, 6, BFCR_OLS_RCOND_DEFAULT, cert, 304.854073561965);
  cr_assert(r.rank == 6);
  for (int j = 0; j < 7; j++)
    cr_assert(lre(r.coef[j], cert[j]) >= 10.0, "Longley coefficient %d: LRE %.2f < 10", j,
              lre(r.coef[j], cert[j]));
  cr_assert(r.lre_rsd >= 10.0, "Longley residual SD: LRE %.2f < 10", r.lre_rsd);
}

/* Filip: y on x^1..x^10, 82 rows; the centred design has condition number 1.4e15, the
 * equilibrated one is of full rank at the default rcond. */
Test(nist, filip) {
  static const double cert[11] = {
      -1467.48961422980,      -2772.17959193342,      -2316.37108160893,     -1127.97394098372,
      -354.478233703349,      -75.1242017393757,      -10.8753180355343,     -1.06221498588947,
      -0.670191154593408E-01, -0.246781078275479E-02, -0.402962525080404E-04};
  double buf[82 * 2], X[82 * 10], y[82];
  int n = load("Filip.dat", 2, buf, 82);
  cr_assert(n == 82);
  for (int i = 0; i < n; i++) {
    y[i] = buf[2 * i];
    for (int k = 1; k <= 10; k++) X[i * 10 + k - 1] = pow(buf[2 * i + 1], k);
  }
  const double rconds[] = {BFCR_OLS_RCOND_DEFAULT, -1.0};
  for (int t = 0; t < 2; t++) {
    nist_fit r = fit_and_score("Filip", X, y, n, 10, rconds[t], cert, 0.334801051324544E-02);
    if (r.rank == 10) {
      cr_assert(r.lre_coef >= 7.0, "Filip: full rank but coefficient LRE %.2f < 7", r.lre_coef);
      cr_assert(r.lre_rsd >= 7.0, "Filip: residual SD LRE %.2f < 7", r.lre_rsd);
    } else { /* a documented rank deficiency: finite minimum-norm fit, small residual */
      cr_assert(r.rank > 0 && r.rank < 10);
      cr_assert(r.rsd < 1.25 * 0.334801051324544E-02, "rank %d fit: residual SD %g", r.rank, r.rsd);
    }
  }
  /* With an rcond above the equilibrated spectrum the rank deficiency is reported and
   * the minimum-norm fit is still finite with a small residual (well below the spread
   * of y, SD 0.051). */
  double my = 0, vy = 0;
  for (int i = 0; i < n; i++) my += y[i] / n;
  for (int i = 0; i < n; i++) vy += (y[i] - my) * (y[i] - my) / (n - 1);
  const double rc[] = {1e-6, 1e-3};
  for (int t = 0; t < 2; t++) {
    nist_fit r = fit_and_score("Filip", X, y, n, 10, rc[t], cert, 0.334801051324544E-02);
    cr_assert(r.rank < 10, "rcond %g: rank %d", rc[t], r.rank);
    cr_assert(r.rsd < 0.25 * sqrt(vy), "rank %d fit: residual SD %g vs SD(y) %g", r.rank, r.rsd,
              sqrt(vy));
  }
}

/* Wampler 1-5: y on x^1..x^5, x = 0..20; centred condition number 4.3e6. 1 and 2 are
 * exact fits (certified residual SD 0, scored by its absolute size relative to y);
 * 3-5 add growing residuals. Floors: 8 digits, 6 for Wampler5, whose residual is so
 * large (R^2 = 0.002) that the condition^2 * residual term of the least squares error
 * bound dominates. Normal equations (condition^2 = 1.9e13) would keep about 3. */
Test(nist, wampler) {
  static const double cert2[6] = {1.0, 0.1, 0.01, 0.001, 0.0001, 0.00001};
  static const double ones[6] = {1.0, 1.0, 1.0, 1.0, 1.0, 1.0};
  static const double rsd[5] = {0.0, 0.0, 2360.14502379268, 236014.502379268, 23601450.2379268};
  for (int k = 1; k <= 5; k++) {
    char name[32];
    snprintf(name, sizeof name, "Wampler%d.dat", k);
    double buf[21 * 2], X[21 * 5], y[21], ymax = 0;
    int n = load(name, 2, buf, 21);
    cr_assert(n == 21);
    for (int i = 0; i < n; i++) {
      y[i] = buf[2 * i];
      ymax = fmax(ymax, fabs(y[i]));
      for (int p = 1; p <= 5; p++) X[i * 5 + p - 1] = pow(buf[2 * i + 1], p);
    }
    name[strlen(name) - 4] = '\0';
    nist_fit r =
        fit_and_score(name, X, y, n, 5, BFCR_OLS_RCOND_DEFAULT, k == 2 ? cert2 : ones, rsd[k - 1]);
    cr_assert(r.rank == 5);
    const double floor = k == 5 ? 6.0 : 8.0;
    cr_assert(r.lre_coef >= floor, "%s: coefficient LRE %.2f < %.2f", name, r.lre_coef, floor);
    if (rsd[k - 1] > 0)
      cr_assert(r.lre_rsd >= floor, "%s: residual SD LRE %.2f", name, r.lre_rsd);
    else
      cr_assert(r.rsd < 1e-13 * ymax, "%s: exact fit has residual SD %g", name, r.rsd);
  }
}
