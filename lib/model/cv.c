/* Level selection by K-fold cross-validation of the per-cluster ridge models.
 *
 * Candidates: every level 1..top (top = one global model), with the fit's routing by
 * nearest training row and its small-cluster rule (a node whose training part has fewer
 * than min_cluster_size rows takes its parent's model for that fold).
 *
 * A held-out row i of fold k goes where a new row would go: to the cluster (at each
 * level) of its nearest training row outside fold k (exact: the tree's level-0 best
 * friend, the nearest training row, when it is outside fold k; then, for the rows whose nearest row
 * shares their fold, one search over all rows that skips fold k; ties to the smaller index). It is
 * predicted by that cluster's model fitted without fold k, guarded as predict guards (guard.c) with
 * the target range and global model of the training part. The cluster structure itself is the one
 * built on all rows (the usual approximation; rebuilding the tree K times would cost K fits; on
 * small n the pick is then checked with a tree per fold, cv_honest.c).
 *
 * Models without fold k come from summaries, never from a refit over rows: per node the
 * rows are accumulated once, per fold, about the node's centroid (shifted sums keep the
 * cancellation small); the training part of fold k is the total minus fold k's part
 * (the downdate), centred, and solved with the node's ridge penalty:
 *   (S' + lambda I) w = s'_zy,  intercept = ybar' - w . zbar'.
 * Cost: one pass over the rows per level (n (d + 2)^2 / 2 flops), K d x d Cholesky
 * solves per node, one all-points search; memory K (d + 3) doubles per node.
 *
 * Score: MSE of each level over all rows (per-row squared errors, summed in row order)
 * and its standard error sd(e) / sqrt(n) (reported). The one-standard-error rule picks the
 * highest level (fewest clusters) whose MSE exceeds the best one by at most one standard
 * error of that difference, from the paired per-row differences e_l - e_best: the levels
 * are scored on the same rows, so the paired error is far smaller than sd(e) / sqrt(n)
 * on heavy-tailed targets (cps1988 wages: SE 24 against differences of 2..9), where the
 * unpaired rule always fell back to the global model. One process runs bfcr_cv_select
 * below; several ranks run the same computation with the rows distributed (cv_dist.c),
 * with every sum in the same order, so the result does not depend on the rank or thread
 * count. */
#include "model/cv.h"
#include "model/cv_impl.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "model/cv_shrink.h"
#include "model/cv_finish.h"
#include "model/cv_honest.h"
#include "model/standardize.h"
#include "par/radix.h"

/* Sorted by (key, index): the stable radix sort of lib/par/radix.c on the 64-bit keys
 * keeps equal keys in index order, as a (key, index) comparison sort would (the qsort it
 * replaced, O(n log n) and serial: ~0.2 s at 1M rows). */
void bfcr_cv_folds(uint64_t seed, int64_t n, int K, int *fold, int64_t *work4n) {
  uint64_t key = bfcr_cv_smix(seed), *k = (uint64_t *)work4n, *tk = k + 2 * n;
  int64_t *v = work4n + n, *tv = work4n + 3 * n;
  for (int64_t i = 0; i < n; i++) {
    k[i] = bfcr_cv_smix(key + (uint64_t)i);
    v[i] = i;
  }
  bfcr_radix_sort_pairs(k, v, n, 64, tk, tv);
  for (int64_t r = 0; r < n; r++) fold[v[r]] = (int)(r % K);
}

/* Nearest training row outside each row's fold. The all-points search answers most rows
 * (their nearest row is in another fold); the others (about 1/K of them) run one search
 * each over one kd-tree of all rows that skips the points of their own fold
 * (bfcr_kdtree_query_other). Exact, ties to the smaller index. */
bfcr_status bfcr_cv_route_rows(bfcr_ctx *ctx, const double *Z, int64_t n, int d, const int *fold,
                               const int64_t *bf, const bfcr_kdtree *kd0, int64_t *nn) {
  bfcr_status st = BFCR_OK;
  bfcr_kdtree *kt = NULL;      /* built here when no tree over Z was handed over */
  const bfcr_kdtree *kq = kd0; /* the tree the fold-skipping queries walk */
  double *d2 = NULL;
  int64_t *need = NULL, *qnn = NULL, nneed = 0;
  BFCR_ALLOC(ctx, d2, n);
  if (bf) { /* the tree's level-0 best friends: the same exact search, already done */
    memcpy(nn, bf, (size_t)n * sizeof *nn);
  } else {
    st = bfcr_kdtree_build(Z, n, d, ctx->nthreads, &kt);
    if (st == BFCR_OK) st = bfcr_kdtree_allnn(kt, ctx->nthreads, nn, d2);
  }
  if (st != BFCR_OK) {
    bfcr_err(ctx, st, "cross-validation: nearest-row search failed");
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) nneed += fold[nn[i]] == fold[i];
  if (nneed == 0) goto cleanup;
  BFCR_ALLOC(ctx, need, nneed);
  BFCR_ALLOC(ctx, qnn, nneed);
  if (!kq && !kt) st = bfcr_kdtree_build(Z, n, d, ctx->nthreads, &kt);
  if (!kq) kq = kt;
  if (st == BFCR_OK) {
    /* Queries in tree order: neighbouring queries walk the same nodes and leaves; each
     * answer depends on its row alone (the search is exact, so on any tree over Z). */
    const int64_t *ti = bfcr_kdtree_index(kq);
    nneed = 0;
    for (int64_t p = 0; p < n; p++)
      if (fold[nn[ti[p]]] == fold[ti[p]]) need[nneed++] = ti[p];
    st = bfcr_kdtree_query_other(kq, Z, need, nneed, fold, ctx->nthreads, qnn, d2);
  }
  if (st != BFCR_OK) {
    bfcr_err(ctx, st, "cross-validation: nearest-row search failed");
    goto cleanup;
  }
  for (int64_t r = 0; r < nneed; r++) nn[need[r]] = qnn[r];
cleanup:
  bfcr_kdtree_free(kt);
  free(d2);
  free(need);
  free(qnn);
  return st;
}

/* Zero the K + 1 fold accumulators of one node (acc: (K + 1) * bfcr_cv_accw(d)). */
void bfcr_cv_acc_init(double *acc, int K, int d) {
  int64_t W = bfcr_cv_accw(d);
  memset(acc, 0, (size_t)(K + 1) * W * sizeof(double));
  for (int k = 0; k <= K; k++) {
    acc[k * W + W - 2] = INFINITY;
    acc[k * W + W - 1] = -INFINITY;
  }
}

/* Add positions [p0, p1) of node c of level l, in dendrogram order, to its fold
 * accumulators. ord: t->order when Z, y, fold are in row order; NULL when they are in
 * dendrogram order starting at position base. */
void bfcr_cv_acc_rows(const bfcr_tree *t, int l, int64_t c, int64_t p0, int64_t p1,
                      const int64_t *ord, int64_t base, const double *Z, const double *y,
                      const int *fold, double *acc) {
  int d = t->d;
  int64_t W = bfcr_cv_accw(d);
  const double *ns = t->lv[l].ns + (c - t->lv[l].ns_lo) * bfcr_ns_width(d); /* tree.h */
  const double *mu = ns + BFCR_NS_MEAN;
  double muy = ns[bfcr_ns_y(d)];
  if (!isfinite(muy)) muy = 0.0;
  for (int64_t p = p0; p < p1; p++) {
    int64_t g = ord ? ord[p] : p - base; /* NULL: Z, y, fold are already in dendrogram order */
    double *a = acc + (int64_t)fold[g] * W, u[256];
    const double *z = Z + g * d;
    double v = y[g] - muy;
    for (int j = 0; j < d; j++) u[j] = z[j] - mu[j];
    a[0] += 1.0;
    for (int j = 0; j < d; j++) a[1 + j] += u[j];
    a[1 + d] += v;
    double *S = a + 2 + d, *sv = S + (int64_t)d * d;
    for (int j = 0; j < d; j++) {
      for (int q = j; q < d; q++) S[j * d + q] += u[j] * u[q];
      sv[j] += u[j] * v;
    }
    if (y[g] < a[W - 2]) a[W - 2] = y[g];
    if (y[g] > a[W - 1]) a[W - 1] = y[g];
  }
}

/* Fold models of node c of level l from its complete accumulators (acc, of which the
 * last slot receives the totals). par: the parent's fold models, or NULL. A fold whose
 * training part is smaller than minsize takes the parent's model: copied from par when
 * given, else (has_par, the distributed path) marked in use_par[k] for the caller to
 * fill in. A: d * d, rhs: d scratch. */
static void node_solve(const bfcr_tree *t, int l, int64_t c, int K, int64_t minsize, double lambda,
                       const double *par, int has_par, double *acc, double *out,
                       unsigned char *use_par, double *A, double *rhs, int toward) {
  int d = t->d;
  int64_t W = bfcr_cv_accw(d);
  const double *ns = t->lv[l].ns + (c - t->lv[l].ns_lo) * bfcr_ns_width(d); /* tree.h */
  const double *mu = ns + BFCR_NS_MEAN;
  double muy = ns[bfcr_ns_y(d)];
  if (!isfinite(muy)) muy = 0.0;
  double *tot = acc + (int64_t)K * W; /* totals, summed in fold order */
  for (int k = 0; k < K; k++)
    for (int64_t q = 0; q < W - 2; q++) tot[q] += acc[k * W + q];
  for (int k = 0; k < K; k++) {
    double *o = out + k * CVW(d);
    const double *a = acc + k * W;
    double nn = tot[0] - a[0];
    if (use_par) use_par[k] = 0;
    if ((nn < (double)minsize || nn < 1.0) && has_par) {
      if (par)
        memcpy(o, par + k * CVW(d), (size_t)CVW(d) * sizeof(double));
      else if (use_par)
        use_par[k] = 1;
      continue;
    }
    double lo = INFINITY, hi = -INFINITY;
    for (int k2 = 0; k2 < K; k2++)
      if (k2 != k) {
        if (acc[k2 * W + W - 2] < lo) lo = acc[k2 * W + W - 2];
        if (acc[k2 * W + W - 1] > hi) hi = acc[k2 * W + W - 1];
      }
    if (nn < 1.0) { /* top level, empty training part: cannot happen with K <= n */
      memset(o, 0, (size_t)CVW(d) * sizeof(double));
      o[d] = muy;
      o[d + 1] = muy;
      o[d + 2] = muy;
      continue;
    }
    double mz[256], my = (tot[1 + d] - a[1 + d]) / nn, tr = 0.0;
    for (int j = 0; j < d; j++) mz[j] = (tot[1 + j] - a[1 + j]) / nn;
    const double *St = tot + 2 + d, *Sk = a + 2 + d;
    for (int j = 0; j < d; j++) {
      for (int q = j; q < d; q++) {
        double s = (St[j * d + q] - Sk[j * d + q]) - nn * mz[j] * mz[q];
        A[j * d + q] = s;
        A[q * d + j] = s;
      }
      tr += A[j * d + j];
      rhs[j] = (St[(int64_t)d * d + j] - Sk[(int64_t)d * d + j]) - nn * mz[j] * my;
    }
    /* The fit's penalty; a floor keeps OLS (lambda 0) and constant columns solvable. */
    double lam = lambda > 0 ? lambda : 0.0, floor = 1e-10 * (tr / d + 1e-300);
    if (lam < floor) lam = floor;
    /* toward: shrunk toward the parent's fold model w0 instead of 0. */
    const double *w0 = toward ? par + k * CVW(d) : NULL;
    for (int j = 0; j < d; j++) {
      A[j * d + j] += lam;
      if (w0) rhs[j] += lam * w0[j];
    }
    /* A is symmetric (both triangles set): column-major, no transposed copy. */
    if (LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'U', d, 1, A, d, rhs, d) != 0)
      for (int j = 0; j < d; j++)
        rhs[j] = w0 ? w0[j] : 0.0; /* not positive definite: the
                                      parent's or the mean model */
    double b = my + muy;
    for (int j = 0; j < d; j++) {
      o[j] = rhs[j];
      b -= rhs[j] * (mz[j] + mu[j]);
    }
    o[d] = b;
    o[d + 1] = lo;
    o[d + 2] = hi;
  }
}

void bfcr_cv_node_solve(const bfcr_tree *t, int l, int64_t c, int K, int64_t minsize, double lambda,
                        const double *par, int has_par, double *acc, double *out,
                        unsigned char *use_par, double *A, double *rhs) {
  node_solve(t, l, c, K, minsize, lambda, par, has_par, acc, out, use_par, A, rhs, 0);
}

void bfcr_cv_node_solve_toward(const bfcr_tree *t, int l, int64_t c, int K, int64_t minsize,
                               double lambda, const double *par, double *acc, double *out,
                               double *A, double *rhs) {
  node_solve(t, l, c, K, minsize, lambda, par, 1, acc, out, NULL, A, rhs, 1);
}

/* Fold models of node c of level l. acc: scratch of K * (1 + 2 d + 1 + d d + 2) doubles,
 * A: d * d, rhs: d. par: the parent's fold models (NULL at the top). ord: t->order when
 * Z, y, fold are in row order, NULL when they are in dendrogram order. */
static void node_fold_models(const bfcr_tree *t, int l, int64_t c, const int64_t *ord,
                             const double *Z, const double *y, const int *fold, int K,
                             int64_t minsize, double lambda, const double *par, double *out,
                             double *acc, double *A, double *rhs) {
  if (par && t->lv[l].start[c + 1] - t->lv[l].start[c] < minsize) {
    /* Every fold's training part is smaller than the node: all folds take the parent's
     * models (as bfcr_cv_node_solve would), no pass over the rows (most of level 1). */
    memcpy(out, par, (size_t)K * CVW(t->d) * sizeof(double));
    return;
  }
  bfcr_cv_acc_init(acc, K, t->d);
  bfcr_cv_acc_rows(t, l, c, t->lv[l].start[c], t->lv[l].start[c + 1], ord, 0, Z, y, fold, acc);
  bfcr_cv_node_solve(t, l, c, K, minsize, lambda, par, par != NULL, acc, out, NULL, A, rhs);
}

bfcr_status bfcr_cv_node_models(bfcr_ctx *ctx, const bfcr_tree *t, int l, int64_t c,
                                const double *Z, const double *y, const int *fold, int K,
                                int64_t minsize, double lambda, const double *par, double *out) {
  int d = t->d;
  int64_t W = 1 + d + 1 + (int64_t)d * d + d + 2;
  double *acc = malloc((size_t)((K + 1) * W + (int64_t)d * d + d) * sizeof(double));
  if (!acc) return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory in cross-validation");
  node_fold_models(t, l, c, t->order, Z, y, fold, K, minsize, lambda, par, out, acc,
                   acc + (K + 1) * W, acc + (K + 1) * W + (int64_t)d * d);
  free(acc);
  return BFCR_OK;
}

/* Squared out-of-fold error of every row at level l (row-parallel, each value depends on
 * its row alone). cl: cluster at level l of each row's routing row. */
static void score_level(int l, int T, int K, int64_t n, int d, const int64_t *cl, const int *fold,
                        const double *Z, const double *Y, double *const *fm, double margin,
                        int nthreads, double *err) {
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; i++) {
    int64_t c = cl[i];
    int k = fold[i];
    double e = Y[i] - bfcr_cv_fold_pred(fm[l] + (c * K + k) * CVW(d), fm[T] + k * CVW(d), Z + i * d,
                                        d, margin);
    err[i] = e * e;
  }
}

/* The level CV on the tree of all rows (replicated or distributed), levels and shrinkage. */
static bfcr_status select_shared_tree(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                                      const bfcr_zsrc *zs, const double *y, int64_t n_local,
                                      const bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = t->d, T = t->nlevels - 1, K = p->folds;
  int64_t n = t->n, *work = NULL, *nn = NULL;
  int *fold = NULL;
  double **fm = NULL, *err = NULL, *eb = NULL, *Zd = NULL, *Yd = NULL;
  int *fd = NULL;
  int64_t *lab = NULL;
  const double *Z = zs->Z, *Y = y;
  if (T < 1) return BFCR_OK;
  if (d > 256) {
    bfcr_log(ctx, BFCR_LOG_WARN, "cross-validation supports up to 256 features: level by %s",
             bfcr_criterion_name(p->criterion));
    return BFCR_OK;
  }
  if (K > n) K = (int)n;
  if (K < 2) {
    bfcr_log(ctx, BFCR_LOG_WARN, "%lld training row%s: too few for cross-validation, level by %s",
             (long long)n, n == 1 ? "" : "s", bfcr_criterion_name(p->criterion));
    return BFCR_OK;
  }
  if (K < p->folds)
    bfcr_log(ctx, BFCR_LOG_WARN, "%lld training rows: %d folds instead of %d", (long long)n, K,
             p->folds);
  if (ctx->size > 1) /* rows, folds, fold models and sums stay distributed (cv_dist.c) */
    return bfcr_cv_select_dist(ctx, t, lf, zs, y, n_local, K, p, m);
  double t0 = bfcr_wtime();
  BFCR_ALLOC(ctx, fold, n);
  BFCR_ALLOC(ctx, work, 4 * n); /* the folds' sort; later n words */
  bfcr_cv_folds(p->seed, n, K, fold, work);
  free(work);
  work = NULL;
  BFCR_ALLOC(ctx, work, n);
  BFCR_ALLOC(ctx, nn, n);
  BFCR_ALLOC(ctx, err, n);
  /* Level 0's kd-tree is over the same standardized rows on one rank (t->kd0); freed
   * once the rows are routed (an n x d copy of the rows). */
  const bfcr_kdtree *kd0 = ctx->size == 1 && t->kd0 ? *t->kd0 : NULL;
  st = bfcr_cv_route_rows(ctx, Z, n, d, fold, t->lv[0].bf, kd0, nn);
  if (t->kd0) {
    bfcr_kdtree_free(*t->kd0);
    *t->kd0 = NULL;
  }
  if (st != BFCR_OK) goto cleanup;
  bfcr_phase_add(ctx, "cv: routing", bfcr_wtime() - t0, 0.0);
  double t1 = bfcr_wtime();
  BFCR_CALLOC(ctx, fm, T + 1);
  for (int l = T; l >= 1; l--) BFCR_ALLOC(ctx, fm[l], t->lv[l].m * K * CVW(d));
  /* Rows in dendrogram order: every node is one contiguous, streamed range (the sums run
   * over the same rows in the same order as through t->order, so the bits are equal). */
  BFCR_ALLOC(ctx, Zd, n * d);
  BFCR_ALLOC(ctx, Yd, n);
  BFCR_ALLOC(ctx, fd, n);
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
  for (int64_t q = 0; q < n; q++) {
    int64_t g = t->order[q];
    memcpy(Zd + q * d, Z + g * d, (size_t)d * sizeof(double));
    Yd[q] = Y[g];
    fd[q] = fold[g];
  }
  /* Fold models top-down (a small node copies its parent's). */
  int64_t W = 1 + d + 1 + (int64_t)d * d + d + 2;
  int failed = 0;
  for (int l = T; l >= 1; l--) {
    const bfcr_level *L = &t->lv[l];
#pragma omp parallel num_threads(ctx->nthreads) reduction(| : failed)
    {
      double *acc = malloc((size_t)((K + 1) * W + (int64_t)d * d + d) * sizeof(double));
      if (!acc) failed = 1;
#pragma omp for schedule(dynamic, 16)
      for (int64_t c = 0; c < L->m; c++) {
        if (!acc) continue;
        const double *par = l < T ? fm[l + 1] + L->parent[c] * K * CVW(d) : NULL;
        node_fold_models(t, l, c, NULL, Zd, Yd, fd, K, p->min_cluster_size, lf[l].cm[c].lambda, par,
                         fm[l] + c * K * CVW(d), acc, acc + (K + 1) * W,
                         acc + (K + 1) * W + (int64_t)d * d);
      }
      free(acc);
    }
    BFCR_CHECK(ctx, !failed, BFCR_ERR_NOMEM, "out of memory in cross-validation");
  }
  free(Zd);
  free(Yd);
  free(fd);
  Zd = Yd = NULL;
  fd = NULL;
  bfcr_phase_add(ctx, "cv: fold models", bfcr_wtime() - t1, 0.0);
  t1 = bfcr_wtime();
  BFCR_ALLOC(ctx, m->cv_rmse, T + 1);
  BFCR_ALLOC(ctx, m->cv_se, T + 1);
  m->cv_rmse[0] = m->cv_se[0] = NAN;
  double *mse = m->cv_rmse, *se = m->cv_se;
  /* lab: cluster of each held-out row's routing row, level by level up the parent links
   * (small arrays above level 1, so few cache misses). eb keeps the errors of the lowest
   * MSE so far (ties: the higher level, as the choice below), so the one-SE pass need
   * not score the best level again. */
  BFCR_ALLOC(ctx, lab, n);
  BFCR_ALLOC(ctx, eb, n);
  int run = 0; /* the level whose errors eb holds, 0: none */
  for (int l = 1; l <= T; l++) {
    const int64_t *up = t->lv[l - 1].parent;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < n; i++) lab[i] = l == 1 ? up[nn[i]] : up[lab[i]];
    score_level(l, T, K, n, d, lab, fold, Z, Y, fm, p->guard_margin, ctx->nthreads, err);
    double s = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; i++) s += err[i];
    s /= (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (err[i] - s) * (err[i] - s);
    mse[l] = s;
    se[l] = n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0;
    if (run == 0 || mse[l] <= mse[run]) {
      double *sw = eb;
      eb = err;
      err = sw;
      run = l;
    }
  }
  int best = bfcr_cv_best_level(mse, T);
  int pick = best;
  /* One-SE rule: the highest level within one SE of the paired differences of best.
   * Levels best + 1..T are scored bottom-up (labels by one parent step each), the
   * highest that passes wins, as a top-down search that stops at the first pass. */
  if (best < T) {
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < n; i++) {
      int64_t c = t->lv[0].parent[nn[i]];
      for (int q = 1; q < best; q++) c = t->lv[q].parent[c];
      lab[i] = c;
    }
    if (run != best)
      score_level(best, T, K, n, d, lab, fold, Z, Y, fm, p->guard_margin, ctx->nthreads, eb);
  }
  for (int l = best + 1; l <= T; l++) {
    const int64_t *up = t->lv[l - 1].parent;
#pragma omp parallel for schedule(static) num_threads(ctx->nthreads)
    for (int64_t i = 0; i < n; i++) lab[i] = up[lab[i]];
    score_level(l, T, K, n, d, lab, fold, Z, Y, fm, p->guard_margin, ctx->nthreads, err);
    double md = 0.0, s2 = 0.0;
    for (int64_t i = 0; i < n; i++) md += err[i] - eb[i];
    md /= (double)n;
    for (int64_t i = 0; i < n; i++) s2 += (err[i] - eb[i] - md) * (err[i] - eb[i] - md);
    double sed = n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0;
    if (md <= sed) pick = l;
  }
  /* work: level-1 node of each row's routing row. */
  for (int64_t i = 0; i < n; i++) work[i] = t->lv[0].parent[nn[i]];
  bfcr_cv_fm_tab tab = {fm, K, d};
  bfcr_zsrc zall = {Z, NULL, NULL, NULL, d};
  bfcr_cv_rows rows = {bfcr_cv_fm_table, &tab, n, &zall, Y, fold, t->lv[0].parent, work, 0};
  BFCR_CALL(bfcr_cv_finish(ctx, t, K, best, pick, t1, &rows, p, m));
cleanup:
  for (int l = 0; fm && l <= T; l++) free(fm[l]);
  free(fm);
  free(fold);
  free(work);
  free(nn);
  free(err);
  free(eb);
  free(Zd);
  free(Yd);
  free(fd);
  free(lab);
  return st;
}

bfcr_status bfcr_cv_select(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const double *y, int64_t n_local,
                           const bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = select_shared_tree(ctx, t, lf, zs, y, n_local, p, m);
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  /* The shared tree favours clustered levels (the held-out rows shaped the clusters): on
   * small n the pick must also beat the global model with a tree per fold (cv_honest.c). */
  if (st == BFCR_OK) st = bfcr_cv_honest(ctx, t, zs, y, n_local, p, m);
  return st;
}
