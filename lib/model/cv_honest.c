/* Honest (nested) check of the cross-validated ridge pick against one global model.
 *
 * Why: the level CV (cv.c) scores every level on the clusters of the tree built once on
 * all training rows, so a held-out row helped shape the cluster it is scored in. That
 * favours the clustered levels over the global model (whose one node does not depend on
 * the tree), most on small n, where each row moves the clusters most: diabetes (354
 * training rows) picked 2 clusters over the global model by more than one paired SE and
 * lost 5.5% to it on the test rows (docs/accuracy.md).
 *
 * What: for each fold k the whole procedure is rerun on the rows outside fold k (its own
 * tree, its own ridge models and penalties), and each held-out row is routed and
 * predicted as predict would: to the cluster, at the fold tree's matching level, of its
 * nearest training row (the same exact search as cv.c's), with the pick's shrinkage
 * lambda along that fold tree's path, guarded by the source node's target range and the
 * fold's global model. Matching: the fold tree's level below its top whose number of
 * clusters is nearest the pick's (log scale, ties to fewer clusters). Not the level index:
 * a fold tree is often one level shallower, and "level L" would then be the fold's global
 * model itself (diabetes: every fold, a zero difference). The same rows get the fold's
 * global ridge model (independent of any tree). The pick stays only when it beats the
 * global model by more than one standard error of the paired per-row difference, the
 * rule the levels use; otherwise the simpler global model wins.
 *
 * Cost: K tree builds and level fits over (K - 1) / K of the rows, so run only within a
 * budget of rows (cv_honest.h); nothing at large n. Determinism: every rank holds all rows
 * (gathered, as the kernel CV does) and runs the same one-process computation (a private
 * single-rank context, any thread count gives the same bits: the tree and the level fits
 * are thread-invariant), and the sums run serially in row order. */
#include "model/cv_honest.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/cv.h"
#include "model/cv_impl.h"
#include "model/cv_kernel.h"
#include "model/fit_models.h"
#include "model/shrink.h"
#include "tree/tree.h"

typedef struct hscratch {
  int64_t *loc, *idx; /* [n] fold-local index of a row (-1: held out); training rows */
  double *Zk, *yk, *ysk, *rng;
} hscratch;

static double lin_pred(const bfcr_level_fit *lf, int d, int64_t c, const double *z) {
  const double *w = bfcr_level_fit_w(lf, d, c);
  double s = lf->cm[c].intercept;
  for (int j = 0; j < d; j++) s += w[j] * z[j];
  return s;
}

static double clip(double v, double lo, double hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Squared errors of the held-out rows of fold k (ech: the pick, egl: the global model). lc:
 * a single-rank context. */
static bfcr_status fold_errors(bfcr_ctx *lc, const double *Z, const double *Y, int64_t n, int d,
                               const int *fold, int k, const int64_t *nn, int64_t kL, double lam,
                               const bfcr_fit_params *p, hscratch *s, double *ech, double *egl) {
  bfcr_status st = BFCR_OK;
  bfcr_tree *tk = NULL;
  bfcr_level_fit *lf = NULL;
  int64_t nk = 0, *path = NULL;
  for (int64_t i = 0; i < n; i++) {
    s->loc[i] = -1;
    if (fold[i] == k) continue;
    s->loc[i] = nk;
    s->idx[nk] = i;
    memcpy(s->Zk + nk * d, Z + i * d, (size_t)d * sizeof(double));
    s->yk[nk++] = Y[i];
  }
  /* The target standardized as the fit standardizes it (the penalties are scale-free). */
  double ym = 0.0, v2 = 0.0, ylo = INFINITY, yhi = -INFINITY;
  for (int64_t i = 0; i < nk; i++) ym += s->yk[i];
  ym /= (double)nk;
  for (int64_t i = 0; i < nk; i++) {
    v2 += (s->yk[i] - ym) * (s->yk[i] - ym);
    if (s->yk[i] < ylo) ylo = s->yk[i];
    if (s->yk[i] > yhi) yhi = s->yk[i];
  }
  double ys = sqrt(v2 / (double)nk);
  if (!(ys > 0.0) || !isfinite(ys)) ys = 1.0;
  for (int64_t i = 0; i < nk; i++) s->ysk[i] = (s->yk[i] - ym) / ys;
  bfcr_zsrc zk = {s->Zk, NULL, NULL, NULL, d};
  st = bfcr_tree_build_src_ex(lc, &zk, s->yk, nk, 0, nk, d, p->tree.max_levels, BFCR_TREE_SKIP_DB,
                              &tk);
  if (st != BFCR_OK) return st;
  const int Tk = tk->nlevels - 1;
  /* The fold tree's level below its top whose cluster count is nearest the pick's (log
   * scale; ties to fewer clusters): a clustered model of the pick's granularity. */
  int Lk = Tk;
  double best = INFINITY;
  for (int l = Tk - 1; l >= 1; l--) {
    double dl = fabs(log((double)tk->lv[l].m / (double)kL));
    if (dl < best) {
      best = dl;
      Lk = l;
    }
  }
  const double M = p->guard_margin, gpad = M * (yhi - ylo);
  if (Tk < 1) { /* one distinct row: every model predicts its target */
    for (int64_t i = 0; i < n; i++)
      if (fold[i] == k) ech[i] = egl[i] = (Y[i] - ym) * (Y[i] - ym);
    goto cleanup;
  }
  BFCR_CALLOC(lc, lf, tk->nlevels);
  bfcr_fit_params lin = *p;
  if (lin.regressor != BFCR_REG_OLS) lin.regressor = BFCR_REG_RIDGE;
  BFCR_CALL(bfcr_fit_levels(lc, tk, &zk, s->ysk, &lin, Lk, lf));
  /* Target range of each level-Lk cluster's model (its own node, or the ancestor it falls
   * back to), as the guard records it. */
  const int64_t mL = tk->lv[Lk].m;
  free(s->rng);
  BFCR_ALLOC(lc, s->rng, 2 * mL);
  for (int64_t c = 0; c < mL; c++) {
    int sl = lf[Lk].cm[c].src_level;
    int64_t sn = lf[Lk].cm[c].src_node;
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t q = tk->lv[sl].start[sn]; q < tk->lv[sl].start[sn + 1]; q++) {
      double v = s->yk[tk->order[q]];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    s->rng[2 * c] = lo;
    s->rng[2 * c + 1] = hi;
  }
  BFCR_ALLOC(lc, path, Tk + 1);
  for (int64_t i = 0; i < n; i++) {
    if (fold[i] != k) continue;
    const double *z = Z + i * d;
    int64_t c = tk->lv[0].parent[s->loc[nn[i]]];
    for (int q = 1; q < Lk; q++) c = tk->lv[q].parent[c];
    double g = ym + ys * lin_pred(&lf[Tk], d, 0, z), v;
    if (lam > 0.0 && Lk < Tk) { /* shrink.c's combination along the fold tree's path */
      path[Lk] = c;
      for (int l = Lk; l < Tk; l++) path[l + 1] = tk->lv[l].parent[path[l]];
      v = lin_pred(&lf[Tk], d, path[Tk], z);
      for (int l = Tk - 1; l >= Lk; l--)
        v += (lin_pred(&lf[l], d, path[l], z) - lin_pred(&lf[l + 1], d, path[l + 1], z)) *
             bfcr_shrink_factor(lam, (double)lf[l + 1].cm[path[l + 1]].size);
    } else {
      v = lin_pred(&lf[Lk], d, c, z);
    }
    v = ym + ys * v;
    if (M >= 0) { /* guard.c: the cluster's range widened, else the global model clipped */
      double lo = s->rng[2 * c], hi = s->rng[2 * c + 1], pad = M * (hi - lo);
      if (!isnan(v) && (v < lo - pad || v > hi + pad)) v = clip(g, lo - pad, hi + pad);
      if (!isnan(g) && (g < ylo - gpad || g > yhi + gpad)) g = clip(g, ylo - gpad, yhi + gpad);
    }
    ech[i] = (Y[i] - v) * (Y[i] - v);
    egl[i] = (Y[i] - g) * (Y[i] - g);
  }
cleanup:
  free(path);
  if (lf) bfcr_level_fit_free(lf, tk->nlevels);
  free(lf);
  bfcr_tree_free(tk);
  return st;
}

bfcr_status bfcr_cv_honest(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                           int64_t n_local, const bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  const int L = m->chosen, K = m->cv_folds, R = BFCR_CV_HONEST_REPEATS, d = zs->d;
  const int T = t->nlevels - 1;
  const int64_t n = t->n, kL = L >= 1 && L <= T ? t->lv[L].m : 1;
  m->hcv_state = 0;
  if (L < 1 || L >= T || K < 2 || bfcr_is_kernel_regressor(p->regressor)) return st;
  if ((double)n * K * R > (double)BFCR_CV_HONEST_MAX_ROWS) {
    bfcr_log(ctx, BFCR_LOG_INFO,
             "honest check of level %d against the global model skipped: %lld rows x %d folds "
             "x %d over its budget of %d",
             L, (long long)n, K, R, BFCR_CV_HONEST_MAX_ROWS);
    return st;
  }
  double t0 = bfcr_wtime();
  double *Zg = NULL, *Yg = NULL, *ech = NULL, *egl = NULL, *dsum = NULL;
  int *fold = NULL;
  int64_t *work = NULL, *nn = NULL;
  hscratch s = {0};
  bfcr_ctx *lc = NULL;
  const double *Z = zs->Z, *Y = y;
  if (ctx->size > 1) { /* collective, agreed: every rank gets here */
    BFCR_CALL(bfcr_cv_gather_rows(ctx, zs, y, n_local, n, d, &Zg, &Yg));
    Z = Zg;
    Y = Yg;
  }
  /* A private single-rank context: the fold trees and fits run whole on every rank. */
  BFCR_ALLOC(ctx, lc, 1);
  *lc = *ctx;
  lc->comm = MPI_COMM_SELF;
  lc->rank = 0;
  lc->size = 1;
  lc->log_fn = NULL;
  lc->progress_fn = NULL;
  lc->err = BFCR_OK;
  BFCR_ALLOC(ctx, fold, n);
  BFCR_ALLOC(ctx, work, 4 * n);
  BFCR_ALLOC(ctx, nn, n);
  BFCR_ALLOC(ctx, ech, n);
  BFCR_ALLOC(ctx, egl, n);
  BFCR_CALLOC(ctx, dsum, n);
  BFCR_ALLOC(ctx, s.loc, n);
  BFCR_ALLOC(ctx, s.idx, n);
  BFCR_ALLOC(ctx, s.Zk, n * d);
  BFCR_ALLOC(ctx, s.yk, n);
  BFCR_ALLOC(ctx, s.ysk, n);
  double sch = 0.0, sgl = 0.0, fmean = 0.0, fm2 = 0.0;
  int nf = 0;
  for (int r = 0; r < R && st == BFCR_OK; r++) {
    /* r = 0: the level CV's folds. */
    bfcr_cv_folds(p->seed + (uint64_t)r, n, K, fold, work);
    st = bfcr_cv_route_rows(lc, Z, n, d, fold, NULL, NULL, nn);
    for (int k = 0; k < K && st == BFCR_OK; k++)
      st = fold_errors(lc, Z, Y, n, d, fold, k, nn, kL, m->shrink_lambda, p, &s, ech, egl);
    if (st != BFCR_OK) break;
    double fs[BFCR_CV_HONEST_MAXK] = {0}, fc[BFCR_CV_HONEST_MAXK] = {0};
    for (int64_t i = 0; i < n; i++) { /* serial, row order */
      dsum[i] += ech[i] - egl[i];
      sch += ech[i];
      sgl += egl[i];
      if (fold[i] < BFCR_CV_HONEST_MAXK) {
        fs[fold[i]] += ech[i] - egl[i];
        fc[fold[i]] += 1.0;
      }
    }
    for (int k = 0; k < K && k < BFCR_CV_HONEST_MAXK; k++) { /* fold means, Welford */
      double x = fs[k] / fc[k], dx = x - fmean;
      nf++;
      fmean += dx / nf;
      fm2 += dx * (x - fmean);
    }
  }
  if (st != BFCR_OK) {
    st = bfcr_err(ctx, st, "honest cross-validation: %s", lc->errmsg);
    goto cleanup;
  }
  double md = 0.0, s2 = 0.0;
  for (int64_t i = 0; i < n; i++) md += dsum[i] / R;
  md /= (double)n;
  for (int64_t i = 0; i < n; i++) s2 += (dsum[i] / R - md) * (dsum[i] / R - md);
  double se = n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0;
  double sef = nf > 1 ? sqrt(fm2 / (nf - 1) / nf) : 0.0;
  if (BFCR_CV_HONEST_FOLD_SE) se = sef;
  m->hcv_level = L;
  m->hcv_lambda = m->shrink_lambda;
  m->hcv_dmse = md;
  m->hcv_dse = se;
  m->hcv_state = md < -se ? 1 : 2;
  bfcr_log(ctx, BFCR_LOG_INFO,
           "honest CV (a tree per fold, %d x %d folds): level %d%s RMSE %.6g, global %.6g, "
           "dMSE %.6g (SE %.6g; rows %.6g, folds %.6g): %s",
           R, K, L, m->shrink_lambda > 0 ? " with shrinkage" : "", sqrt(sch / ((double)n * R)),
           sqrt(sgl / ((double)n * R)), md, se,
           n > 1 ? sqrt(s2 / (double)(n - 1) / (double)n) : 0.0, sef,
           m->hcv_state == 1 ? "kept" : "the global model instead");
  if (m->hcv_state == 2) {
    m->chosen = T;
    m->shrink_lambda = 0.0;
  }
  bfcr_phase_add(ctx, "cv: honest check", bfcr_wtime() - t0, 0.0);
cleanup:
  free(lc);
  free(Zg);
  free(Yg);
  free(ech);
  free(egl);
  free(dsum);
  free(fold);
  free(work);
  free(nn);
  free(s.loc);
  free(s.idx);
  free(s.Zk);
  free(s.yk);
  free(s.ysk);
  free(s.rng);
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  return st;
}
