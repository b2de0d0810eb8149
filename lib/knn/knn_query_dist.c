/* Exact nearest reference row for query rows when the reference rows are spread over the
 * ranks (a sharded routing model, lib/model/route_shard.c).
 *
 * Rank r holds reference rows [roff_r, roff_r + nr_r) (blocks tiling [0, nR) in rank order,
 * empty blocks allowed) and its own query rows. The answer is bfcr_knn_query's on the
 * whole set in one process: the lexicographic minimum of (canonical dist2, global index),
 * for any rank count, block sizes and thread count. Two methods give it, chosen like the
 * level-0 search's (knn_dist.c): slabs in the kd-tree range, a ring in the GEMM range.
 *
 * Slabs (low d; the work and the traffic per rank divide by P):
 *   1. plan: the axes and the bisection of the reference rows into cells, one per rank
 *      (slab.c, as knn_dist.c; "slab" below is a rank's cell);
 *   2. the reference rows move to their slab's rank (MPI_Alltoallv of coordinates, global
 *      index and tag); senders are in rank order and send in row order, so a slab arrives
 *      sorted by global index and the kd-tree's tie-break on local indices is the global
 *      one (checked); each rank builds a kd-tree over its slab;
 *   3. each query goes to a home cell (its key's cell, or the non-empty cell nearest to
 *      it: bfcr_slab_home), which searches it without bound: r2, an upper bound of the
 *      final distance;
 *   4. boundary: the home rank sends the query, bounded by r2, to every other rank in
 *      reach (bfcr_slab_reach: its ranges of projections meet the query's windows; the
 *      margin covers the rounding of the projections and of bfcr_dist2); the owners answer with
 *      bfcr_kdtree_query bounded by r2 (ties at the bound kept), the home combines with
 *      bfcr_nn_better on global indices. One round suffices, as in knn_dist.c;
 *   5. the answers (dist2, index, tag) return to the query's rank, in its input order.
 *   Traffic per rank: its reference rows once ((d + 2) doubles each), its queries once
 *   (d doubles out, 3 back) and the boundary queries; memory: its block, the slab's tree
 *   (about nR / P rows), the queries it is home for. The balance of the queries follows
 *   their distribution: queries distributed like the reference rows spread evenly.
 * Ring (high d): the reference blocks travel around the ring of ranks (MPI_Sendrecv, one
 *   block in flight, with the tags); every rank searches each visiting block for its
 *   queries (bfcr_knn_query's method: GEMM, or a kd-tree bounded by the best so far) and
 *   keeps the best (dist2, global index) with bfcr_nn_better. A block is a contiguous
 *   range of global indices, so the combination is the minimum over all rows. Traffic per
 *   rank: (P - 1) blocks of about nR d / P doubles; in the GEMM range a slab boundary is
 *   no longer thin (docs/knn-distributed.md), which is why the ring stays there. */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_dist.h"
#include "knn/knn_query_dist.h"
#include "knn/dist_util.h"
#include "knn/slab.h"

/* MPI failures named after this search (dist_util.h). */
#define MPI_OK(st, rc, what) bfcr_dist_mpi_ok(ctx, st, rc, "routing", what)

/* Queries per rank and round (bounds the query buffers: 4 MB at d = 8). */
#define QD_CHUNK 65536

/* ---- ring --------------------------------------------------------------------------------- */

/* Search one block (rows [first, first + cnt)) for the queries and fold the answers into
 * (nn, dist2, tag). A block this rank owns (own = 1) is handed to the kd-tree, which
 * permutes it in place and frees it: no copy. The kd-tree queries are bounded by the best
 * distance so far (ties at the bound are kept), which prunes most of the later blocks. */
static bfcr_status search_block(bfcr_ctx *ctx, double *blk, int own, const int64_t *btag,
                                int64_t cnt, int64_t first, int d, const double *Q, int64_t nq,
                                int64_t *bnn, double *bd2, int64_t *nn, double *dist2,
                                int64_t *tag) {
  bfcr_status st = BFCR_OK;
  const bfcr_nn_method forced = (bfcr_nn_method)ctx->nn_method;
  bfcr_knn_choice ch = {0};
  bfcr_knn_decide(forced == BFCR_NN_GEMM ? BFCR_NN_GEMM : BFCR_NN_TREE, &ch);
  if (forced != BFCR_NN_GEMM) {
    /* The probe (knn_choose.c) needs the tree; GEMM needs the rows in their own order,
     * which a taken block loses. Keep a copy only where the probe may pick GEMM (at low
     * dimension it never does, and the block is taken without a copy). */
    const int may_gemm = forced == BFCR_NN_AUTO && d > 16;
    bfcr_kdtree *t = NULL;
    st = own && !may_gemm ? bfcr_kdtree_build_take(blk, cnt, d, ctx->nthreads, &t)
                          : bfcr_kdtree_build(blk, cnt, d, ctx->nthreads, &t);
    if (st == BFCR_OK && may_gemm) {
      bfcr_knn_probe(t, nq, 0, ctx->nthreads, &ch);
      bfcr_knn_decide(BFCR_NN_AUTO, &ch);
    }
    if (st == BFCR_OK && ch.method == BFCR_NN_TREE)
      st = bfcr_kdtree_query(t, Q, nq, NULL, dist2, ctx->nthreads, bnn, bd2);
    bfcr_kdtree_free(t);
    if (own && !may_gemm) own = 0; /* the tree took and freed the block */
  }
  if (st == BFCR_OK && ch.method == BFCR_NN_GEMM)
    st = bfcr_knn_gemm(blk, cnt, d, Q, nq, 0, ctx->nthreads, bnn, bd2);
  if (own) free(blk);
  if (st != BFCR_OK) return bfcr_err(ctx, st, "routing search failed");
  for (int64_t i = 0; i < nq; i++) {
    if (bnn[i] < 0) continue;
    const int64_t g = first + bnn[i];
    if (nn[i] < 0 || bfcr_nn_better(bd2[i], g, dist2[i], nn[i])) {
      nn[i] = g;
      dist2[i] = bd2[i];
      if (tag) tag[i] = btag[bnn[i]];
    }
  }
  return st;
}

static bfcr_status run_ring(bfcr_ctx *ctx, const int64_t *off, const double *R, const int64_t *Rtag,
                            int d, const double *Q, int64_t nq, int64_t *nn, double *dist2,
                            int64_t *tag) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size, me = ctx->rank;
  int64_t *bnn = NULL, *tcur = NULL, *tnxt = NULL;
  double *cur = NULL, *nxt = NULL, *bd2 = NULL;
  const double t0 = bfcr_wtime();
  bnn = bfcr_dist_alloc(ctx, &st, nq, sizeof(int64_t));
  bd2 = bfcr_dist_alloc(ctx, &st, nq, sizeof(double));
  BFCR_DIST_AGREE();
  /* Step s holds rank (me - s)'s block: R itself at s = 0, then received buffers. At most
   * three blocks live at once: R, the block being searched (inside its tree), the next. */
  cur = (double *)R;
  tcur = (int64_t *)Rtag;
  const int to = (me + 1) % P, from = (me + P - 1) % P;
  for (int s = 0; s < P; s++) {
    const int src = (me + P - s) % P;
    const int64_t cnt = off[2 * src + 1], first = off[2 * src];
    if (s + 1 < P) { /* pass the block on, receive the next one (from rank me - s - 1) */
      const int64_t ncnt = off[2 * ((me + P - s - 1) % P) + 1];
      nxt = bfcr_malloc(ctx, (size_t)(ncnt > 0 ? ncnt * d : 1), sizeof(double));
      tnxt = Rtag ? bfcr_malloc(ctx, (size_t)(ncnt > 0 ? ncnt : 1), sizeof(int64_t)) : NULL;
      if (!nxt || (Rtag && !tnxt)) st = BFCR_ERR_NOMEM;
      st = bfcr_agree(ctx, st);
      if (st == BFCR_OK &&
          MPI_Sendrecv(cur, (int)(cnt * d), MPI_DOUBLE, to, 71, nxt, (int)(ncnt * d), MPI_DOUBLE,
                       from, 71, ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Sendrecv of training rows failed");
      if (st == BFCR_OK && Rtag &&
          MPI_Sendrecv(tcur, (int)cnt, MPI_INT64_T, to, 72, tnxt, (int)ncnt, MPI_INT64_T, from, 72,
                       ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Sendrecv of training labels failed");
    }
    const int own = s > 0;
    if (st == BFCR_OK && cnt > 0 && nq > 0) {
      st = search_block(ctx, cur, own, tcur, cnt, first, d, Q, nq, bnn, bd2, nn, dist2, tag);
    } else if (own) {
      free(cur);
    }
    if (own) free(tcur);
    cur = nxt;
    tcur = tnxt;
    nxt = NULL;
    tnxt = NULL;
    /* One agreement per step keeps a failed rank from leaving the ring early. */
    BFCR_DIST_AGREE();
  }
  cur = NULL;
  tcur = NULL;
  bfcr_phase_add(ctx, "routing: ring", bfcr_wtime() - t0, 0.0);
cleanup:
  if (cur != R) free(cur);
  if (tcur != Rtag) free(tcur);
  free(nxt);
  free(tnxt);
  free(bnn);
  free(bd2);
  return st;
}

/* ---- slabs -------------------------------------------------------------------------------- */

static bfcr_status run_slabs(bfcr_ctx *ctx, const int64_t *off, int64_t nR, const double *R,
                             const int64_t *Rtag, int d, const double *Q, int64_t nq, int64_t *nn,
                             double *dist2, int64_t *tag) {
  const int P = ctx->size, me = ctx->rank, nt = ctx->nthreads;
  const int64_t nr = off[2 * me + 1], roff = off[2 * me];
  const int rec = d + 2;  /* reference row: coordinates, global index, tag */
  const int brec = d + 1; /* boundary query: coordinates, bound */
  bfcr_status st = BFCR_OK;
  MPI_Datatype rec_t = MPI_DATATYPE_NULL, row_t = MPI_DATATYPE_NULL, brec_t = MPI_DATATYPE_NULL,
               ans_t = MPI_DATATYPE_NULL;
  int64_t *boff = NULL, *sg = NULL, *stag = NULL, *rptr = NULL, *pos = NULL, *hnn = NULL;
  int64_t *bnn = NULL, *brow = NULL;
  int *bcnt = NULL, *cnts = NULL, *dest = NULL, *reach = NULL;
  double *sbuf = NULL, *rbuf = NULL, *qs = NULL;
  double *qh = NULL, *hd2 = NULL, *hans = NULL, *bs = NULL, *br = NULL, *bb = NULL, *bd2 = NULL;
  double *bans = NULL, *bback = NULL, *res = NULL;
  bfcr_kdtree *tree = NULL;
  bfcr_slabs sl = {0};
  int64_t ns = 0, nh = 0, nbs = 0, nbr = 0, bytes = 0;
  const double t0 = bfcr_wtime();

  boff = bfcr_dist_alloc(ctx, &st, P, sizeof(int64_t));
  bcnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  cnts = bfcr_dist_alloc(ctx, &st, 9 * (int64_t)P, sizeof(int));
  dest = bfcr_dist_alloc(ctx, &st, nr > nq ? nr : nq, sizeof(int));
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) {
      boff[p] = off[2 * p];
      bcnt[p] = (int)off[2 * p + 1];
    }
    if (MPI_Type_contiguous(rec, MPI_DOUBLE, &rec_t) != MPI_SUCCESS ||
        MPI_Type_commit(&rec_t) != MPI_SUCCESS ||
        MPI_Type_contiguous(d, MPI_DOUBLE, &row_t) != MPI_SUCCESS ||
        MPI_Type_commit(&row_t) != MPI_SUCCESS ||
        MPI_Type_contiguous(brec, MPI_DOUBLE, &brec_t) != MPI_SUCCESS ||
        MPI_Type_commit(&brec_t) != MPI_SUCCESS ||
        MPI_Type_contiguous(3, MPI_DOUBLE, &ans_t) != MPI_SUCCESS ||
        MPI_Type_commit(&ans_t) != MPI_SUCCESS)
      st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Type_contiguous failed");
  }
  BFCR_DIST_AGREE();
  /* Counts and displacements: rows / boundary queries (s, r), queries / answers (q). */
  int *scnt = cnts, *rcnt = cnts + P, *sdis = cnts + 2 * P, *rdis = cnts + 3 * P;
  int *qscnt = cnts + 4 * P, *qrcnt = cnts + 5 * P, *qsdis = cnts + 6 * P, *qrdis = cnts + 7 * P;
  int *fill = cnts + 8 * P;

  /* 1. the plan of the reference rows (agreed inside). */
  {
    const bfcr_zsrc zs = {R, NULL, NULL, NULL, d};
    st = bfcr_slab_plan(ctx, &zs, nr, roff, nR, boff, bcnt, d, &sl, &bytes);
    if (st != BFCR_OK) goto cleanup;
  }

  /* 2. reference rows to their slabs, packed in destination order with rows in order
   * inside a destination, so every slab arrives sorted by global index. */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(R, dest, sl, nr, roff, d)
  for (int64_t i = 0; i < nr; i++) dest[i] = bfcr_slab_of(&sl, R + i * d, roff + i);
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t i = 0; i < nr; i++) scnt[dest[i]]++;
  bfcr_dist_displs(scnt, sdis, P);
  sbuf = bfcr_dist_alloc(ctx, &st, nr * rec, sizeof(double));
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t i = 0; i < nr; i++) {
      double *row = sbuf + (int64_t)fill[dest[i]]++ * rec;
      memcpy(row, R + i * d, (size_t)d * sizeof(double));
      row[d] = (double)(roff + i);
      row[d + 1] = Rtag ? (double)Rtag[i] : 0.0;
    }
  }
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (row counts)");
  ns = bfcr_dist_displs(rcnt, rdis, P);
  if (st == BFCR_OK && ns < 0)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "routing: a slab of more than 2^31 - 1 rows");
  if (st == BFCR_OK) {
    rbuf = bfcr_dist_alloc(ctx, &st, ns * rec, sizeof(double));
    sg = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
    stag = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
  }
  BFCR_DIST_AGREE();
  st = MPI_OK(st, MPI_Alltoallv(sbuf, scnt, sdis, rec_t, rbuf, rcnt, rdis, rec_t, ctx->comm),
              "MPI_Alltoallv (training rows)");
  for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * rec * 8;
  free(sbuf);
  sbuf = NULL;
  /* Compacted in place (stride rec -> d, forward) and handed to the kd-tree, which
   * permutes the rows in place: the slab costs one copy of its rows. */
  for (int64_t j = 0; j < ns && st == BFCR_OK; j++) {
    sg[j] = (int64_t)rbuf[j * rec + d];
    stag[j] = (int64_t)rbuf[j * rec + d + 1];
    memmove(rbuf + j * d, rbuf + j * rec, (size_t)d * sizeof(double));
    if (j > 0 && sg[j] <= sg[j - 1])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "routing: slab rows out of global order");
  }
  if (st == BFCR_OK && ns > 0) {
    double *shrunk = realloc(rbuf, (size_t)(ns * d) * sizeof(double));
    if (shrunk) rbuf = shrunk;
    st = bfcr_kdtree_build_take(rbuf, ns, d, nt, &tree);
    rbuf = NULL;
    if (st != BFCR_OK) st = bfcr_err(ctx, st, "routing: kd-tree build failed");
  }
  double mine[3 * BFCR_SLAB_MAX_AXES + 1];
  bfcr_slab_range_rows(&sl, st == BFCR_OK && ns > 0 ? bfcr_kdtree_rows(tree) : NULL,
                       st == BFCR_OK ? ns : 0, nt, mine);
  BFCR_DIST_AGREE();
  st = bfcr_slab_ranges(ctx, &sl, mine, &bytes);
  BFCR_DIST_AGREE();
  const double t1 = bfcr_wtime();
  bfcr_phase_add(ctx, "routing: slabs", t1 - t0, 0.0);

  /* Steps 3-5 run in rounds of at most QD_CHUNK queries per rank, so the query buffers
   * stay small beside the slab's tree whatever the number of queries. */
  int64_t rounds = (nq + QD_CHUNK - 1) / QD_CHUNK, nh_all = 0, nbs_all = 0, nbr_all = 0;
  st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, ctx->comm),
              "MPI_Allreduce (rounds)");
  BFCR_DIST_AGREE();
  for (int64_t round = 0; round < rounds; round++) {
    const int64_t i0 = round * QD_CHUNK < nq ? round * QD_CHUNK : nq;
    const int64_t mq = nq - i0 < QD_CHUNK ? nq - i0 : QD_CHUNK;
    const double *Qr = mq > 0 ? Q + i0 * d : Q;
    /* 3. queries to their home slabs; the home searches them without a bound. */
    for (int p = 0; p < P; p++) qscnt[p] = 0;
    for (int64_t i = 0; i < mq; i++) {
      dest[i] = bfcr_slab_home(&sl, Qr + i * d);
      qscnt[dest[i]]++;
    }
    bfcr_dist_displs(qscnt, qsdis, P);
    pos = bfcr_dist_alloc(ctx, &st, mq, sizeof(int64_t));
    qs = bfcr_dist_alloc(ctx, &st, mq * d, sizeof(double));
    if (st == BFCR_OK) {
      for (int p = 0; p < P; p++) fill[p] = qsdis[p];
      for (int64_t i = 0; i < mq; i++) {
        pos[i] = fill[dest[i]]++;
        memcpy(qs + pos[i] * d, Qr + i * d, (size_t)d * sizeof(double));
      }
    }
    st = MPI_OK(st, MPI_Alltoall(qscnt, 1, MPI_INT, qrcnt, 1, MPI_INT, ctx->comm),
                "MPI_Alltoall (query counts)");
    nh = bfcr_dist_displs(qrcnt, qrdis, P);
    nh_all += nh > 0 ? nh : 0;
    if (st == BFCR_OK && nh < 0)
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "routing: more than 2^31 - 1 queries for one slab");
    if (st == BFCR_OK) {
      qh = bfcr_dist_alloc(ctx, &st, nh * d, sizeof(double));
      hnn = bfcr_dist_alloc(ctx, &st, nh, sizeof(int64_t));
      hd2 = bfcr_dist_alloc(ctx, &st, nh, sizeof(double));
      rptr = bfcr_dist_alloc(ctx, &st, nh + 1, sizeof(int64_t));
    }
    BFCR_DIST_AGREE();
    st = MPI_OK(st, MPI_Alltoallv(qs, qscnt, qsdis, row_t, qh, qrcnt, qrdis, row_t, ctx->comm),
                "MPI_Alltoallv (queries)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)qscnt[p] * d * 8;
    free(qs);
    qs = NULL;
    /* A home slab is never empty (bfcr_slab_home), so the tree exists when nh > 0. hnn: local
     * index in the slab, hd2: its distance, an upper bound of the final one. */
    if (st == BFCR_OK && nh > 0) {
      st = bfcr_kdtree_query(tree, qh, nh, NULL, NULL, nt, hnn, hd2);
      if (st != BFCR_OK) st = bfcr_err(ctx, st, "routing: kd-tree search failed");
    }
    BFCR_DIST_AGREE();

    /* 4. boundary: each home query to the other slabs its window reaches, bounded by hd2. */
    /* The cells each query's ball reaches (slab.h), counted then listed (rptr, reach: CSR
     * over the home queries, ranks in increasing order). */
    reach = bfcr_slab_reach_csr(ctx, &st, &sl, qh, NULL, hd2, nh, me, nt, rptr, scnt);
    BFCR_DIST_AGREE();
    st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
                "MPI_Alltoall (boundary counts)");
    nbs = bfcr_dist_displs(scnt, sdis, P);
    nbr = bfcr_dist_displs(rcnt, rdis, P);
    nbs_all += nbs > 0 ? nbs : 0;
    nbr_all += nbr > 0 ? nbr : 0;
    if (st == BFCR_OK && (nbs < 0 || nbr < 0))
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "routing: more than 2^31 - 1 boundary queries");
    if (st == BFCR_OK) {
      bs = bfcr_dist_alloc(ctx, &st, nbs * brec, sizeof(double));
      brow = bfcr_dist_alloc(ctx, &st, nbs, sizeof(int64_t));
      bback = bfcr_dist_alloc(ctx, &st, nbs * 3, sizeof(double));
      br = bfcr_dist_alloc(ctx, &st, nbr * brec, sizeof(double));
      bb = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bnn = bfcr_dist_alloc(ctx, &st, nbr, sizeof(int64_t));
      bd2 = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bans = bfcr_dist_alloc(ctx, &st, nbr * 3, sizeof(double));
    }
    BFCR_DIST_AGREE();
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t j = 0; j < nh; j++) {
      for (int64_t e = rptr[j]; e < rptr[j + 1]; e++) {
        const int p = reach[e];
        const int64_t b = fill[p]++;
        memcpy(bs + b * brec, qh + j * d, (size_t)d * sizeof(double));
        bs[b * brec + d] = hd2[j];
        brow[b] = j;
      }
    }
    st = MPI_OK(st, MPI_Alltoallv(bs, scnt, sdis, brec_t, br, rcnt, rdis, brec_t, ctx->comm),
                "MPI_Alltoallv (boundary queries)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * brec * 8;
    free(bs);
    bs = NULL;
    for (int64_t b = 0; b < nbr; b++) { /* bounds out, coordinates compacted in place */
      bb[b] = br[b * brec + d];
      memmove(br + b * d, br + b * brec, (size_t)d * sizeof(double));
    }
    /* Boundary queries reach only non-empty slabs, so the tree exists when nbr > 0. */
    if (st == BFCR_OK && nbr > 0) {
      st = bfcr_kdtree_query(tree, br, nbr, NULL, bb, nt, bnn, bd2);
      if (st != BFCR_OK) st = bfcr_err(ctx, st, "routing: kd-tree boundary search failed");
    }
    for (int64_t b = 0; b < nbr; b++) { /* (dist2, global index, tag), or (+inf, -1, 0) */
      const int found = st == BFCR_OK && bnn[b] >= 0;
      bans[3 * b] = found ? bd2[b] : INFINITY;
      bans[3 * b + 1] = found ? (double)sg[bnn[b]] : -1.0;
      bans[3 * b + 2] = found ? (double)stag[bnn[b]] : 0.0;
    }
    st = MPI_OK(st, MPI_Alltoallv(bans, rcnt, rdis, ans_t, bback, scnt, sdis, ans_t, ctx->comm),
                "MPI_Alltoallv (boundary answers)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)rcnt[p] * 24;
    free(br), free(bb), free(bnn), free(bd2), free(bans), free(qh), free(reach), free(rptr);
    br = bb = bd2 = bans = qh = NULL;
    bnn = rptr = NULL;
    reach = NULL;

    /* 5. the home's answer (global index, tag), the boundary answers folded in, then back to
     * the queries' ranks in the order they were sent. */
    hans = bfcr_dist_alloc(ctx, &st, nh * 3, sizeof(double));
    res = bfcr_dist_alloc(ctx, &st, mq * 3, sizeof(double));
    BFCR_DIST_AGREE();
    for (int64_t j = 0; j < nh; j++) {
      const int found = hnn[j] >= 0;
      hans[3 * j] = found ? hd2[j] : INFINITY;
      hans[3 * j + 1] = found ? (double)sg[hnn[j]] : -1.0;
      hans[3 * j + 2] = found ? (double)stag[hnn[j]] : 0.0;
    }
    for (int64_t b = 0; b < nbs; b++) {
      const double *a = bback + 3 * b;
      double *h = hans + 3 * brow[b];
      if (a[1] < 0.0) continue;
      if (h[1] < 0.0 || bfcr_nn_better(a[0], (int64_t)a[1], h[0], (int64_t)h[1])) {
        h[0] = a[0];
        h[1] = a[1];
        h[2] = a[2];
      }
    }
    st = MPI_OK(st, MPI_Alltoallv(hans, qrcnt, qrdis, ans_t, res, qscnt, qsdis, ans_t, ctx->comm),
                "MPI_Alltoallv (answers)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)qrcnt[p] * 24;
    for (int64_t i = 0; i < mq && st == BFCR_OK; i++) {
      const double *r = res + 3 * pos[i];
      dist2[i0 + i] = r[0];
      nn[i0 + i] = (int64_t)r[1];
      if (tag) tag[i0 + i] = (int64_t)r[2];
    }
    BFCR_DIST_AGREE();
    free(pos), free(qs), free(qh), free(hnn), free(hd2), free(reach), free(rptr), free(bs);
    free(brow);
    free(bback), free(br), free(bb), free(bnn), free(bd2), free(bans), free(hans), free(res);
    pos = hnn = brow = bnn = rptr = NULL;
    qs = qh = hd2 = bs = bback = br = bb = bd2 = bans = hans = res = NULL;
    reach = NULL;
  }
  bfcr_phase_add(ctx, "routing: queries", bfcr_wtime() - t1, 0.0);
  {
    char line[256];
    snprintf(line, sizeof line,
             "slabs: %lld training rows, %lld home queries, %lld boundary queries sent, "
             "%lld answered, %.1f MB sent",
             (long long)ns, (long long)nh_all, (long long)nbs_all, (long long)nbr_all,
             (double)bytes / 1e6);
    bfcr_nn_note(ctx, "routing", line);
  }
cleanup:
  if (rec_t != MPI_DATATYPE_NULL) MPI_Type_free(&rec_t);
  if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
  if (brec_t != MPI_DATATYPE_NULL) MPI_Type_free(&brec_t);
  if (ans_t != MPI_DATATYPE_NULL) MPI_Type_free(&ans_t);
  bfcr_kdtree_free(tree);
  bfcr_slabs_free(&sl);
  free(boff), free(sg), free(stag), free(rptr), free(pos), free(hnn), free(bnn), free(brow);
  free(bcnt), free(cnts), free(dest), free(reach), free(sbuf), free(rbuf);
  free(qs), free(qh), free(hd2), free(hans), free(bs), free(br), free(bb), free(bd2);
  free(bans), free(bback), free(res);
  return st;
}

/* ---- entry point -------------------------------------------------------------------------- */

bfcr_status bfcr_knn_query_dist(bfcr_ctx *ctx, const double *R, const int64_t *Rtag, int64_t nr,
                                int64_t roff, int d, const double *Q, int64_t nq, int64_t *nn,
                                double *dist2, int64_t *tag) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size;
  int64_t *off = NULL, mine[2] = {roff, nr}, nR = 0;
  off = bfcr_malloc(ctx, (size_t)2 * (size_t)P, sizeof(int64_t));
  if (!off) st = BFCR_ERR_NOMEM;
  BFCR_DIST_AGREE();
  if (MPI_Allgather(mine, 2, MPI_INT64_T, off, 2, MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "routing: MPI_Allgather of the reference blocks failed");
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    if (off[2 * p] != nR || off[2 * p + 1] < 0 || off[2 * p + 1] * (int64_t)d > INT_MAX)
      st = bfcr_err(ctx, BFCR_ERR_ARG,
                    "routing: the ranks' training-row blocks do not tile the rows in rank order "
                    "(rank %d holds [%lld, +%lld))",
                    p, (long long)off[2 * p], (long long)off[2 * p + 1]);
    nR += off[2 * p + 1];
  }
  if (st == BFCR_OK && nR > ((int64_t)1 << 53))
    st = bfcr_err(ctx, BFCR_ERR_ARG, "routing: more than 2^53 training rows");
  BFCR_DIST_AGREE();
  for (int64_t i = 0; i < nq; i++) {
    nn[i] = -1;
    dist2[i] = INFINITY;
  }
  if (nR == 0) goto cleanup;
  /* The method of the level-0 search (knn_dist.c): slabs in the kd-tree range, the ring in
   * the GEMM range. Below 17 dimensions the kd-tree always wins (knn_choose.c), so the
   * probe runs only above. */
  int slabs = P > 1 && ctx->nn_method != BFCR_NN_GEMM;
  if (slabs && ctx->nn_method == BFCR_NN_AUTO && d > 16) {
    bfcr_knn_choice ch;
    const bfcr_zsrc zs = {R, NULL, NULL, NULL, d};
    BFCR_CALL(bfcr_knn_dist_choose(ctx, &zs, nr, roff, nR, d, &ch));
    slabs = ch.method != BFCR_NN_GEMM;
  }
  st = slabs ? run_slabs(ctx, off, nR, R, Rtag, d, Q, nq, nn, dist2, tag)
             : run_ring(ctx, off, R, Rtag, d, Q, nq, nn, dist2, tag);
cleanup:
  free(off);
  return st;
}
