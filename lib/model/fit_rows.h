/* Per-cluster regression from the clusters' rows, for wide data (fit_rows.c). */
#ifndef BFCR_MODEL_FIT_ROWS_H
#define BFCR_MODEL_FIT_ROWS_H

#include "model/fit_models.h"

/* Rows mode needs d >= this: below it a scatter is at most 4.4 KB and the summary path
 * (and its model-file bits) is kept. */
#define BFCR_WIDE_MIN_D 32

/* 1 when the levels lo.. are fitted from rows: d >= BFCR_WIDE_MIN_D and some node of
 * level lo has at most d rows. Local. */
int bfcr_fit_rows_mode(const bfcr_tree *t, int lo);

/* bfcr_fit_levels in rows mode. One rank: Z (global order, n x d) and y; several ranks:
 * drows, this rank's positions [rlo, rhi) in dendrogram order, (d + 1) doubles each
 * (x, y). lf[l].sum then holds (count, mean of x, mean of y) per node, stride d + 2.
 * Collective; with several ranks the status is agreed. */
bfcr_status bfcr_fit_levels_rows(bfcr_ctx *ctx, bfcr_tree *t, const double *Z, const double *y,
                                 const double *drows, int64_t rlo, int64_t rhi,
                                 const bfcr_fit_params *p, int lo, bfcr_level_fit *lf);

#endif
