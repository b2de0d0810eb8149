/* Names the command line uses for the library's enums (choice options). */
#include "app.h"
#include "choices.h"

const app_choice app_criteria[] = {{"hci", BFCR_CRIT_HCI}, {"ch", BFCR_CRIT_CH},
                                   {"db", BFCR_CRIT_DB},   {"bic", BFCR_CRIT_BIC},
                                   {"gcv", BFCR_CRIT_GCV}, {NULL, 0}};
/* Without a target there is no regression, hence no GCV. */
const app_choice app_cluster_criteria[] = {{"hci", BFCR_CRIT_HCI},
                                           {"ch", BFCR_CRIT_CH},
                                           {"db", BFCR_CRIT_DB},
                                           {"bic", BFCR_CRIT_BIC},
                                           {NULL, 0}};
const app_choice app_regressors[] = {{"ridge", BFCR_REG_RIDGE},
                                     {"ols", BFCR_REG_OLS},
                                     {"krr", BFCR_REG_KRR},
                                     {"svr", BFCR_REG_SVR},
                                     {NULL, 0}};
const app_choice app_routings[] = {
    {"centroid", BFCR_ROUTE_CENTROID}, {"sample", BFCR_ROUTE_SAMPLE}, {NULL, 0}};
const app_choice app_small_policies[] = {{"shrink", BFCR_SMALL_SHRINK},
                                         {"ancestor", BFCR_SMALL_ANCESTOR},
                                         {"auto", BFCR_SMALL_AUTO},
                                         {NULL, 0}};
const app_choice app_nn_methods[] = {{"auto", 0}, {"tree", 1}, {"gemm", 2}, {NULL, 0}};
const app_choice app_na_policies[] = {{"error", BFCR_NA_ERROR}, {"drop", BFCR_NA_DROP}, {NULL, 0}};
const app_choice app_metric_sets[] = {{"needed", 0}, {"all", 1}, {NULL, 0}};
const app_choice app_text_policies[] = {
    {"onehot", BFCR_TEXT_ONEHOT}, {"error", BFCR_TEXT_ERROR}, {NULL, 0}};
const app_choice app_selects[] = {
    {"cv", BFCR_SELECT_CV}, {"criterion", BFCR_SELECT_CRITERION}, {NULL, 0}};
