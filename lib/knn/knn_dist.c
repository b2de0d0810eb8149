/* Exact best friends across ranks (level 0): spatial cells for low d, a ring for high d.
 *
 * What: the answer of bfcr_knn_allnn on the whole matrix (canonical bfcr_dist2, ties to the
 * smallest GLOBAL index) when the rows are spread over P ranks in contiguous blocks; every
 * rank ends with all n answers. The method is chosen like bfcr_knn_allnn's (a probe of the
 * kd-tree, knn_dist_probe.c, agreed by every rank) or forced: the tree uses slabs, GEMM the
 * ring. Either choice gives the same bits.
 *
 * Slabs (O(n/P log n) per rank for low d):
 *   1. plan: rows whose global index is a multiple of a stride (about 16k rows, fixed by
 *      n) are gathered on rank 0, which takes their leading principal axes
 *      (LAPACKE_dsyevd) and bisects the ranks recursively at the sample quantiles of the
 *      keys (t = z.v_a, global index) (a kd-partition: a rank's cell is a box in the
 *      projected coordinates; P = 2 is one split along the principal axis); the plan is
 *      broadcast, so every rank uses rank 0's bits. Keys with the index make every key
 *      distinct: duplicates and grids still balance. (The plan, projections, window and
 *      reach test live in slab.c / slab.h, shared with knn_query_dist.c and
 *      knn_cv_route.c.)
 *   2. rows move to the owner of their key's cell (MPI_Alltoallv: d doubles, then the
 *      local index as int32, 4 B a row less than a global index column). Senders are in rank
 *      order and send their rows in order, so each slab arrives sorted by global index:
 *      local order == global order, and the local searches' index tie-break is the global one.
 *   3. each rank builds a kd-tree over its slab and runs bfcr_kdtree_allnn.
 *   4. boundary: a row whose ball (radius = its cell best) may reach another rank's ranges
 *      of projections (on every axis, bfcr_slab_reach) is sent there as a query bounded
 *      by its best distance, in two rounds: a coarse one (3 B a coordinate, a widened
 *      float bound: 28 B at d = 8 instead of 72) whose one-bit answers flag the queries
 *      that may find a row, then those queries exactly; the owner answers
 *      with bfcr_kdtree_query (bound2: ties at the bound are kept); only the queries that
 *      found a row within their bound are answered, (dist2, global index, query slot): most
 *      find none (24 B a found answer instead of 16 B a query). The answers are
 *      combined with bfcr_nn_better on global indices. One round is enough: the bound only
 *      shrinks. Margin: rounding of the projections and of the canonical distance is covered
 *      by bounds derived in docs/knn-distributed.md; a larger margin only adds queries.
 *   5. results return to the rows' owners (Alltoallv) and are replicated (Allgatherv).
 * Ring (2 (d+1) n^2 / P flops per rank, GEMM): each rank keeps its rows as queries; the
 * blocks of reference rows travel around the ring (MPI_Isend/Irecv of the next block posted
 * before the current one is searched, MPI_Testall between query chunks to progress it);
 * every block is searched exactly by bfcr_knn_gemm (its own block with self excluded) and
 * the per-block minima are combined with bfcr_nn_better on global indices.
 * Exactness: every candidate distance is bfcr_dist2's value (kd kernel or GEMM re-check) and
 * the minimum of (dist2, global index) is unique, so the order of combination is irrelevant.
 * Errors: every rank agrees (bfcr_agree) before each collective step; MPI calls return codes
 * (the context's communicator uses MPI_ERRORS_RETURN). Non-finite inputs are refused. */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <omp.h>

#include "knn/knn.h"
#include "knn/knn_dist.h"
#include "knn/dist_util.h"
#include "knn/query_coarse.h"
#include "knn/slab.h"
#include "par/redistribute.h"
#include "core/zsrc.h"

/* MPI failures named after this search (dist_util.h). */
#define MPI_OK(st, rc, what) bfcr_dist_mpi_ok(ctx, st, rc, "knn_dist", what)

#define DIST_RING_CHUNK 4096 /* queries per GEMM call between MPI progress tests */

static bfcr_status kd_check(bfcr_ctx *ctx, bfcr_status st, bfcr_status s, const char *what) {
  if (s == BFCR_OK || st != BFCR_OK) return st;
  return bfcr_err(ctx, s, "knn_dist: %s failed (%s)", what, bfcr_status_name(s));
}

/* Process CPU seconds (all threads), for the statistics only. */
static double dist_cpu(void) {
  struct timespec ts;
  if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0) return 0.0;
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- layout, validation, method choice ------------------------------------------------- */

typedef struct {
  int P, rank;
  int *cnt;     /* rows per rank */
  int64_t *off; /* first global row per rank, off[P] = n */
  int *dis;     /* off as int for MPI_Allgatherv, NULL when n does not fit */
  int d2_own;   /* dist2 holds this rank's rows only (n_local entries), not replicated */
  int bf_own;   /* bf too: no Allgatherv at all (the tree's level 0, O(n/P) per rank) */
} dist_layout;

static bfcr_status local_args(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                              int64_t n, int d, const int64_t *bf, const double *dist2) {
  if (d < 1 || n < 2 || n_local < 0 || offset < 0 || n_local > n - offset)
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "knn_dist: expected d >= 1, n >= 2, 0 <= offset, offset + n_local <= n; "
                    "found d = %d, n = %lld, offset = %lld, n_local = %lld",
                    d, (long long)n, (long long)offset, (long long)n_local);
  if ((n_local > 0 && !zs->Z && !zs->X) || !bf || (!dist2 && n_local > 0))
    return bfcr_err(ctx, BFCR_ERR_ARG, "knn_dist: NULL data or output array");
  if (n > ((int64_t)1 << 53) || n_local > INT_MAX)
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "knn_dist: %lld rows (%lld on this rank) exceed the limits "
                    "2^53 in total and 2^31 - 1 per rank",
                    (long long)n, (long long)n_local);
  for (int64_t i = 0; i < n_local * d; i++) {
    if (!isfinite(bfcr_zsrc_at(zs, i / d, (int)(i % d))))
      return bfcr_err(ctx, BFCR_ERR_ARG, "knn_dist: row %lld column %d is not finite",
                      (long long)(offset + i / d), (int)(i % d));
  }
  return BFCR_OK;
}

/* Replicate the results: rank p's part [off_p, off_p + cnt_p) of bf and dist2 is filled.
 * Runs whatever st is (every rank takes part); returns st or the MPI failure. */
static bfcr_status dist_allgather(bfcr_ctx *ctx, const dist_layout *L, bfcr_status st, int64_t *bf,
                                  double *dist2, bfcr_knn_dist_stats *stats) {
  if (L->bf_own) return st; /* both stay on their owners (dist2 is then own as well) */
  if (L->dis) {
    st = MPI_OK(st,
                MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, bf, L->cnt, L->dis, MPI_INT64_T,
                               ctx->comm),
                "MPI_Allgatherv (bf)");
    if (!L->d2_own)
      st = MPI_OK(st,
                  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, dist2, L->cnt, L->dis,
                                 MPI_DOUBLE, ctx->comm),
                  "MPI_Allgatherv (dist2)");
  } else {
    /* Displacements beyond int: one broadcast per rank's block. */
    for (int p = 0; p < L->P; p++) {
      st = MPI_OK(st, MPI_Bcast(bf + L->off[p], L->cnt[p], MPI_INT64_T, p, ctx->comm),
                  "MPI_Bcast (bf)");
      if (!L->d2_own)
        st = MPI_OK(st, MPI_Bcast(dist2 + L->off[p], L->cnt[p], MPI_DOUBLE, p, ctx->comm),
                    "MPI_Bcast (dist2)");
    }
  }
  if (stats) stats->bytes_sent += (int64_t)L->cnt[L->rank] * (L->d2_own ? 8 : 16) * (L->P - 1);
  return st;
}

/* ---- slabs ------------------------------------------------------------------------------ */

/* Projections, splitters and the window: slab.h (shared with knn_query_dist.c). */

/* The plan, the slab tree's order, the slab rows (in slab order, global-index order) and
 * their global indices (taken from *sg) for a later search of the same rows (slab.h), or
 * NULL when out of memory (the later search then plans, moves and builds again). Local. */
static bfcr_slab_keep *slab_keep(int d, int64_t n, const bfcr_slabs *sl, int64_t ns,
                                 const bfcr_kdtree *tree, int64_t **sg, uint64_t hash) {
  bfcr_slab_keep *k = calloc(1, sizeof(*k));
  if (!k) return NULL;
  k->P = sl->P;
  k->d = d;
  k->n = n;
  k->ns = ns;
  k->hash = hash;
  k->order = malloc((size_t)(ns > 0 ? ns : 1) * sizeof(int32_t));
  k->rows = malloc((size_t)(ns > 0 ? ns * d : 1) * sizeof(double));
  if (!k->order || !k->rows || bfcr_slabs_copy_plan(sl, &k->plan) != BFCR_OK) {
    bfcr_slab_keep_free(k);
    return NULL;
  }
  if (ns > 0) {
    const int64_t *ix = bfcr_kdtree_index(tree);
    const double *SX = bfcr_kdtree_rows(tree);
    bfcr_kdtree_order32(tree, k->order);
    for (int64_t p = 0; p < ns; p++)
      memcpy(k->rows + ix[p] * d, SX + p * d, (size_t)d * sizeof(double));
  }
  k->sg = *sg;
  *sg = NULL;
  return k;
}

/* Boundary queries go in two rounds (query_coarse.h): coarse ones flag the queries that
 * may find a row, then those go exactly. */

static bfcr_status run_slabs(bfcr_ctx *ctx, const dist_layout *L, const bfcr_zsrc *zs,
                             int64_t n_local, int64_t offset, int64_t n, int d, int64_t *bf,
                             double *dist2, bfcr_knn_dist_stats *stats, bfcr_slab_keep **keep) {
  const int P = L->P, rank = L->rank, nt = ctx->nthreads;
  const int rec = d + 1; /* moved row: coordinates, global index; query: coordinates, bound */
  bfcr_status st = BFCR_OK;
  MPI_Datatype rec_t = MPI_DATATYPE_NULL, pair_t = MPI_DATATYPE_NULL, trip_t = MPI_DATATYPE_NULL;
  MPI_Datatype row_t = MPI_DATATYPE_NULL; /* a row's d coordinates */
  int32_t *sidx = NULL;                   /* sent rows' local indices, in send order */
  double *sbuf = NULL, *rbuf = NULL;
  double *S = NULL, *sd2 = NULL, *qs = NULL, *qr = NULL;
  double *Qin = NULL, *bnd = NULL, *qd = NULL, *ans = NULL, *ansr = NULL, *res = NULL;
  double *resr = NULL;
  int64_t *inv = NULL, *sg = NULL, *sbf = NULL, *pos = NULL, *qrow = NULL, *qnn = NULL;
  int64_t *qptr = NULL;
  int *scnt = NULL, *rcnt = NULL, *sdis = NULL, *rdis = NULL, *dest = NULL;
  int *qlist = NULL, *qscnt = NULL, *qrcnt = NULL, *qsdis = NULL;
  int *qrdis = NULL, *fc = NULL;          /* fc: found answers, 4 P: send/recv counts, displs */
  unsigned char *qf = NULL, *qfr = NULL;  /* round-1 queries sent, received (QC_BYTES) */
  unsigned char *mks = NULL, *mkr = NULL; /* round-1 bits: sent back, received */
  int *bc = NULL;                         /* 4 P: mask bytes sent, received, their displs */
  MPI_Datatype frec_t = MPI_DATATYPE_NULL;
  bfcr_kdtree *tree = NULL;
  bfcr_slabs sl = {0};
  int64_t ns = 0, nqs = 0, nqr = 0;
  double t0 = bfcr_wtime();
  /* Agreement points: [1] allocations, [2] axis, [3] slab allocations, [4] local search,
   * [5] query allocations, [6] result allocations; the steps between exchange agreed
   * counts, so a local failure there travels to the next agreement. */

  /* 1. axes and splitters from a fixed sample, computed on rank 0 (slab.c). */
  scnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  rcnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  sdis = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  rdis = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  qscnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  qrcnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  qsdis = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  qrdis = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  dest = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int));
  pos = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int64_t));
  sbuf = bfcr_dist_alloc(ctx, &st, n_local * rec, sizeof(double));
  if (st == BFCR_OK) {
    st = MPI_OK(st, MPI_Type_contiguous(rec, MPI_DOUBLE, &rec_t), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_contiguous(2, MPI_DOUBLE, &pair_t), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_contiguous(3, MPI_DOUBLE, &trip_t), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_contiguous(d, MPI_DOUBLE, &row_t), "MPI_Type_contiguous");
  }
  if (st == BFCR_OK) {
    st = MPI_OK(st, MPI_Type_commit(&rec_t), "MPI_Type_commit");
    st = MPI_OK(st, MPI_Type_commit(&pair_t), "MPI_Type_commit");
    st = MPI_OK(st, MPI_Type_commit(&trip_t), "MPI_Type_commit");
    st = MPI_OK(st, MPI_Type_commit(&row_t), "MPI_Type_commit");
  }
  BFCR_DIST_AGREE(); /* [1] */
  {
    int64_t plan_bytes = 0;
    st = bfcr_slab_plan(ctx, zs, n_local, offset, n, L->off, L->cnt, d, &sl, &plan_bytes);
    if (stats) stats->bytes_sent += plan_bytes;
  }
  if (st != BFCR_OK) goto cleanup; /* [2]: agreed by the plan */

    /* 2. rows to the owners of their slabs; each slab arrives in global order. The rows
     * are standardized into the send buffer (input order) for the projection, then put in
     * destination order in place. */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(zs, sbuf, dest, sl, n_local, offset, d, rec)
  for (int64_t i = 0; i < n_local; i++) {
    double *row = sbuf + i * rec;
    bfcr_zsrc_row(zs, i, row);
    row[d] = (double)(offset + i);
    dest[i] = bfcr_slab_of(&sl, row, offset + i);
  }
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t i = 0; i < n_local; i++) scnt[dest[i]]++;
  for (int p = 0; p < P; p++) sdis[p] = p == 0 ? 0 : sdis[p - 1] + scnt[p - 1];
  for (int64_t i = 0; i < n_local; i++) pos[i] = sdis[dest[i]]++;
  for (int p = 0; p < P; p++) sdis[p] -= scnt[p];
  free(dest);
  dest = NULL;
  if (n_local > 0) { /* row i to slot pos[i], in place (pos is kept for step 5) */
    double *spare = bfcr_dist_alloc(ctx, &st, rec, sizeof(double));
    int64_t *to = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int64_t));
    sidx = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int32_t));
    if (spare && to && sidx) {
      memcpy(to, pos, (size_t)n_local * sizeof(int64_t));
      bfcr_permute_rows(sbuf, to, n_local, rec, spare);
      for (int64_t i = 0; i < n_local; i++) sidx[pos[i]] = (int32_t)i;
      /* the index column stays behind: stride rec -> d in place, forward */
      for (int64_t k = 0; k < n_local; k++)
        memmove(sbuf + k * d, sbuf + k * rec, (size_t)d * sizeof(double));
    }
    free(spare);
    free(to);
  }
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (row counts)");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    rdis[p] = (int)(ns < INT_MAX ? ns : INT_MAX);
    ns += rcnt[p];
    if (stats && p != rank) stats->bytes_sent += (int64_t)scnt[p] * (d * 8 + 4);
  }
  if (ns > INT_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "knn_dist: slab of %lld rows exceeds 2^31 - 1",
                  (long long)ns);
  if (st == BFCR_OK) {
    rbuf = bfcr_dist_alloc(ctx, &st, ns * rec, sizeof(double));
    inv = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
    sg = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
    sbf = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
    sd2 = bfcr_dist_alloc(ctx, &st, ns, sizeof(double));
    qptr = bfcr_dist_alloc(ctx, &st, ns + 1, sizeof(int64_t));
  }
  BFCR_DIST_AGREE(); /* [3] */
  /* The coordinates (the index column stays behind), then the rows' local indices as int32
   * (4 B a row instead of 8: the sender's block start is known), into sg's first half and
   * widened in place from the end (int32 j is read before int64 j / 2 <= j is written). */
  st = MPI_OK(st, MPI_Alltoallv(sbuf, scnt, sdis, row_t, rbuf, rcnt, rdis, row_t, ctx->comm),
              "MPI_Alltoallv (rows)");
  st = MPI_OK(st,
              MPI_Alltoallv(sidx, scnt, sdis, MPI_INT32_T, sg, rcnt, rdis, MPI_INT32_T, ctx->comm),
              "MPI_Alltoallv (row indices)");
  for (int p = P; p-- > 0 && st == BFCR_OK;)
    for (int64_t j = (int64_t)rdis[p] + rcnt[p]; j-- > rdis[p];)
      sg[j] = L->off[p] + ((const int32_t *)sg)[j];
  free(sbuf);
  free(sidx);
  sbuf = NULL;
  sidx = NULL;
  /* The slab rows (d doubles each) are handed to the kd-tree, which permutes them in
   * place: the slab costs one copy of its rows at the peak. */
  for (int64_t j = 1; j < ns && st == BFCR_OK; j++) {
    if (j > 0 && sg[j] <= sg[j - 1])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "knn_dist: slab rows out of global order");
  }
  if (st == BFCR_OK && ns > 0) { /* rbuf had room for rec doubles a row: give back the rest */
    double *shrunk = realloc(rbuf, (size_t)(ns * d) * sizeof(double));
    if (shrunk) rbuf = shrunk;
  }
  S = rbuf;
  rbuf = NULL;
  double t1 = bfcr_wtime(), c1 = dist_cpu();

  /* 3. local all-points search in the slab. */
  if (st == BFCR_OK && ns >= 1) {
    st = kd_check(ctx, st, bfcr_kdtree_build_take(S, ns, d, nt, &tree), "kd-tree build");
    S = NULL;
  }
  const double *SX = NULL; /* slab row j is SX + inv[j] * d (tree order) */
  if (st == BFCR_OK && ns >= 1) {
    const int64_t *ix = bfcr_kdtree_index(tree);
    SX = bfcr_kdtree_rows(tree);
    for (int64_t k = 0; k < ns; k++) inv[ix[k]] = k;
  }
  if (st == BFCR_OK && ns >= 2)
    st = kd_check(ctx, st, bfcr_kdtree_allnn(tree, nt, sbf, sd2), "kd-tree all-points search");
  if (st == BFCR_OK && ns == 1) {
    sbf[0] = INT64_MAX;
    sd2[0] = INFINITY;
  } else if (st == BFCR_OK) {
    for (int64_t j = 0; j < ns; j++) sbf[j] = sg[sbf[j]];
  }
  /* The ranges of this cell's rows on every axis (projections are recomputed below). */
  double mineinfo[3 * BFCR_SLAB_MAX_AXES + 1];
  bfcr_slab_range_rows(&sl, SX, st == BFCR_OK ? ns : 0, nt, mineinfo);
  if (stats) stats->cpu_local = dist_cpu() - c1;
  BFCR_DIST_AGREE(); /* [4] */
  double t2 = bfcr_wtime(), c2 = dist_cpu();

  /* 4. boundary: queries to the cells a row's ball may reach (bfcr_slab_reach: ranges
   * meeting the windows on every axis), listed as CSR over the slab's rows (qptr, qlist,
   * ranks in increasing order; bfcr_slab_reach_csr evaluates each ball once). */
  {
    int64_t range_bytes = 0;
    st = bfcr_slab_ranges(ctx, &sl, mineinfo, &range_bytes);
    if (stats) stats->bytes_sent += range_bytes;
  }
  BFCR_DIST_AGREE();
  qlist = bfcr_slab_reach_csr(ctx, &st, &sl, SX, inv, sd2, ns, rank, nt, qptr, qscnt);
  BFCR_DIST_AGREE();
  st = MPI_OK(st, MPI_Alltoall(qscnt, 1, MPI_INT, qrcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (query counts)");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    qsdis[p] = (int)(nqs < INT_MAX ? nqs : INT_MAX);
    qrdis[p] = (int)(nqr < INT_MAX ? nqr : INT_MAX);
    nqs += qscnt[p];
    nqr += qrcnt[p];
  }
  if (st == BFCR_OK && (nqs > INT_MAX || nqr > INT_MAX))
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "knn_dist: %lld / %lld boundary queries exceed 2^31 - 1",
                  (long long)nqs, (long long)nqr);
  if (st == BFCR_OK) {
    qs = bfcr_dist_alloc(ctx, &st, nqs * rec, sizeof(double));
    qrow = bfcr_dist_alloc(ctx, &st, nqs, sizeof(int64_t));
    ans = bfcr_dist_alloc(ctx, &st, 3 * nqs, sizeof(double));
    qr = bfcr_dist_alloc(ctx, &st, nqr * rec, sizeof(double));
    Qin = bfcr_dist_alloc(ctx, &st, nqr * d, sizeof(double));
    bnd = bfcr_dist_alloc(ctx, &st, nqr, sizeof(double));
    qnn = bfcr_dist_alloc(ctx, &st, nqr, sizeof(int64_t));
    qd = bfcr_dist_alloc(ctx, &st, nqr, sizeof(double));
    ansr = bfcr_dist_alloc(ctx, &st, 3 * nqr, sizeof(double));
    fc = bfcr_dist_alloc(ctx, &st, 4 * P, sizeof(int));
    qf = bfcr_dist_alloc(ctx, &st, nqs * BFCR_QC_BYTES(d), 1);
    qfr = bfcr_dist_alloc(ctx, &st, nqr * BFCR_QC_BYTES(d), 1);
    mks = bfcr_dist_alloc(ctx, &st, nqr / 8 + P, 1);
    mkr = bfcr_dist_alloc(ctx, &st, nqs / 8 + P, 1);
    bc = bfcr_dist_alloc(ctx, &st, 4 * P, sizeof(int));
  }
  if (st == BFCR_OK) {
    st =
        MPI_OK(st, MPI_Type_contiguous(BFCR_QC_BYTES(d), MPI_BYTE, &frec_t), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_commit(&frec_t), "MPI_Type_commit");
  }
  BFCR_DIST_AGREE();                    /* [5] */
  const int64_t nqs1 = nqs, nqr1 = nqr; /* round-1 counts, for the statistics */
  for (int p = 0; p < P; p++) qscnt[p] = 0;
  /* Queries leave in this slab's kd-tree order: spatial neighbours then walk the same
   * nodes of the receiving tree one after the other (the slab order is the input order). */
  const int64_t *tix = ns > 0 ? bfcr_kdtree_index(tree) : NULL;
  for (int64_t k = 0; k < ns; k++) {
    const int64_t j = tix[k];
    for (int64_t e = qptr[j]; e < qptr[j + 1]; e++) {
      const int p = qlist[e];
      const int64_t q = qsdis[p] + qscnt[p]++;
      memcpy(qs + q * rec, SX + inv[j] * d, (size_t)d * sizeof(double));
      qs[q * rec + d] = sd2[j];
      qrow[q] = j;
    }
  }
  /* Round 1: coarse queries; the owner flags the queries that find a row within the widened
   * bound, one bit each, sent back per sender block. */
  for (int64_t q = 0; q < nqs; q++)
    bfcr_query_coarse(qs + q * rec, qs[q * rec + d], d, qf + q * BFCR_QC_BYTES(d));
  st = MPI_OK(st, MPI_Alltoallv(qf, qscnt, qsdis, frec_t, qfr, qrcnt, qrdis, frec_t, ctx->comm),
              "MPI_Alltoallv (coarse queries)");
  for (int64_t q = 0; q < nqr; q++)
    bfcr_query_uncoarse(qfr + q * BFCR_QC_BYTES(d), d, Qin + q * d, bnd + q);
  free(qf), free(qfr);
  qf = qfr = NULL;
  if (st == BFCR_OK && nqr > 0)
    st = kd_check(ctx, st, bfcr_kdtree_query(tree, Qin, nqr, NULL, bnd, nt, qnn, qd),
                  "kd-tree coarse queries");
  int *bs = bc, *br = bc + P, *bsd = bc + 2 * P, *brd = bc + 3 * P;
  if (bc) {
    const int64_t nb = bfcr_qc_layout(P, qrcnt, bs, bsd);
    bfcr_qc_layout(P, qscnt, br, brd);
    memset(mks, 0, (size_t)(nb > 0 ? nb : 1));
    if (st == BFCR_OK) nqr = bfcr_qc_mark(P, qrcnt, qrdis, qnn, bsd, mks); /* round 2's layout */
  }
  st = MPI_OK(
      st,
      MPI_Alltoallv(mks, bs, bsd, MPI_UNSIGNED_CHAR, mkr, br, brd, MPI_UNSIGNED_CHAR, ctx->comm),
      "MPI_Alltoallv (query flags)");
  if (stats) {
    for (int p = 0; p < P; p++) {
      if (p != rank) stats->bytes_sent += (int64_t)qscnt[p] * BFCR_QC_BYTES(d) + bs[p];
    }
  }
  /* The flagged queries, compacted in place. */
  if (st == BFCR_OK) nqs = bfcr_qc_keep(P, qscnt, qsdis, mkr, brd, qs, rec, qrow);
  /* Round 2: the flagged queries exactly (d doubles and the bound). */
  st = MPI_OK(st, MPI_Alltoallv(qs, qscnt, qsdis, rec_t, qr, qrcnt, qrdis, rec_t, ctx->comm),
              "MPI_Alltoallv (queries)");
  for (int64_t q = 0; q < nqr; q++) {
    memcpy(Qin + q * d, qr + q * rec, (size_t)d * sizeof(double));
    bnd[q] = qr[q * rec + d];
  }
  /* Queries reach only non-empty cells, so the tree exists when nqr > 0. */
  if (st == BFCR_OK && nqr > 0)
    st = kd_check(ctx, st, bfcr_kdtree_query(tree, Qin, nqr, NULL, bnd, nt, qnn, qd),
                  "kd-tree boundary queries");
  /* Answers only for the queries that found a row within their bound (most find none):
   * (dist2, global index, the query's place in its sender's block), grouped by sender. */
  int *fs = fc, *fr = fc + P, *fsd = fc + 2 * P, *frd = fc + 3 * P;
  int64_t nfs = 0, nfr = 0;
  for (int p = 0; p < P && fc; p++) {
    fs[p] = 0;
    fsd[p] = (int)nfs;
    for (int64_t q = qrdis[p]; q < qrdis[p] + qrcnt[p]; q++) {
      if (st != BFCR_OK || qnn[q] < 0) continue;
      ansr[3 * nfs] = qd[q];
      ansr[3 * nfs + 1] = (double)sg[qnn[q]];
      ansr[3 * nfs + 2] = (double)(q - qrdis[p]);
      nfs++;
      fs[p]++;
    }
  }
  st = MPI_OK(st, MPI_Alltoall(fs, 1, MPI_INT, fr, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (answer counts)");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    frd[p] = (int)nfr;
    nfr += fr[p];
  }
  st = MPI_OK(st, MPI_Alltoallv(ansr, fs, fsd, trip_t, ans, fr, frd, trip_t, ctx->comm),
              "MPI_Alltoallv (answers)");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    for (int64_t a = frd[p]; a < frd[p] + fr[p]; a++) {
      const double aq = ans[3 * a];
      const int64_t gq = (int64_t)ans[3 * a + 1];
      const int64_t j = qrow[qsdis[p] + (int64_t)ans[3 * a + 2]];
      if (bfcr_nn_better(aq, gq, sd2[j], sbf[j])) {
        sd2[j] = aq;
        sbf[j] = gq;
      }
    }
  }
  if (stats) {
    for (int p = 0; p < P; p++) {
      if (p == rank) continue;
      stats->bytes_sent += (int64_t)qscnt[p] * rec * 8 + (int64_t)fs[p] * 24;
    }
    stats->queries_sent = nqs1;
    stats->queries_answered = nqr1;
    stats->rows_searched = ns;
    stats->cpu_remote = dist_cpu() - c2;
  }
  double t3 = bfcr_wtime();

  /* 5. results back to the rows' owners (reverse of step 2), then replicated. The slab's
   * tree and query buffers go first, so this step does not add to the peak; a caller
   * that searches the same rows again keeps the plan, the tree's order, the slab rows and
   * their global indices (76 B a row at d = 8) and the set's hash (slab.h). */
  free(qs), free(qr), free(Qin), free(bnd), free(qd), free(ans), free(ansr), free(qnn), free(qrow);
  qs = qr = Qin = bnd = qd = ans = ansr = NULL;
  qnn = qrow = NULL;
  if (keep) {
    uint64_t hash = bfcr_slab_rows_hash(zs, n_local, offset);
    st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &hash, 1, MPI_UINT64_T, MPI_BXOR, ctx->comm),
                "MPI_Allreduce (rows hash)");
    if (stats) stats->bytes_sent += 8;
    if (st == BFCR_OK) *keep = slab_keep(d, n, &sl, ns, tree, &sg, hash);
  }
  bfcr_kdtree_free(tree);
  tree = NULL;
  res = bfcr_dist_alloc(ctx, &st, 2 * ns, sizeof(double));
  resr = bfcr_dist_alloc(ctx, &st, 2 * n_local, sizeof(double));
  BFCR_DIST_AGREE(); /* [6] */
  for (int64_t j = 0; j < ns; j++) {
    res[2 * j] = sd2[j];
    res[2 * j + 1] = sbf[j] == INT64_MAX ? -1.0 : (double)sbf[j];
  }
  st = MPI_OK(st, MPI_Alltoallv(res, rcnt, rdis, pair_t, resr, scnt, sdis, pair_t, ctx->comm),
              "MPI_Alltoallv (results)");
  if (stats) {
    for (int p = 0; p < P; p++) {
      if (p != rank) stats->bytes_sent += (int64_t)rcnt[p] * 16;
    }
  }
  for (int64_t i = 0; i < n_local && st == BFCR_OK; i++) {
    dist2[(L->d2_own ? 0 : offset) + i] = resr[2 * pos[i]];
    bf[(L->bf_own ? 0 : offset) + i] = (int64_t)resr[2 * pos[i] + 1];
  }
  st = dist_allgather(ctx, L, st, bf, dist2, stats);
  if (stats) {
    stats->sec_partition += t1 - t0;
    stats->sec_local += t2 - t1;
    stats->sec_remote += t3 - t2;
    stats->sec_gather += bfcr_wtime() - t3;
  }
  bfcr_phase_add(ctx, "knn_dist partition", t1 - t0, 0.0);
  bfcr_phase_add(ctx, "knn_dist local", t2 - t1, 0.0);
  bfcr_phase_add(ctx, "knn_dist boundary", t3 - t2, 0.0);
  bfcr_phase_add(ctx, "knn_dist gather", bfcr_wtime() - t3, 0.0);
cleanup:
  if (rec_t != MPI_DATATYPE_NULL) MPI_Type_free(&rec_t);
  if (pair_t != MPI_DATATYPE_NULL) MPI_Type_free(&pair_t);
  if (trip_t != MPI_DATATYPE_NULL) MPI_Type_free(&trip_t);
  if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
  if (frec_t != MPI_DATATYPE_NULL) MPI_Type_free(&frec_t);
  free(qf), free(qfr), free(mks), free(mkr), free(bc);
  free(sidx);
  bfcr_kdtree_free(tree);
  bfcr_slabs_free(&sl);
  free(sbuf), free(rbuf);
  free(S), free(sd2), free(qs), free(qr);
  free(Qin), free(bnd), free(qd), free(ans), free(ansr), free(res), free(resr), free(fc);
  free(qptr), free(inv), free(sg), free(sbf), free(pos), free(qrow), free(qnn);
  free(scnt), free(rcnt), free(sdis), free(rdis), free(dest);
  free(qlist), free(qscnt), free(qrcnt), free(qsdis), free(qrdis);
  return st;
}

/* ---- ring ------------------------------------------------------------------------------- */

/* Best of block R (rows of rank src) for the queries [i0, i0 + m) of this rank, combined into
 * (bd, bj). self: R is this rank's own block and the queries are all of it. */
static bfcr_status ring_block(const double *R, int64_t nR, int64_t roff, const double *Q, int64_t m,
                              int self, int d, int nt, int64_t *tnn, double *td2, double *bd,
                              int64_t *bj) {
  bfcr_status s = bfcr_knn_gemm(R, nR, d, Q, m, self, nt, tnn, td2);
  if (s != BFCR_OK) return s;
  for (int64_t i = 0; i < m; i++) {
    const int64_t g = roff + tnn[i];
    if (bfcr_nn_better(td2[i], g, bd[i], bj[i])) {
      bd[i] = td2[i];
      bj[i] = g;
    }
  }
  return BFCR_OK;
}

static bfcr_status run_ring(bfcr_ctx *ctx, const dist_layout *L, const double *Z, int64_t n_local,
                            int64_t offset, int d, int64_t *bf, double *dist2,
                            bfcr_knn_dist_stats *stats) {
  const int P = L->P, rank = L->rank, nt = ctx->nthreads;
  const int left = (rank + P - 1) % P, right = (rank + 1) % P;
  bfcr_status st = BFCR_OK;
  MPI_Datatype row_t = MPI_DATATYPE_NULL;
  MPI_Request req[2] = {MPI_REQUEST_NULL, MPI_REQUEST_NULL};
  double *bufA = NULL, *bufB = NULL, *bd = NULL, *td2 = NULL;
  int64_t *bj = NULL, *tnn = NULL;
  const int64_t chunk = n_local < DIST_RING_CHUNK ? n_local : DIST_RING_CHUNK;
  int64_t maxc = 0;
  double t0 = bfcr_wtime();
  for (int p = 0; p < P; p++) maxc = L->cnt[p] > maxc ? L->cnt[p] : maxc;
  bufA = bfcr_dist_alloc(ctx, &st, maxc * d, sizeof(double));
  bufB = bfcr_dist_alloc(ctx, &st, maxc * d, sizeof(double));
  bd = bfcr_dist_alloc(ctx, &st, n_local, sizeof(double));
  bj = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int64_t));
  tnn = bfcr_dist_alloc(ctx, &st, n_local, sizeof(int64_t));
  td2 = bfcr_dist_alloc(ctx, &st, n_local, sizeof(double));
  if (st == BFCR_OK) {
    st = MPI_OK(st, MPI_Type_contiguous(d, MPI_DOUBLE, &row_t), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_commit(&row_t), "MPI_Type_commit");
  }
  BFCR_DIST_AGREE();
  for (int64_t i = 0; i < n_local; i++) {
    bd[i] = INFINITY;
    bj[i] = INT64_MAX;
  }
  double t1 = bfcr_wtime(), c1 = dist_cpu();
  /* Own block (self excluded) while the first transfer is under way. Every rank runs the
   * same sequence of sends and receives whatever fails locally, so no rank waits alone;
   * the status is agreed at the end. */
  double *cur = bufA, *next = bufB;
  int rc = MPI_Irecv(cur, L->cnt[left], row_t, left, 0, ctx->comm, &req[0]);
  st = MPI_OK(st, rc, "MPI_Irecv");
  rc = MPI_Isend(Z, (int)n_local, row_t, right, 0, ctx->comm, &req[1]);
  st = MPI_OK(st, rc, "MPI_Isend");
  if (st == BFCR_OK && n_local >= 2)
    st = kd_check(ctx, st, ring_block(Z, n_local, offset, Z, n_local, 1, d, nt, tnn, td2, bd, bj),
                  "GEMM search of the own block");
  if (stats) stats->cpu_local = dist_cpu() - c1;
  st = MPI_OK(st, MPI_Waitall(2, req, MPI_STATUSES_IGNORE), "MPI_Waitall");
  int64_t bytes = n_local * d * 8;
  double t2 = bfcr_wtime(), c2 = dist_cpu();
  for (int s = 1; s < P; s++) {
    const int src = (rank + P - s) % P, nsrc = (src + P - 1) % P;
    if (s < P - 1) {
      rc = MPI_Irecv(next, L->cnt[nsrc], row_t, left, s, ctx->comm, &req[0]);
      st = MPI_OK(st, rc, "MPI_Irecv");
      rc = MPI_Isend(cur, L->cnt[src], row_t, right, s, ctx->comm, &req[1]);
      st = MPI_OK(st, rc, "MPI_Isend");
      bytes += (int64_t)L->cnt[src] * d * 8;
    }
    for (int64_t i0 = 0; i0 < n_local && L->cnt[src] > 0; i0 += chunk) {
      const int64_t m = n_local - i0 < chunk ? n_local - i0 : chunk;
      if (st == BFCR_OK)
        st = kd_check(ctx, st,
                      ring_block(cur, L->cnt[src], L->off[src], Z + i0 * d, m, 0, d, nt, tnn, td2,
                                 bd + i0, bj + i0),
                      "GEMM search of a travelling block");
      /* Open MPI progresses a large transfer only inside MPI calls. */
      int done = 0;
      if (s < P - 1) MPI_Testall(2, req, &done, MPI_STATUSES_IGNORE);
    }
    st = MPI_OK(st, MPI_Waitall(2, req, MPI_STATUSES_IGNORE), "MPI_Waitall");
    double *tmp = cur;
    cur = next;
    next = tmp;
  }
  for (int64_t i = 0; i < n_local; i++) {
    bf[(L->bf_own ? 0 : offset) + i] = bj[i];
    dist2[(L->d2_own ? 0 : offset) + i] = bd[i];
  }
  if (stats) stats->cpu_remote = dist_cpu() - c2;
  double t3 = bfcr_wtime();
  st = dist_allgather(ctx, L, st, bf, dist2, stats);
  if (stats) {
    stats->rows_searched = n_local;
    stats->bytes_sent += bytes;
    stats->sec_partition += t1 - t0;
    stats->sec_local += t2 - t1;
    stats->sec_remote += t3 - t2;
    stats->sec_gather += bfcr_wtime() - t3;
  }
  const double flops = 2.0 * (d + 1) * (double)n_local * (double)L->off[P];
  bfcr_phase_add(ctx, "knn_dist partition", t1 - t0, 0.0);
  bfcr_phase_add(ctx, "knn_dist local", t2 - t1, 0.0);
  bfcr_phase_add(ctx, "knn_dist ring", t3 - t2, flops);
  bfcr_phase_add(ctx, "knn_dist gather", bfcr_wtime() - t3, 0.0);
cleanup:
  if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
  free(bufA), free(bufB), free(bd), free(td2), free(bj), free(tnn);
  return st;
}

/* ---- entry point ------------------------------------------------------------------------ */

/* The rows as one stored block: zs->Z, or a standardized copy in *own (ring, one rank). */
static const double *stored_rows(bfcr_ctx *ctx, bfcr_status *st, const bfcr_zsrc *zs,
                                 int64_t n_local, double **own) {
  if (zs->Z || *st != BFCR_OK) return zs->Z;
  *own = bfcr_dist_alloc(ctx, st, n_local * zs->d, sizeof(double));
  if (!*own) return NULL;
  for (int64_t i = 0; i < n_local; i++) bfcr_zsrc_row(zs, i, *own + i * zs->d);
  return *own;
}

static bfcr_status allnn_dist(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                              int64_t n, int d, int64_t *bf, double *dist2, int own_level,
                              bfcr_knn_dist_stats *stats, bfcr_slab_keep **keep) {
  if (keep) *keep = NULL;
  if (!ctx || !zs) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  /* own_level: 0 all replicated, 1 distances on their owners, 2 best friends too. */
  dist_layout L = {ctx->size, ctx->rank, NULL, NULL, NULL, own_level >= 1, own_level >= 2};
  int64_t *all = NULL;
  double *own = NULL;
  const double *Z = NULL;
  if (stats) memset(stats, 0, sizeof(*stats));
  double t0 = bfcr_wtime(), c0 = dist_cpu();
  st = zs->d == d
           ? local_args(ctx, zs, n_local, offset, n, d, bf, dist2)
           : bfcr_err(ctx, BFCR_ERR_ARG, "knn_dist: row source of width %d, d = %d", zs->d, d);
  if (L.P == 1) {
    Z = stored_rows(ctx, &st, zs, n_local, &own);
    /* One rank: the serial search, no communication. */
    if (st == BFCR_OK && n_local != n)
      st = bfcr_err(ctx, BFCR_ERR_ARG, "knn_dist: one rank holds %lld of %lld rows",
                    (long long)n_local, (long long)n);
    if (st == BFCR_OK)
      st =
          kd_check(ctx, st, bfcr_knn_allnn(Z, n, d, ctx->nthreads, bf, dist2), "all-points search");
    if (stats) {
      stats->method = BFCR_KNN_DIST_LOCAL;
      stats->rows_searched = n;
      stats->sec_local = bfcr_wtime() - t0;
      stats->cpu_local = stats->cpu_total = dist_cpu() - c0;
    }
    bfcr_phase_add(ctx, "knn_dist local", bfcr_wtime() - t0, 0.0);
    free(own);
    return st;
  }
  int64_t mine[4] = {n_local, offset, n, d};
  L.cnt = bfcr_dist_alloc(ctx, &st, L.P, sizeof(int));
  L.off = bfcr_dist_alloc(ctx, &st, L.P + 1, sizeof(int64_t));
  L.dis = bfcr_dist_alloc(ctx, &st, L.P, sizeof(int));
  all = bfcr_dist_alloc(ctx, &st, 4 * (int64_t)L.P, sizeof(int64_t));
  BFCR_DIST_AGREE();
  st = MPI_OK(st, MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, ctx->comm),
              "MPI_Allgather (layout)");
  /* The blocks must tile [0, n) in rank order, with the same n and d everywhere (every
   * rank checks the same gathered values). */
  int64_t next = 0;
  for (int p = 0; p < L.P && st == BFCR_OK; p++) {
    if (all[4 * p + 2] != n || all[4 * p + 3] != d || all[4 * p + 1] != next || all[4 * p] < 0 ||
        all[4 * p] > INT_MAX)
      st = bfcr_err(ctx, BFCR_ERR_ARG,
                    "knn_dist: expected rank %d to hold rows from %lld of n = %lld, d = %d; "
                    "found offset %lld, n = %lld, d = %lld",
                    p, (long long)next, (long long)n, d, (long long)all[4 * p + 1],
                    (long long)all[4 * p + 2], (long long)all[4 * p + 3]);
    L.cnt[p] = (int)all[4 * p];
    L.off[p] = next;
    next += all[4 * p];
  }
  if (st == BFCR_OK && next != n)
    st = bfcr_err(ctx, BFCR_ERR_ARG, "knn_dist: the ranks hold %lld rows, expected n = %lld",
                  (long long)next, (long long)n);
  L.off[L.P] = n;
  BFCR_DIST_AGREE();
  if (n > INT_MAX) {
    free(L.dis);
    L.dis = NULL;
  } else {
    for (int p = 0; p < L.P; p++) L.dis[p] = (int)L.off[p];
  }
  bfcr_knn_choice ch;
  BFCR_CALL(bfcr_knn_dist_choose(ctx, zs, n_local, offset, n, d, &ch));
  {
    char line[160];
    bfcr_knn_choice_format(&ch, line, sizeof line);
    bfcr_nn_note(ctx, "level 0", line);
  }
  const int use_kd = ch.method != BFCR_NN_GEMM;
  if (stats) {
    stats->method = use_kd ? BFCR_KNN_DIST_SLABS : BFCR_KNN_DIST_RING;
    stats->sec_partition = bfcr_wtime() - t0;
  }
  if (use_kd) {
    st = run_slabs(ctx, &L, zs, n_local, offset, n, d, bf, dist2, stats, keep);
  } else {
    Z = stored_rows(ctx, &st, zs, n_local, &own);
    st = bfcr_agree(ctx, st);
    if (st == BFCR_OK) st = run_ring(ctx, &L, Z, n_local, offset, d, bf, dist2, stats);
  }
  st = bfcr_agree(ctx, st);
  if (stats) stats->cpu_total = dist_cpu() - c0;
cleanup:
  if (keep && *keep && st != BFCR_OK) {
    bfcr_slab_keep_free(*keep);
    *keep = NULL;
  }
  free(L.cnt);
  free(L.off);
  free(L.dis);
  free(all);
  free(own);
  return st;
}

bfcr_status bfcr_knn_allnn_dist_src(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                    int64_t offset, int64_t n, int d, int64_t *bf, double *dist2,
                                    bfcr_knn_dist_stats *stats) {
  return allnn_dist(ctx, zs, n_local, offset, n, d, bf, dist2, 0, stats, NULL);
}

bfcr_status bfcr_knn_allnn_dist_own(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                    int64_t offset, int64_t n, int d, int64_t *bf,
                                    double *dist2_own, bfcr_knn_dist_stats *stats) {
  return allnn_dist(ctx, zs, n_local, offset, n, d, bf, dist2_own, 1, stats, NULL);
}

bfcr_status bfcr_knn_allnn_dist_mine(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                     int64_t offset, int64_t n, int d, int64_t *bf_own,
                                     double *dist2_own, bfcr_knn_dist_stats *stats) {
  return allnn_dist(ctx, zs, n_local, offset, n, d, bf_own, dist2_own, 2, stats, NULL);
}

bfcr_status bfcr_knn_allnn_dist_keep(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                     int64_t offset, int64_t n, int d, int64_t *bf_own,
                                     double *dist2_own, bfcr_slab_keep **keep) {
  return allnn_dist(ctx, zs, n_local, offset, n, d, bf_own, dist2_own, 2, NULL, keep);
}

bfcr_status bfcr_knn_allnn_dist_stats(bfcr_ctx *ctx, const double *Z, int64_t n_local,
                                      int64_t offset, int64_t n, int d, int64_t *bf, double *dist2,
                                      bfcr_knn_dist_stats *stats) {
  bfcr_zsrc zs = {Z, NULL, NULL, NULL, d};
  return bfcr_knn_allnn_dist_src(ctx, &zs, n_local, offset, n, d, bf, dist2, stats);
}

bfcr_status bfcr_knn_allnn_dist(bfcr_ctx *ctx, const double *Z, int64_t n_local, int64_t offset,
                                int64_t n, int d, int64_t *bf, double *dist2) {
  return bfcr_knn_allnn_dist_stats(ctx, Z, n_local, offset, n, d, bf, dist2, NULL);
}
