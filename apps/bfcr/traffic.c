/* PMPI wrappers counting the bytes sent (see traffic.h). Process-wide by nature: the
 * counter lives in the application, never in the library. */
#include "traffic.h"

#include <mpi.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bfcr/bfcr.h"

static double g_bytes;

/* Bytes per library phase (BFCR_TRAFFIC_PHASES=PREFIX: app_traffic_dump writes them to
 * PREFIX.<rank>): bytes sent since the last change of the phase table go to the first phase
 * whose time changed next, i.e. the phase that ended after them (a phase is timed when it
 * ends). Sub-phases are listed before their enclosing phase and so receive their bytes. */
#define TRAFFIC_MAX_PHASES 64
static const bfcr_ctx *g_ctx;
static double g_pending, g_phase_bytes[TRAFFIC_MAX_PHASES], g_seen[TRAFFIC_MAX_PHASES];
/* MPI calls per phase by latency class (same attribution as the bytes; written to
 * PREFIX-calls.<rank>): all-to-all (P - 1 partners), allgather/bcast/gather (log P
 * rounds), reductions and scans (log P rounds), point-to-point sends. */
enum { CALL_A2A, CALL_GATHER, CALL_REDUCE, CALL_P2P, CALL_KINDS };
static double g_pending_calls[CALL_KINDS], g_phase_calls[TRAFFIC_MAX_PHASES][CALL_KINDS];

/* Memory per phase (BFCR_MEM_PHASES=PREFIX, Linux): VmRSS and VmHWM (kB, /proc/self/status)
 * when a phase is seen to end, i.e. at the first MPI call or progress report after it ends:
 * VmRSS at the last end of a phase that runs several times, VmHWM the largest. VmHWM is the
 * peak since the start (not reset unless BFCR_MEM_PHASES_RESET=1: that would also reset the
 * peak GNU time reports), so the phase that holds the peak is the first whose VmHWM reaches
 * the final one. */
static int g_mem = -1; /* -1: not yet read from the environment */
static long g_rss[TRAFFIC_MAX_PHASES], g_hwm[TRAFFIC_MAX_PHASES];

static void mem_sample(long *rss, long *hwm) {
  *rss = *hwm = -1;
#ifdef __linux__
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  while (f && fgets(line, sizeof line, f)) {
    if (strncmp(line, "VmRSS:", 6) == 0) *rss = atol(line + 6);
    if (strncmp(line, "VmHWM:", 6) == 0) *hwm = atol(line + 6);
  }
  if (f) fclose(f);
  /* BFCR_MEM_PHASES_RESET=1 (diagnosis only): VmHWM back to VmRSS after each sample, so
   * each phase's VmHWM is its own peak; this also resets the peak the kernel reports to
   * wait4 (GNU time's %M), which is then no longer the run's peak. */
  const char *reset = getenv("BFCR_MEM_PHASES_RESET");
  if (reset && reset[0] == '1') {
    FILE *c = fopen("/proc/self/clear_refs", "w");
    if (c) {
      fputs("5", c);
      fclose(c);
    }
  }
#endif
}

static void attribute(void) {
  if (!g_ctx) return;
  if (g_mem < 0) g_mem = getenv("BFCR_MEM_PHASES") != NULL;
  int n = bfcr_ctx_num_phases(g_ctx), first = -1;
  if (n > TRAFFIC_MAX_PHASES) n = TRAFFIC_MAX_PHASES;
  long rss = -2, hwm = -2;
  for (int i = 0; i < n; i++) {
    double s = bfcr_ctx_phase_seconds(g_ctx, i);
    if (s != g_seen[i] && first < 0) first = i;
    if (s != g_seen[i] && g_mem) {
      if (rss == -2) mem_sample(&rss, &hwm);
      g_rss[i] = rss;
      if (hwm > g_hwm[i]) g_hwm[i] = hwm; /* with BFCR_MEM_PHASES_RESET: its largest peak */
    }
    g_seen[i] = s;
  }
  if (first >= 0) {
    g_phase_bytes[first] += g_pending;
    g_pending = 0.0;
    for (int k = 0; k < CALL_KINDS; k++) {
      g_phase_calls[first][k] += g_pending_calls[k];
      g_pending_calls[k] = 0.0;
    }
  }
}

static void add_call(int kind, double b) {
  attribute();
  g_pending += b;
  g_bytes += b;
  g_pending_calls[kind] += 1.0;
}

void app_traffic_watch(const bfcr_ctx *ctx) {
  g_ctx = ctx;
}

void app_traffic_poll(void) {
  attribute();
}

/* PREFIX.<rank> opened for writing (NULL when it cannot be). */
static FILE *rank_file(const char *prefix) {
  int r = 0;
  PMPI_Comm_rank(MPI_COMM_WORLD, &r);
  char path[4096];
  snprintf(path, sizeof path, "%s.%d", prefix, r);
  return fopen(path, "w");
}

static void mem_dump(void) {
  const char *prefix = getenv("BFCR_MEM_PHASES");
  if (!prefix || !g_ctx) return;
  attribute();
  FILE *f = rank_file(prefix);
  int n = bfcr_ctx_num_phases(g_ctx);
  for (int i = 0; f && i < n && i < TRAFFIC_MAX_PHASES; i++)
    fprintf(f, "%s\t%ld\t%ld\n", bfcr_ctx_phase_name(g_ctx, i), g_rss[i], g_hwm[i]);
  long rss, hwm;
  mem_sample(&rss, &hwm);
  if (f) fprintf(f, "(end of the command)\t%ld\t%ld\n", rss, hwm);
  if (f) fclose(f);
}

void app_traffic_dump(void) {
  mem_dump();
  const char *prefix = getenv("BFCR_TRAFFIC_PHASES");
  if (prefix && g_ctx) {
    attribute();
    FILE *f = rank_file(prefix);
    int n = bfcr_ctx_num_phases(g_ctx);
    for (int i = 0; f && i < n && i < TRAFFIC_MAX_PHASES; i++)
      fprintf(f, "%s\t%.0f\n", bfcr_ctx_phase_name(g_ctx, i), g_phase_bytes[i]);
    if (f) fprintf(f, "(after the last phase)\t%.0f\n", g_pending);
    if (f) fclose(f);
    char calls[4000]; /* room for ".<rank>" in rank_file */
    snprintf(calls, sizeof calls, "%s-calls", prefix);
    f = rank_file(calls);
    for (int i = 0; f && i < n && i < TRAFFIC_MAX_PHASES; i++)
      fprintf(f, "%s\t%.0f\t%.0f\t%.0f\t%.0f\n", bfcr_ctx_phase_name(g_ctx, i),
              g_phase_calls[i][CALL_A2A], g_phase_calls[i][CALL_GATHER],
              g_phase_calls[i][CALL_REDUCE], g_phase_calls[i][CALL_P2P]);
    if (f) fclose(f);
  }
  g_ctx = NULL;
}

double app_traffic_bytes(void) {
  return g_bytes;
}
void app_traffic_reset(void) {
  g_bytes = 0.0;
}

static double tsize(MPI_Datatype t) {
  int s = 0;
  PMPI_Type_size(t, &s);
  return (double)s;
}
static int csize(MPI_Comm c) {
  int P = 1;
  PMPI_Comm_size(c, &P);
  return P;
}
static int crank(MPI_Comm c) {
  int r = 0;
  PMPI_Comm_rank(c, &r);
  return r;
}

int MPI_Alltoallv(const void *sb, const int sc[], const int sd[], MPI_Datatype st, void *rb,
                  const int rc[], const int rd[], MPI_Datatype rt, MPI_Comm c) {
  const int P = csize(c), me = crank(c);
  double b = 0.0;
  for (int p = 0; p < P; p++)
    if (p != me) b += (double)sc[p] * tsize(st);
  add_call(CALL_A2A, b);
  return PMPI_Alltoallv(sb, sc, sd, st, rb, rc, rd, rt, c);
}
int MPI_Alltoall(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt,
                 MPI_Comm c) {
  add_call(CALL_A2A, (double)sc * (csize(c) - 1) * tsize(st));
  return PMPI_Alltoall(sb, sc, st, rb, rc, rt, c);
}
int MPI_Allgatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[],
                   const int rd[], MPI_Datatype rt, MPI_Comm c) {
  const double mine = sb == MPI_IN_PLACE ? (double)rc[crank(c)] * tsize(rt) : sc * tsize(st);
  add_call(CALL_GATHER, mine * (csize(c) - 1));
  return PMPI_Allgatherv(sb, sc, st, rb, rc, rd, rt, c);
}
int MPI_Allgather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt,
                  MPI_Comm c) {
  const double mine = sb == MPI_IN_PLACE ? (double)rc * tsize(rt) : sc * tsize(st);
  add_call(CALL_GATHER, mine * (csize(c) - 1));
  return PMPI_Allgather(sb, sc, st, rb, rc, rt, c);
}
int MPI_Allreduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c) {
  if (csize(c) > 1) add_call(CALL_REDUCE, (double)n * tsize(t));
  return PMPI_Allreduce(sb, rb, n, t, op, c);
}
int MPI_Reduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, int root, MPI_Comm c) {
  add_call(CALL_REDUCE, crank(c) != root ? (double)n * tsize(t) : 0.0);
  return PMPI_Reduce(sb, rb, n, t, op, root, c);
}
int MPI_Exscan(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c) {
  if (csize(c) > 1) add_call(CALL_REDUCE, (double)n * tsize(t));
  return PMPI_Exscan(sb, rb, n, t, op, c);
}
int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm c) {
  add_call(CALL_GATHER, crank(c) == root ? (double)n * tsize(t) * (csize(c) - 1) : 0.0);
  return PMPI_Bcast(b, n, t, root, c);
}
int MPI_Gather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
               MPI_Comm c) {
  add_call(CALL_GATHER, crank(c) != root ? (double)sc * tsize(st) : 0.0);
  return PMPI_Gather(sb, sc, st, rb, rc, rt, root, c);
}
int MPI_Gatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int rd[],
                MPI_Datatype rt, int root, MPI_Comm c) {
  add_call(CALL_GATHER, crank(c) != root ? (double)sc * tsize(st) : 0.0);
  return PMPI_Gatherv(sb, sc, st, rb, rc, rd, rt, root, c);
}
int MPI_Send(const void *b, int n, MPI_Datatype t, int dst, int tag, MPI_Comm c) {
  add_call(CALL_P2P, (double)n * tsize(t));
  return PMPI_Send(b, n, t, dst, tag, c);
}
int MPI_Isend(const void *b, int n, MPI_Datatype t, int dst, int tag, MPI_Comm c, MPI_Request *r) {
  add_call(CALL_P2P, (double)n * tsize(t));
  return PMPI_Isend(b, n, t, dst, tag, c, r);
}
int MPI_Sendrecv(const void *sb, int sc, MPI_Datatype st, int dst, int stag, void *rb, int rc,
                 MPI_Datatype rt, int src, int rtag, MPI_Comm c, MPI_Status *s) {
  add_call(CALL_P2P, (double)sc * tsize(st));
  return PMPI_Sendrecv(sb, sc, st, dst, stag, rb, rc, rt, src, rtag, c, s);
}
