/* Canonical reductions: any split of the positions gives bit-identical results. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>

#include "par/reduce.h"
#include "testutil.h"

static void elem(void *u, int64_t i, double *out) { out[0] = ((const double *)u)[i]; }
static void add(void *u, const double *a, const double *b, double *out) {
  (void)u;
  out[0] = a[0] + b[0];
}

Test(reduce, parallel_equals_sequential_equals_split) {
  bfcr_ctx *ctx = tu_ctx();
  for (int64_t n = 1; n < 3000; n = n * 3 + 1) {
    double *x = malloc(n * sizeof *x);
    srand((unsigned)n);
    for (int64_t i = 0; i < n; i++) x[i] = ((double)rand() / RAND_MAX - 0.5) * 1e8 + 1e-3 * i;
    bfcr_reducer r = {1, elem, add, x};
    double *scratch = malloc(bfcr_reduce_scratch_len(&r) * sizeof(double));
    double seq, par, dist;
    bfcr_reduce_local(&r, n, &seq, scratch);
    cr_assert_eq(bfcr_reduce_local_par(ctx, &r, n, 2, &par), BFCR_OK);
    cr_assert_eq(seq, par, "n=%ld", (long)n);
    /* one rank holding everything goes through the partial-node path */
    cr_assert_eq(bfcr_reduce_dist(ctx, &r, n, 0, n, &dist), BFCR_OK);
    cr_assert_eq(seq, dist);
    free(scratch);
    free(x);
  }
  tu_ctx_free(&ctx);
}

Test(reduce, pairwise_sum_is_accurate) {
  bfcr_ctx *ctx = tu_ctx();
  int64_t n = 1 << 20;
  double *x = malloc(n * sizeof *x);
  for (int64_t i = 0; i < n; i++) x[i] = 0.1;
  double s;
  cr_assert_eq(bfcr_reduce_colsums(ctx, x, n, 1, 1, n, 0, &s), BFCR_OK);
  cr_assert(fabs(s - 0.1 * n) < 1e-9, "%.17g", s);
  free(x);
  tu_ctx_free(&ctx);
}
