/* Hierarchical shrinkage (Agarwal et al., ICML 2022) adapted to per-cluster linear models.
 *
 * A row routed to cluster a_L of the chosen level L is predicted by the top (global)
 * model plus each level's increment over its parent's model, the increment of level l
 * weighted by 1 / (1 + lambda / N(a_{l+1})): large parents keep their children's detail,
 * small ones pull the prediction toward the ancestors. Every term is linear in the row, so
 * the shrunk prediction of a cluster is again one linear model: it is computed once at fit
 * time and replaces the cluster's weights. Every predict path (replicated, owned, the
 * in-sample scores, the guard) then applies it unchanged, and a reader that does not know
 * the SHRK section predicts the same values. lambda is chosen by cross-validation together
 * with the level (cv_shrink.c); 0 is hard routing. */
#include "model/shrink.h"

#include <stdlib.h>
#include <string.h>

bfcr_status bfcr_shrink_apply(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                              double lambda, bfcr_model *m) {
  int L = m->chosen, T = t->nlevels - 1, d = m->d;
  if (lambda == 0.0 || L < 1 || L >= T) return BFCR_OK;
  for (int l = L; l <= T; l++)
    if (!lf[l].w || !lf[l].cm)
      return bfcr_err(ctx, BFCR_ERR_INTERNAL, "shrinkage: level %d has no models", l);
  int64_t *path = malloc((size_t)(T + 1) * sizeof *path);
  double *w = malloc((size_t)(d > 0 ? d : 1) * sizeof *w);
  if (!path || !w) {
    free(path);
    free(w);
    return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the shrunk models");
  }
  for (int64_t c = 0; c < m->k; c++) {
    path[L] = c;
    for (int l = L; l < T; l++) path[l + 1] = t->lv[l].parent[path[l]];
    memcpy(w, lf[T].w + path[T] * d, (size_t)d * sizeof(double));
    double b = lf[T].cm[path[T]].intercept;
    for (int l = T - 1; l >= L; l--) {
      double s = bfcr_shrink_factor(lambda, (double)lf[l + 1].cm[path[l + 1]].size);
      const double *wl = lf[l].w + path[l] * d, *wp = lf[l + 1].w + path[l + 1] * d;
      for (int j = 0; j < d; j++) w[j] += (wl[j] - wp[j]) * s;
      b += (lf[l].cm[path[l]].intercept - lf[l + 1].cm[path[l + 1]].intercept) * s;
    }
    memcpy(m->w + c * d, w, (size_t)d * sizeof(double));
    m->cm[c].intercept = b;
  }
  free(path);
  free(w);
  return BFCR_OK;
}
