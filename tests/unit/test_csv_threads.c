/* CSV reader split over OpenMP threads inside a rank: with the part size lowered to a
 * few bytes (csv_read's min_part_bytes), files of a few hundred KB are cut into 2, 3
 * and 4 parts, and every result must equal the one-thread read bit for bit (values,
 * targets, lines, schema and category codes, dropped counts, warnings) and every error
 * must be the one-thread message (the earliest in the file wins). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv_internal.h"
#include "io/schema.h"
#include "testutil.h"

static bfcr_ctx *ctx;
static void setup(void) {
  ctx = tu_ctx();
}
static void teardown(void) {
  tu_ctx_free(&ctx);
}
TestSuite(csv_threads, .init = setup, .fini = teardown);

/* ---- text builder and a fixed random stream ---- */

typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf;

static void put(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(sbuf *b, const char *fmt, ...) {
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    cr_assert_geq(n, 0);
    if (b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    b->cap = b->cap ? 2 * b->cap + (size_t)n : 4096 + (size_t)n;
    b->p = realloc(b->p, b->cap);
    cr_assert_not_null(b->p);
  }
}

static uint64_t rng_state;
static uint64_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

static const char *file_of(const char *name, const sbuf *b) {
  const char *path = tu_write_file(name, b->p, b->len);
  cr_assert_not_null(path);
  return path;
}

/* ---- reading at a thread count, comparing with one thread ---- */

static char warn_log[4096];
static void on_log(void *user, bfcr_log_level level, const char *msg) {
  (void)user;
  if (level == BFCR_LOG_WARN) {
    size_t n = strlen(warn_log);
    snprintf(warn_log + n, sizeof warn_log - n, "%s\n", msg);
  }
}

/* Part size 1 byte: a rank's range becomes exactly `threads` parts. */
static bfcr_status read_at(const char *path, const bfcr_csv_params *p, const bfcr_schema *schema,
                           int threads, bfcr_data **out) {
  cr_assert_eq(bfcr_ctx_set_threads(ctx, threads), BFCR_OK);
  bfcr_ctx_set_log(ctx, on_log, NULL, BFCR_LOG_WARN);
  warn_log[0] = '\0';
  *out = NULL;
  return csv_read(ctx, path, p, schema, 1, out);
}

static void same_schema(const bfcr_schema *a, const bfcr_schema *b) {
  cr_assert_eq(a->ncols, b->ncols);
  cr_assert_eq(a->d, b->d);
  cr_assert_eq(a->target_col, b->target_col);
  for (int c = 0; c < a->ncols; c++) {
    cr_assert_str_eq(a->col_names[c], b->col_names[c]);
    cr_assert_eq(a->col_kind[c], b->col_kind[c]);
    cr_assert_eq(a->col_ncat[c], b->col_ncat[c]);
    for (int k = 0; k < a->col_ncat[c]; k++) cr_assert_str_eq(a->col_cats[c][k], b->col_cats[c][k]);
  }
  for (int j = 0; j < a->d; j++) {
    cr_assert_str_eq(a->feat_names[j], b->feat_names[j]);
    cr_assert_eq(a->feat_col[j], b->feat_col[j]);
    cr_assert_eq(a->feat_cat[j], b->feat_cat[j]);
  }
}

static void same_data(const bfcr_data *a, const bfcr_data *b, int threads) {
  cr_assert_eq(a->n_local, b->n_local, "rows at %d threads", threads);
  cr_assert_eq(a->n_global, b->n_global);
  cr_assert_eq(a->offset, b->offset);
  cr_assert_eq(a->d, b->d);
  cr_assert_eq(a->dropped, b->dropped, "dropped at %d threads", threads);
  size_t n = (size_t)a->n_local;
  cr_assert(memcmp(a->X, b->X, n * (size_t)a->d * sizeof(double)) == 0, "X at %d threads", threads);
  cr_assert_eq(a->y == NULL, b->y == NULL);
  if (a->y) cr_assert(memcmp(a->y, b->y, n * sizeof(double)) == 0, "y at %d threads", threads);
  cr_assert(memcmp(a->line, b->line, n * sizeof(int64_t)) == 0, "lines at %d threads", threads);
  same_schema(a->schema, b->schema);
}

/* Read at 1 thread (must succeed), then at 2, 3, 4: identical data and warnings.
 * Returns the one-thread data (caller frees). */
static bfcr_data *same_at_all_threads(const char *path, const bfcr_csv_params *p,
                                      const bfcr_schema *schema) {
  bfcr_data *ref = NULL;
  cr_assert_eq(read_at(path, p, schema, 1, &ref), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  char ref_log[sizeof warn_log];
  memcpy(ref_log, warn_log, sizeof ref_log);
  for (int t = 2; t <= 4; t++) {
    bfcr_data *d = NULL;
    cr_assert_eq(read_at(path, p, schema, t, &d), BFCR_OK, "%d threads: %s", t,
                 bfcr_ctx_errmsg(ctx));
    same_data(ref, d, t);
    cr_assert_str_eq(warn_log, ref_log, "warnings at %d threads", t);
    bfcr_data_destroy(&d);
  }
  return ref;
}

/* Read at 1..4 threads: the same failure and message every time; returns it. */
static const char *same_error_at_all_threads(const char *path, const bfcr_csv_params *p) {
  static char ref[BFCR_ERRMSG_MAX];
  bfcr_data *d = NULL;
  bfcr_status st1 = read_at(path, p, NULL, 1, &d);
  cr_assert_neq(st1, BFCR_OK);
  cr_assert_null(d);
  snprintf(ref, sizeof ref, "%s", bfcr_ctx_errmsg(ctx));
  for (int t = 2; t <= 4; t++) {
    bfcr_status st = read_at(path, p, NULL, t, &d);
    cr_assert_eq(st, st1, "status at %d threads", t);
    cr_assert_null(d);
    cr_assert_str_eq(bfcr_ctx_errmsg(ctx), ref, "message at %d threads", t);
  }
  return ref;
}

static void expect_message(const char *path, const bfcr_csv_params *p, const char *tail) {
  char want[BFCR_ERRMSG_MAX];
  snprintf(want, sizeof want, "%s:%s", path, tail);
  cr_assert_str_eq(same_error_at_all_threads(path, p), want);
}

static bfcr_csv_params target(const char *t) {
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  p.target = t;
  return p;
}

/* Header length (bytes up to the first LF, included) and the part boundaries that
 * csv_find_records uses on one rank: is boundary k of T inside a quoted field? */
static int boundary_in_quotes(const sbuf *b, int T) {
  const char *nl = memchr(b->p, '\n', b->len);
  int64_t begin = nl - b->p + 1, span = (int64_t)b->len - begin;
  int inside = 0;
  for (int k = 1; k < T; k++) {
    int64_t at = begin + (span / T) * k + ((span % T) * k) / T;
    long q = 0;
    for (int64_t i = begin; i < at; i++) q += b->p[i] == '"';
    inside += (int)(q & 1);
  }
  return inside;
}

/* ---- the split itself ---- */

Test(csv_threads, scan_cuts_the_range_into_thread_parts) {
  sbuf b = {0};
  put(&b, "a,b\n");
  for (int i = 0; i < 1000; i++) put(&b, "%d,%d\n%s", i, 2 * i, i % 7 == 0 ? "\n" : "");
  const char *path = file_of("parts.csv", &b);
  csv_src src;
  cr_assert_eq(csv_open(ctx, path, &src), BFCR_OK);
  for (int T = 1; T <= 4; T++) {
    csv_range r;
    cr_assert_eq(csv_find_records(ctx, &src, 4, 0, T, 1, &r), BFCR_OK);
    cr_assert_eq(r.nparts, T);
    cr_assert_eq(r.records, 1000);
    int64_t sum = 0;
    for (int k = 0; k < T; k++) {
      cr_assert_eq(r.part[k].row0, sum);
      cr_assert_gt(r.part[k].records, 0);
      /* The part starts at a record: the line number matches the bytes before it. */
      int64_t lines = 1;
      for (int64_t i = 0; i < r.part[k].start; i++) lines += b.p[i] == '\n';
      cr_assert_eq(r.part[k].line, lines);
      sum += r.part[k].records;
    }
    csv_range_free(&r);
  }
  /* Parts below the minimum size are not cut: the default keeps this file whole. */
  csv_range r;
  cr_assert_eq(csv_find_records(ctx, &src, 4, 0, 4, CSV_PART_MIN_BYTES, &r), BFCR_OK);
  cr_assert_eq(r.nparts, 1);
  csv_range_free(&r);
  cr_assert_eq(csv_find_records(ctx, &src, 4, 0, 3, (int64_t)b.len / 2, &r), BFCR_OK);
  cr_assert_eq(r.nparts, 1);
  csv_range_free(&r);
  csv_close(&src);
  free(b.p);
}

/* ---- identical results ---- */

Test(csv_threads, numeric_rows_are_bit_identical) {
  sbuf b = {0};
  rng_state = 0x9e3779b97f4a7c15ull;
  put(&b, "x1,x2,x3,y\n");
  for (int i = 0; i < 20000; i++) {
    /* Mixed spellings: fast path, extended path, exponents, signed zeros, CRLF. */
    put(&b, "%.17g,%lld.%03d,%de%d,%s%s", (double)(rnd() % 1000000) / 7.0,
        (long long)(rnd() % 100000) - 50000, (int)(rnd() % 1000), (int)(rnd() % 999),
        (int)(rnd() % 40) - 20, i % 5 == 0 ? "-0" : "0.1", i % 3 == 0 ? "\r\n" : "\n");
    if (i % 997 == 0) put(&b, "\n");
  }
  const char *path = file_of("num.csv", &b);
  bfcr_csv_params p = target("y");
  bfcr_data *d = same_at_all_threads(path, &p, NULL);
  cr_assert_eq(d->n_local, 20000);
  bfcr_data_destroy(&d);
  free(b.p);
}

Test(csv_threads, quoted_newlines_and_commas_across_part_boundaries) {
  sbuf b = {0};
  rng_state = 12345;
  put(&b, "id,note,color,y\n");
  for (int i = 0; i < 3000; i++) {
    /* A long quoted note with LF, CRLF, commas and "" so part cuts land inside
     * quotes; a quoted category; a quoted number. */
    put(&b, "%d,\"line one, with a comma\nline \"\"two\"\"\r\n", i);
    for (int k = 0; k < (int)(rnd() % 6); k++) put(&b, "more,\n");
    put(&b, "end\",\"%s\",\"%d.5\"\n", (const char *[]){"red", "gre,en", "bl\nue"}[rnd() % 3],
        (int)(rnd() % 1000));
  }
  cr_assert_geq(boundary_in_quotes(&b, 2) + boundary_in_quotes(&b, 3) + boundary_in_quotes(&b, 4),
                3, "the test must cut inside quoted fields");
  const char *path = file_of("quoted.csv", &b);
  bfcr_csv_params p = target("y");
  const char *feats[] = {"id", "color", NULL};
  p.features = feats; /* note: ignored, yet must be well-formed CSV */
  bfcr_data *d = same_at_all_threads(path, &p, NULL);
  cr_assert_eq(d->n_local, 3000);
  cr_assert_eq(d->d, 1 + 3);
  bfcr_data_destroy(&d);
  free(b.p);
}

/* Categories that first appear in later parts, repeated ones, and (NA drop) values
 * only in dropped rows, which must not become categories. */
static void categories_file(sbuf *b, int rows, int ncat) {
  rng_state = 777;
  put(b, "city,x,shade,y\n");
  for (int i = 0; i < rows; i++) {
    int c = (int)(rnd() % (uint64_t)(1 + i * ncat / rows)); /* new values keep arriving */
    int drop = i % 13 == 5;
    put(b, "c%03d,%d,%s,%s\n", c, i, drop ? "only-in-dropped" : (i % 2 ? "dark" : "light"),
        drop ? "NA" : "1.25");
  }
}

Test(csv_threads, text_columns_give_the_same_category_codes) {
  sbuf b = {0};
  categories_file(&b, 8000, 300);
  const char *path = file_of("cats.csv", &b);
  bfcr_csv_params p = target("y");
  p.na = BFCR_NA_DROP;
  bfcr_data *d = same_at_all_threads(path, &p, NULL);
  cr_assert_gt(d->dropped, 0);
  cr_assert_eq(d->n_local + d->dropped, 8000);
  const bfcr_schema *S = d->schema;
  cr_assert_eq(S->col_ncat[2], 2, "a value seen only in dropped rows is no category");
  cr_assert_gt(S->col_ncat[0], 100);

  /* Predict with that schema at every thread count: same X and unseen warning. */
  sbuf q = {0};
  put(&q, "city,x,shade\n");
  for (int i = 0; i < 6000; i++)
    put(&q, "%s,%d,%s\n", i % 11 == 0 ? "nowhere" : "c001", i, i % 17 == 0 ? "pale" : "dark");
  const char *qpath = file_of("cats_predict.csv", &q);
  bfcr_data *pd = same_at_all_threads(qpath, &p, S);
  cr_assert(strstr(warn_log, "values of categories unseen at fit") != NULL);
  bfcr_data_destroy(&pd);
  bfcr_data_destroy(&d);
  free(q.p);
  free(b.p);
}

Test(csv_threads, missing_value_policies) {
  sbuf b = {0};
  put(&b, "a,b,y\n");
  for (int i = 0; i < 5000; i++) {
    const char *a = i % 101 == 0 ? "" : i % 103 == 0 ? "NULL" : "3.5";
    put(&b, "%s,%d,%s\n", a, i, i % 211 == 0 ? "\"\"" : "2");
  }
  const char *path = file_of("na.csv", &b);
  bfcr_csv_params p = target("y");
  p.na = BFCR_NA_DROP;
  bfcr_data *d = same_at_all_threads(path, &p, NULL);
  cr_assert_gt(d->dropped, 40);
  bfcr_data_destroy(&d);
  p.na = BFCR_NA_ERROR; /* the first missing value, line 2 */
  expect_message(path, &p, "2:1: expected a value, found an empty field (missing value)");
  free(b.p);
}

/* ---- the earliest error wins ---- */

/* Rows with a planted fault at row `early` (if >= 0) and at row `late`. */
static const char *faulty_file(const char *name, int rows, int early, const char *early_row,
                               int late, const char *late_row) {
  sbuf b = {0};
  put(&b, "x,y\n");
  for (int i = 0; i < rows; i++) {
    if (i == early)
      put(&b, "%s\n", early_row);
    else if (i == late)
      put(&b, "%s\n", late_row);
    else
      put(&b, "%d.25,%d\n", i, i % 10);
  }
  const char *path = file_of(name, &b);
  free(b.p);
  return path;
}

Test(csv_threads, earlier_error_wins_over_a_later_part) {
  bfcr_csv_params p = target("y");
  /* Row i sits on line i + 2. Late fault in the last part, early one in the first or
   * second: the early one must be reported at every thread count. */
  const char *path = faulty_file("err1.csv", 10000, 4000, "abc,1", 9500, "1,2,3");
  expect_message(path, &p, "4002:1: expected a number, found \"abc\"");
  path = faulty_file("err2.csv", 10000, 200, "1,2,3", 9000, "abc,1");
  expect_message(path, &p, "202:3: expected 2 fields, found 3");
  path = faulty_file("err3.csv", 10000, 6000, "1e999,1", 8000, "x\"y,1");
  expect_message(path, &p,
                 "6002:1: expected a finite number, found \"1e999\" (overflows a double)");
  /* Only the late fault. */
  path = faulty_file("err4.csv", 10000, -1, "", 9990, "1,2\r3");
  expect_message(path, &p, "9992:2: expected a line feed after a carriage return, found '3'");
  /* A stray quote early misleads the scan of every later part; still the early one. */
  path = faulty_file("err5.csv", 10000, 1500, "1\"5,2", 7000, "nan,1");
  expect_message(path, &p,
                 "1502:1: expected a quote only at the start of a field, found one inside an "
                 "unquoted field");
  /* An unterminated quote near the end swallows the rest of the file. */
  path = faulty_file("err6.csv", 10000, 3000, "1,\"2", 9000, "abc,1");
  expect_message(path, &p,
                 "3002:2: expected a closing quote for the field opened here, found end of file");
}

Test(csv_threads, category_limit_against_parse_errors) {
  /* Column "c" reaches its 51st distinct value at row 6000; a parse error at row 8000
   * (after) loses, one at row 1000 (before) wins. */
  for (int variant = 0; variant < 3; variant++) {
    sbuf b = {0};
    put(&b, "c,x,y\n");
    for (int i = 0; i < 10000; i++) {
      int c = i < 6000 ? i % 50 : i - 5950; /* new values from row 6000 on */
      if ((variant == 1 && i == 8000) || (variant == 2 && i == 1000))
        put(&b, "k%d,oops,1\n", c);
      else
        put(&b, "k%d,%d,1\n", c, i);
    }
    const char *path = file_of("catlimit.csv", &b);
    free(b.p);
    bfcr_csv_params p = target("y");
    p.max_categories = 50;
    if (variant < 2)
      expect_message(path, &p,
                     "6002:1: expected at most 50 categories in column \"c\", found more "
                     "(category 51 is \"k50\")");
    else
      expect_message(path, &p, "1002:2: expected a number, found \"oops\"");
  }
}

Test(csv_threads, category_limit_reached_inside_every_part) {
  /* Every part alone holds more than max_categories values: the merged position is
   * still the first occurrence of the 31st value in file order. */
  sbuf b = {0};
  put(&b, "c,y\n");
  for (int i = 0; i < 4000; i++) put(&b, "v%d,1\n", (i * 7919) % 4000);
  const char *path = file_of("catmany.csv", &b);
  free(b.p);
  bfcr_csv_params p = target("y");
  p.max_categories = 30;
  expect_message(path, &p,
                 "32:1: expected at most 30 categories in column \"c\", found more (category 31 "
                 "is \"v1570\")");
}
