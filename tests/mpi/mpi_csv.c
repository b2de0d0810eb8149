/* ranks: 1 2 3 4 */
/* The parallel CSV read equals the one-rank read: same rows in global order (X, y,
 * source lines compared bit for bit after a gather), same schema, and for bad files
 * the same status and message on every rank. Files with quoted newlines, commas and
 * "" escapes everywhere make the byte-range boundaries fall inside quotes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/csv_internal.h"
#include "io/schema.h"
#include "mpitest.h"

static int rank, size;
static bfcr_ctx *ctx, *self;
/* 0: the public read; > 0: csv_read cutting each rank's range into parts of at least
 * this many bytes (the threaded path on small files). */
static int64_t part_bytes;

/* Gather rows (X | y | line) of all ranks to rank 0 in rank order. */
static double *gather_rows(const bfcr_data *d, int64_t *n_out) {
  int w = d->d + 2;
  int64_t n = d->n_local;
  double *mine = malloc((size_t)(n ? n : 1) * (size_t)w * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    memcpy(mine + i * w, d->X + i * d->d, (size_t)d->d * sizeof(double));
    mine[i * w + d->d] = d->y ? d->y[i] : 0;
    mine[i * w + d->d + 1] = (double)d->line[i];
  }
  int cnt = (int)(n * w);
  int *counts = malloc((size_t)size * sizeof(int)), *displs = malloc((size_t)size * sizeof(int));
  MPI_Gather(&cnt, 1, MPI_INT, counts, 1, MPI_INT, 0, MPI_COMM_WORLD);
  double *all = NULL;
  if (rank == 0) {
    int tot = 0;
    for (int r = 0; r < size; r++) {
      displs[r] = tot;
      tot += counts[r];
    }
    all = malloc((size_t)(tot ? tot : 1) * sizeof(double));
    *n_out = tot / w;
  }
  MPI_Gatherv(mine, cnt, MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  free(mine);
  free(counts);
  free(displs);
  return all;
}

/* Read path on all ranks and on rank 0 alone; everything must match. */
static void check_same(const char *path, const bfcr_csv_params *p, const char *what) {
  bfcr_data *d = NULL;
  bfcr_status st = part_bytes > 0 ? csv_read(ctx, path, p, NULL, part_bytes, &d)
                                  : bfcr_data_read_csv(ctx, path, p, NULL, &d);
  char msg[1024];
  snprintf(msg, sizeof msg, "%s", bfcr_ctx_errmsg(ctx));
  /* Every rank has rank 0's status and message. */
  int st0 = (int)st;
  char msg0[1024];
  memcpy(msg0, msg, sizeof msg);
  MPI_Bcast(&st0, 1, MPI_INT, 0, MPI_COMM_WORLD);
  MPI_Bcast(msg0, sizeof msg0, MPI_CHAR, 0, MPI_COMM_WORLD);
  if (rank == 0)
    printf("%s%s: %s\n", what, part_bytes > 0 ? " (3 threads, parts)" : "",
           st == BFCR_OK ? "ok" : msg);
  MT_CHECK(st0 == (int)st, "%s: status %d vs rank 0's %d", what, (int)st, st0);
  MT_CHECK(st == BFCR_OK || strcmp(msg, msg0) == 0, "%s: message \"%s\" vs rank 0's \"%s\"", what,
           msg, msg0);
  int64_t n = 0;
  double *rows = NULL;
  if (st == BFCR_OK) {
    int64_t off = 0, mine = d->n_local;
    MPI_Exscan(&mine, &off, 1, MPI_INT64_T, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0) off = 0;
    MT_CHECK(d->offset == off, "%s: offset %lld, expected %lld", what, (long long)d->offset,
             (long long)off);
    rows = gather_rows(d, &n);
  }
  if (rank == 0) {
    bfcr_data *s = NULL;
    bfcr_status ss = bfcr_data_read_csv(self, path, p, NULL, &s);
    MT_CHECK(ss == st, "%s: %d ranks give %d, one rank %d (%s)", what, size, (int)st, (int)ss,
             bfcr_ctx_errmsg(self));
    if (ss != BFCR_OK && st != BFCR_OK)
      MT_CHECK(strcmp(bfcr_ctx_errmsg(self), msg) == 0, "%s: \"%s\" vs one rank \"%s\"", what, msg,
               bfcr_ctx_errmsg(self));
    if (ss == BFCR_OK && st == BFCR_OK) {
      MT_CHECK(s->n_global == d->n_global && n == s->n_local, "%s: rows %lld/%lld vs %lld", what,
               (long long)d->n_global, (long long)n, (long long)s->n_local);
      MT_CHECK(s->d == d->d, "%s: d %d vs %d", what, d->d, s->d);
      MT_CHECK(s->dropped == d->dropped, "%s: dropped", what);
      for (int j = 0; j < s->d && j < d->d; j++)
        MT_CHECK(strcmp(s->schema->feat_names[j], d->schema->feat_names[j]) == 0, "%s: feature %d",
                 what, j);
      int w = s->d + 2;
      int64_t bad = -1;
      for (int64_t i = 0; i < n && bad < 0 && s->d == d->d; i++) {
        double ref[w];
        memcpy(ref, s->X + i * s->d, (size_t)s->d * sizeof(double));
        ref[s->d] = s->y ? s->y[i] : 0;
        ref[s->d + 1] = (double)s->line[i];
        if (memcmp(ref, rows + i * w, sizeof ref) != 0) bad = i;
      }
      MT_CHECK(bad < 0, "%s: row %lld differs from the one-rank read", what, (long long)bad);
    }
    bfcr_data_destroy(&s);
  }
  free(rows);
  bfcr_data_destroy(&d);
}

/* A file written by rank 0, its name known to all. */
static void make_path(char *path, size_t n, const char *tag) {
  long pid = (long)getpid();
  MPI_Bcast(&pid, 1, MPI_LONG, 0, MPI_COMM_WORLD);
  snprintf(path, n, "/tmp/bfcr-mpi-csv-%ld-%s.csv", pid, tag);
}

static void write_file(const char *path, const char *text, size_t len) {
  if (rank == 0) {
    FILE *f = fopen(path, "wb");
    fwrite(text, 1, len, f);
    fclose(f);
  }
  MPI_Barrier(MPI_COMM_WORLD);
}

/* Rows with quoted text (newlines, commas, "" escapes), blank lines, CRLF mixed in. */
static size_t tricky_text(char *buf, int rows, int bad_row, const char *bad_token) {
  size_t k = (size_t)sprintf(buf, "id,\"note, quoted\",x,y\n");
  for (int i = 0; i < rows; i++) {
    const char *eol = i % 3 == 0 ? "\r\n" : "\n";
    if (i % 7 == 0) k += (size_t)sprintf(buf + k, "%s", eol); /* blank line */
    const char *note;
    switch (i % 5) {
      case 0:
        note = "\"multi\nline, \"\"quoted\"\"\n\"";
        break;
      case 1:
        note = "plain";
        break;
      case 2:
        note = "\"\"\"\"";
        break;
      case 3:
        note = "\"a,b\r\nc\"";
        break;
      default:
        note = "\"\n\n\"";
        break;
    }
    if (i == bad_row)
      k += (size_t)sprintf(buf + k, "%d,%s,%s,%d.25%s", i, note, bad_token, i, eol);
    else
      k += (size_t)sprintf(buf + k, "%d,%s,%d.5e-1,%d.25%s", i, note, i * 3, i, eol);
  }
  return k;
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  if (rank == 0) bfcr_ctx_create(MPI_COMM_SELF, &self);
  bfcr_csv_params p;

  /* Pass 0: one thread per rank. Pass 1: 3 threads per rank and each rank's range cut
   * into parts of >= 64 bytes, so ranks x threads x part cuts meet every file below and
   * must still equal the one-rank, one-thread read. */
  for (int pass = 0; pass < 2; pass++) {
    part_bytes = pass ? 64 : 0;
    bfcr_ctx_set_threads(ctx, pass ? 3 : 1);

    /* 1. diamonds: text columns, one-hot tables merged over ranks. */
    const char *root = getenv("BFCR_DATA");
    char dpath[1024];
    snprintf(dpath, sizeof dpath, "%s/diamonds.csv", root ? root : "datasets");
    bfcr_csv_params_init(&p);
    p.target = "price";
    check_same(dpath, &p, "diamonds");

    /* 2. Quoted newlines straddling the byte-range boundaries, at several sizes. */
    char *buf = malloc(1 << 20);
    char path[256];
    make_path(path, sizeof path, "tricky");
    for (int rows = 1; rows <= 41; rows += 4) {
      size_t len = tricky_text(buf, rows, -1, NULL);
      write_file(path, buf, len);
      bfcr_csv_params_init(&p);
      p.target = "y";
      char what[64];
      snprintf(what, sizeof what, "tricky rows=%d", rows);
      check_same(path, &p, what);
    }
    /* Without a final newline. */
    size_t len = tricky_text(buf, 30, -1, NULL);
    while (buf[len - 1] == '\n' || buf[len - 1] == '\r') len--;
    write_file(path, buf, len);
    check_same(path, &p, "tricky, no final newline");

    /* 3. A bad token in the last rank's part: every rank fails with one message. */
    len = tricky_text(buf, 200, 197, "abc");
    write_file(path, buf, len);
    check_same(path, &p, "bad token at the end");
    /* Two bad tokens: the earlier one wins, whichever ranks hold them. */
    len = tricky_text(buf, 200, 150, "1_000");
    char *second = strstr(buf, "\n199,");
    if (second) memcpy(second + 1, "199,x,", 6); /* turns the row ragged or bad too */
    write_file(path, buf, len);
    check_same(path, &p, "two errors");
    /* A quote that is closed much later, in another row (text after it is an error). */
    len = tricky_text(buf, 100, 60, "\"12");
    write_file(path, buf, len);
    check_same(path, &p, "quote closed in a later row");
    /* Unterminated quote in the middle: every later rank sees inverted parity; the
     * message names the opening line on every rank. */
    len = (size_t)sprintf(buf, "a,y\n");
    for (int i = 0; i < 400; i++)
      len += (size_t)sprintf(buf + len, i == 250 ? "\"%d,%d\n" : "%d,%d\n", i, i);
    write_file(path, buf, len);
    check_same(path, &p, "unterminated quote");

    /* 4. Category limit: the same position for any rank count. */
    len = (size_t)sprintf(buf, "c,y\n");
    for (int i = 0; i < 300; i++) len += (size_t)sprintf(buf + len, "v%d,%d\n", (i * 37) % 50, i);
    write_file(path, buf, len);
    bfcr_csv_params_init(&p);
    p.target = "y";
    p.max_categories = 40;
    check_same(path, &p, "category limit");
    p.max_categories = 50;
    check_same(path, &p, "category limit not reached");
    /* The category limit against an earlier syntax error. */
    len = (size_t)sprintf(buf, "c,y\n");
    for (int i = 0; i < 300; i++)
      len += (size_t)sprintf(buf + len, i == 30 ? "v%d,%d,9\n" : "v%d,%d\n", i, i);
    write_file(path, buf, len);
    p.max_categories = 100;
    check_same(path, &p, "ragged before category limit");
    p.max_categories = 20;
    check_same(path, &p, "category limit before ragged");

    /* 5. NA drop: counts and rows identical. */
    len = (size_t)sprintf(buf, "a,t,y\n");
    for (int i = 0; i < 120; i++)
      len +=
          (size_t)sprintf(buf + len, "%s,%s,%d\n", i % 9 == 0 ? "NA" : "1.5", i % 4 ? "u" : "w", i);
    write_file(path, buf, len);
    bfcr_csv_params_init(&p);
    p.target = "y";
    p.na = BFCR_NA_DROP;
    check_same(path, &p, "na drop");
    p.na = BFCR_NA_ERROR;
    check_same(path, &p, "na error");

    /* 6. Numeric rows (the fused number path), CRLF and blank lines mixed in. */
    len = (size_t)sprintf(buf, "a,b,y\n");
    for (int i = 0; i < 3000; i++)
      len += (size_t)sprintf(buf + len, "%d.%03d,%de-3,%d%s%s", i, i % 1000, -i, i % 17,
                             i % 5 ? "\n" : "\r\n", i % 11 ? "" : "\n");
    write_file(path, buf, len);
    check_same(path, &p, "numeric");

    /* 7. Fewer rows than ranks. */
    write_file(path, "a,y\n1,2\n", 8);
    check_same(path, &p, "one row");

    if (rank == 0) unlink(path);
    free(buf);
  }
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_csv");
}
