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
 * Cost: one streaming read of n/P bytes per rank through a 4 MiB buffer, two
 * MPI_Exscan. In a malformed file (stray quote) ranks after the fault may be misled,
 * but the rank that owns the faulty record reports it and, being earlier in the
 * file, wins the error agreement. */
#include <stdlib.h>
#include <string.h>

#include "io/csv_internal.h"

#define SCAN_CHUNK (4 << 20)

static int64_t split(int64_t begin, int64_t span, int r, int p) {
  return begin + (span / p) * r + ((span % p) * r) / p;
}

bfcr_status csv_find_records(bfcr_ctx *ctx, const csv_src *src, int64_t data_begin,
                             int64_t hdr_newlines, csv_range *out) {
  bfcr_status st = BFCR_OK;
  char *buf = NULL;
  int64_t size = src->size;
  int64_t span = size > data_begin ? size - data_begin : 0;
  int64_t a = split(data_begin, span, ctx->rank, ctx->size);
  int64_t b = split(data_begin, span, ctx->rank + 1, ctx->size);
  long long q = 0, nl = 0;
  int64_t cnt[2] = {0, 0}, first[2] = {-1, -1}, nlb[2] = {0, 0};
  if (b > a) {
    buf = bfcr_malloc(ctx, SCAN_CHUNK + 2, 1);
    if (!buf) st = BFCR_ERR_NOMEM;
  }
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
      char c = buf[k];
      if (c == '"') {
        q++;
      } else if (c == '\n') {
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
  free(buf);
  /* Every rank joins the scans, even after a local failure (never a hang). */
  long long qb = 0, nlbefore = 0;
  if (MPI_Exscan(&q, &qb, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS ||
      MPI_Exscan(&nl, &nlbefore, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS) {
    if (st == BFCR_OK) st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Exscan failed in the CSV scan");
  }
  if (ctx->rank == 0) qb = nlbefore = 0;
  if (st != BFCR_OK) return st;
  int par = (int)(qb & 1);
  out->records = cnt[par];
  out->first_start = first[par] >= 0 ? first[par] + 1 : -1;
  out->first_line = 1 + hdr_newlines + nlbefore + nlb[par];
  return BFCR_OK;
}
