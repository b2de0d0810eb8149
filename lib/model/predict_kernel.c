/* Applying a fitted model to standardized rows: the linear model of a cluster, or one
 * kernel piece (KRR, SVR) of it, and choosing the piece of a routed row.
 *
 * Both prediction paths (bfcr_predict, bfcr_predict_owned) and the in-sample scores of the
 * kernel fit call bfcr_model_apply, so a row gets the same bits wherever it is predicted:
 * every value depends only on the row and the model (KRR and SVR sum over their stored
 * rows in index order, with the canonical distance), never on how rows are batched,
 * which rank holds them or how many threads run.
 *
 * Piece choice inside a cluster: routing by sample takes the piece of the nearest
 * training row (each kept row records its piece); routing by centroid takes the nearest
 * piece center (the mean of the piece's standardized rows) among the cluster's pieces,
 * ties to the smaller piece. Cost: O(pieces of the cluster x d) per row for the centroid
 * rule; O(m d) plus m exp per kernel prediction (m stored rows of the piece). */
#include <math.h>
#include <stdlib.h>

#include "knn/knn.h"
#include "model/guard.h"
#include "model/predict_impl.h"
#include "regress/krr.h"
#include "regress/svr.h"

/* First piece of cluster c (pieces are sorted by cluster); npieces when none. */
static int64_t first_piece_of(const bfcr_model *m, int64_t c) {
  int64_t lo = 0, hi = m->npieces;
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->kp[mid].cluster < c)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void bfcr_kernel_pieces_of(const bfcr_model *m, const double *Z, int64_t n, const int64_t *labels,
                           const int64_t *nn, int64_t *piece, int nthreads) {
  int d = m->d;
#pragma omp parallel for schedule(static) num_threads(nthreads)
  for (int64_t i = 0; i < n; i++) {
    if (nn && m->train_piece && m->train_piece[nn[i]] >= 0 &&
        m->kp[m->train_piece[nn[i]]].cluster == labels[i]) {
      piece[i] = m->train_piece[nn[i]];
      continue;
    }
    int64_t q = first_piece_of(m, labels[i]), best = -1;
    double bd = INFINITY;
    for (; q < m->npieces && m->kp[q].cluster == labels[i]; q++) {
      double dd = bfcr_dist2(Z + i * d, m->kcenter + q * d, d);
      if (best < 0 || bfcr_nn_better(dd, q, bd, best)) {
        bd = dd;
        best = q;
      }
    }
    piece[i] = best;
  }
}

double bfcr_kernel_eval(const bfcr_model *m, int64_t q, const double *z, double *scratch) {
  const bfcr_kernel_piece *p = &m->kp[q];
  int d = m->d;
  const double *rows = m->krows + p->off * d, *coef = m->kcoef + p->off;
  double f;
  if (m->params.regressor == BFCR_REG_KRR) {
    bfcr_krr_model v = {0};
    v.n = p->m;
    v.d = d;
    v.h = p->width;
    v.mean_y = p->mean_y;
    v.center = (double *)(m->kcenter + q * d); /* a read-only view */
    v.X = (double *)rows;
    v.alpha = (double *)coef;
    f = bfcr_krr_eval(&v, z, scratch);
  } else {
    f = bfcr_svr_eval(p->m, d, rows, coef, p->bias, p->width, p->mean_y, p->sd_y, z);
  }
  return m->ky_mean + m->ky_scale * f;
}

bfcr_status bfcr_model_apply(bfcr_ctx *ctx, const bfcr_model *m, const double *Z, int64_t ldz,
                             int64_t n, const int64_t *lab, const int64_t *piece, double *yhat) {
  return bfcr_model_apply_guarded(ctx, m, Z, ldz, n, lab, piece, yhat, NULL);
}

bfcr_status bfcr_model_apply_guarded(bfcr_ctx *ctx, const bfcr_model *m, const double *Z,
                                     int64_t ldz, int64_t n, const int64_t *lab,
                                     const int64_t *piece, double *yhat, int64_t *guarded) {
  int d = m->d, failed = 0;
  int64_t hits = 0;
#pragma omp parallel num_threads(ctx->nthreads) reduction(| : failed) reduction(+ : hits)
  {
    double *scratch = piece ? malloc((size_t)d * sizeof *scratch) : NULL;
    if (piece && !scratch) failed = 1;
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < n; i++) {
      const double *z = Z + i * ldz;
      double s;
      if (piece && piece[i] >= 0) {
        if (!scratch) continue;
        s = bfcr_kernel_eval(m, piece[i], z, scratch);
      } else {
        const double *w = m->w + lab[i] * d;
        s = m->cm[lab[i]].intercept;
        for (int j = 0; j < d; j++) s += w[j] * z[j];
      }
      int hit;
      yhat[i] = bfcr_guard_value(m, lab[i], z, s, &hit);
      hits += hit;
    }
    free(scratch);
  }
  if (guarded) *guarded = hits;
  if (failed) return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory applying the kernel models");
  return BFCR_OK;
}
