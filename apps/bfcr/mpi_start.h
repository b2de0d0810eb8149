/* How bfcr chooses Open MPI's point-to-point layer before MPI_Init. */
#ifndef BFCR_APP_MPI_START_H
#define BFCR_APP_MPI_START_H

/* Where the pml selection came from. */
typedef enum app_pml_source {
  APP_PML_LAUNCHER,  /* started by mpirun/srun/a PMI launcher: left to it */
  APP_PML_USER,      /* OMPI_MCA_pml was set by the user: respected */
  APP_PML_SINGLETON, /* a plain process: bfcr set OMPI_MCA_pml=ob1 */
  APP_PML_OTHER_MPI  /* not Open MPI: nothing to set */
} app_pml_source;

/* Before MPI_Init: when the process was not started by a launcher and the user did
 * not set OMPI_MCA_pml, set OMPI_MCA_pml=ob1 (never overwriting). Open MPI only;
 * with another MPI nothing is set. */
app_pml_source app_mpi_start_env(void);

/* One line describing the choice, for 'bfcr version --verbose'. */
const char *app_pml_source_text(app_pml_source s);

#endif
