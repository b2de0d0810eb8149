#include "mpitest.h"

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
  if (rank == 0) printf("%s on %d ranks: %s (%d failed checks)\n", name, size, total ? "FAIL" : "PASS", total);
  MPI_Finalize();
  return total ? 1 : 0;
}
