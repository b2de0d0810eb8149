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
 * its scores are bit for bit the hard routing scores of cv.c. Cost: O(n T d) for the
 * path predictions, O(n T G) for G grid points; memory 32 MiB of squared errors at most.
 *
 * Choice: the candidate of lowest CV MSE over lambda > 0 and levels below the top
 * replaces hard routing at the level chosen by the one-standard-error rule only when its
 * CV MSE is lower (hard routing stays a candidate, so the CV never prefers something worse
 * on CV). A fixed lambda (p->shrink > 0) takes the level of lowest CV MSE at that lambda.
 * Grid: 0 and 4^j <= n (at most 15 points), a geometric grid on the scale of the node
 * sizes N that the factor compares lambda with. */
#include "model/cv_shrink.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/shrink.h"

/* Squared errors buffered per chunk of rows: 2^22 doubles (32 MiB), so few chunks (and
 * OpenMP barriers, which cost a time slice each on an oversubscribed machine). */
#define EBUF ((int64_t)1 << 22)
#define BFCR_SHRINK_MAXT 128 /* levels (the tree has at most 64 + 1) */
#define CVW(d) ((int64_t)(d) + 3)

void bfcr_cv_sum_rows(const double *restrict v, int64_t n_rows, int ncol, int64_t ld,
                      double *restrict out) {
  /* Each column's sum is one chain in row order (vectorized across columns, never
   * reassociated within one). */
  for (int64_t i = 0; i < n_rows; i++)
    for (int c = 0; c < ncol; c++) out[c] += v[i * ld + c];
}

static double lin(const double *o, const double *z, int d) {
  double s = o[d];
  for (int j = 0; j < d; j++) s += o[j] * z[j];
  return s;
}

bfcr_status bfcr_cv_shrink(bfcr_ctx *ctx, const bfcr_tree *t, double *const *fm, int K,
                           int64_t n_local, int64_t n_global, const double *Z, const double *Y,
                           const int *fold, const int64_t *own1, const int64_t *route1,
                           const bfcr_fit_params *p, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = t->d, T = t->nlevels - 1, G = 0;
  double grid[16], *acc = NULL, *E = NULL, **part = NULL;
  int64_t **cnt = NULL;
  if (p->shrink == 0.0 || bfcr_is_kernel_regressor(p->regressor) || T < 2 || n_global < 1 ||
      T > BFCR_SHRINK_MAXT)
    return BFCR_OK;
  grid[G++] = 0.0;
  if (p->shrink > 0.0)
    grid[G++] = p->shrink;
  else
    for (double v = 1.0; v <= (double)n_global && G < 16; v *= 4.0) grid[G++] = v;
  /* Rows of each node in each fold (integer sums: exact, canonical for any rank count),
   * then the training part of fold k: part[l][c K + k] = total - fold k's rows. */
  BFCR_CALLOC(ctx, cnt, T + 1);
  BFCR_CALLOC(ctx, part, T + 1);
  for (int l = 1; l <= T; l++) {
    BFCR_CALLOC(ctx, cnt[l], t->lv[l].m * K);
    BFCR_ALLOC(ctx, part[l], t->lv[l].m * K);
  }
  /* Level 1 from the rows, each higher level from its children's counts (the same
   * integers as counting every row at every level, with n + sum_l m_l K steps). */
  for (int64_t i = 0; i < n_local; i++) cnt[1][own1[i] * K + fold[i]]++;
  for (int l = 1; l < T; l++)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      int64_t a = t->lv[l].parent[c];
      for (int k = 0; k < K; k++) cnt[l + 1][a * K + k] += cnt[l][c * K + k];
    }
  for (int l = 1; l <= T; l++)
    for (int64_t c = 0; c < t->lv[l].m; c++) {
      int64_t tot = 0;
      for (int k = 0; k < K; k++) tot += cnt[l][c * K + k];
      for (int k = 0; k < K; k++) part[l][c * K + k] = (double)(tot - cnt[l][c * K + k]);
    }
  BFCR_CALLOC(ctx, acc, (int64_t)G * T);
  /* One parallel region per chunk (few barriers: on a loaded machine each one can cost a
   * time slice); each row computes its path predictions, its parents' training rows in
   * its fold and its guard intervals once, then every candidate's squared error into E
   * (column g T + L - 1); the column sums then run in row order. */
  int64_t chunk = EBUF / ((int64_t)G * T);
  if (chunk < 64) chunk = 64;
  if (chunk > n_local) chunk = n_local > 0 ? n_local : 1;
  BFCR_ALLOC(ctx, E, chunk * G * T);
  const double margin = p->guard_margin;
  for (int64_t i0 = 0; i0 < n_local; i0 += chunk) {
    int64_t nb = n_local - i0 < chunk ? n_local - i0 : chunk;
#pragma omp parallel num_threads(ctx->nthreads)
    {
#pragma omp for schedule(static)
      for (int64_t r = 0; r < nb; r++) {
        double pr[BFCR_SHRINK_MAXT], np[BFCR_SHRINK_MAXT], lo[BFCR_SHRINK_MAXT],
            hi[BFCR_SHRINK_MAXT];
        int64_t i = i0 + r, c = route1[i];
        int k = fold[i];
        for (int l = 1; l <= T; l++) {
          const double *o = fm[l] + (c * K + k) * CVW(d);
          pr[l - 1] = lin(o, Z + i * d, d);
          /* guard.c's interval (as cv.c's fold_pred): the range widened by margin x width */
          double a = o[d + 1], b = o[d + 2], pad = margin * (b - a);
          lo[l - 1] = a - pad;
          hi[l - 1] = b + pad;
          if (l < T) c = t->lv[l].parent[c];
          np[l - 1] = l < T ? part[l + 1][c * K + k] : 0.0; /* the level-l node's parent */
        }
        double gl = pr[T - 1], yi = Y[i];
        for (int g = 0; g < G; g++) {
          double lam = grid[g], f = gl, *e = E + (r * G + g) * T;
          for (int l = T; l >= 1; l--) {
            if (l < T) f += (pr[l - 1] - pr[l]) * bfcr_shrink_factor(lam, np[l - 1]);
            double v = lam == 0.0 ? pr[l - 1] : f; /* hard routing: P_L itself */
            if (margin >= 0 && !isnan(v) && !(v >= lo[l - 1] && v <= hi[l - 1]))
              v = gl < lo[l - 1] ? lo[l - 1] : gl > hi[l - 1] ? hi[l - 1] : gl;
            double err = yi - v;
            e[l - 1] = err * err;
          }
        }
      }
      /* Column sums: one block of candidates per thread, each in row order. */
#pragma omp for schedule(static)
      for (int g = 0; g < G; g++)
        bfcr_cv_sum_rows(E + (int64_t)g * T, nb, T, (int64_t)G * T, acc + (int64_t)g * T);
    }
  }
  /* Table (RMSE) and choice; the MSEs compare exactly as cv.c's. */
  BFCR_ALLOC(ctx, m->shrink_grid, G);
  BFCR_ALLOC(ctx, m->shrink_rmse, (int64_t)G * t->nlevels);
  m->shrink_ng = G;
  memcpy(m->shrink_grid, grid, (size_t)G * sizeof(double));
  for (int g = 0; g < G; g++) {
    m->shrink_rmse[g * t->nlevels] = NAN;
    for (int l = 1; l <= T && l < t->nlevels; l++)
      m->shrink_rmse[g * t->nlevels + l] = sqrt(acc[g * T + l - 1] / (double)n_global);
  }
  int L = m->chosen >= 1 && m->chosen <= T ? m->chosen : T, bg = 0, bl = L;
  double best = acc[L - 1];
  if (p->shrink > 0.0) { /* forced: the level of lowest CV error at that lambda */
    bg = 1;
    bl = T;
    best = acc[T + T - 1];
    for (int l = T - 1; l >= 1; l--)
      if (acc[T + l - 1] < best) {
        best = acc[T + l - 1];
        bl = l;
      }
  } else {
    for (int g = 1; g < G; g++)
      for (int l = T - 1; l >= 1; l--)
        if (acc[g * T + l - 1] < best) {
          best = acc[g * T + l - 1];
          bg = g;
          bl = l;
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
  free(E);
  return st;
}
