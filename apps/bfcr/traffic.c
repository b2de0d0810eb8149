/* PMPI wrappers counting the bytes sent (see traffic.h). Process-wide by nature: the
 * counter lives in the application, never in the library. */
#include "traffic.h"

#include <mpi.h>

static double g_bytes;

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
  for (int p = 0; p < P; p++)
    if (p != me) g_bytes += (double)sc[p] * tsize(st);
  return PMPI_Alltoallv(sb, sc, sd, st, rb, rc, rd, rt, c);
}
int MPI_Alltoall(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt,
                 MPI_Comm c) {
  g_bytes += (double)sc * (csize(c) - 1) * tsize(st);
  return PMPI_Alltoall(sb, sc, st, rb, rc, rt, c);
}
int MPI_Allgatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[],
                   const int rd[], MPI_Datatype rt, MPI_Comm c) {
  const double mine = sb == MPI_IN_PLACE ? (double)rc[crank(c)] * tsize(rt) : sc * tsize(st);
  g_bytes += mine * (csize(c) - 1);
  return PMPI_Allgatherv(sb, sc, st, rb, rc, rd, rt, c);
}
int MPI_Allgather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt,
                  MPI_Comm c) {
  const double mine = sb == MPI_IN_PLACE ? (double)rc * tsize(rt) : sc * tsize(st);
  g_bytes += mine * (csize(c) - 1);
  return PMPI_Allgather(sb, sc, st, rb, rc, rt, c);
}
int MPI_Allreduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c) {
  if (csize(c) > 1) g_bytes += (double)n * tsize(t);
  return PMPI_Allreduce(sb, rb, n, t, op, c);
}
int MPI_Reduce(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, int root, MPI_Comm c) {
  if (crank(c) != root) g_bytes += (double)n * tsize(t);
  return PMPI_Reduce(sb, rb, n, t, op, root, c);
}
int MPI_Exscan(const void *sb, void *rb, int n, MPI_Datatype t, MPI_Op op, MPI_Comm c) {
  if (csize(c) > 1) g_bytes += (double)n * tsize(t);
  return PMPI_Exscan(sb, rb, n, t, op, c);
}
int MPI_Bcast(void *b, int n, MPI_Datatype t, int root, MPI_Comm c) {
  if (crank(c) == root) g_bytes += (double)n * tsize(t) * (csize(c) - 1);
  return PMPI_Bcast(b, n, t, root, c);
}
int MPI_Gather(const void *sb, int sc, MPI_Datatype st, void *rb, int rc, MPI_Datatype rt, int root,
               MPI_Comm c) {
  if (crank(c) != root) g_bytes += (double)sc * tsize(st);
  return PMPI_Gather(sb, sc, st, rb, rc, rt, root, c);
}
int MPI_Gatherv(const void *sb, int sc, MPI_Datatype st, void *rb, const int rc[], const int rd[],
                MPI_Datatype rt, int root, MPI_Comm c) {
  if (crank(c) != root) g_bytes += (double)sc * tsize(st);
  return PMPI_Gatherv(sb, sc, st, rb, rc, rd, rt, root, c);
}
int MPI_Send(const void *b, int n, MPI_Datatype t, int dst, int tag, MPI_Comm c) {
  g_bytes += (double)n * tsize(t);
  return PMPI_Send(b, n, t, dst, tag, c);
}
int MPI_Isend(const void *b, int n, MPI_Datatype t, int dst, int tag, MPI_Comm c, MPI_Request *r) {
  g_bytes += (double)n * tsize(t);
  return PMPI_Isend(b, n, t, dst, tag, c, r);
}
int MPI_Sendrecv(const void *sb, int sc, MPI_Datatype st, int dst, int stag, void *rb, int rc,
                 MPI_Datatype rt, int src, int rtag, MPI_Comm c, MPI_Status *s) {
  g_bytes += (double)sc * tsize(st);
  return PMPI_Sendrecv(sb, sc, st, dst, stag, rb, rc, rt, src, rtag, c, s);
}
