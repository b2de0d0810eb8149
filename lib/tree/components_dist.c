/* Components of level 0's best-friend graph across ranks, with no n-word array.
 *
 * What: bfcr_components' answer (components numbered by their smallest member's global
 * index, ascending) for the rows of this rank's input block, each row's rank inside its
 * component (its place in the level-1 order), the mutual pairs, and the k-word tables
 * of level 1 (sizes, smallest members), from the best friends of this rank's rows alone.
 *
 * Why it works: the best-friend graph is a functional graph whose only cycles are mutual
 * pairs (exact nearest neighbours, one canonical distance, ties to the smaller index;
 * DESIGN.md section 1). Making the smaller member of each pair point to itself turns
 * every component into a tree rooted there, so pointer jumping finds each row's root.
 *
 * Steps (every message carries words: int32 when every value sent, all below 2 n, fits,
 * else int64; requests are grouped by key on the sender
 * with a stable radix sort, so each rank sends every distinct key once: a row that is
 * the best friend of many rows, e.g. the first of many duplicates, costs one request per
 * sender, not one per member):
 *   1. bf[bf[i]] from its owner finds the pairs; roots are the smaller members.
 *   2. pointer jumping: each unfinished row asks the owner of its pointer t for t's
 *      pointer and whether t already points at its root; O(log depth) rounds, only the
 *      active rows travel, one count reduction per round ends the loop.
 *   3. each rank sends (root, members here, smallest member here) to the root's owner.
 *      Arrivals come in source-rank order and the input blocks are in rank order, so a
 *      root's first arrival names its smallest member, and the members counted before an
 *      arrival give that sender's members their ranks in the component.
 *   4. the root's owner sends (smallest member, size) to the smallest member's owner; the
 *      rows that are their component's minimum live in input blocks in rank order, so an
 *      exclusive scan of their counts numbers the components canonically, contiguously
 *      per rank. Ids return to the roots, then to the members with their ranks (3's
 *      reply); one Allgatherv of the sizes as LEB128 varints (1 byte each below 128)
 *      replicates the k-word table: the minima cluster on the low ranks (a component's
 *      smallest member is likely in the first block), where 8 bytes a component sent P - 1
 *      times were 12.8 of rank 0's 28.6 MB at P = 8 (2M rows); smallest members (int64)
 *      only when asked.
 * Cost per rank: O(n_local) memory and words per round plus O(k) replicated; rounds are
 * about log2 of the longest best-friend chain (at most 70, else the graph is not a
 * best-friend graph: BFCR_ERR_INTERNAL). Every collective step opens with an agreement.
 */
#include "tree/components_dist.h"

#include <stdlib.h>
#include <string.h>

#include "knn/dist_util.h"
#include "par/radix.h"
#include "par/reduce_ranges.h"
#include "par/redistribute.h"

#define WHO "components"
#define MAX_ROUNDS 70 /* 2^70 > any n: more rounds means a cycle longer than two */
#define MPI_OK(st, rc, what) bfcr_dist_mpi_ok(ctx, st, rc, WHO, what)

/* Per-rank counts and displacements of one exchange (in items of a contiguous type). */
typedef struct xplan {
  int P;
  int narrow; /* words travel as int32 (every value below 2^31) */
  int *sc, *sd, *rc, *rd;
  int64_t ns, nr; /* items sent, received */
} xplan;

static void xplan_alloc(bfcr_ctx *ctx, bfcr_status *st, xplan *x, int P, int narrow) {
  x->P = P;
  x->narrow = narrow;
  x->sc = bfcr_dist_alloc(ctx, st, P, sizeof(int));
  x->sd = bfcr_dist_alloc(ctx, st, P, sizeof(int));
  x->rc = bfcr_dist_alloc(ctx, st, P, sizeof(int));
  x->rd = bfcr_dist_alloc(ctx, st, P, sizeof(int));
  x->nr = 0;
}

static void xplan_free(xplan *x) {
  free(x->sc);
  free(x->sd);
  free(x->rc);
  free(x->rd);
}

/* x->sc filled: the receive counts, both displacements and x->nr. Collective. */
static bfcr_status xplan_counts(bfcr_ctx *ctx, bfcr_status st, xplan *x) {
  st = MPI_OK(st, MPI_Alltoall(x->sc, 1, MPI_INT, x->rc, 1, MPI_INT, ctx->comm),
              "MPI_Alltoall (counts)");
  int64_t s = bfcr_dist_displs(x->sc, x->sd, x->P), r = bfcr_dist_displs(x->rc, x->rd, x->P);
  if (st == BFCR_OK && (s < 0 || r < 0))
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, WHO ": more than 2^31 - 1 items for one rank");
  x->nr = r < 0 ? 0 : r;
  x->ns = s < 0 ? 0 : s;
  return st;
}

/* Items of w words (type t: w int32 when x->narrow, else w int64) along the plan (back:
 * the replies, receive side to send side). Narrow: s is packed to int32 in place (it is
 * overwritten: every caller's send buffer is dead after the move) and r arrives as int32
 * in its first half, widened in place from the end (int32 j is read before int64 j / 2
 * <= j is written). */
static bfcr_status xmove(bfcr_ctx *ctx, bfcr_status st, const xplan *x, MPI_Datatype t, int w,
                         int64_t *s, int64_t *r, int back) {
  const int64_t ns = (back ? x->nr : x->ns) * w, nr = (back ? x->ns : x->nr) * w;
  if (x->narrow)
    for (int64_t i = 0; i < ns; i++) ((int32_t *)s)[i] = (int32_t)s[i];
  int rc = back ? MPI_Alltoallv(s, x->rc, x->rd, t, r, x->sc, x->sd, t, ctx->comm)
                : MPI_Alltoallv(s, x->sc, x->sd, t, r, x->rc, x->rd, t, ctx->comm);
  if (x->narrow)
    for (int64_t i = nr; i-- > 0;) r[i] = ((const int32_t *)r)[i];
  return MPI_OK(st, rc, "MPI_Alltoallv");
}

/* Input block holding global row g: the last rank whose block starts at or before g
 * (offs[0..P] block starts; an empty block shares its start with the next one). */
static int owner_of(const int64_t *offs, int P, int64_t g) {
  return (int)bfcr_first_range_from(offs, P, g + 1) - 1;
}

/* Sorts the m items (key kk[i], item vv[i]) by key, stably, and lists the distinct keys:
 * uk[j] (ascending, so grouped by owner in rank order), items vv[us[j] .. us[j + 1]).
 * Returns their count. */
static int64_t group(uint64_t *kk, int64_t *vv, int64_t m, int bits, uint64_t *tk, int64_t *tv,
                     int64_t *uk, int64_t *us) {
  bfcr_radix_sort_pairs(kk, vv, m, bits, tk, tv);
  int64_t u = 0;
  for (int64_t i = 0; i < m; i++) {
    if (i == 0 || kk[i] != kk[i - 1]) {
      uk[u] = (int64_t)kk[i];
      us[u++] = i;
    }
  }
  us[u] = m;
  return u;
}

/* Send counts of the sorted distinct keys uk[0 .. u) by owner. */
static void count_owners(xplan *x, const int64_t *offs, const int64_t *uk, int64_t u) {
  for (int p = 0; p < x->P; p++) x->sc[p] = 0;
  for (int64_t j = 0; j < u; j++) x->sc[owner_of(offs, x->P, uk[j])]++;
}

/* Asks the owner of each distinct global row uk[0 .. u) (ascending, so grouped by owner)
 * for answer(user, its local row); the owners answer once every request has arrived, from
 * the values as they are before the caller updates them. Replies into *rp (u words,
 * malloc'd; the caller frees it); uk is overwritten (xmove). Collective; the status is
 * agreed. */
static bfcr_status ask_owners(bfcr_ctx *ctx, xplan *x, const int64_t *offs, int64_t offset,
                              MPI_Datatype t1, int64_t *uk, int64_t u,
                              int64_t (*answer)(const void *user, int64_t row), const void *user,
                              int64_t **rp) {
  bfcr_status st = BFCR_OK;
  count_owners(x, offs, uk, u);
  st = xplan_counts(ctx, st, x);
  int64_t *rq = bfcr_dist_alloc(ctx, &st, x->nr, sizeof(int64_t));
  int64_t *an = bfcr_dist_alloc(ctx, &st, x->nr, sizeof(int64_t));
  *rp = bfcr_dist_alloc(ctx, &st, u, sizeof(int64_t));
  BFCR_DIST_AGREE();
  st = xmove(ctx, st, x, t1, 1, uk, rq, 0);
  for (int64_t q = 0; q < x->nr; q++) an[q] = answer(user, rq[q] - offset);
  st = xmove(ctx, st, x, t1, 1, an, *rp, 1);
  BFCR_DIST_AGREE();
cleanup:
  free(rq);
  free(an);
  return st;
}

/* Answers: a row's best friend (step 1); its pointer and whether it is final (step 2). */
static int64_t bf_answer(const void *user, int64_t row) {
  return ((const int64_t *)user)[row];
}
typedef struct jump_state {
  const int64_t *ptr;
  const unsigned char *done;
} jump_state;
static int64_t jump_answer(const void *user, int64_t row) {
  const jump_state *j = user;
  return 2 * j->ptr[row] + j->done[row];
}

bfcr_status bfcr_components_dist(bfcr_ctx *ctx, const int64_t *bf, int64_t n_local, int64_t offset,
                                 int64_t n, int64_t *comp, int64_t *rank_in, unsigned char *second,
                                 int64_t *k_out, int64_t **minidx_out, int64_t **nchild_out) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size, me = ctx->rank;
  const int64_t nl = n_local;
  const int bits = bfcr_radix_bits(n > 0 ? (uint64_t)(n - 1) : 0);
  /* Every word sent (rows, counts, ids, ranks, 2 ptr + done) is below 2 n. */
  const int narrow = n <= INT32_MAX / 2;
  const MPI_Datatype t1 = narrow ? MPI_INT32_T : MPI_INT64_T;
  MPI_Datatype t2 = MPI_DATATYPE_NULL, t3 = MPI_DATATYPE_NULL;
  xplan x = {0}, y = {0}; /* y: step 3's plan, answered in step 5 */
  int64_t *offs = NULL, *ptr = NULL, *vv = NULL, *tv = NULL, *uk = NULL, *us = NULL;
  int64_t *rq = NULL, *an = NULL, *rp = NULL, *base = NULL, *seen = NULL, *cmin = NULL;
  int64_t *msz = NULL, *slot = NULL, *pk = NULL, *kall = NULL;
  unsigned char *vb = NULL, *vall = NULL; /* component sizes, varints: mine, all */
  int64_t *minidx = NULL, *nchild = NULL;
  uint64_t *kk = NULL, *tk = NULL;
  unsigned char *done = NULL;
  int64_t u = 0;
  *k_out = 0;
  if (minidx_out) *minidx_out = NULL;
  *nchild_out = NULL;
  xplan_alloc(ctx, &st, &x, P, narrow);
  xplan_alloc(ctx, &st, &y, P, narrow);
  offs = bfcr_dist_alloc(ctx, &st, P + 1, sizeof(int64_t));
  kall = bfcr_dist_alloc(ctx, &st, P, sizeof(int64_t));
  ptr = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  done = bfcr_dist_alloc(ctx, &st, nl, 1);
  kk = bfcr_dist_alloc(ctx, &st, nl, sizeof(uint64_t));
  tk = bfcr_dist_alloc(ctx, &st, nl, sizeof(uint64_t));
  vv = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  tv = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  uk = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  us = bfcr_dist_alloc(ctx, &st, nl + 1, sizeof(int64_t));
  if (st == BFCR_OK) {
    st = MPI_OK(st, MPI_Type_contiguous(2, t1, &t2), "MPI_Type_contiguous");
    st = MPI_OK(st, MPI_Type_contiguous(3, t1, &t3), "MPI_Type_contiguous");
  }
  if (st == BFCR_OK) {
    st = MPI_OK(st, MPI_Type_commit(&t2), "MPI_Type_commit");
    st = MPI_OK(st, MPI_Type_commit(&t3), "MPI_Type_commit");
  }
  BFCR_DIST_AGREE();
  /* Layout from the counts; every best friend a row of [0, n). */
  offs[0] = 0;
  st = MPI_OK(st, MPI_Allgather(&n_local, 1, MPI_INT64_T, offs + 1, 1, MPI_INT64_T, ctx->comm),
              "MPI_Allgather (row counts)");
  for (int p = 0; st == BFCR_OK && p < P; p++) offs[p + 1] += offs[p];
  if (st == BFCR_OK && (offs[P] != n || offs[me] != offset))
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, WHO ": row blocks do not tile [0, %lld) in rank order",
                  (long long)n);
  for (int64_t i = 0; st == BFCR_OK && i < nl; i++) {
    if (bf[i] < 0 || bf[i] >= n)
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, WHO ": best friend %lld of row %lld outside [0, %lld)",
                    (long long)bf[i], (long long)(offset + i), (long long)n);
  }
  BFCR_DIST_AGREE();

  /* 1. Mutual pairs: bf of bf, one request per distinct best friend. */
  for (int64_t i = 0; i < nl; i++) {
    kk[i] = (uint64_t)bf[i];
    vv[i] = i;
  }
  u = group(kk, vv, nl, bits, tk, tv, uk, us);
  if ((st = ask_owners(ctx, &x, offs, offset, t1, uk, u, bf_answer, bf, &rp)) != BFCR_OK)
    goto cleanup;
  for (int64_t j = 0; j < u; j++) {
    for (int64_t s = us[j]; s < us[j + 1]; s++) {
      const int64_t i = vv[s], g = offset + i, f = bf[i];
      const int mutual = rp[j] == g; /* f's best friend is this row */
      second[i] = mutual && f < g;
      /* Roots point to themselves; the other pair member already knows its root. */
      ptr[i] = mutual && g <= f ? g : f;
      done[i] = mutual;
    }
  }
  free(rp);
  rp = NULL;

  /* 2. Pointer jumping over the owners until every row knows its root. */
  for (int round = 0;; round++) {
    int64_t m = 0, active = 0;
    for (int64_t i = 0; i < nl; i++) {
      if (done[i]) continue;
      kk[m] = (uint64_t)ptr[i];
      vv[m++] = i;
    }
    BFCR_DIST_AGREE();
    st = MPI_OK(st, MPI_Allreduce(&m, &active, 1, MPI_INT64_T, MPI_SUM, ctx->comm),
                "MPI_Allreduce (active rows)");
    BFCR_DIST_AGREE();
    if (active == 0) break;
    if (round == MAX_ROUNDS) { /* the same verdict on every rank */
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL,
                    WHO ": no root after %d rounds (a cycle longer than a mutual pair)", round);
      goto cleanup;
    }
    u = group(kk, vv, m, bits, tk, tv, uk, us);
    /* Answers from the pointers as they were before this round (updated below). */
    const jump_state js = {ptr, done};
    if ((st = ask_owners(ctx, &x, offs, offset, t1, uk, u, jump_answer, &js, &rp)) != BFCR_OK)
      goto cleanup;
    for (int64_t j = 0; j < u; j++) {
      for (int64_t s = us[j]; s < us[j + 1]; s++) {
        ptr[vv[s]] = rp[j] >> 1;
        done[vv[s]] = (unsigned char)(rp[j] & 1);
      }
    }
    free(rp);
    rp = NULL;
  }
  free(done);
  done = NULL;

  /* 3. Members to their roots' owners: (root, members here, smallest member here). */
  for (int64_t i = 0; i < nl; i++) {
    kk[i] = (uint64_t)ptr[i];
    vv[i] = i;
  }
  u = group(kk, vv, nl, bits, tk, tv, uk, us);
  free(kk), free(tk), free(tv);
  kk = tk = NULL;
  tv = NULL;
  count_owners(&y, offs, uk, u);
  st = xplan_counts(ctx, st, &y);
  an = bfcr_dist_alloc(ctx, &st, 3 * u, sizeof(int64_t)); /* requests out */
  rq = bfcr_dist_alloc(ctx, &st, 3 * y.nr, sizeof(int64_t));
  base = bfcr_dist_alloc(ctx, &st, y.nr, sizeof(int64_t));
  seen = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  cmin = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  BFCR_DIST_AGREE();
  for (int64_t j = 0; j < u; j++) {
    an[3 * j] = uk[j];
    an[3 * j + 1] = us[j + 1] - us[j];
    an[3 * j + 2] = offset + vv[us[j]]; /* stable sort: the smallest of this run */
  }
  st = xmove(ctx, st, &y, t3, 3, an, rq, 0);
  free(an);
  an = NULL;
  memset(seen, 0, (size_t)(nl > 0 ? nl : 1) * sizeof(int64_t));
  for (int64_t q = 0; st == BFCR_OK && q < y.nr; q++) {
    const int64_t r = rq[3 * q] - offset;
    if (seen[r] == 0) cmin[r] = rq[3 * q + 2];
    base[q] = seen[r];
    seen[r] += rq[3 * q + 1];
  }

  /* 4. Roots to their smallest members' owners; ids by a scan over the minima. */
  int64_t nroots = 0, kl = 0, kbase = 0, k = 0;
  for (int p = 0; p < P; p++) x.sc[p] = 0;
  for (int64_t r = 0; r < nl; r++) {
    if (seen[r] == 0) continue;
    nroots++;
    x.sc[owner_of(offs, P, cmin[r])]++;
  }
  st = xplan_counts(ctx, st, &x);
  slot = bfcr_dist_alloc(ctx, &st, nroots, sizeof(int64_t));
  pk = bfcr_dist_alloc(ctx, &st, 2 * nroots, sizeof(int64_t));
  an = bfcr_dist_alloc(ctx, &st, 2 * x.nr, sizeof(int64_t));
  rp = bfcr_dist_alloc(ctx, &st, x.nr, sizeof(int64_t));
  msz = bfcr_dist_alloc(ctx, &st, nl, sizeof(int64_t));
  BFCR_DIST_AGREE();
  for (int p = 0; p < P; p++) kall[p] = x.sd[p]; /* send cursors */
  for (int64_t r = 0, j = 0; r < nl; r++) {
    if (seen[r] == 0) continue;
    const int64_t sl = kall[owner_of(offs, P, cmin[r])]++;
    slot[j++] = sl;
    pk[2 * sl] = cmin[r];
    pk[2 * sl + 1] = seen[r];
  }
  st = xmove(ctx, st, &x, t2, 2, pk, an, 0);
  memset(msz, 0, (size_t)(nl > 0 ? nl : 1) * sizeof(int64_t));
  for (int64_t q = 0; st == BFCR_OK && q < x.nr; q++) msz[an[2 * q] - offset] = an[2 * q + 1];
  for (int64_t i = 0; i < nl; i++) kl += msz[i] > 0;
  st = MPI_OK(st, MPI_Allgather(&kl, 1, MPI_INT64_T, kall, 1, MPI_INT64_T, ctx->comm),
              "MPI_Allgather (component counts)");
  BFCR_DIST_AGREE();
  for (int p = 0; p < P; p++) {
    kbase += p < me ? kall[p] : 0;
    k += kall[p];
  }
  free(pk);
  /* The sizes as LEB128 varints (1 byte below 128: a replicated k-word table costs every
   * rank ~k bytes, not 8 k; the component minima cluster on the low ranks, which would
   * otherwise send most of it P - 1 times); the smallest members (int64) only when asked. */
  pk = bfcr_dist_alloc(ctx, &st, minidx_out ? kl : 0, sizeof(int64_t));
  vb = bfcr_dist_alloc(ctx, &st, 10 * kl, 1);
  if (minidx_out) minidx = bfcr_dist_alloc(ctx, &st, k, sizeof(int64_t));
  nchild = bfcr_dist_alloc(ctx, &st, k, sizeof(int64_t));
  BFCR_DIST_AGREE();
  int64_t nvb = 0, nvall = 0;
  for (int64_t i = 0, j = 0; i < nl; i++) {
    if (msz[i] == 0) continue;
    if (minidx_out) pk[j] = offset + i;
    for (uint64_t v = (uint64_t)msz[i];; v >>= 7) {
      vb[nvb++] = (unsigned char)((v & 127) | (v >= 128 ? 128 : 0));
      if (v < 128) break;
    }
    msz[i] = kbase + j++; /* now the component id */
  }
  st = MPI_OK(st, MPI_Allreduce(&nvb, &nvall, 1, MPI_INT64_T, MPI_SUM, ctx->comm),
              "MPI_Allreduce (size bytes)");
  BFCR_DIST_AGREE();
  vall = bfcr_dist_alloc(ctx, &st, nvall, 1);
  BFCR_DIST_AGREE();
  for (int64_t q = 0; q < x.nr; q++) rp[q] = msz[an[2 * q] - offset];
  free(an);
  an = bfcr_dist_alloc(ctx, &st, nroots, sizeof(int64_t));
  BFCR_DIST_AGREE();
  st = xmove(ctx, st, &x, t1, 1, rp, an, 1); /* an[slot]: the id of each root's component */
  for (int64_t r = 0, j = 0; r < nl; r++) {
    if (seen[r] > 0) cmin[r] = an[slot[j++]]; /* cmin now holds the root's component id */
  }
  BFCR_CALL(bfcr_allgather_items(ctx, vb, nvb, 1, vall));
  if (minidx) BFCR_CALL(bfcr_allgather_items(ctx, pk, kl, sizeof(int64_t), minidx));
  for (int64_t c = 0, b = 0; c < k; c++) { /* the ranks' streams in rank order: ids order */
    uint64_t v = 0;
    for (int sh = 0; b < nvall; sh += 7) {
      const unsigned char byte = vall[b++];
      v |= (uint64_t)(byte & 127) << sh;
      if (!(byte & 128)) break;
    }
    nchild[c] = (int64_t)v;
  }

  /* 5. Ids and ranks back to the members (the reply to step 3). */
  free(an), free(rp);
  an = bfcr_dist_alloc(ctx, &st, 2 * y.nr, sizeof(int64_t));
  rp = bfcr_dist_alloc(ctx, &st, 2 * u, sizeof(int64_t));
  BFCR_DIST_AGREE();
  for (int64_t q = 0; q < y.nr; q++) {
    an[2 * q] = cmin[rq[3 * q] - offset];
    an[2 * q + 1] = base[q];
  }
  st = xmove(ctx, st, &y, t2, 2, an, rp, 1);
  for (int64_t j = 0; j < u; j++) {
    for (int64_t s = us[j]; s < us[j + 1]; s++) {
      comp[vv[s]] = rp[2 * j];
      rank_in[vv[s]] = rp[2 * j + 1] + (s - us[j]);
    }
  }
  BFCR_DIST_AGREE();
  *k_out = k;
  if (minidx_out) *minidx_out = minidx;
  *nchild_out = nchild;
  minidx = nchild = NULL;
cleanup:
  if (t2 != MPI_DATATYPE_NULL) MPI_Type_free(&t2);
  if (t3 != MPI_DATATYPE_NULL) MPI_Type_free(&t3);
  xplan_free(&x);
  xplan_free(&y);
  free(offs), free(kall), free(ptr), free(done), free(kk), free(tk), free(vv), free(tv);
  free(uk), free(us), free(rq), free(an), free(rp), free(base), free(seen), free(cmin);
  free(msz), free(slot), free(pk), free(vb), free(vall), free(minidx), free(nchild);
  return st;
}
