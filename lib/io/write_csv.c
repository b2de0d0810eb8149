/* bfcr_write_columns_csv: the rows of every rank, in rank order, as one CSV file
 * written by rank 0 through the atomic writer.
 *
 * Protocol (bounded memory, whatever the output size): rank 0 learns every rank's
 * row count (one gather), writes the header and its own rows, then serves ranks 1, 2,
 * ... in turn: it sends rank r a one-int "go" (1 = send, 0 = rank 0 already failed,
 * do not), and rank r sends its rows in chunks of at most CHUNK_BYTES of packed 8-byte
 * values. Only the served rank sends, so rank 0 holds one chunk at a time, and a rank
 * is never left blocked in a send: after a failure rank 0 still drains the rank it is
 * serving and tells the later ones not to send. Cost: one pass over the rows,
 * O(n ncols) formatting on rank 0 (the bottleneck: printf of doubles).
 *
 * Numbers: doubles as "%.17g" (17 significant digits round-trip every double exactly;
 * non-finite values print as printf does: nan, -nan, inf, -inf), int64 as "%lld".
 * printf writes the decimal point of the program's LC_NUMERIC locale, which is "C"
 * unless the program called setlocale; the library never changes the locale, and
 * replaces a non-"." decimal point by "." so the file is the same in any locale.
 * Header names are quoted per RFC 4180 when they hold a comma, quote, CR or LF. */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "io/atomic.h"

enum {
  CHUNK_BYTES = 1 << 20, /* packed values per message */
  TEXT_BYTES = 1 << 20,  /* formatted text buffered before a write */
  MAX_COLS = 1 << 20,    /* keeps one packed row well inside an MPI count */
  TAG_GO = 7301,
  TAG_ROWS = 7302
};

typedef struct csv_out {
  bfcr_ctx *ctx;
  bfcr_atomic_file af;
  char *text;
  size_t len;
  char dp[16]; /* the locale's decimal point */
  bfcr_status st;
} csv_out;

static void out_flush(csv_out *o) {
  if (o->st == BFCR_OK && o->len > 0) o->st = bfcr_atomic_write(o->ctx, &o->af, o->text, o->len);
  o->len = 0;
}

static void out_put(csv_out *o, const char *s, size_t n) {
  if (o->st != BFCR_OK) return;
  if (n > TEXT_BYTES - o->len) out_flush(o);
  if (n > TEXT_BYTES) {
    if (o->st == BFCR_OK) o->st = bfcr_atomic_write(o->ctx, &o->af, s, n);
    return;
  }
  memcpy(o->text + o->len, s, n);
  o->len += n;
}

static void out_double(csv_out *o, double v) {
  char tmp[64];
  int n = snprintf(tmp, sizeof tmp, "%.17g", v);
  if (n < 0) n = 0;
  if (o->dp[0] && strcmp(o->dp, ".") != 0) {
    char *q = strstr(tmp, o->dp);
    if (q) {
      size_t dl = strlen(o->dp);
      *q = '.';
      memmove(q + 1, q + dl, strlen(q + dl) + 1);
      n = (int)strlen(tmp);
    }
  }
  out_put(o, tmp, (size_t)n);
}

static void out_int(csv_out *o, int64_t v) {
  char tmp[32];
  int n = snprintf(tmp, sizeof tmp, "%lld", (long long)v);
  out_put(o, tmp, n < 0 ? 0 : (size_t)n);
}

static void out_name(csv_out *o, const char *s) {
  if (!strpbrk(s, ",\"\r\n")) {
    out_put(o, s, strlen(s));
    return;
  }
  out_put(o, "\"", 1);
  for (const char *p = s; *p; p++) {
    if (*p == '"')
      out_put(o, "\"\"", 2);
    else
      out_put(o, p, 1);
  }
  out_put(o, "\"", 1);
}

/* Rows [0, n) of packed values: value (i, j) at packed[j * n + i] (8 bytes each). */
static void out_rows(csv_out *o, int ncols, const bfcr_column *cols, const unsigned char *packed,
                     int64_t n) {
  for (int64_t i = 0; i < n && o->st == BFCR_OK; i++) {
    for (int j = 0; j < ncols; j++) {
      if (j) out_put(o, ",", 1);
      const unsigned char *src = packed + ((size_t)j * (size_t)n + (size_t)i) * 8;
      if (cols[j].type == BFCR_COLTYPE_DOUBLE) {
        double v;
        memcpy(&v, src, 8);
        out_double(o, v);
      } else {
        int64_t v;
        memcpy(&v, src, 8);
        out_int(o, v);
      }
    }
    out_put(o, "\n", 1);
  }
}

/* Copy rows [r0, r0 + n) of the local columns into packed, column after column. */
static void pack_rows(int ncols, const bfcr_column *cols, int64_t r0, int64_t n,
                      unsigned char *packed) {
  for (int j = 0; j < ncols; j++)
    memcpy(packed + (size_t)j * (size_t)n * 8, (const unsigned char *)cols[j].local + r0 * 8,
           (size_t)n * 8);
}

static bfcr_status check_args(bfcr_ctx *ctx, const char *path, int ncols, const bfcr_column *cols,
                              int64_t n_local) {
  if (!path || !path[0]) return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV: empty output path");
  if (ncols < 1 || ncols > MAX_COLS)
    return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: %d columns (1..%d expected)", path, ncols,
                    MAX_COLS);
  if (!cols) return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: NULL columns", path);
  if (n_local < 0)
    return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: negative row count %lld", path,
                    (long long)n_local);
  for (int j = 0; j < ncols; j++) {
    if (!cols[j].name)
      return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: column %d has no name", path, j);
    if (cols[j].type != BFCR_COLTYPE_DOUBLE && cols[j].type != BFCR_COLTYPE_INT64)
      return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: column %s has invalid type %d", path,
                      cols[j].name, (int)cols[j].type);
    if (n_local > 0 && !cols[j].local)
      return bfcr_err(ctx, BFCR_ERR_ARG, "write CSV %s: column %s has no values", path,
                      cols[j].name);
  }
  return BFCR_OK;
}

/* Every rank must describe the same columns: compare count and types across ranks. */
static bfcr_status check_same_layout(bfcr_ctx *ctx, const char *path, int ncols,
                                     const bfcr_column *cols, bfcr_status st) {
  long long sig[2] = {-1, -1}, lo[2], hi[2];
  if (st == BFCR_OK) {
    unsigned long long h = 1469598103934665603ull; /* FNV-1a over the types */
    for (int j = 0; j < ncols; j++) h = (h ^ (unsigned)cols[j].type) * 1099511628211ull;
    sig[0] = ncols;
    sig[1] = (long long)(h >> 1);
  }
  if (MPI_Allreduce(sig, lo, 2, MPI_LONG_LONG, MPI_MIN, ctx->comm) != MPI_SUCCESS ||
      MPI_Allreduce(sig, hi, 2, MPI_LONG_LONG, MPI_MAX, ctx->comm) != MPI_SUCCESS)
    return bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Allreduce failed");
  if (st == BFCR_OK && (lo[0] != hi[0] || lo[1] != hi[1]))
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "write CSV %s: ranks pass different columns (counts %lld..%lld)", path, lo[0],
                    hi[0]);
  return st;
}

static int64_t chunk_rows(int ncols) {
  int64_t rows = CHUNK_BYTES / ((int64_t)ncols * 8);
  return rows > 0 ? rows : 1;
}

bfcr_status bfcr_write_columns_csv(bfcr_ctx *ctx, const char *path, int ncols,
                                   const bfcr_column *cols, int64_t n_local) {
  if (!ctx) return BFCR_ERR_ARG;
  double t0 = bfcr_wtime();
  bfcr_status st = check_args(ctx, path, ncols, cols, n_local);
  st = check_same_layout(ctx, path, ncols, cols, st);
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) return st;

  int rank = ctx->rank, size = ctx->size;
  int64_t *counts = NULL;
  unsigned char *packed = NULL;
  csv_out o;
  memset(&o, 0, sizeof o);
  o.ctx = ctx;
  o.af.fd = -1;
  int64_t crow = chunk_rows(ncols);
  size_t chunk_bytes = (size_t)crow * (size_t)ncols * 8;

  if (rank == 0) {
    counts = bfcr_malloc(ctx, (size_t)size, sizeof *counts);
    o.text = bfcr_malloc(ctx, TEXT_BYTES, 1);
    packed = bfcr_malloc(ctx, chunk_bytes, 1);
    if (!counts || !o.text || !packed) st = BFCR_ERR_NOMEM;
    if (st == BFCR_OK) st = bfcr_atomic_open(ctx, path, &o.af);
    const char *dp = localeconv()->decimal_point;
    snprintf(o.dp, sizeof o.dp, "%s", dp ? dp : ".");
  } else if (n_local > 0) {
    packed = bfcr_malloc(ctx, chunk_bytes, 1);
    if (!packed) st = BFCR_ERR_NOMEM;
  }
  int64_t dummy = 0;
  if (MPI_Gather(&n_local, 1, MPI_INT64_T, rank == 0 ? (void *)counts : (void *)&dummy, 1,
                 MPI_INT64_T, 0, ctx->comm) != MPI_SUCCESS &&
      st == BFCR_OK)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Gather of row counts failed");
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;

  if (rank == 0) {
    o.st = BFCR_OK;
    for (int j = 0; j < ncols; j++) {
      if (j) out_put(&o, ",", 1);
      out_name(&o, cols[j].name);
    }
    out_put(&o, "\n", 1);
    for (int64_t r0 = 0; r0 < n_local && o.st == BFCR_OK; r0 += crow) {
      int64_t n = n_local - r0 < crow ? n_local - r0 : crow;
      pack_rows(ncols, cols, r0, n, packed);
      out_rows(&o, ncols, cols, packed, n);
    }
    bfcr_status mpi_st = BFCR_OK;
    for (int src = 1; src < size; src++) {
      if (counts[src] == 0) continue;
      int go = o.st == BFCR_OK && mpi_st == BFCR_OK;
      if (MPI_Send(&go, 1, MPI_INT, src, TAG_GO, ctx->comm) != MPI_SUCCESS) {
        mpi_st = bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Send to rank %d failed", src);
        continue;
      }
      if (!go) continue;
      for (int64_t r0 = 0; r0 < counts[src]; r0 += crow) {
        int64_t n = counts[src] - r0 < crow ? counts[src] - r0 : crow;
        if (MPI_Recv(packed, (int)(n * ncols * 8), MPI_BYTE, src, TAG_ROWS, ctx->comm,
                     MPI_STATUS_IGNORE) != MPI_SUCCESS) {
          mpi_st = bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Recv from rank %d failed", src);
          break;
        }
        out_rows(&o, ncols, cols, packed, n); /* a no-op once a write has failed */
      }
    }
    out_flush(&o);
    st = o.st != BFCR_OK ? o.st : mpi_st;
    if (st == BFCR_OK)
      st = bfcr_atomic_commit(ctx, &o.af);
    else
      bfcr_atomic_abort(&o.af);
  } else if (n_local > 0) {
    int go = 0;
    if (MPI_Recv(&go, 1, MPI_INT, 0, TAG_GO, ctx->comm, MPI_STATUS_IGNORE) != MPI_SUCCESS)
      st = bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Recv from rank 0 failed");
    for (int64_t r0 = 0; go && st == BFCR_OK && r0 < n_local; r0 += crow) {
      int64_t n = n_local - r0 < crow ? n_local - r0 : crow;
      pack_rows(ncols, cols, r0, n, packed);
      if (MPI_Send(packed, (int)(n * ncols * 8), MPI_BYTE, 0, TAG_ROWS, ctx->comm) != MPI_SUCCESS)
        st = bfcr_err(ctx, BFCR_ERR_MPI, "write CSV: MPI_Send to rank 0 failed");
    }
  }
  st = bfcr_agree(ctx, st);

cleanup:
  if (rank == 0) bfcr_atomic_abort(&o.af); /* no-op after commit */
  free(o.text);
  free(packed);
  free(counts);
  bfcr_phase_add(ctx, "write csv", bfcr_wtime() - t0, 0);
  return st;
}
