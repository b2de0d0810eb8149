/* Per-cluster regression from the clusters' rows ("rows mode"), for wide data.
 *
 * Why: the summary path keeps a (d + 1)(d + 2)/2 scatter per node and eigendecomposes
 * it (O(d^3) per node). At 200 x 5000 a single scatter is 100 MB, larger than all the
 * rows together, and the canonical reduction's scratch (64 summaries per thread) asked
 * for 25.6 GB. A node with n_c <= d rows is cheaper in every respect from its rows:
 * the dual ridge of bfcr_ridge_rows_fit costs n_c^2 d + O(n_c^3) and stores n_c^2.
 *
 * When: d >= BFCR_WIDE_MIN_D and some node of the lowest fitted level has at most d
 * rows (bfcr_fit_rows_mode). Then every fitted level runs here, node by node, from the
 * node's rows (every node is one contiguous range of positions in dendrogram order):
 * nodes with n_c <= d by the dual form, larger ones by a transient summary
 * (bfcr_sum_rowptrs_work, SYRK) and bfcr_ridge_fit. Nothing d x d is stored per node;
 * peak memory is O(threads x (n_c^2 + n_c chunk + d^2 for the larger nodes)). Below
 * BFCR_WIDE_MIN_D the summary path stays (its model files are unchanged).
 *
 * The estimator is the summary path's: the same grid, the same pooled per-level GCV
 * (per-node RSS/df summed in the same fixed 256-node chunks in chunk order), the same
 * fallback and shrink-toward-parent rules, the same ties. Results agree with the
 * summary path up to rounding (tests/unit/test_ridge_rows.c checks 1e-10).
 *
 * Several ranks: each rank fits the nodes whose first row lies in its chunk of the
 * dendrogram-ordered rows (a node running past the chunk gets its tail rows from the
 * next ranks, as for OLS); every node's result is a fixed sequential function of its
 * rows, so the one-rank bits follow for any P and thread count. Per-node path values,
 * coefficients and models are replicated with Allgatherv. */
#include "model/fit_rows.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "par/redistribute.h"
#include "par/reduce_ranges.h"
#include "regress/regress.h"

static int64_t node_size(const bfcr_tree *t, int l, int64_t i) {
  return l == 0 ? 1 : t->lv[l].start[i + 1] - t->lv[l].start[i];
}
static int64_t node_first(const bfcr_tree *t, int l, int64_t i) {
  return l == 0 ? i : t->lv[l].start[i];
}

int bfcr_fit_rows_mode(const bfcr_tree *t, int lo) {
  if (t->d < BFCR_WIDE_MIN_D) return 0;
  for (int64_t i = 0; i < t->lv[lo].m; i++)
    if (node_size(t, lo, i) <= t->d) return 1;
  return 0;
}

/* Where a level's rows come from. */
typedef struct rows_src {
  const bfcr_tree *t;
  int d;
  const double *Z, *y; /* one rank: global-order rows and targets */
  const double *ext;   /* several ranks: (d + 1)-wide rows of positions [ext_lo, ...) */
  int64_t ext_lo;
} rows_src;

/* Row pointers and targets of the n rows starting at position first. */
static void node_rows(const rows_src *r, int64_t first, int64_t n, const double **xr, double *yv) {
  const int d = r->d;
  for (int64_t q = 0; q < n; q++) {
    const int64_t pos = first + q;
    if (r->ext) {
      const double *row = r->ext + (pos - r->ext_lo) * (d + 1);
      xr[q] = row;
      yv[q] = row[d];
    } else {
      const int64_t g = r->t->order[pos] - r->t->offset;
      xr[q] = r->Z + g * d;
      yv[q] = r->y[g];
    }
  }
}

/* Corrected two-pass mean of (x, y) (as summary.c). */
static void rows_mean(const double *const *xr, const double *yv, int64_t n, int d, double *mean) {
  memset(mean, 0, (size_t)(d + 1) * sizeof(double));
  for (int64_t i = 0; i < n; i++) {
    for (int j = 0; j < d; j++) mean[j] += xr[i][j];
    mean[d] += yv[i];
  }
  for (int j = 0; j <= d; j++) mean[j] /= (double)n;
  for (int j = 0; j <= d; j++) {
    double r = 0.0;
    for (int64_t i = 0; i < n; i++) r += (j < d ? xr[i][j] : yv[i]) - mean[j];
    mean[j] += r / (double)n;
  }
}

/* Residual sum of squares of the rows under intercept b and weights w, in row order. */
static double rows_rss(const double *const *xr, const double *yv, int64_t n, int d, const double *w,
                       double b) {
  double rss = 0.0;
  for (int64_t i = 0; i < n; i++) {
    double e = yv[i] - b;
    for (int j = 0; j < d; j++) e -= w[j] * xr[i][j];
    rss += e * e;
  }
  return rss;
}

/* Workspace doubles one node needs (beside its row pointers and targets). */
static int64_t node_work_len(int64_t n, int d) {
  if (n <= d) return bfcr_ridge_rows_work_len(n, d);
  return bfcr_sum_len(d) + bfcr_sum_rows_work_len(d) + bfcr_ridge_work_len(d);
}

/* Ridge path (rss[K], df[K]) of one node toward w0 (or NULL). */
static bfcr_status node_path(const double *const *xr, const double *yv, int64_t n, int d,
                             const double *w0, int K, const double *lam, double *work, double *rss,
                             double *df, double *flops) {
  if (n <= d) {
    *flops += bfcr_ridge_rows_flops(n, d, w0 != NULL);
    return bfcr_ridge_rows_path(xr, yv, n, d, w0, K, lam, work, rss, df);
  }
  double *sum = work, *sw = sum + bfcr_sum_len(d), *rw = sw + bfcr_sum_rows_work_len(d);
  bfcr_sum_rowptrs_work(xr, yv, n, d, sw, sum);
  *flops += (double)n * (double)(d + 1) * (double)(d + 2) + bfcr_ridge_flops(d);
  return bfcr_ridge_path(sum, d, w0, K, lam, rw, rss, df);
}

static bfcr_status node_fit(const double *const *xr, const double *yv, int64_t n, int d,
                            const double *w0, const bfcr_ridge_grid *grid, double fixed,
                            double *work, double *w, double *b, bfcr_ridge_result *res,
                            double *flops) {
  if (n <= d) {
    *flops += bfcr_ridge_rows_flops(n, d, w0 != NULL);
    return bfcr_ridge_rows_fit(xr, yv, n, d, w0, grid, fixed, work, w, b, NULL, res);
  }
  double *sum = work, *sw = sum + bfcr_sum_len(d), *rw = sw + bfcr_sum_rows_work_len(d);
  bfcr_sum_rowptrs_work(xr, yv, n, d, sw, sum);
  *flops += (double)n * (double)(d + 1) * (double)(d + 2) + bfcr_ridge_flops(d);
  return bfcr_ridge_fit(sum, d, w0, grid, fixed, rw, w, b, res);
}

/* Pooled penalty of the level from the per-node path values vals[m][2K] (rss, df), summed
 * exactly as fit_models.c's pooled_lambda sums them. */
static void pooled_choice(const double *vals, int64_t m, int K, double n, const double *lam,
                          double *part, double *lambda, double *gcv) {
  int64_t nchunks = (m + BFCR_POOL_CHUNK - 1) / BFCR_POOL_CHUNK;
  memset(part, 0, (size_t)(nchunks * 2 * K) * sizeof(double));
  for (int64_t c = 0; c < nchunks; c++) {
    double *acc = part + c * 2 * K;
    for (int64_t i = c * BFCR_POOL_CHUNK; i < m && i < (c + 1) * BFCR_POOL_CHUNK; i++)
      for (int k = 0; k < 2 * K; k++) acc[k] += vals[i * 2 * K + k];
  }
  bfcr_pooled_pick(part, nchunks, K, n, lam, lambda, gcv);
}

static bfcr_status fit_level_rows(bfcr_ctx *ctx, bfcr_tree *t, rows_src *src, const double *drows,
                                  int64_t rlo, int64_t rhi, const bfcr_fit_params *p, int l,
                                  const bfcr_level_fit *up, bfcr_level_fit *lf, double *flops) {
  bfcr_status st = BFCR_OK;
  const int d = t->d, nt = ctx->nthreads, top = l == t->nlevels - 1, K = p->lambda_steps;
  const int dist = ctx->size > 1;
  int agreed = 0, failed = 0;
  const bfcr_level *L = &t->lv[l];
  const int64_t m = L->m, sl = (int64_t)d + 2;
  int64_t i0 = 0, i1 = m, ext_lo = 0, nmax = 1, wmax = 1;
  double *ext = NULL, *work = NULL, *yv = NULL, *lam = NULL, *vals = NULL, *part = NULL;
  double *mine = NULL, *smine = NULL, level_lambda = -1.0, level_gcv = NAN;
  const double **xr = NULL;
  bfcr_cluster_model *cmine = NULL;
  int8_t *fallback = NULL;
  const int pooled = p->regressor == BFCR_REG_RIDGE && p->lambda_mode == BFCR_LAMBDA_LEVEL;
  bfcr_ridge_grid grid = {p->lambda_min, p->lambda_max, p->lambda_steps};
  if (dist) { /* the nodes starting in this rank's chunk, and their rows */
    if (l == 0) {
      i0 = rlo;
      i1 = rhi;
    } else {
      i0 = bfcr_first_range_from(L->start, m, rlo);
      i1 = rhi > rlo ? bfcr_first_range_from(L->start, m, rhi) : i0;
    }
    ext_lo = i1 > i0 ? node_first(t, l, i0) : 0;
    int64_t ext_hi = i1 > i0 ? (i1 < m ? node_first(t, l, i1) : t->n) : 0;
    BFCR_CALL_AGREED(bfcr_fetch_rows(ctx, drows, d + 1, rlo, rhi, ext_lo, ext_hi, &ext));
    src->ext = ext;
    src->ext_lo = ext_lo;
  }
  for (int64_t i = i0; i < i1; i++) {
    int64_t n = node_size(t, l, i);
    if (n > nmax) nmax = n;
    int64_t wl = node_work_len(n, d);
    if (wl > wmax) wmax = wl;
  }
  if (p->regressor == BFCR_REG_OLS && wmax < nmax * (d + 1)) wmax = nmax * (d + 1);
  wmax += d + 1; /* the node's mean */
  BFCR_ALLOC(ctx, lf->sum, m * sl);
  lf->sum_stride = sl;
  BFCR_ALLOC(ctx, lf->w, m * d);
  BFCR_CALLOC(ctx, lf->cm, m); /* replicated (wide data: few nodes) */
  lf->cm_part = 0;
  lf->cm_lo = 0;
  lf->cm_hi = m;
  BFCR_CALLOC(ctx, fallback, m);
  BFCR_ALLOC(ctx, work, wmax * nt);
  BFCR_ALLOC(ctx, yv, nmax * nt);
  BFCR_ALLOC(ctx, xr, nmax * nt);
  for (int64_t i = 0; i < m; i++) fallback[i] = !top && node_size(t, l, i) < p->min_cluster_size;

  if (pooled) {
    BFCR_ALLOC(ctx, lam, K);
    for (int k = 0; k < K; k++)
      lam[k] = K == 1 ? p->lambda_min
                      : exp(log(p->lambda_min) +
                            (log(p->lambda_max) - log(p->lambda_min)) * k / (double)(K - 1));
    BFCR_CALLOC(ctx, vals, m * 2 * K);
    double fl = 0.0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : failed) \
    reduction(+ : fl)
    for (int64_t i = i0; i < i1; i++) {
      int tid = 0;
#ifdef _OPENMP
      tid = omp_get_thread_num();
#endif
      const double **x = xr + nmax * tid;
      double *yy = yv + nmax * tid, *wk = work + wmax * tid, *v = vals + i * 2 * K;
      int64_t n = node_size(t, l, i), par = top ? -1 : L->parent[i];
      node_rows(src, node_first(t, l, i), n, x, yy);
      if (fallback[i]) {
        double r = rows_rss(x, yy, n, d, up->w + par * d, up->cm[par].intercept);
        for (int k = 0; k < K; k++) v[k] = r;
        continue;
      }
      const double *w0 = (p->small == BFCR_SMALL_SHRINK && !top) ? up->w + par * d : NULL;
      if (node_path(x, yy, n, d, w0, K, lam, wk, v, v + K, &fl) != BFCR_OK) failed = 1;
    }
    *flops += fl;
    if (dist) { /* replicate every node's path values (agreed inside) */
      BFCR_ALLOC(ctx, mine, (i1 > i0 ? i1 - i0 : 1) * 2 * K);
      memcpy(mine, vals + i0 * 2 * K, (size_t)((i1 - i0) * 2 * K) * sizeof(double));
      st = bfcr_agree(ctx, failed ? BFCR_ERR_NUMERIC : BFCR_OK);
      if (st != BFCR_OK) {
        agreed = 1;
        bfcr_err(ctx, st, "ridge path failed on a cluster of level %d", l);
        goto cleanup;
      }
      BFCR_CALL_AGREED(
          bfcr_allgather_items(ctx, mine, i1 - i0, (size_t)(2 * K) * sizeof(double), vals));
    }
    BFCR_CHECK(ctx, !failed, BFCR_ERR_NUMERIC,
               "ridge path failed on a cluster of level %d (non-finite values or LAPACK error)", l);
    BFCR_ALLOC(ctx, part, ((m + BFCR_POOL_CHUNK - 1) / BFCR_POOL_CHUNK) * 2 * K);
    pooled_choice(vals, m, K, (double)t->n, lam, part, &level_lambda, &level_gcv);
  }
  if (p->lambda_mode == BFCR_LAMBDA_FIXED) level_lambda = p->lambda;

  double fl = 0.0;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nt) reduction(| : failed) \
    reduction(+ : fl)
  for (int64_t i = i0; i < i1; i++) {
    int tid = 0;
#ifdef _OPENMP
    tid = omp_get_thread_num();
#endif
    const double **x = xr + nmax * tid;
    double *yy = yv + nmax * tid, *wk = work + wmax * tid, *mean = wk + (wmax - (d + 1));
    double *w = lf->w + i * d, *s = lf->sum + i * sl;
    bfcr_cluster_model *cm = &lf->cm[i];
    int64_t n = node_size(t, l, i), par = top ? -1 : L->parent[i];
    node_rows(src, node_first(t, l, i), n, x, yy);
    rows_mean(x, yy, n, d, mean);
    s[0] = (double)n;
    memcpy(s + 1, mean, (size_t)(d + 1) * sizeof(double));
    cm->size = n;
    cm->src_level = l;
    cm->src_node = i;
    if (fallback[i]) { /* too small: the parent's model */
      *cm = up->cm[par];
      cm->size = n;
      cm->flags |= BFCR_CM_FALLBACK;
      memcpy(w, up->w + par * d, (size_t)d * sizeof(double));
      continue;
    }
    if (p->regressor == BFCR_REG_OLS) {
      double *X = wk, *yc = wk + n * d;
      for (int64_t q = 0; q < n; q++) {
        memcpy(X + q * d, x[q], (size_t)d * sizeof(double));
        yc[q] = yy[q];
      }
      int rank = 0;
      if (bfcr_ols_fit(X, d, yc, n, d, p->rcond, w, &cm->intercept, &rank) != BFCR_OK) failed |= 1;
      cm->rank = rank;
      if (rank < d) cm->flags |= BFCR_CM_RANKDEF;
      cm->lambda = 0.0;
      double df = 1.0 + rank, rss = rows_rss(x, yy, n, d, w, cm->intercept);
      cm->gcv = (double)n > df ? (double)n * rss / (((double)n - df) * ((double)n - df)) : INFINITY;
      fl += 4.0 * (double)n * d * d; /* estimate: dgelsd on n x d */
    } else {
      bfcr_ridge_result res = {0};
      const double *w0 = (p->small == BFCR_SMALL_SHRINK && !top) ? up->w + par * d : NULL;
      if (node_fit(x, yy, n, d, w0, &grid, level_lambda, wk, w, &cm->intercept, &res, &fl) !=
          BFCR_OK)
        failed |= 1;
      cm->lambda = res.lambda;
      cm->gcv = res.gcv;
      cm->rank = d;
    }
  }
  *flops += fl;
  if (dist) {
    st = bfcr_agree(ctx, failed ? BFCR_ERR_NUMERIC : BFCR_OK);
    if (st != BFCR_OK) {
      agreed = 1;
      bfcr_err(ctx, st, "regression failed on a cluster of level %d", l);
      goto cleanup;
    }
    int64_t k = i1 > i0 ? i1 - i0 : 1;
    free(mine); /* the path values' buffer of the same name */
    mine = NULL;
    BFCR_ALLOC(ctx, mine, k * d);
    BFCR_ALLOC(ctx, smine, k * sl);
    BFCR_ALLOC(ctx, cmine, k);
    memcpy(mine, lf->w + i0 * d, (size_t)((i1 - i0) * d) * sizeof(double));
    memcpy(smine, lf->sum + i0 * sl, (size_t)((i1 - i0) * sl) * sizeof(double));
    memcpy(cmine, lf->cm + i0, (size_t)(i1 - i0) * sizeof(*cmine));
    BFCR_CALL_AGREED(bfcr_allgather_items(ctx, mine, i1 - i0, (size_t)d * sizeof(double), lf->w));
    BFCR_CALL_AGREED(
        bfcr_allgather_items(ctx, smine, i1 - i0, (size_t)sl * sizeof(double), lf->sum));
    BFCR_CALL_AGREED(bfcr_allgather_items(ctx, cmine, i1 - i0, sizeof(*cmine), lf->cm));
  }
  BFCR_CHECK(ctx, !failed, BFCR_ERR_NUMERIC,
             "regression failed on a cluster of level %d (non-finite values or LAPACK error)", l);
  if (isnan(level_gcv)) { /* per-cluster or fixed penalties: size-weighted cluster GCV */
    double g = 0.0;
    for (int64_t i = 0; i < m; i++) g += (double)lf->cm[i].size * lf->cm[i].gcv;
    level_gcv = g / (double)t->n;
  }
  t->info[l].gcv = level_gcv;
cleanup:
  free(ext);
  src->ext = NULL;
  free(work);
  free(yv);
  free(xr);
  free(lam);
  free(vals);
  free(part);
  free(mine);
  free(smine);
  free(cmine);
  free(fallback);
  if (dist && !agreed) st = bfcr_agree(ctx, st);
  return st;
}

bfcr_status bfcr_fit_levels_rows(bfcr_ctx *ctx, bfcr_tree *t, const double *Z, const double *y,
                                 const double *drows, int64_t rlo, int64_t rhi,
                                 const bfcr_fit_params *p, int lo, bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  const int T = t->nlevels - 1;
  rows_src src = {t, t->d, Z, y, NULL, 0};
  double t0 = bfcr_wtime(), flops = 0.0;
  for (int l = T; l >= lo; l--)
    BFCR_CALL(fit_level_rows(ctx, t, &src, drows, rlo, rhi, p, l, l < T ? &lf[l + 1] : NULL, &lf[l],
                             &flops));
  bfcr_phase_add_est(ctx, "model fit (rows)", bfcr_wtime() - t0, flops);
cleanup:
  return st;
}
