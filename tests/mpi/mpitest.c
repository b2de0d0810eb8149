#include "mpitest.h"

#include <math.h>
#include <stdlib.h>

int mt_failures;

void mt_init(int *argc, char ***argv) {
  int provided;
  MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
}

int mt_finish(const char *name) {
  int total = 0, rank, size;
  MPI_Allreduce(&mt_failures, &total, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  if (rank == 0)
    printf("%s on %d ranks: %s (%d failed checks)\n", name, size, total ? "FAIL" : "PASS", total);
  MPI_Finalize();
  return total ? 1 : 0;
}

uint64_t mt_rng(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double mt_unif(uint64_t *s) {
  return ((double)(mt_rng(s) >> 11) + 0.5) * 0x1p-53;
}

double mt_gauss(uint64_t *s) {
  double u = mt_unif(s), v = mt_unif(s);
  return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

void mt_block(int64_t n, int P, int rank, int how, int64_t *lo, int64_t *hi) {
  if (how == 0) {
    *lo = n * rank / P;
    *hi = n * (rank + 1) / P;
  } else if (how == 1) {
    *lo = n * rank * rank / ((int64_t)P * P);
    *hi = n * (rank + 1) * (rank + 1) / ((int64_t)P * P);
  } else if (how == 2) {
    *lo = 0;
    *hi = rank == P - 1 ? n : 0;
  } else {
    const int r = P - 1 - rank;
    *lo = n - n * (r + 1) * (r + 1) / ((int64_t)P * P);
    *hi = n - n * r * r / ((int64_t)P * P);
  }
}

void mt_cube_rows(int64_t n, int d, double hetero, uint64_t *s, double *Z, double *y) {
  for (int64_t i = 0; i < n; i++) {
    int c = (int)(mt_rng(s) % 8);
    for (int j = 0; j < d; j++) Z[i * d + j] = 4.0 * ((c >> j) & 1) + mt_gauss(s);
    y[i] =
        Z[i * d] - Z[i * d + 1] + 0.1 * mt_gauss(s) * (1.0 + hetero * Z[i * d + 2] * Z[i * d + 2]);
  }
}

void mt_tmpdir(const char *tag, char *dir, size_t len) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  dir[0] = '\0';
  if (rank == 0) {
    snprintf(dir, len, "/tmp/bfcr-%s-XXXXXX", tag);
    if (!mkdtemp(dir)) dir[0] = '\0';
  }
  MPI_Bcast(dir, (int)len, MPI_CHAR, 0, MPI_COMM_WORLD);
  MT_CHECK(dir[0] != '\0', "no temporary folder");
}

unsigned char *mt_slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *b = *len >= 0 ? malloc((size_t)*len + 1) : NULL;
  if (b && fread(b, 1, (size_t)*len, f) != (size_t)*len) {
    free(b);
    b = NULL;
  }
  if (b) b[*len] = 0;
  fclose(f);
  return b;
}

void mt_rmtree(const char *dir) {
  int rank = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0 && dir[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
  }
}

double *mt_grid(int side, int d, int twice, int64_t *n_out, uint64_t seed) {
  int64_t m = 1;
  for (int k = 0; k < d; k++) m *= side;
  const int64_t n = twice ? 2 * m : m;
  double *X = malloc((size_t)(n * d) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    int64_t c = i % m;
    for (int k = 0; k < d; k++) {
      X[i * d + k] = (double)(c % side) - side / 2;
      c /= side;
    }
  }
  for (int64_t i = n - 1; i > 0; i--) {
    int64_t j = (int64_t)(mt_rng(&seed) % (uint64_t)(i + 1));
    for (int k = 0; k < d; k++) {
      double t = X[i * d + k];
      X[i * d + k] = X[j * d + k];
      X[j * d + k] = t;
    }
  }
  *n_out = n;
  return X;
}

double *mt_blobs(int64_t n, int d, uint64_t cs, uint64_t seed) {
  double *c = malloc(16 * (size_t)d * sizeof(double)),
         *X = malloc((size_t)(n > 0 ? n * d : 1) * sizeof(double));
  for (int i = 0; i < 16 * d; i++) c[i] = 10.0 * mt_gauss(&cs);
  for (int64_t i = 0; i < n; i++) {
    int b = (int)(mt_rng(&seed) >> 60);
    for (int k = 0; k < d; k++) X[i * d + k] = c[b * d + k] + 1.5 * mt_gauss(&seed);
  }
  free(c);
  return X;
}
