/* Per-cluster regression over the levels of the summary tree.
 *
 * Summaries (count, means, centred scatter of (z, y)) of the lowest fitted level are
 * reduced over each node's samples in dendrogram order with the canonical tree of
 * lib/par/reduce.h; every higher level merges its children's summaries the same way.
 * Models are then fitted top-down so a node can shrink toward its parent's model
 * (hierarchical ridge: (S + lambda I) w = s_xy + lambda w_parent, lambda by GCV), which
 * keeps small clusters from over-fitting without a hard size cut. Ridge needs only the
 * summary (O(d^3) per node, independent of the cluster's size); OLS solves the node's
 * own rows by SVD.
 *
 * Several ranks: the rows move once into dendrogram order, P balanced contiguous chunks
 * (data parallel: every node of every level is one range of positions). A node is owned
 * by the rank holding its first position, and its summary lives there only (O(m / P)
 * summaries per rank and level, never replicated): the lowest fitted level is reduced
 * from the rows with bfcr_reduce_ranges_own (local ranges on their rank, the at most
 * P - 1 ranges straddling a chunk edge by one batched canonical exchange), and every
 * higher level the same way from the owned summaries of its children (a node's children
 * are a contiguous run of nodes, and its first child has the same owner), so every
 * summary has the one-process bits. Owners fit their nodes (model parallel; OLS fetches
 * the rows of a node that runs past the chunk from the next ranks); the pooled-penalty
 * partials of the fixed 256-node chunks are summed by the owner of each chunk's first
 * node, in node order, with the path values of the at most 255 nodes that run past its
 * own fetched from the next ranks. The coefficients stay with their owners, and so do the
 * model records (7 doubles) of every level above the replication bound (bfcr_tree_rep_max,
 * the tree build's: the same levels for any P); only the smaller levels' records are
 * replicated (one Allgatherv each). Replicating them all cost every rank O(n) bytes sent
 * (at P = 8, 250k rows a rank, 27 of the fit's 30 MB). A held level's children fetch their
 * parents' records from the owners (one contiguous run, bfcr_level_fit_cm_fetch), and its
 * size-weighted GCV is summed along a chain of ranks in node order (the one-process bits).
 * The later readers take what they need: the CV its owned nodes' penalties, the model,
 * the shrinkage and the guard the chosen level and its ancestors, gathered (fit.c). Every
 * collective step opens with a status agreement; a local failure is agreed in cleanup (no
 * rank waits alone). */
#include "model/fit_models.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "model/fit_rows.h"
#include "model/standardize.h"
#include "par/redistribute.h"
#include "par/reduce.h"
#include "par/reduce_ranges.h"
#include "regress/regress.h"

/* Several ranks: this rank's rows in dendrogram order, positions [lo, hi), (d + 1)
 * doubles each (z, y). NULL with one rank. */
typedef struct dist_rows {
  const double *rows;
  int64_t lo, hi;
} dist_rows;

/* First position of node i of level l (level 0: the position itself). */
static int64_t node_first(const bfcr_tree *t, int l, int64_t i) {
  return l == 0 ? i : t->lv[l].start[i];
}

typedef struct row_view {
  int d;
  const double *Z, *y;
  int64_t offset;
  const int64_t *pos;      /* global sample index per position (dendrogram order slice) */
  const double *child_sum; /* or: summaries of consecutive children */
} row_view;

static void row_elem(void *user, int64_t i, double *out) {
  const row_view *v = user;
  int d = v->d;
  int64_t p = d + 1, g = v->pos[i] - v->offset;
  out[0] = 1.0;
  memcpy(out + 1, v->Z + g * d, (size_t)d * sizeof(double));
  out[1 + d] = v->y[g];
  memset(out + 1 + p, 0, (size_t)(p * (p + 1) / 2) * sizeof(double));
}

typedef struct drow_view {
  int d;
  const dist_rows *dr;
  const double *child; /* or: the owned summaries of the level below, */
  int64_t child_lo;    /* from its node child_lo on */
} drow_view;

static void drow_elem(void *user, int64_t pos, double *out) {
  const drow_view *v = user;
  int d = v->d;
  int64_t p = d + 1;
  memcpy(out + 1, v->dr->rows + (pos - v->dr->lo) * p, (size_t)p * sizeof(double));
  out[0] = 1.0;
  memset(out + 1 + p, 0, (size_t)(p * (p + 1) / 2) * sizeof(double));
}

static void dchild_elem(void *user, int64_t i, double *out) {
  const drow_view *v = user;
  int64_t len = bfcr_sum_len(v->d);
  memcpy(out, v->child + (i - v->child_lo) * len, (size_t)len * sizeof(double));
}

static void drow_merge(void *user, const double *a, const double *b, double *out) {
  const drow_view *v = user;
  bfcr_sum_merge(a, b, v->d, out);
}

/* Several ranks: the nodes of level l this rank owns, [*o0, *o1): those whose first
 * position is in its chunk (level 0: the positions themselves). The owned runs of all
 * ranks tile the level in rank order, and a node's first child starts where it does, so
 * the owner of a node also owns its first child (a reduction over children, as over
 * rows, has one straddling node at most per chunk edge). */
static void own_range(const bfcr_tree *t, int l, const dist_rows *dr, int64_t *o0, int64_t *o1) {
  if (l == 0) {
    *o0 = dr->lo;
    *o1 = dr->hi;
  } else {
    bfcr_owned_ranges(t->lv[l].start, t->lv[l].m, dr->lo, dr->hi, o0, o1);
  }
}

/* Several ranks: summaries of the nodes of level l this rank owns, into lf->sum from
 * node lf->sum_lo on: from the rows (l == lo) or from the owned summaries of level
 * l - 1 (below), the children of a node being a contiguous run of nodes. Both are the
 * canonical reduction over the node's rows or children, so every summary has the
 * one-process bits, and none is replicated. Collective, agreed. */
static bfcr_status level_summaries_dist(bfcr_ctx *ctx, const bfcr_tree *t, int l, int lo,
                                        const dist_rows *dr, const bfcr_level_fit *below,
                                        bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  int d = t->d, agreed = 0;
  int64_t m = t->lv[l].m, len = bfcr_sum_len(d), *iota = NULL, *cs = NULL, o0, o1, c0, c1;
  const int64_t *start = t->lv[l].start;
  drow_view v = {d, dr, NULL, 0};
  bfcr_pos_elem_fn elem = drow_elem;
  int64_t plo = dr->lo, phi = dr->hi;
  own_range(t, l, dr, &o0, &o1);
  BFCR_ALLOC(ctx, lf->sum, o1 > o0 ? (o1 - o0) * len : 1);
  lf->sum_lo = o0;
  if (l == 0) { /* single samples (a 1-row dataset): node i is position i */
    BFCR_ALLOC(ctx, iota, m + 1);
    for (int64_t i = 0; i <= m; i++) iota[i] = i;
    start = iota;
  } else if (l > lo) { /* over the children: node i covers children [cs[i], cs[i + 1]) */
    BFCR_ALLOC(ctx, cs, m + 1);
    cs[0] = 0;
    for (int64_t i = 0; i < m; i++) cs[i + 1] = cs[i] + t->lv[l].nchild[i];
    start = cs;
    own_range(t, l - 1, dr, &plo, &phi);
    v.child = below->sum;
    v.child_lo = below->sum_lo;
    elem = dchild_elem;
  }
  bfcr_owned_ranges(start, m, plo, phi, &c0, &c1);
  BFCR_CHECK(ctx, c0 == o0 && c1 == o1, BFCR_ERR_INTERNAL,
             "level %d: owned nodes [%lld, %lld) differ from the owned children's [%lld, %lld)", l,
             (long long)o0, (long long)o1, (long long)c0, (long long)c1);
  BFCR_CALL_AGREED(
      bfcr_reduce_ranges_own(ctx, len, elem, drow_merge, &v, m, start, plo, phi, lf->sum));
cleanup:
  free(iota);
  free(cs);
  if (!agreed) st = bfcr_agree(ctx, st);
  return st;
}

static void child_elem(void *user, int64_t i, double *out) {
  const row_view *v = user;
  int64_t len = bfcr_sum_len(v->d);
  memcpy(out, v->child_sum + i * len, (size_t)len * sizeof(double));
}

static void sum_merge(void *user, const double *a, const double *b, double *out) {
  const row_view *v = user;
  bfcr_sum_merge(a, b, v->d, out);
}

/* Summaries of level l's nodes: from samples (l == lo) or from level l - 1. */
static bfcr_status level_summaries(bfcr_ctx *ctx, const bfcr_tree *t, const double *Z,
                                   const double *y, int l, int from_samples,
                                   const bfcr_level_fit *below, bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  int d = t->d, nt = ctx->nthreads;
  const bfcr_level *L = &t->lv[l];
  int64_t m = L->m, len = bfcr_sum_len(d);
  int64_t *cstart = NULL;
  double *scratch = NULL;
  BFCR_ALLOC(ctx, lf->sum, m * len);
  if (l == 0) { /* single samples: only reached for a 1-row dataset */
    for (int64_t i = 0; i < m; i++) {
      row_view v = {d, Z, y, t->offset, t->order + i, NULL};
      row_elem(&v, 0, lf->sum + i * len);
    }
    goto cleanup;
  }
  BFCR_ALLOC(ctx, cstart, m + 1);
  cstart[0] = 0;
  for (int64_t i = 0; i < m; i++) cstart[i + 1] = cstart[i] + L->nchild[i];
  int64_t slen = 2 * len * 64;
  BFCR_ALLOC(ctx, scratch, slen * nt);
#pragma omp parallel num_threads(nt)
  {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    row_view v = {d, Z, y, t->offset, NULL, NULL};
    bfcr_reducer r = {len, from_samples ? row_elem : child_elem, sum_merge, &v};
#pragma omp for schedule(dynamic, 16)
    for (int64_t i = 0; i < m; i++) {
      int64_t cnt;
      if (from_samples) {
        v.pos = t->order + L->start[i];
        cnt = L->start[i + 1] - L->start[i];
      } else {
        v.child_sum = below->sum + cstart[i] * len;
        cnt = L->nchild[i];
      }
      bfcr_reduce_local(&r, cnt, lf->sum + i * len, scratch + slen * tid);
    }
  }
cleanup:
  free(cstart);
  free(scratch);
  return st;
}

/* GCV of coefficients w on a summary (used for OLS): n RSS / (n - df)^2. */
static double summary_gcv(const double *s, int d, const double *w, double df) {
  int64_t p = d + 1;
  const double *M = s + 1 + p;
  double n = s[0], rss = M[bfcr_pk(d, d)];
  for (int j = 0; j < d; j++) {
    rss -= 2.0 * w[j] * M[bfcr_pk(j, d)];
    for (int k = 0; k < d; k++) rss += w[j] * w[k] * M[j <= k ? bfcr_pk(j, k) : bfcr_pk(k, j)];
  }
  if (rss < 0.0) rss = 0.0;
  return n > df ? n * rss / ((n - df) * (n - df)) : INFINITY;
}

/* Rows of node i of level l gathered (dendrogram order) for OLS. */
static void gather_rows(const bfcr_tree *t, const double *Z, const double *y, int64_t lo,
                        int64_t hi, double *X, double *yy) {
  int d = t->d;
  for (int64_t p = lo; p < hi; p++) {
    int64_t g = t->order[p] - t->offset;
    memcpy(X + (p - lo) * d, Z + g * d, (size_t)d * sizeof(double));
    yy[p - lo] = y[g];
  }
}

void bfcr_pooled_pick(const double *part, int64_t nchunks, int K, double n, const double *lam,
                      double *lambda, double *gcv) {
  double best = INFINITY;
  int kbest = K - 1;
  for (int k = 0; k < K; k++) {
    double r = 0.0, df = 0.0;
    for (int64_t c = 0; c < nchunks; c++) {
      r += part[c * 2 * K + k];
      df += part[c * 2 * K + K + k];
    }
    double g = n > df ? n * r / ((n - df) * (n - df)) : INFINITY;
    if (g <= best * (1.0 + 1e-12) || (isinf(best) && isinf(g))) { /* ties: larger lambda */
      if (g < best) best = g;
      kbest = k;
    }
  }
  *lambda = lam[kbest];
  *gcv = best;
}

typedef struct path_ctx {
  const bfcr_tree *t;
  const bfcr_fit_params *p;
  int l, top, K;
  const bfcr_level_fit *up, *lf;
  const bfcr_cluster_model *pcm; /* models of the parents of nodes o0.., from pcm_lo on */
  int64_t pcm_lo;
  const int8_t *fallback; /* of nodes o0.. */
  int64_t o0;
  const double *lam;
  const double *pw; /* coefficients of the parents of nodes o0.., from parent pw_lo on */
  int64_t pw_lo;
} path_ctx;

/* Node i's ridge path on the penalty grid: RSS per penalty into v[0, K), df into
 * v[K, 2K), v[2K] = 0; a node taking its parent's model: the RSS of that model K times
 * and v[2K] = 1 (it adds no df). Returns 0 on failure. */
static int node_path(const path_ctx *c, int64_t i, double *wk, double *v, double *fl) {
  int d = c->t->d, K = c->K;
  const double *s = c->lf->sum + (i - c->lf->sum_lo) * bfcr_sum_len(d);
  int64_t par = c->top ? -1 : c->t->lv[c->l].parent[i];
  if (c->fallback[i - c->o0]) {
    double r = bfcr_sum_rss(s, d, c->pw + (par - c->pw_lo) * d, c->pcm[par - c->pcm_lo].intercept);
    for (int k = 0; k < K; k++) v[k] = r;
    v[2 * K] = 1.0;
    *fl += 3.0 * d * d;
    return 1;
  }
  const double *w0 =
      (c->p->small == BFCR_SMALL_SHRINK && !c->top) ? c->pw + (par - c->pw_lo) * d : NULL;
  *fl += bfcr_ridge_flops(d) + 12.0 * K * d;
  v[2 * K] = 0.0;
  return bfcr_ridge_path(s, d, w0, K, c->lam, wk, v, v + K) == BFCR_OK;
}

/* A node's path values added to its chunk's sums, in node order. */
static void chunk_add(double *acc, const double *v, int K) {
  for (int k = 0; k < K; k++) acc[k] += v[k];
  if (v[2 * K] == 0.0)
    for (int k = 0; k < K; k++) acc[K + k] += v[K + k];
}

/* One penalty for the whole level: minimise the GCV of the level's piecewise model,
 * n RSS(lambda) / (n - df(lambda))^2 with RSS and df summed over its clusters (clusters
 * that take their parent's model add their RSS and no df). Per-cluster GCV on a few
 * rows is noisy; the pooled criterion is the GCV of the block-diagonal model the level
 * really is, and it shrinks small clusters harder than large ones through the same
 * absolute penalty. Returns the chosen penalty and the level's GCV.
 * This rank computes the paths of its nodes [o0, o1) (their summaries live here) and
 * sums the fixed 256-node chunks that start among them, in node order; a chunk running
 * past o1 is finished with the path values of the next ranks' first nodes (one fetch of
 * at most 255 nodes), so every chunk's sum has the one-process order. */
static bfcr_status pooled_lambda(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_fit_params *p, int l,
                                 const bfcr_level_fit *up, const double *pw, int64_t pw_lo,
                                 const bfcr_cluster_model *pcm, int64_t pcm_lo,
                                 const bfcr_level_fit *lf, const int8_t *fallback, int64_t o0,
                                 int64_t o1, double *lambda, double *gcv, double *flops) {
  bfcr_status st = BFCR_OK;
  const int64_t CH = BFCR_POOL_CHUNK;
  int d = t->d, nt = ctx->nthreads, top = l == t->nlevels - 1, K = p->lambda_steps;
  int P = ctx->size, agreed = 0;
  int64_t m = t->lv[l].m, wl = bfcr_ridge_work_len(d), vw = 2 * K + 1;
  int64_t nchunks = (m + CH - 1) / CH;
  /* chunks starting among my nodes, [cb, ce); my first nodes [o0, hb) belong to the
   * chunk of an earlier rank, the nodes [o1, te) after mine to my last chunk */
  int64_t cb = (o0 + CH - 1) / CH, ce = o1 > o0 ? (o1 + CH - 1) / CH : cb;
  int64_t hb = cb * CH < o1 ? cb * CH : o1, te = ce > cb && ce * CH < m ? ce * CH : m;
  if (ce == cb || te < o1) te = o1;
  double *lam = NULL, *part = NULL, *work = NULL, *mine = NULL, *head = NULL, *tail = NULL;
  int failed = 0;
  double fl = 0.0;
  BFCR_ALLOC(ctx, lam, K);
  for (int k = 0; k < K; k++)
    lam[k] = K == 1 ? p->lambda_min
                    : exp(log(p->lambda_min) +
                          (log(p->lambda_max) - log(p->lambda_min)) * k / (double)(K - 1));
  BFCR_CALLOC(ctx, part, nchunks * 2 * K);
  BFCR_ALLOC(ctx, work, (wl + vw) * nt);
  BFCR_ALLOC(ctx, head, hb > o0 ? (hb - o0) * vw : 1);
  path_ctx pc = {t, p, l, top, K, up, lf, pcm, pcm_lo, fallback, o0, lam, pw, pw_lo};
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : failed) \
    reduction(+ : fl)
  for (int64_t c = cb - 1; c < ce; c++) { /* c = cb - 1: my head nodes */
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    double *wk = work + (wl + vw) * tid, *v = wk + wl;
    if (c < cb) {
      for (int64_t i = o0; i < hb; i++)
        if (!node_path(&pc, i, wk, head + (i - o0) * vw, &fl)) failed = 1;
      continue;
    }
    double *acc = part + c * 2 * K;
    for (int64_t i = c * CH; i < o1 && i < (c + 1) * CH; i++) {
      if (!node_path(&pc, i, wk, v, &fl)) {
        failed = 1;
        continue;
      }
      chunk_add(acc, v, K);
    }
  }
  BFCR_CHECK(ctx, !failed, BFCR_ERR_NUMERIC,
             "ridge path failed on a cluster of level %d (non-finite values or LAPACK error)", l);
  if (P > 1) {
    /* The heads of the next ranks tile [o1, te) (bfcr_fetch_rows only needs the held
     * blocks disjoint and covering the wants). */
    BFCR_CALL_AGREED(bfcr_fetch_rows(ctx, head, vw, o0, hb, o1, te, &tail));
    for (int64_t i = o1; i < te; i++) chunk_add(part + (ce - 1) * 2 * K, tail + (i - o1) * vw, K);
    BFCR_ALLOC(ctx, mine, (ce > cb ? ce - cb : 1) * 2 * K);
    memcpy(mine, part + cb * 2 * K, (size_t)((ce - cb) * 2 * K) * sizeof(double));
    BFCR_CALL_AGREED(
        bfcr_allgather_items(ctx, mine, ce - cb, (size_t)(2 * K) * sizeof(double), part));
  }
  bfcr_pooled_pick(part, nchunks, K, (double)t->n, lam, lambda, gcv);
  *flops += fl;
cleanup:
  free(lam);
  free(part);
  free(work);
  free(mine);
  free(head);
  free(tail);
  if (P > 1 && !agreed) st = bfcr_agree(ctx, st);
  return st;
}

/* Nodes fitted by this rank: all of them with one rank; with several, the nodes it owns
 * (their summaries live here; OLS fetches the rows of a node that runs past the chunk
 * from the next ranks). */
static void fit_range(const bfcr_tree *t, int l, const dist_rows *dr, int64_t *i0, int64_t *i1) {
  if (!dr) {
    *i0 = 0;
    *i1 = t->lv[l].m;
  } else {
    own_range(t, l, dr, i0, i1);
  }
}

/* Models travel as rows of doubles (bfcr_fetch_rows): plain data, 7 doubles wide. */
enum { CM_W = sizeof(bfcr_cluster_model) / sizeof(double) };
_Static_assert(sizeof(bfcr_cluster_model) % sizeof(double) == 0, "model record not in doubles");

bfcr_status bfcr_level_fit_cm_fetch(bfcr_ctx *ctx, const bfcr_level_fit *lf, int64_t a, int64_t b,
                                    bfcr_cluster_model **out) {
  double *got = NULL;
  *out = malloc((size_t)(b > a ? b - a : 1) * sizeof **out);
  bfcr_status st = bfcr_agree(ctx, *out ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory"));
  if (st == BFCR_OK)
    st = bfcr_fetch_rows(ctx, (const double *)lf->cm, CM_W, lf->cm_lo, lf->cm_hi, a, b, &got);
  if (st == BFCR_OK && b > a) memcpy(*out, got, (size_t)(b - a) * sizeof **out);
  free(got);
  return st;
}

/* Several ranks, a level whose models stay with their owners: its size-weighted GCV sum
 * in node order, the one-process bits: a chain from rank 0 on, each rank continuing the
 * sum over its nodes (a double per hop), the total broadcast from the last rank.
 * Collective; opens with a status agreement, agreed. */
static bfcr_status gcv_sum_chain(bfcr_ctx *ctx, const bfcr_level_fit *lf, double *g) {
  const int r = ctx->rank, P = ctx->size;
  double acc = 0.0;
  bfcr_status st = bfcr_agree(ctx, BFCR_OK);
  if (st != BFCR_OK) return st;
  int ok = r == 0 ||
           MPI_Recv(&acc, 1, MPI_DOUBLE, r - 1, 74, ctx->comm, MPI_STATUS_IGNORE) == MPI_SUCCESS;
  for (int64_t i = lf->cm_lo; i < lf->cm_hi; i++)
    acc += (double)lf->cm[i - lf->cm_lo].size * lf->cm[i - lf->cm_lo].gcv;
  if (r < P - 1) ok = MPI_Send(&acc, 1, MPI_DOUBLE, r + 1, 74, ctx->comm) == MPI_SUCCESS && ok;
  ok = MPI_Bcast(&acc, 1, MPI_DOUBLE, P - 1, ctx->comm) == MPI_SUCCESS && ok;
  *g = acc;
  return bfcr_agree(ctx, ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_MPI, "level GCV chain failed"));
}

static bfcr_status fit_level(bfcr_ctx *ctx, bfcr_tree *t, const double *Z, const double *y,
                             const dist_rows *dr, const bfcr_fit_params *p, int l, int64_t rep_max,
                             const bfcr_level_fit *up, bfcr_level_fit *lf, double *flops) {
  bfcr_status st = BFCR_OK;
  int d = t->d, nt = ctx->nthreads, top = l == t->nlevels - 1, agreed = 0;
  double fl = 0.0;
  const bfcr_level *L = &t->lv[l];
  int64_t m = L->m, len = bfcr_sum_len(d), wl = bfcr_ridge_work_len(d), i0, i1, ext_lo = 0;
  double *work = NULL, *ext = NULL, *pfetch = NULL, level_lambda = -1.0, level_gcv = NAN;
  bfcr_cluster_model *cmine = NULL, *pcfetch = NULL;
  int8_t *fallback = NULL;
  int failed = 0;
  bfcr_ridge_grid grid = {p->lambda_min, p->lambda_max, p->lambda_steps};
  fit_range(t, l, dr, &i0, &i1);
  /* several ranks: the coefficients stay with their owner, and so do the models of a
   * level above the replication bound (replicating them cost every rank 56 B per node of
   * every level: O(n) bytes sent per rank); smaller levels' models are replicated */
  const int cm_part = dr && m > rep_max;
  BFCR_ALLOC(ctx, lf->w, dr ? (i1 > i0 ? i1 - i0 : 1) * d : m * d);
  lf->w_part = dr != NULL;
  lf->w_lo = dr ? i0 : 0;
  lf->w_hi = dr ? i1 : m;
  BFCR_CALLOC(ctx, lf->cm, cm_part ? (i1 > i0 ? i1 - i0 : 1) : m);
  lf->cm_part = cm_part;
  lf->cm_lo = cm_part ? i0 : 0;
  lf->cm_hi = cm_part ? i1 : m;
  BFCR_ALLOC(ctx, work, wl * nt);
  BFCR_CALLOC(ctx, fallback, i1 > i0 ? i1 - i0 : 1);
  for (int64_t i = i0; i < i1; i++)
    fallback[i - i0] = !top && (int64_t)lf->sum[(i - lf->sum_lo) * len] < p->min_cluster_size;
  /* the parents' coefficients: my nodes' parents are one contiguous run of the level
   * above, fetched from their owners when they are not whole here */
  const double *pw = top ? NULL : up->w;
  int64_t pw_lo = top || !up->w_part ? 0 : up->w_lo;
  if (!top && up->w_part) {
    int64_t pa = i1 > i0 ? L->parent[i0] : 0, pb = i1 > i0 ? L->parent[i1 - 1] + 1 : 0;
    BFCR_CALL_AGREED(bfcr_fetch_rows(ctx, up->w, d, up->w_lo, up->w_hi, pa, pb, &pfetch));
    pw = pfetch;
    pw_lo = pa;
  }
  /* the parents' models, the same way when the level above keeps them with its owners */
  const bfcr_cluster_model *pcm = top ? NULL : up->cm;
  int64_t pcm_lo = top ? 0 : up->cm_lo;
  if (!top && up->cm_part) {
    int64_t pa = i1 > i0 ? L->parent[i0] : 0, pb = i1 > i0 ? L->parent[i1 - 1] + 1 : 0;
    BFCR_CALL_AGREED(bfcr_level_fit_cm_fetch(ctx, up, pa, pb, &pcfetch));
    pcm = pcfetch;
    pcm_lo = pa;
  }
  if (p->regressor == BFCR_REG_RIDGE && p->lambda_mode == BFCR_LAMBDA_LEVEL)
    BFCR_CALL_AGREED(pooled_lambda(ctx, t, p, l, up, pw, pw_lo, pcm, pcm_lo, lf, fallback, i0, i1,
                                   &level_lambda, &level_gcv, flops));
  if (p->lambda_mode == BFCR_LAMBDA_FIXED) level_lambda = p->lambda;
  if (dr && p->regressor == BFCR_REG_OLS) { /* my nodes' rows, including a straddling tail */
    ext_lo = i1 > i0 ? node_first(t, l, i0) : 0;
    int64_t ext_hi = i1 > i0 ? (i1 < m ? node_first(t, l, i1) : t->n) : 0;
    BFCR_CALL_AGREED(bfcr_fetch_rows(ctx, dr->rows, d + 1, dr->lo, dr->hi, ext_lo, ext_hi, &ext));
  }
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt) reduction(| : failed) \
    reduction(+ : fl)
  for (int64_t i = i0; i < i1; i++) {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    const double *s = lf->sum + (i - lf->sum_lo) * len;
    double *w = lf->w + (i - lf->w_lo) * d;
    bfcr_cluster_model *cm = &lf->cm[i - lf->cm_lo];
    int64_t size = (int64_t)s[0];
    int64_t par = top ? -1 : L->parent[i];
    cm->size = size;
    cm->src_level = l;
    cm->src_node = i;
    if (fallback[i - i0]) { /* too small: the parent's model */
      *cm = pcm[par - pcm_lo];
      cm->size = size;
      cm->flags |= BFCR_CM_FALLBACK;
      memcpy(w, pw + (par - pw_lo) * d, (size_t)d * sizeof(double));
      continue;
    }
    if (p->regressor == BFCR_REG_OLS) {
      int64_t lo = l == 0 ? i : L->start[i], hi = l == 0 ? i + 1 : L->start[i + 1];
      double *X = malloc((size_t)(hi - lo) * (size_t)(d + 1) * sizeof(double));
      if (!X) {
        failed |= 2;
        continue;
      }
      double *yy = X + (hi - lo) * d;
      if (dr) {
        for (int64_t q = lo; q < hi; q++) {
          memcpy(X + (q - lo) * d, ext + (q - ext_lo) * (d + 1), (size_t)d * sizeof(double));
          yy[q - lo] = ext[(q - ext_lo) * (d + 1) + d];
        }
      } else {
        gather_rows(t, Z, y, lo, hi, X, yy);
      }
      int rank = 0;
      if (bfcr_ols_fit(X, d, yy, hi - lo, d, p->rcond, w, &cm->intercept, &rank) != BFCR_OK)
        failed |= 1;
      free(X);
      cm->rank = rank;
      if (rank < d) cm->flags |= BFCR_CM_RANKDEF;
      cm->lambda = 0.0;
      cm->gcv = summary_gcv(s, d, w, 1.0 + rank);
      fl += 4.0 * (double)(hi - lo) * d * d + 2.0 * d * d; /* estimate: dgelsd on (hi - lo) x d */
    } else {
      bfcr_ridge_result res;
      const double *w0 = (p->small == BFCR_SMALL_SHRINK && !top) ? pw + (par - pw_lo) * d : NULL;
      if (bfcr_ridge_fit(s, d, w0, &grid, level_lambda, work + wl * tid, w, &cm->intercept, &res) !=
          BFCR_OK)
        failed |= 1;
      cm->lambda = res.lambda;
      cm->gcv = res.gcv;
      cm->rank = d;
      fl += bfcr_ridge_flops(d) + 12.0 * (2 * p->lambda_steps + 2) * d;
    }
  }
  *flops += fl;
  BFCR_CHECK(ctx, !(failed & 2), BFCR_ERR_NOMEM, "out of memory gathering cluster rows for OLS");
  BFCR_CHECK(ctx, !failed, BFCR_ERR_NUMERIC,
             "regression failed on a cluster of level %d (non-finite values or LAPACK error)", l);
  if (dr && !cm_part) { /* a small level: replicate the models in node order */
    BFCR_ALLOC(ctx, cmine, i1 > i0 ? i1 - i0 : 1);
    memcpy(cmine, lf->cm + i0, (size_t)(i1 - i0) * sizeof(*cmine));
    BFCR_CALL_AGREED(bfcr_allgather_items(ctx, cmine, i1 - i0, sizeof(*cmine), lf->cm));
  }
  if (isnan(level_gcv)) { /* per-cluster or fixed penalties: size-weighted cluster GCV */
    double g = 0.0;
    if (cm_part)
      BFCR_CALL_AGREED(gcv_sum_chain(ctx, lf, &g));
    else
      for (int64_t i = 0; i < m; i++) g += (double)lf->cm[i].size * lf->cm[i].gcv;
    level_gcv = g / (double)t->n;
  }
  t->info[l].gcv = level_gcv;
cleanup:
  free(work);
  free(fallback);
  free(ext);
  free(pfetch);
  free(pcfetch);
  free(cmine);
  if (dr && !agreed) st = bfcr_agree(ctx, st);
  return st;
}

/* Flops of the summaries (counted: the merge loops of bfcr_sum_merge, 5 per packed
 * scatter element plus 4 per mean, one merge per reduced element beyond the first). */
static double summary_flops(const bfcr_tree *t, int lo) {
  const double p = (double)t->d + 1.0, merge = 2.5 * p * (p + 1.0) + 4.0 * p + 3.0;
  double merges = lo == 0 ? 0.0 : (double)(t->n - t->lv[lo].m);
  for (int l = lo + 1; l < t->nlevels; l++) merges += (double)(t->lv[l - 1].m - t->lv[l].m);
  return merges * merge;
}

/* Several ranks: rows into dendrogram order, then the same steps as bfcr_fit_levels with
 * the distributed summaries and fits. Collective; the status is agreed. */
static bfcr_status fit_levels_dist(bfcr_ctx *ctx, bfcr_tree *t, const bfcr_zsrc *zs,
                                   const double *y, const bfcr_fit_params *p, int lo,
                                   int64_t rep_max, bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  int T = t->nlevels - 1, d = t->d, P = ctx->size, agreed = 0;
  int64_t n = t->n;
  double *rows = NULL, *all0 = NULL;
  dist_rows dr = {NULL, bfcr_block_lo(n, P, ctx->rank), bfcr_block_lo(n, P, ctx->rank + 1)};
  double t0 = bfcr_wtime();
  bfcr_zy_rows zy = {*zs, y};
  /* The CV that follows (cv_dist.c) needs these rows in this order too: keep them for it
   * (a slot as t->kd0, so it can take them through a const tree), not move them twice. */
  const int keep = p->select == BFCR_SELECT_CV && p->level == 0 && T >= 1 && !t->zyd;
  if (keep) {
    if (!(t->zyd = calloc(1, sizeof(*t->zyd))))
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory keeping the rows for the CV");
    BFCR_CALL_AGREED(bfcr_agree(ctx, st));
  }
  BFCR_CALL_AGREED(bfcr_tree_rows_to_dendro(ctx, t, d + 1, bfcr_pack_zy, &zy, &rows));
  dr.rows = rows;
  bfcr_phase_add(ctx, "exchange", bfcr_wtime() - t0, 0.0);
  if (bfcr_fit_rows_mode(t, lo)) { /* wide data: from the rows (fit_rows.c) */
    st = bfcr_fit_levels_rows(ctx, t, NULL, y, rows, dr.lo, dr.hi, p, lo, lf);
    agreed = 1;
    goto cleanup;
  }
  { /* load balance of the data-parallel rows and of the model-parallel fits */
    int64_t m = t->lv[lo].m, i0, i1;
    fit_range(t, lo, &dr, &i0, &i1);
    double loc[2] = {(double)(dr.hi - dr.lo), (double)(i1 - i0)}, mx[2] = {0, 0};
    if (MPI_Allreduce(loc, mx, 2, MPI_DOUBLE, MPI_MAX, ctx->comm) == MPI_SUCCESS && ctx->rank == 0)
      bfcr_log(ctx, BFCR_LOG_INFO,
               "%d ranks: rows per rank max %.0f / mean %.1f; level %d models per rank max %.0f "
               "/ mean %.1f (cost ~ d^3 per model)",
               P, mx[0], (double)n / P, lo, mx[1], (double)m / P);
  }
  t0 = bfcr_wtime();
  for (int l = lo; l <= T; l++)
    BFCR_CALL_AGREED(level_summaries_dist(ctx, t, l, lo, &dr, l > lo ? &lf[l - 1] : NULL, &lf[l]));
  if (lo == 0) { /* a tree without levels (one row): its means are the model's centroids */
    int64_t len = bfcr_sum_len(d), o0 = lf[0].sum_lo, o1 = dr.hi > dr.lo ? dr.hi : o0;
    BFCR_ALLOC(ctx, all0, t->lv[0].m * len);
    BFCR_CALL_AGREED(
        bfcr_allgather_items(ctx, lf[0].sum, o1 - o0, (size_t)len * sizeof(double), all0));
    free(lf[0].sum);
    lf[0].sum = all0;
    lf[0].sum_lo = 0;
    all0 = NULL;
  }
  bfcr_phase_add(ctx, "regression summaries", bfcr_wtime() - t0, summary_flops(t, lo) / P);
  t0 = bfcr_wtime();
  double flops = 0.0;
  for (int l = T; l >= lo; l--) {
    BFCR_CALL_AGREED(
        fit_level(ctx, t, NULL, y, &dr, p, l, rep_max, l < T ? &lf[l + 1] : NULL, &lf[l], &flops));
  }
  bfcr_phase_add_est(ctx, "model fit", bfcr_wtime() - t0, flops);
cleanup:
  if (t->zyd && !*t->zyd && st == BFCR_OK) { /* handed over; NULL for an empty block */
    *t->zyd = rows;
    rows = NULL;
  }
  free(rows);
  free(all0);
  if (!agreed) st = bfcr_agree(ctx, st);
  return st;
}

bfcr_status bfcr_fit_levels(bfcr_ctx *ctx, bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                            const bfcr_fit_params *p, int lo, bfcr_level_fit *lf) {
  return bfcr_fit_levels_rep(ctx, t, zs, y, p, lo, 0, lf);
}

bfcr_status bfcr_fit_levels_rep(bfcr_ctx *ctx, bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                                const bfcr_fit_params *p, int lo, int64_t rep_max,
                                bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  int T = t->nlevels - 1;
  if (rep_max <= 0) rep_max = bfcr_tree_rep_max(t->d);
  if (ctx->size > 1) return fit_levels_dist(ctx, t, zs, y, p, lo, rep_max, lf);
  const double *Z = zs->Z;
  BFCR_CHECK(ctx, Z != NULL, BFCR_ERR_INTERNAL, "one-rank fit needs the stored rows");
  if (bfcr_fit_rows_mode(t, lo)) return bfcr_fit_levels_rows(ctx, t, Z, y, NULL, 0, 0, p, lo, lf);
  double t0 = bfcr_wtime();
  for (int l = lo; l <= T; l++)
    BFCR_CALL(level_summaries(ctx, t, Z, y, l, l == lo, l > lo ? &lf[l - 1] : NULL, &lf[l]));
  bfcr_phase_add(ctx, "regression summaries", bfcr_wtime() - t0, summary_flops(t, lo));
  t0 = bfcr_wtime();
  double flops = 0.0;
  for (int l = T; l >= lo; l--) {
    BFCR_CALL(
        fit_level(ctx, t, Z, y, NULL, p, l, rep_max, l < T ? &lf[l + 1] : NULL, &lf[l], &flops));
  }
  bfcr_phase_add_est(ctx, "model fit", bfcr_wtime() - t0, flops);
cleanup:
  return st;
}

bfcr_status bfcr_level_fit_share(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_level_fit *lf, int from) {
  bfcr_status st = BFCR_OK;
  int d = t->d, agreed = 0;
  double *all = NULL;
  if (ctx->size == 1) return BFCR_OK;
  for (int l = from; l < t->nlevels; l++) {
    if (!lf[l].w_part) continue; /* the same on every rank */
    BFCR_ALLOC(ctx, all, t->lv[l].m * d);
    BFCR_CALL_AGREED(bfcr_allgather_items(ctx, lf[l].w, lf[l].w_hi - lf[l].w_lo,
                                          (size_t)d * sizeof(double), all));
    free(lf[l].w);
    lf[l].w = all;
    all = NULL;
    lf[l].w_part = 0;
    lf[l].w_lo = 0;
    lf[l].w_hi = t->lv[l].m;
  }
cleanup:
  free(all);
  if (!agreed) st = bfcr_agree(ctx, st);
  return st;
}

void bfcr_level_fit_free(bfcr_level_fit *lf, int nlevels) {
  for (int l = 0; lf && l < nlevels; l++) {
    free(lf[l].sum);
    free(lf[l].w);
    free(lf[l].cm);
  }
}
