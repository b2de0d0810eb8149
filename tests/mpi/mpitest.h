/* Minimal harness for multi-rank test programs: every rank checks, all ranks agree on
 * the verdict, rank 0 prints it, the exit code is the same everywhere. */
#ifndef BFCR_MPITEST_H
#define BFCR_MPITEST_H
#include <mpi.h>
#include <stdio.h>

extern int mt_failures;
#define MT_CHECK(cond, ...)                                                     \
  do {                                                                          \
    if (!(cond)) {                                                              \
      int r_;                                                                   \
      MPI_Comm_rank(MPI_COMM_WORLD, &r_);                                       \
      fprintf(stderr, "[rank %d] %s:%d: check failed: %s: ", r_, __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                             \
      fprintf(stderr, "\n");                                                    \
      mt_failures++;                                                            \
    }                                                                           \
  } while (0)

void mt_init(int *argc, char ***argv);
/* Agree on failures across ranks, finalize and return the exit code for main. */
int mt_finish(const char *name);
#endif
