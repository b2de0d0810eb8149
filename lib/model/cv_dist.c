/* Cross-validated level selection with the rows distributed (several ranks).
 *
 * The same computation as the replicated path of cv.c, with the same bits, but every
 * rank holds O(n / P) rows and per-row state:
 *  - folds: the rows' keys splitmix64(splitmix64(seed) + g) are bucketed by key range
 *    (bucket r = rank r), sorted there by (key, g) and dealt to folds by global rank
 *    (bucket offsets by an exclusive scan): exactly bfcr_cv_folds's global sort (only the
 *    keys travel: they arrive in increasing g, so a stable sort by key is that order);
 *  - routing row of each held-out row (its nearest row outside its fold): the level-0
 *    best friend when that is outside the fold (its fold fetched from its owner), else a
 *    search: with several ranks, at low d or where level 0 ran on cells
 *    (bfcr_knn_cv_route_slabs), the rows move once to
 *    spatial slabs and each is searched in its slab and the slabs its ball reaches
 *    (lib/knn/knn_cv_route.c); otherwise a ring: the rows that need it travel around the
 *    ranks with their best (dist2, index) so far; each rank searches its own rows with a
 *    kd-tree that skips the query's fold (bfcr_kdtree_query_grp), bounded by the best so
 *    far. Both give the one-process answer. The routing row's level-1 node is the row's
 *    own when it is the best friend (the same component), else asked of its owner;
 *  - fold models: the rows move to dendrogram-order blocks (bfcr_redistribute_fn); a
 *    node is accumulated in position order as in cv.c: nodes inside a block locally,
 *    the few nodes that cross a block edge by a chain (the partial accumulators of the
 *    crossing node of every level go from rank r to r + 1, which continues them), so
 *    every sum has the one-process order (a rank passes its part on before it solves its
 *    inner nodes; the last rank solves its inner nodes while it waits); the rank holding
 *    a node's last position solves it and keeps its fold models (O(nodes / P) per
 *    rank). A fold that takes its parent's model is filled top-down by fetching the
 *    parent's from its owner;
 *  - scoring: each rank scores its own rows. They are sorted once (radix sort,
 *    lib/par/radix.h) by (fold, level-1 node of the routing row); nodes are numbered in
 *    dendrogram order, so parents never decrease with their children and that order
 *    stays sorted by (fold, level-l node) at every level: each level's distinct fold
 *    models come from one linear scan and are fetched once from their owners, then kept
 *    with each row's slot per level (T n / P int32) for the shrinkage candidates
 *    (cv_shrink.c reads row i's model by its slot). The rows are then scored in input
 *    order in blocks, each row standardized once for all levels, streaming the rows
 *    rather than jumping through them.
 *    The sums over rows go through bfcr_sum_rows_canonical (the one-process order: the
 *    MSEs are stored in the model, so an exact sum would change their last bits).
 * The keyed fetches send 4-byte keys (and 4-byte answers for node ids and folds) while
 * the key range fits (the same choice on every rank, from global sizes).
 * Traffic per rank: O(n / P) rows for the redistribution and the model fetches; the
 * ring moves about n / (K P) query rows P times (grows with P), the slabs every row once
 * plus a thin boundary (docs/scaling.md). */
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_cv_route.h"
#include "knn/slab.h"
#include "model/cv.h"
#include "model/cv_impl.h"
#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "model/cv_shrink.h"
#include "par/sum_rows.h"
#include "par/radix.h"
#include "model/cv_finish.h"

typedef struct cvd {
  bfcr_ctx *ctx;
  const bfcr_tree *t;
  int d, K, T, P, me;
  int64_t n, nl, off; /* own input rows [off, off + nl) */
  int64_t *offs;      /* [P + 1] input blocks */
  int64_t plo, phi;   /* dendrogram positions held after the redistribution */
  double **fm;        /* [T + 1] fold models of the owned nodes of each level */
  int64_t *own0;      /* [T + 1] first owned node of each level */
  int64_t *nown;      /* [T + 1] owned nodes */
} cvd;

/* ---- a keyed fetch: values of w doubles for keys held by other ranks ---- */

typedef int (*key_owner_fn)(const cvd *s, int64_t key, const void *u);
typedef void (*key_answer_fn)(const cvd *s, int64_t key, const void *u, double *out);

/* Wire formats of a fetch (the same on every rank: callers decide from global sizes):
 * FETCH_K32, every key is below 2^31 and travels as 4 bytes; FETCH_I32, the value is one
 * integer below 2^31 (w = 1) and travels as 4 bytes. Half the bytes of a row id or a
 * fold per key, where the answers are node ids or folds. */
enum { FETCH_K32 = 1, FETCH_I32 = 2 };

/* out[i * w] = the value of keys[i] (m keys, any order, each asked as given: callers
 * that hold repeated keys deduplicate first). Keys this rank owns are answered in place
 * (about 1 / P of them: at P = 2 half the keys skip the packing, both exchanges and the
 * copy back). fmt: FETCH_* flags. Collective; status agreed. */
static bfcr_status fetch_each(cvd *s, const int64_t *keys, int64_t m, int64_t w, key_owner_fn owner,
                              key_answer_fn answer, const void *u, double *out, int fmt) {
  bfcr_ctx *ctx = s->ctx;
  bfcr_status st = BFCR_OK;
  const int P = s->P;
  int64_t *sk = NULL, *rk = NULL, *pos = NULL, nr = 0;
  int *sc = NULL, *rc = NULL, *sd = NULL, *rd = NULL, *sc2 = NULL, *rc2 = NULL, *sd2 = NULL,
      *rd2 = NULL, *who = NULL;
  double *ans = NULL, *got = NULL;
  sk = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  pos = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  who = malloc((size_t)(m > 0 ? m : 1) * sizeof(int));
  sc = calloc((size_t)P * 8, sizeof(int));
  if (!sk || !pos || !who || !sc) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  rc = sc + P;
  sd = rc + P;
  rd = sd + P;
  sc2 = rd + P;
  rc2 = sc2 + P;
  sd2 = rc2 + P;
  rd2 = sd2 + P;
  for (int64_t i = 0; i < m; i++) sc[who[i] = owner(s, keys[i], u)]++;
  sc[s->me] = 0; /* own keys: answered below, not sent */
  for (int r = 0; r < P; r++) sd[r] = r ? sd[r - 1] + sc[r - 1] : 0;
  for (int r = 0; r < P; r++) sc2[r] = sd[r];
  for (int64_t i = 0; i < m; i++) { /* grouped by owner, in key order inside a group */
    if (who[i] == s->me) {
      answer(s, keys[i], u, out + i * w);
      continue;
    }
    pos[i] = sc2[who[i]]++;
    if (fmt & FETCH_K32)
      ((int32_t *)sk)[pos[i]] = (int32_t)keys[i];
    else
      sk[pos[i]] = keys[i];
  }
  int ok = MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, ctx->comm) == MPI_SUCCESS;
  for (int r = 0; r < P; r++) rd[r] = r ? rd[r - 1] + rc[r - 1] : 0;
  nr = rd[P - 1] + rc[P - 1];
  rk = malloc((size_t)(nr > 0 ? nr : 1) * sizeof(int64_t));
  ans = malloc((size_t)(nr > 0 ? nr : 1) * (size_t)w * sizeof(double));
  got = malloc((size_t)(m > 0 ? m : 1) * (size_t)w * sizeof(double));
  if (!rk || !ans || !got) st = BFCR_ERR_NOMEM;
  if (!ok) st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: MPI_Alltoall failed");
  if ((double)nr * (double)w > INT_MAX || (double)m * (double)w > INT_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation: fetch too large");
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  const MPI_Datatype kt = fmt & FETCH_K32 ? MPI_INT32_T : MPI_INT64_T;
  const MPI_Datatype vt = fmt & FETCH_I32 ? MPI_INT32_T : MPI_DOUBLE;
  ok = MPI_Alltoallv(sk, sc, sd, kt, rk, rc, rd, kt, ctx->comm) == MPI_SUCCESS;
  for (int64_t i = 0; i < nr; i++) {
    const int64_t key = fmt & FETCH_K32 ? ((const int32_t *)rk)[i] : rk[i];
    if (fmt & FETCH_I32) { /* the buffer is only ever read as int32 then */
      double v;
      answer(s, key, u, &v);
      ((int32_t *)ans)[i] = (int32_t)v;
    } else {
      answer(s, key, u, ans + i * w);
    }
  }
  for (int r = 0; r < P; r++) {
    sc2[r] = rc[r] * (int)w;
    sd2[r] = rd[r] * (int)w;
    rc2[r] = sc[r] * (int)w;
    rd2[r] = sd[r] * (int)w;
  }
  ok = ok && MPI_Alltoallv(ans, sc2, sd2, vt, got, rc2, rd2, vt, ctx->comm) == MPI_SUCCESS;
  st =
      bfcr_agree(ctx, ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: fetch failed"));
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < m; i++)
    if (who[i] != s->me) {
      if (fmt & FETCH_I32)
        out[i] = ((const int32_t *)got)[pos[i]];
      else
        memcpy(out + i * w, got + pos[i] * w, (size_t)w * sizeof(double));
    }
cleanup:
  free(sk);
  free(pos);
  free(who);
  free(sc);
  free(rk);
  free(ans);
  free(got);
  return st;
}

/* fetch_each in rounds of at most `chunk` keys (the same number of rounds on every
 * rank): bounded message and answer buffers. Collective; status agreed. */
static bfcr_status fetch_rounds(cvd *s, const int64_t *keys, int64_t m, int64_t w,
                                key_owner_fn owner, key_answer_fn answer, const void *u,
                                double *out, int64_t chunk, int fmt) {
  int64_t rounds = (m + chunk - 1) / chunk;
  if (MPI_Allreduce(MPI_IN_PLACE, &rounds, 1, MPI_INT64_T, MPI_MAX, s->ctx->comm) != MPI_SUCCESS)
    return bfcr_agree(s->ctx,
                      bfcr_err(s->ctx, BFCR_ERR_MPI, "cross-validation: MPI_Allreduce failed"));
  bfcr_status st = BFCR_OK;
  for (int64_t r = 0; r < rounds && st == BFCR_OK; r++) {
    const int64_t i0 = r * chunk < m ? r * chunk : m, i1 = i0 + chunk < m ? i0 + chunk : m;
    st = fetch_each(s, keys + i0, i1 - i0, w, owner, answer, u, out + i0 * w, fmt);
  }
  return st;
}

/* Fold of a global row, held by the owner of its input block. */
static int fold_owner(const cvd *s, int64_t g, const void *u) {
  (void)u;
  return (int)bfcr_first_range_from(s->offs, s->P, g + 1) - 1; /* last r, offs[r] <= g */
}
static void fold_answer(const cvd *s, int64_t g, const void *u, double *out) {
  out[0] = (double)((const int *)u)[g - s->off];
}

/* Level-1 node of a global row (level 0 kept as own rows), held by its input block's owner. */
static void parent_answer(const cvd *s, int64_t g, const void *u, double *out) {
  (void)u;
  out[0] = (double)s->t->lv[0].parent[g - s->off];
}

/* route1[i] = the level-1 node of the routing row nn[i]. A row routed by its best friend
 * is answered in place: a row and its best friend are joined in the best-friend graph,
 * whose components are the level-1 nodes (about (K - 1) / K of the rows). The others ask
 * the row's owner (with several ranks the tree keeps level 0 as own rows: lv0_local), 4
 * bytes a key and an answer while they fit. Collective; status agreed. */
static bfcr_status route_parents(cvd *s, const int64_t *nn, int64_t *route1) {
  enum { CHUNK = 1 << 18 }; /* keys per fetch round: bounded buffers */
  const int64_t nl = s->nl > 0 ? s->nl : 1, *bf = s->t->lv[0].bf, *up = s->t->lv[0].parent;
  /* calloc: GCC's -Wmaybe-uninitialized (RelWithDebInfo) cannot see that fetch_rounds
   * reads only the nk keys written below */
  int64_t *keys = calloc((size_t)nl, sizeof(int64_t)), *at = malloc((size_t)nl * sizeof(int64_t));
  int64_t nk = 0;
  double *v = malloc((size_t)nl * sizeof(double));
  bfcr_status st = bfcr_agree(s->ctx, v && keys && at ? BFCR_OK : BFCR_ERR_NOMEM);
  for (int64_t i = 0; st == BFCR_OK && i < s->nl; i++) {
    if (bf && nn[i] == bf[i]) {
      route1[i] = up[i];
    } else {
      keys[nk] = nn[i];
      at[nk++] = i;
    }
  }
  const int fmt =
      (s->n <= INT32_MAX ? FETCH_K32 : 0) | (s->t->lv[1].m <= INT32_MAX ? FETCH_I32 : 0);
  if (st == BFCR_OK)
    st = fetch_rounds(s, keys, nk, 1, fold_owner, parent_answer, NULL, v, CHUNK, fmt);
  for (int64_t j = 0; st == BFCR_OK && j < nk; j++) route1[at[j]] = (int64_t)v[j];
  free(v);
  free(keys);
  free(at);
  return st;
}

/* Fold models (node, fold) of level l, key node * K + fold; held by the rank holding the
 * node's last dendrogram position. */
typedef struct lvl_user {
  int l;
  const int64_t *cb; /* [P + 1] first node each rank owns at level l (path keys), or NULL */
} lvl_user;
static int model_owner(const cvd *s, int64_t key, const void *u) {
  const int l = ((const lvl_user *)u)->l;
  const int64_t c = key / s->K;
  return bfcr_block_owner(s->n, s->P, s->t->lv[l].start[c + 1] - 1);
}
static void model_answer(const cvd *s, int64_t key, const void *u, double *out) {
  const int l = ((const lvl_user *)u)->l;
  const int64_t c = key / s->K, k = key % s->K;
  memcpy(out, s->fm[l] + ((c - s->own0[l]) * s->K + k) * CVW(s->d),
         (size_t)CVW(s->d) * sizeof(double));
}

/* ---- folds ---- */

/* fold[i] of the own rows: bfcr_cv_folds's global sort done as a bucket sort by key
 * range (keys are uniform hashes, so buckets hold about n / P keys). */
static bfcr_status dist_folds(cvd *s, uint64_t seed, int *fold) {
  bfcr_ctx *ctx = s->ctx;
  bfcr_status st = BFCR_OK;
  const int P = s->P;
  const uint64_t key0 = bfcr_cv_smix(seed), bw = UINT64_MAX / (uint64_t)P + 1;
  int64_t *sb = NULL, *rb = NULL, *spos = NULL, nr = 0;
  int *cnt = calloc((size_t)P * 5, sizeof(int)), *rep = NULL, *back = NULL;
  sb = malloc((size_t)(s->nl > 0 ? s->nl : 1) * sizeof(int64_t));
  spos = malloc((size_t)(s->nl > 0 ? s->nl : 1) * sizeof(int64_t));
  if (!cnt || !sb || !spos) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  int *sc = cnt, *rc = cnt + P, *sd = cnt + 2 * P, *rd = cnt + 3 * P, *sc2 = cnt + 4 * P;
  for (int64_t i = 0; i < s->nl; i++) sc[(bfcr_cv_smix(key0 + (uint64_t)(s->off + i))) / bw]++;
  for (int r = 0; r < P; r++) sd[r] = r ? sd[r - 1] + sc[r - 1] : 0;
  for (int r = 0; r < P; r++) sc2[r] = sd[r];
  for (int64_t i = 0; i < s->nl; i++) {
    uint64_t key = bfcr_cv_smix(key0 + (uint64_t)(s->off + i));
    int64_t q = sc2[key / bw]++;
    sb[q] = (int64_t)key; /* the key alone: its row index is implied by the arrival order */
    spos[i] = q;
  }
  int ok = MPI_Alltoall(sc, 1, MPI_INT, rc, 1, MPI_INT, ctx->comm) == MPI_SUCCESS;
  for (int r = 0; r < P; r++) rd[r] = r ? rd[r - 1] + rc[r - 1] : 0;
  nr = rd[P - 1] + rc[P - 1];
  rb = malloc((size_t)(nr > 0 ? nr : 1) * 4 * sizeof(int64_t));
  rep = malloc((size_t)(nr > 0 ? nr : 1) * sizeof(int));
  back = malloc((size_t)(s->nl > 0 ? s->nl : 1) * sizeof(int));
  if (!rb || !rep || !back) st = BFCR_ERR_NOMEM;
  if (!ok) st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: MPI_Alltoall failed");
  if ((double)nr > INT_MAX || (double)s->nl > INT_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation: too many rows per rank");
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  /* keys arrive in increasing row index g (rank blocks in rank order, each in row order),
   * so a stable sort by key gives bfcr_cv_folds's (key, index) order: g need not travel */
  ok = MPI_Alltoallv(sb, sc, sd, MPI_INT64_T, rb, rc, rd, MPI_INT64_T, ctx->comm) == MPI_SUCCESS;
  uint64_t *rk = (uint64_t *)rb; /* keys, then scratch; their arrival slots, then scratch */
  int64_t *rv = rb + 2 * nr;
  for (int64_t i = 0; i < nr; i++) rv[i] = i;
  bfcr_radix_sort_pairs(rk, rv, nr, 64, rk + nr, rv + nr);
  int64_t base = 0, mine = nr;
  ok = ok && MPI_Exscan(&mine, &base, 1, MPI_INT64_T, MPI_SUM, ctx->comm) == MPI_SUCCESS;
  if (s->me == 0) base = 0;
  for (int64_t r = 0; r < nr; r++) rep[rv[r]] = (int)((base + r) % s->K);
  ok = ok && MPI_Alltoallv(rep, rc, rd, MPI_INT, back, sc, sd, MPI_INT, ctx->comm) == MPI_SUCCESS;
  st =
      bfcr_agree(ctx, ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: folds failed"));
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < s->nl; i++) fold[i] = back[spos[i]];
cleanup:
  free(cnt);
  free(sb);
  free(spos);
  free(rb);
  free(rep);
  free(back);
  return st;
}

/* ---- routing rows ---- */

/* nn[i] (global) for the own rows: the nearest row outside the row's fold. */
static bfcr_status dist_route(cvd *s, const bfcr_zsrc *zs, const int *fold, int64_t *nn) {
  bfcr_ctx *ctx = s->ctx;
  bfcr_status st = BFCR_OK;
  const int P = s->P, d = s->d, me = s->me;
  const int64_t QW = d + 3;           /* query row, fold, best dist2, best index */
  const int64_t *bf = s->t->lv[0].bf; /* the own rows' best friends (lv0_local) */
  int64_t *need = NULL, nq = 0, *qcnt = NULL, *bnn = NULL;
  double *fb = NULL, *cur = NULL, *nxt = NULL, *Q = NULL, *b2 = NULL, *bd2 = NULL;
  int *qg = NULL;
  bfcr_kdtree *kt = NULL;
  need = malloc((size_t)(s->nl > 0 ? s->nl : 1) * sizeof(int64_t));
  qcnt = malloc((size_t)P * sizeof(int64_t));
  if (!need || !qcnt) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (bf) { /* the tree's level-0 best friends: the nearest row; its fold from its owner */
    fb = malloc((size_t)(s->nl > 0 ? s->nl : 1) * sizeof(double));
    st = bfcr_agree(ctx, fb ? BFCR_OK : BFCR_ERR_NOMEM);
    if (st != BFCR_OK) goto cleanup;
    BFCR_CALL(fetch_rounds(s, bf, s->nl, 1, fold_owner, fold_answer, fold, fb, 1 << 22,
                           (s->n <= INT32_MAX ? FETCH_K32 : 0) | FETCH_I32));
    for (int64_t i = 0; i < s->nl; i++) {
      nn[i] = bf[i];
      if ((int)fb[i] == fold[i]) need[nq++] = i;
    }
    free(fb);
    fb = NULL;
  } else { /* no best friends kept: search every row (the same answer) */
    for (int64_t i = 0; i < s->nl; i++) need[nq++] = i;
  }
  if (bfcr_knn_cv_route_slabs(
          P, s->K, d,
          s->t->slab0 && *s->t->slab0)) { /* slabs: the search divided by P (the rule) */
    unsigned char *flag = calloc((size_t)(s->nl > 0 ? s->nl : 1), 1);
    st = bfcr_agree(ctx, flag ? BFCR_OK : BFCR_ERR_NOMEM);
    if (st == BFCR_OK) {
      for (int64_t q = 0; q < nq; q++) flag[need[q]] = 1;
      st = bfcr_knn_cv_route(ctx, zs, s->nl, fold, flag, s->t->slab0 ? *s->t->slab0 : NULL, nn);
    }
    free(flag);
    goto cleanup;
  }
  if (MPI_Allgather(&nq, 1, MPI_INT64_T, qcnt, 1, MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: MPI_Allgather failed");
  int64_t qmax = 0;
  for (int r = 0; r < P; r++) qmax = qcnt[r] > qmax ? qcnt[r] : qmax;
  if ((double)qmax * (double)QW > INT_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation: too many routing queries per rank");
  cur = malloc((size_t)(qmax > 0 ? qmax : 1) * QW * sizeof(double));
  nxt = malloc((size_t)(qmax > 0 ? qmax : 1) * QW * sizeof(double));
  Q = malloc((size_t)(qmax > 0 ? qmax : 1) * d * sizeof(double));
  b2 = malloc((size_t)(qmax > 0 ? qmax : 1) * sizeof(double));
  bd2 = malloc((size_t)(qmax > 0 ? qmax : 1) * sizeof(double));
  bnn = malloc((size_t)(qmax > 0 ? qmax : 1) * sizeof(int64_t));
  qg = malloc((size_t)(qmax > 0 ? qmax : 1) * sizeof(int));
  if (!cur || !nxt || !Q || !b2 || !bd2 || !bnn || !qg) st = BFCR_ERR_NOMEM;
  if (st == BFCR_OK && s->nl > 0) { /* the tree takes the standardized block over: one copy */
    double *Zl = malloc((size_t)s->nl * d * sizeof(double));
    if (!Zl) {
      st = BFCR_ERR_NOMEM;
    } else {
      for (int64_t i = 0; i < s->nl; i++) bfcr_zsrc_row(zs, i, Zl + i * d);
      st = bfcr_kdtree_build_take(Zl, s->nl, d, ctx->nthreads, &kt);
    }
  }
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (kt && nq > 0) { /* queries in tree order: neighbours walk the same nodes (as cv.c) */
    const int64_t *ti = bfcr_kdtree_index(kt);
    unsigned char *mark = calloc((size_t)s->nl, 1);
    if (mark) {
      for (int64_t q = 0; q < nq; q++) mark[need[q]] = 1;
      nq = 0;
      for (int64_t k = 0; k < s->nl; k++)
        if (mark[ti[k]]) need[nq++] = ti[k];
      free(mark);
    } /* else: input order, the same answers */
  }
  for (int64_t q = 0; q < nq; q++) {
    double *r = cur + q * QW;
    bfcr_zsrc_row(zs, need[q], r);
    r[d] = fold[need[q]];
    r[d + 1] = INFINITY;
    r[d + 2] = -1.0;
  }
  const int to = (me + 1) % P, from = (me + P - 1) % P;
  for (int step = 0; step < P; step++) {
    const int64_t m = qcnt[(me + P - step) % P]; /* the batch of rank me - step */
    if (kt && m > 0) {
      for (int64_t q = 0; q < m; q++) {
        memcpy(Q + q * d, cur + q * QW, (size_t)d * sizeof(double));
        qg[q] = (int)cur[q * QW + d];
        b2[q] = cur[q * QW + d + 1];
      }
      st = bfcr_kdtree_query_grp(kt, Q, qg, m, fold, b2, ctx->nthreads, bnn, bd2);
      for (int64_t q = 0; st == BFCR_OK && q < m; q++) {
        if (bnn[q] < 0) continue;
        double *r = cur + q * QW;
        const int64_t g = s->off + bnn[q];
        if (r[d + 2] < 0 || bfcr_nn_better(bd2[q], g, r[d + 1], (int64_t)r[d + 2])) {
          r[d + 1] = bd2[q];
          r[d + 2] = (double)g;
        }
      }
    }
    st = bfcr_agree(ctx, st);
    if (st != BFCR_OK) goto cleanup;
    /* pass the batch on; after P passes every batch is home */
    const int64_t mn = qcnt[(me + P - step - 1) % P];
    if (MPI_Sendrecv(cur, (int)(m * QW), MPI_DOUBLE, to, 73, nxt, (int)(mn * QW), MPI_DOUBLE, from,
                     73, ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: routing ring failed");
    st = bfcr_agree(ctx, st);
    if (st != BFCR_OK) goto cleanup;
    double *tmp = cur;
    cur = nxt;
    nxt = tmp;
  }
  for (int64_t q = 0; q < nq; q++) nn[need[q]] = (int64_t)cur[q * QW + d + 2];
cleanup:
  if (s->t->slab0) { /* level 0's slab plan and tree order: read by the slab search only */
    bfcr_slab_keep_free(*s->t->slab0);
    *s->t->slab0 = NULL;
  }
  bfcr_kdtree_free(kt);
  free(need);
  free(qcnt);
  free(bnn);
  free(fb);
  free(cur);
  free(nxt);
  free(Q);
  free(b2);
  free(bd2);
  free(qg);
  return st;
}

/* ---- fold models ---- */

typedef struct pack_user {
  const bfcr_zsrc *zs;
  const double *y;
  const int *fold;
  int d;
} pack_user;
static void pack_row(void *u, int64_t i, double *dst) {
  const pack_user *p = u;
  bfcr_zsrc_row(p->zs, i, dst);
  dst[p->d] = p->y[i];
  dst[p->d + 1] = (double)p->fold[i];
}
/* Only the target and the fold: the z part is the model fit's (t->zyd). */
static void pack_yf(void *u, int64_t i, double *dst) {
  const pack_user *p = u;
  dst[0] = p->y[i];
  dst[1] = (double)p->fold[i];
}

/* Node holding position pos at level l. */
static int64_t node_at(const bfcr_tree *t, int l, int64_t pos) {
  return bfcr_first_range_from(t->lv[l].start, t->lv[l].m, pos + 1) - 1;
}

/* The owned nodes inside the block [plo, phi), solved at once (OpenMP over nodes).
 * Local; returns nonzero when out of memory. */
static int solve_inner(const cvd *s, const bfcr_level_fit *lf, const bfcr_fit_params *p,
                       const double *Zd, const double *Yd, const int *fd, unsigned char **usep) {
  const bfcr_tree *t = s->t;
  const int d = s->d, K = s->K, T = s->T;
  const int64_t W = bfcr_cv_accw(d), AW = (K + 1) * W, plo = s->plo;
  int failed = 0;
  for (int l = 1; l <= T && s->phi > plo; l++) {
    const int64_t *st0 = t->lv[l].start;
    const int64_t a = st0[s->own0[l]] == plo ? s->own0[l] : s->own0[l] + 1;
    const int64_t b = s->own0[l] + s->nown[l];
#pragma omp parallel num_threads(s->ctx->nthreads) reduction(| : failed)
    {
      double *acc = malloc((size_t)(AW + (int64_t)d * d + d) * sizeof(double));
      if (!acc) failed = 1;
#pragma omp for schedule(dynamic, 16)
      for (int64_t c = a; c < b; c++) {
        if (!acc) continue;
        int64_t o = c - s->own0[l];
        bfcr_cv_acc_init(acc, K, d);
        bfcr_cv_acc_rows(t, l, c, st0[c], st0[c + 1], NULL, plo, Zd, Yd, fd, acc);
        bfcr_cv_node_solve(t, l, c, K, p->min_cluster_size, lf[l].cm[c - lf[l].cm_lo].lambda, NULL,
                           l < T, acc, s->fm[l] + o * K * CVW(d), usep[l] + o * K, acc + AW,
                           acc + AW + (int64_t)d * d);
      }
      free(acc);
    }
  }
  return failed;
}

static bfcr_status dist_fold_models(cvd *s, const bfcr_level_fit *lf, const bfcr_fit_params *p,
                                    const bfcr_zsrc *zs, const double *y, const int *fold) {
  bfcr_ctx *ctx = s->ctx;
  bfcr_status st = BFCR_OK;
  const bfcr_tree *t = s->t;
  const int d = s->d, K = s->K, T = s->T, me = s->me, P = s->P;
  const int64_t W = bfcr_cv_accw(d), AW = (K + 1) * W, plo = s->plo, phi = s->phi;
  const int64_t cnt = phi - plo;
  double *D = NULL, *Zd = NULL, *Yd = NULL, *chain = NULL, *scr = NULL;
  double *zy = t->zyd ? *t->zyd : NULL;
  int *fd = NULL;
  unsigned char **usep = NULL;
  pack_user pu = {zs, y, fold, d};
  /* The model fit left its rows in this order (z, standardized y; the CV needs the raw
   * target): take them over, and move only the target and fold, 2 doubles a row. */
  const int64_t w = t->zyd ? 2 : d + 2; /* t->zyd is set on every rank or on none */
  if (t->zyd) *t->zyd = NULL;
  BFCR_CALL(bfcr_tree_rows_to_dendro(ctx, t, w, t->zyd ? pack_yf : pack_row, &pu, &D));
  Yd = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(double));
  fd = malloc((size_t)(cnt > 0 ? cnt : 1) * sizeof(int));
  /* chain buffer: per level a flag and the accumulators of the node crossing the edge */
  chain = malloc((size_t)(T + 1) * (size_t)(AW + 1) * sizeof(double));
  scr = malloc((size_t)(AW + (int64_t)d * d + d) * sizeof(double));
  usep = calloc((size_t)T + 1, sizeof(*usep));
  int bad = (cnt > 0 && (!D || (t->zyd && !zy))) || !Yd || !fd || !chain || !scr || !usep;
  for (int l = 1; l <= T && !bad; l++) {
    const int64_t *st0 = t->lv[l].start;
    int64_t c0 = cnt > 0 ? node_at(t, l, plo) : 0, c1 = cnt > 0 ? node_at(t, l, phi - 1) : -1;
    s->own0[l] = c0;
    s->nown[l] = cnt > 0 ? (st0[c1 + 1] <= phi ? c1 + 1 : c1) - c0 : 0;
    s->fm[l] = malloc((size_t)(s->nown[l] > 0 ? s->nown[l] : 1) * K * CVW(d) * sizeof(double));
    usep[l] = calloc((size_t)(s->nown[l] > 0 ? s->nown[l] : 1) * K, 1);
    bad = !s->fm[l] || !usep[l];
  }
  st = bfcr_agree(
      ctx, bad ? bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation") : BFCR_OK);
  if (st != BFCR_OK) goto cleanup;
  /* unpacked in place (rows move down: row q's z ends before row q's packed start) */
  if (zy) {
    for (int64_t q = 0; q < cnt; q++) {
      Yd[q] = D[2 * q];
      fd[q] = (int)D[2 * q + 1];
      memmove(zy + q * d, zy + q * (d + 1), (size_t)d * sizeof(double));
    }
    Zd = zy;
    zy = NULL;
  } else {
    for (int64_t q = 0; q < cnt; q++) {
      Yd[q] = D[q * (d + 2) + d];
      fd[q] = (int)D[q * (d + 2) + d + 1];
      memmove(D + q * d, D + q * (d + 2), (size_t)d * sizeof(double));
    }
    Zd = D;
    D = NULL;
  }
  free(D);
  D = NULL;
  /* 1. the chain: nodes crossing a block edge, accumulated in position order. It is a
   * sequence over the ranks, so every rank but the last passes its part on before it
   * solves its inner nodes, and the last solves its inner nodes while it waits (else
   * each rank's inner work would add to the chain's latency). */
  int failed = 0;
  double *out = chain; /* slot l: flag, then AW accumulators */
  double *in = malloc((size_t)(T + 1) * (size_t)(AW + 1) * sizeof(double));
  st = bfcr_agree(ctx, in ? BFCR_OK : BFCR_ERR_NOMEM);
  if (st != BFCR_OK) goto cleanup;
  for (int l = 0; l <= T; l++) out[l * (AW + 1)] = in[l * (AW + 1)] = 0.0;
  for (int l = 1; l <= T && cnt > 0; l++) { /* nodes starting here, ending past the block */
    const int64_t *st0 = t->lv[l].start;
    const int64_t c1 = node_at(t, l, phi - 1);
    if (st0[c1 + 1] > phi && st0[c1] >= plo) {
      double *a = out + l * (AW + 1);
      a[0] = 1.0;
      bfcr_cv_acc_init(a + 1, K, d);
      bfcr_cv_acc_rows(t, l, c1, st0[c1], phi, NULL, plo, Zd, Yd, fd, a + 1);
    }
  }
  int ok = 1;
  const int is_last = me + 1 == P;
  MPI_Request rq = MPI_REQUEST_NULL, sq = MPI_REQUEST_NULL;
  if (me > 0)
    ok = MPI_Irecv(in, (int)((T + 1) * (AW + 1)), MPI_DOUBLE, me - 1, 82, ctx->comm, &rq) ==
         MPI_SUCCESS;
  if (is_last) failed = solve_inner(s, lf, p, Zd, Yd, fd, usep);
  ok = ok && MPI_Wait(&rq, MPI_STATUS_IGNORE) == MPI_SUCCESS;
  for (int l = 1; l <= T && ok; l++) {
    double *a = in + l * (AW + 1);
    if (a[0] == 0.0) continue;
    if (cnt == 0) { /* empty block: pass it on */
      memcpy(out + l * (AW + 1), a, (size_t)(AW + 1) * sizeof(double));
      continue;
    }
    const int64_t *st0 = t->lv[l].start;
    const int64_t c = node_at(t, l, plo), e = st0[c + 1];
    bfcr_cv_acc_rows(t, l, c, plo, e < phi ? e : phi, NULL, plo, Zd, Yd, fd, a + 1);
    if (e > phi) {
      memcpy(out + l * (AW + 1), a, (size_t)(AW + 1) * sizeof(double));
    } else {
      bfcr_cv_node_solve(t, l, c, K, p->min_cluster_size, lf[l].cm[c - lf[l].cm_lo].lambda, NULL,
                         l < T, a + 1, s->fm[l], usep[l], scr, scr + (int64_t)d * d);
    }
  }
  if (!is_last) /* 2. the inner nodes while the message travels */
    ok = ok && MPI_Isend(out, (int)((T + 1) * (AW + 1)), MPI_DOUBLE, me + 1, 82, ctx->comm, &sq) ==
                   MPI_SUCCESS;
  if (!is_last) failed = solve_inner(s, lf, p, Zd, Yd, fd, usep);
  ok = ok && MPI_Wait(&sq, MPI_STATUS_IGNORE) == MPI_SUCCESS;
  free(in);
  st = bfcr_agree(ctx, !ok      ? bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: chain failed")
                       : failed ? bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")
                                : BFCR_OK);
  if (st != BFCR_OK) goto cleanup;
  free(Zd);
  free(Yd);
  free(fd);
  Zd = Yd = NULL;
  fd = NULL;
  /* 3. folds that take the parent's model, top-down (the top has no parent). Parents
   * never decrease with their children's index, so the distinct (parent, fold) keys come
   * from one pass (pk: the key slot of each fold of the current parent). */
  for (int l = T - 1; l >= 1; l--) {
    int64_t nk = 0, nu = 0, *keys = NULL, *slot = NULL, *uix = NULL, *pk = NULL, last = -1;
    double *val = NULL;
    for (int64_t q = 0; q < s->nown[l] * K; q++) nk += usep[l][q];
    keys = malloc((size_t)(nk > 0 ? nk : 1) * sizeof(int64_t));
    slot = malloc((size_t)(nk > 0 ? nk : 1) * sizeof(int64_t));
    uix = malloc((size_t)(nk > 0 ? nk : 1) * sizeof(int64_t));
    pk = malloc((size_t)K * sizeof(int64_t));
    val = malloc((size_t)(nk > 0 ? nk : 1) * CVW(d) * sizeof(double));
    st = bfcr_agree(ctx, keys && slot && uix && pk && val ? BFCR_OK : BFCR_ERR_NOMEM);
    if (st == BFCR_OK) {
      nk = 0;
      for (int64_t q = 0; q < s->nown[l] * K; q++)
        if (usep[l][q]) {
          const int64_t par = t->lv[l].parent[s->own0[l] + q / K];
          const int k = (int)(q % K);
          if (par != last) {
            for (int j = 0; j < K; j++) pk[j] = -1;
            last = par;
          }
          if (pk[k] < 0) {
            pk[k] = nu;
            keys[nu++] = par * K + k;
          }
          uix[nk] = pk[k];
          slot[nk++] = q;
        }
      lvl_user lu = {l + 1, NULL};
      st = fetch_rounds(s, keys, nu, CVW(d), model_owner, model_answer, &lu, val, 1 << 16,
                        (int64_t)K * t->lv[l + 1].m <= INT32_MAX ? FETCH_K32 : 0);
      for (int64_t i = 0; st == BFCR_OK && i < nk; i++)
        memcpy(s->fm[l] + slot[i] * CVW(d), val + uix[i] * CVW(d), (size_t)CVW(d) * sizeof(double));
    }
    free(keys);
    free(slot);
    free(uix);
    free(pk);
    free(val);
    if (st != BFCR_OK) goto cleanup;
  }
cleanup:
  free(D);
  free(zy);
  free(Zd);
  free(Yd);
  free(fd);
  free(chain);
  free(scr);
  for (int l = 0; usep && l <= T; l++) free(usep[l]);
  free(usep);
  return st;
}

/* ---- the fold models on the own rows' routing paths ---- */

/* Per level l: the distinct keys fold m_l + node of the own rows' routing paths, in
 * increasing order, their fold models (CVW(d) doubles each, fetched once from the
 * nodes' owners) and each own row's slot (the scoring's and the shrinkage's lookup: one
 * read, where a hash from key to slot cost three scattered reads a row and level).
 * Nodes are numbered in dendrogram order, so a parent's index never decreases with its
 * child's: rows sorted once by (fold, level-1 node) stay sorted by (fold, level-l node)
 * at every level, and each level's distinct keys come from one linear scan. */
typedef struct cv_paths {
  const bfcr_tree *t;
  int d;
  double **val; /* [T + 1][nk CVW(d)] */
  int64_t nl;   /* own rows */
  int32_t *ix;  /* [T nl]: slot of own row i at level l at ix[(l - 1) nl + i] */
} cv_paths;

/* bfcr_cv_fm_fn over the fetched path models: row i's slot at level l (its (c, k) is on
 * the row's path by construction). Read-only: called from several threads. */
static const double *path_lookup(const void *u, int l, int64_t i, int64_t c, int k) {
  const cv_paths *q = u;
  (void)c;
  (void)k;
  return q->val[l] + (int64_t)q->ix[(int64_t)(l - 1) * q->nl + i] * CVW(q->d);
}

/* The owner of node c is the last rank whose first owned node is <= c (the owned ranges
 * tile the level in rank order; an empty rank's start equals the next one's): a search
 * over P + 1 values instead of a read of start[] and two divisions per key. */
static int path_owner(const cvd *s, int64_t key, const void *u) {
  const lvl_user *lu = u;
  const int64_t c = key % s->t->lv[lu->l].m;
  return (int)bfcr_first_range_from(lu->cb, s->P, c + 1) - 1;
}
static void path_answer(const cvd *s, int64_t key, const void *u, double *out) {
  const int l = ((const lvl_user *)u)->l;
  const int64_t m = s->t->lv[l].m, k = key / m, c = key - k * m;
  memcpy(out, s->fm[l] + ((c - s->own0[l]) * s->K + k) * CVW(s->d),
         (size_t)CVW(s->d) * sizeof(double));
}

static void paths_free(cv_paths *pm, int T) {
  for (int l = 0; l <= T; l++) {
    if (pm->val) free(pm->val[l]);
  }
  free(pm->val);
  free(pm->ix);
  memset(pm, 0, sizeof *pm);
}

/* perm: the own rows sorted by (fold, level-1 node of the routing row); labp, foldp: that
 * node and the fold in perm order. One radix sort for all levels. Local; status. */
static bfcr_status paths_sort(const cvd *s, const int64_t *route1, const int *fold, int64_t *perm,
                              int64_t *labp, int *foldp) {
  const int64_t nl = s->nl, m1 = s->t->lv[1].m;
  uint64_t *k = malloc((size_t)(nl > 0 ? nl : 1) * 2 * sizeof(uint64_t));
  int64_t *tv = malloc((size_t)(nl > 0 ? nl : 1) * sizeof(int64_t));
  if (!k || !tv) {
    free(k);
    free(tv);
    return BFCR_ERR_NOMEM;
  }
  for (int64_t i = 0; i < nl; i++) {
    k[i] = (uint64_t)fold[i] * (uint64_t)m1 + (uint64_t)route1[i];
    perm[i] = i;
  }
  bfcr_radix_sort_pairs(k, perm, nl, bfcr_radix_bits((uint64_t)s->K * (uint64_t)m1), k + nl, tv);
  for (int64_t j = 0; j < nl; j++) {
    foldp[j] = fold[perm[j]];
    labp[j] = route1[perm[j]];
  }
  free(k);
  free(tv);
  return BFCR_OK;
}

/* Level l of the paths: labp moves up one level (l > 1), the distinct keys are taken in
 * perm order (non-decreasing), ix[perm[j]] = the slot of row perm[j] (input order, so the
 * scoring streams the rows instead of jumping through them), and the models are
 * fetched. Collective; status agreed. */
static bfcr_status paths_level(cvd *s, cv_paths *pm, int l, int64_t *labp, const int *foldp,
                               const int64_t *perm, int32_t *ix) {
  enum { CHUNK = 1 << 16 }; /* keys per fetch round: bounded buffers */
  const bfcr_tree *t = s->t;
  const int64_t nl = s->nl, m = t->lv[l].m;
  int64_t *key = malloc((size_t)(nl > 0 ? nl : 1) * sizeof(int64_t)), nk = 0;
  if (key) {
    const int64_t *up = t->lv[l - 1].parent;
    for (int64_t j = 0; j < nl; j++) {
      if (l > 1) labp[j] = up[labp[j]];
      const int64_t k = (int64_t)foldp[j] * m + labp[j];
      if (nk == 0 || key[nk - 1] != k) key[nk++] = k;
      ix[perm[j]] = (int32_t)(nk - 1);
    }
  }
  pm->val[l] = malloc((size_t)(nk > 0 ? nk : 1) * CVW(s->d) * sizeof(double));
  int64_t *cb = malloc((size_t)(s->P + 1) * sizeof(int64_t));
  bfcr_status st = bfcr_agree(
      s->ctx, key && pm->val[l] && cb && nk < INT32_MAX
                  ? BFCR_OK
                  : bfcr_err(s->ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation"));
  if (st == BFCR_OK) {
    int64_t b;
    for (int r = 0; r < s->P; r++) bfcr_tree_owned_nodes(t, l, s->P, r, &cb[r], &b);
    cb[s->P] = m;
    lvl_user lu = {l, cb};
    st = fetch_rounds(s, key, nk, CVW(s->d), path_owner, path_answer, &lu, pm->val[l], CHUNK,
                      (int64_t)s->K * m <= INT32_MAX ? FETCH_K32 : 0);
  }
  free(key);
  free(cb);
  return st;
}

bfcr_status bfcr_cv_select_dist(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                                const bfcr_zsrc *zs, const double *y, int64_t n_local, int K,
                                const bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  const int d = t->d, T = t->nlevels - 1;
  cvd s = {0};
  double *err = NULL, *tmp = NULL, *fmT = NULL;
  int *fold = NULL, *foldp = NULL;
  int64_t *nn = NULL, *perm = NULL, *labp = NULL, *own1 = NULL, *route1 = NULL;
  cv_paths pm = {0};
  s.ctx = ctx;
  s.t = t;
  s.d = d;
  s.K = K;
  s.T = T;
  s.P = ctx->size;
  s.me = ctx->rank;
  s.n = t->n;
  s.nl = n_local;
  s.plo = bfcr_block_lo(s.n, s.P, s.me);
  s.phi = bfcr_block_lo(s.n, s.P, s.me + 1);
  const int64_t nl = n_local > 0 ? n_local : 1;
  s.offs = malloc((size_t)(s.P + 1) * sizeof(int64_t));
  s.fm = calloc((size_t)T + 1, sizeof(double *));
  s.own0 = calloc((size_t)T + 1, sizeof(int64_t));
  s.nown = calloc((size_t)T + 1, sizeof(int64_t));
  fold = malloc((size_t)nl * sizeof(int));
  nn = malloc((size_t)nl * sizeof(int64_t));
  fmT = malloc((size_t)(K * CVW(d)) * sizeof(double));
  m->cv_rmse = malloc((size_t)(T + 1) * sizeof(double));
  m->cv_se = malloc((size_t)(T + 1) * sizeof(double));
  /* every allocation before the first exchange, agreed once: no rank leaves alone */
  st = bfcr_agree(ctx,
                  s.offs && s.fm && s.own0 && s.nown && fold && nn && fmT && m->cv_rmse && m->cv_se
                      ? BFCR_OK
                      : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation"));
  if (st != BFCR_OK) goto cleanup;
  if (MPI_Allgather(&s.nl, 1, MPI_INT64_T, s.offs + 1, 1, MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: MPI_Allgather failed");
  BFCR_CALL(bfcr_agree(ctx, st));
  s.offs[0] = 0;
  for (int r = 0; r < s.P; r++) s.offs[r + 1] += s.offs[r];
  s.off = s.offs[s.me];
  BFCR_CHECK(ctx, s.offs[s.P] == s.n, BFCR_ERR_ARG,
             /* the same on every rank */ "cross-validation: %lld rows, tree of %lld",
             (long long)s.offs[s.P], (long long)s.n);
  double t0 = bfcr_wtime();
  BFCR_CALL(dist_folds(&s, p->seed, fold));
  BFCR_CALL(dist_route(&s, zs, fold, nn));
  route1 = malloc((size_t)nl * sizeof(int64_t));
  BFCR_CALL(bfcr_agree(
      ctx, route1 ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")));
  BFCR_CALL(route_parents(&s, nn, route1)); /* all the scoring reads of the routing rows */
  free(nn);
  nn = NULL;
  bfcr_phase_add(ctx, "cv: routing", bfcr_wtime() - t0, 0.0);
  double t1 = bfcr_wtime();
  BFCR_CALL(dist_fold_models(&s, lf, p, zs, y, fold));
  /* the global model (top level, one node) on every rank: the guard's fallback */
  if (s.nown[T] > 0) memcpy(fmT, s.fm[T], (size_t)(K * CVW(d)) * sizeof(double));
  if (MPI_Bcast(fmT, (int)(K * CVW(d)), MPI_DOUBLE, bfcr_block_owner(s.n, s.P, s.n - 1),
                ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "cross-validation: MPI_Bcast failed");
  BFCR_CALL(bfcr_agree(ctx, st));
  bfcr_phase_add(ctx, "cv: fold models", bfcr_wtime() - t1, 0.0);
  t1 = bfcr_wtime();
  /* Scoring: squared out-of-fold error of every own row at every level. The rows are
   * sorted once by (fold, level-1 node of the routing row); each level's distinct
   * (node, fold) models are fetched once and kept, with every row's slot, for the
   * shrinkage. Then one pass over the rows in input order: each row is standardized
   * once (zs computes it from the raw row) and scored at every level. */
  perm = malloc((size_t)nl * sizeof(int64_t));
  labp = malloc((size_t)nl * sizeof(int64_t));
  foldp = malloc((size_t)nl * sizeof(int));
  pm.t = t;
  pm.d = d;
  pm.nl = n_local;
  pm.val = calloc((size_t)T + 1, sizeof(double *));
  pm.ix = malloc((size_t)T * nl * sizeof(int32_t));
  int ok = perm && labp && foldp && pm.val && pm.ix;
  if (ok) ok = paths_sort(&s, route1, fold, perm, labp, foldp) == BFCR_OK;
  BFCR_CALL(bfcr_agree(
      ctx, ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")));
  for (int l = 1; l <= T; l++)
    BFCR_CALL(paths_level(&s, &pm, l, labp, foldp, perm, pm.ix + (int64_t)(l - 1) * n_local));
  free(perm);
  free(labp);
  free(foldp);
  perm = labp = NULL;
  foldp = NULL;
  /* The owned fold models were read by the fetches only; the paths hold what the scoring
   * and the shrinkage read (the global one is in fmT). */
  for (int l = 0; l <= T; l++) {
    free(s.fm[l]);
    s.fm[l] = NULL;
  }
  /* squared errors of level l at err + (l - 1) nl */
  err = malloc((size_t)T * nl * sizeof(double));
  tmp = malloc((size_t)nl * sizeof(double));
  BFCR_CALL(bfcr_agree(
      ctx,
      err && tmp ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")));
  { /* blocks of SB rows: each row standardized once, each level a pass over the block */
    enum { SB = 256 };
    const int32_t *ix = pm.ix;
    double *const *val = pm.val;
    const int64_t nb = (n_local + SB - 1) / SB;
    int failed = 0;
#pragma omp parallel num_threads(ctx->nthreads) reduction(| : failed)
    {
      double *zb = malloc((size_t)SB * (size_t)(d > 0 ? d : 1) * sizeof(double));
      if (!zb) failed = 1;
#pragma omp for schedule(static)
      for (int64_t b = 0; b < nb; b++) {
        if (!zb) continue;
        const int64_t i0 = b * SB, i1 = i0 + SB < n_local ? i0 + SB : n_local;
        for (int64_t i = i0; i < i1; i++) bfcr_zsrc_row(zs, i, zb + (i - i0) * d);
        for (int l = 1; l <= T; l++) { /* the same expression per (row, level) as before */
          const int32_t *q = ix + (int64_t)(l - 1) * n_local;
          double *e = err + (l - 1) * nl;
          for (int64_t i = i0; i < i1; i++) {
            const double r =
                y[i] - bfcr_cv_fold_pred(val[l] + (int64_t)q[i] * CVW(d), fmT + fold[i] * CVW(d),
                                         zb + (i - i0) * d, d, p->guard_margin);
            e[i] = r * r;
          }
        }
      }
      free(zb);
    }
    BFCR_CALL(
        bfcr_agree(ctx, failed ? bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")
                               : BFCR_OK));
  }
  m->cv_rmse[0] = m->cv_se[0] = NAN;
  double *mse = m->cv_rmse, *se = m->cv_se, nd = (double)s.n;
  BFCR_CALL(bfcr_sum_rows_canonical(ctx, err, n_local, s.off, s.n, T, nl, mse + 1));
  for (int l = 1; l <= T; l++) {
    double sm = mse[l] / nd, s2 = 0.0;
    mse[l] = sm;
    const double *e = err + (l - 1) * nl;
    for (int64_t i = 0; i < n_local; i++) tmp[i] = (e[i] - sm) * (e[i] - sm);
    BFCR_CALL(bfcr_sum_rows_canonical(ctx, tmp, n_local, s.off, s.n, 1, nl, &s2));
    se[l] = s.n > 1 ? sqrt(s2 / (double)(s.n - 1) / nd) : 0.0;
  }
  /* one chain per sum (a hop of a few doubles): a T-vector chain would need T row arrays */
  const int best = bfcr_cv_best_level(mse, T);
  int pick = best;
  const double *eb = err + (best - 1) * nl;
  for (int l = T; l > best; l--) { /* one-SE rule: the highest level that passes */
    const double *e = err + (l - 1) * nl;
    double md = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n_local; i++) tmp[i] = e[i] - eb[i];
    BFCR_CALL(bfcr_sum_rows_canonical(ctx, tmp, n_local, s.off, s.n, 1, nl, &md));
    md /= nd;
    for (int64_t i = 0; i < n_local; i++) tmp[i] = (e[i] - eb[i] - md) * (e[i] - eb[i] - md);
    BFCR_CALL(bfcr_sum_rows_canonical(ctx, tmp, n_local, s.off, s.n, 1, nl, &s2));
    double sed = s.n > 1 ? sqrt(s2 / (double)(s.n - 1) / nd) : 0.0;
    if (md <= sed) {
      pick = l;
      break;
    }
  }
  free(err); /* the per-row errors are not needed any more */
  free(tmp);
  err = tmp = NULL;
  own1 = malloc((size_t)nl * sizeof(int64_t));
  BFCR_CALL(bfcr_agree(
      ctx, own1 ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation")));
  for (int64_t i = 0; i < n_local; i++) own1[i] = t->lv[0].parent[i];
  bfcr_cv_rows rows = {path_lookup, &pm, n_local, zs, y, fold, own1, route1, 1};
  BFCR_CALL(bfcr_cv_finish(ctx, t, K, best, pick, t1, &rows, p, m));
cleanup:
  st = bfcr_agree(ctx, st);
  for (int l = 0; s.fm && l <= T; l++) free(s.fm[l]);
  free(s.fm);
  free(s.own0);
  free(s.nown);
  free(s.offs);
  free(fold);
  free(nn);
  free(err);
  free(tmp);
  free(fmT);
  free(perm);
  free(labp);
  free(foldp);
  free(own1);
  free(route1);
  paths_free(&pm, T);
  return st;
}
