/* Roofline reference for the scaling report: the machine's measured DGEMM rate (one core,
 * and all cores) and STREAM-like triad memory bandwidth (one core, all cores), and with
 * two or more MPI ranks a ping-pong between ranks 0 and 1 (latency and bandwidth) that
 * calibrates the communication term of bench/scaling's performance model.
 *
 * What: DGEMM C = A B^T on N x N doubles through cblas_dgemm, counted analytically as
 * 2 N^3 flops; "all cores" is measured two ways: every OpenMP thread running its own
 * single-threaded DGEMM (how bfcr uses BLAS: OpenMP outside, one BLAS thread inside) and
 * one DGEMM on OpenBLAS's own threads. Triad a[i] = b[i] + s c[i] on arrays much larger
 * than the last-level cache, counted as 24 bytes per element (STREAM's convention: no
 * write-allocate traffic). Every figure is the best of R repetitions (STREAM's habit: the
 * best run is the one least disturbed by other work on a shared machine); the median is
 * printed beside it.
 *
 * Usage: bench_roofline [--n N] [--elements E] [--reps R] [--threads T] [--json FILE]
 *        mpirun -np 2 bench_roofline --pingpong-only [--json FILE]
 * Defaults: N = 1500, E = 2^25 (256 MiB per array), R = 5, T = OpenMP's default.
 * Output: a human summary on stdout and, with --json, one JSON object (rank 0 only). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <mpi.h>
#include <omp.h>

typedef struct rates {
  double best, median;
} rates;

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Best and median of R rates (the array is sorted in place). */
static rates summarize(double *v, int r) {
  qsort(v, (size_t)r, sizeof *v, cmp_double);
  rates out = {v[r - 1], r % 2 ? v[r / 2] : 0.5 * (v[r / 2 - 1] + v[r / 2])};
  return out;
}

static void fill(double *x, size_t n, double scale) {
  for (size_t i = 0; i < n; i++) x[i] = scale * (double)((i * 2654435761u) % 1000u) / 1000.0;
}

/* One N x N DGEMM per thread (each on its own matrices), OpenBLAS on one thread:
 * the aggregate rate of `threads` cores. Returns GFLOP/s summed over threads. */
static int dgemm_per_thread(int n, int threads, int reps, rates *out) {
  size_t nn = (size_t)n * (size_t)n;
  double *buf = malloc(3 * nn * (size_t)threads * sizeof *buf);
  double *r = malloc((size_t)reps * sizeof *r);
  if (!buf || !r) {
    free(buf);
    free(r);
    return -1;
  }
  openblas_set_num_threads(1);
#pragma omp parallel num_threads(threads)
  {
    double *A = buf + 3 * nn * (size_t)omp_get_thread_num();
    fill(A, nn, 1.0);
    fill(A + nn, nn, 0.5);
    fill(A + 2 * nn, nn, 0.0);
  }
  for (int k = 0; k <= reps; k++) { /* k = 0 warms up caches, pages and BLAS buffers */
    double t0 = 0, t1 = 0;
#pragma omp parallel num_threads(threads)
    {
      double *A = buf + 3 * nn * (size_t)omp_get_thread_num();
#pragma omp barrier
#pragma omp master
      t0 = omp_get_wtime();
      cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, A, n, A + nn, n, 0.0,
                  A + 2 * nn, n);
#pragma omp barrier
#pragma omp master
      t1 = omp_get_wtime();
    }
    if (k > 0) r[k - 1] = 2.0 * (double)n * (double)nn * threads / (t1 - t0) * 1e-9;
  }
  *out = summarize(r, reps);
  free(buf);
  free(r);
  return 0;
}

/* One N x N DGEMM on OpenBLAS's own `threads` threads. */
static int dgemm_blas_threads(int n, int threads, int reps, rates *out) {
  size_t nn = (size_t)n * (size_t)n;
  double *A = malloc(3 * nn * sizeof *A);
  double *r = malloc((size_t)reps * sizeof *r);
  if (!A || !r) {
    free(A);
    free(r);
    return -1;
  }
  fill(A, nn, 1.0);
  fill(A + nn, nn, 0.5);
  openblas_set_num_threads(threads);
  for (int k = 0; k <= reps; k++) {
    double t0 = omp_get_wtime();
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0, A, n, A + nn, n, 0.0,
                A + 2 * nn, n);
    double t = omp_get_wtime() - t0;
    if (k > 0) r[k - 1] = 2.0 * (double)n * (double)nn / t * 1e-9;
  }
  openblas_set_num_threads(1);
  *out = summarize(r, reps);
  free(A);
  free(r);
  return 0;
}

/* Triad on `threads` threads; arrays first touched by the threads that use them (the
 * same static schedule), so on a NUMA machine each thread streams its local memory. */
static int triad(size_t e, int threads, int reps, rates *out) {
  double *a = malloc(e * sizeof *a), *b = malloc(e * sizeof *b), *c = malloc(e * sizeof *c);
  double *r = malloc((size_t)reps * sizeof *r);
  if (!a || !b || !c || !r) {
    free(a), free(b), free(c), free(r);
    return -1;
  }
  long long ne = (long long)e;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (long long i = 0; i < ne; i++) {
    a[i] = 0.0;
    b[i] = 1.0 + (double)(i % 7);
    c[i] = 2.0 - (double)(i % 5);
  }
  const double s = 3.0;
  for (int k = 0; k <= reps; k++) {
    double t0 = omp_get_wtime();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (long long i = 0; i < ne; i++) a[i] = b[i] + s * c[i];
    double t = omp_get_wtime() - t0;
    if (k > 0) r[k - 1] = 24.0 * (double)e / t * 1e-9;
  }
  /* Check the result so the loop cannot be dropped, and a wrong kernel shows. */
  int bad = 0;
  for (size_t i = 0; i < e; i += e / 97 + 1)
    if (a[i] != b[i] + s * c[i]) bad = 1;
  *out = summarize(r, reps);
  free(a), free(b), free(c), free(r);
  return bad ? -1 : 0;
}

typedef struct pingpong {
  double latency_us, bandwidth_gbs;
  long long small_bytes, large_bytes;
} pingpong;

/* Half the round-trip time between ranks 0 and 1 (best of R batches) at 8 bytes
 * (latency) and 4 MiB (bandwidth). Other ranks only take part in the barriers. */
static int ping_pong(int rank, int reps, pingpong *out) {
  const int sizes[2] = {8, 4 << 20}, iters[2] = {2000, 40};
  char *buf = calloc((size_t)sizes[1], 1);
  if (!buf) return -1;
  double best[2] = {INFINITY, INFINITY};
  for (int s = 0; s < 2; s++) {
    for (int k = 0; k <= reps; k++) {
      MPI_Barrier(MPI_COMM_WORLD);
      double t0 = MPI_Wtime();
      for (int it = 0; it < iters[s]; it++) {
        if (rank == 0) {
          MPI_Send(buf, sizes[s], MPI_CHAR, 1, 0, MPI_COMM_WORLD);
          MPI_Recv(buf, sizes[s], MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else if (rank == 1) {
          MPI_Recv(buf, sizes[s], MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
          MPI_Send(buf, sizes[s], MPI_CHAR, 0, 0, MPI_COMM_WORLD);
        }
      }
      double t = (MPI_Wtime() - t0) / (2.0 * iters[s]);
      if (k > 0 && t < best[s]) best[s] = t;
    }
  }
  free(buf);
  out->latency_us = best[0] * 1e6;
  out->bandwidth_gbs = (double)sizes[1] / best[1] * 1e-9;
  out->small_bytes = sizes[0];
  out->large_bytes = sizes[1];
  return 0;
}

static void usage(void) {
  fputs(
      "usage: bench_roofline [--n N] [--elements E] [--reps R] [--threads T] [--json FILE]\n"
      "       mpirun -np 2 bench_roofline --pingpong-only [--json FILE]\n",
      stderr);
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  int n = 1500, reps = 5, threads = omp_get_max_threads(), pp_only = 0;
  long long elements = 1LL << 25;
  const char *json = NULL;
  for (int i = 1; i < argc; i++) {
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(argv[i], "--pingpong-only")) {
      pp_only = 1;
    } else if (v && !strcmp(argv[i], "--n")) {
      n = atoi(v), i++;
    } else if (v && !strcmp(argv[i], "--elements")) {
      elements = atoll(v), i++;
    } else if (v && !strcmp(argv[i], "--reps")) {
      reps = atoi(v), i++;
    } else if (v && !strcmp(argv[i], "--threads")) {
      threads = atoi(v), i++;
    } else if (v && !strcmp(argv[i], "--json")) {
      json = v, i++;
    } else {
      if (rank == 0) usage();
      MPI_Finalize();
      return 2;
    }
  }
  if (n < 16 || reps < 1 || threads < 1 || elements < 1024) {
    if (rank == 0) usage();
    MPI_Finalize();
    return 2;
  }

  int fail = 0;
  rates g1 = {0, 0}, gall = {0, 0}, gblas = {0, 0}, s1 = {0, 0}, sall = {0, 0};
  if (!pp_only && rank == 0) {
    fail |= dgemm_per_thread(n, 1, reps, &g1);
    fail |= dgemm_per_thread(n, threads, reps, &gall);
    fail |= dgemm_blas_threads(n, threads, reps, &gblas);
    fail |= triad((size_t)elements, 1, reps, &s1);
    fail |= triad((size_t)elements, threads, reps, &sall);
  }
  pingpong pp = {0, 0, 0, 0};
  int have_pp = size >= 2;
  if (have_pp) fail |= ping_pong(rank, reps, &pp);
  MPI_Bcast(&fail, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (fail) {
    if (rank == 0) fputs("bench_roofline: out of memory or a wrong triad result\n", stderr);
    MPI_Finalize();
    return 1;
  }

  if (rank == 0) {
    if (!pp_only) {
      printf("dgemm %dx%dx%d, 1 core:                 %8.2f GFLOP/s (median %.2f)\n", n, n, n,
             g1.best, g1.median);
      printf("dgemm, %d threads x 1-thread BLAS:      %8.2f GFLOP/s (median %.2f)\n", threads,
             gall.best, gall.median);
      printf("dgemm, one call on %d BLAS threads:     %8.2f GFLOP/s (median %.2f)\n", threads,
             gblas.best, gblas.median);
      printf("triad %lld elements, 1 core:       %8.2f GB/s (median %.2f)\n", elements, s1.best,
             s1.median);
      printf("triad, %d threads:                      %8.2f GB/s (median %.2f)\n", threads,
             sall.best, sall.median);
    }
    if (have_pp)
      printf("ping-pong ranks 0-1: latency %.2f us, bandwidth %.2f GB/s (%lld bytes)\n",
             pp.latency_us, pp.bandwidth_gbs, pp.large_bytes);
    if (json) {
      FILE *f = fopen(json, "w");
      if (!f) {
        fprintf(stderr, "bench_roofline: cannot write %s\n", json);
        fail = 1;
      } else {
        fprintf(f, "{\"tool\":\"bench_roofline\",\"ranks\":%d,\"threads\":%d,\"reps\":%d", size,
                threads, reps);
        if (!pp_only)
          fprintf(f,
                  ",\"dgemm\":{\"n\":%d,\"gflops_1core\":%.6g,\"gflops_1core_median\":%.6g,"
                  "\"gflops_allcore\":%.6g,\"gflops_allcore_median\":%.6g,"
                  "\"gflops_blas_threads\":%.6g,\"gflops_blas_threads_median\":%.6g}"
                  ",\"triad\":{\"elements\":%lld,\"bytes_per_element\":24,\"gbs_1core\":%.6g,"
                  "\"gbs_1core_median\":%.6g,\"gbs_allcore\":%.6g,\"gbs_allcore_median\":%.6g}",
                  n, g1.best, g1.median, gall.best, gall.median, gblas.best, gblas.median, elements,
                  s1.best, s1.median, sall.best, sall.median);
        if (have_pp)
          fprintf(f,
                  ",\"pingpong\":{\"latency_us\":%.6g,\"bandwidth_gbs\":%.6g,"
                  "\"small_bytes\":%lld,\"large_bytes\":%lld}",
                  pp.latency_us, pp.bandwidth_gbs, pp.small_bytes, pp.large_bytes);
        fputs("}\n", f);
        if (fclose(f) != 0) fail = 1;
      }
    }
  }
  MPI_Bcast(&fail, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Finalize();
  return fail ? 1 : 0;
}
