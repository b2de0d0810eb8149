/* CSV reader on one rank: accepted forms, encoding, policies, and every input error
 * with its exact `path:line:column:` message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/schema.h"
#include "testutil.h"

static bfcr_ctx *ctx;
static void setup(void) {
  ctx = tu_ctx();
}
static void teardown(void) {
  tu_ctx_free(&ctx);
}
TestSuite(csv, .init = setup, .fini = teardown);

static const char *file_of(const char *text) {
  return tu_write_file("t.csv", text, strlen(text));
}

static bfcr_csv_params target(const char *t) {
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  p.target = t;
  return p;
}

static bfcr_data *read_ok(const char *text, const bfcr_csv_params *p) {
  bfcr_data *d = NULL;
  const char *path = file_of(text);
  bfcr_status st = bfcr_data_read_csv(ctx, path, p, NULL, &d);
  cr_assert_eq(st, BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_not_null(d);
  return d;
}

/* The whole message must be "<path>:<rest>". */
static void read_err_len(const char *text, size_t len, const bfcr_csv_params *p,
                         const bfcr_schema *schema, bfcr_status code, const char *rest) {
  bfcr_data *d = NULL;
  const char *path = tu_write_file("t.csv", text, len);
  bfcr_status st = bfcr_data_read_csv(ctx, path, p, schema, &d);
  cr_assert_eq(st, code, "status %d, message: %s", (int)st, bfcr_ctx_errmsg(ctx));
  cr_assert_null(d);
  char want[2048];
  snprintf(want, sizeof want, "%s:%s", path, rest);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), want);
}

static void read_err(const char *text, const bfcr_csv_params *p, const char *rest) {
  read_err_len(text, strlen(text), p, NULL, BFCR_ERR_INPUT, rest);
}

static void expect_rows(const bfcr_data *d, int64_t n, int dd, const double *X, const double *y) {
  cr_assert_eq(d->n_local, n);
  cr_assert_eq(d->n_global, n);
  cr_assert_eq(d->offset, 0);
  cr_assert_eq(d->d, dd);
  for (int64_t i = 0; i < n * dd; i++) cr_assert_eq(d->X[i], X[i], "X[%lld]", (long long)i);
  if (y)
    for (int64_t i = 0; i < n; i++) cr_assert_eq(d->y[i], y[i], "y[%lld]", (long long)i);
}

/* ------------------------------------------------------------- accepted ---- */

Test(csv, basic_target_and_lines) {
  bfcr_csv_params p = target("y");
  bfcr_data *d = read_ok("a,b,y\n1,2,3\n4.5,-5e1,6\n", &p);
  const double X[] = {1, 2, 4.5, -50}, y[] = {3, 6};
  expect_rows(d, 2, 2, X, y);
  cr_assert_eq(d->line[0], 2);
  cr_assert_eq(d->line[1], 3);
  cr_assert_str_eq(bfcr_schema_target(d->schema), "y");
  cr_assert_str_eq(bfcr_schema_feature_name(d->schema, 1), "b");
  cr_assert_eq(bfcr_data_features(d), 2);
  cr_assert_eq(bfcr_data_global_rows(d), 2);
  bfcr_data_destroy(&d);
  cr_assert_null(d);
}

Test(csv, line_endings_bom_and_final_newline_are_equivalent) {
  const char *forms[] = {"a,y\n1,2\n3,4\n",
                         "a,y\r\n1,2\r\n3,4\r\n",
                         "a,y\n1,2\n3,4",
                         "a,y\r\n1,2\r\n3,4",
                         "\xef\xbb\xbf"
                         "a,y\n1,2\n3,4\n",
                         "\xef\xbb\xbf"
                         "a,y\r\n1,2\r\n3,4"};
  const double X[] = {1, 3}, y[] = {2, 4};
  for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
    bfcr_csv_params p = target("y");
    bfcr_data *d = read_ok(forms[k], &p);
    expect_rows(d, 2, 1, X, y);
    cr_assert_eq(d->line[1], 3);
    cr_assert_str_eq(d->schema->col_names[0], "a");
    bfcr_data_destroy(&d);
  }
}

Test(csv, no_target_all_features) {
  bfcr_data *d = read_ok("a,b\n1,2\n", NULL);
  const double X[] = {1, 2};
  expect_rows(d, 1, 2, X, NULL);
  cr_assert_null(bfcr_data_y(d));
  cr_assert_null(bfcr_schema_target(d->schema));
  bfcr_data_destroy(&d);
}

Test(csv, quoted_fields) {
  bfcr_csv_params p = target("y");
  /* Quoted header names (comma inside), quoted numbers, "" escapes, quoted newline. */
  bfcr_data *d = read_ok(
      "\"a,1\",\"t\",y\n\"1\",\"he said \"\"hi\"\"\",3\n2,\"x\ny\",4\n"
      "\"3\",\"\"\"\",5\n",
      &p);
  cr_assert_str_eq(d->schema->col_names[0], "a,1");
  cr_assert_eq(d->schema->col_kind[1], BFCR_COL_TEXT);
  cr_assert_eq(d->schema->col_ncat[1], 3);
  /* strcmp order: "\"" < "he said \"hi\"" < "x\ny" */
  cr_assert_str_eq(d->schema->col_cats[1][0], "\"");
  cr_assert_str_eq(d->schema->col_cats[1][1], "he said \"hi\"");
  cr_assert_str_eq(d->schema->col_cats[1][2], "x\ny");
  const double X[] = {1, 0, 1, 0, 2, 0, 0, 1, 3, 1, 0, 0}, y[] = {3, 4, 5};
  expect_rows(d, 3, 4, X, y);
  cr_assert_eq(d->line[0], 2);
  cr_assert_eq(d->line[1], 3);
  cr_assert_eq(d->line[2], 5); /* the quoted newline took a line */
  bfcr_data_destroy(&d);
}

Test(csv, blank_lines_are_skipped_everywhere) {
  bfcr_csv_params p = target("y");
  bfcr_data *d = read_ok("a,y\n\n1,2\r\n\r\n\n3,4\n\n\r\n\n", &p);
  const double X[] = {1, 3}, y[] = {2, 4};
  expect_rows(d, 2, 1, X, y);
  cr_assert_eq(d->line[0], 3);
  cr_assert_eq(d->line[1], 6);
  bfcr_data_destroy(&d);
  /* A quoted empty field is not a blank line: it is a missing value. */
  read_err("a\n1\n\"\"\n", NULL, "3:1: expected a value, found an empty field (missing value)");
}

Test(csv, onehot_layout_sorted_categories) {
  bfcr_csv_params p = target("price");
  bfcr_data *d = read_ok("carat,cut,price\n0.2,Ideal,1\n0.3,Good,2\n0.4,Ideal,3\n0.5,Fair,4\n", &p);
  const bfcr_schema *s = d->schema;
  cr_assert_eq(s->d, 4);
  const char *names[] = {"carat", "cut=Fair", "cut=Good", "cut=Ideal"};
  const int fcol[] = {0, 1, 1, 1}, fcat[] = {-1, 0, 1, 2};
  for (int j = 0; j < 4; j++) {
    cr_assert_str_eq(s->feat_names[j], names[j]);
    cr_assert_eq(s->feat_col[j], fcol[j]);
    cr_assert_eq(s->feat_cat[j], fcat[j]);
  }
  cr_assert_eq(s->col_kind[2], BFCR_COL_TARGET);
  cr_assert_eq(s->target_col, 2);
  const double X[] = {0.2, 0, 0, 1, 0.3, 0, 1, 0, 0.4, 0, 0, 1, 0.5, 1, 0, 0};
  const double y[] = {1, 2, 3, 4};
  expect_rows(d, 4, 4, X, y);
  bfcr_data_destroy(&d);
}

Test(csv, numbers_in_a_text_column_are_categories) {
  bfcr_data *d = read_ok("c\nred\n3\n3.0\n", NULL);
  cr_assert_eq(d->schema->col_ncat[0], 3); /* "3" < "3.0" < "red" */
  cr_assert_str_eq(d->schema->feat_names[1], "c=3.0");
  bfcr_data_destroy(&d);
}

Test(csv, integer_and_decimal_spellings_agree) {
  bfcr_data *d = read_ok("a,b,c\n3,3.0,30e-1\n", NULL);
  cr_assert(memcmp(&d->X[0], &d->X[1], sizeof(double)) == 0);
  cr_assert(memcmp(&d->X[0], &d->X[2], sizeof(double)) == 0);
  bfcr_data_destroy(&d);
}

Test(csv, features_list_ignores_the_rest) {
  bfcr_csv_params p = target("y");
  const char *feats[] = {"c", "a", NULL};
  p.features = feats;
  /* Column b is ignored: anything goes there, even NA and text. */
  bfcr_data *d = read_ok("a,b,c,y\n1,NA,2,3\n4,xyz,5,6\n", &p);
  cr_assert_eq(d->schema->col_kind[1], BFCR_COL_IGNORED);
  const double X[] = {1, 2, 4, 5}, y[] = {3, 6}; /* header order, not list order */
  expect_rows(d, 2, 2, X, y);
  bfcr_data_destroy(&d);
  read_err("a,b,y\n1,2,3\n",
           &(bfcr_csv_params){.target = "y",
                              .features = (const char *const[]){"zz", NULL},
                              .max_line_bytes = 100,
                              .max_columns = 10,
                              .max_categories = 10},
           "1: expected a column named \"zz\" (listed in features), found none");
}

Test(csv, na_drop_policy) {
  bfcr_csv_params p = target("y");
  p.na = BFCR_NA_DROP;
  bfcr_data *d = read_ok(
      "a,t,y\n1,u,2\nNA,v,3\n4,N/A,5\n6,w,\n7,u,8\n9,\"NULL\",1\n10,w,null\n"
      "11,nan,1\n12,NaN,1\n13,v,14\n",
      &p);
  cr_assert_eq(d->dropped, 7);
  cr_assert_eq(d->n_global, 3);
  cr_assert_eq(d->line[0], 2);
  cr_assert_eq(d->line[1], 6);
  cr_assert_eq(d->line[2], 11);
  /* Categories come from kept rows only: u, v (w appears only in dropped rows). */
  cr_assert_eq(d->schema->col_ncat[1], 2);
  const double X[] = {1, 1, 0, 7, 1, 0, 13, 0, 1}, y[] = {2, 8, 14};
  expect_rows(d, 3, 3, X, y);
  bfcr_data_destroy(&d);
  read_err("a,y\nNA,1\n", &p,
           " expected at least one data row, found 0 samples after "
           "dropping 1 rows with missing values");
}

Test(csv, text_error_policy) {
  bfcr_csv_params p = target("y");
  p.text = BFCR_TEXT_ERROR;
  read_err("a,c,y\n1,red,2\n", &p, "2:2: expected a number, found \"red\"");
}

Test(csv, diamonds_dataset) {
  bfcr_csv_params p = target("price");
  bfcr_data *d = NULL;
  cr_assert_eq(bfcr_data_read_csv(ctx, tu_dataset("diamonds.csv"), &p, NULL, &d), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(d->n_global, 53940);
  cr_assert_eq(d->d, 6 + 5 + 7 + 8);
  cr_assert_str_eq(d->schema->feat_names[1], "cut=Fair");
  cr_assert_str_eq(d->schema->feat_names[5], "cut=Very Good");
  /* Row 1: 0.23,Ideal,E,SI2,61.5,55.0,326,3.95,3.98,2.43 */
  cr_assert_eq(d->X[0], 0.23);
  cr_assert_eq(d->X[3], 1.0); /* cut=Ideal (Fair, Good, Ideal, ...) */
  cr_assert_eq(d->X[2] + d->X[4] + d->X[5], 0.0);
  cr_assert_eq(d->y[0], 326);
  double rowsum = 0;
  for (int j = 0; j < d->d; j++) rowsum += d->X[(int64_t)7 * d->d + j] != 0;
  cr_assert_eq(rowsum, 6 + 3); /* 6 nonzero numbers, one indicator per text column */
  bfcr_data_destroy(&d);
}

/* --------------------------------------------------------------- predict ---- */

static bfcr_data *fit_small(void) {
  bfcr_csv_params p = target("y");
  return read_ok("a,cut,y,b\n1,Good,2,3\n4,Ideal,5,6\n", &p);
}

Test(csv, predict_with_and_without_target) {
  bfcr_data *fit = fit_small();
  bfcr_data *d = NULL;
  bfcr_csv_params p = target("ignored-at-predict");
  const char *path = file_of("a,cut,y,b\n7,Ideal,8,9\n");
  cr_assert_eq(bfcr_data_read_csv(ctx, path, &p, fit->schema, &d), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  const double X1[] = {7, 0, 1, 9}, y1[] = {8};
  expect_rows(d, 1, 4, X1, y1);
  bfcr_data_destroy(&d);
  path = file_of("a,cut,b\n7,Good,9\n");
  cr_assert_eq(bfcr_data_read_csv(ctx, path, NULL, fit->schema, &d), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  const double X2[] = {7, 1, 0, 9};
  expect_rows(d, 1, 4, X2, NULL);
  cr_assert_null(d->y);
  bfcr_data_destroy(&d);
  bfcr_data_destroy(&fit);
}

static int warnings;
static char last_warning[1024];
static void log_hook(void *u, bfcr_log_level lv, const char *msg) {
  (void)u;
  if (lv == BFCR_LOG_WARN) {
    warnings++;
    snprintf(last_warning, sizeof last_warning, "%s", msg);
  }
}

Test(csv, predict_unseen_category_is_all_zero_and_warned) {
  bfcr_data *fit = fit_small();
  bfcr_ctx_set_log(ctx, log_hook, NULL, BFCR_LOG_WARN);
  bfcr_data *d = NULL;
  const char *path = file_of("a,cut,b\n7,Premium,9\n8,Good,1\n7,Premium,9\n");
  cr_assert_eq(bfcr_data_read_csv(ctx, path, NULL, fit->schema, &d), BFCR_OK);
  const double X[] = {7, 0, 0, 9, 8, 1, 0, 1, 7, 0, 0, 9};
  expect_rows(d, 3, 4, X, NULL);
  cr_assert_eq(warnings, 1);
  char want[1200];
  snprintf(want, sizeof want,
           "%s: column \"cut\": 2 values of categories unseen at fit (encoded as all indicators 0)",
           path);
  cr_assert_str_eq(last_warning, want);
  bfcr_data_destroy(&d);
  bfcr_data_destroy(&fit);
}

Test(csv, predict_header_mismatches) {
  bfcr_data *fit = fit_small();
  const bfcr_schema *s = fit->schema;
  const char *t;
  t = "a,b,cut\n1,2,Good\n";
  read_err_len(t, strlen(t), NULL, s, BFCR_ERR_INPUT,
               "1:2: expected column 2 \"cut\", found \"b\"");
  t = "a,Cut,y,b\n1,Good,2,3\n";
  read_err_len(t, strlen(t), NULL, s, BFCR_ERR_INPUT,
               "1:2: expected column 2 \"cut\", found \"Cut\"");
  t = "a,cut\n1,Good\n";
  read_err_len(t, strlen(t), NULL, s, BFCR_ERR_INPUT,
               "1:3: expected column 3 \"b\", found the end of the header");
  t = "a,cut,y,b,extra\n1,Good,2,3,4\n";
  read_err_len(t, strlen(t), NULL, s, BFCR_ERR_INPUT,
               "1:5: expected the end of the header after 4 columns, found \"extra\"");
  t = "a,cut,b,y\n1,Good,3,2\n";
  read_err_len(t, strlen(t), NULL, s, BFCR_ERR_INPUT,
               "1:4: expected the end of the header after 3 columns, found \"y\"");
  bfcr_data_destroy(&fit);
}

/* ---------------------------------------------------------------- errors ---- */

Test(csv, ragged_rows) {
  read_err("a,b\n1,2\n3,4,5\n", NULL, "3:3: expected 2 fields, found 3");
  read_err("a,b\n1,2\n3\n", NULL, "3:2: expected 2 fields, found 1");
  read_err("a,b\n1,2\n3,4,\n", NULL, "3:3: expected 2 fields, found 3");
}

Test(csv, unterminated_quote_names_the_opening_line) {
  read_err("a,b\n1,2\n3,\"4\n5,6\n7,8\n", NULL,
           "3:2: expected a closing quote for the field opened here, found end of file");
}

Test(csv, text_after_closing_quote) {
  read_err("a,b\n\"1\"x,2\n", NULL,
           "2:1: expected a comma or a line end after a closing quote, found 'x'");
  read_err("a,b\n1,\"2\" \n", NULL,
           "2:2: expected a comma or a line end after a closing quote, found ' '");
}

Test(csv, stray_quote_and_bare_cr) {
  read_err("a,b\n1,2\"3\n", NULL,
           "2:2: expected a quote only at the start of a field, found one inside an unquoted "
           "field");
  read_err("a,b\n1,2\r3\n", NULL, "2:2: expected a line feed after a carriage return, found '3'");
}

Test(csv, header_errors) {
  read_err("a,b,a\n1,2,3\n", NULL,
           "1:3: expected a unique column name, found \"a\" again (first in column 1)");
  read_err("a,,c\n1,2,3\n", NULL, "1:2: expected a column name, found an empty field");
  read_err("a,b\xff\n1,2\n", NULL, "1:2: expected a valid UTF-8 column name, found byte 0xff");
  read_err("a,\xc3\x28\n1,2\n", NULL, "1:2: expected a valid UTF-8 column name, found byte 0xc3");
  read_err("\na,b\n1,2\n", NULL, "1:1: expected a header line, found an empty line");
  bfcr_data *d = read_ok("caf\xc3\xa9,b\n1,2\n", NULL); /* valid UTF-8 is fine */
  bfcr_data_destroy(&d);
}

Test(csv, nul_byte) {
  read_err_len("a,b\n1,\0\n", 8, NULL, NULL, BFCR_ERR_INPUT,
               "2:2: expected text, found a NUL byte");
  read_err_len("a,b\n1,\"x\0\"\n", 11, NULL, NULL, BFCR_ERR_INPUT,
               "2:2: expected text, found a NUL byte");
}

Test(csv, empty_files) {
  read_err("", NULL, "1:1: expected a header line, found an empty file");
  read_err("\xef\xbb\xbf", NULL,
           "1:1: expected a header line, found an empty file (only a byte-order mark)");
  read_err("a,b\n", NULL, "2:1: expected a data row after the header, found none (0 samples)");
  read_err("a,b", NULL, "2:1: expected a data row after the header, found none (0 samples)");
  read_err("a,b\n\n\n", NULL, "2:1: expected a data row after the header, found none (0 samples)");
}

Test(csv, missing_target_and_no_features) {
  bfcr_csv_params p = target("price");
  read_err("a,b\n1,2\n", &p,
           "1: expected a column named \"price\" (the target), found none among 2 columns");
  p.target = "y";
  read_err("y\n1\n", &p, "1: expected at least one feature column, found none");
}

Test(csv, limits) {
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  p.max_line_bytes = 8;
  read_err("a,b\n1,2\n123456,78\n", &p,
           "3:1: expected a line of at most 8 bytes, found a longer one");
  bfcr_data *d = read_ok("a,b\r\n1234,678\r\n", &p); /* exactly 8 bytes + CRLF: fine */
  bfcr_data_destroy(&d);
  bfcr_csv_params_init(&p);
  p.max_columns = 3;
  read_err("a,b,c,d,e\n1,2,3,4,5\n", &p, "1:4: expected at most 3 columns, found 5");
  bfcr_csv_params_init(&p);
  p.max_categories = 2;
  read_err("a,c\n1,x\n2,y\n3,x\n4,z\n5,w\n", &p,
           "5:2: expected at most 2 categories in column \"c\", found more (category 3 is \"z\")");
}

Test(csv, huge_header_is_refused_without_exhausting_memory) {
  size_t n = 2000000;
  char *t = malloc(2 * n + 8);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    t[k++] = 'c';
    t[k++] = ',';
  }
  t[k - 1] = '\n';
  read_err_len(t, k, NULL, NULL, BFCR_ERR_INPUT,
               "1:1: expected a line of at most 1048576 bytes, found a longer one");
  free(t);
}

Test(csv, bad_values) {
  read_err("a,b\n1,2\n3,abc\n", NULL, "3:2: expected a number, found \"abc\"");
  read_err("a,b\n1,2\n3,1_000\n", NULL, "3:2: expected a number, found \"1_000\"");
  read_err("a,b\n1,2\n3,0x10\n", NULL, "3:2: expected a number, found \"0x10\"");
  read_err("a,b\n1,2\n3,\"1,5\"\n", NULL, "3:2: expected a number, found \"1,5\"");
  read_err("a,b\n1,2\n3,1e\n", NULL, "3:2: expected a number, found \"1e\"");
  read_err("a,b\n1,2\n3,--1\n", NULL, "3:2: expected a number, found \"--1\"");
  read_err("a,b\n1,2\n3,inf\n", NULL, "3:2: expected a finite number, found \"inf\"");
  read_err("a,b\n1,-Infinity\n", NULL, "2:2: expected a finite number, found \"-Infinity\"");
  read_err("a,b\n1,1e309\n", NULL,
           "2:2: expected a finite number, found \"1e309\" (overflows a double)");
  read_err("a,b\n1,2\n3,NA\n", NULL, "3:2: expected a value, found the missing-value token \"NA\"");
  read_err("a,b\n1,2\n,3\n", NULL, "3:1: expected a value, found an empty field (missing value)");
  read_err("a,b\n1,2\n\"x\ny\",3\n", NULL, "3:1: expected a number, found \"x\\x0ay\"");
  /* A value error after a quoted newline names the line the field starts on. */
  read_err("a,b,c\nred,2,3\n\"x\ny\",2,abc\n", NULL, "4:3: expected a number, found \"abc\"");
  bfcr_csv_params p = target("y");
  read_err("a,y\n1,abc\n", &p, "2:2: expected a number, found \"abc\"");
  /* The first data row decides: a numeric column, then text later. */
  read_err("a,c\n1,2\n3,red\n", NULL, "3:2: expected a number, found \"red\"");
}

Test(csv, file_system_errors_are_distinct) {
  bfcr_data *d = NULL;
  cr_assert_eq(bfcr_data_read_csv(ctx, "/nonexistent/dir/x.csv", NULL, NULL, &d), BFCR_ERR_IO);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), "/nonexistent/dir/x.csv: cannot open: no such file");
  cr_assert_eq(bfcr_data_read_csv(ctx, "/tmp", NULL, NULL, &d), BFCR_ERR_IO);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), "/tmp: is a directory, expected a CSV file");
  const char *path = file_of("a\n1\n");
  chmod(path, 0);
  bfcr_status st = bfcr_data_read_csv(ctx, path, NULL, NULL, &d);
  if (geteuid() == 0) {
    cr_assert_eq(st, BFCR_OK); /* root reads anything: the EACCES branch needs a user */
    bfcr_data_destroy(&d);
  } else {
    cr_assert_eq(st, BFCR_ERR_IO);
    char want[600];
    snprintf(want, sizeof want, "%s: cannot open: permission denied", path);
    cr_assert_str_eq(bfcr_ctx_errmsg(ctx), want);
  }
}

Test(csv, bad_parameters) {
  bfcr_data *d = NULL;
  bfcr_csv_params p;
  bfcr_csv_params_init(&p);
  p.max_columns = 0;
  cr_assert_eq(bfcr_data_read_csv(ctx, file_of("a\n1\n"), &p, NULL, &d), BFCR_ERR_ARG);
  bfcr_csv_params_init(&p);
  p.target = "a";
  const char *feats[] = {"a", NULL};
  p.features = feats;
  cr_assert_eq(bfcr_data_read_csv(ctx, file_of("a,b\n1,2\n"), &p, NULL, &d), BFCR_ERR_ARG);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), "feature \"a\" is also the target");
  cr_assert_eq(bfcr_data_read_csv(ctx, NULL, NULL, NULL, &d), BFCR_ERR_ARG);
}

/* ----------------------------------------------------------- from_arrays ---- */

Test(csv, from_arrays_copies_and_names) {
  double X[] = {1, 2, 3, 4, 5, 6}, y[] = {7, 8};
  bfcr_data *d = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, 2, 3, X, y, NULL, &d), BFCR_OK);
  X[0] = 100;
  cr_assert_eq(d->X[0], 1);
  cr_assert_eq(d->y[1], 8);
  cr_assert_eq(d->n_global, 2);
  cr_assert_str_eq(bfcr_schema_feature_name(d->schema, 2), "x3");
  cr_assert_str_eq(bfcr_schema_target(d->schema), "y");
  cr_assert_eq(d->schema->ncols, 4);
  bfcr_schema *c = bfcr_schema_clone(ctx, d->schema);
  cr_assert_str_eq(c->col_names[3], "y");
  cr_assert_eq(c->target_col, 3);
  bfcr_schema_free(c);
  bfcr_data_destroy(&d);
  const char *names[] = {"p", "q", "r"};
  cr_assert_eq(bfcr_data_from_arrays(ctx, 2, 3, X, NULL, names, &d), BFCR_OK);
  cr_assert_str_eq(bfcr_schema_feature_name(d->schema, 1), "q");
  cr_assert_null(bfcr_data_y(d));
  bfcr_data_destroy(&d);
  X[4] = NAN;
  cr_assert_eq(bfcr_data_from_arrays(ctx, 2, 3, X, y, NULL, &d), BFCR_ERR_INPUT);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), "row 2, column 2: expected a finite value, found NaN");
  cr_assert_null(d);
  X[4] = 5;
  y[0] = INFINITY;
  cr_assert_eq(bfcr_data_from_arrays(ctx, 2, 3, X, y, NULL, &d), BFCR_ERR_INPUT);
  cr_assert_str_eq(bfcr_ctx_errmsg(ctx), "row 1, target: expected a finite value, found inf");
  cr_assert_eq(bfcr_data_from_arrays(ctx, 2, 0, X, NULL, NULL, &d), BFCR_ERR_ARG);
}

/* A model trained from arrays predicts a CSV with header x1..xd (y optional). */
Test(csv, from_arrays_schema_reads_csv) {
  double X[] = {1, 2}, y[] = {3};
  bfcr_data *a = NULL, *d = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, 1, 2, X, y, NULL, &a), BFCR_OK);
  cr_assert_eq(bfcr_data_read_csv(ctx, file_of("x1,x2\n5,6\n"), NULL, a->schema, &d), BFCR_OK);
  cr_assert_eq(d->X[1], 6);
  bfcr_data_destroy(&d);
  cr_assert_eq(bfcr_data_read_csv(ctx, file_of("x1,x2,y\n5,6,7\n"), NULL, a->schema, &d), BFCR_OK);
  cr_assert_eq(d->y[0], 7);
  bfcr_data_destroy(&d);
  bfcr_data_destroy(&a);
}

/* More than one 4 MiB window of numeric rows (the fused path falls back to the
 * tokenizer at window edges): every value equals strtod of its text, lines count. */
Test(csv, numeric_file_across_windows) {
  const int rows = 150000, cols = 5;
  size_t cap = (size_t)rows * cols * 24 + 64, k = 0;
  char *t = malloc(cap);
  k += (size_t)sprintf(t, "a,b,c,d,y\n");
  char tok[32];
  for (int i = 0; i < rows; i++) {
    for (int j = 0; j < cols; j++) {
      double v = (i * 7919.0 + j * 104729.0) / (j + 3.0) - 12345.0;
      snprintf(tok, sizeof tok, j == 2 ? "%.17g" : j == 3 ? "%.3e" : "%.6f", v);
      k += (size_t)sprintf(t + k, "%s%c", tok, j + 1 == cols ? '\n' : ',');
    }
    if (i % 1000 == 999) t[k - 1] = '\r', t[k++] = '\n'; /* some CRLF */
  }
  bfcr_csv_params p = target("y");
  bfcr_data *d = NULL;
  const char *path = tu_write_file("big.csv", t, k);
  cr_assert_eq(bfcr_data_read_csv(ctx, path, &p, NULL, &d), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(d->n_local, rows);
  for (int i = 0; i < rows; i++) {
    for (int j = 0; j < cols; j++) {
      double v = (i * 7919.0 + j * 104729.0) / (j + 3.0) - 12345.0;
      snprintf(tok, sizeof tok, j == 2 ? "%.17g" : j == 3 ? "%.3e" : "%.6f", v);
      double want = strtod(tok, NULL);
      double got = j + 1 == cols ? d->y[i] : d->X[(int64_t)i * 4 + j];
      if (memcmp(&got, &want, sizeof got) != 0)
        cr_assert_fail("row %d col %d: %.17g, expected %s", i, j, got, tok);
    }
    if (d->line[i] != i + 2) cr_assert_fail("line of row %d: %lld", i, (long long)d->line[i]);
  }
  bfcr_data_destroy(&d);
  free(t);
}
