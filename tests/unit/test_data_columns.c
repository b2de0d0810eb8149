/* bfcr_data_from_columns gives arrays the CSV reader's schema (text columns with their
 * categories, "column=category" features), and the schema column accessors. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "io/schema.h"
#include "testutil.h"

Test(data_columns, schema_matches_the_csv_reader) {
  bfcr_ctx *ctx = tu_ctx();
  /* The same table as a file and as encoded arrays. */
  const char csv[] = "a,colour,b,y\n1,red,2,10\n3,blue,4,11\n5,red,6,12\n";
  const char *path = tu_write_file("cols.csv", csv, sizeof csv - 1);
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = "y";
  bfcr_data *file = NULL, *arr = NULL;
  cr_assert_eq(bfcr_data_read_csv(ctx, path, &cp, NULL, &file), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  const char *names[] = {"a", "colour", "b"};
  const int ncat[] = {0, 2, 0};
  const char *cats[] = {"blue", "red"};
  const double X[] = {1, 0, 1, 2, 3, 1, 0, 4, 5, 0, 1, 6}, y[] = {10, 11, 12};
  cr_assert_eq(bfcr_data_from_columns(ctx, 3, 3, names, ncat, cats, X, y, "y", &arr), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  const bfcr_schema *a = bfcr_data_schema(arr), *f = bfcr_data_schema(file);
  cr_assert_eq(bfcr_schema_features(a), 4);
  cr_assert_eq(bfcr_schema_columns(a), bfcr_schema_columns(f));
  for (int i = 0; i < bfcr_schema_columns(f); i++) {
    cr_assert_str_eq(bfcr_schema_column_name(a, i), bfcr_schema_column_name(f, i));
    cr_assert_eq(bfcr_schema_column_kind(a, i), bfcr_schema_column_kind(f, i));
    cr_assert_eq(bfcr_schema_column_categories(a, i), bfcr_schema_column_categories(f, i));
    for (int k = 0; k < bfcr_schema_column_categories(f, i); k++)
      cr_assert_str_eq(bfcr_schema_column_category(a, i, k), bfcr_schema_column_category(f, i, k));
  }
  for (int j = 0; j < 4; j++)
    cr_assert_str_eq(bfcr_schema_feature_name(a, j), bfcr_schema_feature_name(f, j));
  cr_assert_str_eq(bfcr_schema_feature_name(a, 1), "colour=blue");
  cr_assert_str_eq(bfcr_schema_target(a), "y");
  cr_assert_eq(memcmp(bfcr_data_X(arr), bfcr_data_X(file), sizeof X), 0);
  cr_assert_null(bfcr_schema_column_category(a, 1, 2));
  cr_assert_eq(bfcr_schema_column_kind(a, 9), -1);
  bfcr_data_destroy(&arr);
  bfcr_data_destroy(&file);
  tu_ctx_free(&ctx);
}

Test(data_columns, rejects_bad_descriptions) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_data *d = NULL;
  const double X[] = {1, 0, 1};
  const char *names[] = {"a", "c"}, *dup[] = {"a", "a"}, *unsorted[] = {"red", "blue"};
  const int ncat[] = {0, 2}, none[] = {0, 0};
  cr_assert_eq(bfcr_data_from_columns(ctx, 1, 2, names, ncat, unsorted, X, NULL, NULL, &d),
               BFCR_ERR_ARG);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "byte order"), "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_data_from_columns(ctx, 1, 2, dup, none, NULL, X, NULL, NULL, &d), BFCR_ERR_ARG);
  const char *ty[] = {"a", "y"};
  double y = 1;
  cr_assert_eq(bfcr_data_from_columns(ctx, 1, 2, ty, none, NULL, X, &y, NULL, &d), BFCR_ERR_ARG);
  double bad[] = {1, 0, NAN};
  const char *cats[] = {"blue", "red"};
  cr_assert_eq(bfcr_data_from_columns(ctx, 1, 2, names, ncat, cats, bad, NULL, NULL, &d),
               BFCR_ERR_INPUT);
  cr_assert_null(d);
  tu_ctx_free(&ctx);
}
