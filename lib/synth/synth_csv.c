/* bfcr_synth_write_csv: the generated rows as a CSV file (header x1..xd,y), written
 * atomically by rank 0 while every rank generates and formats its share.
 *
 * Rounds: round k covers R * P consecutive global rows; rank r generates and formats
 * the r-th R rows of it (OpenMP threads split that part), rank 0 gathers the texts in
 * rank order (MPI_Gatherv) and appends them to the temporary file. Formatting
 * ("%.17g", which round-trips every double) dominates the cost, so it is the part
 * spread over ranks and threads. Since row i's values depend only on (seed, i) and
 * its text only on its values, the bytes are the same for every rank and thread count.
 * Memory: one round's text, at most about 64 MiB on rank 0 and 64 MiB / P elsewhere.
 *
 * The C library formats with the process locale's decimal point; a locale with
 * another separator is detected once and its separator replaced by '.' so the file
 * is valid CSV whatever the caller set. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "io/atomic.h"
#include "synth/synth_impl.h"

#define ROUND_BYTES ((int64_t)64 << 20) /* text of one round, all ranks */
#define MAX_ROUND_ROWS 65536            /* rows per rank per round */
#define MIN_THREAD_ROWS 512             /* rows that pay for one more thread */
#define FIELD_MAX 40                    /* "%.17g" needs at most 24, plus separators */

/* The decimal separator of the current locale as printf writes it ("." normally). */
static void locale_point(char *sep, size_t len) {
  char probe[32];
  snprintf(probe, sizeof probe, "%.1f", 0.5);
  size_t n = strlen(probe); /* "0" sep "5" */
  size_t k = n >= 2 ? n - 2 : 0;
  if (k == 0 || k >= len) k = 1, probe[1] = '.';
  memcpy(sep, probe + 1, k);
  sep[k] = '\0';
}

size_t bfcr_synth_point_fix(char *s, size_t len, const char *sep) {
  if (sep[0] == '.' && sep[1] == '\0') return len;
  char *at = strstr(s, sep);
  if (!at) return len;
  size_t k = strlen(sep);
  *at = '.';
  memmove(at + 1, at + k, len - (size_t)(at - s) - k + 1);
  return len - (k - 1);
}

/* Format v into out (room >= FIELD_MAX) with '.' as the decimal point; returns length. */
static size_t format_double(char *out, double v, const char *sep) {
  int n = snprintf(out, FIELD_MAX, "%.17g", v);
  return bfcr_synth_point_fix(out, n < 0 ? 0 : (size_t)n, sep);
}

/* Text of rows (count x d features, y): returns bytes written to out. */
static size_t format_rows(char *out, const double *X, const double *y, int64_t count, int d,
                          const char *sep) {
  char *p = out;
  for (int64_t i = 0; i < count; i++) {
    const double *x = X + (size_t)i * (size_t)d;
    for (int j = 0; j < d; j++) {
      p += format_double(p, x[j], sep);
      *p++ = ',';
    }
    p += format_double(p, y[i], sep);
    *p++ = '\n';
  }
  return (size_t)(p - out);
}

/* Rows per rank per round: about ROUND_BYTES of text in all, at least one row. */
static int64_t round_rows(int64_t row_max, int P) {
  int64_t R = ROUND_BYTES / P / row_max;
  if (R < 1) R = 1;
  return R > MAX_ROUND_ROWS ? MAX_ROUND_ROWS : R;
}

/* Generate and format global rows [lo, lo + cnt) into text with nt threads, each on a
 * contiguous piece in its own region, then close the gaps. Returns the text length. */
static size_t round_text(const bfcr_synth_model *m, int64_t lo, int64_t cnt, int nt,
                         int64_t row_max, const char *sep, double *X, double *y, char *text,
                         size_t *piece_len) {
  const int64_t d = m->p.d;
  size_t total = 0;
  /* Threads only where each gets enough rows to pay for waking it. */
  if (nt > cnt / MIN_THREAD_ROWS + 1) nt = (int)(cnt / MIN_THREAD_ROWS + 1);
#pragma omp parallel num_threads(nt)
  {
    const int t = omp_get_thread_num(), T = omp_get_num_threads();
    const int64_t a = cnt * t / T, b = cnt * (t + 1) / T;
    bfcr_synth_model_rows(m, lo + a, b - a, X + a * d, y + a, NULL);
    piece_len[t] = format_rows(text + a * row_max, X + a * d, y + a, b - a, (int)d, sep);
#pragma omp barrier
#pragma omp single
    {
      total = piece_len[0];
      for (int u = 1; u < T; u++) {
        memmove(text + total, text + cnt * u / T * row_max, piece_len[u]);
        total += piece_len[u];
      }
    }
  }
  return total;
}

bfcr_status bfcr_synth_write_csv(bfcr_ctx *ctx, const bfcr_synth_params *p, const char *path) {
  return bfcr_synth_write_csv_rounds(ctx, p, path, 0);
}

bfcr_status bfcr_synth_write_csv_rounds(bfcr_ctx *ctx, const bfcr_synth_params *p, const char *path,
                                        int64_t round_rows_per_rank) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  bfcr_synth_model m = {0};
  bfcr_atomic_file af;
  int af_open = 0;
  double *X = NULL, *y = NULL;
  char *text = NULL, *all = NULL;
  int *counts = NULL, *displs = NULL;
  size_t *piece_len = NULL;
  char sep[8], msg[256];
  const int P = ctx->size, rank = ctx->rank;
  const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
  int64_t n = 0, d = 1, row_max = 0, R = 0;
  double t0 = bfcr_wtime();

  memset(&af, 0, sizeof af);
  af.fd = -1;
  BFCR_CHECK(ctx, path && path[0], BFCR_ERR_ARG, "bfcr_synth_write_csv: no output path");
  if (bfcr_synth_check(p, msg, sizeof msg) != BFCR_OK) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "%s", msg);
    goto cleanup;
  }
  n = p->n;
  d = p->d;
  row_max = (d + 1) * FIELD_MAX + 1;
  R = round_rows_per_rank > 0 ? round_rows_per_rank : round_rows(row_max, P);
  BFCR_CHECK(ctx, R * row_max * P <= INT32_MAX, BFCR_ERR_ARG,
             "synthetic rows of %lld features are too wide to gather over %d ranks", (long long)d,
             P);
  st = bfcr_synth_model_init(&m, p);
  BFCR_CHECK(ctx, st == BFCR_OK, st, "out of memory for %d synthetic cluster parameters",
             p->clusters);
  BFCR_ALLOC(ctx, X, R * d);
  BFCR_ALLOC(ctx, y, R);
  BFCR_ALLOC(ctx, text, R * row_max);
  BFCR_ALLOC(ctx, piece_len, nt);
  if (rank == 0) {
    BFCR_ALLOC(ctx, all, R * row_max * P);
    BFCR_ALLOC(ctx, counts, P);
    BFCR_ALLOC(ctx, displs, P);
    BFCR_CALL(bfcr_atomic_open(ctx, path, &af));
    af_open = 1;
  }
cleanup:
  /* Every rank is set up (or all stop here) before the first collective round. */
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) {
    if (af_open) bfcr_atomic_abort(&af);
    goto done;
  }
  locale_point(sep, sizeof sep);
  if (rank == 0) {
    char *h = all;
    for (int64_t j = 0; j < d; j++) h += snprintf(h, FIELD_MAX, "x%lld,", (long long)(j + 1));
    h += snprintf(h, FIELD_MAX, "y\n");
    st = bfcr_atomic_write(ctx, &af, all, (size_t)(h - all));
  }
  for (int64_t base = 0; base < n; base += R * P) {
    /* Rank 0 tells whether it can still write; everybody stops together if not. */
    int go = st == BFCR_OK;
    if (MPI_Bcast(&go, 1, MPI_INT, 0, ctx->comm) != MPI_SUCCESS) {
      st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast failed writing synthetic CSV");
      break;
    }
    if (!go) break;
    int64_t lo = base + rank * R, hi = lo + R;
    if (lo > n) lo = n;
    if (hi > n) hi = n;
    int len = (int)round_text(&m, lo, hi - lo, nt, row_max, sep, X, y, text, piece_len);
    if (MPI_Gather(&len, 1, MPI_INT, counts, 1, MPI_INT, 0, ctx->comm) != MPI_SUCCESS) {
      st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Gather failed writing synthetic CSV");
      break;
    }
    int total = 0;
    if (rank == 0)
      for (int r = 0; r < P; r++) displs[r] = total, total += counts[r];
    if (MPI_Gatherv(text, len, MPI_CHAR, all, counts, displs, MPI_CHAR, 0, ctx->comm) !=
        MPI_SUCCESS) {
      st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Gatherv failed writing synthetic CSV");
      break;
    }
    if (rank == 0) {
      st = bfcr_atomic_write(ctx, &af, all, (size_t)total);
      bfcr_progress(ctx, "synth_write", n - base > R * P ? base + R * P : n, n);
    }
  }
  if (rank == 0) {
    if (st == BFCR_OK)
      st = bfcr_atomic_commit(ctx, &af);
    else
      bfcr_atomic_abort(&af);
  }
  st = bfcr_agree(ctx, st);
done:
  bfcr_synth_model_free(&m);
  free(X);
  free(y);
  free(text);
  free(all);
  free(counts);
  free(displs);
  free(piece_len);
  if (st == BFCR_OK) bfcr_phase_add(ctx, "synth_write", bfcr_wtime() - t0, 0.0);
  return st;
}
