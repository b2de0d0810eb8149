/* Epsilon-SVR with an RBF kernel on one cluster, through libsvm.
 *
 * What: y is standardized within the cluster (ys = (y - mean) / sd, population sd), so
 * C and epsilon mean the same on every cluster; gamma = 1 / (2 h^2) with h a multiple of
 * the median pairwise distance of the rows (the same width scale as krr.c). libsvm
 * solves the dual by SMO; prediction is mean + sd * f(x).
 *
 * Selection: a holdout, not libsvm's svm_cross_validation, which shuffles the folds with
 * the process-global rand() (results would depend on whoever called srand last, and
 * threads would race on it). Row i is held out iff i % stride == stride - 1; the rows of
 * a cluster come in dendrogram order, so the holdout samples the cluster evenly. The
 * grid is visited C ascending, h descending, epsilon descending, and a setting must beat
 * the incumbent by a relative 1e-10: ties keep the smoother, cheaper model. The chosen
 * setting is refitted on all rows.
 *
 * Complexity: one SMO solve per grid point (roughly O(n^2 d) to O(n^3) in the number of
 * support vectors; libsvm caches kernel rows in cache_mb megabytes), plus O(n^2 d) for
 * the median distance. Deterministic: libsvm's SMO has no randomness, and the training
 * nodes are built in row order. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <libsvm/svm.h>

#include "knn/knn.h"
#include "regress/krr.h"
#include "regress/svr.h"

#define SVR_TIE_RTOL 1e-10

void bfcr_svr_params_init(bfcr_svr_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->C_min = 0.1;
  p->C_max = 100.0;
  p->C_steps = 4;
  p->h_min = 0.5;
  p->h_max = 2.0;
  p->h_steps = 3;
  p->eps_min = 0.02;
  p->eps_max = 0.2;
  p->eps_steps = 2;
  p->C = 0.0;
  p->gamma = 0.0;
  p->epsilon = -1.0;
  p->holdout_stride = 5;
  p->min_search_rows = 20;
  p->max_rows = 2000;
  p->tol = 1e-3;
  p->cache_mb = 64.0;
}

/* libsvm writes progress through this hook; bfcr never prints. */
static void svr_quiet(const char *s) {
  (void)s;
}

void bfcr_svr_free(bfcr_svr_model *m) {
  if (!m) return;
  if (m->svm) svm_free_and_destroy_model(&m->svm);
  free(m->nodes);
  memset(m, 0, sizeof *m);
}

/* Row i of X as d + 1 libsvm nodes (indices 1..d, then the -1 terminator). */
static void fill_nodes(const double *x, int d, struct svm_node *nd) {
  for (int j = 0; j < d; j++) {
    nd[j].index = j + 1;
    nd[j].value = x[j];
  }
  nd[d].index = -1;
  nd[d].value = 0.0;
}

static void set_param(struct svm_parameter *sp, const bfcr_svr_params *p, double C, double gamma,
                      double epsilon) {
  memset(sp, 0, sizeof *sp);
  sp->svm_type = EPSILON_SVR;
  sp->kernel_type = RBF;
  sp->degree = 3;
  sp->gamma = gamma;
  sp->coef0 = 0.0;
  sp->cache_size = p->cache_mb;
  sp->eps = p->tol;
  sp->C = C;
  sp->nr_weight = 0;
  sp->weight_label = NULL;
  sp->weight = NULL;
  sp->nu = 0.5;
  sp->p = epsilon;
  sp->shrinking = 1;
  sp->probability = 0;
}

/* Train on the rows listed in idx (m of them), nodes shared from `nodes`. */
static bfcr_status train(const struct svm_node *nodes, int d, const double *ys, const int64_t *idx,
                         int64_t m, const struct svm_parameter *sp, struct svm_model **out) {
  *out = NULL;
  bfcr_status st = BFCR_OK;
  struct svm_problem prob;
  prob.l = (int)m;
  prob.y = malloc((size_t)m * sizeof(double));
  prob.x = malloc((size_t)m * sizeof(struct svm_node *));
  if (!prob.y || !prob.x) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  for (int64_t k = 0; k < m; k++) {
    prob.y[k] = ys[idx[k]];
    /* libsvm does not modify the nodes; its API just lacks const. */
    prob.x[k] = (struct svm_node *)(nodes + idx[k] * ((int64_t)d + 1));
  }
  if (svm_check_parameter(&prob, sp) != NULL) {
    st = BFCR_ERR_ARG;
    goto cleanup;
  }
  svm_set_print_string_function(svr_quiet);
  *out = svm_train(&prob, sp);
  if (!*out) st = BFCR_ERR_NOMEM;
cleanup: /* the model keeps pointers into nodes, not into prob */
  free(prob.y);
  free(prob.x);
  return st;
}

bfcr_status bfcr_svr_fit(const double *X, int64_t ldx, const double *y, int64_t n, int d,
                         const bfcr_svr_params *p, bfcr_svr_model *out) {
  if (!out) return BFCR_ERR_ARG;
  memset(out, 0, sizeof *out);
  if (!X || !y || !p || n < 1 || d < 1 || ldx < d) return BFCR_ERR_ARG;
  if (n > 0x7fffffff / ((int64_t)d + 1)) return BFCR_ERR_ARG; /* libsvm counts in int */
  if (p->max_rows >= 1 && n > p->max_rows) return BFCR_ERR_ARG;
  const int fixed = p->C > 0.0 && p->gamma > 0.0 && p->epsilon >= 0.0;
  if (fixed && !(isfinite(p->C) && isfinite(p->gamma) && isfinite(p->epsilon))) return BFCR_ERR_ARG;
  if (!fixed && (p->C_steps < 1 || p->h_steps < 1 || p->eps_steps < 1 || !(p->C_min > 0.0) ||
                 !(p->C_max >= p->C_min) || !isfinite(p->C_max) || !(p->h_min > 0.0) ||
                 !(p->h_max >= p->h_min) || !isfinite(p->h_max) || !(p->eps_min > 0.0) ||
                 !(p->eps_max >= p->eps_min) || !isfinite(p->eps_max) || p->holdout_stride < 2))
    return BFCR_ERR_ARG;
  if (!(p->tol > 0.0) || !(p->cache_mb > 0.0)) return BFCR_ERR_ARG;
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(y[i])) return BFCR_ERR_NUMERIC;
    for (int j = 0; j < d; j++)
      if (!isfinite(X[i * ldx + j])) return BFCR_ERR_NUMERIC;
  }

  bfcr_status st = BFCR_OK;
  double *ys = NULL;
  int64_t *idx = NULL;
  struct svm_model *trial = NULL;
  out->n = n;
  out->d = d;
  out->val_rmse = NAN;

  /* Standardize y (row order sums). */
  double my = 0.0, ss = 0.0;
  for (int64_t i = 0; i < n; i++) my += y[i];
  my /= (double)n;
  for (int64_t i = 0; i < n; i++) ss += (y[i] - my) * (y[i] - my);
  const double sd = sqrt(ss / (double)n);
  out->mean_y = my;
  out->sd_y = sd > 1e-12 * fabs(my) ? sd : 0.0;

  if ((st = bfcr_median_pairwise_dist(X, ldx, n, d, &out->h_ref)) != BFCR_OK) goto cleanup;
  /* Middle of the grids: the setting without search. */
  const double mid = 0.5;
  out->C = fixed ? p->C : exp(log(p->C_min) + mid * (log(p->C_max) - log(p->C_min)));
  const double hmid = out->h_ref * exp(log(p->h_min) + mid * (log(p->h_max) - log(p->h_min)));
  out->gamma = fixed ? p->gamma : 1.0 / (2.0 * hmid * hmid);
  out->epsilon =
      fixed ? p->epsilon : exp(log(p->eps_min) + mid * (log(p->eps_max) - log(p->eps_min)));
  if (out->sd_y == 0.0 || n == 1) goto cleanup; /* constant model */

  const int64_t nd1 = (int64_t)d + 1;
  out->nodes = malloc((size_t)(n * nd1) * sizeof(struct svm_node));
  ys = malloc((size_t)n * sizeof *ys);
  idx = malloc((size_t)n * sizeof *idx);
  if (!out->nodes || !ys || !idx) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  for (int64_t i = 0; i < n; i++) {
    fill_nodes(X + i * ldx, d, out->nodes + i * nd1);
    ys[i] = (y[i] - my) / out->sd_y;
  }

  struct svm_parameter sp;
  const int64_t stride = p->holdout_stride;
  const int64_t nval = n / stride, ntr = n - nval;
  if (!fixed && n >= p->min_search_rows && nval >= 1 && ntr >= 2) {
    int64_t m = 0;
    for (int64_t i = 0; i < n; i++)
      if (i % stride != stride - 1) idx[m++] = i;
    double best = INFINITY;
    int have = 0;
    for (int kc = 0; kc < p->C_steps; kc++)
      for (int kh = p->h_steps - 1; kh >= 0; kh--)
        for (int ke = p->eps_steps - 1; ke >= 0; ke--) {
          const double C = bfcr_log_grid(p->C_min, p->C_max, p->C_steps, kc);
          const double h = out->h_ref * bfcr_log_grid(p->h_min, p->h_max, p->h_steps, kh);
          const double eps = bfcr_log_grid(p->eps_min, p->eps_max, p->eps_steps, ke);
          set_param(&sp, p, C, 1.0 / (2.0 * h * h), eps);
          if ((st = train(out->nodes, d, ys, idx, m, &sp, &trial)) != BFCR_OK) goto cleanup;
          double se = 0.0;
          for (int64_t i = stride - 1; i < n; i += stride) {
            const double r = svm_predict(trial, out->nodes + i * nd1) - ys[i];
            se += r * r;
          }
          svm_free_and_destroy_model(&trial);
          const double rmse = sqrt(se / (double)nval);
          if (!isfinite(rmse)) {
            st = BFCR_ERR_NUMERIC;
            goto cleanup;
          }
          if (!have || rmse < best - SVR_TIE_RTOL * best) {
            have = 1;
            best = rmse;
            out->C = C;
            out->gamma = sp.gamma;
            out->epsilon = eps;
          }
        }
    out->val_rmse = best * out->sd_y;
  }

  for (int64_t i = 0; i < n; i++) idx[i] = i;
  set_param(&sp, p, out->C, out->gamma, out->epsilon);
  if ((st = train(out->nodes, d, ys, idx, n, &sp, &out->svm)) != BFCR_OK) goto cleanup;
  out->nsv = svm_get_nr_sv(out->svm);

cleanup:
  if (trial) svm_free_and_destroy_model(&trial);
  free(ys);
  free(idx);
  if (st != BFCR_OK) bfcr_svr_free(out);
  return st;
}

bfcr_status bfcr_svr_predict(const bfcr_svr_model *m, const double *Q, int64_t ldq, int64_t nq,
                             double *yhat) {
  if (!m || m->d < 1 || nq < 0 || (nq > 0 && (!Q || !yhat)) || ldq < m->d) return BFCR_ERR_ARG;
  const int d = m->d;
  struct svm_node *nd = malloc(((size_t)d + 1) * sizeof *nd);
  if (!nd) return BFCR_ERR_NOMEM;
  bfcr_status st = BFCR_OK;
  for (int64_t r = 0; r < nq; r++) {
    const double *q = Q + r * ldq;
    for (int j = 0; j < d; j++)
      if (!isfinite(q[j])) {
        st = BFCR_ERR_NUMERIC;
        goto cleanup;
      }
    if (!m->svm) {
      yhat[r] = m->mean_y;
      continue;
    }
    fill_nodes(q, d, nd);
    const double v = m->mean_y + m->sd_y * svm_predict(m->svm, nd);
    if (!isfinite(v)) {
      st = BFCR_ERR_NUMERIC;
      goto cleanup;
    }
    yhat[r] = v;
  }
cleanup:
  free(nd);
  return st;
}

bfcr_status bfcr_svr_export(const bfcr_svr_model *m, double *sv, double *coef, double *rho) {
  if (!m || !rho || m->d < 1 || (m->nsv > 0 && (!sv || !coef || !m->svm))) return BFCR_ERR_ARG;
  *rho = 0.0;
  if (!m->svm) return m->nsv == 0 ? BFCR_OK : BFCR_ERR_ARG;
  const int d = m->d;
  const struct svm_model *s = m->svm;
  if ((int64_t)s->l != m->nsv || s->nr_class != 2) return BFCR_ERR_ARG;
  for (int64_t i = 0; i < m->nsv; i++) {
    /* The nodes are dense (indices 1..d, fill_nodes), so the values are the row. */
    const struct svm_node *nd = s->SV[i];
    for (int j = 0; j < d; j++) {
      if (nd[j].index != j + 1) return BFCR_ERR_ARG;
      sv[i * d + j] = nd[j].value;
    }
    coef[i] = s->sv_coef[0][i];
  }
  *rho = s->rho[0];
  return BFCR_OK;
}

double bfcr_svr_eval(int64_t nsv, int d, const double *sv, const double *coef, double rho,
                     double gamma, double mean_y, double sd_y, const double *x) {
  if (nsv == 0) return mean_y;
  double sum = 0.0;
  for (int64_t i = 0; i < nsv; i++)
    sum += coef[i] * exp(-gamma * bfcr_dist2(x, sv + i * (int64_t)d, d));
  sum -= rho;
  return mean_y + sd_y * sum;
}
