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
 * Opt-in feature-space guard (guard_space): a row inside the widened range but outside the
 * data ellipsoid of its model's rows (leverage under S + lambda I above the largest of those
 * rows) moves toward the same fallback by 1 - h_max / h. Not the default: on one split each
 * it cost boston 4% and friedman3 6% by pulling rows just outside small clusters toward a
 * much worse global model; on 20 seeded splits it was neutral and removed boston's one 9%
 * loss (docs/accuracy.md). One-hot columns constant inside a cluster have S = 0 there, so
 * only lambda bounds the leverage along them. */
#include "model/guard.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "regress/regress.h"

double bfcr_guard_leverage(const double *g, int d, const double *z) {
  const double *mu = g, *L = g + d;
  double v[BFCR_GUARD_LEV_MAXD], h = 0.0;
  for (int a = 0; a < d; a++) { /* forward substitution, L packed by rows */
    const double *r = L + (int64_t)a * (a + 1) / 2;
    double s = z[a] - mu[a];
    for (int b = 0; b < a; b++) s -= r[b] * v[b];
    v[a] = s / r[a];
    h += v[a] * v[a];
  }
  return h;
}

/* One cluster's record from its model's node summary s (full layout, regress.h) and
 * penalty lambda: mu, the Cholesky factor of S + lambda I, h_max = 0 (set from the rows).
 * A factor that fails (never expected: lambda > 0 for ridge; OLS gets a floor) leaves
 * h_max = +inf, so that cluster is never flagged. */
void bfcr_guard_lev_record(const double *s, int d, double lambda, double *A, double *g) {
  const int64_t p = d + 1;
  const double *mu = s + 1, *M = s + 1 + p;
  double tr = 0.0;
  for (int a = 0; a < d; a++) tr += M[bfcr_pk(a, a)];
  /* OLS (lambda 0) or an empty scatter: a floor relative to the scatter, as the CV's */
  double lam = lambda > 0 ? lambda : 1e-10 * (tr > 0 ? tr / d : 1.0);
  for (int a = 0; a < d; a++)
    for (int b = 0; b < d; b++) A[a * d + b] = M[a <= b ? bfcr_pk(a, b) : bfcr_pk(b, a)];
  for (int a = 0; a < d; a++) A[a * d + a] += lam;
  memcpy(g, mu, (size_t)d * sizeof(double));
  double *L = g + d, *hmax = g + bfcr_guard_lev_width(d) - 1;
  *hmax = 0.0;
  if (LAPACKE_dpotrf(LAPACK_ROW_MAJOR, 'L', d, A, d) != 0) {
    *hmax = INFINITY;
    for (int64_t i = 0; i < (int64_t)d * (d + 1) / 2; i++) L[i] = i == 0 ? 1.0 : 0.0;
    for (int a = 0; a < d; a++) L[(int64_t)a * (a + 1) / 2 + a] = 1.0;
    return;
  }
  for (int a = 0; a < d; a++)
    for (int b = 0; b <= a; b++) L[(int64_t)a * (a + 1) / 2 + b] = A[a * d + b];
}

/* Source (level, node) of cluster i's model: itself, or the ancestor it falls back to. */
static void src_of(const bfcr_model *m, int T, int64_t i, int *sl, int64_t *sn) {
  const bfcr_cluster_model *cm = &m->cm[i];
  *sl = cm->src_level >= m->chosen && cm->src_level <= T ? cm->src_level : m->chosen;
  *sn = *sl == m->chosen ? i : cm->src_node;
}

/* The feature-space records of the k clusters. Each cluster's model source node (level sl,
 * node sn) gets mu and L from its summary, computed by the rank holding that summary (one
 * rank: all; several: its owner, the rank whose chunk of the dendrogram order holds the
 * node's first position, fit_models.c) and replicated by an MPI_MAX over a buffer the
 * other ranks fill with -inf (max(x, -inf) = x: the owner's bits). h_max: each rank walks
 * its rows from their chosen-level cluster up through the source levels, then MPI_MAX
 * (exact). So the record has the same bits for any rank or thread count. */
static bfcr_status lev_fit(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const int64_t *lab, int64_t n_local,
                           bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  const int c = m->chosen, T = t->nlevels - 1, d = m->d, P = ctx->size;
  const int64_t W = bfcr_guard_lev_width(d), len = bfcr_sum_len(d);
  const int64_t plo = bfcr_block_lo(t->n, P, ctx->rank),
                phi = bfcr_block_lo(t->n, P, ctx->rank + 1);
  int top = c, sl;
  int64_t **slot = NULL, sn;
  double *A = NULL, *hm = NULL, z[BFCR_GUARD_LEV_MAXD];
  for (int64_t i = 0; i < m->k; i++) {
    src_of(m, T, i, &sl, &sn);
    if (sl > top) top = sl;
  }
  for (int l = c; l <= top; l++) /* full summaries (never rows mode below 32 features) */
    if (lf[l].sum_stride != 0 || !lf[l].sum) return BFCR_OK;
  /* Every rank reaches the reductions, or none does. */
  int ok = (slot = calloc((size_t)T + 1, sizeof *slot)) != NULL;
  for (int l = c; ok && l <= top; l++) {
    ok = (slot[l] = malloc((size_t)t->lv[l].m * sizeof **slot)) != NULL;
    for (int64_t i = 0; ok && i < t->lv[l].m; i++) slot[l][i] = -1;
  }
  A = malloc((size_t)d * d * sizeof *A);
  hm = malloc((size_t)m->k * sizeof *hm);
  m->guard_lev = malloc((size_t)(m->k * W) * sizeof(double));
  ok = ok && A && hm && m->guard_lev;
  st = ok ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the feature-space guard");
  if (P > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < m->k * W; i++) m->guard_lev[i] = -INFINITY;
  for (int64_t i = 0; i < m->k; i++) {
    src_of(m, T, i, &sl, &sn);
    if (slot[sl][sn] >= 0) continue;
    slot[sl][sn] = i;
    int64_t o0 = 0, o1 = t->lv[sl].m;
    if (P > 1) bfcr_owned_ranges(t->lv[sl].start, t->lv[sl].m, plo, phi, &o0, &o1);
    if (sn >= o0 && sn < o1 && sn >= lf[sl].sum_lo)
      bfcr_guard_lev_record(lf[sl].sum + (sn - lf[sl].sum_lo) * len, d, lf[sl].cm[sn].lambda, A,
                            m->guard_lev + i * W);
  }
  if (P > 1 && MPI_Allreduce(MPI_IN_PLACE, m->guard_lev, (int)(m->k * W), MPI_DOUBLE, MPI_MAX,
                             ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce of the feature-space guard failed");
    goto cleanup;
  }
  for (int64_t i = 0; i < m->k; i++) hm[i] = m->guard_lev[i * W + W - 1]; /* 0 or +inf */
  for (int64_t r = 0; r < n_local; r++) {
    int64_t node = lab[r];
    bfcr_zsrc_row(zs, r, z);
    for (int l = c; l <= top; l++) {
      int64_t s = slot[l][node];
      if (s >= 0) {
        double h = bfcr_guard_leverage(m->guard_lev + s * W, d, z);
        if (h > hm[s]) hm[s] = h; /* +inf stays */
      }
      if (l < T) node = t->lv[l].parent[node];
    }
  }
  if (P > 1 &&
      MPI_Allreduce(MPI_IN_PLACE, hm, (int)m->k, MPI_DOUBLE, MPI_MAX, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce of the feature-space guard failed");
    goto cleanup;
  }
  for (int64_t i = 0; i < m->k; i++) { /* the clusters sharing a source copy its record */
    src_of(m, T, i, &sl, &sn);
    int64_t s = slot[sl][sn];
    if (s != i)
      memcpy(m->guard_lev + i * W, m->guard_lev + s * W, (size_t)(W - 1) * sizeof(double));
    m->guard_lev[i * W + W - 1] = hm[s];
  }
cleanup:
  if (st != BFCR_OK) {
    free(m->guard_lev);
    m->guard_lev = NULL;
  }
  for (int l = 0; slot && l <= T; l++) free(slot[l]);
  free(slot);
  free(A);
  free(hm);
  return st;
}

bfcr_status bfcr_guard_fit(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const int64_t *lab, const double *y,
                           int64_t n_local, double margin, int lev, bfcr_model *m) {
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
  /* Bounded: d <= BFCR_GUARD_LEV_MAXD, and never more doubles than the training rows */
  if (lev && d > 0 && d <= BFCR_GUARD_LEV_MAXD &&
      (double)m->k * (double)bfcr_guard_lev_width(d) <= (double)t->n * (d + 1))
    st = lev_fit(ctx, t, lf, zs, lab, n_local, m);
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

/* The global model's value at z, clipped to [lo, hi]. */
static double fallback(const bfcr_model *m, const double *z, double lo, double hi) {
  double g = m->guard_b;
  for (int j = 0; j < m->d; j++) g += m->guard_w[j] * z[j];
  return g < lo ? lo : g > hi ? hi : g;
}

double bfcr_guard_value(const bfcr_model *m, int64_t c, const double *z, double v, int *hit) {
  *hit = 0;
  if (!m->guard_range) return v;
  double lo = m->guard_range[2 * c], hi = m->guard_range[2 * c + 1];
  double pad = m->guard_margin * (hi - lo);
  lo -= pad;
  hi += pad;
  if (isnan(v)) return v; /* a NaN is never hidden */
  if (v >= lo && v <= hi) {
    if (!m->guard_lev) return v;
    const int64_t W = bfcr_guard_lev_width(m->d);
    const double *g = m->guard_lev + c * W;
    double h = bfcr_guard_leverage(g, m->d, z), hmax = g[W - 1];
    if (!(h > hmax)) return v; /* inside the data ellipsoid of the model's rows */
    /* Beyond it: the model's departure from the fallback shrinks as h_max / h (1 at the
     * ellipsoid's edge, 0 far away); both ends lie in [lo, hi], so does the blend. */
    *hit = 1;
    double f = fallback(m, z, lo, hi);
    return f + (v - f) * (hmax / h);
  }
  *hit = 1;
  return fallback(m, z, lo, hi);
}
