/* bfcr split: a seeded random train/test split of a CSV file.
 *
 * Row i (0-based, header and blank lines not counted) goes to the test file iff
 *   u = splitmix64(splitmix64(seed) + i),  (u >> 11) * 2^-53 < fraction,
 * so a row's side depends only on (seed, i) and the split is reproducible anywhere.
 * Records are RFC 4180 records (a quoted field may hold newlines) and are copied byte
 * for byte; the header goes to both files; blank lines are dropped. Both outputs are
 * written to temporary files and renamed only after the whole input was read.
 * Single process: under mpirun rank 0 works and the other ranks wait for its code. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"
#include "atomic.h"
#include "options.h"

static uint64_t splitmix64(uint64_t x) {
  x += UINT64_C(0x9E3779B97F4A7C15);
  x = (x ^ (x >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  x = (x ^ (x >> 27)) * UINT64_C(0x94D049BB133111EB);
  return x ^ (x >> 31);
}

typedef struct splitter {
  app_atomic train, test;
  uint64_t key; /* splitmix64(seed) */
  double fraction;
  int have_header;
  int64_t rows, ntest;
  char *rec;
  size_t len, cap;
} splitter;

static int is_blank(const char *r, size_t n) {
  return (n == 1 && r[0] == '\n') || (n == 2 && r[0] == '\r' && r[1] == '\n') ||
         (n == 1 && r[0] == '\r');
}

static void emit(splitter *s) {
  if (s->len == 0 || is_blank(s->rec, s->len)) {
    s->len = 0;
    return;
  }
  if (!s->have_header) {
    fwrite(s->rec, 1, s->len, s->train.f);
    fwrite(s->rec, 1, s->len, s->test.f);
    s->have_header = 1;
  } else {
    uint64_t u = splitmix64(s->key + (uint64_t)s->rows);
    int to_test = (double)(u >> 11) * 0x1p-53 < s->fraction;
    fwrite(s->rec, 1, s->len, to_test ? s->test.f : s->train.f);
    s->ntest += to_test;
    s->rows++;
  }
  s->len = 0;
}

/* Returns an exit code; the message is printed here (only rank 0 runs this). */
static int split_file(app *a, splitter *s, const char *in) {
  FILE *f = fopen(in, "rb");
  if (!f) return app_fail(a, BFCR_ERR_IO, "%s: cannot open: %s", in, strerror(errno));
  enum { CHUNK = 1 << 16 };
  char *buf = malloc(CHUNK);
  if (!buf) {
    fclose(f);
    return app_fail(a, BFCR_ERR_NOMEM, "out of memory");
  }
  int in_quote = 0, rc = APP_EXIT_OK;
  int64_t line = 1, col = 0, qline = 0, qcol = 0;
  size_t got;
  while (rc == APP_EXIT_OK && (got = fread(buf, 1, CHUNK, f)) > 0) {
    if (s->len + got > s->cap) {
      size_t cap = s->cap ? s->cap : CHUNK;
      while (cap < s->len + got) cap *= 2;
      char *r = realloc(s->rec, cap);
      if (!r) {
        rc = app_fail(a, BFCR_ERR_NOMEM, "out of memory for a record of %s", in);
        break;
      }
      s->rec = r;
      s->cap = cap;
    }
    for (size_t i = 0; i < got; i++) {
      char c = buf[i];
      s->rec[s->len++] = c;
      col++;
      if (c == '"') {
        in_quote = !in_quote;
        if (in_quote) {
          qline = line;
          qcol = col;
        }
      } else if (c == '\n') {
        line++;
        col = 0;
        if (!in_quote) emit(s);
      }
    }
  }
  if (rc == APP_EXIT_OK && ferror(f))
    rc = app_fail(a, BFCR_ERR_IO, "%s: read failed: %s", in, strerror(errno));
  if (rc == APP_EXIT_OK && in_quote)
    rc = app_fail(a, BFCR_ERR_INPUT,
                  "%s:%lld:%lld: expected a closing quote for the field opened here, found the "
                  "end of the file",
                  in, (long long)qline, (long long)qcol);
  if (rc == APP_EXIT_OK) emit(s);
  if (rc == APP_EXIT_OK && !s->have_header)
    rc = app_fail(a, BFCR_ERR_INPUT, "%s:1:1: expected a header line, found an empty file", in);
  free(buf);
  fclose(f);
  return rc;
}

static int run_split(app *a, const char *in, const char *train, const char *test, double fraction,
                     uint64_t seed) {
  splitter s;
  memset(&s, 0, sizeof s);
  s.key = splitmix64(seed);
  s.fraction = fraction;
  char err[512];
  if (app_atomic_open(&s.train, train, err, sizeof err) != 0)
    return app_fail(a, BFCR_ERR_IO, "%s", err);
  if (app_atomic_open(&s.test, test, err, sizeof err) != 0) {
    app_atomic_abort(&s.train);
    return app_fail(a, BFCR_ERR_IO, "%s", err);
  }
  int rc = split_file(a, &s, in);
  free(s.rec);
  /* Catch a full disk on either file before renaming any. */
  if (rc == APP_EXIT_OK && (fflush(s.train.f) != 0 || ferror(s.train.f)))
    rc = app_fail(a, BFCR_ERR_IO, "%s: write failed: %s", train, strerror(errno));
  if (rc == APP_EXIT_OK && (fflush(s.test.f) != 0 || ferror(s.test.f)))
    rc = app_fail(a, BFCR_ERR_IO, "%s: write failed: %s", test, strerror(errno));
  if (rc == APP_EXIT_OK && app_atomic_commit(&s.train, err, sizeof err) != 0)
    rc = app_fail(a, BFCR_ERR_IO, "%s", err);
  if (rc == APP_EXIT_OK && app_atomic_commit(&s.test, err, sizeof err) != 0)
    rc = app_fail(a, BFCR_ERR_IO, "%s", err);
  app_atomic_abort(&s.train);
  app_atomic_abort(&s.test);
  if (rc == APP_EXIT_OK)
    printf("bfcr split: %s: %lld rows -> %s (%lld rows), %s (%lld rows)\n", in, (long long)s.rows,
           train, (long long)(s.rows - s.ntest), test, (long long)s.ntest);
  return rc;
}

int cmd_split(app *a, int argc, char **argv) {
  const char *train = NULL, *test = NULL;
  double fraction = 0.2;
  uint64_t seed = 1;
  app_opt opts[] = {
      {.name = "--train",
       .metavar = "A.csv",
       .kind = APP_OPT_STRING,
       .dest = &train,
       .help = "training rows file to write",
       .required = 1},
      {.name = "--test",
       .metavar = "B.csv",
       .kind = APP_OPT_STRING,
       .dest = &test,
       .help = "test rows file to write",
       .required = 1},
      {.name = "--test-fraction",
       .metavar = "F",
       .kind = APP_OPT_DOUBLE,
       .dest = &fraction,
       .help = "expected share of rows in the test file",
       .min = 0,
       .max = 1},
      {.name = "--seed",
       .metavar = "S",
       .kind = APP_OPT_U64,
       .dest = &seed,
       .help = "seed of the split"},
  };
  static const char *const pos_names[] = {"DATA.csv"};
  const char *pos[1] = {NULL};
  app_cmd_spec spec = {
      .name = "split",
      .usage = "DATA.csv --train A.csv --test B.csv [--test-fraction F] [--seed S]",
      .summary =
          "Split the rows of DATA.csv at random (seeded) into two CSV files, each with the\n"
          "header; rows are copied byte for byte, in input order.",
      .pos_names = pos_names,
      .npos = 1,
      .pos = pos,
      .opts = opts,
      .nopts = (int)(sizeof opts / sizeof opts[0]),
      .epilog =
          "Row i (0-based, header and blank lines not counted) goes to the test file iff\n"
          "(splitmix64(splitmix64(seed) + i) >> 11) * 2^-53 < F: the split depends on\n"
          "(seed, i) only.\n",
  };
  int pr = app_parse(&spec, argc, argv, a->rank);
  if (pr != APP_PARSE_OK) return pr == APP_PARSE_HELP ? APP_EXIT_OK : APP_EXIT_USAGE;
  if (strcmp(train, test) == 0) {
    app_usage_error(&spec, a->rank, "--train and --test name the same file '%s'", train);
    return APP_EXIT_USAGE;
  }
  int rc = APP_EXIT_OK;
  if (a->rank == 0) rc = run_split(a, pos[0], train, test, fraction, seed);
  return app_bcast_code(rc);
}
