/* Benchmark of the distributed exact best-friend search (lib/knn/knn_dist.c) on blob data:
 * 16 centres ~ N(0, 10^2 I), rows = centre + N(0, 1.5^2 I). Row g is generated from (seed, g)
 * alone, so each rank makes only its own block and the data do not depend on P.
 *
 * Usage: mpirun -np P bench_knn_dist N D [REPS [THREADS [check]]]
 *   per repetition: the time of every phase (max and min over ranks), bytes sent, boundary
 *   queries (total, and queries_max: the busiest rank's); the repetition with the median
 *   total is printed last as one "result" line.
 *   "check" also runs bfcr_knn_allnn on the whole matrix on rank 0 (serial time) and
 *   compares bf and dist2 bit for bit (rank 0 then holds all n rows).
 * N may also be csv:PATH[:TARGET]: the rows of a headed, all-numeric CSV file (TARGET, a
 * 0-based column index, is dropped; default none), z-scored per column as `bfcr fit` does;
 * D is then ignored (the file's columns). Every rank reads the file and keeps its block.
 * queries_max is the busiest sender, answered_max the busiest answerer of boundary queries.
 * Run with OPENBLAS_NUM_THREADS=1 and OMPI_MCA_pml=ob1 (docs/knn-distributed.md). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <mpi.h>

#include "knn/knn.h"
#include "knn/knn_dist.h"

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rng_gauss(uint64_t *s) {
  double u = ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53;
  double v = ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53;
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

/* Rows [lo, hi) of the blob data set. */
static double *blob_rows(int64_t lo, int64_t hi, int d, uint64_t seed) {
  double *c = malloc(16 * (size_t)d * sizeof(double));
  double *X = malloc((size_t)(hi - lo) * (size_t)d * sizeof(double) + 1);
  uint64_t s = seed;
  for (int i = 0; i < 16 * d; i++) c[i] = 10.0 * rng_gauss(&s);
  for (int64_t g = lo; g < hi; g++) {
    uint64_t r = seed ^ ((uint64_t)g * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
    rng_next(&r);
    int b = (int)(rng_next(&r) >> 60);
    for (int k = 0; k < d; k++) X[(g - lo) * d + k] = c[b * d + k] + 1.5 * rng_gauss(&r);
  }
  free(c);
  return X;
}

/* Rows [lo, hi) of a CSV file (spec "PATH[:TARGET]"), z-scored over all rows; *n_out and
 * *d_out get the file's size. NULL when it cannot be read. */
static double *csv_rows(const char *spec, int P, int rank, int64_t *n_out, int *d_out,
                        int64_t *lo_out, int64_t *hi_out) {
  char path[4096];
  snprintf(path, sizeof path, "%s", spec);
  int target = -1;
  char *colon = strrchr(path, ':');
  if (colon && colon[1] >= '0' && colon[1] <= '9') {
    target = atoi(colon + 1);
    *colon = 0;
  }
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  static char line[1 << 16];
  if (!fgets(line, sizeof line, f)) {
    fclose(f);
    return NULL;
  }
  int cols = 1;
  for (char *c = line; *c; c++) cols += *c == ',';
  const int d = cols - (target >= 0 && target < cols);
  size_t cap = 1024, n = 0;
  double *X = malloc(cap * (size_t)d * sizeof(double));
  while (X && fgets(line, sizeof line, f)) {
    if (n == cap) {
      cap *= 2;
      double *Y = realloc(X, cap * (size_t)d * sizeof(double));
      if (!Y) break;
      X = Y;
    }
    char *c = line;
    for (int j = 0, k = 0; j < cols; j++) {
      double v = strtod(c, &c);
      if (*c == ',') c++;
      if (j != target) X[n * (size_t)d + (size_t)k++] = v;
    }
    n++;
  }
  fclose(f);
  if (!X) return NULL;
  for (int k = 0; k < d; k++) {
    double m = 0.0, v = 0.0;
    for (size_t i = 0; i < n; i++) m += X[i * (size_t)d + (size_t)k];
    m /= (double)n;
    for (size_t i = 0; i < n; i++) v += pow(X[i * (size_t)d + (size_t)k] - m, 2);
    const double sd = v > 0.0 ? sqrt(v / (double)n) : 1.0;
    for (size_t i = 0; i < n; i++)
      X[i * (size_t)d + (size_t)k] = (X[i * (size_t)d + (size_t)k] - m) / sd;
  }
  const int64_t lo = (int64_t)n * rank / P, hi = (int64_t)n * (rank + 1) / P;
  memmove(X, X + lo * d, (size_t)(hi - lo) * (size_t)d * sizeof(double));
  *n_out = (int64_t)n;
  *d_out = d;
  *lo_out = lo;
  *hi_out = hi;
  return X;
}

int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank, P;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  if (argc < 3) {
    if (rank == 0) fprintf(stderr, "usage: bench_knn_dist N D [REPS [THREADS [check]]]\n");
    MPI_Finalize();
    return 2;
  }
  const int from_csv = !strncmp(argv[1], "csv:", 4);
  int64_t n = from_csv ? 0 : atoll(argv[1]);
  int d = atoi(argv[2]);
  const int reps = argc > 3 ? atoi(argv[3]) : 3;
  const int threads = argc > 4 ? atoi(argv[4]) : 1;
  const int check = argc > 5 && !strcmp(argv[5], "check");
  const uint64_t seed = 20240611;
  bfcr_ctx *ctx = NULL;
  if (bfcr_ctx_create(MPI_COMM_WORLD, &ctx) != BFCR_OK) MPI_Abort(MPI_COMM_WORLD, 1);
  bfcr_ctx_set_threads(ctx, threads);
  int64_t lo = n * rank / P, hi = n * (rank + 1) / P;
  double *Z =
      from_csv ? csv_rows(argv[1] + 4, P, rank, &n, &d, &lo, &hi) : blob_rows(lo, hi, d, seed);
  if (!Z) {
    fprintf(stderr, "error: cannot read %s\n", argv[1] + 4);
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  int64_t *bf = malloc((size_t)n * sizeof(int64_t));
  double *d2 = malloc((size_t)n * sizeof(double));
  double *tot = malloc((size_t)(reps > 0 ? reps : 1) * sizeof(double));
  /* Per repetition: max and min over ranks of the phases, sum of bytes and queries. */
  double(*row)[17] = malloc((size_t)(reps > 0 ? reps : 1) * sizeof(*row));
  for (int r = 0; r < reps; r++) {
    bfcr_knn_dist_stats s;
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    bfcr_status st = bfcr_knn_allnn_dist_stats(ctx, Z, hi - lo, lo, n, d, bf, d2, &s);
    double t = MPI_Wtime() - t0;
    if (st != BFCR_OK) {
      if (rank == 0) fprintf(stderr, "error: %s\n", bfcr_ctx_errmsg(ctx));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    double ph[8] = {s.sec_partition, s.sec_local, s.sec_remote, s.sec_gather, t,
                    s.cpu_local,     s.cpu_total, s.cpu_remote};
    double mx[8], mn[8],
        cnt[5] = {(double)s.bytes_sent, (double)s.queries_sent, (double)s.rows_searched,
                  (double)s.rows_searched, (double)s.queries_answered};
    double sum[5], rmax[5];
    MPI_Allreduce(ph, mx, 8, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    MPI_Allreduce(ph, mn, 8, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(cnt, sum, 5, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(cnt, rmax, 5, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    tot[r] = mx[4];
    for (int k = 0; k < 4; k++) {
      row[r][2 * k] = mx[k];
      row[r][2 * k + 1] = mn[k];
    }
    row[r][8] = sum[0];
    row[r][9] = sum[1];
    row[r][10] = rmax[2];
    row[r][11] = (double)s.method;
    row[r][12] = mx[5];
    row[r][13] = mx[6];
    row[r][14] = mx[7];
    row[r][15] = rmax[1];
    row[r][16] = rmax[4];
    if (rank == 0)
      printf(
          "rep %d: P=%d n=%lld d=%d T=%d method=%d total %.3f s | partition %.3f/%.3f local "
          "%.3f/%.3f remote %.3f/%.3f gather %.3f/%.3f (max/min over ranks) | %.1f MB sent, "
          "%.0f boundary queries, largest slab %.0f rows | cpu local %.3f/%.3f remote %.3f/%.3f "
          "total %.3f/%.3f\n",
          r, P, (long long)n, d, threads, s.method, mx[4], mx[0], mn[0], mx[1], mn[1], mx[2], mn[2],
          mx[3], mn[3], sum[0] / 1e6, sum[1], rmax[2], mx[5], mn[5], mx[7], mn[7], mx[6], mn[6]);
  }
  if (reps > 0 && rank == 0) {
    int med = 0;
    for (int r = 0; r < reps; r++) {
      int below = 0;
      for (int q = 0; q < reps; q++) below += tot[q] < tot[r] || (tot[q] == tot[r] && q < r);
      if (below == reps / 2) med = r;
    }
    const double *m = row[med];
    printf(
        "result P=%d n=%lld d=%d T=%d method=%.0f total_s=%.3f partition_s=%.3f/%.3f "
        "local_s=%.3f/%.3f remote_s=%.3f/%.3f gather_s=%.3f/%.3f bytes=%.0f queries=%.0f "
        "queries_max=%.0f answered_max=%.0f max_slab=%.0f cpu_local_max=%.3f cpu_remote_max=%.3f "
        "cpu_total_max=%.3f\n",
        P, (long long)n, d, threads, m[11], tot[med], m[0], m[1], m[2], m[3], m[4], m[5], m[6],
        m[7], m[8], m[9], m[15], m[16], m[10], m[12], m[14], m[13]);
  }
  if (reps > 0 && rank == 0) {
    double sum = 0.0;
    for (int64_t i = 0; i < n; i++) sum += sqrt(d2[i]);
    printf("mean best-friend distance %.4f\n", sum / (double)n);
  }
  if (check) {
    int bad = 0;
    if (rank == 0) {
      int64_t n2 = n, lo2, hi2;
      int d2c = d;
      double *X =
          from_csv ? csv_rows(argv[1] + 4, 1, 0, &n2, &d2c, &lo2, &hi2) : blob_rows(0, n, d, seed);
      int64_t *bf0 = malloc((size_t)n * sizeof(int64_t));
      double *e0 = malloc((size_t)n * sizeof(double));
      double t0 = MPI_Wtime();
      bfcr_knn_allnn(X, n, d, threads, bf0, e0);
      double ts = MPI_Wtime() - t0;
      for (int64_t i = 0; i < n; i++) bad += bf0[i] != bf[i] || memcmp(&e0[i], &d2[i], 8) != 0;
      printf("check: serial bfcr_knn_allnn %.3f s, %d rows differ\n", ts, bad);
      free(X);
      free(bf0);
      free(e0);
    }
    MPI_Bcast(&bad, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (bad) {
      bfcr_ctx_destroy(&ctx);
      MPI_Finalize();
      return 1;
    }
  }
  free(Z);
  free(bf);
  free(d2);
  free(tot);
  free(row);
  bfcr_ctx_destroy(&ctx);
  MPI_Finalize();
  return 0;
}
