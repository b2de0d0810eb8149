/* The cross-validation's routing search by spatial slabs: the nearest row outside a
 * row's fold, rows distributed over the ranks (lib/model/cv_dist.c's routing rows).
 *
 * The answer is the ring's (and one process's): for a flagged row of group f, the
 * lexicographic minimum of (canonical dist2, global index) over the rows of the other
 * groups. The steps follow the level-0 search's boundary (knn_dist.c) and prediction's
 * query search (knn_query_dist.c):
 *   1. plan: the axes and the bisection of the rows into cells, one per rank (slab.c;
 *      "slab" below is a rank's cell);
 *   2. every row moves once to its slab's rank (MPI_Alltoallv): d doubles, its local
 *      index as int32 (the sender's block start is known) and a tag (group and "needs a
 *      search" flag: 1 B when every group is below 128, else 4 B), 69 B a row at d = 8
 *      instead of d + 3 doubles; senders are in rank order and
 *      send in row order, so a slab arrives sorted by global index and the kd-tree's
 *      tie-break on local indices is the global one (checked);
 *   3. home: the flagged rows are rows of the slab, so their home is the slab they landed
 *      in (no query travels there); the slab searches them with bfcr_kdtree_query_grp
 *      (groups skipped, no bound): r2, an upper bound of the final distance;
 *   4. boundary: each flagged row goes, bounded by r2, to every other rank in reach
 *      (bfcr_slab_reach: its ranges of projections meet the row's windows; slab.h;
 *      the margin covers the rounding of the projections and of bfcr_dist2), in two
 *      rounds like the level-0 search's (query_coarse.h): a coarse query (3 B a
 *      coordinate, a widened float bound, the group's tag) whose one-bit answer flags
 *      the queries that may find a row of another group, then those exactly; those
 *      answer with the same search bounded by r2 (ties at the bound kept) and the home
 *      combines with bfcr_nn_better on global indices. A row outside the reached cells
 *      is farther than r2, so one search is exact. Rounds of at most CR_CHUNK home rows
 *      per rank bound the buffers;
 *   5. the answer (global index) returns to the row's owner: 8 bytes a row, in global
 *      order per slab, so the owner places it by its own rows' slabs and flags.
 * With the level-0 search's keep (slab.h: same rows, same ranks) step 1 takes its plan
 * and step 3's tree is rebuilt from its order (a permutation of the slab rows, no
 * partitioning: about a sixth of the build's CPU time, `bench_knn rebuild`); when the
 * set's hash (bfcr_slab_rows_hash, XOR over the ranks) is the kept one, the cells' rows
 * are the kept ones too and step 2 moves only the tags (1 B a row). A hash that differs
 * (other rows) only sends the rows again.
 * Traffic per rank: its rows once (n/P x (8 d + 5) B, or n/P B with the kept rows), the
 * boundary rows (3 d + 5 B out, then the flagged ones again as d + 2 doubles, 2 back) and
 * the answers; the ring sends about n/K x (d + 3) (its n/(K P) rows pass all P ranks),
 * hence the choice in knn_cv_route.h. Memory: the slab's rows and tree (about n/P rows)
 * and the slab's flagged rows (about n/(K P)). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_cv_route.h"
#include "knn/dist_util.h"
#include "knn/query_coarse.h"
#include "knn/slab.h"
#include "par/reduce_ranges.h"

/* MPI failures named after this search (dist_util.h). */
#define MPI_OK(st, rc, what) bfcr_dist_mpi_ok(ctx, st, rc, "cross-validation routing", what)

/* Home rows per rank and boundary round. */
#define CR_CHUNK 65536

/* Rank whose block [offs[r], offs[r + 1]) holds global row g: the last r with
 * offs[r] <= g (a non-empty block). */
static int owner_of(const int64_t *offs, int P, int64_t g) {
  return (int)bfcr_first_range_from(offs, P, g + 1) - 1;
}

/* A row's tag: its group and whether it needs a search, in tb bytes (1 or 4, little end
 * first). */
static void tag_put(unsigned char *t, int tb, int grp, int need) {
  const uint32_t v = (uint32_t)grp * 2u + (need ? 1u : 0u);
  for (int k = 0; k < tb; k++) t[k] = (unsigned char)(v >> (8 * k));
}

static uint32_t tag_get(const unsigned char *t, int tb) {
  uint32_t v = 0;
  for (int k = 0; k < tb; k++) v |= (uint32_t)t[k] << (8 * k);
  return v;
}

bfcr_status bfcr_knn_cv_route(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t nl, const int *grp,
                              const unsigned char *need, bfcr_slab_keep *keep, int64_t *nn) {
  const int P = ctx->size, me = ctx->rank, nt = ctx->nthreads, d = zs->d;
  const int brec = d + 2; /* boundary row: coordinates, group, bound */
  bfcr_status st = BFCR_OK;
  MPI_Datatype row_t = MPI_DATATYPE_NULL, tag_t = MPI_DATATYPE_NULL, brec_t = MPI_DATATYPE_NULL,
               ans_t = MPI_DATATYPE_NULL, crec_t = MPI_DATATYPE_NULL;
  int64_t *offs = NULL, *rptr = NULL, *sg = NULL, *hpos = NULL, *hnn = NULL, *brow = NULL;
  int64_t *bnn = NULL, *ret = NULL, *got = NULL, *hat = NULL;
  int *cnt = NULL, *cnts = NULL, *dest = NULL, *sgrp = NULL, *hgrp = NULL, *reach = NULL;
  int *bgrp = NULL, *bc = NULL;
  int32_t *sidx = NULL, *ridx = NULL;
  unsigned char *sneed = NULL, *stag = NULL, *rtag = NULL, *qf = NULL, *qfr = NULL;
  unsigned char *mks = NULL, *mkr = NULL;
  double *sbuf = NULL, *rbuf = NULL, *qh = NULL;
  double *hd2 = NULL, *bs = NULL, *br = NULL, *bb = NULL, *bd2 = NULL, *bans = NULL;
  double *bback = NULL;
  bfcr_kdtree *tree = NULL;
  bfcr_slabs sl = {0};
  int64_t ns = 0, nh = 0, nbs_all = 0, nbr_all = 0, nfl_all = 0, bytes = 0;

  offs = bfcr_dist_alloc(ctx, &st, P + 1, sizeof(int64_t));
  cnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  cnts = bfcr_dist_alloc(ctx, &st, 5 * (int64_t)P, sizeof(int));
  bc = bfcr_dist_alloc(ctx, &st, 4 * (int64_t)P, sizeof(int));
  dest = bfcr_dist_alloc(ctx, &st, nl, sizeof(int));
  int gmax = 0; /* the largest group: the tags' width */
  for (int64_t i = 0; i < nl; i++) gmax = grp[i] > gmax ? grp[i] : gmax;
  if (st == BFCR_OK) {
    offs[0] = 0;
    st = MPI_OK(st, MPI_Allgather(&nl, 1, MPI_INT64_T, offs + 1, 1, MPI_INT64_T, ctx->comm),
                "MPI_Allgather (row counts)");
    st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &gmax, 1, MPI_INT, MPI_MAX, ctx->comm),
                "MPI_Allreduce (largest group)");
  }
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) {
      if (offs[p + 1] > INT_MAX)
        st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: 2^31 rows on one rank");
      cnt[p] = (int)offs[p + 1];
      offs[p + 1] += offs[p];
    }
  }
  const int tb = gmax < 128 ? 1 : 4, crec = BFCR_QC_BYTES(d) + tb;
  if (st == BFCR_OK && (MPI_Type_contiguous(d, MPI_DOUBLE, &row_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&row_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(tb, MPI_BYTE, &tag_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&tag_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(brec, MPI_DOUBLE, &brec_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&brec_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(2, MPI_DOUBLE, &ans_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&ans_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(crec, MPI_BYTE, &crec_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&crec_t) != MPI_SUCCESS))
    st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation routing: MPI_Type_contiguous failed");
  BFCR_DIST_AGREE();
  const int64_t n = offs[P], off = offs[me];
  if (n > ((int64_t)1 << 53))
    st = bfcr_err(ctx, BFCR_ERR_ARG, "cross-validation routing: more than 2^53 rows");
  BFCR_DIST_AGREE();
  int *scnt = cnts, *rcnt = cnts + P, *sdis = cnts + 2 * P, *rdis = cnts + 3 * P;
  int *fill = cnts + 4 * P;

  /* 1. the plan: the kept one when every rank kept it for this set (the same bits a new
   * plan would have), else a new one (agreed inside). */
  int kept = keep && keep->P == P && keep->d == d && keep->n == n;
  st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &kept, 1, MPI_INT, MPI_MIN, ctx->comm),
              "MPI_Allreduce (kept plan)");
  BFCR_DIST_AGREE();
  if (kept) {
    if (bfcr_slabs_copy_plan(&keep->plan, &sl) != BFCR_OK)
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cv routing: out of memory for the cells' plan");
    BFCR_DIST_AGREE();
  } else {
    BFCR_CALL(bfcr_slab_plan(ctx, zs, nl, off, n, offs, cnt, d, &sl, &bytes));
  }
  /* The kept rows serve when every rank has them and the set's hash is the kept one (the
   * same rows, bit for bit, in the same blocks): then the cells hold these rows already. */
  int rows_kept = 0;
  if (kept) {
    uint64_t hash = bfcr_slab_rows_hash(zs, nl, off);
    st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &hash, 1, MPI_UINT64_T, MPI_BXOR, ctx->comm),
                "MPI_Allreduce (rows hash)");
    bytes += 8;
    rows_kept = hash == keep->hash && keep->rows && keep->sg;
    st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &rows_kept, 1, MPI_INT, MPI_MIN, ctx->comm),
                "MPI_Allreduce (kept rows)");
    BFCR_DIST_AGREE();
  }

  /* 2. rows to their slabs, packed in destination order, in row order inside one; dest
   * stays for step 5. With the kept rows only the tags move: a slab's rows arrive in
   * global order either way, so the j-th tag is the kept row j's. */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(zs, dest, sl, nl, off)
  for (int64_t i = 0; i < nl; i++) dest[i] = bfcr_slab_of_src(&sl, zs, i, off + i);
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t i = 0; i < nl; i++) scnt[dest[i]]++;
  bfcr_dist_displs(scnt, sdis, P);
  if (!rows_kept) {
    sbuf = bfcr_dist_alloc(ctx, &st, nl * d, sizeof(double));
    sidx = bfcr_dist_alloc(ctx, &st, nl, sizeof(int32_t));
  }
  stag = bfcr_dist_alloc(ctx, &st, nl * tb, 1);
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t i = 0; i < nl; i++) {
      const int64_t b = fill[dest[i]]++;
      if (!rows_kept) {
        bfcr_zsrc_row(zs, i, sbuf + b * d);
        sidx[b] = (int32_t)i;
      }
      tag_put(stag + b * tb, tb, grp[i], need[i]);
    }
  }
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (row counts)");
  ns = bfcr_dist_displs(rcnt, rdis, P);
  if (st == BFCR_OK && ns < 0)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: a slab of 2^31 rows");
  if (st == BFCR_OK && rows_kept && ns != keep->ns)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: the kept cell differs");
  if (st == BFCR_OK && !rows_kept) {
    rbuf = bfcr_dist_alloc(ctx, &st, ns * d, sizeof(double));
    ridx = bfcr_dist_alloc(ctx, &st, ns, sizeof(int32_t));
    sg = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
  }
  if (st == BFCR_OK) {
    rtag = bfcr_dist_alloc(ctx, &st, ns * tb, 1);
    sgrp = bfcr_dist_alloc(ctx, &st, ns, sizeof(int));
    sneed = bfcr_dist_alloc(ctx, &st, ns, 1);
  }
  BFCR_DIST_AGREE();
  if (rows_kept) { /* taken over: freed here */
    rbuf = keep->rows;
    sg = keep->sg;
    keep->rows = NULL;
    keep->sg = NULL;
  } else {
    st = MPI_OK(st, MPI_Alltoallv(sbuf, scnt, sdis, row_t, rbuf, rcnt, rdis, row_t, ctx->comm),
                "MPI_Alltoallv (rows)");
    st = MPI_OK(
        st, MPI_Alltoallv(sidx, scnt, sdis, MPI_INT32_T, ridx, rcnt, rdis, MPI_INT32_T, ctx->comm),
        "MPI_Alltoallv (row indices)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * (d * 8 + 4);
  }
  st = MPI_OK(st, MPI_Alltoallv(stag, scnt, sdis, tag_t, rtag, rcnt, rdis, tag_t, ctx->comm),
              "MPI_Alltoallv (row tags)");
  for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * tb;
  free(sbuf), free(sidx), free(stag);
  sbuf = NULL;
  sidx = NULL;
  stag = NULL;
  for (int p = 0; p < P && st == BFCR_OK; p++) {
    for (int64_t j = rdis[p]; j < (int64_t)rdis[p] + rcnt[p]; j++) {
      const uint32_t t = tag_get(rtag + j * tb, tb);
      if (!rows_kept) sg[j] = offs[p] + ridx[j];
      sgrp[j] = (int)(t >> 1);
      sneed[j] = t & 1u;
      nh += sneed[j];
      if ((j > 0 && sg[j] <= sg[j - 1]) || sg[j] < offs[p] || sg[j] >= offs[p + 1])
        st = bfcr_err(ctx, BFCR_ERR_INTERNAL,
                      "cross-validation routing: slab rows out of global order");
    }
  }
  free(ridx), free(rtag);
  ridx = NULL;
  rtag = NULL;
  /* The same plan and rows give the slab the level-0 search had, in the same order: its
   * tree comes back by a permutation (bfcr_kdtree_build_order) instead of a build. */
  const int reuse = kept && keep->ns == ns && ns > 0;
  if (st == BFCR_OK && ns > 0) {
    st = reuse ? bfcr_kdtree_build_order(rbuf, ns, d, keep->order, nt, &tree)
               : bfcr_kdtree_build_take(rbuf, ns, d, nt, &tree);
    rbuf = NULL;
    if (st != BFCR_OK) st = bfcr_err(ctx, st, "cross-validation routing: kd-tree build failed");
  }
  double mine[3 * BFCR_SLAB_MAX_AXES + 1];
  bfcr_slab_range_rows(&sl, st == BFCR_OK && ns > 0 ? bfcr_kdtree_rows(tree) : NULL,
                       st == BFCR_OK ? ns : 0, nt, mine);
  BFCR_DIST_AGREE();
  st = bfcr_slab_ranges(ctx, &sl, mine, &bytes);

  /* 3. the home search of the slab's flagged rows, in tree order (neighbours walk the same
   * nodes), without a bound. hnn: local index in the slab; hd2: its distance. */
  hpos = bfcr_dist_alloc(ctx, &st, nh, sizeof(int64_t));
  qh = bfcr_dist_alloc(ctx, &st, nh * d, sizeof(double));
  hgrp = bfcr_dist_alloc(ctx, &st, nh, sizeof(int));
  hnn = bfcr_dist_alloc(ctx, &st, nh, sizeof(int64_t));
  hd2 = bfcr_dist_alloc(ctx, &st, nh, sizeof(double));
  BFCR_DIST_AGREE();
  if (nh > 0) {
    const int64_t *ti = bfcr_kdtree_index(tree);
    const double *SX = bfcr_kdtree_rows(tree);
    int64_t h = 0;
    for (int64_t k = 0; k < ns; k++) {
      if (!sneed[ti[k]]) continue;
      hpos[h] = ti[k];
      hgrp[h] = sgrp[ti[k]];
      memcpy(qh + h * d, SX + k * d, (size_t)d * sizeof(double));
      h++;
    }
    st = bfcr_kdtree_query_grp(tree, qh, hgrp, nh, sgrp, NULL, nt, hnn, hd2);
    if (st != BFCR_OK) st = bfcr_err(ctx, st, "cross-validation routing: kd-tree search failed");
    for (int64_t j = 0; j < nh && st == BFCR_OK; j++) hnn[j] = hnn[j] >= 0 ? sg[hnn[j]] : -1;
  }
  free(sneed);
  sneed = NULL;
  BFCR_DIST_AGREE();

  /* 4. boundary, in rounds of at most CR_CHUNK home rows per rank. */
  int64_t rounds = (nh + CR_CHUNK - 1) / CR_CHUNK;
  st = MPI_OK(st, MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, ctx->comm),
              "MPI_Allreduce (rounds)");
  rptr = bfcr_dist_alloc(ctx, &st, (nh < CR_CHUNK ? nh : CR_CHUNK) + 1, sizeof(int64_t));
  BFCR_DIST_AGREE();
  int *ms = bc, *mr = bc + P, *msd = bc + 2 * P, *mrd = bc + 3 * P; /* flag bytes, displs */
  for (int64_t round = 0; round < rounds; round++) {
    const int64_t j0 = round * CR_CHUNK < nh ? round * CR_CHUNK : nh;
    const int64_t mh = nh - j0 < CR_CHUNK ? nh - j0 : CR_CHUNK;
    /* The cells each home row's ball reaches (slab.h), counted then listed (rptr, reach:
     * CSR over the round's rows, ranks in increasing order). */
    reach = bfcr_slab_reach_csr(ctx, &st, &sl, qh + j0 * d, NULL, hd2 + j0, mh, me, nt, rptr, scnt);
    BFCR_DIST_AGREE();
    st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
                "MPI_Alltoall (boundary counts)");
    int64_t nbs = bfcr_dist_displs(scnt, sdis, P), nbr = bfcr_dist_displs(rcnt, rdis, P);
    if (st == BFCR_OK && (nbs < 0 || nbr < 0))
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: 2^31 boundary rows");
    if (st == BFCR_OK) {
      nbs_all += nbs;
      nbr_all += nbr;
      bs = bfcr_dist_alloc(ctx, &st, nbs * brec, sizeof(double));
      brow = bfcr_dist_alloc(ctx, &st, nbs, sizeof(int64_t));
      bback = bfcr_dist_alloc(ctx, &st, nbs * 2, sizeof(double));
      qf = bfcr_dist_alloc(ctx, &st, nbs * crec, 1);
      mkr = bfcr_dist_alloc(ctx, &st, nbs / 8 + P, 1);
      br = bfcr_dist_alloc(ctx, &st, nbr * brec, sizeof(double));
      bb = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bgrp = bfcr_dist_alloc(ctx, &st, nbr, sizeof(int));
      bnn = bfcr_dist_alloc(ctx, &st, nbr, sizeof(int64_t));
      bd2 = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bans = bfcr_dist_alloc(ctx, &st, nbr * 2, sizeof(double));
      qfr = bfcr_dist_alloc(ctx, &st, nbr * crec, 1);
      mks = bfcr_dist_alloc(ctx, &st, nbr / 8 + P, 1);
    }
    BFCR_DIST_AGREE();
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t j = 0; j < mh; j++) {
      for (int64_t e = rptr[j]; e < rptr[j + 1]; e++) {
        const int p = reach[e];
        const int64_t b = fill[p]++;
        memcpy(bs + b * brec, qh + (j0 + j) * d, (size_t)d * sizeof(double));
        bs[b * brec + d] = (double)hgrp[j0 + j];
        bs[b * brec + d + 1] = hd2[j0 + j];
        brow[b] = j0 + j;
        bfcr_query_coarse(qh + (j0 + j) * d, hd2[j0 + j], d, qf + b * crec);
        tag_put(qf + b * crec + BFCR_QC_BYTES(d), tb, hgrp[j0 + j], 0);
      }
    }
    /* Round 1: coarse queries; the owner flags, one bit each, those that find a row of
     * another group within the widened bound (a superset of those that find one within
     * the exact bound). Where its search failed it flags all, so the counts still agree. */
    st = MPI_OK(st, MPI_Alltoallv(qf, scnt, sdis, crec_t, qfr, rcnt, rdis, crec_t, ctx->comm),
                "MPI_Alltoallv (coarse boundary rows)");
    for (int64_t b = 0; b < nbr; b++) {
      bfcr_query_uncoarse(qfr + b * crec, d, br + b * d, bb + b);
      bgrp[b] = (int)(tag_get(qfr + b * crec + BFCR_QC_BYTES(d), tb) >> 1);
    }
    /* Boundary rows reach only non-empty slabs, so the tree exists when nbr > 0. */
    if (st == BFCR_OK && nbr > 0) {
      st = bfcr_kdtree_query_grp(tree, br, bgrp, nbr, sgrp, bb, nt, bnn, bd2);
      if (st != BFCR_OK)
        st = bfcr_err(ctx, st, "cross-validation routing: kd-tree coarse search failed");
    }
    if (st != BFCR_OK)
      for (int64_t b = 0; b < nbr; b++) bnn[b] = 0;
    const int64_t nmb = bfcr_qc_layout(P, rcnt, ms, msd);
    bfcr_qc_layout(P, scnt, mr, mrd);
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * crec + ms[p];
    memset(mks, 0, (size_t)(nmb > 0 ? nmb : 1));
    nbr = bfcr_qc_mark(P, rcnt, rdis, bnn, msd, mks); /* round 2's receive layout */
    st = MPI_OK(
        st,
        MPI_Alltoallv(mks, ms, msd, MPI_UNSIGNED_CHAR, mkr, mr, mrd, MPI_UNSIGNED_CHAR, ctx->comm),
        "MPI_Alltoallv (boundary flags)");
    nbs = bfcr_qc_keep(P, scnt, sdis, mkr, mrd, bs, brec, brow); /* round 2's send layout */
    nfl_all += nbs;
    /* Round 2: the flagged rows exactly. */
    st = MPI_OK(st, MPI_Alltoallv(bs, scnt, sdis, brec_t, br, rcnt, rdis, brec_t, ctx->comm),
                "MPI_Alltoallv (boundary rows)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * brec * 8;
    for (int64_t b = 0; b < nbr; b++) { /* group and bound out, coordinates compacted */
      bgrp[b] = (int)br[b * brec + d];
      bb[b] = br[b * brec + d + 1];
      memmove(br + b * d, br + b * brec, (size_t)d * sizeof(double));
    }
    if (st == BFCR_OK && nbr > 0) {
      st = bfcr_kdtree_query_grp(tree, br, bgrp, nbr, sgrp, bb, nt, bnn, bd2);
      if (st != BFCR_OK)
        st = bfcr_err(ctx, st, "cross-validation routing: kd-tree boundary search failed");
    }
    for (int64_t b = 0; b < nbr; b++) { /* (dist2, global index), or (+inf, -1) */
      const int found = st == BFCR_OK && bnn[b] >= 0;
      bans[2 * b] = found ? bd2[b] : INFINITY;
      bans[2 * b + 1] = found ? (double)sg[bnn[b]] : -1.0;
    }
    st = MPI_OK(st, MPI_Alltoallv(bans, rcnt, rdis, ans_t, bback, scnt, sdis, ans_t, ctx->comm),
                "MPI_Alltoallv (boundary answers)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)rcnt[p] * 16;
    for (int64_t b = 0; b < nbs && st == BFCR_OK; b++) {
      const double *a = bback + 2 * b;
      const int64_t j = brow[b];
      if (a[1] < 0.0) continue;
      if (hnn[j] < 0 || bfcr_nn_better(a[0], (int64_t)a[1], hd2[j], hnn[j])) {
        hd2[j] = a[0];
        hnn[j] = (int64_t)a[1];
      }
    }
    free(bs), free(brow), free(bback), free(br), free(bb), free(bgrp), free(bnn), free(bd2);
    free(bans), free(reach), free(qf), free(qfr), free(mks), free(mkr);
    reach = NULL;
    bs = bback = br = bb = bd2 = bans = NULL;
    brow = bnn = NULL;
    bgrp = NULL;
    qf = qfr = mks = mkr = NULL;
    BFCR_DIST_AGREE();
  }

  /* 5. the answers to the rows' owners: the nearest row of another group only, in global
   * order per owner (the slab's rows are in global order): the owner's flagged rows that
   * went to this slab, in its row order. hat: slab row -> home search slot. */
  hat = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
  ret = bfcr_dist_alloc(ctx, &st, nh, sizeof(int64_t));
  BFCR_DIST_AGREE();
  for (int64_t j = 0; j < ns; j++) hat[j] = -1;
  for (int64_t h = 0; h < nh; h++) hat[hpos[h]] = h;
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t j = 0; j < ns; j++)
    if (hat[j] >= 0) scnt[owner_of(offs, P, sg[j])]++;
  bfcr_dist_displs(scnt, sdis, P);
  for (int p = 0; p < P; p++) fill[p] = sdis[p];
  for (int64_t j = 0; j < ns; j++)
    if (hat[j] >= 0) ret[fill[owner_of(offs, P, sg[j])]++] = hnn[hat[j]];
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (answer counts)");
  const int64_t nret = bfcr_dist_displs(rcnt, rdis, P);
  if (st == BFCR_OK && nret < 0)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: 2^31 answers");
  got = bfcr_dist_alloc(ctx, &st, nret, sizeof(int64_t));
  BFCR_DIST_AGREE();
  st = MPI_OK(st,
              MPI_Alltoallv(ret, scnt, sdis, MPI_INT64_T, got, rcnt, rdis, MPI_INT64_T, ctx->comm),
              "MPI_Alltoallv (answers)");
  for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * 8;
  for (int p = 0; p < P; p++) fill[p] = rdis[p];
  for (int64_t i = 0; i < nl && st == BFCR_OK; i++) {
    if (!need[i]) continue;
    const int p = dest[i];
    if (fill[p] >= rdis[p] + rcnt[p])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: an answer missing");
    else
      nn[i] = got[fill[p]++];
  }
  for (int p = 0; p < P && st == BFCR_OK; p++)
    if (fill[p] != rdis[p] + rcnt[p])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: a stray answer");
  BFCR_DIST_AGREE();
  {
    char line[192];
    snprintf(line, sizeof line,
             "cv slabs: %lld rows, %lld searched here, %lld boundary rows sent (%lld flagged), "
             "%lld answered, %.1f MB sent, %s",
             (long long)ns, (long long)nh, (long long)nbs_all, (long long)nfl_all,
             (long long)nbr_all, (double)bytes / 1e6,
             rows_kept ? "level-0 rows and tree order"
             : reuse   ? "level-0 tree order"
             : kept    ? "new tree"
                       : "new plan");
    bfcr_nn_note(ctx, "cv routing", line);
  }
cleanup:
  if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
  if (tag_t != MPI_DATATYPE_NULL) MPI_Type_free(&tag_t);
  if (brec_t != MPI_DATATYPE_NULL) MPI_Type_free(&brec_t);
  if (ans_t != MPI_DATATYPE_NULL) MPI_Type_free(&ans_t);
  if (crec_t != MPI_DATATYPE_NULL) MPI_Type_free(&crec_t);
  bfcr_kdtree_free(tree);
  bfcr_slabs_free(&sl);
  free(offs), free(rptr), free(sg), free(hpos), free(hnn), free(brow), free(bnn), free(ret);
  free(got), free(hat), free(cnt), free(cnts), free(bc), free(dest), free(sgrp), free(hgrp);
  free(reach), free(bgrp), free(sidx), free(ridx), free(sneed), free(stag), free(rtag);
  free(qf), free(qfr), free(mks), free(mkr), free(sbuf), free(rbuf), free(qh), free(hd2);
  free(bs), free(br), free(bb), free(bd2), free(bans), free(bback);
  return st;
}
