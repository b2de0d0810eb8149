/* The cross-validation's routing search by spatial slabs: the nearest row outside a
 * row's fold, rows distributed over the ranks (lib/model/cv_dist.c's routing rows).
 *
 * The answer is the ring's (and one process's): for a flagged row of group f, the
 * lexicographic minimum of (canonical dist2, global index) over the rows of the other
 * groups. The steps follow the level-0 search's boundary (knn_dist.c) and prediction's
 * query search (knn_query_dist.c):
 *   1. plan: the axes and the bisection of the rows into cells, one per rank (slab.c;
 *      "slab" below is a rank's cell);
 *   2. every row moves once to its slab's rank with its global index, group and "needs
 *      a search" flag (MPI_Alltoallv, d + 3 doubles a row); senders are in rank order and
 *      send in row order, so a slab arrives sorted by global index and the kd-tree's
 *      tie-break on local indices is the global one (checked);
 *   3. home: the flagged rows are rows of the slab, so their home is the slab they landed
 *      in (no query travels there); the slab searches them with bfcr_kdtree_query_grp
 *      (groups skipped, no bound): r2, an upper bound of the final distance;
 *   4. boundary: each flagged row goes, bounded by r2, to every other rank in reach
 *      (bfcr_slab_reach: its ranges of projections meet the row's windows; slab.h;
 *      the margin covers the rounding of the projections and of bfcr_dist2); those
 *      answer with the same search bounded by r2 (ties at the bound kept) and the home
 *      combines with bfcr_nn_better on global indices. A row outside the reached cells
 *      is farther than r2, so one round is exact. Rounds of at most CR_CHUNK home rows
 *      per rank bound the buffers;
 *   5. the answer (global index) returns to the row's owner: 16 bytes a row.
 * With the level-0 search's keep (slab.h: same rows, same ranks) step 1 takes its plan
 * and step 3's tree is rebuilt from its order (a permutation of the slab rows, no
 * partitioning: about a sixth of the build's CPU time, `bench_knn rebuild`).
 * Traffic per rank: its rows once (n/P x (d + 3) doubles), the boundary rows
 * (d + 2 doubles out, 2 back) and the answers; the ring sends about n/K x (d + 3)
 * (its n/(K P) rows pass all P ranks), hence the choice in knn_cv_route.h. Memory: the
 * slab's rows and tree (about n/P rows) and the slab's flagged rows (about n/(K P)). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_cv_route.h"
#include "knn/dist_util.h"
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

bfcr_status bfcr_knn_cv_route(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t nl, const int *grp,
                              const unsigned char *need, const bfcr_slab_keep *keep, int64_t *nn) {
  const int P = ctx->size, me = ctx->rank, nt = ctx->nthreads, d = zs->d;
  const int rec = d + 3;  /* row: coordinates, global index, group, flag */
  const int brec = d + 2; /* boundary row: coordinates, group, bound */
  bfcr_status st = BFCR_OK;
  MPI_Datatype rec_t = MPI_DATATYPE_NULL, brec_t = MPI_DATATYPE_NULL, ans_t = MPI_DATATYPE_NULL,
               back_t = MPI_DATATYPE_NULL;
  int64_t *offs = NULL, *rptr = NULL, *sg = NULL, *hpos = NULL, *hnn = NULL, *brow = NULL;
  int64_t *bnn = NULL, *ret = NULL, *got = NULL;
  int *cnt = NULL, *cnts = NULL, *dest = NULL, *sgrp = NULL, *hgrp = NULL, *reach = NULL;
  int *bgrp = NULL;
  unsigned char *sneed = NULL;
  double *sbuf = NULL, *rbuf = NULL, *qh = NULL;
  double *hd2 = NULL, *bs = NULL, *br = NULL, *bb = NULL, *bd2 = NULL, *bans = NULL;
  double *bback = NULL;
  bfcr_kdtree *tree = NULL;
  bfcr_slabs sl = {0};
  int64_t ns = 0, nh = 0, nbs_all = 0, nbr_all = 0, bytes = 0;

  offs = bfcr_dist_alloc(ctx, &st, P + 1, sizeof(int64_t));
  cnt = bfcr_dist_alloc(ctx, &st, P, sizeof(int));
  cnts = bfcr_dist_alloc(ctx, &st, 5 * (int64_t)P, sizeof(int));
  dest = bfcr_dist_alloc(ctx, &st, nl, sizeof(int));
  if (st == BFCR_OK) {
    offs[0] = 0;
    st = MPI_OK(st, MPI_Allgather(&nl, 1, MPI_INT64_T, offs + 1, 1, MPI_INT64_T, ctx->comm),
                "MPI_Allgather (row counts)");
  }
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) {
      if (offs[p + 1] > INT_MAX)
        st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: 2^31 rows on one rank");
      cnt[p] = (int)offs[p + 1];
      offs[p + 1] += offs[p];
    }
  }
  if (st == BFCR_OK && (MPI_Type_contiguous(rec, MPI_DOUBLE, &rec_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&rec_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(brec, MPI_DOUBLE, &brec_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&brec_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(2, MPI_DOUBLE, &ans_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&ans_t) != MPI_SUCCESS ||
                        MPI_Type_contiguous(2, MPI_INT64_T, &back_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&back_t) != MPI_SUCCESS))
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

  /* 2. rows to their slabs, packed in destination order, in row order inside one. */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(zs, dest, sl, nl, off)
  for (int64_t i = 0; i < nl; i++) dest[i] = bfcr_slab_of_src(&sl, zs, i, off + i);
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t i = 0; i < nl; i++) scnt[dest[i]]++;
  bfcr_dist_displs(scnt, sdis, P);
  sbuf = bfcr_dist_alloc(ctx, &st, nl * rec, sizeof(double));
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t i = 0; i < nl; i++) {
      double *row = sbuf + (int64_t)fill[dest[i]]++ * rec;
      bfcr_zsrc_row(zs, i, row);
      row[d] = (double)(off + i);
      row[d + 1] = (double)grp[i];
      row[d + 2] = need[i] ? 1.0 : 0.0;
    }
  }
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (row counts)");
  ns = bfcr_dist_displs(rcnt, rdis, P);
  if (st == BFCR_OK && ns < 0)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: a slab of 2^31 rows");
  if (st == BFCR_OK) {
    rbuf = bfcr_dist_alloc(ctx, &st, ns * rec, sizeof(double));
    sg = bfcr_dist_alloc(ctx, &st, ns, sizeof(int64_t));
    sgrp = bfcr_dist_alloc(ctx, &st, ns, sizeof(int));
    sneed = bfcr_dist_alloc(ctx, &st, ns, 1);
  }
  BFCR_DIST_AGREE();
  st = MPI_OK(st, MPI_Alltoallv(sbuf, scnt, sdis, rec_t, rbuf, rcnt, rdis, rec_t, ctx->comm),
              "MPI_Alltoallv (rows)");
  for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * rec * 8;
  free(sbuf);
  sbuf = NULL;
  free(dest);
  dest = NULL;
  /* Compacted in place (stride rec -> d, forward) and handed to the kd-tree. */
  for (int64_t j = 0; j < ns && st == BFCR_OK; j++) {
    sg[j] = (int64_t)rbuf[j * rec + d];
    sgrp[j] = (int)rbuf[j * rec + d + 1];
    sneed[j] = rbuf[j * rec + d + 2] != 0.0;
    nh += sneed[j];
    memmove(rbuf + j * d, rbuf + j * rec, (size_t)d * sizeof(double));
    if (j > 0 && sg[j] <= sg[j - 1])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL,
                    "cross-validation routing: slab rows out of global order");
  }
  /* The same plan and rows give the slab the level-0 search had, in the same order: its
   * tree comes back by a permutation (bfcr_kdtree_build_order) instead of a build. */
  const int reuse = kept && keep->ns == ns && ns > 0;
  if (st == BFCR_OK && ns > 0) {
    double *shrunk = realloc(rbuf, (size_t)(ns * d) * sizeof(double));
    if (shrunk) rbuf = shrunk;
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
  for (int64_t round = 0; round < rounds; round++) {
    const int64_t j0 = round * CR_CHUNK < nh ? round * CR_CHUNK : nh;
    const int64_t mh = nh - j0 < CR_CHUNK ? nh - j0 : CR_CHUNK;
    /* The cells each home row's ball reaches (slab.h), counted then listed (rptr, reach:
     * CSR over the round's rows, ranks in increasing order). */
    reach = bfcr_slab_reach_csr(ctx, &st, &sl, qh + j0 * d, NULL, hd2 + j0, mh, me, nt, rptr, scnt);
    BFCR_DIST_AGREE();
    st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
                "MPI_Alltoall (boundary counts)");
    const int64_t nbs = bfcr_dist_displs(scnt, sdis, P), nbr = bfcr_dist_displs(rcnt, rdis, P);
    if (st == BFCR_OK && (nbs < 0 || nbr < 0))
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation routing: 2^31 boundary rows");
    if (st == BFCR_OK) {
      nbs_all += nbs;
      nbr_all += nbr;
      bs = bfcr_dist_alloc(ctx, &st, nbs * brec, sizeof(double));
      brow = bfcr_dist_alloc(ctx, &st, nbs, sizeof(int64_t));
      bback = bfcr_dist_alloc(ctx, &st, nbs * 2, sizeof(double));
      br = bfcr_dist_alloc(ctx, &st, nbr * brec, sizeof(double));
      bb = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bgrp = bfcr_dist_alloc(ctx, &st, nbr, sizeof(int));
      bnn = bfcr_dist_alloc(ctx, &st, nbr, sizeof(int64_t));
      bd2 = bfcr_dist_alloc(ctx, &st, nbr, sizeof(double));
      bans = bfcr_dist_alloc(ctx, &st, nbr * 2, sizeof(double));
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
      }
    }
    st = MPI_OK(st, MPI_Alltoallv(bs, scnt, sdis, brec_t, br, rcnt, rdis, brec_t, ctx->comm),
                "MPI_Alltoallv (boundary rows)");
    for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * brec * 8;
    for (int64_t b = 0; b < nbr; b++) { /* group and bound out, coordinates compacted */
      bgrp[b] = (int)br[b * brec + d];
      bb[b] = br[b * brec + d + 1];
      memmove(br + b * d, br + b * brec, (size_t)d * sizeof(double));
    }
    /* Boundary rows reach only non-empty slabs, so the tree exists when nbr > 0. */
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
    free(bans), free(reach);
    reach = NULL;
    bs = bback = br = bb = bd2 = bans = NULL;
    brow = bnn = NULL;
    bgrp = NULL;
    BFCR_DIST_AGREE();
  }

  /* 5. the answers to the rows' owners: (global row, its nearest row of another group). */
  for (int p = 0; p < P; p++) scnt[p] = 0;
  for (int64_t j = 0; j < nh; j++) scnt[owner_of(offs, P, sg[hpos[j]])]++;
  bfcr_dist_displs(scnt, sdis, P);
  ret = bfcr_dist_alloc(ctx, &st, 2 * nh, sizeof(int64_t));
  if (st == BFCR_OK) {
    for (int p = 0; p < P; p++) fill[p] = sdis[p];
    for (int64_t j = 0; j < nh; j++) {
      const int64_t g = sg[hpos[j]], b = fill[owner_of(offs, P, g)]++;
      ret[2 * b] = g;
      ret[2 * b + 1] = hnn[j];
    }
  }
  st = MPI_OK(st, MPI_Alltoall(scnt, 1, MPI_INT, rcnt, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (answer counts)");
  const int64_t nret = bfcr_dist_displs(rcnt, rdis, P);
  if (st == BFCR_OK && nret < 0)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: 2^31 answers");
  got = bfcr_dist_alloc(ctx, &st, 2 * nret, sizeof(int64_t));
  BFCR_DIST_AGREE();
  st = MPI_OK(st, MPI_Alltoallv(ret, scnt, sdis, back_t, got, rcnt, rdis, back_t, ctx->comm),
              "MPI_Alltoallv (answers)");
  for (int p = 0; p < P; p++) bytes += p == me ? 0 : (int64_t)scnt[p] * 16;
  for (int64_t b = 0; b < nret && st == BFCR_OK; b++) {
    const int64_t i = got[2 * b] - off;
    if (i < 0 || i >= nl || !need[i])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "cross-validation routing: a stray answer");
    else
      nn[i] = got[2 * b + 1];
  }
  BFCR_DIST_AGREE();
  {
    char line[192];
    snprintf(line, sizeof line,
             "cv slabs: %lld rows, %lld searched here, %lld boundary rows sent, %lld answered, "
             "%.1f MB sent, %s",
             (long long)ns, (long long)nh, (long long)nbs_all, (long long)nbr_all,
             (double)bytes / 1e6,
             reuse  ? "level-0 tree order"
             : kept ? "new tree"
                    : "new plan");
    bfcr_nn_note(ctx, "cv routing", line);
  }
cleanup:
  if (rec_t != MPI_DATATYPE_NULL) MPI_Type_free(&rec_t);
  if (brec_t != MPI_DATATYPE_NULL) MPI_Type_free(&brec_t);
  if (ans_t != MPI_DATATYPE_NULL) MPI_Type_free(&ans_t);
  if (back_t != MPI_DATATYPE_NULL) MPI_Type_free(&back_t);
  bfcr_kdtree_free(tree);
  bfcr_slabs_free(&sl);
  free(offs), free(rptr), free(sg), free(hpos), free(hnn), free(brow), free(bnn), free(ret);
  free(got), free(cnt), free(cnts), free(dest), free(sgrp), free(hgrp), free(reach), free(bgrp);
  free(sneed), free(sbuf), free(rbuf), free(qh), free(hd2);
  free(bs), free(br), free(bb), free(bd2), free(bans), free(bback);
  return st;
}
