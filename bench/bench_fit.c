/* bench_fit: the whole bfcr_fit on synthetic blob data (bfcr_synth_data) over P ranks.
 *
 *   mpirun -np P bench_fit [n=1000000] [d=8] [threads=1] [reps=1]
 *
 * Prints per phase the wall seconds (max and min over ranks, median over reps), the
 * bytes each rank sent (counted by PMPI wrappers around the MPI calls bfcr makes, so
 * every exchange is included), the peak RSS per rank (getrusage) and the load balance
 * line bfcr logs at INFO level. The model bytes' FNV-1a hash is printed so runs at
 * different P can be compared. Not a test: it measures. */
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "traffic.h" /* apps/bfcr/traffic.c: PMPI byte counters */

static char g_balance[512];
static void on_log(void *user, bfcr_log_level level, const char *msg) {
  (void)user;
  if (level == BFCR_LOG_INFO && strstr(msg, "per rank"))
    snprintf(g_balance, sizeof g_balance, "%s", msg);
}

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

#define MAXPH 48
int main(int argc, char **argv) {
  int provided;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided);
  int rank, P;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &P);
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = argc > 1 ? atoll(argv[1]) : 1000000;
  sp.d = argc > 2 ? atoi(argv[2]) : 8;
  int threads = argc > 3 ? atoi(argv[3]) : 1, reps = argc > 4 ? atoi(argv[4]) : 1;
  if (reps < 1) reps = 1;
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  bfcr_ctx_set_threads(ctx, threads);
  bfcr_ctx_set_log(ctx, on_log, NULL, BFCR_LOG_INFO);
  bfcr_data *data = NULL;
  if (bfcr_synth_data(ctx, &sp, &data) != BFCR_OK) {
    if (rank == 0) fprintf(stderr, "synth: %s\n", bfcr_ctx_errmsg(ctx));
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
  bfcr_fit_params fp;
  bfcr_fit_params_init(&fp);
  char names[MAXPH][32];
  double *secmax = calloc((size_t)reps * MAXPH, sizeof(double)),
         *secmin = calloc((size_t)reps * MAXPH, sizeof(double)), total[64], bytes[64];
  int nph = 0;
  uint64_t hash = 0;
  for (int r = 0; r < reps && r < 64; r++) {
    bfcr_model *m = NULL;
    bfcr_ctx_reset_phases(ctx);
    app_traffic_reset();
    MPI_Barrier(MPI_COMM_WORLD);
    double t0 = MPI_Wtime();
    bfcr_status st = bfcr_fit(ctx, data, &fp, &m);
    double el = MPI_Wtime() - t0, b = app_traffic_bytes();
    if (st != BFCR_OK) {
      if (rank == 0) fprintf(stderr, "fit: %s\n", bfcr_ctx_errmsg(ctx));
      MPI_Abort(MPI_COMM_WORLD, 1);
    }
    PMPI_Allreduce(&el, &total[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    PMPI_Allreduce(&b, &bytes[r], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
    /* Phases by rank 0's names (a rank may lack one: counted as 0). */
    nph = bfcr_ctx_num_phases(ctx);
    PMPI_Bcast(&nph, 1, MPI_INT, 0, MPI_COMM_WORLD);
    if (nph > MAXPH) nph = MAXPH;
    for (int i = 0; i < nph; i++) {
      if (rank == 0) snprintf(names[i], 32, "%s", bfcr_ctx_phase_name(ctx, i));
      PMPI_Bcast(names[i], 32, MPI_CHAR, 0, MPI_COMM_WORLD);
      double s = 0;
      for (int j = 0; j < bfcr_ctx_num_phases(ctx); j++)
        if (strcmp(bfcr_ctx_phase_name(ctx, j), names[i]) == 0) s = bfcr_ctx_phase_seconds(ctx, j);
      PMPI_Allreduce(&s, &secmax[r * MAXPH + i], 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
      PMPI_Allreduce(&s, &secmin[r * MAXPH + i], 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
    }
    unsigned char *buf = NULL;
    size_t len = 0;
    if (bfcr_model_encode(ctx, m, &buf, &len) == BFCR_OK) {
      hash = UINT64_C(0xcbf29ce484222325);
      for (size_t i = 0; i < len; i++) hash = (hash ^ buf[i]) * UINT64_C(0x100000001b3);
    }
    free(buf);
    if (rank == 0 && r == 0)
      printf("levels %d, chosen %d (%lld clusters)\n", bfcr_model_num_levels(m),
             bfcr_model_chosen_level(m), (long long)bfcr_model_clusters(m));
    bfcr_model_destroy(&m);
  }
  if (reps > 64) reps = 64;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double rss = ru.ru_maxrss / 1024.0, rssmax = 0, rssmin = 0;
  PMPI_Allreduce(&rss, &rssmax, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  PMPI_Allreduce(&rss, &rssmin, 1, MPI_DOUBLE, MPI_MIN, MPI_COMM_WORLD);
  if (rank == 0) {
    double col[64];
    printf("bench_fit: n=%lld d=%d ranks=%d threads=%d reps=%d\n", (long long)sp.n, sp.d, P,
           threads, reps);
    printf("%-24s %10s %10s\n", "phase (median of reps)", "max s", "min s");
    for (int i = 0; i < nph; i++) {
      for (int r = 0; r < reps; r++) col[r] = secmax[r * MAXPH + i];
      qsort(col, (size_t)reps, sizeof(double), cmp_d);
      double mx = col[reps / 2];
      for (int r = 0; r < reps; r++) col[r] = secmin[r * MAXPH + i];
      qsort(col, (size_t)reps, sizeof(double), cmp_d);
      printf("%-24s %10.3f %10.3f\n", names[i], mx, col[reps / 2]);
    }
    memcpy(col, total, sizeof(double) * (size_t)reps);
    qsort(col, (size_t)reps, sizeof(double), cmp_d);
    printf("fit total (max over ranks): median %.3f s, min %.3f s, max %.3f s\n", col[reps / 2],
           col[0], col[reps - 1]);
    printf("bytes sent per rank (max): %.1f MB\n", bytes[0] / 1e6);
    printf("peak RSS per rank: max %.1f MB, min %.1f MB\n", rssmax, rssmin);
    printf("balance: %s\n", g_balance[0] ? g_balance : "(one rank)");
    printf("model hash %016llx\n", (unsigned long long)hash);
  }
  free(secmax);
  free(secmin);
  bfcr_data_destroy(&data);
  bfcr_ctx_destroy(&ctx);
  MPI_Finalize();
  return 0;
}
