/* Adjusted mutual information of two labelings (Vinh, Epps & Bailey, JMLR 11, 2010).
 *
 * What: the contingency table n_ij of the two labelings (row sums a_i, column sums
 *   b_j, N items) gives MI = sum_ij (n_ij/N) ln(N n_ij / (a_i b_j)) and the entropies
 *   H = -sum (a_i/N) ln(a_i/N). The expected MI under the hypergeometric model (random
 *   partitions with the same cluster sizes) is
 *     E[MI] = sum_ij sum_{k=max(1, a_i+b_j-N)}^{min(a_i, b_j)} (k/N) ln(N k / (a_i b_j))
 *             * a_i! b_j! (N-a_i)! (N-b_j)! / (N! k! (a_i-k)! (b_j-k)! (N-a_i-b_j+k)!),
 *   and AMI = (MI - E[MI]) / (norm(H_a, H_b) - E[MI]) for the four usual normalisers.
 * How: labels are mapped to dense ids by sorting their distinct values; the nonzero
 *   cells come from sorting the (id_a, id_b) pairs, so the table is sparse and never
 *   ka x kb. The expectation depends on a cell only through (a_i, b_j): it is summed
 *   over pairs of *distinct* sizes weighted by how often each occurs. A partition of N
 *   has at most sqrt(2N) distinct sizes, so a level with 10^4 clusters against a truth
 *   with 10^4 classes costs at most a few 10^5 size pairs instead of 10^8 cells.
 *   ln k! comes from a table of gsl_sf_lngamma(k + 1), k = 0..N (exact to rounding,
 *   unlike a running sum of logs).
 * Cost: O(N log N) time for the table, O(N) memory, plus sum over size pairs of
 *   min(a, b) terms for the expectation.
 * Ties/degenerate cases: identical partitions (ka = kb = number of nonzero cells) give
 *   exactly 1. A normaliser equal to E[MI] (0/0: one labeling constant, or all items
 *   alone, with the min normaliser) gives 0: then MI = E[MI] for every permutation, so
 *   the labelings share no information beyond chance; scikit-learn returns rounding
 *   noise divided by epsilon there. Otherwise as scikit-learn: MI clipped at 0.
 * Determinism: every sum runs in a fixed order (sorted ids, sorted sizes). */
#include <math.h>
#include <stdlib.h>

#include <gsl/gsl_sf_gamma.h>

#include "quality/ami.h"

typedef struct ami_cell {
  int64_t a, b;
} ami_cell;

static int cmp_i64(const void *x, const void *y) {
  int64_t u = *(const int64_t *)x, v = *(const int64_t *)y;
  return (u > v) - (u < v);
}

static int cmp_cell(const void *x, const void *y) {
  const ami_cell *u = x, *v = y;
  if (u->a != v->a) return (u->a > v->a) - (u->a < v->a);
  return (u->b > v->b) - (u->b < v->b);
}

/* Dense id (rank among the distinct values) of every label; *k distinct values.
 * work: n entries of scratch. */
static void dense_ids(const int64_t *x, int64_t n, int64_t *work, int64_t *id, int64_t *k) {
  for (int64_t i = 0; i < n; i++) work[i] = x[i];
  qsort(work, (size_t)n, sizeof *work, cmp_i64);
  int64_t m = 0;
  for (int64_t i = 0; i < n; i++)
    if (m == 0 || work[i] != work[m - 1]) work[m++] = work[i];
  for (int64_t i = 0; i < n; i++) {
    const int64_t *p = bsearch(&x[i], work, (size_t)m, sizeof *work, cmp_i64);
    id[i] = p - work;
  }
  *k = m;
}

/* Distinct values of sizes[0..k-1] (sorted in place) with their multiplicities,
 * written over the front of sizes and into count; returns how many. */
static int64_t group_sizes(int64_t *sizes, int64_t k, int64_t *count) {
  qsort(sizes, (size_t)k, sizeof *sizes, cmp_i64);
  int64_t m = 0;
  for (int64_t i = 0; i < k; i++) {
    if (m > 0 && sizes[i] == sizes[m - 1]) {
      count[m - 1]++;
    } else {
      sizes[m] = sizes[i];
      count[m++] = 1;
    }
  }
  return m;
}

static double entropy(const int64_t *sizes, int64_t k, int64_t n) {
  double h = 0.0, ln_n = log((double)n);
  for (int64_t i = 0; i < k; i++)
    h += ((double)sizes[i] / (double)n) * (ln_n - log((double)sizes[i]));
  return h;
}

bfcr_status bfcr_ami_expected_mi(const int64_t *sizes_a, int64_t ka, const int64_t *sizes_b,
                                 int64_t kb, int64_t n, double *emi) {
  if (!sizes_a || !sizes_b || !emi || ka < 1 || kb < 1 || n < 1) return BFCR_ERR_ARG;
  int64_t sum_a = 0, sum_b = 0;
  for (int64_t i = 0; i < ka; i++) {
    if (sizes_a[i] < 1 || sizes_a[i] > n) return BFCR_ERR_ARG;
    sum_a += sizes_a[i];
    if (sum_a > n) return BFCR_ERR_ARG;
  }
  for (int64_t j = 0; j < kb; j++) {
    if (sizes_b[j] < 1 || sizes_b[j] > n) return BFCR_ERR_ARG;
    sum_b += sizes_b[j];
    if (sum_b > n) return BFCR_ERR_ARG;
  }
  if (sum_a != n || sum_b != n) return BFCR_ERR_ARG;

  bfcr_status st = BFCR_OK;
  int64_t *sa = malloc((size_t)ka * sizeof *sa), *ca = malloc((size_t)ka * sizeof *ca);
  int64_t *sb = malloc((size_t)kb * sizeof *sb), *cb = malloc((size_t)kb * sizeof *cb);
  double *lf =
      (size_t)n < SIZE_MAX / sizeof(double) - 1 ? malloc(((size_t)n + 1) * sizeof *lf) : NULL;
  if (!sa || !ca || !sb || !cb || !lf) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  for (int64_t i = 0; i < ka; i++) sa[i] = sizes_a[i];
  for (int64_t j = 0; j < kb; j++) sb[j] = sizes_b[j];
  int64_t ga = group_sizes(sa, ka, ca), gb = group_sizes(sb, kb, cb);
  /* ln k! for k = 0..n; the arguments are >= 1, inside gsl_sf_lngamma's domain, so
   * GSL's error handler (abort by default, process-wide) can never fire. */
  for (int64_t k = 0; k <= n; k++) lf[k] = gsl_sf_lngamma((double)k + 1.0);
  const double dn = (double)n, ln_n = log(dn);
  double total = 0.0;
  for (int64_t i = 0; i < ga; i++) {
    const int64_t a = sa[i];
    for (int64_t j = 0; j < gb; j++) {
      const int64_t b = sb[j];
      const int64_t lo = a + b - n > 1 ? a + b - n : 1, hi = a < b ? a : b;
      const double base = lf[a] + lf[b] + lf[n - a] + lf[n - b] - lf[n];
      const double ln_ab = log((double)a) + log((double)b);
      double cell = 0.0;
      for (int64_t k = lo; k <= hi; k++) {
        const double lp = base - lf[k] - lf[a - k] - lf[b - k] - lf[n - a - b + k];
        const double lk = log((double)k);
        cell += ((double)k / dn) * (lk + ln_n - ln_ab) * exp(lp);
      }
      total += (double)ca[i] * (double)cb[j] * cell;
    }
  }
  *emi = total;

cleanup:
  free(lf);
  free(cb);
  free(sb);
  free(ca);
  free(sa);
  return st;
}

/* (mi - emi) / (norm - emi), with the degenerate 0/0 case as 0 (see the top comment). */
static double adjusted(double mi, double emi, double norm) {
  double den = norm - emi;
  double tol = 1e-12 * (norm > 1.0 ? norm : 1.0);
  if (fabs(den) <= tol) return 0.0;
  return (mi - emi) / den;
}

bfcr_status bfcr_ami_detail(const int64_t *a, const int64_t *b, int64_t n, bfcr_ami_result *r) {
  if (!a || !b || !r || n < 1) return BFCR_ERR_ARG;
  if ((uint64_t)n > SIZE_MAX / (2 * sizeof(ami_cell))) return BFCR_ERR_NOMEM;
  bfcr_status st = BFCR_OK;
  int64_t *ida = malloc((size_t)n * sizeof *ida), *idb = malloc((size_t)n * sizeof *idb);
  int64_t *work = malloc((size_t)n * sizeof *work);
  ami_cell *cells = malloc((size_t)n * sizeof *cells);
  int64_t *rows = NULL, *cols = NULL;
  if (!ida || !idb || !work || !cells) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  int64_t ka, kb;
  dense_ids(a, n, work, ida, &ka);
  dense_ids(b, n, work, idb, &kb);
  rows = calloc((size_t)ka, sizeof *rows);
  cols = calloc((size_t)kb, sizeof *cols);
  if (!rows || !cols) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) {
    cells[i].a = ida[i];
    cells[i].b = idb[i];
    rows[ida[i]]++;
    cols[idb[i]]++;
  }
  qsort(cells, (size_t)n, sizeof *cells, cmp_cell);

  /* MI over the nonzero cells, in (id_a, id_b) order. */
  const double dn = (double)n, ln_n = log(dn);
  double mi = 0.0;
  int64_t nnz = 0;
  for (int64_t s = 0; s < n;) {
    int64_t e = s + 1;
    while (e < n && cells[e].a == cells[s].a && cells[e].b == cells[s].b) e++;
    const double nij = (double)(e - s);
    mi += (nij / dn) *
          (log(nij) + ln_n - log((double)rows[cells[s].a]) - log((double)cols[cells[s].b]));
    nnz++;
    s = e;
  }
  if (mi < 0.0) mi = 0.0;

  r->n = n;
  r->classes_a = ka;
  r->classes_b = kb;
  r->mi = mi;
  r->h_a = entropy(rows, ka, n);
  r->h_b = entropy(cols, kb, n);
  st = bfcr_ami_expected_mi(rows, ka, cols, kb, n, &r->emi);
  if (st != BFCR_OK) goto cleanup;
  if (ka == kb && nnz == ka) {
    /* One nonzero cell per row and per column: the same partition. */
    r->ami_arithmetic = r->ami_max = r->ami_geometric = r->ami_min = 1.0;
  } else {
    const double ha = r->h_a, hb = r->h_b, emi = r->emi;
    r->ami_arithmetic = adjusted(mi, emi, 0.5 * (ha + hb));
    r->ami_max = adjusted(mi, emi, ha > hb ? ha : hb);
    r->ami_geometric = adjusted(mi, emi, sqrt(ha * hb));
    r->ami_min = adjusted(mi, emi, ha < hb ? ha : hb);
  }

cleanup:
  free(cols);
  free(rows);
  free(cells);
  free(work);
  free(idb);
  free(ida);
  return st;
}

bfcr_status bfcr_ami(const int64_t *a, const int64_t *b, int64_t n, double *ami) {
  if (!ami) return BFCR_ERR_ARG;
  bfcr_ami_result r;
  bfcr_status st = bfcr_ami_detail(a, b, n, &r);
  if (st == BFCR_OK) *ami = r.ami_arithmetic;
  return st;
}
