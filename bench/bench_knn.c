/* Benchmark of the exact nearest-neighbour paths (lib/knn) on "blob data": 16 centres
 * ~ N(0, 10^2 I), rows = centre + N(0, 1.5^2 I), the hard case for space-partitioning
 * trees. Reports build and search time, points/s, GFLOP/s for the GEMM path (analytic
 * 2 n^2 d) and the machine's single-core DGEMM rate, and checks a sample of answers
 * against the brute-force scan.
 *
 * Usage: bench_knn                 the standard suite (docs/knn.md)
 *        bench_knn allnn N D T     one all-points search (kd-tree if D <= the crossover)
 *        bench_knn kd|gemm N D T   force a method
 *        bench_knn cross N T       kd-tree vs GEMM for d = 8..32 (crossover)
 *        bench_knn probe N D K T   probe + cost model vs the kd-tree's CPU time
 *                                  (K > 0: rows near a K-dim subspace, else blobs)
 *        bench_knn shapes N T        probe for blobs and 4-dim-subspace rows at
 *                                  d = 8, 20, 32, 64, 128
 *        bench_knn query NR NQ D T  kd-tree build on NR rows + NQ outside queries
 *        bench_knn rebuild N D T   kd-tree build vs the rebuild from its order
 *        bench_knn dgemm           the DGEMM rate alone
 *        bench_knn blocked N D K T [tiles|-] [LEAF]  pruned blocked GEMM search (K > 0: rows near a
 *                                  K-dim subspace, 0 blobs, -1 uniform): flops done and
 *                                  avoided, GEMM-phase GFLOP/s per core vs the measured
 *                                  single-core DGEMM rate; `tiles`: also every tile
 * Run with OPENBLAS_NUM_THREADS=1 (the benchmark forces it too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <cblas.h>
#include <omp.h>

#include "knn/knn.h"

/* splitmix64 + Box-Muller: a fixed, dependency-free generator (gsl_randist.h would
 * clash with OpenBLAS's cblas.h in this file). */
static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
static double rng_unif(uint64_t *s) {
  return ((double)(rng_next(s) >> 11) + 0.5) * 0x1p-53;
}
static double rng_gauss(uint64_t *s, double sigma) {
  double u = rng_unif(s), v = rng_unif(s);
  return sigma * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

static double *blobs(int64_t n, int d, uint64_t seed) {
  double *c = malloc(16 * (size_t)d * sizeof(double));
  double *X = malloc((size_t)n * (size_t)d * sizeof(double));
  for (int i = 0; i < 16 * d; i++) c[i] = rng_gauss(&seed, 10.0);
  for (int64_t i = 0; i < n; i++) {
    int b = (int)(rng_next(&seed) >> 60);
    for (int k = 0; k < d; k++) X[i * d + k] = c[b * d + k] + rng_gauss(&seed, 1.5);
  }
  free(c);
  return X;
}

/* Rows near a k-dimensional clustered subspace of R^d: 16 centres ~ N(0, 10^2 I_k) in
 * the latent space, latent point = centre + N(0, 1.5^2 I_k), mapped by a fixed random
 * d x k matrix with N(0, 1/k) entries, plus N(0, 0.05^2 I_d) noise (bfcr gen
 * --latent-dim draws its own rows with the same recipe). */
static double *latent_rows(int64_t n, int d, int k, uint64_t seed) {
  double *A = malloc((size_t)d * k * sizeof(double)), *c = malloc(16 * (size_t)k * sizeof(double));
  double *X = malloc((size_t)n * (size_t)d * sizeof(double)), z[256];
  for (int i = 0; i < d * k; i++) A[i] = rng_gauss(&seed, 1.0 / sqrt((double)k));
  for (int i = 0; i < 16 * k; i++) c[i] = rng_gauss(&seed, 10.0);
  for (int64_t i = 0; i < n; i++) {
    int b = (int)(rng_next(&seed) >> 60);
    for (int j = 0; j < k && j < 256; j++) z[j] = c[b * k + j] + rng_gauss(&seed, 1.5);
    for (int r = 0; r < d; r++) {
      double s = 0.0;
      for (int j = 0; j < k && j < 256; j++) s += A[r * k + j] * z[j];
      X[i * d + r] = s + rng_gauss(&seed, 0.05);
    }
  }
  free(A);
  free(c);
  return X;
}

/* Sample answers re-done by full scan: returns the number of mismatches. */
static int check(const double *X, int64_t n, int d, const int64_t *nn, const double *d2,
                 int exclude_self, const double *Q, int64_t m) {
  int bad = 0;
  for (int s = 0; s < 50; s++) {
    int64_t i = (int64_t)((uint64_t)(s * 2654435761u) % (uint64_t)(exclude_self ? n : m));
    int64_t bj;
    double bd;
    const double *q = exclude_self ? X + i * d : Q + i * d;
    bd = INFINITY;
    bj = INT64_MAX;
    for (int64_t j = 0; j < n; j++) {
      if (exclude_self && j == i) continue;
      double v = bfcr_dist2(q, X + j * d, d);
      if (bfcr_nn_better(v, j, bd, bj)) {
        bd = v;
        bj = j;
      }
    }
    if (bj != nn[i] || bd != d2[i]) bad++;
  }
  return bad;
}

static double dgemm_rate(int M, int N, int K) {
  double *A = malloc((size_t)M * K * sizeof(double)), *B = malloc((size_t)N * K * sizeof(double));
  double *C = malloc((size_t)M * N * sizeof(double));
  for (int64_t i = 0; i < (int64_t)M * K; i++) A[i] = (double)(i % 7) - 3.0;
  for (int64_t i = 0; i < (int64_t)N * K; i++) B[i] = (double)(i % 5) - 2.0;
  double best = 1e30;
  for (int rep = 0; rep < 5; rep++) {
    /* Thread CPU time: the rate of the core while it runs, as the blocked search's stats. */
    struct timespec a, b;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0, A, K, B, K, 0.0, C, N);
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double t = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
    if (t < best) best = t;
  }
  free(A);
  free(B);
  free(C);
  return 2.0 * M * N * K / best / 1e9;
}

static void run_allnn(const char *method, int64_t n, int d, int nt) {
  double *X = blobs(n, d, 12345);
  int64_t *nn = malloc((size_t)n * sizeof(int64_t));
  double *d2 = malloc((size_t)n * sizeof(double));
  int kd = strcmp(method, "kd") == 0;
  double tb = 0.0, ts, cpu = 0.0;
  double t0 = omp_get_wtime();
  if (kd) {
    bfcr_kdtree *t = NULL;
    if (bfcr_kdtree_build(X, n, d, nt, &t) != BFCR_OK) exit(1);
    tb = omp_get_wtime() - t0;
    t0 = omp_get_wtime();
    clock_t c0 = clock();
    if (bfcr_kdtree_allnn(t, nt, nn, d2) != BFCR_OK) exit(1);
    ts = omp_get_wtime() - t0;
    cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
    bfcr_kdtree_free(t);
  } else {
    if (bfcr_knn_gemm(X, n, d, X, n, 1, nt, nn, d2) != BFCR_OK) exit(1);
    ts = omp_get_wtime() - t0;
  }
  int bad = check(X, n, d, nn, d2, 1, NULL, 0);
  if (kd) {
    printf(
        "allnn kd   n=%-8lld d=%-3d threads=%d build=%.3fs search=%.3fs (cpu %.3fs) "
        "total=%.3fs %.2f Mpts/s check=%s\n",
        (long long)n, d, nt, tb, ts, cpu, tb + ts, n / ts / 1e6, bad ? "FAIL" : "ok");
  } else {
    double fl = 2.0 * (double)n * (double)n * d;
    printf(
        "allnn gemm n=%-8lld d=%-3d threads=%d search=%.3fs %.2f Mpts/s %.2f GFLOP/s "
        "(%.2f per thread) check=%s\n",
        (long long)n, d, nt, ts, n / ts / 1e6, fl / ts / 1e9, fl / ts / 1e9 / nt,
        bad ? "FAIL" : "ok");
  }
  fflush(stdout);
  free(X);
  free(nn);
  free(d2);
}

/* The probe of knn_choose.c against the kd-tree's measured CPU time (calibration of the
 * cost model, docs/knn.md). latent > 0: rows near a latent-dimensional subspace. */
static void run_probe(int64_t n, int d, int latent, int nt) {
  double *X = latent > 0 ? latent_rows(n, d, latent, 12345) : blobs(n, d, 12345);
  int64_t *nn = malloc((size_t)n * sizeof(int64_t));
  double *d2 = malloc((size_t)n * sizeof(double));
  bfcr_kdtree *t = NULL;
  if (bfcr_kdtree_build(X, n, d, nt, &t) != BFCR_OK) exit(1);
  bfcr_knn_choice c = {0};
  double t0 = omp_get_wtime();
  bfcr_knn_probe(t, n, 1, nt, &c);
  double tp = omp_get_wtime() - t0;
  bfcr_knn_decide(BFCR_NN_AUTO, &c);
  clock_t c0 = clock();
  t0 = omp_get_wtime();
  if (bfcr_kdtree_allnn(t, nt, nn, d2) != BFCR_OK) exit(1);
  double ts = omp_get_wtime() - t0, cpu = (double)(clock() - c0) / CLOCKS_PER_SEC;
  char line[200];
  bfcr_knn_choice_format(&c, line, sizeof line);
  printf(
      "probe n=%lld d=%d latent=%d threads=%d: %s; nodes/query %.1f; probe %.3fs; kd search "
      "%.3fs (cpu %.3fs, %.2f ns per eval)\n",
      (long long)n, d, latent, nt, line, c.nodes_per_query, tp, ts, cpu,
      cpu / ((double)n * c.evals_per_query) * 1e9);
  fflush(stdout);
  bfcr_kdtree_free(t);
  free(X);
  free(nn);
  free(d2);
}

static void run_query(int64_t nr, int64_t nq, int d, int nt) {
  double *R = blobs(nr, d, 7), *Q = blobs(nq, d, 8);
  int64_t *nn = malloc((size_t)nq * sizeof(int64_t));
  double *d2 = malloc((size_t)nq * sizeof(double));
  double t0 = omp_get_wtime();
  bfcr_kdtree *t = NULL;
  if (bfcr_kdtree_build(R, nr, d, nt, &t) != BFCR_OK) exit(1);
  double tb = omp_get_wtime() - t0;
  t0 = omp_get_wtime();
  if (bfcr_kdtree_query(t, Q, nq, NULL, NULL, nt, nn, d2) != BFCR_OK) exit(1);
  double ts = omp_get_wtime() - t0;
  bfcr_kdtree_free(t);
  int bad = check(R, nr, d, nn, d2, 0, Q, nq);
  printf(
      "query kd   nR=%-8lld m=%-8lld d=%-3d threads=%d build=%.3fs search=%.3fs "
      "%.2f Mq/s check=%s\n",
      (long long)nr, (long long)nq, d, nt, tb, ts, nq / ts / 1e6, bad ? "FAIL" : "ok");
  fflush(stdout);
  free(R);
  free(Q);
  free(nn);
  free(d2);
}

/* Thread CPU seconds: steadier than wall time on a shared machine (one thread). */
static double thread_cpu(void) {
  struct timespec ts;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The partitioning build against the rebuild from its order (bfcr_kdtree_build_order, what
 * the CV's slab routing does with the level-0 search's order), best of 5 each, and the
 * all-points answers of both trees compared. */
static void run_rebuild(int64_t n, int d, int nt) {
  double *X = blobs(n, d, 7);
  int32_t *order = malloc((size_t)n * sizeof(int32_t));
  int64_t *nn1 = malloc((size_t)n * sizeof(int64_t)), *nn2 = malloc((size_t)n * sizeof(int64_t));
  double *d1 = malloc((size_t)n * sizeof(double)), *d2 = malloc((size_t)n * sizeof(double));
  double wb = INFINITY, cb = INFINITY, wo = INFINITY, co = INFINITY;
  bfcr_kdtree *t = NULL, *u = NULL;
  for (int r = 0; r < 5; r++) {
    double *W = malloc((size_t)n * (size_t)d * sizeof(double));
    memcpy(W, X, (size_t)n * (size_t)d * sizeof(double));
    double t0 = omp_get_wtime(), c0 = thread_cpu();
    bfcr_kdtree_free(t);
    if (bfcr_kdtree_build_take(W, n, d, nt, &t) != BFCR_OK) exit(1);
    wb = fmin(wb, omp_get_wtime() - t0), cb = fmin(cb, thread_cpu() - c0);
  }
  bfcr_kdtree_order32(t, order);
  for (int r = 0; r < 5; r++) {
    double *W = malloc((size_t)n * (size_t)d * sizeof(double));
    memcpy(W, X, (size_t)n * (size_t)d * sizeof(double));
    double t0 = omp_get_wtime(), c0 = thread_cpu();
    bfcr_kdtree_free(u);
    if (bfcr_kdtree_build_order(W, n, d, order, nt, &u) != BFCR_OK) exit(1);
    wo = fmin(wo, omp_get_wtime() - t0), co = fmin(co, thread_cpu() - c0);
  }
  if (bfcr_kdtree_allnn(t, nt, nn1, d1) != BFCR_OK || bfcr_kdtree_allnn(u, nt, nn2, d2) != BFCR_OK)
    exit(1);
  int same = !memcmp(nn1, nn2, (size_t)n * sizeof(int64_t)) &&
             !memcmp(d1, d2, (size_t)n * sizeof(double)) &&
             !memcmp(bfcr_kdtree_rows(t), bfcr_kdtree_rows(u), (size_t)n * d * sizeof(double));
  printf(
      "rebuild n=%-8lld d=%-3d threads=%d build=%.3fs (cpu %.3fs) by order=%.3fs (cpu %.3fs) "
      "same=%s\n",
      (long long)n, d, nt, wb, cb, wo, co, same ? "yes" : "NO");
  fflush(stdout);
  bfcr_kdtree_free(t);
  bfcr_kdtree_free(u);
  free(X), free(order), free(nn1), free(nn2), free(d1), free(d2);
}

static double *uniform_rows(int64_t n, int d, uint64_t seed) {
  double *X = malloc((size_t)n * (size_t)d * sizeof(double));
  for (int64_t i = 0; i < n * d; i++) X[i] = rng_unif(&seed);
  return X;
}

/* The pruned blocked search (knn_blocked.c) with its counts, against the DGEMM rate of
 * its own tile shape measured in the same run (one thread). */
static void run_blocked(int64_t n, int d, int latent, int nt, int tiles, int leaf) {
  double *X = latent > 0    ? latent_rows(n, d, latent, 12345)
              : latent == 0 ? blobs(n, d, 12345)
                            : uniform_rows(n, d, 12345);
  int64_t *nn = malloc((size_t)n * sizeof(int64_t));
  double *d2 = malloc((size_t)n * sizeof(double));
  const int L = leaf > 0 ? leaf : BFCR_KNN_BLOCK_LEAF;
  const double peak_tile = dgemm_rate(L * 3 / 4, L * 3 / 4, d + 1);
  const double peak_big = dgemm_rate(2000, 2000, 2000);
  bfcr_knn_blocked_stats s;
  double t0 = omp_get_wtime();
  if (bfcr_knn_blocked(X, n, d, X, n, 1, nt, L, &s, nn, d2) != BFCR_OK) exit(1);
  double tw = omp_get_wtime() - t0;
  int bad = check(X, n, d, nn, d2, 1, NULL, 0);
  const double all = s.flops_done + s.flops_avoided;
  printf(
      "blocked n=%lld d=%d latent=%d threads=%d: total %.3fs (setup %.3fs, tiles %.3fs wall); "
      "blocks %lld; tiles %lld; rechecks %.2f/query; flops done %.3g, avoided %.3g (%.1f%%); "
      "GEMM phase %.2f GFLOP/s per core (dgemm only %.2f); single-core DGEMM %dx%dx%d %.2f, "
      "2000^3 %.2f GFLOP/s -> phase %.0f%% / %.0f%% of them; check=%s\n",
      (long long)n, d, latent, nt, tw, s.sec_setup, s.sec_tiles_wall, (long long)s.blocks_r,
      (long long)s.tiles, (double)s.rechecks / n, s.flops_done, s.flops_avoided,
      all > 0 ? 100.0 * s.flops_avoided / all : 0.0, s.flops_done / s.sec_tiles / 1e9,
      s.flops_done / s.sec_dgemm / 1e9, L * 3 / 4, L * 3 / 4, d + 1, peak_tile, peak_big,
      100.0 * s.flops_done / s.sec_tiles / 1e9 / peak_tile,
      100.0 * s.flops_done / s.sec_tiles / 1e9 / peak_big, bad ? "FAIL" : "ok");
  fflush(stdout);
  if (tiles) {
    int64_t *nn2 = malloc((size_t)n * sizeof(int64_t));
    double *e2 = malloc((size_t)n * sizeof(double));
    t0 = omp_get_wtime();
    if (bfcr_knn_gemm_tiles(X, n, d, X, n, 1, nt, nn2, e2) != BFCR_OK) exit(1);
    double tt = omp_get_wtime() - t0;
    int same = memcmp(nn, nn2, (size_t)n * sizeof *nn) == 0 && memcmp(d2, e2, (size_t)n * 8) == 0;
    printf(
        "every tile: %.3fs (%.2f GFLOP/s per core, 2 (d+1) n^2 flops); blocked speedup %.2fx; "
        "answers %s\n",
        tt, 2.0 * (d + 1) * (double)n * n / tt / nt / 1e9, tt / tw, same ? "identical" : "DIFFER");
    fflush(stdout);
    free(nn2);
    free(e2);
  }
  free(X);
  free(nn);
  free(d2);
}

static void run_dgemm(void) {
  printf("dgemm 1 thread: 2000x2000x2000 %.2f GFLOP/s; tile shape 256x512x65 %.2f GFLOP/s\n",
         dgemm_rate(2000, 2000, 2000), dgemm_rate(256, 512, 65));
  fflush(stdout);
}

int main(int argc, char **argv) {
  /* One BLAS thread: the search parallelizes tiles itself. */
  openblas_set_num_threads(1);
  if (argc >= 5 &&
      (!strcmp(argv[1], "allnn") || !strcmp(argv[1], "kd") || !strcmp(argv[1], "gemm"))) {
    run_allnn(argv[1], atoll(argv[2]), atoi(argv[3]), atoi(argv[4]));
  } else if (argc >= 4 && !strcmp(argv[1], "cross")) {
    int64_t n = atoll(argv[2]);
    int nt = atoi(argv[3]);
    int ds[] = {8, 12, 14, 16, 17, 20, 24, 32};
    for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++) {
      run_allnn("kd", n, ds[i], nt);
      run_allnn("gemm", n, ds[i], nt);
    }
  } else if (argc >= 4 && !strcmp(argv[1], "shapes")) {
    /* Both shapes (blobs; rows near a 4-dim subspace) at d = 8, 20, 32, 64, 128. */
    const int ds[] = {8, 20, 32, 64, 128};
    for (int k = 0; k <= 4; k += 4) {
      for (size_t i = 0; i < sizeof(ds) / sizeof(ds[0]); i++)
        run_probe(atoll(argv[2]), ds[i], k, atoi(argv[3]));
    }
  } else if (argc >= 6 && !strcmp(argv[1], "probe")) {
    run_probe(atoll(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]));
  } else if (argc >= 6 && !strcmp(argv[1], "query")) {
    run_query(atoll(argv[2]), atoll(argv[3]), atoi(argv[4]), atoi(argv[5]));
  } else if (argc >= 6 && !strcmp(argv[1], "blocked")) {
    run_blocked(atoll(argv[2]), atoi(argv[3]), atoi(argv[4]), atoi(argv[5]),
                argc >= 7 && !strcmp(argv[6], "tiles"), argc >= 8 ? atoi(argv[7]) : 0);
  } else if (argc >= 5 && !strcmp(argv[1], "rebuild")) {
    run_rebuild(atoll(argv[2]), atoi(argv[3]), atoi(argv[4]));
  } else if (argc >= 2 && !strcmp(argv[1], "dgemm")) {
    run_dgemm();
  } else {
    run_dgemm();
    for (int nt = 1; nt <= 2; nt++) {
      run_allnn("allnn", 100000, 8, nt);
      run_allnn("allnn", 1000000, 8, nt);
      run_allnn("allnn", 100000, 64, nt);
      run_query(1000000, 200000, 8, nt);
    }
  }
  return 0;
}
