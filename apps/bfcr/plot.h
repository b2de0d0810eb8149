/* PNG charts of a clustering, drawn by gnuplot (pngcairo): the app writes the data and
 * a script to temporary files and runs gnuplot on them; the PNG is written to a
 * temporary file beside the target and renamed over it only when gnuplot succeeded.
 * Rank 0 only (no MPI inside). Each function returns 0, or -1 with a message in err. */
#ifndef BFCR_APP_PLOT_H
#define BFCR_APP_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "bfcr/bfcr.h"

/* Scatter of n points (xy: n pairs, interleaved) coloured by label (0..k-1, neighbouring
 * ids get distant hues), with the k centroids (cxy: k pairs) marked as crosses. */
typedef struct app_plot_scatter {
  int64_t n, k;
  const double *xy;
  const int64_t *label;
  const double *cxy;
  const char *xname, *yname; /* axis titles */
  const char *title;
} app_plot_scatter;

int app_plot_clusters(const char *png, const app_plot_scatter *s, char *err, size_t errlen);

/* One panel per metric (HCI, CH, DB, BIC, clusters and, when ami is non-NULL, the AMI
 * against the truth with both normalisers: ami[2 l] arithmetic, ami[2 l + 1] max) over
 * levels 1..n-1, the chosen level marked by a dashed line. */
int app_plot_metrics(const char *png, const bfcr_level_info *lv, int n, int chosen,
                     const char *how_chosen, const double *ami, const char *title, char *err,
                     size_t errlen);

/* "FILE-metrics.png" for "FILE.png" (any other name: NAME-metrics.png). malloc'ed. */
char *app_plot_metrics_path(const char *png);

#endif
