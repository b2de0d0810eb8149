/* ranks: 1 2 3 4 */
/* Reductions over many contiguous ranges kept on their owners (bfcr_reduce_ranges_own),
 * two levels deep as the regression summaries of a tree are: level A reduces ranges of
 * positions, level B reduces ranges of level A's nodes from their owned values alone.
 * Every value equals the one-process sequential reduction bit for bit, for uneven parts
 * (some empty), ranges of one element and ranges spanning several parts; the owned runs
 * tile the ranges in rank order, and bfcr_reduce_ranges_dist replicates the same bits. */
#include <stdlib.h>
#include <string.h>

#include "mpitest.h"
#include "par/reduce_ranges.h"

typedef struct src {
  const double *x; /* level A: element values by position */
  int64_t lo;      /* first position (or node) held in x */
} src;

static void elem(void *u, int64_t pos, double *out) {
  const src *s = u;
  out[0] = s->x[pos - s->lo];
}
static void add(void *u, const double *a, const double *b, double *out) {
  (void)u;
  out[0] = a[0] + b[0];
}

/* Ranges over [0, n): random lengths in [1, maxlen], start[m] = n. */
static int64_t make_ranges(int64_t n, int64_t maxlen, unsigned seed, int64_t *start) {
  int64_t m = 0, p = 0;
  srand(seed);
  while (p < n) {
    start[m++] = p;
    p += 1 + rand() % maxlen;
    if (p > n) p = n;
  }
  start[m] = n;
  return m;
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  static const int64_t sizes[] = {1, 7, 100, 1000, 5003};
  static const int64_t maxlens[] = {1, 3, 40, 2000};
  for (size_t a = 0; a < sizeof sizes / sizeof *sizes; a++) {
    for (size_t b = 0; b < sizeof maxlens / sizeof *maxlens; b++) {
      int64_t n = sizes[a];
      double *x = malloc((size_t)n * sizeof *x), scratch[2 * 64];
      int64_t *sa = malloc((size_t)(n + 1) * sizeof *sa),
              *sb = malloc((size_t)(n + 1) * sizeof *sb);
      srand((unsigned)(n + 17 * b));
      for (int64_t i = 0; i < n; i++) x[i] = ((double)rand() / RAND_MAX - 0.5) * 1e9 + 1e-4 * i;
      int64_t ma = make_ranges(n, maxlens[b], (unsigned)(n * 31 + b), sa);
      int64_t mb = make_ranges(ma, maxlens[(b + 1) % 4], (unsigned)(n * 7 + b), sb);
      /* one-process reference: level A over positions, level B over A's values */
      double *ra = malloc((size_t)ma * sizeof *ra), *rb = malloc((size_t)mb * sizeof *rb);
      src whole = {x, 0};
      bfcr_reducer r = {1, elem, add, &whole};
      for (int64_t i = 0; i < ma; i++) {
        whole.x = x + sa[i];
        bfcr_reduce_local(&r, sa[i + 1] - sa[i], ra + i, scratch);
      }
      for (int64_t i = 0; i < mb; i++) {
        whole.x = ra + sb[i];
        bfcr_reduce_local(&r, sb[i + 1] - sb[i], rb + i, scratch);
      }
      /* uneven parts: rank p holds [n p^2 / P^2, n (p+1)^2 / P^2) (rank 0 may be empty) */
      int64_t lo = n * rank * rank / (P * P), hi = n * (rank + 1) * (rank + 1) / (P * P);
      int64_t a0, a1, b0, b1;
      bfcr_owned_ranges(sa, ma, lo, hi, &a0, &a1);
      bfcr_owned_ranges(sb, mb, a0, a1, &b0, &b1);
      double *oa = malloc((size_t)(a1 > a0 ? a1 - a0 : 1) * sizeof *oa);
      double *ob = malloc((size_t)(b1 > b0 ? b1 - b0 : 1) * sizeof *ob);
      double *all = malloc((size_t)ma * sizeof *all);
      src part = {x + lo, lo}, owned = {oa, a0};
      MT_CHECK(bfcr_reduce_ranges_own(ctx, 1, elem, add, &part, ma, sa, lo, hi, oa) == BFCR_OK,
               "level A status");
      MT_CHECK(bfcr_reduce_ranges_own(ctx, 1, elem, add, &owned, mb, sb, a0, a1, ob) == BFCR_OK,
               "level B status");
      MT_CHECK(bfcr_reduce_ranges_dist(ctx, 1, elem, add, &part, ma, sa, lo, hi, all) == BFCR_OK,
               "replicated status");
      for (int64_t i = a0; i < a1; i++)
        MT_CHECK(oa[i - a0] == ra[i], "n=%ld A[%ld]: %.17g vs %.17g", (long)n, (long)i, oa[i - a0],
                 ra[i]);
      for (int64_t i = b0; i < b1; i++)
        MT_CHECK(ob[i - b0] == rb[i], "n=%ld B[%ld]: %.17g vs %.17g", (long)n, (long)i, ob[i - b0],
                 rb[i]);
      MT_CHECK(memcmp(all, ra, (size_t)ma * sizeof *ra) == 0, "n=%ld: replicated values", (long)n);
      /* the owned runs tile [0, m) in rank order */
      int64_t run[4] = {a0, a1, b0, b1}, *runs = malloc((size_t)P * 4 * sizeof *runs);
      MPI_Allgather(run, 4, MPI_INT64_T, runs, 4, MPI_INT64_T, MPI_COMM_WORLD);
      MT_CHECK(runs[0] == 0 && runs[2] == 0 && runs[4 * (P - 1) + 1] == ma &&
                   runs[4 * (P - 1) + 3] == mb,
               "n=%ld: owned runs do not cover the ranges", (long)n);
      for (int q = 1; q < P; q++)
        MT_CHECK(runs[4 * q] == runs[4 * q - 3] && runs[4 * q + 2] == runs[4 * q - 1],
                 "n=%ld: owned runs of ranks %d and %d are not adjacent", (long)n, q - 1, q);
      free(runs);
      free(all);
      free(oa);
      free(ob);
      free(ra);
      free(rb);
      free(sa);
      free(sb);
      free(x);
    }
  }
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_reduce_ranges");
}
