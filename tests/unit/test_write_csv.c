/* bfcr_write_columns_csv on one rank: the exact text, round-tripping doubles, quoting,
 * chunked output and errors that leave an earlier file untouched. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static char *slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *buf = malloc((size_t)n + 1);
  cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
  buf[n] = '\0';
  fclose(f);
  *len = (size_t)n;
  return buf;
}

Test(write_csv, exact_text) {
  bfcr_ctx *ctx = tu_ctx();
  const double x[] = {0.1, 1.0, -0.0, 1e300, 5e-324, -2.5, 123456789012345678.0};
  const int64_t id[] = {0, -1, INT64_MIN, INT64_MAX, 42, 7, 1000000000000LL};
  bfcr_column cols[] = {{"yhat", BFCR_COLTYPE_DOUBLE, x},
                        {"label", BFCR_COLTYPE_INT64, id},
                        {"price, \"USD\"", BFCR_COLTYPE_DOUBLE, x}};
  const char *p = tu_write_file("exact.csv", "", 0);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 3, cols, 7), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  size_t n;
  char *got = slurp(p, &n);
  const char *want =
      "yhat,label,\"price, \"\"USD\"\"\"\n"
      "0.10000000000000001,0,0.10000000000000001\n"
      "1,-1,1\n"
      "-0,-9223372036854775808,-0\n"
      "1.0000000000000001e+300,9223372036854775807,1.0000000000000001e+300\n"
      "4.9406564584124654e-324,42,4.9406564584124654e-324\n"
      "-2.5,7,-2.5\n"
      "1.2345678901234568e+17,1000000000000,1.2345678901234568e+17\n";
  cr_assert_str_eq(got, want);
  free(got);
  tu_ctx_free(&ctx);
}

Test(write_csv, doubles_round_trip) {
  bfcr_ctx *ctx = tu_ctx();
  enum { N = 5000 };
  double *x = malloc(N * sizeof(double));
  uint64_t s = 88172645463325252ull; /* xorshift: arbitrary bit patterns */
  for (int i = 0; i < N; i++) {
    do {
      s ^= s << 13, s ^= s >> 7, s ^= s << 17;
      memcpy(&x[i], &s, sizeof s);
    } while (!isfinite(x[i]));
  }
  x[0] = DBL_MAX, x[1] = DBL_MIN, x[2] = -DBL_TRUE_MIN, x[3] = 1.0 / 3.0;
  bfcr_column col = {"x", BFCR_COLTYPE_DOUBLE, x};
  const char *p = tu_write_file("roundtrip.csv", "", 0);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &col, N), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  size_t n;
  char *got = slurp(p, &n);
  char *line = strtok(got, "\n");
  cr_assert_str_eq(line, "x");
  for (int i = 0; i < N; i++) {
    line = strtok(NULL, "\n");
    cr_assert(line, "row %d missing", i);
    double v = strtod(line, NULL);
    cr_assert(memcmp(&v, &x[i], sizeof v) == 0, "row %d: %s does not give back %a", i, line, x[i]);
  }
  cr_assert_null(strtok(NULL, "\n"));
  free(got);
  free(x);
  tu_ctx_free(&ctx);
}

Test(write_csv, many_rows_in_chunks) {
  bfcr_ctx *ctx = tu_ctx();
  /* 8 columns x 8 bytes: 16384 rows per 1 MiB chunk, so several chunks. */
  enum { N = 40000, C = 8 };
  int64_t *v = malloc(N * sizeof(int64_t));
  for (int i = 0; i < N; i++) v[i] = i;
  bfcr_column cols[C];
  char names[C][8];
  for (int j = 0; j < C; j++) {
    snprintf(names[j], sizeof names[j], "c%d", j);
    cols[j] = (bfcr_column){names[j], BFCR_COLTYPE_INT64, v};
  }
  const char *p = tu_write_file("chunks.csv", "", 0);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, C, cols, N), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  size_t n;
  char *got = slurp(p, &n);
  char *line = strtok(got, "\n");
  cr_assert_str_eq(line, "c0,c1,c2,c3,c4,c5,c6,c7");
  for (int i = 0; i < N; i++) {
    line = strtok(NULL, "\n");
    char want[128];
    snprintf(want, sizeof want, "%d,%d,%d,%d,%d,%d,%d,%d", i, i, i, i, i, i, i, i);
    cr_assert_str_eq(line, want);
  }
  free(got);
  free(v);
  tu_ctx_free(&ctx);
}

Test(write_csv, zero_rows_is_header_only) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_column col = {"a", BFCR_COLTYPE_DOUBLE, NULL};
  const char *p = tu_write_file("empty.csv", "old", 3);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &col, 0), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  size_t n;
  char *got = slurp(p, &n);
  cr_assert_str_eq(got, "a\n");
  free(got);
  tu_ctx_free(&ctx);
}

Test(write_csv, errors_leave_old_file) {
  bfcr_ctx *ctx = tu_ctx();
  const double x[] = {1, 2};
  const char *p = tu_write_file("keep.csv", "old,file\n", 9);
  bfcr_column ok = {"a", BFCR_COLTYPE_DOUBLE, x};
  bfcr_column bad_type = {"a", (bfcr_coltype)5, x};
  bfcr_column no_name = {NULL, BFCR_COLTYPE_DOUBLE, x};
  bfcr_column no_values = {"a", BFCR_COLTYPE_DOUBLE, NULL};
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &bad_type, 2), BFCR_ERR_ARG);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "invalid type 5"), "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &no_name, 2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &no_values, 2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 0, &ok, 2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, NULL, 2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(ctx, p, 1, &ok, -1), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(ctx, NULL, 1, &ok, 2), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_write_columns_csv(NULL, p, 1, &ok, 2), BFCR_ERR_ARG);
  size_t n;
  char *got = slurp(p, &n);
  cr_assert_str_eq(got, "old,file\n");
  free(got);
  cr_assert_eq(bfcr_write_columns_csv(ctx, "/nonexistent-bfcr/out.csv", 1, &ok, 2), BFCR_ERR_IO);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "/nonexistent-bfcr/out.csv"), "%s", bfcr_ctx_errmsg(ctx));
  /* Root may write anywhere but into /sys. */
  cr_assert_eq(bfcr_write_columns_csv(ctx, "/sys/bfcr-out.csv", 1, &ok, 2), BFCR_ERR_IO);
  tu_ctx_free(&ctx);
}
