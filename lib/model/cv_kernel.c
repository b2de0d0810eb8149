/* Kernel ridge (KRR) candidates of the cross-validated selection.
 *
 * Candidate (level l, KRR): what `--regressor krr` would fit at level l, scored by the same
 * K folds as the ridge candidates (cv.c). Its fold models cannot come from summaries:
 * for every fold k and every cluster c of level l, the rows of c outside fold k (in
 * dendrogram order) are SPLIT as the full fit splits a cluster (bfcr_split_pieces with the
 * fit's kernel cap) and each piece gets its own KRR fit with its own GCV choice of width
 * and penalty (lib/regress/krr.c): nested, nothing is tuned on the held-out rows. A
 * cluster whose training part is below min_cluster_size (with more than one cluster)
 * keeps the ridge fold model, as the full fit keeps the linear model. The target is
 * standardized by the training part's mean and sd (the fits' choices do not depend on the
 * scale). A held-out row i of fold k goes where the ridge CV sends it: the cluster at
 * level l of its nearest training row outside fold k, and within it the piece that holds
 * that row (predict's routing by sample: the nearest row's piece); the value is guarded
 * as predict guards (the cluster's training target range widened by the margin, else the
 * fold's global ridge model clipped to it).
 *
 * Choice: the ridge pick (the level of cv.c's one-SE rule, with hierarchical shrinkage
 * when cv_shrink.c chose it) is the incumbent; with per-row squared errors e_i (a KRR
 * candidate) and p_i (the pick), d_i = e_i - p_i, the candidate passes when mean(d) <
 * -SE(d) = -sd(d) / sqrt(n); of those that pass the lowest CV MSE wins (ties: the higher
 * level). Sums run serially in row order over values that each depend on their row
 * alone, so the table and the choice are the same for any thread count. With several
 * ranks every rank holds all rows (gathered) and runs the cheap replicated parts (routing,
 * ridge fold models, the pick's errors); the KRR pieces of a level (all folds) are dealt
 * over the ranks (assign_jobs: largest estimated cost first to the least loaded rank),
 * each rank fits its pieces and scores the held-out rows routed to them (its threads run
 * them as one loop over all folds, largest first: score_level), and one
 * MPI_Allreduce of the per-row squared errors, 0 where another rank computed, gives every
 * rank the one-process values (x + 0 = x exactly), then the same serial sums.
 *
 * Budget (why levels are chosen by cost): a KRR fit costs m^3 per piece of m rows, so
 * the top levels (large clusters, pieces at the cap) cost up to K x n / cap x cap^3,
 * the bottom ones (small clusters) little. Each level's cost is estimated before any row
 * is touched (bfcr_cv_kernel_level_cost: bfcr_krr_fit_cost_ns per piece times
 * KCV_FOLD_FACTOR, and the held-out predictions), plus a fixed part for the
 * gathered rows, the routing search and the ridge fold models (n (T (d + 2)^2 / 2 + 6000)
 * ns, measured: about 5.5 s at 1M x 8); the levels are taken from
 * the cheapest up while the total stays within p->kernel_budget seconds. Levels over it
 * are skipped and reported (m->kcv_state, the log). With no level within the budget
 * nothing runs beyond the estimate (O(sum of node counts)). */
#include "model/cv_kernel.h"
#include "model/cv_small.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

#include "model/cv.h"
#include "model/cv_impl.h"
#include "model/cv_honest.h"
#include "model/fit_kernel.h"
#include "model/shrink.h"
#include "par/redistribute.h"
#include "regress/krr.h"

enum { KCV_NONE = 0, KCV_SCORED = 1, KCV_OVER = 2, KCV_NOKERNEL = 3 };

/* A fold fit costs about this many times bfcr_krr_fit_cost_ns: measured CPU time of the
 * candidates over the estimate on concrete, diabetes and boston (0.7-0.85; the per-piece
 * model was measured on random rows, where the reduction's matrix-vector products are
 * slower), docs/accuracy.md. */
#define KCV_FOLD_FACTOR 0.8

double bfcr_cv_kernel_level_cost(const bfcr_tree *t, int l, int K, int64_t minsize, int64_t cap) {
  const bfcr_level *L = &t->lv[l];
  double fits = 0.0, pred = 0.0;
  int any = 0;
  for (int64_t c = 0; c < L->m; c++) {
    int64_t s = L->start[c + 1] - L->start[c], sk = s - (s + K - 1) / K; /* smallest part */
    if (L->m > 1 && sk < minsize) continue;
    if (sk < 1) continue;
    int64_t np = bfcr_split_pieces(sk, cap);
    double mp = (double)sk / (double)np;
    fits += KCV_FOLD_FACTOR * (double)K * (double)np * bfcr_krr_fit_cost_ns(mp, t->d);
    pred += 1.5 * (double)s * mp * (2.0 * t->d + 20.0);
    any = 1;
  }
  return any ? (fits + pred) * 1e-9 : -1.0;
}

/* Prediction v of row z guarded with fold model o's range and the fold's global model g
 * (bfcr_cv_fold_pred's rule for any value v). */
static double guard(double v, const double *o, const double *g, const double *z, int d,
                    double margin) {
  if (margin < 0) return v;
  double lo = o[d + 1], hi = o[d + 2], pad = margin * (hi - lo);
  lo -= pad;
  hi += pad;
  if (isnan(v) || (v >= lo && v <= hi)) return v;
  double w = g[d];
  for (int j = 0; j < d; j++) w += g[j] * z[j];
  return w < lo ? lo : w > hi ? hi : w;
}

static double lin(const double *o, const double *z, int d) {
  double s = o[d];
  for (int j = 0; j < d; j++) s += o[j] * z[j];
  return s;
}

/* Level 0's components of all n rows (n words, *out) from the ranks' own rows (the tree
 * keeps level 0 as own rows with several ranks: lv0_local). Collective; status agreed. */
static bfcr_status gather_parents(bfcr_ctx *ctx, const bfcr_tree *t, int64_t **out) {
  int64_t *all = malloc((size_t)t->n * sizeof(int64_t));
  bfcr_status st = bfcr_agree(
      ctx, all ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory"));
  if (st == BFCR_OK)
    st = bfcr_allgather_items(ctx, t->lv[0].parent, t->n_local, sizeof(int64_t), all);
  if (st == BFCR_OK)
    *out = all;
  else
    free(all);
  return st;
}

bfcr_status bfcr_cv_gather_rows(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y, int64_t nl,
                                int64_t n, int d, double **Zo, double **Yo) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, *cnt = NULL, *dsp = NULL, mine = (int)nl;
  double *Zl = NULL, *Z = NULL, *Y = NULL;
  if (n * d >= INT32_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM,
                  "cross-validation: %lld x %d values are too many to replicate", (long long)n, d);
  cnt = malloc((size_t)P * sizeof *cnt);
  dsp = malloc((size_t)P * sizeof *dsp);
  Zl = malloc((size_t)(nl > 0 ? nl * d : 1) * sizeof *Zl);
  Z = malloc((size_t)(n * d) * sizeof *Z);
  Y = malloc((size_t)n * sizeof *Y);
  if (st == BFCR_OK && (!cnt || !dsp || !Zl || !Z || !Y))
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "cross-validation: out of memory");
  st = bfcr_agree(ctx, st); /* every rank reaches the exchanges, or none does */
  if (st != BFCR_OK) goto cleanup;
  for (int64_t i = 0; i < nl; i++) bfcr_zsrc_row(zs, i, Zl + i * d);
  BFCR_CHECK(ctx, MPI_Allgather(&mine, 1, MPI_INT, cnt, 1, MPI_INT, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "cross-validation: MPI_Allgather failed");
  dsp[0] = 0;
  for (int r = 1; r < P; r++) dsp[r] = dsp[r - 1] + cnt[r - 1];
  BFCR_CHECK(ctx,
             MPI_Allgatherv(y, mine, MPI_DOUBLE, Y, cnt, dsp, MPI_DOUBLE, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "cross-validation: MPI_Allgatherv of the targets failed");
  for (int r = 0; r < P; r++) {
    cnt[r] *= d;
    dsp[r] *= d;
  }
  BFCR_CHECK(
      ctx,
      MPI_Allgatherv(Zl, mine * d, MPI_DOUBLE, Z, cnt, dsp, MPI_DOUBLE, ctx->comm) == MPI_SUCCESS,
      BFCR_ERR_MPI, "cross-validation: MPI_Allgatherv of the rows failed");
  *Zo = Z;
  *Yo = Y;
  Z = Y = NULL;
cleanup:
  free(cnt);
  free(dsp);
  free(Zl);
  free(Z);
  free(Y);
  return st;
}

/* One KRR piece of level l: fold k, cluster c, training rows tix[first .. first + m)
 * (global row indices); the held-out rows routed to it are hold[h0 .. h1). */
typedef struct ktask {
  int64_t c, first, m, h0, h1;
  int k;
} ktask;

/* Orders ix[0 .. nj) by estimated cost, largest first (ties: the lower job index): a total
 * order, so the result does not depend on the input order. Shell sort (insertion sort
 * would be quadratic on many small pieces). */
static void by_cost(const double *cost, int64_t nj, int64_t *ix) {
  for (int64_t gap = nj / 2; gap > 0; gap /= 2)
    for (int64_t a = gap; a < nj; a++) {
      int64_t v = ix[a], b = a;
      for (; b >= gap; b -= gap) {
        int64_t u = ix[b - gap];
        if (cost[u] > cost[v] || (cost[u] == cost[v] && u < v)) break;
        ix[b] = u;
      }
      ix[b] = v;
    }
}

/* Squared errors e2[i] of the KRR candidate at level l, every row. The pieces of all K
 * folds (level_jobs' order: fold, cluster, piece; cost[j] their estimates, nj of them)
 * run as one parallel loop, largest estimated cost first, dynamic: at the top levels a
 * fold has a single piece, so a loop per fold would leave threads idle. A job fits its
 * piece, scores the held-out rows routed to it (each value depends on its row alone) and
 * frees the model, so at most nthreads fits and their m x m workspaces are alive at
 * once; every e2[i] is written by one job or one row only, so the values do not depend
 * on the thread count or the schedule. own: the rank of each piece (assign_jobs), NULL =
 * all on this rank; this rank fits only its pieces and writes 0 for rows routed to
 * another rank's piece; rows that keep a ridge fold model are scored on rank 0 (0 on the
 * others). */
static bfcr_status score_level(bfcr_ctx *ctx, const bfcr_tree *t, int l, int K, const double *Z,
                               const double *Y, const int *fold, const int64_t *nn,
                               const int64_t *route1, double *const *fm, const bfcr_fit_params *p,
                               int64_t cap, const double *cost, int64_t nj, const int *own,
                               int rank, double *e2) {
  bfcr_status st = BFCR_OK;
  const bfcr_level *L = &t->lv[l];
  const int d = t->d, T = t->nlevels - 1;
  const int64_t n = t->n;
  int64_t nt = 0, nx = 0, nmine = 0, *tix = NULL, *rowpiece = NULL, *qrow = NULL, *hold = NULL,
          *ix = NULL;
  ktask *task = NULL;
  bfcr_status *tst = NULL;
  double *my = NULL, *sy = NULL;
  BFCR_ALLOC(ctx, task, nj > 0 ? nj : 1);
  BFCR_CALLOC(ctx, tst, nj > 0 ? nj : 1);
  BFCR_ALLOC(ctx, tix, (int64_t)(K - 1) * n > 0 ? (int64_t)(K - 1) * n : 1);
  BFCR_ALLOC(ctx, rowpiece, n);
  BFCR_ALLOC(ctx, qrow, n);
  BFCR_ALLOC(ctx, hold, n);
  BFCR_ALLOC(ctx, ix, nj > 0 ? nj : 1);
  BFCR_ALLOC(ctx, my, K);
  BFCR_ALLOC(ctx, sy, K);
  for (int k = 0; k < K; k++) {
    /* The training part's target standardization (serial, row order). */
    double mk = 0.0, sk2 = 0.0, cntk = 0.0;
    for (int64_t i = 0; i < n; i++)
      if (fold[i] != k) {
        mk += Y[i];
        cntk += 1.0;
      }
    mk /= cntk;
    for (int64_t i = 0; i < n; i++)
      if (fold[i] != k) sk2 += (Y[i] - mk) * (Y[i] - mk);
    sk2 = sqrt(sk2 / cntk);
    if (!(sk2 > 0.0) || !isfinite(sk2)) sk2 = 1.0;
    my[k] = mk;
    sy[k] = sk2;
    /* Pieces of fold k (rowpiece: the job of each training row, -1 for a row of a cluster
     * that keeps its ridge model or of the fold itself). */
    for (int64_t c = 0; c < L->m; c++) {
      int64_t s = 0, x0 = nx;
      for (int64_t q = L->start[c]; q < L->start[c + 1]; q++) {
        int64_t g = t->order[q];
        rowpiece[g] = -1;
        if (fold[g] == k) continue;
        tix[nx++] = g; /* at most sum_k (n - |fold k|) = (K - 1) n over the folds */
        s++;
      }
      if ((L->m > 1 && s < p->min_cluster_size) || s < 1) {
        nx = x0;
        continue;
      }
      int64_t np = bfcr_split_pieces(s, cap);
      BFCR_CHECK(ctx, nt + np <= nj, BFCR_ERR_INTERNAL,
                 "kernel CV candidates: level %d has more pieces than estimated", l);
      for (int64_t j = 0; j < np; j++, nt++) {
        int64_t a = bfcr_split_start(s, np, j), b = bfcr_split_start(s, np, j + 1);
        task[nt] = (ktask){c, x0 + a, b - a, 0, 0, k};
        for (int64_t r = a; r < b; r++) rowpiece[tix[x0 + r]] = nt;
      }
    }
    /* The piece of each held-out row: the one that holds its nearest training row. */
    for (int64_t i = 0; i < n; i++)
      if (fold[i] == k) qrow[i] = rowpiece[nn[i]];
  }
  BFCR_CHECK(ctx, nt == nj, BFCR_ERR_INTERNAL,
             "kernel CV candidates: level %d has %lld pieces, %lld estimated", l, (long long)nt,
             (long long)nj);
  /* Held-out rows grouped by piece, in row order (counting sort). */
  for (int64_t i = 0; i < n; i++)
    if (qrow[i] >= 0) task[qrow[i]].h1++;
  for (int64_t q = 0, h = 0; q < nt; q++) {
    task[q].h0 = h;
    h += task[q].h1;
    task[q].h1 = task[q].h0;
  }
  for (int64_t i = 0; i < n; i++)
    if (qrow[i] >= 0) hold[task[qrow[i]].h1++] = i;
  /* Rows of a piece: 0 here, overwritten by the piece's job when it is this rank's. Rows
   * that keep a ridge fold model: scored on rank 0, 0 on the others. */
  for (int64_t i = 0; i < n; i++) {
    e2[i] = 0.0;
    if (qrow[i] >= 0 || (own && rank != 0)) continue;
    int64_t c = route1[i];
    for (int v = 1; v < l; v++) c = t->lv[v].parent[c];
    const double *z = Z + i * d, *o = fm[l] + (c * K + fold[i]) * CVW(d);
    double e = Y[i] - guard(lin(o, z, d), o, fm[T] + fold[i] * CVW(d), z, d, p->guard_margin);
    e2[i] = e * e;
  }
  for (int64_t q = 0; q < nt; q++)
    if (!own || own[q] == rank) ix[nmine++] = q;
  by_cost(cost, nmine, ix);
  int failed = 0;
#pragma omp parallel num_threads(ctx->nthreads) reduction(| : failed)
  {
    double *buf = malloc((size_t)(cap * (d + 1) + d) * sizeof(double));
    if (!buf) failed = 1;
#pragma omp for schedule(dynamic, 1)
    for (int64_t a = 0; a < nmine; a++) {
      if (!buf) continue;
      const ktask *u = &task[ix[a]];
      const int k = u->k;
      double *X = buf, *ys = buf + u->m * d, *sc = ys + u->m;
      for (int64_t r = 0; r < u->m; r++) {
        int64_t g = tix[u->first + r];
        memcpy(X + r * d, Z + g * d, (size_t)d * sizeof(double));
        ys[r] = (Y[g] - my[k]) / sy[k];
      }
      bfcr_krr_params kp;
      bfcr_krr_params_init(&kp);
      kp.max_rows = cap;
      bfcr_krr_model mod;
      tst[ix[a]] = bfcr_krr_fit(X, d, ys, u->m, d, &kp, &mod);
      if (tst[ix[a]] != BFCR_OK) continue;
      const double *o = fm[l] + (u->c * K + k) * CVW(d), *g = fm[T] + k * CVW(d);
      for (int64_t h = u->h0; h < u->h1; h++) {
        const int64_t i = hold[h];
        const double *z = Z + i * d;
        double v = my[k] + sy[k] * bfcr_krr_eval(&mod, z, sc);
        double e = Y[i] - guard(v, o, g, z, d, p->guard_margin);
        e2[i] = e * e;
      }
      bfcr_krr_free(&mod);
    }
    free(buf);
  }
  BFCR_CHECK(ctx, !failed, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory");
  for (int64_t q = 0; q < nt; q++)
    if (tst[q] != BFCR_OK) {
      st = bfcr_err(ctx, tst[q],
                    "kernel CV candidate: KRR fit failed (level %d, fold %d, %lld rows)", l,
                    task[q].k, (long long)task[q].m);
      goto cleanup;
    }
cleanup:
  free(task);
  free(tst);
  free(tix);
  free(rowpiece);
  free(qrow);
  free(hold);
  free(ix);
  free(my);
  free(sy);
  return st;
}

/* The KRR pieces of level l over the K folds, in score_level's order (fold, cluster,
 * piece): off[k] .. off[k + 1] - 1 are fold k's, cost[j] the estimated cost of piece j
 * (its fit, bfcr_krr_fit_cost_ns, and its share of held-out rows, about m / (K - 1) rows at
 * m (2 d + 20) each). Needs only the tree and the folds: the same on every rank. */
static bfcr_status level_jobs(bfcr_ctx *ctx, const bfcr_tree *t, int l, int K, const int *fold,
                              int64_t minsize, int64_t cap, int64_t *off, double **costo) {
  bfcr_status st = BFCR_OK;
  const bfcr_level *L = &t->lv[l];
  int64_t *cnt = NULL, nj = 0;
  double *cost = NULL;
  BFCR_CALLOC(ctx, cnt, (int64_t)K * L->m);
  for (int64_t c = 0; c < L->m; c++)
    for (int64_t q = L->start[c]; q < L->start[c + 1]; q++) cnt[c * K + fold[t->order[q]]]++;
  for (int pass = 0; pass < 2; pass++) {
    nj = 0;
    for (int k = 0; k < K; k++) {
      if (pass) off[k] = nj;
      for (int64_t c = 0; c < L->m; c++) {
        int64_t sk = L->start[c + 1] - L->start[c] - cnt[c * K + k];
        if ((L->m > 1 && sk < minsize) || sk < 1) continue;
        int64_t np = bfcr_split_pieces(sk, cap);
        for (int64_t j = 0; j < np; j++, nj++) {
          if (!pass) continue;
          double m = (double)(bfcr_split_start(sk, np, j + 1) - bfcr_split_start(sk, np, j));
          cost[nj] = bfcr_krr_fit_cost_ns(m, t->d) + m / (K - 1) * m * (2.0 * t->d + 20.0);
        }
      }
    }
    if (!pass) BFCR_ALLOC(ctx, cost, nj > 0 ? nj : 1);
  }
  off[K] = nj;
  *costo = cost;
  cost = NULL;
cleanup:
  free(cnt);
  free(cost);
  return st;
}

/* Deterministic balanced assignment of nj jobs to P ranks: largest estimated cost first
 * (ties: the lower job index), each to the least loaded rank (ties: the lower rank). Every
 * rank computes the same costs in the same order, so the same owners; the owners decide
 * only where a value is computed, never the value. */
static bfcr_status assign_jobs(bfcr_ctx *ctx, const double *cost, int64_t nj, int P, int *own) {
  bfcr_status st = BFCR_OK;
  int64_t *ix = NULL;
  double *load = NULL;
  BFCR_ALLOC(ctx, ix, nj > 0 ? nj : 1);
  BFCR_CALLOC(ctx, load, P);
  for (int64_t j = 0; j < nj; j++) ix[j] = j;
  by_cost(cost, nj, ix);
  for (int64_t a = 0; a < nj; a++) {
    int r = 0;
    for (int q = 1; q < P; q++)
      if (load[q] < load[r]) r = q;
    own[ix[a]] = r;
    load[r] += cost[ix[a]];
  }
cleanup:
  free(ix);
  free(load);
  return st;
}

/* Squared error of the ridge pick (level L, shrinkage lam, cv_shrink.c's formula) for
 * every row. part[l][c K + k]: training-part size of node c of level l in fold k. */
static void score_pick(const bfcr_tree *t, int L, double lam, int K, const double *Z,
                       const double *Y, const int *fold, const int64_t *route1, double *const *fm,
                       double *const *part, double margin, int nthreads, double *p2) {
  const int d = t->d, T = t->nlevels - 1;
  const int64_t n = t->n;
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; i++) {
    const double *z = Z + i * d;
    int k = fold[i];
    int64_t c = route1[i], cl[128];
    for (int l = 1; l <= T; l++) {
      cl[l] = c;
      if (l < T) c = t->lv[l].parent[c];
    }
    const double *oL = fm[L] + (cl[L] * K + k) * CVW(d), *g = fm[T] + k * CVW(d);
    double v;
    if (lam == 0.0 || L == T) {
      v = lin(oL, z, d);
    } else {
      double f = lin(g, z, d), prev = f;
      for (int l = T - 1; l >= L; l--) {
        double pr = lin(fm[l] + (cl[l] * K + k) * CVW(d), z, d);
        f += (pr - prev) * bfcr_shrink_factor(lam, part[l + 1][cl[l + 1] * K + k]);
        prev = pr;
      }
      v = f;
    }
    double e = Y[i] - guard(v, oL, g, z, d, margin);
    p2[i] = e * e;
  }
}

bfcr_status bfcr_cv_kernel(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                           const bfcr_zsrc *zs, const double *y, int64_t n_local,
                           bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  const int T = t->nlevels - 1, d = t->d, K = m->cv_folds, P = ctx->size;
  const int64_t n = t->n;
  /* The small-cluster policy candidates (cv_small.c) share this set-up: the rows, the
   * routing, the ridge fold models and the pick's errors. */
  const int krr = (p->select_regressors & (1u << BFCR_REG_KRR)) && p->regressor == BFCR_REG_RIDGE;
  int small = bfcr_cv_small_wanted(p, m, t->nlevels);
  if (!(krr || small) || K < 2 || T < 1 || !m->cv_rmse || m->chosen < 1 || T >= 128) return BFCR_OK;
  double t0 = bfcr_wtime();
  const int64_t cap = p->kernel_cap > 0 ? p->kernel_cap : BFCR_KERNEL_CAP_DEFAULT;
  const double budget = p->kernel_budget == 0.0 ? BFCR_KCV_BUDGET_DEFAULT : p->kernel_budget;
  int *fold = NULL, *own = NULL, order[128], nsel = 0, sel[128];
  int64_t *work = NULL, *nn = NULL, *route1 = NULL;
  double *Zg = NULL, *Yg = NULL, **fm = NULL, **part = NULL, *p2 = NULL, *e2 = NULL, *pa2 = NULL;
  const bfcr_tree *tree0 = t; /* the caller's tree (the honest check reads its own rows) */
  const double *Z = zs->Z, *Y = y;
  int64_t *ordall = NULL, *par0all = NULL;
  bfcr_level *lvk = NULL;               /* several ranks: the levels with all their summaries */
  double **lam = NULL;                  /* [T + 1][m] every node's penalty */
  const int64_t *up0 = t->lv[0].parent; /* level 0's components of all n rows */
  bfcr_tree tk;
  /* The table and the budget (local: the node sizes are the same on every rank). */
  if (!krr) goto setup;
  m->kcv_budget = budget;
  m->kcv_state = calloc((size_t)t->nlevels, 1);
  m->kcv_cost = malloc((size_t)t->nlevels * sizeof(double));
  m->kcv_rmse = malloc((size_t)t->nlevels * sizeof(double));
  m->kcv_dmse = malloc((size_t)t->nlevels * sizeof(double));
  m->kcv_dse = malloc((size_t)t->nlevels * sizeof(double));
  if (!m->kcv_state || !m->kcv_cost || !m->kcv_rmse || !m->kcv_dmse || !m->kcv_dse) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory");
    goto cleanup;
  }
  double fixed = (double)n * ((double)T * (d + 2) * (d + 2) / 2.0 + 6000.0) * 1e-9, total = 0.0;
  int nord = 0;
  for (int l = 0; l <= T; l++) {
    m->kcv_cost[l] = m->kcv_rmse[l] = m->kcv_dmse[l] = m->kcv_dse[l] = NAN;
    if (l == 0) {
      m->kcv_cost[0] = fixed; /* the part paid once, by the first level scored */
      continue;
    }
    /* The honest check (cv_honest.c) found no clustered ridge model better than the
     * global one: clustered candidates scored on the same shared tree carry the same
     * optimism, so only the top level's (tree-free) candidate stays. */
    if (m->hcv_state == 2 && l < T) continue;
    double c = bfcr_cv_kernel_level_cost(t, l, K, p->min_cluster_size, cap);
    m->kcv_cost[l] = c;
    m->kcv_state[l] = c < 0 ? KCV_NOKERNEL : KCV_OVER;
    if (c >= 0) order[nord++] = l;
  }
  /* Cheapest first (ties: the lower level), while the total fits. */
  for (int a = 1; a < nord; a++)
    for (int b = a; b > 0 && m->kcv_cost[order[b]] < m->kcv_cost[order[b - 1]]; b--) {
      int s = order[b];
      order[b] = order[b - 1];
      order[b - 1] = s;
    }
  for (int a = 0; a < nord; a++) {
    double c = m->kcv_cost[order[a]] + (nsel == 0 ? fixed : 0.0);
    if (budget >= 0.0 && total + c > budget) continue;
    total += c;
    m->kcv_state[order[a]] = KCV_SCORED;
    nsel++;
  }
  nsel = 0;
  for (int l = 1; l <= T; l++)
    if (m->kcv_state[l] == KCV_SCORED) sel[nsel++] = l;
  for (int l = 1; l <= T; l++)
    if (m->kcv_state[l] == KCV_OVER)
      bfcr_log(ctx, BFCR_LOG_INFO,
               "krr candidate at level %d skipped: estimated %.3g s (+ %.3g s once for the "
               "rows, routing and ridge fold models), over the kernel budget (%.3g s)",
               l, m->kcv_cost[l], fixed, budget);
  if (nsel == 0 && nord > 0)
    bfcr_log(ctx, BFCR_LOG_INFO, "krr candidates: none within the kernel budget (%.3g s)", budget);
setup:
  if (small && (double)n * K > (double)BFCR_CV_SMALL_MAX_ROWS) {
    /* Over the small candidates' budget: recorded and logged (state 2) before the set-up,
     * which would otherwise gather every row on every rank for nothing. */
    st = bfcr_cv_small(ctx, t, NULL, NULL, NULL, K, NULL, NULL, NULL, p, m);
    if (st != BFCR_OK) goto cleanup;
    small = 0;
  }
  if (nsel == 0 && !small) goto cleanup;
  /* Every rank holds every row from here on (within the budget, n is moderate), and the
   * whole dendrogram order: with several ranks the tree keeps only its own rows' positions,
   * so a copy of the tree header points at the gathered order. */
  if (P > 1) {
    st = bfcr_cv_gather_rows(ctx, zs, y, n_local, n, d, &Zg, &Yg);
    if (st != BFCR_OK) goto cleanup;
    Z = Zg;
    Y = Yg;
    if (!t->order) {
      BFCR_CALL(bfcr_tree_order_all(ctx, t, &ordall)); /* agreed: every rank fails here */
      tk = *t;
      tk.order = ordall;
      t = &tk;
    }
    if (t->lv0_local) {
      BFCR_CALL(gather_parents(ctx, t, &par0all)); /* agreed: every rank fails here */
      up0 = par0all;
    }
    int trimmed = 0;
    for (int l = 1; l <= T; l++) trimmed |= t->lv[l].ns_hi > 0;
    if (trimmed) { /* the node models read every node's centroid (bfcr_tree_keep_own_ns) */
      BFCR_CALL(bfcr_agree(
          ctx, (lvk = calloc((size_t)t->nlevels, sizeof *lvk)) ? BFCR_OK : BFCR_ERR_NOMEM));
      memcpy(lvk, t->lv, (size_t)t->nlevels * sizeof *lvk);
      for (int l = 1; l <= T; l++) lvk[l].ns = NULL;
      for (int l = 1; l <= T; l++) {
        BFCR_CALL(bfcr_tree_ns_all(ctx, t, l, &lvk[l].ns)); /* agreed */
        lvk[l].ns_lo = lvk[l].ns_hi = 0;
      }
      if (t != &tk) tk = *t;
      tk.lv = lvk;
      t = &tk;
    }
    /* every node's penalty, from the CV's node owners (fit.c keeps their records only) */
    BFCR_CALL(
        bfcr_agree(ctx, (lam = calloc((size_t)T + 1, sizeof *lam)) ? BFCR_OK : BFCR_ERR_NOMEM));
    for (int l = 1; l <= T; l++) {
      int64_t a, b;
      bfcr_tree_owned_nodes(t, l, P, ctx->rank, &a, &b);
      double *mine = malloc((size_t)(b > a ? b - a : 1) * sizeof *mine);
      lam[l] = malloc((size_t)t->lv[l].m * sizeof **lam);
      st = bfcr_agree(ctx, mine && lam[l] ? BFCR_OK : BFCR_ERR_NOMEM);
      for (int64_t c = a; st == BFCR_OK && c < b; c++)
        mine[c - a] = lf[l].cm[c - lf[l].cm_lo].lambda;
      if (st == BFCR_OK) st = bfcr_allgather_items(ctx, mine, b - a, sizeof *mine, lam[l]);
      free(mine);
      if (st != BFCR_OK) goto cleanup;
    }
  }
  BFCR_ALLOC(ctx, fold, n);
  BFCR_ALLOC(ctx, work, 4 * n);
  bfcr_cv_folds(p->seed, n, K, fold, work);
  BFCR_ALLOC(ctx, nn, n);
  BFCR_ALLOC(ctx, route1, n);
  BFCR_CALL(bfcr_cv_route_rows(ctx, Z, n, d, fold, P == 1 ? t->lv[0].bf : NULL, NULL, nn));
  for (int64_t i = 0; i < n; i++) route1[i] = up0[nn[i]];
  /* Ridge fold models of every node (top-down: a small node copies its parent's). */
  BFCR_CALLOC(ctx, fm, T + 1);
  BFCR_CALLOC(ctx, part, T + 1);
  for (int l = T; l >= 1; l--) {
    BFCR_ALLOC(ctx, fm[l], t->lv[l].m * K * CVW(d));
    BFCR_CALLOC(ctx, part[l], t->lv[l].m * K);
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 16) num_threads(ctx->nthreads) reduction(| : failed)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      const double *par = l < T ? fm[l + 1] + t->lv[l].parent[c] * K * CVW(d) : NULL;
      failed |= bfcr_cv_node_models(ctx, t, l, c, Z, Y, fold, K, p->min_cluster_size,
                                    lam ? lam[l][c] : lf[l].cm[c].lambda, par,
                                    fm[l] + c * K * CVW(d)) != BFCR_OK;
    }
    BFCR_CHECK(ctx, !failed, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory");
  }
  /* Training-part sizes (integers), for the pick's shrinkage factors. */
  for (int64_t i = 0; i < n; i++) {
    int64_t c = up0[i];
    for (int l = 1; l <= T; l++) {
      part[l][c * K + fold[i]] += 1.0;
      if (l < T) c = t->lv[l].parent[c];
    }
  }
  for (int l = 1; l <= T; l++)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      double tot = 0.0, *pc = part[l] + c * K;
      for (int k = 0; k < K; k++) tot += pc[k];
      for (int k = 0; k < K; k++) pc[k] = tot - pc[k];
    }
  BFCR_ALLOC(ctx, p2, n);
  BFCR_ALLOC(ctx, e2, n);
  score_pick(t, m->chosen, m->shrink_lambda, K, Z, Y, fold, route1, fm, part, p->guard_margin,
             ctx->nthreads, p2);
  /* Small-cluster policy: may move the pick (then p2 holds its errors); the KRR candidates
   * keep the ancestor policy's small-cluster rule (restored for them, reapplied after). */
  bfcr_fit_params p_anc = *p, p_small = *p;
  if (small) {
    const int L0 = m->chosen, h0 = m->hcv_state, hl0 = m->hcv_level;
    const double lam0 = m->shrink_lambda, hla0 = m->hcv_lambda, hd0 = m->hcv_dmse, hs0 = m->hcv_dse;
    pa2 = malloc((size_t)n * sizeof *pa2); /* the ancestor pick's errors, for a reversal */
    if (pa2) memcpy(pa2, p2, (size_t)n * sizeof *pa2);
    st = pa2 ? bfcr_cv_small(ctx, t, Z, Y, fold, K, route1, fm, p2, p, m)
             : bfcr_err(ctx, BFCR_ERR_NOMEM, "small-cluster CV: out of memory");
    if (P > 1) st = bfcr_agree(ctx, st);
    if (st != BFCR_OK) goto cleanup;
    if (m->scv_pick > 0) {
      /* The shrink pick is scored on the shared tree like the ancestor pick, with the same
       * optimism on small n: it must pass the same honest check against the global model
       * (cv_honest.c; within its budget), else the ancestor pick stays. Collective. */
      st = bfcr_cv_honest(ctx, tree0, zs, y, n_local, p, m);
      if (st != BFCR_OK) goto cleanup;
      if (m->hcv_state == 2) {
        bfcr_log(ctx, BFCR_LOG_INFO,
                 "small-cluster policy: the shrink pick (level %d) did not pass the honest "
                 "check: ancestor at level %d kept",
                 m->scv_pick, L0);
        m->scv_state = 3;
        m->scv_pick = 0;
        *p = p_anc;
        m->chosen = L0;
        m->shrink_lambda = lam0;
        m->hcv_state = h0;
        m->hcv_level = hl0;
        m->hcv_lambda = hla0;
        m->hcv_dmse = hd0;
        m->hcv_dse = hs0;
        memcpy(p2, pa2, (size_t)n * sizeof *p2);
      }
    }
    p_small = *p;
    p->small = p_anc.small;
    p->min_cluster_size = p_anc.min_cluster_size;
  }
  const int L = m->chosen;
  double sp = 0.0;
  for (int64_t i = 0; i < n; i++) sp += p2[i];
  bfcr_log(ctx, BFCR_LOG_DEBUG, "krr candidates: ridge pick (level %d) CV RMSE %.6g", L,
           sqrt(sp / (double)n));
  int best = 0;
  double bmse = INFINITY;
  for (int s = 0; s < nsel; s++) {
    const int l = sel[s];
    /* With several ranks the level's pieces (all folds) are dealt over the ranks; each
     * rank leaves 0 in the rows it did not compute, so the sum over ranks of e2 is exact
     * (x + 0 = x) and every rank then holds the one-process values. */
    double *cost = NULL;
    int64_t *off = malloc((size_t)(K + 1) * sizeof *off);
    st = off ? level_jobs(ctx, t, l, K, fold, p->min_cluster_size, cap, off, &cost)
             : bfcr_err(ctx, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory");
    if (st == BFCR_OK && P > 1) {
      free(own);
      own = malloc((size_t)(off[K] > 0 ? off[K] : 1) * sizeof *own);
      st = own ? assign_jobs(ctx, cost, off[K], P, own)
               : bfcr_err(ctx, BFCR_ERR_NOMEM, "kernel CV candidates: out of memory");
    }
    if (st == BFCR_OK)
      st = score_level(ctx, t, l, K, Z, Y, fold, nn, route1, fm, p, cap, cost, off[K],
                       P > 1 ? own : NULL, ctx->rank, e2);
    free(cost);
    free(off);
    if (P > 1) {
      st = bfcr_agree(ctx, st);
      if (st != BFCR_OK) goto cleanup;
      BFCR_CHECK(
          ctx,
          MPI_Allreduce(MPI_IN_PLACE, e2, (int)n, MPI_DOUBLE, MPI_SUM, ctx->comm) == MPI_SUCCESS,
          BFCR_ERR_MPI, "kernel CV candidates: MPI_Allreduce of the squared errors failed");
    } else if (st != BFCR_OK) {
      goto cleanup;
    }
    double se2 = 0.0, sd = 0.0, s2 = 0.0, nd = (double)n;
    for (int64_t i = 0; i < n; i++) {
      se2 += e2[i];
      sd += e2[i] - p2[i];
    }
    double md = sd / nd;
    for (int64_t i = 0; i < n; i++) s2 += (e2[i] - p2[i] - md) * (e2[i] - p2[i] - md);
    double sed = n > 1 ? sqrt(s2 / (nd - 1) / nd) : 0.0, mse = se2 / nd;
    m->kcv_rmse[l] = sqrt(mse);
    m->kcv_dmse[l] = md;
    m->kcv_dse[l] = sed;
    if (md < -sed && mse <= bmse) { /* levels ascend: ties go to the higher level */
      bmse = mse;
      best = l;
    }
  }
  if (best > 0) {
    bfcr_log(ctx, BFCR_LOG_INFO,
             "krr at level %d replaces the ridge pick (level %d): CV RMSE %.6g against %.6g", best,
             L, m->kcv_rmse[best], sqrt(sp / (double)n));
    m->chosen = best;
    m->shrink_lambda = 0.0;
    p->regressor = BFCR_REG_KRR;
    m->scv_pick = 0; /* the kernel pick keeps the ancestor policy */
  } else if (small && m->scv_pick > 0) {
    p->small = p_small.small;
    p->min_cluster_size = p_small.min_cluster_size;
  }
cleanup:
  bfcr_phase_add(ctx, "cv: kernel candidates", bfcr_wtime() - t0, 0.0);
  for (int l = 0; l <= T; l++) {
    if (fm) free(fm[l]);
    if (part) free(part[l]);
  }
  free(fm);
  free(part);
  free(fold);
  free(own);
  free(work);
  free(nn);
  free(route1);
  free(p2);
  free(pa2);
  free(e2);
  free(Zg);
  free(ordall);
  free(par0all);
  for (int l = 1; lvk && l <= T; l++) free(lvk[l].ns);
  for (int l = 1; lam && l <= T; l++) free(lam[l]);
  free(lam);
  free(lvk);
  free(Yg);
  if (P > 1) st = bfcr_agree(ctx, st);
  return st;
}
