/* Fuzz target: the CSV reader (lib/io/csv_*.c, lib/io/numparse.c).
 *
 * One input is a whole CSV file. Three layers are driven, each with an oracle beyond
 * "no sanitizer report":
 *  1. csv_tokenize record by record on an exact-size heap copy (ASan sees any read
 *     past the end). A record accepted at the end of the file has every shorter
 *     prefix answered CSV_REC_MORE with the buffer untouched (the streaming reader
 *     relies on that to refill its window), and fields lie inside the record.
 *  2. The fused numeric path csv_numeric_record must agree with the tokenizer plus
 *     bfcr_parse_double (same bytes, bit-identical values) whenever it accepts, and
 *     every number bfcr_parse_double accepts must be bit-identical to strtod in the
 *     C locale with the whole field consumed (the documented guarantee).
 *  3. bfcr_data_read_csv on the bytes written to a temporary file, with the default
 *     limits (target "y") and with tight ones (tiny line/column/category limits, NA
 *     drop, no target): success means finite values and increasing source lines; a
 *     failure must carry a message. A successful fit-mode read is re-read in predict
 *     mode with its own schema and must give bit-identical X and y.
 * Cost per input: O(size) plus a few file operations; one rank (MPI_COMM_SELF), so
 * the cross-rank record split is not exercised here (tests/mpi/mpi_csv.c covers it). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "io/csv_internal.h"
#include "io/numparse.h"
#include "io/schema.h"

enum { MAX_FIELDS = 32, MAX_NUM_TEXT = 2048 };

/* bfcr_parse_double against strtod (C locale: the harness never calls setlocale). */
static void check_number(const char *s, size_t len) {
  double v = 0.0;
  bfcr_num_result r = bfcr_parse_double(s, len, &v);
  if (len >= MAX_NUM_TEXT || (r != BFCR_NUM_OK && r != BFCR_NUM_OVERFLOW)) return;
  char buf[MAX_NUM_TEXT];
  memcpy(buf, s, len);
  buf[len] = '\0';
  char *end = NULL;
  errno = 0;
  double ref = strtod(buf, &end);
  FUZZ_CHECK(end == buf + len, "strtod stops early on a field bfcr_parse_double accepts");
  if (r == BFCR_NUM_OK) {
    FUZZ_CHECK(isfinite(v), "bfcr_parse_double returned OK with a non-finite value");
    FUZZ_CHECK(memcmp(&v, &ref, sizeof v) == 0, "bfcr_parse_double differs from strtod");
  } else {
    FUZZ_CHECK(isinf(ref), "bfcr_parse_double reports overflow where strtod is finite");
  }
}

static void fuzz_tokenizer(const uint8_t *data, size_t size) {
  char *buf = malloc(size ? size : 1), *orig = malloc(size ? size : 1);
  double *vals = malloc(MAX_FIELDS * sizeof *vals);
  FUZZ_CHECK(buf && orig && vals, "out of memory in the harness");
  if (size) memcpy(buf, data, size);
  if (size) memcpy(orig, data, size);
  csv_field fields[MAX_FIELDS];
  csv_rec r;
  memset(&r, 0, sizeof r);
  r.f = fields;
  r.cap = MAX_FIELDS;
  char *p = buf, *end = buf + size;
  for (int guard = 0; guard < 100000; guard++) {
    size_t at = (size_t)(p - buf), left = size - at;
    /* The fused path first: the tokenizer compacts quoted fields in place. */
    size_t nbytes = 0;
    int fused_cols = 0;
    for (int nc = 1; nc <= 4 && !fused_cols; nc++)
      if (csv_numeric_record(p, end, nc, vals, &nbytes)) fused_cols = nc;
    int rc = csv_tokenize(p, end, 1, &r);
    if (rc == CSV_REC_EOF) {
      FUZZ_CHECK(left == 0, "EOF answered before the end of the buffer");
      FUZZ_CHECK(!fused_cols, "the numeric path accepted a record at the end of the buffer");
      break;
    }
    FUZZ_CHECK(rc != CSV_REC_MORE, "CSV_REC_MORE at the end of the file");
    if (rc == CSV_REC_ERR) {
      FUZZ_CHECK(r.syn != CSV_SYN_NONE, "an error without a syntax code");
      FUZZ_CHECK(r.err_field >= 1, "an error without a field number");
      FUZZ_CHECK(!fused_cols, "the numeric path accepted a record the tokenizer refuses");
      break;
    }
    FUZZ_CHECK(r.bytes >= 1 && r.bytes <= left, "record length out of range");
    if (!r.blank) {
      FUZZ_CHECK(r.nf >= 1, "a non-blank record without fields");
      for (int i = 0; i < r.nf && i < r.cap; i++) {
        FUZZ_CHECK(r.f[i].p >= p && r.f[i].p + r.f[i].len <= p + r.bytes, "field outside record");
        check_number(r.f[i].p, r.f[i].len);
      }
    }
    if (fused_cols) {
      /* Same record end; the same values as parsing each field. */
      FUZZ_CHECK(!r.blank && r.nf == fused_cols, "numeric path and tokenizer disagree on fields");
      FUZZ_CHECK(nbytes == r.bytes, "numeric path and tokenizer disagree on the record end");
      for (int i = 0; i < r.nf; i++) {
        double v;
        FUZZ_CHECK(bfcr_parse_double(r.f[i].p, r.f[i].len, &v) == BFCR_NUM_OK,
                   "numeric path accepted a field bfcr_parse_double refuses");
        FUZZ_CHECK(memcmp(&v, &vals[i], sizeof v) == 0, "numeric path value differs");
      }
    }
    /* Streaming contract: a prefix that ends before the record's last byte is MORE
     * and leaves the buffer untouched (checked on a fresh copy of the record). */
    if (r.bytes > 1 && p[r.bytes - 1] == '\n') {
      size_t cuts[3] = {r.bytes - 1, r.bytes / 2, 1};
      for (int c = 0; c < 3; c++) {
        size_t k = cuts[c];
        if (k == 0 || k >= r.bytes) continue;
        char *cp = malloc(k);
        FUZZ_CHECK(cp != NULL, "out of memory in the harness");
        memcpy(cp, orig + at, k);
        csv_rec r2;
        memset(&r2, 0, sizeof r2);
        csv_field f2[MAX_FIELDS];
        r2.f = f2;
        r2.cap = MAX_FIELDS;
        int rc2 = csv_tokenize(cp, cp + k, 0, &r2);
        FUZZ_CHECK(rc2 == CSV_REC_MORE, "a prefix of an accepted record is not MORE");
        FUZZ_CHECK(memcmp(cp, orig + at, k) == 0, "MORE modified the buffer");
        free(cp);
      }
    }
    p += r.bytes;
  }
  free(buf);
  free(orig);
  free(vals);
}

/* The temporary file that holds each input (created once per process). */
static char g_path[4096];
static int g_fd = -1;

static void remove_tmp(void) {
  if (g_fd >= 0) {
    close(g_fd);
    unlink(g_path);
  }
}

static const char *write_tmp(const uint8_t *data, size_t size) {
  if (g_fd < 0) {
    const char *dir = getenv("TMPDIR");
    snprintf(g_path, sizeof g_path, "%s/bfcr-fuzz-csv-XXXXXX", dir && dir[0] ? dir : "/tmp");
    g_fd = mkstemp(g_path);
    FUZZ_CHECK(g_fd >= 0, "cannot create the temporary file");
    atexit(remove_tmp);
  }
  FUZZ_CHECK(ftruncate(g_fd, 0) == 0, "ftruncate");
  size_t done = 0;
  while (done < size) {
    ssize_t w = pwrite(g_fd, data + done, size - done, (off_t)done);
    FUZZ_CHECK(w > 0, "pwrite");
    done += (size_t)w;
  }
  return g_path;
}

static void check_data(const bfcr_data *d) {
  int64_t n = bfcr_data_local_rows(d);
  int dd = bfcr_data_features(d);
  FUZZ_CHECK(n >= 1 && dd >= 1, "an empty data set was accepted");
  FUZZ_CHECK(bfcr_data_global_rows(d) == n, "one rank: global rows != local rows");
  const double *X = bfcr_data_X(d), *y = bfcr_data_y(d);
  for (int64_t i = 0; i < n * dd; i++) FUZZ_CHECK(isfinite(X[i]), "non-finite feature accepted");
  if (y)
    for (int64_t i = 0; i < n; i++) FUZZ_CHECK(isfinite(y[i]), "non-finite target accepted");
  if (d->line)
    for (int64_t i = 0; i < n; i++)
      FUZZ_CHECK(d->line[i] >= 2 && (i == 0 || d->line[i] > d->line[i - 1]),
                 "source lines not increasing");
}

static void check_failure(bfcr_ctx *ctx, bfcr_status st) {
  const char *msg = bfcr_ctx_errmsg(ctx);
  FUZZ_CHECK(msg && msg[0], "a failure without a message");
  FUZZ_CHECK(bfcr_ctx_errcode(ctx) == st, "the context code differs from the returned one");
}

static void fuzz_reader(const uint8_t *data, size_t size) {
  bfcr_ctx *ctx = fuzz_ctx();
  const char *path = write_tmp(data, size);
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  p.target = "y";
  bfcr_data *fit = NULL;
  bfcr_status st = bfcr_data_read_csv(ctx, path, &p, NULL, &fit);
  if (st == BFCR_OK) {
    check_data(fit);
    FUZZ_CHECK(bfcr_data_y(fit) != NULL, "the target was not read");
    /* Predict mode with the schema just built: the same bits. */
    bfcr_data *pred = NULL;
    ctx = fuzz_ctx();
    st = bfcr_data_read_csv(ctx, path, &p, bfcr_data_schema(fit), &pred);
    FUZZ_CHECK(st == BFCR_OK, "re-reading a file with its own schema failed");
    int64_t n = bfcr_data_local_rows(fit);
    int d = bfcr_data_features(fit);
    FUZZ_CHECK(bfcr_data_local_rows(pred) == n && bfcr_data_features(pred) == d,
               "predict-mode read changed the shape");
    FUZZ_CHECK(memcmp(bfcr_data_X(pred), bfcr_data_X(fit), (size_t)(n * d) * sizeof(double)) == 0,
               "predict-mode features differ");
    FUZZ_CHECK(bfcr_data_y(pred) &&
                   memcmp(bfcr_data_y(pred), bfcr_data_y(fit), (size_t)n * sizeof(double)) == 0,
               "predict-mode target differs");
    bfcr_data_destroy(&pred);
  } else {
    FUZZ_CHECK(fit == NULL, "a failed read returned data");
    check_failure(ctx, st);
  }
  bfcr_data_destroy(&fit);

  /* Tight limits, rows with missing values dropped, no target (cluster mode). */
  ctx = fuzz_ctx();
  p.target = NULL;
  p.na = BFCR_NA_DROP;
  p.max_line_bytes = 24;
  p.max_columns = 4;
  p.max_categories = 2;
  st = bfcr_data_read_csv(ctx, path, &p, NULL, &fit);
  if (st == BFCR_OK) {
    check_data(fit);
    FUZZ_CHECK(bfcr_data_y(fit) == NULL, "a target appeared without being asked for");
  } else {
    check_failure(ctx, st);
  }
  bfcr_data_destroy(&fit);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_tokenizer(data, size);
  fuzz_reader(data, size);
  return 0;
}
