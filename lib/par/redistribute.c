/* Row exchanges between ranks (see redistribute.h).
 *
 * bfcr_redistribute_rows: every rank scans the replicated permutation pos2g once to
 * count and once to pack the rows it holds, grouped by destination rank and, inside a
 * group, in position order; the receiver knows from the same permutation which source
 * rank holds each of its positions, so it unpacks by walking its positions with one
 * cursor per source. No global indices travel with the rows. Cost: O(n) integer work
 * per rank, O(n_local * width) doubles sent.
 *
 * Counts passed to MPI are in rows (a contiguous datatype of width doubles), so a rank
 * may hold up to 2^31 - 1 rows of any width. */
#include "par/redistribute.h"
#include "par/reduce_ranges.h"

#include <stdlib.h>
#include <string.h>

/* Row datatype and per-rank count/displacement arrays shared by the exchanges. */
typedef struct xchg {
  MPI_Datatype row;
  int *sc, *sd, *rc, *rd;
} xchg;

static bfcr_status xchg_init(bfcr_ctx *ctx, xchg *x, size_t bytes) {
  int P = ctx->size;
  x->row = MPI_DATATYPE_NULL;
  x->sc = calloc((size_t)P, sizeof(int));
  x->sd = calloc((size_t)P, sizeof(int));
  x->rc = calloc((size_t)P, sizeof(int));
  x->rd = calloc((size_t)P, sizeof(int));
  if (!x->sc || !x->sd || !x->rc || !x->rd)
    return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for exchange counts");
  if (MPI_Type_contiguous((int)bytes, MPI_BYTE, &x->row) != MPI_SUCCESS ||
      MPI_Type_commit(&x->row) != MPI_SUCCESS)
    return bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Type_contiguous failed for a %zu-byte row", bytes);
  return BFCR_OK;
}

static void xchg_free(xchg *x) {
  if (x->row != MPI_DATATYPE_NULL) MPI_Type_free(&x->row);
  free(x->sc);
  free(x->sd);
  free(x->rc);
  free(x->rd);
}

/* Displacements from counts; fails when a rank's total does not fit an int. */
static int displs(const int *c, int *d, int P) {
  int64_t t = 0;
  for (int p = 0; p < P; p++) {
    d[p] = (int)t;
    t += c[p];
  }
  return t <= INT32_MAX;
}

/* Rank of the input block holding global row g: offs[0..P] are block starts, sorted;
 * empty blocks share the next start, so the last start <= g is a non-empty block. */
static int input_owner(const int64_t *offs, int P, int64_t g) {
  return (int)bfcr_first_range_from(offs, P, g + 1) - 1; /* last r, offs[r] <= g */
}

void bfcr_permute_rows(double *rows, int64_t *dest, int64_t m, int64_t width, double *spare) {
  size_t rb = (size_t)width * sizeof(double);
  for (int64_t i = 0; i < m; i++) {
    while (dest[i] != i) {
      int64_t j = dest[i];
      memcpy(spare, rows + j * width, rb);
      memcpy(rows + j * width, rows + i * width, rb);
      memcpy(rows + i * width, spare, rb);
      dest[i] = dest[j];
      dest[j] = j;
    }
  }
}

bfcr_status bfcr_redistribute_fn(bfcr_ctx *ctx, int64_t width, int64_t n_local, int64_t offset,
                                 int64_t n, const int64_t *pos2g, bfcr_pack_row_fn pack, void *user,
                                 double **out) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, me = ctx->rank;
  size_t rb = (size_t)width * sizeof(double);
  int64_t *offs = NULL, *cur = NULL, *dest = NULL;
  double *sbuf = NULL, *rbuf = NULL, *spare = NULL;
  xchg x = {MPI_DATATYPE_NULL, NULL, NULL, NULL, NULL};
  int64_t lo = bfcr_block_lo(n, P, me), hi = bfcr_block_lo(n, P, me + 1);
  *out = NULL;
  st = xchg_init(ctx, &x, rb);
  offs = bfcr_malloc(ctx, (size_t)P + 1, sizeof(int64_t));
  cur = bfcr_malloc(ctx, (size_t)P, sizeof(int64_t));
  spare = bfcr_malloc(ctx, 1, rb);
  if (st == BFCR_OK && (!offs || !cur || !spare)) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  /* Block starts from the counts (blocks tile [0, n) in rank order; an empty rank's
   * offset field is not relied on). */
  BFCR_CHECK(
      ctx,
      MPI_Allgather(&n_local, 1, MPI_INT64_T, offs + 1, 1, MPI_INT64_T, ctx->comm) == MPI_SUCCESS,
      BFCR_ERR_MPI, "MPI_Allgather of row counts failed");
  offs[0] = 0;
  for (int p = 0; p < P; p++) offs[p + 1] += offs[p];
  if (offs[P] != n || offs[me] != offset)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row blocks do not tile [0, %lld) in rank order",
                  (long long)n);
  BFCR_CALL(bfcr_agree(ctx, st));
  /* Send side: my rows by destination block, in position order. */
  int64_t ghi = offset + n_local;
  for (int64_t p = 0; p < n; p++) {
    int64_t g = pos2g[p];
    if (g >= offset && g < ghi) x.sc[bfcr_block_owner(n, P, p)]++;
  }
  /* Receive side: the source of each of my positions. */
  for (int64_t p = lo; p < hi; p++) x.rc[input_owner(offs, P, pos2g[p])]++;
  int ok = displs(x.sc, x.sd, P) && displs(x.rc, x.rd, P);
  /* Peak: one packed copy of the local rows plus the received rows; the send buffer is
   * freed before the received rows are put in order in place. */
  sbuf = bfcr_malloc(ctx, (size_t)n_local, rb);
  rbuf = bfcr_malloc(ctx, (size_t)(hi - lo), rb);
  if (!ok)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row exchange: more than 2^31 rows on one rank");
  else if ((n_local > 0 && !sbuf) || (hi > lo && !rbuf))
    st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  for (int p = 0; p < P; p++) cur[p] = x.sd[p];
  for (int64_t p = 0; p < n; p++) {
    int64_t g = pos2g[p];
    if (g >= offset && g < ghi)
      pack(user, g - offset, sbuf + cur[bfcr_block_owner(n, P, p)]++ * width);
  }
  st = MPI_Alltoallv(sbuf, x.sc, x.sd, x.row, rbuf, x.rc, x.rd, x.row, ctx->comm) == MPI_SUCCESS
           ? BFCR_OK
           : bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoallv of rows failed");
  free(sbuf);
  sbuf = NULL;
  if (st == BFCR_OK && hi > lo) {
    /* Received row i (grouped by source, position order inside a group) belongs at the
     * position whose source cursor reaches it. */
    dest = bfcr_malloc(ctx, (size_t)(hi - lo), sizeof(int64_t));
    if (!dest) st = BFCR_ERR_NOMEM;
  }
  if (st == BFCR_OK && hi > lo) {
    for (int p = 0; p < P; p++) cur[p] = x.rd[p];
    for (int64_t p = lo; p < hi; p++) dest[cur[input_owner(offs, P, pos2g[p])]++] = p - lo;
    bfcr_permute_rows(rbuf, dest, hi - lo, width, spare);
  }
  BFCR_CALL(bfcr_agree(ctx, st));
  *out = rbuf;
  rbuf = NULL;
cleanup:
  xchg_free(&x);
  free(offs);
  free(cur);
  free(dest);
  free(spare);
  free(sbuf);
  free(rbuf);
  return st;
}

/* Positions travel with the rows, so no rank needs the whole permutation: O(n_local) work
 * per rank instead of two O(n) scans. A position goes as its int32 offset in the
 * destination's block (a block holds at most 2^31 - 1 rows: checked), 4 B a row instead
 * of 8; it arrives in the first half of rpos and is widened in place from the end. */
bfcr_status bfcr_redistribute_dest(bfcr_ctx *ctx, int64_t width, int64_t n_local, int64_t n,
                                   const int64_t *dest, bfcr_pack_row_fn pack, void *user,
                                   double **out) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, me = ctx->rank;
  size_t rb = (size_t)width * sizeof(double);
  int *cur = NULL;
  int32_t *spos = NULL;
  int64_t *rpos = NULL;
  double *sbuf = NULL, *rbuf = NULL, *spare = NULL;
  unsigned char *seen = NULL;
  xchg x = {MPI_DATATYPE_NULL, NULL, NULL, NULL, NULL};
  int64_t lo = bfcr_block_lo(n, P, me), hi = bfcr_block_lo(n, P, me + 1), m = hi - lo;
  *out = NULL;
  st = xchg_init(ctx, &x, rb);
  cur = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  spare = bfcr_malloc(ctx, 1, rb);
  if (st == BFCR_OK && (!cur || !spare)) st = BFCR_ERR_NOMEM;
  for (int64_t i = 0; st == BFCR_OK && i < n_local; i++) {
    if (dest[i] < 0 || dest[i] >= n)
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row exchange: destination %lld outside [0, %lld)",
                    (long long)dest[i], (long long)n);
    else
      x.sc[bfcr_block_owner(n, P, dest[i])]++;
  }
  BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CHECK(ctx, MPI_Alltoall(x.sc, 1, MPI_INT, x.rc, 1, MPI_INT, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Alltoall of row counts failed");
  int ok = displs(x.sc, x.sd, P) && displs(x.rc, x.rd, P);
  int64_t got = 0;
  for (int p = 0; p < P; p++) got += x.rc[p];
  sbuf = bfcr_malloc(ctx, (size_t)n_local, rb);
  spos = bfcr_malloc(ctx, (size_t)n_local, sizeof(int32_t));
  rbuf = bfcr_malloc(ctx, (size_t)m, rb);
  rpos = bfcr_malloc(ctx, (size_t)m, sizeof(int64_t));
  if (!ok)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row exchange: more than 2^31 rows on one rank");
  else if (got != m)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row exchange: %lld rows for %lld positions",
                  (long long)got, (long long)m);
  else if ((n_local > 0 && (!sbuf || !spos)) || (m > 0 && (!rbuf || !rpos)))
    st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  for (int p = 0; p < P; p++) cur[p] = x.sd[p];
  for (int64_t i = 0; i < n_local; i++) {
    const int r = bfcr_block_owner(n, P, dest[i]);
    int k = cur[r]++;
    pack(user, i, sbuf + (int64_t)k * width);
    spos[k] = (int32_t)(dest[i] - bfcr_block_lo(n, P, r));
  }
  st = MPI_Alltoallv(sbuf, x.sc, x.sd, x.row, rbuf, x.rc, x.rd, x.row, ctx->comm) == MPI_SUCCESS &&
               MPI_Alltoallv(spos, x.sc, x.sd, MPI_INT32_T, rpos, x.rc, x.rd, MPI_INT32_T,
                             ctx->comm) == MPI_SUCCESS
           ? BFCR_OK
           : bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoallv of rows failed");
  free(sbuf);
  free(spos);
  sbuf = NULL;
  spos = NULL;
  /* Every position of [lo, hi) exactly once, or the in-place permutation would not end. */
  if (st == BFCR_OK && m > 0) {
    seen = calloc((size_t)m, 1);
    if (!seen) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the row exchange");
  }
  for (int64_t i = m; st == BFCR_OK && i-- > 0;) rpos[i] = ((const int32_t *)rpos)[i];
  for (int64_t i = 0; st == BFCR_OK && i < m; i++) {
    int64_t q = rpos[i];
    if (q < 0 || q >= m || seen[q])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row exchange: destinations are not a permutation");
    else
      seen[q] = 1, rpos[i] = q;
  }
  if (st == BFCR_OK && m > 0) bfcr_permute_rows(rbuf, rpos, m, width, spare);
  BFCR_CALL(bfcr_agree(ctx, st));
  *out = rbuf;
  rbuf = NULL;
cleanup:
  xchg_free(&x);
  free(cur);
  free(spos);
  free(rpos);
  free(sbuf);
  free(rbuf);
  free(spare);
  free(seen);
  return st;
}

typedef struct copy_rows {
  const double *rows;
  int64_t width;
} copy_rows;

static void copy_row(void *user, int64_t i, double *dst) {
  const copy_rows *c = user;
  memcpy(dst, c->rows + i * c->width, (size_t)c->width * sizeof(double));
}

bfcr_status bfcr_redistribute_rows(bfcr_ctx *ctx, const double *rows, int64_t width,
                                   int64_t n_local, int64_t offset, int64_t n, const int64_t *pos2g,
                                   double **out) {
  copy_rows c = {rows, width};
  return bfcr_redistribute_fn(ctx, width, n_local, offset, n, pos2g, copy_row, &c, out);
}

bfcr_status bfcr_fetch_rows(bfcr_ctx *ctx, const double *rows, int64_t width, int64_t held_lo,
                            int64_t held_hi, int64_t want_lo, int64_t want_hi, double **out) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size;
  size_t rb = (size_t)width * sizeof(double);
  int64_t mine[4] = {held_lo, held_hi, want_lo, want_hi}, *all = NULL;
  double *rbuf = NULL, *sbuf = NULL;
  xchg x = {MPI_DATATYPE_NULL, NULL, NULL, NULL, NULL};
  *out = NULL;
  if (want_hi < want_lo) want_hi = want_lo;
  st = xchg_init(ctx, &x, rb);
  all = bfcr_malloc(ctx, (size_t)P * 4, sizeof(int64_t));
  rbuf = bfcr_malloc(ctx, (size_t)(want_hi - want_lo), rb);
  if (st == BFCR_OK && (!all || (want_hi > want_lo && !rbuf))) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CHECK(ctx,
             MPI_Allgather(mine, 4, MPI_INT64_T, all, 4, MPI_INT64_T, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgather of row ranges failed");
  /* Send to q the part of my held block inside q's want; the send buffer is the rows
   * themselves, so overlapping sends share it (displacements into `rows`). */
  int64_t tot_s = 0;
  for (int q = 0; q < P; q++) {
    int64_t a = all[4 * q + 2] > held_lo ? all[4 * q + 2] : held_lo;
    int64_t b = all[4 * q + 3] < held_hi ? all[4 * q + 3] : held_hi;
    x.sc[q] = b > a ? (int)(b - a) : 0;
    tot_s += x.sc[q];
  }
  /* Send buffer: concatenated parts (displacements must fit an int). */
  sbuf = bfcr_malloc(ctx, (size_t)tot_s, rb);
  int ok = displs(x.sc, x.sd, P);
  for (int q = 0; q < P; q++) {
    int64_t a = all[4 * q] > want_lo ? all[4 * q] : want_lo;
    int64_t b = all[4 * q + 1] < want_hi ? all[4 * q + 1] : want_hi;
    x.rc[q] = b > a ? (int)(b - a) : 0;
    x.rd[q] = b > a ? (int)(a - want_lo) : 0;
  }
  if (!ok || want_hi - want_lo > INT32_MAX)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "row fetch: more than 2^31 rows on one rank");
  else if (tot_s > 0 && !sbuf)
    st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  for (int q = 0; q < P; q++)
    if (x.sc[q] > 0) {
      int64_t a = all[4 * q + 2] > held_lo ? all[4 * q + 2] : held_lo;
      memcpy(sbuf + (int64_t)x.sd[q] * width, rows + (a - held_lo) * width, (size_t)x.sc[q] * rb);
    }
  st = MPI_Alltoallv(sbuf, x.sc, x.sd, x.row, rbuf, x.rc, x.rd, x.row, ctx->comm) == MPI_SUCCESS
           ? BFCR_OK
           : bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Alltoallv of a row range failed");
  BFCR_CALL(bfcr_agree(ctx, st));
  *out = rbuf;
  rbuf = NULL;
cleanup:
  xchg_free(&x);
  free(all);
  free(sbuf);
  free(rbuf);
  return st;
}

bfcr_status bfcr_allgather_items(bfcr_ctx *ctx, const void *mine, int64_t count, size_t item_bytes,
                                 void *all) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, c = (int)count;
  xchg x = {MPI_DATATYPE_NULL, NULL, NULL, NULL, NULL};
  st = xchg_init(ctx, &x, item_bytes);
  if (st == BFCR_OK && count > INT32_MAX)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "allgather: more than 2^31 items on one rank");
  BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CHECK(ctx, MPI_Allgather(&c, 1, MPI_INT, x.rc, 1, MPI_INT, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgather of item counts failed");
  st = displs(x.rc, x.rd, P) ? BFCR_OK
                             : bfcr_err(ctx, BFCR_ERR_INTERNAL, "allgather: more than 2^31 items");
  BFCR_CALL(bfcr_agree(ctx, st));
  st = MPI_Allgatherv(mine, c, x.row, all, x.rc, x.rd, x.row, ctx->comm) == MPI_SUCCESS
           ? BFCR_OK
           : bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allgatherv of items failed");
  BFCR_CALL(bfcr_agree(ctx, st));
cleanup:
  xchg_free(&x);
  return st;
}
