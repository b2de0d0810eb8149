/* Hierarchical shrinkage chosen by the level-selection CV.
 *
 * The CV of cv.c has, for every node and fold, the node's model fitted without the fold,
 * and every held-out row's routing row (its nearest training row outside the fold). The
 * held-out row's path predictions P_l (the fold models of the nodes of its routing row at
 * levels 1..T, T = the global model) are computed once per row; a candidate (lambda, L)
 * then predicts
 *   f = P_T + sum_{l=T-1..L} (P_l - P_{l+1}) / (1 + lambda / N_k(a_{l+1})),
 * summed from the top down as shrink.c sums the coefficients, with N_k the parent's
 * training part in that fold, and guarded as predict guards (the target range of the
 * level-L node's training part, the global fold model). lambda = 0 takes P_L itself, so
 * its squared errors are those of cv.c's hard routing. Every candidate's sum is exact
 * (lib/par/xsum.h): each thread adds its rows, the ranks add their accumulators, one
 * rounding; the same bits for any thread or rank split. Cost: O(n T d) for the path
 * predictions, O(n T G) exact additions for G grid points; memory O(G T) accumulators
 * per thread.
 *
 * Choice: hard routing at the level picked by the one-standard-error rule (cv.c) is the
 * simpler model; a candidate (lambda > 0, level below the top) replaces it only when it is
 * better by more than one standard error, the rule the levels follow: with d_i = e_i^2 -
 * p_i^2 per held-out row (e: the candidate's error, p: the pick's, both on the same rows),
 * mean(d) < -SE(d) = -sd(d) / sqrt(n). Of the candidates that pass, the lowest CV MSE wins.
 * sum d is the exact difference of the two exact sums of squared errors, sum d^2 a third
 * exact sum per candidate, so the decision is bit-identical for any thread or rank split
 * (the pick's errors are computed in the same row loop: the lambda = 0 candidate at the
 * pick's level). A fixed lambda (p->shrink > 0) takes the level of lowest CV MSE at that
 * lambda.
 * Grid: 0 and 4^j <= n (at most 15 points), a geometric grid on the scale of the node
 * sizes N that the factor compares lambda with. */
#include "model/cv_shrink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>
#include <omp.h>

#include "model/shrink.h"
#include "par/xsum.h"

#define BFCR_SHRINK_MAXT 128 /* levels (the tree has at most 64 + 1) */
#define BFCR_SHRINK_MAXD 256 /* features (the CV's limit) */
#define CVW(d) ((int64_t)(d) + 3)

static double lin(const double *o, const double *z, int d) {
  double s = o[d];
  for (int j = 0; j < d; j++) s += o[j] * z[j];
  return s;
}

/* (sum of a) - (sum of b), exactly, then rounded once. */
static double xsum_diff(const bfcr_xsum *a, const bfcr_xsum *b) {
  bfcr_xsum s = *a;
  bfcr_xsum_sub(&s, b);
  return bfcr_xsum_value(&s);
}

/* What the squared errors of one held-out row need (read only, shared by the threads). */
typedef struct row_eval {
  const bfcr_tree *t;
  bfcr_cv_fm_fn fmodel;
  const void *fu;
  const bfcr_zsrc *zs;
  const double *Y;
  const int *fold;
  const int64_t *route1;
  double *const *part;
  const double *grid;
  double margin;
  int K, d, T, G;
} row_eval;

/* Squared error of row i for every candidate: e2[g T + l - 1] for grid point g, level l. */
static void eval_row(const row_eval *ev, int64_t i, double *e2) {
  const int d = ev->d, T = ev->T, K = ev->K;
  const double margin = ev->margin;
  double pr[BFCR_SHRINK_MAXT], np[BFCR_SHRINK_MAXT], lo[BFCR_SHRINK_MAXT], hi[BFCR_SHRINK_MAXT];
  int64_t c = ev->route1[i];
  int k = ev->fold[i];
  double z[BFCR_SHRINK_MAXD];
  bfcr_zsrc_row(ev->zs, i, z);
  for (int l = 1; l <= T; l++) {
    const double *o = ev->fmodel(ev->fu, l, i, c, k);
    pr[l - 1] = lin(o, z, d);
    /* guard.c's interval (as cv.c's fold_pred): the range widened by margin x width */
    double a = o[d + 1], b = o[d + 2], pad = margin * (b - a);
    lo[l - 1] = a - pad;
    hi[l - 1] = b + pad;
    if (l < T) c = ev->t->lv[l].parent[c];
    np[l - 1] = l < T ? ev->part[l + 1][c * K + k] : 0.0; /* the level-l node's parent */
  }
  double gl = pr[T - 1], yi = ev->Y[i];
  for (int g = 0; g < ev->G; g++) {
    double lam = ev->grid[g], f = gl;
    for (int l = T; l >= 1; l--) {
      if (l < T) f += (pr[l - 1] - pr[l]) * bfcr_shrink_factor(lam, np[l - 1]);
      double v = lam == 0.0 ? pr[l - 1] : f; /* hard routing: P_L itself */
      if (margin >= 0 && !isnan(v) && !(v >= lo[l - 1] && v <= hi[l - 1]))
        v = gl < lo[l - 1] ? lo[l - 1] : gl > hi[l - 1] ? hi[l - 1] : gl;
      double err = yi - v;
      e2[g * T + l - 1] = err * err;
    }
  }
}

const double *bfcr_cv_fm_table(const void *u, int l, int64_t i, int64_t c, int k) {
  const bfcr_cv_fm_tab *f = u;
  (void)i;
  return f->fm[l] + (c * f->K + k) * CVW(f->d);
}

bfcr_status bfcr_cv_shrink(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_cv_fm_fn fmodel, const void *fu,
                           int K, int64_t n_local, int64_t n_global, const bfcr_zsrc *zs,
                           const double *Y, const int *fold, const int64_t *own1,
                           const int64_t *route1, int dist, const bfcr_fit_params *p,
                           bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = t->d, T = t->nlevels - 1, G = 0;
  double grid[16], *acc = NULL, **part = NULL;
  bfcr_xsum *xs = NULL;
  int64_t **cnt = NULL;
  if (p->shrink == 0.0 || bfcr_is_kernel_regressor(p->regressor) || T < 2 || n_global < 1 ||
      T > BFCR_SHRINK_MAXT || d > BFCR_SHRINK_MAXD)
    return BFCR_OK;
  grid[G++] = 0.0;
  if (p->shrink > 0.0)
    grid[G++] = p->shrink;
  else
    for (double v = 1.0; v <= (double)n_global && G < 16; v *= 4.0) grid[G++] = v;
  /* Rows of each node in each fold (integer sums: exact, canonical for any rank count),
   * then the training part of fold k: part[l][c K + k] = total - fold k's rows. */
  const int nt = ctx->nthreads > 0 ? ctx->nthreads : 1;
  const int64_t NC = (int64_t)G * T;
  cnt = bfcr_calloc(ctx, (size_t)T + 1, sizeof *cnt);
  part = bfcr_calloc(ctx, (size_t)T + 1, sizeof *part);
  /* per thread: NC sums of squared errors, then NC sums of d^2 (paired differences) */
  xs = bfcr_malloc(ctx, (size_t)(2 * NC * nt), sizeof *xs);
  acc = bfcr_malloc(ctx, (size_t)NC, sizeof *acc);
  int ok = cnt && part && xs && acc;
  for (int l = 2; ok && l <= T; l++) {
    cnt[l] = bfcr_calloc(ctx, (size_t)(t->lv[l].m * K), sizeof *cnt[l]);
    part[l] = bfcr_malloc(ctx, (size_t)(t->lv[l].m * K), sizeof *part[l]);
    ok = cnt[l] && part[l];
  }
  if (!ok) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "shrinkage CV: out of memory");
  if (dist) st = bfcr_agree(ctx, st); /* before the first collective step */
  if (st != BFCR_OK) goto cleanup;
  /* Only parents' training parts are read (levels 2..T). Level 2 from the rows, each
   * higher level from its children's counts (the same integers as counting every row at
   * every level, in n + sum_l m_l K steps); with distributed rows level 2 is summed over
   * the ranks first (integers: exact for any split). */
  for (int64_t i = 0; i < n_local; i++) cnt[2][t->lv[1].parent[own1[i]] * K + fold[i]]++;
  if (dist) {
    for (int64_t o = 0, len = t->lv[2].m * K; o < len && ok; o += INT32_MAX / 2) {
      int c = (int)(len - o < INT32_MAX / 2 ? len - o : INT32_MAX / 2);
      ok = MPI_Allreduce(MPI_IN_PLACE, cnt[2] + o, c, MPI_INT64_T, MPI_SUM, ctx->comm) ==
           MPI_SUCCESS;
    }
    BFCR_CHECK(ctx, ok, BFCR_ERR_MPI, "shrinkage CV: MPI_Allreduce of the fold counts failed");
  }
  for (int l = 2; l < T; l++)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      int64_t a = t->lv[l].parent[c];
      for (int k = 0; k < K; k++) cnt[l + 1][a * K + k] += cnt[l][c * K + k];
    }
  for (int l = 2; l <= T; l++)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      int64_t tot = 0;
      for (int k = 0; k < K; k++) tot += cnt[l][c * K + k];
      for (int k = 0; k < K; k++) part[l][c * K + k] = (double)(tot - cnt[l][c * K + k]);
    }
  /* Exact sums (lib/par/xsum.h): every thread adds its rows' squared errors into its own
   * accumulators, the threads' and then the ranks' accumulators are added, and one
   * rounding gives each candidate's sum: the same bits for any thread or rank count. */
  for (int64_t j = 0; j < 2 * NC * nt; j++) bfcr_xsum_init(&xs[j]);
  /* The pick: hard routing at the level of the one-SE rule (the top when none). */
  const int L = m->chosen >= 1 && m->chosen <= T ? m->chosen : T, paired = p->shrink < 0.0;
  const row_eval ev = {t, fmodel, fu, zs, Y, fold, route1, part, grid, p->guard_margin, K, d, T, G};
#pragma omp parallel num_threads(nt)
  {
    bfcr_xsum *mine = xs + 2 * NC * omp_get_thread_num();
    double e2[16 * BFCR_SHRINK_MAXT];
#pragma omp for schedule(static)
    for (int64_t i = 0; i < n_local; i++) {
      eval_row(&ev, i, e2);
      for (int64_t j = 0; j < NC; j++) bfcr_xsum_add(&mine[j], e2[j]);
    }
  }
  for (int th = 1; th < nt; th++)
    for (int64_t j = 0; j < NC; j++) bfcr_xsum_merge(&xs[j], &xs[2 * NC * th + j]);
  if (dist) BFCR_CALL(bfcr_xsum_allreduce(ctx, xs, (int)NC));
  /* Paired differences d = e^2 - p^2 against the pick, second pass: only a candidate
   * whose exact sum of squared errors is below the pick's can pass (mean d < -SE <= 0),
   * so sum d^2 is needed for those alone, often none (then no pass; the same decision
   * on every rank: it depends on the exact sums only). */
  int ncand = 0, cand[16 * BFCR_SHRINK_MAXT];
  for (int g = 1; paired && g < G; g++)
    for (int l = T - 1; l >= 1; l--)
      if (xsum_diff(&xs[g * T + l - 1], &xs[L - 1]) < 0.0) cand[ncand++] = g * T + l - 1;
  if (ncand > 0) {
#pragma omp parallel num_threads(nt)
    {
      bfcr_xsum *dd = xs + 2 * NC * omp_get_thread_num() + NC;
      double e2[16 * BFCR_SHRINK_MAXT];
#pragma omp for schedule(static)
      for (int64_t i = 0; i < n_local; i++) {
        eval_row(&ev, i, e2);
        const double ep = e2[L - 1];
        for (int q = 0; q < ncand; q++) {
          const double dq = e2[cand[q]] - ep;
          bfcr_xsum_add(&dd[cand[q]], dq * dq);
        }
      }
    }
    for (int th = 1; th < nt; th++)
      for (int q = 0; q < ncand; q++)
        bfcr_xsum_merge(&xs[NC + cand[q]], &xs[2 * NC * th + NC + cand[q]]);
    if (dist) BFCR_CALL(bfcr_xsum_allreduce(ctx, xs + NC, (int)NC));
  }
  for (int64_t j = 0; j < NC; j++) acc[j] = bfcr_xsum_value(&xs[j]);
  /* Table (RMSE) and choice (the lambda = 0 row agrees with cv.c's level table to the
   * last bit or two: exact sums here, sums in row order there). */
  BFCR_ALLOC(ctx, m->shrink_grid, G);
  BFCR_ALLOC(ctx, m->shrink_rmse, (int64_t)G * t->nlevels);
  if (paired) {
    BFCR_ALLOC(ctx, m->shrink_dmse, (int64_t)G * t->nlevels);
    BFCR_ALLOC(ctx, m->shrink_dse, (int64_t)G * t->nlevels);
  }
  m->shrink_ng = G;
  memcpy(m->shrink_grid, grid, (size_t)G * sizeof(double));
  for (int g = 0; g < G; g++) {
    m->shrink_rmse[g * t->nlevels] = NAN;
    for (int l = 1; l <= T && l < t->nlevels; l++)
      m->shrink_rmse[g * t->nlevels + l] = sqrt(acc[g * T + l - 1] / (double)n_global);
  }
  int bg = 0, bl = L;
  double best = acc[L - 1];
  if (!paired) { /* forced: the level of lowest CV error at that lambda */
    bg = 1;
    bl = T;
    best = acc[T + T - 1];
    for (int l = T - 1; l >= 1; l--)
      if (acc[T + l - 1] < best) {
        best = acc[T + l - 1];
        bl = l;
      }
  } else {
    const double nd = (double)n_global;
    double bc = INFINITY; /* lowest CV MSE among the candidates that pass */
    for (int64_t j = 0; j < (int64_t)G * t->nlevels; j++)
      m->shrink_dmse[j] = m->shrink_dse[j] = NAN;
    for (int g = 1; g < G; g++)
      for (int l = T - 1; l >= 1; l--) {
        const int64_t j = g * T + l - 1;
        const double md = xsum_diff(&xs[j], &xs[L - 1]) / nd;
        double se = NAN; /* not needed (md >= 0 cannot pass): not computed */
        if (md < 0.0) {
          double s2 = bfcr_xsum_value(&xs[NC + j]) - nd * md * md; /* sum (d - md)^2 */
          if (!(s2 > 0.0)) s2 = 0.0;
          se = nd > 1 ? sqrt(s2 / (nd - 1) / nd) : 0.0;
        }
        m->shrink_dmse[g * t->nlevels + l] = md;
        m->shrink_dse[g * t->nlevels + l] = se;
        if (md < -se && acc[j] < bc) {
          bc = acc[j];
          bg = g;
          bl = l;
        }
      }
  }
  m->shrink_lambda = bl < T ? grid[bg] : 0.0;
  m->chosen = bl;
cleanup:
  for (int l = 0; l <= T; l++) {
    if (cnt) free(cnt[l]);
    if (part) free(part[l]);
  }
  free(cnt);
  free(part);
  free(acc);
  free(xs);
  return st;
}
