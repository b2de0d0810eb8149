/* Writes bfcr/_layout.py: the byte layout of the public structs the Python package
 * passes through ctypes (offsets, sizes, enum values), taken from the headers by the
 * compiler, so the package never restates it by hand. Fields added to a struct later keep
 * the library's defaults (the package fills each struct with its *_params_init first). */
#include <stddef.h>
#include <stdio.h>

#include "bfcr/bfcr.h"
#include "bfcr/version.h"

#define FIELD(S, f, code) \
  fprintf(out, "    %-22s (%zu, '%s'),\n", "'" #f "':", offsetof(S, f), code)
/* struct module code of an integer field of this size */
#define ICODE(S, f) (sizeof(((S *)0)->f) == 8 ? "q" : "i")

int main(int argc, char **argv) {
  FILE *out = argc > 1 ? fopen(argv[1], "w") : stdout;
  if (!out) return 1;
  fprintf(out, "# Generated at build time by python/layout_gen.c from the bfcr headers.\n");
  fprintf(out, "FIT_PARAMS_SIZE = %zu\nFIT_PARAMS = {\n", sizeof(bfcr_fit_params));
  FIELD(bfcr_fit_params, tree.standardize, ICODE(bfcr_fit_params, tree.standardize));
  FIELD(bfcr_fit_params, tree.max_levels, ICODE(bfcr_fit_params, tree.max_levels));
  FIELD(bfcr_fit_params, criterion, ICODE(bfcr_fit_params, criterion));
  FIELD(bfcr_fit_params, level, ICODE(bfcr_fit_params, level));
  FIELD(bfcr_fit_params, regressor, ICODE(bfcr_fit_params, regressor));
  FIELD(bfcr_fit_params, small, ICODE(bfcr_fit_params, small));
  FIELD(bfcr_fit_params, min_cluster_size, ICODE(bfcr_fit_params, min_cluster_size));
  FIELD(bfcr_fit_params, routing, ICODE(bfcr_fit_params, routing));
  FIELD(bfcr_fit_params, lambda_mode, ICODE(bfcr_fit_params, lambda_mode));
  FIELD(bfcr_fit_params, lambda, "d");
  FIELD(bfcr_fit_params, lambda_min, "d");
  FIELD(bfcr_fit_params, lambda_max, "d");
  FIELD(bfcr_fit_params, lambda_steps, ICODE(bfcr_fit_params, lambda_steps));
  FIELD(bfcr_fit_params, rcond, "d");
  FIELD(bfcr_fit_params, seed, "Q");
  FIELD(bfcr_fit_params, kernel_cap, ICODE(bfcr_fit_params, kernel_cap));
  FIELD(bfcr_fit_params, tree.nn_method, ICODE(bfcr_fit_params, tree.nn_method));
  FIELD(bfcr_fit_params, all_metrics, ICODE(bfcr_fit_params, all_metrics));
  FIELD(bfcr_fit_params, guard_margin, "d");
  FIELD(bfcr_fit_params, select, ICODE(bfcr_fit_params, select));
  FIELD(bfcr_fit_params, folds, ICODE(bfcr_fit_params, folds));
  FIELD(bfcr_fit_params, shrink, "d");
  fprintf(out, "}\nTREE_PARAMS_SIZE = %zu\nTREE_PARAMS = {\n", sizeof(bfcr_tree_params));
  FIELD(bfcr_tree_params, standardize, ICODE(bfcr_tree_params, standardize));
  FIELD(bfcr_tree_params, max_levels, ICODE(bfcr_tree_params, max_levels));
  fprintf(out, "}\nLEVEL_INFO_SIZE = %zu\nLEVEL_INFO = {\n", sizeof(bfcr_level_info));
  FIELD(bfcr_level_info, level, ICODE(bfcr_level_info, level));
  FIELD(bfcr_level_info, clusters, "q");
  FIELD(bfcr_level_info, min_size, "q");
  FIELD(bfcr_level_info, max_size, "q");
  FIELD(bfcr_level_info, hci, "d");
  FIELD(bfcr_level_info, ch, "d");
  FIELD(bfcr_level_info, db, "d");
  FIELD(bfcr_level_info, bic, "d");
  FIELD(bfcr_level_info, gcv, "d");
  FIELD(bfcr_level_info, within_ss, "d");
  fprintf(out, "}\n");
  /* Enum spellings: the app's option words. */
  fprintf(out,
          "ENUMS = {\n"
          "    'criterion': {'hci': %d, 'ch': %d, 'db': %d, 'bic': %d, 'gcv': %d},\n"
          "    'regressor': {'ridge': %d, 'ols': %d, 'krr': %d, 'svr': %d},\n"
          "    'routing': {'centroid': %d, 'sample': %d},\n"
          "    'small': {'shrink': %d, 'ancestor': %d, 'auto': %d},\n"
          "    'lambda_mode': {'level': %d, 'cluster': %d, 'fixed': %d},\n"
          "    'tree.nn_method': {'auto': 0, 'tree': 1, 'gemm': 2},\n"
          "    'select': {'cv': %d, 'criterion': %d},\n"
          "}\n",
          BFCR_CRIT_HCI, BFCR_CRIT_CH, BFCR_CRIT_DB, BFCR_CRIT_BIC, BFCR_CRIT_GCV, BFCR_REG_RIDGE,
          BFCR_REG_OLS, BFCR_REG_KRR, BFCR_REG_SVR, BFCR_ROUTE_CENTROID, BFCR_ROUTE_SAMPLE,
          BFCR_SMALL_SHRINK, BFCR_SMALL_ANCESTOR, BFCR_SMALL_AUTO, BFCR_LAMBDA_LEVEL,
          BFCR_LAMBDA_CLUSTER, BFCR_LAMBDA_FIXED, BFCR_SELECT_CV, BFCR_SELECT_CRITERION);
  fprintf(out,
          "STATUS = {%d: 'BFCR_OK', %d: 'BFCR_ERR_ARG', %d: 'BFCR_ERR_INPUT', "
          "%d: 'BFCR_ERR_NUMERIC', %d: 'BFCR_ERR_IO', %d: 'BFCR_ERR_FORMAT', "
          "%d: 'BFCR_ERR_NOMEM', %d: 'BFCR_ERR_MPI', %d: 'BFCR_ERR_INTERNAL'}\n",
          BFCR_OK, BFCR_ERR_ARG, BFCR_ERR_INPUT, BFCR_ERR_NUMERIC, BFCR_ERR_IO, BFCR_ERR_FORMAT,
          BFCR_ERR_NOMEM, BFCR_ERR_MPI, BFCR_ERR_INTERNAL);
  fprintf(out, "VERSION = '%s'\n", BFCR_VERSION_STRING);
  return out == stdout ? 0 : fclose(out) != 0;
}
