/* CSV read throughput: bfcr_data_read_csv on a numeric file (MB/s, median of 5), and
 * the number parser alone (numbers/s, against strtod), on one core per rank.
 *
 * Usage: bench_csv [file.csv [rows]]   (mpiexec -n P bench_csv ... for P ranks)
 * Without a file, writes /tmp/bfcr-bench-<pid>.csv: rows (default 1,000,000) x 9
 * columns of random decimals with 1-4 integer and 6 fraction digits (about 100 MB),
 * header x1..x8,y, and removes it at the end. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/numparse.h"

static uint64_t rng = 88172645463325252ull;
static uint64_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return rng;
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median5(double *t) {
  qsort(t, 5, sizeof *t, cmp_d);
  return t[2];
}

static int write_numeric(const char *path, long rows) {
  FILE *f = fopen(path, "wb");
  if (!f) return -1;
  fputs("x1,x2,x3,x4,x5,x6,x7,x8,y\n", f);
  for (long i = 0; i < rows; i++) {
    for (int j = 0; j < 9; j++) {
      long v = (long)(next() % 20000000000ull) - 10000000000L; /* up to 4 + 6 digits */
      fprintf(f, "%s%ld.%06ld%c", v < 0 ? "-" : "", labs(v) / 1000000, labs(v) % 1000000,
              j == 8 ? '\n' : ',');
    }
  }
  return fclose(f);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank, size;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char path[512];
  int own = argc < 2;
  long rows = argc > 2 ? atol(argv[2]) : 1000000;
  if (own) {
    long pid = (long)getpid();
    MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    snprintf(path, sizeof path, "/tmp/bfcr-bench-%ld.csv", pid);
    int rc = rank == 0 ? write_numeric(path, rows) : 0;
    MPI_Bcast(&rc, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (rc != 0) {
      if (rank == 0) fprintf(stderr, "cannot write %s\n", path);
      MPI_Finalize();
      return 1;
    }
  } else {
    snprintf(path, sizeof path, "%s", argv[1]);
  }
  FILE *f = fopen(path, "rb");
  long bytes = 0;
  if (f) {
    fseek(f, 0, SEEK_END);
    bytes = ftell(f);
    fclose(f);
  }
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  double t[5], c[5];
  int64_t n = 0;
  int d = 0;
  for (int k = 0; k < 5; k++) {
    bfcr_data *data = NULL;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    clock_t c0 = clock();
    bfcr_status st = bfcr_data_read_csv(ctx, path, &p, NULL, &data);
    c[k] = (double)(clock() - c0) / CLOCKS_PER_SEC;
    MPI_Barrier(MPI_COMM_WORLD);
    t[k] = MPI_Wtime() - t0;
    if (st != BFCR_OK) {
      if (rank == 0) fprintf(stderr, "read failed: %s\n", bfcr_ctx_errmsg(ctx));
      MPI_Finalize();
      return 1;
    }
    n = bfcr_data_global_rows(data);
    d = bfcr_data_features(data);
    bfcr_data_destroy(&data);
  }
  double med = median5(t), cmed = median5(c);
  if (rank == 0) {
    printf("file %s: %.1f MB, %lld rows x %d columns, %d rank(s)\n", path, bytes / 1e6,
           (long long)n, d, size);
    printf(
        "bfcr_data_read_csv: median %.3f s (min %.3f, max %.3f) = %.1f MB/s wall; rank 0 CPU "
        "time %.3f s = %.1f MB/s\n",
        med, t[0], t[4], bytes / 1e6 / med, cmed, bytes / 1e6 / cmed);
  }

  /* Parser alone on rank 0: the tokens of the first 16 MB, parsed 5 times. */
  if (rank == 0) {
    size_t cap = 16u << 20, len = 0;
    char *buf = malloc(cap);
    f = fopen(path, "rb");
    if (buf && f) len = fread(buf, 1, cap, f);
    if (f) fclose(f);
    char *nl = memchr(buf, '\n', len);
    size_t start = nl ? (size_t)(nl - buf) + 1 : len;
    while (len > start && buf[len - 1] != '\n') len--;
    size_t ntok = 0;
    for (size_t i = start; i < len; i++) ntok += buf[i] == ',' || buf[i] == '\n';
    size_t *tb = malloc(ntok * sizeof *tb), *tl = malloc(ntok * sizeof *tl);
    size_t k = 0, b = start;
    for (size_t i = start; i < len; i++)
      if (buf[i] == ',' || buf[i] == '\n') {
        tb[k] = b;
        tl[k++] = i - b;
        buf[i] = '\0'; /* strtod needs terminators */
        b = i + 1;
      }
    double tp[5], ts[5], sink = 0;
    for (int r = 0; r < 5; r++) {
      clock_t t0 = clock(); /* CPU time: the machine is shared */
      for (size_t i = 0; i < ntok; i++) {
        double v;
        if (bfcr_parse_double(buf + tb[i], tl[i], &v) == BFCR_NUM_OK) sink += v;
      }
      tp[r] = (double)(clock() - t0) / CLOCKS_PER_SEC;
      t0 = clock();
      for (size_t i = 0; i < ntok; i++) sink += strtod(buf + tb[i], NULL);
      ts[r] = (double)(clock() - t0) / CLOCKS_PER_SEC;
    }
    double mp = median5(tp), ms = median5(ts);
    printf(
        "number parse, CPU time (%zu tokens): bfcr_parse_double %.1f M/s (%.1f MB/s), strtod "
        "%.1f M/s "
        "[checksum %g]\n",
        ntok, ntok / mp / 1e6, (len - start) / mp / 1e6, ntok / ms / 1e6, sink);
    free(tb);
    free(tl);
    free(buf);
  }
  bfcr_ctx_destroy(&ctx);
  if (own && rank == 0) unlink(path);
  MPI_Finalize();
  return 0;
}
