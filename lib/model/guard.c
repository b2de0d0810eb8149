/* Safe extrapolation: a cluster's linear model is trusted only inside the target range it
 * was fitted on.
 *
 * Every cluster of the chosen level records [lo, hi], the training target range of the
 * node whose model it uses (itself, or the ancestor it falls back to when small). A
 * prediction v of a row routed to that cluster is accepted when it lies in
 *   [lo - margin (hi - lo), hi + margin (hi - lo)];
 * otherwise the model is extrapolating (the row is outside the cluster's extent along a
 * direction the model weighs; a linear model never leaves the range on the rows that lie
 * inside the training hull unless it fits them badly) and the row gets the global (top
 * level) model's prediction clipped to the same interval. Both the global model and the
 * interval come from the training rows only; the margin is a fit parameter (0.5 by
 * default, docs/accuracy.md). Cost: O(k) doubles in the model, O(1) per unguarded row,
 * O(d) per guarded row.
 *
 * Why not a leverage bound: it needs a d x d matrix per cluster in the model (k d^2
 * doubles) and a threshold; the target range needs two doubles and catches exactly the
 * harmful case (an absurd value), including the one-hot columns that are constant inside
 * a cluster, along which the ridge model puts no weight and cannot extrapolate. */
#include "model/guard.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bfcr_status bfcr_guard_fit(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const int64_t *lab, const double *y, int64_t n_local, double margin,
                           bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int c = m->chosen, T = t->nlevels - 1, d = m->d, ok = 1;
  double **rng = NULL; /* per level c..T: [2 m_l] (min, -max), so one MPI_MIN reduces both */
  if (c < 1 || !lf[T].w) return BFCR_OK; /* one sample or no top model: nothing to bound */
  rng = calloc((size_t)T + 1, sizeof *rng);
  ok = rng != NULL;
  for (int l = c; ok && l <= T; l++) {
    rng[l] = malloc((size_t)(2 * t->lv[l].m) * sizeof(double));
    ok = rng[l] != NULL;
    for (int64_t i = 0; ok && i < 2 * t->lv[l].m; i++) rng[l][i] = INFINITY;
  }
  m->guard_range = malloc((size_t)(2 * m->k) * sizeof(double));
  m->guard_w = malloc((size_t)d * sizeof(double));
  ok = ok && m->guard_range && m->guard_w;
  /* Every rank reaches the reduction, or none does. */
  st = ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the prediction guard");
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < n_local; i++) {
    double *r = rng[c] + 2 * lab[i];
    if (y[i] < r[0]) r[0] = y[i];
    if (-y[i] < r[1]) r[1] = -y[i];
  }
  if (ctx->size > 1 && MPI_Allreduce(MPI_IN_PLACE, rng[c], (int)(2 * t->lv[c].m), MPI_DOUBLE,
                                     MPI_MIN, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce of cluster target ranges failed");
    goto cleanup;
  }
  for (int l = c; l < T; l++)
    for (int64_t i = 0; i < t->lv[l].m; i++) {
      double *r = rng[l] + 2 * i, *p = rng[l + 1] + 2 * t->lv[l].parent[i];
      if (r[0] < p[0]) p[0] = r[0];
      if (r[1] < p[1]) p[1] = r[1];
    }
  for (int64_t i = 0; i < m->k; i++) {
    const bfcr_cluster_model *cm = &m->cm[i];
    int sl = cm->src_level >= c && cm->src_level <= T ? cm->src_level : c;
    int64_t sn = sl == c ? i : cm->src_node;
    m->guard_range[2 * i] = rng[sl][2 * sn];
    m->guard_range[2 * i + 1] = -rng[sl][2 * sn + 1];
  }
  memcpy(m->guard_w, lf[T].w, (size_t)d * sizeof(double));
  m->guard_b = lf[T].cm[0].intercept;
  m->guard_margin = margin;
cleanup:
  if (st != BFCR_OK) {
    free(m->guard_range);
    free(m->guard_w);
    m->guard_range = m->guard_w = NULL;
  }
  for (int l = 0; rng && l <= T; l++) free(rng[l]);
  free(rng);
  return st;
}

double bfcr_guard_value(const bfcr_model *m, int64_t c, const double *z, double v, int *hit) {
  *hit = 0;
  if (!m->guard_range) return v;
  double lo = m->guard_range[2 * c], hi = m->guard_range[2 * c + 1];
  double pad = m->guard_margin * (hi - lo);
  lo -= pad;
  hi += pad;
  if (isnan(v) || (v >= lo && v <= hi)) return v; /* a NaN is never hidden */
  *hit = 1;
  double g = m->guard_b;
  for (int j = 0; j < m->d; j++) g += m->guard_w[j] * z[j];
  return g < lo ? lo : g > hi ? hi : g;
}
