/* Open MPI start-up of a plain process (no mpirun).
 *
 * Why: a singleton has nobody to talk to, yet Open MPI 4.1's default pml selection
 * opens the cm pml, whose MTLs (psm2, ofi/libfabric) probe for fabrics: 0.30 s per
 * start on Debian 12 against 0.10 s with the ob1 pml alone (self transport). bfcr
 * never spawns processes, so ob1 loses nothing there.
 *
 * The rule: set OMPI_MCA_pml=ob1 (setenv without overwrite, before MPI_Init) only
 * when no launcher started the process (a launcher may mean a fabric between nodes,
 * where the site's default pml is the right one) and the user did not set it. This is
 * a process-wide switch, so it lives in the app, never in the library. */
#include "mpi_start.h"

#include <stdlib.h>

#include <mpi.h>

/* Set by the launchers that may start bfcr: Open MPI's mpirun/orted (OMPI_*), PMIx
 * servers (PMIX_RANK: mpirun, srun --mpi=pmix, prrte), PMI-1/2 launchers (MPICH's
 * hydra, Intel MPI, srun --mpi=pmi2: PMI_RANK, PMI_SIZE, PMI_FD) and Slurm's srun
 * (SLURM_PROCID; also set in a batch script, where keeping Open MPI's default only
 * costs start-up time). */
static const char *const launcher_vars[] = {"OMPI_COMM_WORLD_SIZE",
                                            "OMPI_COMM_WORLD_RANK",
                                            "PMIX_RANK",
                                            "PMIX_NAMESPACE",
                                            "PMI_RANK",
                                            "PMI_SIZE",
                                            "PMI_FD",
                                            "SLURM_PROCID"};

static int has_env(const char *name) {
  const char *v = getenv(name);
  return v && v[0];
}

app_pml_source app_mpi_start_env(void) {
  if (getenv("OMPI_MCA_pml")) return APP_PML_USER; /* even empty: the user's choice */
  for (size_t i = 0; i < sizeof launcher_vars / sizeof launcher_vars[0]; i++)
    if (has_env(launcher_vars[i])) return APP_PML_LAUNCHER;
#ifdef OPEN_MPI
  if (setenv("OMPI_MCA_pml", "ob1", 0) == 0) return APP_PML_SINGLETON;
  return APP_PML_LAUNCHER; /* setenv out of memory: Open MPI's default still works */
#else
  return APP_PML_OTHER_MPI;
#endif
}

const char *app_pml_source_text(app_pml_source s) {
  switch (s) {
    case APP_PML_USER:
      return "from OMPI_MCA_pml";
    case APP_PML_SINGLETON:
      return "set by bfcr: no launcher, single process";
    case APP_PML_OTHER_MPI:
      return "not Open MPI: nothing set";
    case APP_PML_LAUNCHER:
      break;
  }
  return "MPI's default: started by a launcher";
}
