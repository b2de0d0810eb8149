/* ranks: 1 2 3 4 */
/* The canonical reduction over P ranks with uneven (and empty) parts equals the
 * single-process value bit for bit. */
#include <stdlib.h>

#include "mpitest.h"
#include "par/reduce.h"

static void elem(void *u, int64_t i, double *out) { out[0] = ((const double *)u)[i]; }
static void add(void *u, const double *a, const double *b, double *out) {
  (void)u;
  out[0] = a[0] + b[0];
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  for (int64_t n = 1; n < 5000; n = n * 2 + 3) {
    double *x = malloc(n * sizeof *x);
    srand((unsigned)n);
    for (int64_t i = 0; i < n; i++) x[i] = ((double)rand() / RAND_MAX - 0.5) * 1e9 + 1e-4 * i;
    bfcr_reducer r = {1, elem, add, x};
    double *scratch = malloc(bfcr_reduce_scratch_len(&r) * sizeof(double));
    double seq, dist;
    bfcr_reduce_local(&r, n, &seq, scratch);
    /* uneven split: rank p holds [b_p, b_{p+1}) with b_p ~ n p^2 / P^2 (rank 0 may be empty) */
    int64_t lo = n * rank * rank / (P * P), hi = n * (rank + 1) * (rank + 1) / (P * P);
    MT_CHECK(bfcr_reduce_dist(ctx, &r, n, lo, hi, &dist) == BFCR_OK, "status");
    MT_CHECK(seq == dist, "n=%ld: %.17g vs %.17g", (long)n, seq, dist);
    free(scratch);
    free(x);
  }
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_reduce");
}
