/* Small-cluster policy candidates of the cross-validated selection.
 *
 * The fit's default small-cluster policy (ancestor) gives a node whose training part has
 * fewer than d + 2 rows its parent's model and fits every other node by plain ridge. The
 * shrink policy fits every node below the top by ridge toward its parent's model,
 *   min |y - X w - b|^2 + lambda |w - w_parent|^2,
 * down to 2 rows, with each level's lambda by the pooled GCV of that policy (fit_models.c).
 * Which is better depends on whether small clusters' own slopes carry signal beyond the
 * parent's: the data decide, by the same K-fold CV as the levels.
 *
 * Candidates: the shrink policy at every level 1..top-1 with hard routing (at the top both
 * policies are the same global model). Each is scored as cv.c scores the levels: a
 * held-out row goes to the cluster of its routing row (nearest training row outside its
 * fold), is predicted by that node's model fitted without its fold, and guarded as predict
 * guards with the fold's global model. Fold models come from summaries as in cv.c: per
 * node the rows are accumulated per fold about the node's centroid and the training part
 * of fold k is the total minus fold k's part (the centred downdate), solved top-down with
 * the parent's fold-k model as the shrinkage target:
 *   (S' + lambda I) w = s'_zy + lambda w_parent,k,  intercept = ybar' - w . zbar'.
 * A fold whose training part has fewer than 2 rows takes the parent's fold model. The
 * level penalty is the policy's own full-data choice (pooled GCV of the node paths toward
 * the full-data parent models, in the fit's 256-node chunks), as the ancestor candidates
 * use the fit's penalties (the penalty is not re-chosen per fold).
 *
 * Choice: the pick of the ridge CV (ancestor policy, its level and shrinkage) is the
 * simpler candidate; a shrink candidate replaces it only when its mean paired difference
 * of squared errors is below minus one standard error (the levels' one-SE rule); of the
 * candidates that pass, the lowest CV MSE (ties to the higher level).
 *
 * Cost: two passes over the rows per level (summaries, fold accumulators: O(n d^2)), a
 * ridge path (one d x d eigendecomposition) and K d x d solves per node. It runs on rows
 * replicated on every rank (the kernel candidates' set-up, cv_kernel.c), so within a
 * budget of n x K rows (cv_small.h). Every value depends on its node or row alone and
 * every sum runs in a fixed order: the same choice for any rank or thread count. */
#include "model/cv_small.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/ctx.h"
#include "model/cv_impl.h"
#include "regress/regress.h"

/* Full-data model (w, then the intercept, into w[0..d]) of the rows of summary s at penalty
 * lam toward w0 (NULL: 0) by a Cholesky solve: these models are only the shrinkage targets
 * of the children's penalty choice, so the eigendecomposition of the fit's ridge is not
 * needed (the same estimator up to rounding). A: d x d scratch. */
static void summary_solve(const double *s, int d, const double *w0, double lam, double *A,
                          double *w) {
  const double *mean = s + 1, *M = s + 1 + (d + 1);
  double tr = 0.0;
  for (int j = 0; j < d; j++) {
    for (int q = j; q < d; q++) A[j * d + q] = A[q * d + j] = M[bfcr_pk(j, q)];
    tr += A[j * d + j];
    w[j] = M[bfcr_pk(j, d)];
  }
  double lm = lam > 0 ? lam : 0.0, floor = 1e-10 * (tr / d + 1e-300);
  if (lm < floor) lm = floor;
  for (int j = 0; j < d; j++) {
    A[j * d + j] += lm;
    if (w0) w[j] += lm * w0[j];
  }
  if (LAPACKE_dposv_work(LAPACK_COL_MAJOR, 'U', d, 1, A, d, w, d) != 0)
    for (int j = 0; j < d; j++) w[j] = w0 ? w0[j] : 0.0;
  double b = mean[d];
  for (int j = 0; j < d; j++) b -= w[j] * mean[j];
  w[d] = b;
}

int bfcr_cv_small_wanted(const bfcr_fit_params *p, const bfcr_model *m, int nlevels) {
  return p->small == BFCR_SMALL_AUTO && p->regressor == BFCR_REG_RIDGE &&
         p->lambda_mode == BFCR_LAMBDA_LEVEL && m->cv_rmse && m->chosen >= 1 && nlevels >= 3 &&
         m->hcv_state != 2 && nlevels <= 128;
}

/* Per-thread scratch: row pointers and targets of one node, summary work, ridge work,
 * fold accumulators, A, rhs. */
typedef struct scratch {
  const double **xr;
  double *yv, *sw, *rw, *acc, *A, *rhs;
} scratch;

bfcr_status bfcr_cv_small(bfcr_ctx *ctx, const bfcr_tree *t, const double *Z, const double *Y,
                          const int *fold, int K, const int64_t *route1, double *const *fm,
                          double *p2, bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  const int T = t->nlevels - 1, d = t->d, nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
  const int64_t n = t->n, SL = bfcr_sum_len(d), W = bfcr_cv_accw(d), NL = p->lambda_steps;
  const int64_t minsize = p->min_cluster_size == d + 2 ? 2 : p->min_cluster_size;
  const int64_t CH = BFCR_POOL_CHUNK;
  double **wf = NULL, **fs = NULL, *sum = NULL, *v = NULL, *part = NULL, *lam = NULL;
  double *e2 = NULL, *eb = NULL, *buf = NULL;
  scratch *sc = NULL;
  int failed = 0;
  double bmse = INFINITY;
  if (d > 256 || NL < 1) return BFCR_OK;
  double t0 = bfcr_wtime();
  const int nl = t->nlevels;
  m->scv_rmse = malloc((size_t)nl * sizeof(double));
  m->scv_dmse = malloc((size_t)nl * sizeof(double));
  m->scv_dse = malloc((size_t)nl * sizeof(double));
  m->scv_lambda = malloc((size_t)nl * sizeof(double));
  BFCR_CHECK(ctx, m->scv_rmse && m->scv_dmse && m->scv_dse && m->scv_lambda, BFCR_ERR_NOMEM,
             "small-cluster CV: out of memory");
  for (int l = 0; l < nl; l++) m->scv_rmse[l] = m->scv_dmse[l] = m->scv_dse[l] = NAN;
  for (int l = 0; l < nl; l++) m->scv_lambda[l] = NAN;
  m->scv_pick = 0;
  m->scv_state = 1;
  if ((double)n * K > (double)BFCR_CV_SMALL_MAX_ROWS) {
    m->scv_state = 2;
    bfcr_log(ctx, BFCR_LOG_INFO,
             "small-cluster candidates skipped: %lld rows x %d folds over the budget (%lld): "
             "ancestor policy",
             (long long)n, K, (long long)BFCR_CV_SMALL_MAX_ROWS);
    goto cleanup;
  }
  BFCR_CALLOC(ctx, wf, T + 1);
  BFCR_CALLOC(ctx, fs, T + 1);
  BFCR_ALLOC(ctx, lam, NL);
  for (int k = 0; k < NL; k++)
    lam[k] = NL == 1 ? p->lambda_min
                     : exp(log(p->lambda_min) +
                           (log(p->lambda_max) - log(p->lambda_min)) * k / (double)(NL - 1));
  const int64_t swl = bfcr_sum_rows_work_len(d), rwl = bfcr_ridge_work_len(d);
  const int64_t per = n * 2 + swl + rwl + (K + 1) * W + (int64_t)d * d + d;
  BFCR_CALLOC(ctx, sc, nt);
  BFCR_ALLOC(ctx, buf, per * nt);
  for (int th = 0; th < nt; th++) {
    double *b = buf + per * th;
    sc[th].xr = (const double **)b; /* n pointers in n doubles' room */
    sc[th].yv = b + n;
    sc[th].sw = sc[th].yv + n;
    sc[th].rw = sc[th].sw + swl;
    sc[th].acc = sc[th].rw + rwl;
    sc[th].A = sc[th].acc + (K + 1) * W;
    sc[th].rhs = sc[th].A + (int64_t)d * d;
  }
  /* Level by level from the top down: full-data summaries and models (the shrinkage
   * targets of the full-data penalty choice), then the fold models. */
  for (int l = T; l >= 1; l--) {
    const int64_t ml = t->lv[l].m, nch = (ml + CH - 1) / CH;
    const int top = l == T;
    BFCR_ALLOC(ctx, wf[l], ml * (d + 1));
    if (!top) BFCR_ALLOC(ctx, fs[l], ml * K * CVW(d));
    free(sum);
    free(v);
    free(part);
    sum = v = part = NULL;
    BFCR_ALLOC(ctx, sum, ml * SL);
    BFCR_ALLOC(ctx, v, ml * (2 * NL + 1));
    BFCR_CALLOC(ctx, part, nch * 2 * NL);
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt) reduction(| : failed)
    for (int64_t c = 0; c < ml; c++) {
      int th = 0;
#ifdef _OPENMP
      th = omp_get_thread_num();
#endif
      const scratch *s = &sc[th];
      const int64_t p0 = t->lv[l].start[c], p1 = t->lv[l].start[c + 1];
      for (int64_t q = p0; q < p1; q++) {
        int64_t g = t->order[q];
        s->xr[q - p0] = Z + g * d;
        s->yv[q - p0] = Y[g];
      }
      double *sm = sum + c * SL, *vc = v + c * (2 * NL + 1);
      bfcr_sum_rowptrs_work(s->xr, s->yv, p1 - p0, d, s->sw, sm);
      const double *w0 = top ? NULL : wf[l + 1] + t->lv[l].parent[c] * (d + 1);
      if (!top && p1 - p0 < minsize) { /* the parent's model: its RSS, no df */
        double r = bfcr_sum_rss(sm, d, w0, w0[d]);
        for (int k = 0; k < NL; k++) vc[k] = r;
        vc[2 * NL] = 1.0;
      } else {
        vc[2 * NL] = 0.0;
        failed |= bfcr_ridge_path(sm, d, w0, NL, lam, s->rw, vc, vc + NL) != BFCR_OK;
      }
    }
    BFCR_CHECK(ctx, !failed, BFCR_ERR_NUMERIC, "small-cluster CV: ridge path failed, level %d", l);
    for (int64_t c = 0; c < ml; c++) { /* the fit's chunks, in node order */
      double *acc = part + (c / CH) * 2 * NL;
      const double *vc = v + c * (2 * NL + 1);
      for (int k = 0; k < NL; k++) acc[k] += vc[k];
      if (vc[2 * NL] == 0.0)
        for (int k = 0; k < NL; k++) acc[NL + k] += vc[NL + k];
    }
    double lamL = 0.0, gcv = 0.0;
    bfcr_pooled_pick(part, nch, (int)NL, (double)n, lam, &lamL, &gcv);
    m->scv_lambda[l] = lamL;
#pragma omp parallel for schedule(dynamic, 8) num_threads(nt)
    for (int64_t c = 0; c < ml; c++) {
      int th = 0;
#ifdef _OPENMP
      th = omp_get_thread_num();
#endif
      const scratch *s = &sc[th];
      const int64_t p0 = t->lv[l].start[c], p1 = t->lv[l].start[c + 1];
      const int64_t par = top ? -1 : t->lv[l].parent[c];
      double *w = wf[l] + c * (d + 1);
      const double *w0 = top ? NULL : wf[l + 1] + par * (d + 1);
      if (!top && p1 - p0 < minsize) {
        memcpy(w, w0, (size_t)(d + 1) * sizeof(double));
      } else {
        summary_solve(sum + c * SL, d, w0, lamL, s->A, w);
      }
      if (top) continue; /* the top's fold models are cv.c's (fm[T]): the same model */
      const double *pf = l + 1 == T ? fm[T] : fs[l + 1] + par * K * CVW(d);
      double *out = fs[l] + c * K * CVW(d);
      if (p1 - p0 < minsize) { /* every fold's training part is smaller still */
        memcpy(out, pf, (size_t)K * CVW(d) * sizeof(double));
        continue;
      }
      bfcr_cv_acc_init(s->acc, K, d);
      bfcr_cv_acc_rows(t, l, c, p0, p1, t->order, 0, Z, Y, fold, s->acc);
      bfcr_cv_node_solve_toward(t, l, c, K, minsize, lamL, pf, s->acc, out, s->A, s->rhs);
    }
    if (l + 1 < T) { /* the level above is no longer a shrinkage target */
      free(fs[l + 1]);
      fs[l + 1] = NULL;
    }
    if (top) continue;
    /* The candidate at level l: every row by its routing row's level-l node. */
    BFCR_ALLOC(ctx, e2, n);
    if (!eb) BFCR_ALLOC(ctx, eb, n);
    const double margin = p->guard_margin;
#pragma omp parallel for schedule(static) num_threads(nt)
    for (int64_t i = 0; i < n; i++) {
      int64_t c = route1[i];
      for (int q = 1; q < l; q++) c = t->lv[q].parent[c];
      const int k = fold[i];
      const double *z = Z + i * d;
      double e =
          Y[i] - bfcr_cv_fold_pred(fs[l] + (c * K + k) * CVW(d), fm[T] + k * CVW(d), z, d, margin);
      e2[i] = e * e;
    }
    double se2 = 0.0, sd = 0.0, s2 = 0.0, nd = (double)n;
    for (int64_t i = 0; i < n; i++) {
      se2 += e2[i];
      sd += e2[i] - p2[i];
    }
    const double md = sd / nd;
    for (int64_t i = 0; i < n; i++) s2 += (e2[i] - p2[i] - md) * (e2[i] - p2[i] - md);
    const double sed = n > 1 ? sqrt(s2 / (nd - 1) / nd) : 0.0, mse = se2 / nd;
    m->scv_rmse[l] = sqrt(mse);
    m->scv_dmse[l] = md;
    m->scv_dse[l] = sed;
    bfcr_log(ctx, BFCR_LOG_DEBUG,
             "small-cluster candidate shrink, level %d (lambda %.4g): CV RMSE %.6g, dMSE %.6g, "
             "SE %.6g",
             l, lamL, sqrt(mse), md, sed);
    /* levels descend: a lower level replaces a passing one only when strictly better */
    if (md < -sed && mse < bmse) {
      bmse = mse;
      m->scv_pick = l;
      double *sw = eb;
      eb = e2;
      e2 = sw;
    }
    free(e2);
    e2 = NULL;
  }
  double sp = 0.0;
  for (int64_t i = 0; i < n; i++) sp += p2[i];
  m->scv_pick_rmse = sqrt(sp / (double)n);
  if (m->scv_pick > 0) {
    const int L = m->scv_pick;
    bfcr_log(ctx, BFCR_LOG_INFO,
             "small-cluster policy shrink at level %d replaces ancestor at level %d: CV RMSE "
             "%.6g against %.6g (dMSE %.6g, SE %.6g)",
             L, m->chosen, m->scv_rmse[L], m->scv_pick_rmse, m->scv_dmse[L], m->scv_dse[L]);
    m->chosen = L;
    m->shrink_lambda = 0.0;
    p->small = BFCR_SMALL_SHRINK;
    p->min_cluster_size = minsize;
    memcpy(p2, eb, (size_t)n * sizeof *p2);
  } else {
    bfcr_log(ctx, BFCR_LOG_INFO,
             "small-cluster policy: ancestor kept (no shrink candidate "
             "better by one standard error)");
  }
cleanup:
  bfcr_phase_add(ctx, "cv: small-cluster candidates", bfcr_wtime() - t0, 0.0);
  for (int l = 0; wf && l <= T; l++) free(wf[l]);
  for (int l = 0; fs && l <= T; l++) free(fs[l]);
  free(wf);
  free(fs);
  free(sum);
  free(v);
  free(part);
  free(lam);
  free(e2);
  free(eb);
  free(buf);
  free(sc);
  return st;
}

void bfcr_cv_small_adopt(bfcr_model *from, bfcr_model *to) {
#define SWAP_PTR(f)             \
  do {                          \
    void *tmp_ = (void *)to->f; \
    to->f = from->f;            \
    from->f = tmp_;             \
  } while (0)
  SWAP_PTR(cv_rmse);
  SWAP_PTR(cv_se);
  SWAP_PTR(shrink_grid);
  SWAP_PTR(shrink_rmse);
  SWAP_PTR(shrink_dmse);
  SWAP_PTR(shrink_dse);
  SWAP_PTR(kcv_state);
  SWAP_PTR(kcv_cost);
  SWAP_PTR(kcv_rmse);
  SWAP_PTR(kcv_dmse);
  SWAP_PTR(kcv_dse);
  SWAP_PTR(scv_rmse);
  SWAP_PTR(scv_dmse);
  SWAP_PTR(scv_dse);
  SWAP_PTR(scv_lambda);
#undef SWAP_PTR
  to->cv_folds = from->cv_folds;
  to->cv_best = from->cv_best;
  to->shrink_ng = from->shrink_ng;
  from->shrink_ng = 0;
  to->kcv_budget = from->kcv_budget;
  to->hcv_state = from->hcv_state;
  to->hcv_level = from->hcv_level;
  to->hcv_lambda = from->hcv_lambda;
  to->hcv_dmse = from->hcv_dmse;
  to->hcv_dse = from->hcv_dse;
  to->scv_state = from->scv_state;
  to->scv_pick = from->scv_pick;
  to->scv_pick_rmse = from->scv_pick_rmse;
  to->params = from->params;
}
