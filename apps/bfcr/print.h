/* Printing shared by the subcommands: the per-level quality table (text and JSON),
 * the per-phase timing table (collected over the ranks), and JSON scalars. */
#ifndef BFCR_APP_PRINT_H
#define BFCR_APP_PRINT_H

#include <stdio.h>

#include "app.h"

/* Level tables, from a tree or a model: *out (malloc'ed, *n entries). */
bfcr_status app_levels_of_tree(const bfcr_tree *tree, bfcr_level_info **out, int *n);
bfcr_status app_levels_of_model(const bfcr_model *model, bfcr_level_info **out, int *n);
/* Text table; the row of level `mark` (or none when < 0) starts with '*'. */
void print_level_table(FILE *f, const bfcr_level_info *lv, int n, int mark);
/* JSON array of level objects (NaN metrics as null). */
void print_levels_json(FILE *f, const bfcr_level_info *lv, int n);

/* JSON string with escapes, and a number (%.17g; NaN and infinities as null). */
void json_str(FILE *f, const char *s);
void json_num(FILE *f, double x);
/* Cross-validation table of a fitted model (levels 1..nlevels-1). */
void print_cv_table(FILE *f, const bfcr_model *m, int nlevels, int chosen);
/* The kernel ridge candidates of the CV (nothing when the fit had none). */
void print_kernel_cv_table(FILE *f, const bfcr_model *m, int nlevels, int chosen);
void print_small_cv_table(FILE *f, const bfcr_model *m, int nlevels);
/* Hierarchical shrinkage: the CV RMSE of each lambda at its best level, the one applied. */
void print_shrink_table(FILE *f, const bfcr_model *m, int nlevels, int chosen);
/* `,"key":` then the number (key: plain ASCII, no escaping needed). */
void json_field(FILE *f, const char *key, double x);

/* Phase timers of the context, combined over the ranks: for each phase rank 0 ran,
 * the maximum seconds and the summed flops (valid on rank 0). */
typedef struct app_phases {
  int n;
  char (*name)[64];
  double *seconds;                                /* max over ranks */
  double *seconds_min;                            /* min over ranks */
  double *flops;                                  /* sum over ranks */
  int *est;                                       /* flops include an estimate */
  double rss_max_mb, rss_min_mb;                  /* peak resident memory of a rank so far */
  double sent_max_mb, sent_min_mb, sent_total_mb; /* bytes handed to MPI for sending so far
                                                      (traffic.c), max/min over ranks, sum */
} app_phases;

/* Collective. Returns an exit code (0 or out of memory). */
int app_phases_gather(app *a, app_phases *ph);
void app_phases_free(app_phases *ph);
/* Table with seconds, share of the total and GFLOP/s; `wall` is the app's total. */
void print_phase_table(FILE *f, const app_phases *ph, double wall);
void print_phases_json(FILE *f, const app_phases *ph);

#endif
