/* The command-line vocabulary of the library's enums (choice options). */
#ifndef BFCR_APP_CHOICES_H
#define BFCR_APP_CHOICES_H

#include "options.h"

extern const app_choice app_criteria[];         /* hci ch db bic gcv */
extern const app_choice app_cluster_criteria[]; /* hci ch db bic */
extern const app_choice app_regressors[];
extern const app_choice app_routings[];
extern const app_choice app_selects[]; /* cv criterion */
extern const app_choice app_small_policies[];
extern const app_choice app_na_policies[];
/* --nn: nearest-neighbour method (bfcr_tree_params.nn_method). */
extern const app_choice app_nn_methods[];
extern const app_choice app_text_policies[];
extern const app_choice app_metric_sets[];

#endif
