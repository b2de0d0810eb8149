/* First pass of the parallel CSV read: where do this rank's records start?
 *
 * The data bytes [data_begin, size) are cut into P equal byte ranges [a_r, b_r). A
 * record belongs to the rank whose range holds its first byte; a record starts right
 * after a '\n' that lies outside quotes (or at data_begin). Whether a '\n' is outside
 * quotes depends on the number of '"' bytes before it (in a well-formed file, '""'
 * escapes add two, so the parity is exact), which a rank cannot know alone. So each
 * rank scans [a_r - 1, b_r - 1) once, counting for both possible starting parities
 * the '\n' bytes that start a non-blank record, then MPI_Exscan of the quote and
 * newline counts tells every rank its true parity and its first line number.
 * The same scheme runs one level down inside a rank: its range is cut into T equal
 * parts (T <= max_parts, each at least min_part_bytes), scanned by up to
 * ctx->nthreads OpenMP threads (dynamic schedule: a part per free thread), and a prefix
 * over the parts' counts in part order (after the Exscan) gives every part its parity,
 * first record, line and record count, so the parse later puts each part's records
 * into known row slots. The counts are integers summed in a fixed order, so the
 * outcome does not depend on T or on the thread count.
 * Cost: one streaming read of n/P bytes per rank, shared by its threads, through one
 * 4 MiB buffer per part being scanned, two MPI_Exscan. In a malformed file (stray quote) ranks and
 * parts after the fault may be misled, but the one that owns the faulty record reports it and,
 * being earlier in the file, wins the error agreement. */
#include <stdlib.h>
#include <string.h>

#include "io/csv_internal.h"

#define SCAN_CHUNK (4 << 20)

static int64_t split(int64_t begin, int64_t span, int r, int p) {
  return begin + (span / p) * r + ((span % p) * r) / p;
}

/* Counts of one part [a - 1, b - 1), for both possible parities at its start. *buf:
 * the calling thread's buffer, allocated at its first part (the caller frees it). */
typedef struct scan_cnt {
  long long q, nl;  /* '"' and '\n' bytes */
  int64_t cnt[2];   /* '\n' outside quotes followed by a non-blank record */
  int64_t first[2]; /* offset of the first '\n' outside quotes, -1 */
  int64_t nlb[2];   /* '\n' bytes up to and including first[] */
} scan_cnt;

static bfcr_status scan_part(bfcr_ctx *ctx, const csv_src *src, int64_t a, int64_t b, scan_cnt *c,
                             char **bufp) {
  bfcr_status st = BFCR_OK;
  const int64_t size = src->size;
  long long q = 0, nl = 0;
  int64_t cnt[2] = {0, 0}, first[2] = {-1, -1}, nlb[2] = {0, 0};
  if (b > a && !*bufp) {
    *bufp = bfcr_malloc(ctx, SCAN_CHUNK + 2, 1);
    if (!*bufp) st = BFCR_ERR_NOMEM;
  }
  char *buf = *bufp;
  for (int64_t pos = a - 1; st == BFCR_OK && pos < b - 1;) {
    int64_t cend = pos + SCAN_CHUNK < b - 1 ? pos + SCAN_CHUNK : b - 1;
    int64_t rend = cend + 2 < size ? cend + 2 : size;
    int64_t got = csv_pread(ctx, src, buf, (size_t)(rend - pos), pos);
    if (got < rend - pos) {
      if (got >= 0) bfcr_err(ctx, BFCR_ERR_IO, "%s: file shrank while reading", src->path);
      st = BFCR_ERR_IO;
      break;
    }
    int64_t n = cend - pos;
    /* A chunk without quotes (the common numeric case) only needs its newlines:
     * memchr skips the bytes between them much faster than a byte loop. */
    int has_quote = memchr(buf, '"', (size_t)n) != NULL;
    for (int64_t k = 0; k < n; k++) {
      if (!has_quote) {
        char *hit = memchr(buf + k, '\n', (size_t)(n - k));
        if (!hit) break;
        k = hit - buf;
      }
      char ch = buf[k];
      if (ch == '"') {
        q++;
      } else if (ch == '\n') {
        nl++;
        int par = (int)(q & 1);
        if (first[par] < 0) {
          first[par] = pos + k;
          nlb[par] = nl;
        }
        int64_t j = pos + k + 1; /* the next record's first byte */
        if (j >= size) continue;
        char c1 = buf[k + 1];
        if (c1 == '\n') continue;
        if (c1 == '\r' && (j + 1 >= size || buf[k + 2] == '\n')) continue;
        cnt[par]++;
      }
    }
    pos = cend;
  }
  c->q = q;
  c->nl = nl;
  for (int p = 0; p < 2; p++) {
    c->cnt[p] = cnt[p];
    c->first[p] = first[p];
    c->nlb[p] = nlb[p];
  }
  return st;
}

void csv_range_free(csv_range *r) {
  free(r->part);
  r->part = NULL;
  r->nparts = 0;
}

bfcr_status csv_find_records(bfcr_ctx *ctx, const csv_src *src, int64_t data_begin,
                             int64_t hdr_newlines, int max_parts, int64_t min_part_bytes,
                             csv_range *out) {
  bfcr_status st = BFCR_OK;
  int64_t size = src->size;
  int64_t span = size > data_begin ? size - data_begin : 0;
  int64_t a = split(data_begin, span, ctx->rank, ctx->size);
  int64_t b = split(data_begin, span, ctx->rank + 1, ctx->size);
  int64_t want = min_part_bytes > 0 ? (b - a) / min_part_bytes : b - a;
  int T = max_parts < 1 ? 1 : max_parts;
  if (want < T) T = want < 1 ? 1 : (int)want;
  scan_cnt *c = NULL;
  bfcr_ctx *errs = NULL;
  bfcr_status *pst = NULL;
  memset(out, 0, sizeof *out);
  c = bfcr_calloc(ctx, (size_t)T, sizeof *c);
  out->part = bfcr_calloc(ctx, (size_t)T, sizeof *out->part);
  if (!c || !out->part) st = BFCR_ERR_NOMEM;
  if (st == BFCR_OK && T == 1) {
    char *buf = NULL;
    st = scan_part(ctx, src, a, b, &c[0], &buf);
    free(buf);
  } else if (st == BFCR_OK) {
    errs = csv_errs_new(ctx, T);
    pst = bfcr_calloc(ctx, (size_t)T, sizeof *pst);
    if (!errs || !pst) st = BFCR_ERR_NOMEM;
    if (st == BFCR_OK) {
      const int nt = ctx->nthreads < T ? (ctx->nthreads > 1 ? ctx->nthreads : 1) : T;
#pragma omp parallel num_threads(nt)
      {
        char *buf = NULL; /* one buffer per thread, reused over its parts */
#pragma omp for schedule(dynamic, 1)
        for (int t = 0; t < T; t++)
          pst[t] = scan_part(&errs[t], src, split(a, b - a, t, T), split(a, b - a, t + 1, T), &c[t],
                             &buf);
        free(buf);
      }
      for (int t = 0; t < T && st == BFCR_OK; t++)
        if (pst[t] != BFCR_OK) st = csv_errs_take(ctx, pst[t], &errs[t]);
    }
  }
  free(errs);
  free(pst);
  long long q = 0, nl = 0;
  for (int t = 0; st == BFCR_OK && t < T; t++) {
    q += c[t].q;
    nl += c[t].nl;
  }
  /* Every rank joins the scans, even after a local failure (never a hang). */
  long long qb = 0, nlbefore = 0;
  if (MPI_Exscan(&q, &qb, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS ||
      MPI_Exscan(&nl, &nlbefore, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS) {
    if (st == BFCR_OK) st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Exscan failed in the CSV scan");
  }
  if (ctx->rank == 0) qb = nlbefore = 0;
  if (st != BFCR_OK) {
    free(c);
    csv_range_free(out);
    return st;
  }
  /* Prefix over the parts, in part order: parity and line at each part's start. */
  out->nparts = T;
  for (int t = 0; t < T; t++) {
    int par = (int)(qb & 1);
    csv_part *p = &out->part[t];
    p->records = c[t].cnt[par];
    p->start = c[t].first[par] >= 0 ? c[t].first[par] + 1 : -1;
    p->line = 1 + hdr_newlines + nlbefore + c[t].nlb[par];
    p->row0 = out->records;
    out->records += p->records;
    qb += c[t].q;
    nlbefore += c[t].nl;
  }
  free(c);
  return BFCR_OK;
}
