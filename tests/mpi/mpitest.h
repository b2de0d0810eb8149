/* Minimal harness for multi-rank test programs: every rank checks, all ranks agree on
 * the verdict, rank 0 prints it, the exit code is the same everywhere. */
#ifndef BFCR_MPITEST_H
#define BFCR_MPITEST_H
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

extern int mt_failures;
#define MT_CHECK(cond, ...)                                                                  \
  do {                                                                                       \
    if (!(cond)) {                                                                           \
      int r_;                                                                                \
      MPI_Comm_rank(MPI_COMM_WORLD, &r_);                                                    \
      fprintf(stderr, "[rank %d] %s:%d: check failed: %s: ", r_, __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                                          \
      fprintf(stderr, "\n");                                                                 \
      mt_failures++;                                                                         \
    }                                                                                        \
  } while (0)

void mt_init(int *argc, char ***argv);
/* Seeded test data: splitmix64 step, a uniform double in (0, 1), a standard normal. */
uint64_t mt_rng(uint64_t *s);
double mt_unif(uint64_t *s);
double mt_gauss(uint64_t *s);
/* 16 blobs: centres ~ N(0, 10^2) from seed cs, rows centre + N(0, 1.5^2) from seed
 * (n x d, malloc'd, at least one element). */
double *mt_blobs(int64_t n, int d, uint64_t cs, uint64_t seed);
/* Rows around the 8 corners of the cube {0, 4}^3 (d >= 3: the corner's bits j < 3, plus
 * N(0, 1) noise) and y = z0 - z1 + 0.1 e (1 + hetero z2^2), drawn row by row from *s into
 * Z (n x d) and y. */
void mt_cube_rows(int64_t n, int d, double hetero, uint64_t *s, double *Z, double *y);
/* Block layouts of n rows over P ranks, [lo, hi) of rank: 0 even, 1 uneven (rank p holds
 * ~ n p^2 / P^2, rank 0 may be empty), 2 all on the last rank, 3 reversed uneven (the last
 * rank may be empty). */
/* The integer grid {0..side-1}^d shifted by -side/2, each point once (twice: two copies),
 * rows shuffled by a seeded Fisher-Yates (the index order matters for ties); malloc'd. */
double *mt_grid(int side, int d, int twice, int64_t *n_out, uint64_t seed);
void mt_block(int64_t n, int P, int rank, int how, int64_t *lo, int64_t *hi);
/* A fresh folder /tmp/bfcr-TAG-XXXXXX made by rank 0, its name on every rank (dir[0] = 0
 * and a failed check when it could not be made); mt_rmtree: after a barrier, rank 0
 * removes it with its contents. Collective. */
void mt_tmpdir(const char *tag, char *dir, size_t len);
void mt_rmtree(const char *dir);
/* The whole file, NUL-terminated (malloc'd; NULL when it cannot be read), *len its size. */
unsigned char *mt_slurp(const char *path, long *len);
/* Agree on failures across ranks, finalize and return the exit code for main. */
int mt_finish(const char *name);
#endif
