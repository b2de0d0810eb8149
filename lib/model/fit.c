/* bfcr_fit: standardize, build the summary tree, score the levels, pick one, fit one
 * model per cluster, and assemble the model (replicated on every rank). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "knn/knn.h"
#include "model/fit_kernel.h"
#include "model/fit_models.h"
#include "model/cv.h"
#include "model/cv_small.h"
#include "model/cv_kernel.h"
#include "model/guard.h"
#include "model/shrink.h"
#include "regress/regress.h"
#include "model/model_impl.h"
#include "model/standardize.h"
#include "par/redistribute.h"
#include "tree/tree.h"

void bfcr_fit_params_init(bfcr_fit_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  bfcr_tree_params_init(&p->tree);
  /* Defaults chosen on validation splits of the six shipped datasets (README, "Choosing
   * the defaults"; docs/accuracy-settings.csv): routing by the nearest training row beat
   * nearest-centroid routing everywhere, and BIC level choice with ancestor fallback had
   * the lowest mean validation RMSE (GCV within 0.5%). */
  p->criterion = BFCR_CRIT_BIC;
  p->level = 0;
  p->regressor = BFCR_REG_RIDGE;
  p->small = BFCR_SMALL_AUTO;
  p->min_cluster_size = 0;
  p->routing = BFCR_ROUTE_SAMPLE;
  p->lambda_mode = BFCR_LAMBDA_LEVEL;
  p->lambda = 1.0;
  p->lambda_min = 1e-4;
  p->lambda_max = 1e5;
  p->lambda_steps = 37;
  p->rcond = 1e-12;
  p->seed = 1;
  p->guard_margin = 0.5;
  p->guard_space = 0;
  p->select = BFCR_SELECT_CV;
  p->folds = 5;
  p->shrink = -1.0;
  p->select_regressors = (1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR);
}

static const char *const crit_names[] = {"hci", "ch", "db", "bic", "gcv"};

const char *bfcr_criterion_name(bfcr_criterion c) {
  return (int)c >= 0 && (int)c < 5 ? crit_names[c] : "unknown";
}

bfcr_status bfcr_criterion_parse(const char *s, bfcr_criterion *c) {
  for (int i = 0; s && i < 5; i++)
    if (strcasecmp(s, crit_names[i]) == 0) {
      *c = (bfcr_criterion)i;
      return BFCR_OK;
    }
  return BFCR_ERR_ARG;
}

/* Metric value of a level under a criterion, oriented so that larger is better. */
static double crit_score(const bfcr_level_info *I, bfcr_criterion c) {
  switch (c) {
    case BFCR_CRIT_HCI:
      return I->hci;
    case BFCR_CRIT_CH:
      return I->ch;
    case BFCR_CRIT_DB:
      return -I->db;
    case BFCR_CRIT_BIC:
      return -I->bic;
    case BFCR_CRIT_GCV:
      return -I->gcv;
  }
  return NAN;
}

/* Best level among 1..top-1 (two or more clusters); the smaller level wins ties. When
 * no level has a finite score (tiny data), the top level (a single model). */
static int choose_level(const bfcr_tree *t, bfcr_criterion c) {
  int best = t->nlevels - 1;
  double bs = -INFINITY;
  for (int l = 1; l < t->nlevels - 1; l++) {
    double s = crit_score(&t->info[l], c);
    if (!isnan(s) && s > bs) {
      bs = s;
      best = l;
    }
  }
  return best;
}

static bfcr_status validate(bfcr_ctx *ctx, const bfcr_data *train, const bfcr_fit_params *p) {
  if (!train) return bfcr_err(ctx, BFCR_ERR_ARG, "bfcr_fit: no training data");
  if (train->n_global == 0) return bfcr_err(ctx, BFCR_ERR_INPUT, "0 samples: nothing to fit");
  if (train->d == 0) return bfcr_err(ctx, BFCR_ERR_INPUT, "0 features: nothing to fit on");
  if (!train->y && train->n_local > 0)
    return bfcr_err(ctx, BFCR_ERR_INPUT, "the training data has no target column");
  if ((int)p->criterion < 0 || (int)p->criterion > BFCR_CRIT_GCV)
    return bfcr_err(ctx, BFCR_ERR_ARG, "unknown criterion %d", (int)p->criterion);
  if (!(p->lambda_min > 0.0) || !(p->lambda_max >= p->lambda_min) || p->lambda_steps < 1)
    return bfcr_err(ctx, BFCR_ERR_ARG, "invalid ridge grid [%g, %g] x %d", p->lambda_min,
                    p->lambda_max, p->lambda_steps);
  if ((int)p->lambda_mode < 0 || (int)p->lambda_mode > BFCR_LAMBDA_FIXED ||
      (p->lambda_mode == BFCR_LAMBDA_FIXED && !(p->lambda >= 0.0 && isfinite(p->lambda))))
    return bfcr_err(ctx, BFCR_ERR_ARG, "invalid ridge penalty setting (mode %d, lambda %g)",
                    (int)p->lambda_mode, p->lambda);
  if (p->level < -1)
    return bfcr_err(ctx, BFCR_ERR_ARG, "level %d is invalid (-1 = top, 0 = automatic)", p->level);
  if ((int)p->regressor < 0 || (int)p->regressor > BFCR_REG_SVR || p->kernel_cap < 0)
    return bfcr_err(ctx, BFCR_ERR_ARG, "unknown regressor %d or negative kernel cap %lld",
                    (int)p->regressor, (long long)p->kernel_cap);
  if ((int)p->select < 0 || (int)p->select > BFCR_SELECT_CRITERION || p->folds < 2)
    return bfcr_err(ctx, BFCR_ERR_ARG, "invalid level selection %d or folds %d (at least 2)",
                    (int)p->select, p->folds);
  if (isnan(p->shrink) || isinf(p->shrink))
    return bfcr_err(ctx, BFCR_ERR_ARG, "shrinkage lambda %g is not finite", p->shrink);
  if (p->select_regressors & ~((1u << BFCR_REG_RIDGE) | (1u << BFCR_REG_KRR)))
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "regressor candidates 0x%x: only ridge and krr are supported",
                    p->select_regressors);
  if (isnan(p->kernel_budget)) return bfcr_err(ctx, BFCR_ERR_ARG, "kernel budget is not a number");
  if (p->min_cluster_size < 0)
    return bfcr_err(ctx, BFCR_ERR_ARG, "min cluster size %lld is negative",
                    (long long)p->min_cluster_size);
  return BFCR_OK;
}

/* Several ranks, a linear model routed by training rows, a level of clusters: the
 * centroids are read by the model file only (predict routes by the rows), so each rank
 * keeps those of the nodes it owns (last position in its block: the tiling
 * bfcr_tree_ns_all gathers in, held in the level's trimmed summaries) and the save
 * writes them in rank order (model_file.c). Saves (d + 4) 8 B per node sent by every
 * rank and k d 8 B held. */
static int centroids_sharded(const bfcr_ctx *ctx, const bfcr_model *m) {
  return ctx->size > 1 && m->chosen > 0 && m->params.routing == BFCR_ROUTE_SAMPLE &&
         !bfcr_is_kernel_regressor(m->params.regressor);
}

/* Copy the chosen level's centroids (all, or the owned ones: centroids_sharded) and
 * models into the model. */
static bfcr_status assemble(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_level_fit *lf,
                            bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = t->d, c = m->chosen;
  int64_t k = t->lv[c].m, w = bfcr_ns_width(d), a = 0, b = k;
  m->k = k;
  if (centroids_sharded(ctx, m)) {
    bfcr_tree_owned_nodes(t, c, ctx->size, ctx->rank, &a, &b);
    m->cent_sharded = 1;
    m->cent_lo = a;
    m->cent_nloc = b - a;
  }
  BFCR_ALLOC(ctx, m->centroids, b > a ? (b - a) * d : 1);
  BFCR_ALLOC(ctx, m->cm, k);
  BFCR_ALLOC(ctx, m->w, k * d);
  for (int64_t i = a; i < b; i++) {
    if (c == 0) { /* level 0: the samples themselves (only chosen when n = 1) */
      memcpy(m->centroids + i * d, bfcr_level_fit_mean(&lf[0], d, i), (size_t)d * sizeof(double));
    } else { /* ns holds nodes [ns_lo, ..) (ns_lo = 0 when whole) */
      memcpy(m->centroids + (i - a) * d, t->lv[c].ns + (i - t->lv[c].ns_lo) * w + BFCR_NS_MEAN,
             (size_t)d * sizeof(double));
    }
  }
  memcpy(m->cm, lf[c].cm, (size_t)k * sizeof(*m->cm));
  memcpy(m->w, lf[c].w, (size_t)(k * d) * sizeof(double));
  m->nlevels = t->nlevels;
  BFCR_ALLOC(ctx, m->levels, t->nlevels);
  memcpy(m->levels, t->info, (size_t)t->nlevels * sizeof(*m->levels));
cleanup:
  return st;
}

/* Several ranks: every rank receives all training rows (raw; each rank's block in rank
 * order is the global order) and their labels. Collective; agrees before the exchanges
 * and on return. */
static bfcr_status gather_training_rows(bfcr_ctx *ctx, const bfcr_data *train,
                                        const int64_t *lab_local, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = m->d, agreed = 0;
  int64_t n = train->n_global;
  int *counts = NULL, *displs = NULL;
  BFCR_ALLOC(ctx, counts, ctx->size);
  BFCR_ALLOC(ctx, displs, ctx->size);
  /* A rank that failed above agrees in cleanup; meet it here. */
  st = bfcr_agree(ctx, BFCR_OK);
  if (st != BFCR_OK) {
    agreed = 1;
    goto cleanup;
  }
  int mine = (int)train->n_local;
  MPI_Allgather(&mine, 1, MPI_INT, counts, 1, MPI_INT, ctx->comm);
  displs[0] = 0;
  for (int r = 1; r < ctx->size; r++) displs[r] = displs[r - 1] + counts[r - 1];
  BFCR_CHECK(ctx,
             MPI_Allgatherv(lab_local, mine, MPI_INT64_T, m->train_label, counts, displs,
                            MPI_INT64_T, ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgatherv of training labels failed");
  BFCR_CHECK(ctx, (int64_t)n * d < INT32_MAX, BFCR_ERR_NOMEM,
             "routing by training rows keeps n x d = %lld values: too many to replicate",
             (long long)n * d);
  for (int r = 0; r < ctx->size; r++) {
    counts[r] *= d;
    displs[r] *= d;
  }
  BFCR_CHECK(ctx,
             MPI_Allgatherv(train->X, mine * d, MPI_DOUBLE, m->train_z, counts, displs, MPI_DOUBLE,
                            ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgatherv of training rows failed");
cleanup:
  free(counts);
  free(displs);
  if (!agreed) st = bfcr_agree(ctx, st);
  return st;
}

/* Routing by nearest training row: every rank keeps all standardized rows and their
 * labels at the chosen level. The raw rows are collected and standardized in place: the
 * same expression on the same values as Z on their owner, so no rank needs a
 * standardized copy of its block. Collective; with several ranks the status is agreed on
 * return. */
static bfcr_status keep_training_rows(bfcr_ctx *ctx, const bfcr_data *train,
                                      const int64_t *lab_local, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = m->d;
  int64_t n = train->n_global;
  m->n_train = n;
  /* Several ranks, linear models: each rank keeps its own block (route_shard.h), so no
   * rank holds more than its rows; kernel pieces index all rows, so they keep them all. */
  if (ctx->size > 1 && !bfcr_is_kernel_regressor(m->params.regressor)) {
    int64_t nl = train->n_local;
    m->train_sharded = 1;
    m->train_lo = train->offset;
    m->train_nloc = nl;
    m->train_z = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl * d : 1), sizeof(double));
    m->train_label = bfcr_malloc(ctx, (size_t)(nl > 0 ? nl : 1), sizeof(int64_t));
    if (m->train_z && m->train_label) {
      if (nl > 0) memcpy(m->train_label, lab_local, (size_t)nl * sizeof(int64_t));
      bfcr_standardize_apply(train->X, nl, d, m->mean, m->scale, m->train_z, ctx->nthreads);
    } else {
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory keeping the routing rows");
    }
    return bfcr_agree(ctx, st);
  }
  m->train_z = bfcr_malloc(ctx, (size_t)(n * d), sizeof(double));
  m->train_label = bfcr_malloc(ctx, (size_t)n, sizeof(int64_t));
  if (!m->train_z || !m->train_label) st = BFCR_ERR_NOMEM;
  if (ctx->size > 1) {
    st = st == BFCR_OK ? gather_training_rows(ctx, train, lab_local, m) : bfcr_agree(ctx, st);
  } else if (st == BFCR_OK) {
    memcpy(m->train_z, train->X, (size_t)(n * d) * sizeof(double));
    memcpy(m->train_label, lab_local, (size_t)n * sizeof(int64_t));
  }
  if (st == BFCR_OK)
    bfcr_standardize_apply(m->train_z, n, d, m->mean, m->scale, m->train_z, ctx->nthreads);
  return st;
}

/* Models fitted to (y - ymean) / yscale back to target units: weights and intercepts
 * scale, GCV scores scale by yscale^2, penalties are unchanged. */
static void unscale_target(bfcr_tree *t, bfcr_level_fit *lf, int lo, double ymean, double yscale) {
  int d = t->d;
  for (int l = lo; l < t->nlevels; l++) {
    if (!lf[l].cm) continue;
    for (int64_t i = lf[l].cm_lo; i < lf[l].cm_hi; i++) { /* the models held here */
      bfcr_cluster_model *cm = &lf[l].cm[i - lf[l].cm_lo];
      cm->intercept = ymean + yscale * cm->intercept;
      cm->gcv *= yscale * yscale;
      if (lf[l].w_part && (i < lf[l].w_lo || i >= lf[l].w_hi)) continue; /* another rank's */
      for (int j = 0; j < d; j++) bfcr_level_fit_w(&lf[l], d, i)[j] *= yscale;
    }
    t->info[l].gcv *= yscale * yscale;
  }
}

/* In-sample predictions of the local rows (own cluster at the chosen level) and their
 * scores, reduced canonically by bfcr_score. */
static bfcr_status train_scores(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y, int64_t n,
                                const int64_t *lab, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = m->d;
  double *yhat = NULL, *z = NULL;
  BFCR_ALLOC(ctx, yhat, n > 0 ? n : 1);
  BFCR_ALLOC(ctx, z, d);
  for (int64_t i = 0; i < n; i++) {
    int64_t c = m->chosen == 0 ? 0 : lab[i];
    const double *w = m->w + c * d;
    bfcr_zsrc_row(zs, i, z);
    double s = m->cm[c].intercept;
    for (int j = 0; j < d; j++) s += w[j] * z[j];
    yhat[i] = s;
  }
  BFCR_CALL(bfcr_score(ctx, y, yhat, n, &m->train_rmse, &m->train_mae, &m->train_r2));
cleanup:
  free(yhat);
  free(z);
  return st;
}

/* Several ranks, around the distributed CV, which reads the model records (penalties) of
 * the nodes each rank owns there (last position in its block) only: each rank keeps those
 * (56 B per node of every level less at the CV's peak). A level the fit left with its
 * owners (first position: cm_part, above the replication bound) changes owner only at the
 * chunk edges: the few straddling records are fetched. Collective; status agreed. */
static bfcr_status cm_keep_owned(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_level_fit *lf) {
  bfcr_status st = BFCR_OK;
  for (int l = 1; l < t->nlevels && st == BFCR_OK; l++) {
    int64_t a, b;
    bfcr_cluster_model *keep = NULL;
    if (!lf[l].cm) continue; /* the same levels on every rank */
    bfcr_tree_owned_nodes(t, l, ctx->size, ctx->rank, &a, &b);
    if (lf[l].cm_part) {
      st = bfcr_level_fit_cm_fetch(ctx, &lf[l], a, b, &keep);
    } else {
      keep = malloc((size_t)(b > a ? b - a : 1) * sizeof *keep);
      st = bfcr_agree(ctx, keep ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory"));
      if (st == BFCR_OK && b > a) memcpy(keep, lf[l].cm + a, (size_t)(b - a) * sizeof *keep);
    }
    if (st == BFCR_OK) {
      free(lf[l].cm);
      lf[l].cm = keep;
      lf[l].cm_part = 1;
      lf[l].cm_lo = a;
      lf[l].cm_hi = b;
    } else {
      free(keep);
    }
  }
  return st;
}
/* Levels lo.. whole again (the chosen one and its ancestors: the model, the shrinkage and
 * the guard read them), from the runs their ranks hold (either layout: both tile the
 * level in rank order). Collective; status agreed. */
static bfcr_status cm_gather(bfcr_ctx *ctx, const bfcr_tree *t, bfcr_level_fit *lf, int lo) {
  bfcr_status st = BFCR_OK;
  for (int l = lo > 1 ? lo : 1; l < t->nlevels && st == BFCR_OK; l++) {
    if (!lf[l].cm || !lf[l].cm_part) continue; /* the same levels on every rank */
    bfcr_cluster_model *all = malloc((size_t)t->lv[l].m * sizeof *all);
    st = bfcr_agree(ctx, all ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory"));
    if (st == BFCR_OK)
      st = bfcr_allgather_items(ctx, lf[l].cm, lf[l].cm_hi - lf[l].cm_lo, sizeof *all, all);
    if (st == BFCR_OK) {
      free(lf[l].cm);
      lf[l].cm = all;
      lf[l].cm_part = 0;
      lf[l].cm_lo = 0;
      lf[l].cm_hi = t->lv[l].m;
    } else {
      free(all);
    }
  }
  return st;
}

static bfcr_status fit_once(bfcr_ctx *ctx, const bfcr_data *train, const bfcr_fit_params *params,
                            bfcr_model **out) {
  bfcr_status st = BFCR_OK;
  bfcr_model *m = NULL;
  bfcr_tree *t = NULL;
  bfcr_level_fit *lf = NULL;
  double *Z = NULL, *ys = NULL, ymean = 0.0, yscale = 1.0;
  int64_t *lab = NULL;
  int agreed = 0; /* several ranks: st already agreed by a collective step */
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_fit_params p;
  if (params)
    p = *params;
  else
    bfcr_fit_params_init(&p);
  BFCR_CHECK(ctx, out != NULL, BFCR_ERR_ARG, "bfcr_fit: out must not be NULL");
  *out = NULL;
  BFCR_CALL(validate(ctx, train, &p));
  int d = train->d;
  if (p.min_cluster_size == 0) p.min_cluster_size = p.small == BFCR_SMALL_SHRINK ? 2 : d + 2;

  BFCR_CALLOC(ctx, m, 1);
  m->d = d;
  m->schema = bfcr_schema_clone(ctx, train->schema);
  BFCR_CHECK(ctx, m->schema != NULL, BFCR_ERR_NOMEM, "out of memory copying the schema");
  BFCR_ALLOC(ctx, m->mean, d);
  BFCR_ALLOC(ctx, m->scale, d);
  double t0 = bfcr_wtime();
  BFCR_CALL(bfcr_standardize_fit(ctx, train, p.tree.standardize, m->mean, m->scale));
  /* One rank stores the standardized rows (its kd-tree and sums read them in place);
   * several ranks standardize rows as they pack them for an exchange, so no rank holds a
   * second n/P x d block beside the caller's data. */
  if (ctx->size == 1) {
    BFCR_ALLOC(ctx, Z, train->n_local * d);
    bfcr_standardize_apply(train->X, train->n_local, d, m->mean, m->scale, Z, ctx->nthreads);
  }
  bfcr_zsrc zs = {Z, train->X, m->mean, m->scale, d};
  bfcr_phase_add(ctx, "standardize", bfcr_wtime() - t0, 3.0 * train->n_local * d);

  ctx->nn_method = p.tree.nn_method;
  /* Davies-Bouldin (an exact max-ratio search, up to 29% of a fit) only when read. */
  const int need_db = p.all_metrics || (p.level == 0 && p.criterion == BFCR_CRIT_DB);
  /* The CV routes held-out rows on level 0's kd-tree (one rank) or rebuilds each slab's
   * tree from the level-0 search's order (several ranks): no second partitioning build. */
  const int keep_kd0 = p.select == BFCR_SELECT_CV && p.level == 0;
  st = bfcr_tree_build_src_ex(
      ctx, &zs, train->y, train->n_local, train->offset, train->n_global, d, p.tree.max_levels,
      (need_db ? 0 : BFCR_TREE_SKIP_DB) | (keep_kd0 ? BFCR_TREE_KEEP_KD0 : 0), &t);
  if (st != BFCR_OK) {
    agreed = ctx->size > 1;
    goto cleanup;
  }
  /* Several ranks: from here on each level's summaries are read for the nodes over this
   * rank's block only (the CV's fold models; the level fits read none); the chosen level's
   * are gathered back below. */
  if (ctx->size > 1) bfcr_tree_keep_own_ns(ctx, t);
  int T = t->nlevels - 1;
  if (train->n_global == 1)
    bfcr_log(ctx, BFCR_LOG_WARN, "1 training row: every prediction is its target value");
  else if (T == 1 && t->info[1].clusters == 1 && t->info[1].within_ss == 0.0)
    bfcr_log(ctx, BFCR_LOG_WARN,
             "all %lld training rows are identical: one cluster, predicting their mean target",
             (long long)train->n_global);
  if (p.level == -1) p.level = T > 0 ? T : 0;
  if (p.level > 0) {
    BFCR_CHECK(ctx, p.level <= T, BFCR_ERR_ARG,
               "level %d does not exist: this tree has levels 1..%d", p.level, T);
    m->chosen = p.level;
  } else if (p.criterion != BFCR_CRIT_GCV) {
    m->chosen = choose_level(t, p.criterion);
  }
  /* GCV needs every level's models; otherwise only the chosen level and its ancestors. */
  const int by_cv = p.select == BFCR_SELECT_CV && p.level == 0 && T >= 1;
  int lo = T == 0 ? 0 : ((p.criterion == BFCR_CRIT_GCV || by_cv) && p.level == 0 ? 1 : m->chosen);
  BFCR_CALLOC(ctx, lf, t->nlevels);
  /* The models are fitted to the standardized target (no under- or overflow in the
   * scatter for targets near 1e-300 or 1e300; the ridge penalty is scale-free), then
   * converted back to target units. */
  BFCR_CALL(bfcr_standardize_cols(ctx, train->y, train->n_local, 1, train->n_global, train->offset,
                                  &ymean, &yscale));
  BFCR_ALLOC(ctx, ys, train->n_local > 0 ? train->n_local : 1);
  for (int64_t i = 0; i < train->n_local; i++) ys[i] = (train->y[i] - ymean) / yscale;
  /* Kernel regressors: ridge models for the level choice and the small clusters. */
  bfcr_fit_params lin = p;
  if (bfcr_is_kernel_regressor(p.regressor)) lin.regressor = BFCR_REG_RIDGE;
  st = bfcr_fit_levels(ctx, t, &zs, ys, &lin, lo, lf);
  if (st == BFCR_OK) unscale_target(t, lf, lo, ymean, yscale);
  if (st != BFCR_OK) {
    agreed = ctx->size > 1;
    goto cleanup;
  }
  if (ctx->size > 1) bfcr_tree_free_nchild(t); /* read by the level fits only */
  /* The regression summaries ((d + 1)(d + 4) / 2 doubles per fitted node) are read after
   * the fits only by the feature-space guard and by a tree without levels (the
   * centroids): otherwise freed before the CV, whose peak they would raise. */
  if (lo >= 1 && !(p.guard_space && p.guard_margin >= 0.0))
    for (int l = lo; l < t->nlevels; l++) {
      free(lf[l].sum);
      lf[l].sum = NULL;
    }
  if (p.criterion == BFCR_CRIT_GCV && p.level == 0) m->chosen = choose_level(t, p.criterion);
  if (by_cv) { /* replicated computation: the same status everywhere but for memory */
    if (ctx->size > 1) st = cm_keep_owned(ctx, t, lf);
    if (st == BFCR_OK) st = bfcr_cv_select(ctx, t, lf, &zs, train->y, train->n_local, &p, m);
    if (ctx->size > 1) st = bfcr_agree(ctx, st);
    /* Kernel ridge candidates (select_regressors): may switch p.regressor to KRR. */
    if (st == BFCR_OK) st = bfcr_cv_kernel(ctx, t, lf, &zs, train->y, train->n_local, &p, m);
    if (st != BFCR_OK) {
      agreed = ctx->size > 1;
      goto cleanup;
    }
  }
  if (t->kd0) { /* an n x d copy of the rows, when the CV did not run */
    bfcr_kdtree_free(*t->kd0);
    *t->kd0 = NULL;
  }
  if (t->zyd) { /* the fit's rows, when the CV did not take them */
    free(*t->zyd);
    *t->zyd = NULL;
  }
  if (T == 0) m->chosen = 0;
  if (p.small == BFCR_SMALL_AUTO) p.small = BFCR_SMALL_ANCESTOR; /* the policy applied */
  m->params = p;
  /* Several ranks: the coefficients stayed with their owners, and so did the models of the
   * levels above the replication bound (or below the chosen one after the CV); the chosen
   * level and its ancestors are what the model, the shrinkage and the guard read. */
  st = ctx->size > 1 ? cm_gather(ctx, t, lf, m->chosen) : BFCR_OK;
  if (st == BFCR_OK) st = bfcr_level_fit_share(ctx, t, lf, m->chosen);
  if (st != BFCR_OK) {
    agreed = ctx->size > 1;
    goto cleanup;
  }
  if (m->chosen > 0 && t->lv[m->chosen].ns_hi > 0 && !centroids_sharded(ctx, m)) {
    /* the centroids: all of them */
    double *all = NULL;
    st = bfcr_tree_ns_all(ctx, t, m->chosen, &all);
    if (st != BFCR_OK) {
      agreed = 1;
      goto cleanup;
    }
    free(t->lv[m->chosen].ns);
    t->lv[m->chosen].ns = all;
    t->lv[m->chosen].ns_lo = t->lv[m->chosen].ns_hi = 0;
  }
  BFCR_CALL(assemble(ctx, t, lf, m));
  /* Hierarchical shrinkage: chosen by the CV, or a fixed lambda (shrink.c). */
  if (!by_cv && p.shrink > 0.0 && !bfcr_is_kernel_regressor(p.regressor))
    m->shrink_lambda = p.shrink;
  BFCR_CALL(bfcr_shrink_apply(ctx, t, lf, m->shrink_lambda, m));
  /* Labels of the local rows at the chosen level, computed once for the scores and the
   * routing rows; a linear fit then drops the tree and the level fits before the model
   * replicates any rows (the kernel fits still need the tree). */
  BFCR_ALLOC(ctx, lab, train->n_local > 0 ? train->n_local : 1);
  BFCR_CHECK(ctx, bfcr_tree_labels(t, m->chosen, lab) == BFCR_OK, BFCR_ERR_INTERNAL,
             "labels of level %d unavailable", m->chosen);
  free(ys);
  ys = NULL;
  if (p.guard_margin >= 0.0) {
    st = bfcr_guard_fit(ctx, t, lf, &zs, lab, train->y, train->n_local, p.guard_margin,
                        p.guard_space, m);
    if (st != BFCR_OK) {
      agreed = ctx->size > 1;
      goto cleanup;
    }
  }
  const int kernel = bfcr_is_kernel_regressor(p.regressor);
  if (!kernel) {
    bfcr_level_fit_free(lf, t->nlevels);
    free(lf);
    lf = NULL;
    bfcr_tree_free(t);
    t = NULL;
  }
  if (p.routing == BFCR_ROUTE_SAMPLE) {
    st = keep_training_rows(ctx, train, lab, m);
    if (st != BFCR_OK) {
      agreed = ctx->size > 1;
      goto cleanup;
    }
  }
  BFCR_CALL(train_scores(ctx, &zs, train->y, train->n_local, lab, m));
  if (kernel) BFCR_CALL(bfcr_fit_kernel(ctx, t, &zs, train->y, m)); /* KRR/SVR; agreed */
  if (m->chosen > 0 && m->levels[m->chosen].min_size < p.min_cluster_size)
    bfcr_log(ctx, BFCR_LOG_INFO,
             "level %d: clusters smaller than %lld rows use their parent's model", m->chosen,
             (long long)p.min_cluster_size);
  *out = m;
  m = NULL;
cleanup:
  if (lf && t) bfcr_level_fit_free(lf, t->nlevels);
  free(lf);
  free(Z);
  free(ys);
  free(lab);
  bfcr_tree_free(t);
  bfcr_model_free(m);
  if (!agreed) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK && out && *out) bfcr_model_destroy(out);
  return st;
}

/* The CV may choose the shrink small-cluster policy (cv_small.c), whose models differ at
 * every level: the level fit is then run again with it at the chosen level (the same tree,
 * no CV) and takes the CV record. Collective; the choice is the same on every rank. */
bfcr_status bfcr_fit(bfcr_ctx *ctx, const bfcr_data *train, const bfcr_fit_params *params,
                     bfcr_model **out) {
  bfcr_status st = fit_once(ctx, train, params, out);
  if (st != BFCR_OK || !(*out)->scv_pick) return st;
  bfcr_fit_params q = (*out)->params;
  q.level = (*out)->chosen;
  q.select = BFCR_SELECT_CRITERION;
  q.shrink = 0.0;
  bfcr_model *m2 = NULL;
  st = fit_once(ctx, train, &q, &m2);
  if (st != BFCR_OK) {
    bfcr_model_destroy(out);
    return st;
  }
  bfcr_cv_small_adopt(*out, m2);
  bfcr_model_destroy(out);
  *out = m2;
  return BFCR_OK;
}
