/* Reductions over contiguous ranges of a distributed order (see reduce_ranges.h).
 *
 * A range is owned by the rank holding its first position. Owned ranges that end
 * inside the owner's part are reduced locally with bfcr_reduce_local (OpenMP over
 * ranges, dynamic schedule: sizes vary a lot). A range that crosses the edge between
 * two parts is the only one that needs other ranks; with contiguous parts there are at
 * most P - 1 such ranges, and all of them are reduced in one batched exchange of
 * canonical partial nodes, so their values carry the one-process bits too.
 * bfcr_reduce_ranges_own stops there (each range's value stays on its owner: O(m / P)
 * per rank); bfcr_reduce_ranges_dist then replicates them with one Allgatherv. */
#include "par/reduce_ranges.h"

#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "par/redistribute.h"

int64_t bfcr_first_range_from(const int64_t *start, int64_t m, int64_t pos) {
  int64_t a = 0, b = m;
  while (a < b) {
    int64_t mid = a + (b - a) / 2;
    if (start[mid] >= pos)
      b = mid;
    else
      a = mid + 1;
  }
  return a;
}

typedef struct range_user {
  bfcr_pos_elem_fn elem;
  bfcr_merge_fn merge;
  void *user;
  const int64_t *start; /* ranges */
  const int64_t *seg;   /* straddling segment -> range */
  int64_t base;         /* local reduction: first position of the range */
} range_user;

static void local_elem(void *u, int64_t i, double *out) {
  const range_user *r = u;
  r->elem(r->user, r->base + i, out);
}

static void seg_elem(void *u, int64_t s, int64_t i, double *out) {
  const range_user *r = u;
  r->elem(r->user, r->start[r->seg[s]] + i, out);
}

static void pass_merge(void *u, const double *a, const double *b, double *out) {
  const range_user *r = u;
  r->merge(r->user, a, b, out);
}

void bfcr_owned_ranges(const int64_t *start, int64_t m, int64_t lo, int64_t hi, int64_t *c0,
                       int64_t *c1) {
  *c0 = bfcr_first_range_from(start, m, lo);
  *c1 = lo < hi ? bfcr_first_range_from(start, m, hi) : *c0;
}

bfcr_status bfcr_reduce_ranges_dist(bfcr_ctx *ctx, int64_t width, bfcr_pos_elem_fn elem,
                                    bfcr_merge_fn merge, void *user, int64_t m,
                                    const int64_t *start, int64_t lo, int64_t hi, double *out) {
  bfcr_status st = BFCR_OK;
  int64_t c0, c1;
  bfcr_owned_ranges(start, m, lo, hi, &c0, &c1);
  double *mine = bfcr_malloc(ctx, (size_t)(c1 > c0 ? c1 - c0 : 1), (size_t)width * sizeof(double));
  BFCR_CALL(bfcr_agree(ctx, mine ? BFCR_OK : BFCR_ERR_NOMEM));
  BFCR_CALL(bfcr_reduce_ranges_own(ctx, width, elem, merge, user, m, start, lo, hi, mine));
  BFCR_CALL(bfcr_allgather_items(ctx, mine, c1 - c0, (size_t)width * sizeof(double), out));
cleanup:
  free(mine);
  return st;
}

bfcr_status bfcr_reduce_ranges_own(bfcr_ctx *ctx, int64_t width, bfcr_pos_elem_fn elem,
                                   bfcr_merge_fn merge, void *user, int64_t m, const int64_t *start,
                                   int64_t lo, int64_t hi, double *mine) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
  int64_t n = start[m], nseg = 0, slen = 2 * width * 64;
  int64_t *parts = NULL, *seg = NULL, *seg_n = NULL, *seg_lo = NULL, *seg_hi = NULL;
  double *scratch = NULL, *segval = NULL;
  parts = bfcr_malloc(ctx, (size_t)P, 2 * sizeof(int64_t));
  seg = bfcr_malloc(ctx, (size_t)P, 4 * sizeof(int64_t));
  scratch = bfcr_malloc(ctx, (size_t)nt, (size_t)slen * sizeof(double));
  segval = bfcr_malloc(ctx, (size_t)P, (size_t)width * sizeof(double));
  int64_t c0, c1;
  bfcr_owned_ranges(start, m, lo, hi, &c0, &c1);
  BFCR_CALL(bfcr_agree(ctx, parts && seg && scratch && segval ? BFCR_OK : BFCR_ERR_NOMEM));
  int64_t part[2] = {lo, hi};
  BFCR_CHECK(ctx,
             MPI_Allgather(part, 2, MPI_INT64_T, parts, 2, MPI_INT64_T, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgather of part bounds failed");
  /* Straddling ranges (replicated list in range order) and my piece of each. */
  seg_n = seg + P;
  seg_lo = seg_n + P;
  seg_hi = seg_lo + P;
  for (int r = 0; r < P; r++) {
    int64_t b = parts[2 * r + 1]; /* edge between part r and the next */
    if (parts[2 * r] >= b || b <= 0 || b >= n) continue;
    int64_t c = bfcr_first_range_from(start, m, b);
    if (c < m && start[c] == b) continue; /* a range starts exactly at the edge */
    c--;
    if (nseg > 0 && seg[nseg - 1] == c) continue;
    seg[nseg] = c;
    seg_n[nseg] = start[c + 1] - start[c];
    int64_t a = start[c] > lo ? start[c] : lo, e = start[c + 1] < hi ? start[c + 1] : hi;
    seg_lo[nseg] = a < e ? a - start[c] : 0;
    seg_hi[nseg] = a < e ? e - start[c] : 0;
    nseg++;
  }
  range_user ru = {elem, merge, user, start, seg, 0};
#pragma omp parallel num_threads(nt)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    range_user tu = ru;
    bfcr_reducer r = {width, local_elem, pass_merge, &tu};
#pragma omp for schedule(dynamic, 64)
    for (int64_t c = c0; c < c1; c++) {
      if (start[c + 1] > hi) continue; /* straddles: reduced with the other ranks */
      tu.base = start[c];
      bfcr_reduce_local(&r, start[c + 1] - start[c], mine + (c - c0) * width, scratch + slen * tid);
    }
  }
  BFCR_CALL(bfcr_reduce_dist_segments(ctx, width, seg_elem, pass_merge, &ru, nseg, seg_n, seg_lo,
                                      seg_hi, segval));
  for (int64_t s = 0; s < nseg; s++)
    if (seg[s] >= c0 && seg[s] < c1)
      memcpy(mine + (seg[s] - c0) * width, segval + s * width, (size_t)width * sizeof(double));
cleanup:
  free(parts);
  free(seg);
  free(scratch);
  free(segval);
  return st;
}
