/* Canonical fixed-tree reduction (see reduce.h).
 *
 * Node (j, k) covers [k 2^j, min((k+1) 2^j, n)). Computing a node costs one element call
 * per position and one merge per inner node with two non-empty children. Across ranks
 * each rank contributes its O(log n) maximal inside nodes, tagged (j, k), and everyone
 * rebuilds the top of the tree from them: the result is bit-identical to one process. */
#include "par/reduce.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

/* Tree height for n elements: smallest J with 2^J >= n. */
static int height(int64_t n) {
  int J = 0;
  while (((int64_t)1 << J) < n) J++;
  return J;
}

int64_t bfcr_reduce_scratch_len(const bfcr_reducer *r) { return 2 * r->width * 64; }

/* Value of node (j, k) of a tree over n elements into out; scratch holds 2 * width
 * doubles per remaining level. */
static void node_value(const bfcr_reducer *r, int j, int64_t k, int64_t n, double *out,
                       double *scratch) {
  if (j == 0) {
    r->elem(r->user, k, out);
    return;
  }
  int64_t right_start = (2 * k + 1) << (j - 1);
  if (right_start >= n) {
    node_value(r, j - 1, 2 * k, n, out, scratch);
    return;
  }
  double *a = scratch, *b = scratch + r->width;
  node_value(r, j - 1, 2 * k, n, a, scratch + 2 * r->width);
  node_value(r, j - 1, 2 * k + 1, n, b, scratch + 2 * r->width);
  r->merge(r->user, a, b, out);
}

void bfcr_reduce_local(const bfcr_reducer *r, int64_t n, double *out, double *scratch) {
  node_value(r, height(n), 0, n, out, scratch);
}

/* Rebuild node (j, k) from a set of given nodes (sorted arrays) and merges above them. */
typedef struct given {
  int64_t count;
  const int32_t *j;
  const int64_t *k;
  const double *val;
} given;

static int64_t find_index(const given *g, int j, int64_t k) {
  for (int64_t i = 0; i < g->count; i++)
    if (g->j[i] == j && g->k[i] == k) return i;
  return -1;
}

static void rebuild(const bfcr_reducer *r, const given *g, int j, int64_t k, int64_t n, double *out,
                    double *scratch) {
  int64_t idx = find_index(g, j, k);
  if (idx >= 0) {
    memcpy(out, g->val + idx * r->width, (size_t)r->width * sizeof(double));
    return;
  }
  int64_t right_start = (2 * k + 1) << (j - 1);
  if (right_start >= n) {
    rebuild(r, g, j - 1, 2 * k, n, out, scratch);
    return;
  }
  double *a = scratch, *b = scratch + r->width;
  rebuild(r, g, j - 1, 2 * k, n, a, scratch + 2 * r->width);
  rebuild(r, g, j - 1, 2 * k + 1, n, b, scratch + 2 * r->width);
  r->merge(r->user, a, b, out);
}

/* Maximal nodes inside [lo, hi): at each position take the largest aligned node whose
 * clipped range stays inside. Returns the count written to js/ks (at most 2 * 64). */
static int decompose(int64_t n, int64_t lo, int64_t hi, int32_t *js, int64_t *ks) {
  int J = height(n), cnt = 0;
  int64_t pos = lo;
  while (pos < hi) {
    int j = 0;
    while (j < J) {
      int64_t size = (int64_t)1 << (j + 1);
      if (pos % size != 0) break;
      int64_t end = pos + size < n ? pos + size : n;
      if (end > hi) break;
      j++;
    }
    js[cnt] = j;
    ks[cnt] = pos >> j;
    cnt++;
    int64_t end = pos + ((int64_t)1 << j);
    pos = end < n ? end : n;
  }
  return cnt;
}

bfcr_status bfcr_reduce_local_par(bfcr_ctx *ctx, const bfcr_reducer *r, int64_t n, int nthreads,
                                  double *out) {
  bfcr_status st = BFCR_OK;
  double *vals = NULL, *scratch = NULL, *tscratch = NULL;
  int32_t *js = NULL;
  int64_t *ks = NULL;
  int J = height(n);
  /* Split at a level with about 8 nodes per thread; below it the nodes are independent. */
  int js_level = J;
  while (js_level > 0 && (n >> js_level) < 8 * (int64_t)nthreads) js_level--;
  if (nthreads <= 1 || js_level == 0 || js_level == J) {
    BFCR_ALLOC(ctx, scratch, bfcr_reduce_scratch_len(r));
    bfcr_reduce_local(r, n, out, scratch);
    goto cleanup;
  }
  {
    int64_t nodes = ((n - 1) >> js_level) + 1;
    BFCR_ALLOC(ctx, vals, nodes * r->width);
    BFCR_ALLOC(ctx, js, nodes);
    BFCR_ALLOC(ctx, ks, nodes);
    int64_t slen = bfcr_reduce_scratch_len(r);
    BFCR_ALLOC(ctx, tscratch, slen * nthreads);
#pragma omp parallel num_threads(nthreads)
    {
      double *s = tscratch + slen * omp_get_thread_num();
#pragma omp for schedule(dynamic, 1)
      for (int64_t k = 0; k < nodes; k++) {
        node_value(r, js_level, k, n, vals + k * r->width, s);
        js[k] = js_level;
        ks[k] = k;
      }
    }
    BFCR_ALLOC(ctx, scratch, bfcr_reduce_scratch_len(r));
    given g = {nodes, js, ks, vals};
    rebuild(r, &g, J, 0, n, out, scratch);
  }
cleanup:
  free(vals);
  free(js);
  free(ks);
  free(scratch);
  free(tscratch);
  return st;
}

bfcr_status bfcr_reduce_dist(bfcr_ctx *ctx, const bfcr_reducer *r, int64_t n, int64_t lo,
                             int64_t hi, double *out) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size;
  int32_t js[130], *all_j = NULL;
  int64_t ks[130], *all_k = NULL;
  double *mine = NULL, *all_v = NULL, *scratch = NULL;
  int *counts = NULL, *displs = NULL, *vcounts = NULL, *vdispls = NULL;
  int cnt = lo < hi ? decompose(n, lo, hi, js, ks) : 0;
  scratch = bfcr_malloc(ctx, (size_t)bfcr_reduce_scratch_len(r), sizeof(double));
  mine = bfcr_malloc(ctx, (size_t)((cnt ? cnt : 1) * r->width), sizeof(double));
  if (!scratch || !mine) st = BFCR_ERR_NOMEM;
  /* Agree before the first exchange: a rank short of memory must not leave the others
   * waiting in it. */
  if (P > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int i = 0; i < cnt; i++) node_value(r, js[i], ks[i], n, mine + i * r->width, scratch);
  if (P == 1) {
    given g = {cnt, js, ks, mine};
    rebuild(r, &g, height(n), 0, n, out, scratch);
    goto cleanup;
  }
  BFCR_ALLOC(ctx, counts, P);
  BFCR_ALLOC(ctx, displs, P);
  BFCR_ALLOC(ctx, vcounts, P);
  BFCR_ALLOC(ctx, vdispls, P);
  BFCR_CHECK(ctx, MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgather failed in a reduction");
  int total = 0;
  for (int p = 0; p < P; p++) {
    displs[p] = total;
    vdispls[p] = total * (int)r->width;
    vcounts[p] = counts[p] * (int)r->width;
    total += counts[p];
  }
  BFCR_ALLOC(ctx, all_j, total);
  BFCR_ALLOC(ctx, all_k, total);
  BFCR_ALLOC(ctx, all_v, total * r->width);
  int rc = MPI_Allgatherv(js, cnt, MPI_INT32_T, all_j, counts, displs, MPI_INT32_T, ctx->comm);
  rc |= MPI_Allgatherv(ks, cnt, MPI_INT64_T, all_k, counts, displs, MPI_INT64_T, ctx->comm);
  rc |= MPI_Allgatherv(mine, cnt * (int)r->width, MPI_DOUBLE, all_v, vcounts, vdispls, MPI_DOUBLE,
                       ctx->comm);
  BFCR_CHECK(ctx, rc == MPI_SUCCESS, BFCR_ERR_MPI, "MPI_Allgatherv failed in a reduction");
  given g = {total, all_j, all_k, all_v};
  rebuild(r, &g, height(n), 0, n, out, scratch);
cleanup:
  free(all_j);
  free(all_k);
  free(all_v);
  free(mine);
  free(scratch);
  free(counts);
  free(displs);
  free(vcounts);
  free(vdispls);
  return st;
}

typedef struct colsum_user {
  const double *A;
  int64_t lda, w, offset;
} colsum_user;

static void colsum_elem(void *u, int64_t i, double *out) {
  const colsum_user *c = u;
  memcpy(out, c->A + (i - c->offset) * c->lda, (size_t)c->w * sizeof(double));
}

static void colsum_merge(void *u, const double *a, const double *b, double *out) {
  const colsum_user *c = u;
  for (int64_t j = 0; j < c->w; j++) out[j] = a[j] + b[j];
}

bfcr_status bfcr_reduce_colsums(bfcr_ctx *ctx, const double *A, int64_t n_local, int64_t w,
                                int64_t lda, int64_t n, int64_t offset, double *out) {
  colsum_user u = {A, lda, w, offset};
  bfcr_reducer r = {w, colsum_elem, colsum_merge, &u};
  if (n == 0) {
    memset(out, 0, (size_t)w * sizeof(double));
    return BFCR_OK;
  }
  return bfcr_reduce_dist(ctx, &r, n, offset, offset + n_local, out);
}

/* Batched reduction over segments: each rank decomposes its part of every segment into
 * maximal canonical nodes tagged (segment, j, k); one Allgatherv of tags and values;
 * every rank rebuilds every segment's root from the tagged nodes of that segment. */
typedef struct seg_user {
  bfcr_seg_elem_fn elem;
  bfcr_merge_fn merge;
  void *user;
  int64_t s;
} seg_user;

static void seg_elem(void *u, int64_t i, double *out) {
  const seg_user *su = u;
  su->elem(su->user, su->s, i, out);
}

static void seg_merge(void *u, const double *a, const double *b, double *out) {
  const seg_user *su = u;
  su->merge(su->user, a, b, out);
}

bfcr_status bfcr_reduce_dist_segments(bfcr_ctx *ctx, int64_t width, bfcr_seg_elem_fn elem,
                                      bfcr_merge_fn merge, void *user, int64_t nseg,
                                      const int64_t *seg_n, const int64_t *lo, const int64_t *hi,
                                      double *out) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, cnt = 0, total = 0;
  int64_t *tags = NULL, *all_tags = NULL, *sstart = NULL, *ks = NULL;
  int32_t *js = NULL;
  double *vals = NULL, *all_v = NULL, *scratch = NULL, *gv = NULL;
  int *counts = NULL, *displs = NULL;
  MPI_Datatype vtype = MPI_DATATYPE_NULL, ttype = MPI_DATATYPE_NULL;
  seg_user su = {elem, merge, user, 0};
  bfcr_reducer r = {width, seg_elem, seg_merge, &su};
  if (nseg == 0) return BFCR_OK;
  /* Local part: at most 2 * 64 nodes per segment. */
  tags = bfcr_malloc(ctx, (size_t)nseg * 130, 3 * sizeof(int64_t));
  vals = bfcr_malloc(ctx, (size_t)nseg * 130, (size_t)width * sizeof(double));
  scratch = bfcr_malloc(ctx, (size_t)bfcr_reduce_scratch_len(&r), sizeof(double));
  counts = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  displs = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  if (!tags || !vals || !scratch || !counts || !displs) st = BFCR_ERR_NOMEM;
  if (st == BFCR_OK) {
    int32_t sj[130];
    int64_t sk[130];
    for (int64_t s = 0; s < nseg; s++) {
      if (lo[s] >= hi[s]) continue;
      int c = decompose(seg_n[s], lo[s], hi[s], sj, sk);
      su.s = s;
      for (int i = 0; i < c; i++, cnt++) {
        tags[3 * cnt] = s;
        tags[3 * cnt + 1] = sj[i];
        tags[3 * cnt + 2] = sk[i];
        node_value(&r, sj[i], sk[i], seg_n[s], vals + (int64_t)cnt * width, scratch);
      }
    }
  }
  BFCR_CALL(bfcr_agree(ctx, st));
  MPI_Type_contiguous((int)width, MPI_DOUBLE, &vtype);
  MPI_Type_commit(&vtype);
  MPI_Type_contiguous(3, MPI_INT64_T, &ttype);
  MPI_Type_commit(&ttype);
  BFCR_CHECK(ctx, MPI_Allgather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgather failed in a segmented reduction");
  for (int p = 0; p < P; p++) {
    displs[p] = total;
    total += counts[p];
  }
  all_tags = bfcr_malloc(ctx, (size_t)total, 3 * sizeof(int64_t));
  all_v = bfcr_malloc(ctx, (size_t)total, (size_t)width * sizeof(double));
  sstart = bfcr_calloc(ctx, (size_t)nseg + 1, sizeof(int64_t));
  js = bfcr_malloc(ctx, (size_t)total, sizeof(int32_t));
  ks = bfcr_malloc(ctx, (size_t)total, sizeof(int64_t));
  gv = bfcr_malloc(ctx, (size_t)total, (size_t)width * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, all_tags && all_v && sstart && js && ks && gv ? BFCR_OK
                                                                          : BFCR_ERR_NOMEM));
  int rc = MPI_Allgatherv(tags, cnt, ttype, all_tags, counts, displs, ttype, ctx->comm);
  rc |= MPI_Allgatherv(vals, cnt, vtype, all_v, counts, displs, vtype, ctx->comm);
  BFCR_CHECK(ctx, rc == MPI_SUCCESS, BFCR_ERR_MPI, "MPI_Allgatherv failed in a segmented reduction");
  /* Group the tagged nodes by segment (stable), then rebuild each root. */
  for (int i = 0; i < total; i++) sstart[all_tags[3 * i] + 1]++;
  for (int64_t s = 0; s < nseg; s++) sstart[s + 1] += sstart[s];
  for (int i = 0; i < total; i++) {
    int64_t s = all_tags[3 * i], at = sstart[s]++;
    js[at] = (int32_t)all_tags[3 * i + 1];
    ks[at] = all_tags[3 * i + 2];
    memcpy(gv + at * width, all_v + (int64_t)i * width, (size_t)width * sizeof(double));
  }
  for (int64_t s = nseg; s > 0; s--) sstart[s] = sstart[s - 1];
  sstart[0] = 0;
  for (int64_t s = 0; s < nseg; s++) {
    given g = {sstart[s + 1] - sstart[s], js + sstart[s], ks + sstart[s], gv + sstart[s] * width};
    su.s = s;
    rebuild(&r, &g, height(seg_n[s]), 0, seg_n[s], out + s * width, scratch);
  }
cleanup:
  if (vtype != MPI_DATATYPE_NULL) MPI_Type_free(&vtype);
  if (ttype != MPI_DATATYPE_NULL) MPI_Type_free(&ttype);
  free(tags);
  free(all_tags);
  free(sstart);
  free(js);
  free(ks);
  free(vals);
  free(all_v);
  free(scratch);
  free(gv);
  free(counts);
  free(displs);
  return st;
}
