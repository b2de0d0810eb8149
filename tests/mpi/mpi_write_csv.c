/* ranks: 1 2 3 4 */
/* bfcr_write_columns_csv from P ranks (uneven blocks, an empty rank, several chunks
 * per rank) gives the same bytes as one rank writing all rows; errors reach every rank. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "mpitest.h"

enum { N = 100003 };

static double xval(int64_t i) {
  if (i % 97 == 0) return -0.0;
  if (i % 89 == 0) return 1e-310 * (double)(i % 7 + 1); /* subnormal */
  return sin(0.37 * (double)i) * pow(10.0, (double)(i % 41) - 20.0);
}
static int64_t idval(int64_t i) {
  if (i == 5) return INT64_MIN;
  if (i == 6) return INT64_MAX;
  return (i % 2 ? -1 : 1) * i * 1234567891011LL;
}

/* Rank r holds rows [lo, hi): weights r + 1, with rank 1 empty when P >= 3. */
static void block(int r, int p, int64_t *lo, int64_t *hi) {
  int64_t wsum = 0, before = 0;
  for (int q = 0; q < p; q++) {
    int64_t w = (p >= 3 && q == 1) ? 0 : q + 1;
    if (q < r) before += w;
    wsum += w;
  }
  int64_t w = (p >= 3 && r == 1) ? 0 : r + 1;
  *lo = N * before / wsum;
  *hi = N * (before + w) / wsum;
}

static void fill(int64_t lo, int64_t hi, double **x, int64_t **id, double **y) {
  int64_t n = hi - lo;
  *x = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  *id = malloc((size_t)(n > 0 ? n : 1) * sizeof(int64_t));
  *y = malloc((size_t)(n > 0 ? n : 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    (*x)[i] = xval(lo + i);
    (*id)[i] = idval(lo + i);
    (*y)[i] = (double)(lo + i) / 3.0;
  }
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bfcr_ctx *ctx = NULL;
  MT_CHECK(bfcr_ctx_create(MPI_COMM_WORLD, &ctx) == BFCR_OK, "context");

  char dir[256] = "/tmp/bfcr-mpicsv-XXXXXX";
  if (rank == 0 && !mkdtemp(dir)) dir[0] = '\0';
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  char par[300], one[300];
  snprintf(par, sizeof par, "%s/par.csv", dir);
  snprintf(one, sizeof one, "%s/one.csv", dir);

  int64_t lo, hi;
  block(rank, size, &lo, &hi);
  double *x, *y;
  int64_t *id;
  fill(lo, hi, &x, &id, &y);
  bfcr_column cols[] = {{"x", BFCR_COLTYPE_DOUBLE, x},
                        {"id", BFCR_COLTYPE_INT64, id},
                        {"y/3", BFCR_COLTYPE_DOUBLE, y}};
  bfcr_status st = bfcr_write_columns_csv(ctx, par, 3, cols, hi - lo);
  MT_CHECK(st == BFCR_OK, "write from %d ranks: %s", size, bfcr_ctx_errmsg(ctx));

  if (rank == 0) {
    /* The reference: one process, all rows. */
    bfcr_ctx *self = NULL;
    MT_CHECK(bfcr_ctx_create(MPI_COMM_SELF, &self) == BFCR_OK, "self context");
    double *ax, *ay;
    int64_t *aid;
    fill(0, N, &ax, &aid, &ay);
    bfcr_column all[] = {{"x", BFCR_COLTYPE_DOUBLE, ax},
                         {"id", BFCR_COLTYPE_INT64, aid},
                         {"y/3", BFCR_COLTYPE_DOUBLE, ay}};
    MT_CHECK(bfcr_write_columns_csv(self, one, 3, all, N) == BFCR_OK, "%s", bfcr_ctx_errmsg(self));
    long la = 0, lb = 0;
    char *a = (char *)mt_slurp(par, &la), *b = (char *)mt_slurp(one, &lb);
    MT_CHECK(a && b && la == lb && la > 0 && memcmp(a, b, (size_t)la) == 0,
             "%d-rank file (%ld bytes) differs from the 1-rank file (%ld bytes)", size, la, lb);
    if (a) {
      long lines = 0;
      for (long i = 0; i < la; i++) lines += a[i] == '\n';
      MT_CHECK(lines == N + 1, "%ld lines, %d expected", lines, N + 1);
      MT_CHECK(strncmp(a, "x,id,y/3\n-0,0,0\n", 16) == 0, "unexpected start: %.40s", a);
    }
    free(a);
    free(b);
    free(ax);
    free(ay);
    free(aid);
    bfcr_ctx_destroy(&self);
  }

  /* An error on rank 0 only (missing folder) reaches every rank. */
  st = bfcr_write_columns_csv(ctx, "/nonexistent-bfcr/out.csv", 3, cols, hi - lo);
  MT_CHECK(st == BFCR_ERR_IO, "missing folder gave %d", st);
  MT_CHECK(strstr(bfcr_ctx_errmsg(ctx), "/nonexistent-bfcr/out.csv") != NULL, "message: %s",
           bfcr_ctx_errmsg(ctx));
  /* A bad argument on the last rank only: every rank fails, the earlier file stays. */
  bfcr_column badcols[3];
  memcpy(badcols, cols, sizeof cols);
  if (rank == size - 1) badcols[1].type = (bfcr_coltype)9;
  st = bfcr_write_columns_csv(ctx, par, 3, badcols, hi - lo);
  MT_CHECK(st == BFCR_ERR_ARG, "bad type on rank %d gave %d", size - 1, st);
  /* Ranks disagreeing on the column count. */
  st = bfcr_write_columns_csv(ctx, par, rank == size - 1 && size > 1 ? 2 : 3, cols, hi - lo);
  MT_CHECK(st == (size > 1 ? BFCR_ERR_ARG : BFCR_OK), "column count mismatch gave %d", st);
  if (rank == 0 && size > 1) {
    long la = 0, lb = 0;
    char *a = (char *)mt_slurp(par, &la), *b = (char *)mt_slurp(one, &lb);
    MT_CHECK(a && b && la == lb && memcmp(a, b, (size_t)la) == 0, "earlier file changed");
    free(a);
    free(b);
  }

  if (rank == 0) {
    unlink(par);
    unlink(one);
    rmdir(dir);
  }
  free(x);
  free(y);
  free(id);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_write_csv");
}
