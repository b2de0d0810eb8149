/* Summaries of the nodes of a new level, reduced over their children.
 *
 * The children of a node (the items of the level below in one component) are taken in
 * item order and reduced with the canonical fixed tree of lib/par/reduce.h, so a node's
 * summary has the same bits whoever computes it. HCI needs, per node, the sum of the
 * best-friend edges among its children: the children's best-friend distances, with the
 * one 2-cycle of the component (a mutual pair) counted once: the member of the pair
 * with the larger index contributes 0. */
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "par/reduce.h"
#include "tree/nodes.h"

static double edge_value(const bfcr_item_view *v, int64_t it) {
  int64_t f = v->bf[it];
  if (v->bf[f] == it && f < it) return 0.0; /* second half of the mutual pair */
  return v->bfdist[it];
}

static void item_elem(void *user, int64_t pos, double *out) {
  const bfcr_item_view *v = user;
  int d = v->d;
  int64_t it = v->members[pos];
  if (v->z) {
    out[BFCR_NS_N] = 1.0;
    memcpy(out + BFCR_NS_MEAN, v->z + it * d, (size_t)d * sizeof(double));
    out[bfcr_ns_sse(d)] = 0.0;
    out[bfcr_ns_y(d)] = v->y ? v->y[it] : 0.0;
  } else {
    memcpy(out, v->ns + it * bfcr_ns_width(d), (size_t)bfcr_ns_width(d) * sizeof(double));
  }
  out[bfcr_ns_edge(d)] = edge_value(v, it);
}

static void item_merge(void *user, const double *a, const double *b, double *out) {
  const bfcr_item_view *v = user;
  bfcr_ns_merge(v->d, a, b, out);
}

/* Group items by component (stable: item order inside each group). */
void bfcr_group_members(const int64_t *comp, int64_t m, int64_t k, int64_t *start,
                        int64_t *members) {
  memset(start, 0, (size_t)(k + 1) * sizeof(int64_t));
  for (int64_t i = 0; i < m; i++) start[comp[i] + 1]++;
  for (int64_t c = 0; c < k; c++) start[c + 1] += start[c];
  int64_t *fill = members + m; /* caller gave 2m + k + 1 slots: use the tail as cursors */
  memcpy(fill, start, (size_t)k * sizeof(int64_t));
  for (int64_t i = 0; i < m; i++) members[fill[comp[i]]++] = i;
}

/* Nodes of the next level from the items of `cur` and their components. */
bfcr_status bfcr_make_nodes(bfcr_ctx *ctx, const bfcr_item_view *proto, const bfcr_level *cur,
                            const int64_t *item_minidx, int64_t k, bfcr_level *next) {
  bfcr_status st = BFCR_OK;
  int d = proto->d;
  int64_t m = cur->m, w = bfcr_ns_width(d);
  int64_t *start = NULL, *members = NULL;
  double *scratch = NULL;
  int nt = ctx->nthreads;
  next->m = k;
  BFCR_ALLOC(ctx, next->ns, k * w);
  BFCR_ALLOC(ctx, next->minidx, k);
  BFCR_ALLOC(ctx, next->nchild, k);
  BFCR_ALLOC(ctx, start, k + 1);
  BFCR_ALLOC(ctx, members, 2 * m + k + 1);
  bfcr_group_members(cur->parent, m, k, start, members);
  int64_t slen = 2 * w * 64;
  BFCR_ALLOC(ctx, scratch, slen * nt);
#pragma omp parallel num_threads(nt)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    bfcr_item_view v = *proto;
    bfcr_reducer r = {w, item_elem, item_merge, &v};
#pragma omp for schedule(dynamic, 256)
    for (int64_t c = 0; c < k; c++) {
      v.members = members + start[c];
      int64_t cnt = start[c + 1] - start[c];
      bfcr_reduce_local(&r, cnt, next->ns + c * w, scratch + slen * tid);
      next->nchild[c] = cnt;
      next->minidx[c] = item_minidx ? item_minidx[members[start[c]]] : members[start[c]];
    }
  }
cleanup:
  free(start);
  free(members);
  free(scratch);
  return st;
}
