/* Quality metrics of every level, all exact from the node summaries (DESIGN.md 3):
 *
 * HCI (the paper's index): for cluster i, c_i = mean weight of the best-friend edges
 *   among its children (|E_i| = children - 1), d_i = distance from its centroid to the
 *   nearest other centroid (its own best-friend distance as an item of its level);
 *   HCI = mean_i (d_i - c_i) / (d_i + c_i), a term being 0 when d_i = c_i = 0.
 * Calinski-Harabasz = [B / (k - 1)] / [W / (n - k)], W = sum of the clusters' SSE,
 *   B = total SS - W (+inf when W = 0).
 * Davies-Bouldin with RMS scatter s_i = sqrt(SSE_i / n_i):
 *   DB = mean_i max_{j != i} (s_i + s_j) / |mu_i - mu_j|. The max is found exactly with
 *   a kd-tree radius search: starting from the best friend's ratio R_i, only centroids
 *   closer than (s_i + s_max) / R_i can do better, and the radius shrinks as R_i grows.
 * BIC of hard-assignment spherical Gaussians with one shared variance
 *   sigma^2 = W / (n d): -2 log L + q ln n, log L = sum_i n_i ln(n_i / n)
 *   - (n d / 2)(ln(2 pi sigma^2) + 1), q = k d + (k - 1) + 1. Lower is better.
 * Metrics that need two or more clusters are NaN on the top level and on level 0.
 * Sums run over nodes in dendrogram order, sequentially: every rank computes the same. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "tree/tree.h"

typedef struct db_user {
  const double *s;     /* RMS scatter per node */
  const int64_t *ids;  /* node of each point of the group's kd-tree */
  double s_i, s_max;   /* s_max: largest scatter in the group */
  int64_t self;
  double best;         /* current max ratio */
} db_user;

static void db_visit(void *user, int64_t p, double dist2, double *r2) {
  db_user *u = user;
  int64_t j = u->ids[p];
  if (j == u->self) return;
  double ratio = dist2 > 0.0 ? (u->s_i + u->s[j]) / sqrt(dist2) : INFINITY;
  if (ratio > u->best) {
    u->best = ratio;
    double r = (u->s_i + u->s_max) / ratio;
    *r2 = r * r;
  }
}

/* Nodes are split into groups by scatter (largest first), one kd-tree per group: the
 * search radius (s_i + s_max) / R_i then uses each group's own s_max, so the few large
 * clusters of a level do not blow up the radius for all the small ones. */
#define DB_GROUPS 8

typedef struct sidx {
  double s;
  int64_t i;
} sidx;

static int cmp_sidx(const void *a, const void *b) {
  const sidx *x = a, *y = b;
  if (x->s != y->s) return x->s > y->s ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

/* Every rank holds terms[lo, hi) of its slice (lo = m r / P); afterwards all of them. */
static bfcr_status gather_slices(bfcr_ctx *ctx, double *terms, int64_t m) {
  bfcr_status st = BFCR_OK;
  int P = ctx->size, *counts = NULL, *displs = NULL;
  BFCR_CHECK(ctx, m <= INT32_MAX, BFCR_ERR_NOMEM, "level of %lld nodes too large to gather",
             (long long)m);
  BFCR_ALLOC(ctx, counts, P);
  BFCR_ALLOC(ctx, displs, P);
  for (int r = 0; r < P; r++) {
    displs[r] = (int)(m * r / P);
    counts[r] = (int)(m * (r + 1) / P) - displs[r];
  }
  BFCR_CHECK(ctx,
             MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, terms, counts, displs, MPI_DOUBLE,
                            ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Allgatherv of Davies-Bouldin terms failed");
cleanup:
  free(counts);
  free(displs);
  return st;
}

static bfcr_status davies_bouldin(bfcr_ctx *ctx, const bfcr_level *L, int d, double *db) {
  bfcr_status st = BFCR_OK;
  int64_t m = L->m, w = bfcr_ns_width(d);
  double *cent = NULL, *s = NULL, *terms = NULL, *gsmax = NULL;
  int64_t *ids = NULL, gstart[DB_GROUPS + 1];
  sidx *order = NULL;
  bfcr_kdtree *kt[DB_GROUPS] = {0};
  int G = m < 64 * DB_GROUPS ? 1 : DB_GROUPS;
  cent = malloc((size_t)(m * d) * sizeof *cent);
  s = malloc((size_t)m * sizeof *s);
  terms = malloc((size_t)m * sizeof *terms);
  ids = malloc((size_t)m * sizeof *ids);
  order = malloc((size_t)m * sizeof *order);
  gsmax = malloc(DB_GROUPS * sizeof *gsmax);
  if (!cent || !s || !terms || !ids || !order || !gsmax) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for Davies-Bouldin on %lld clusters",
                  (long long)m);
    G = 0; /* skip the work, still meet the other ranks below */
  }
  for (int64_t i = 0; G > 0 && i < m; i++) {
    const double *ns = L->ns + i * w;
    s[i] = sqrt(ns[bfcr_ns_sse(d)] / ns[BFCR_NS_N]);
    order[i] = (sidx){s[i], i};
  }
  if (G > 0) qsort(order, (size_t)m, sizeof *order, cmp_sidx);
  for (int g = 0; g <= G; g++) gstart[g] = m * g / G;
  for (int64_t p = 0; G > 0 && p < m; p++) {
    ids[p] = order[p].i;
    memcpy(cent + p * d, L->ns + order[p].i * w + BFCR_NS_MEAN, (size_t)d * sizeof(double));
  }
  for (int g = 0; g < G; g++) {
    gsmax[g] = s[ids[gstart[g]]];
    st = bfcr_kdtree_build(cent + gstart[g] * d, gstart[g + 1] - gstart[g], d, ctx->nthreads,
                           &kt[g]);
    if (st != BFCR_OK) {
      bfcr_err(ctx, st, "kd-tree build failed (Davies-Bouldin)");
      break;
    }
  }
  /* Ranks agree before the gather, so a rank that failed never leaves the others waiting. */
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  /* The level is replicated: each rank computes a contiguous slice of the terms and the
   * slices are gathered, then summed in node order (the same on every rank). */
  int64_t lo = m * ctx->rank / ctx->size, hi = m * (ctx->rank + 1) / ctx->size;
#pragma omp parallel for schedule(dynamic, 64) num_threads(ctx->nthreads)
  for (int64_t i = lo; i < hi; i++) {
    double dbf = L->bfdist[i];
    double best = dbf > 0.0 ? (s[i] + s[L->bf[i]]) / dbf : INFINITY;
    for (int g = 0; g < G && isfinite(best); g++) {
      db_user u = {s, ids + gstart[g], s[i], gsmax[g], i, best};
      double r = best > 0.0 ? (s[i] + gsmax[g]) / best : INFINITY;
      bfcr_kdtree_radius(kt[g], L->ns + i * w + BFCR_NS_MEAN, r * r, db_visit, &u);
      best = u.best;
    }
    terms[i] = best;
  }
  if (ctx->size > 1) BFCR_CALL(gather_slices(ctx, terms, m));
  double sum = 0.0;
  for (int64_t i = 0; i < m; i++) sum += terms[i];
  *db = sum / (double)m;
cleanup:
  for (int g = 0; g < DB_GROUPS; g++) bfcr_kdtree_free(kt[g]);
  free(cent);
  free(s);
  free(terms);
  free(ids);
  free(order);
  free(gsmax);
  return st;
}

bfcr_status bfcr_tree_metrics(bfcr_ctx *ctx, bfcr_tree *t) {
  bfcr_status st = BFCR_OK;
  int d = t->d, T = t->nlevels - 1;
  int64_t w = bfcr_ns_width(d), n = t->n;
  double *acc = NULL, *tmp = NULL;
  BFCR_CALLOC(ctx, t->info, t->nlevels);
  /* Total sum of squares: the top level's nodes merged in order. */
  double total_ss = 0.0;
  if (T >= 1) {
    BFCR_ALLOC(ctx, acc, w);
    BFCR_ALLOC(ctx, tmp, w);
    memcpy(acc, t->lv[T].ns, (size_t)w * sizeof(double));
    for (int64_t i = 1; i < t->lv[T].m; i++) {
      bfcr_ns_merge(d, acc, t->lv[T].ns + i * w, tmp);
      memcpy(acc, tmp, (size_t)w * sizeof(double));
    }
    total_ss = acc[bfcr_ns_sse(d)];
  }
  for (int l = 0; l <= T; l++) {
    bfcr_level_info *I = &t->info[l];
    const bfcr_level *L = &t->lv[l];
    int64_t k = L->m;
    I->level = l;
    I->clusters = k;
    I->hci = I->ch = I->db = I->bic = I->gcv = NAN;
    if (l == 0) {
      I->min_size = I->max_size = 1;
      I->within_ss = 0.0;
      continue;
    }
    double W = 0.0, loglik_n = 0.0;
    I->min_size = INT64_MAX;
    I->max_size = 0;
    for (int64_t i = 0; i < k; i++) {
      const double *ns = L->ns + i * w;
      int64_t sz = (int64_t)ns[BFCR_NS_N];
      if (sz < I->min_size) I->min_size = sz;
      if (sz > I->max_size) I->max_size = sz;
      W += ns[bfcr_ns_sse(d)];
      loglik_n += (double)sz * log((double)sz / (double)n);
    }
    I->within_ss = W;
    if (k >= 2 && L->bfdist) {
      double h = 0.0;
      for (int64_t i = 0; i < k; i++) {
        double c = L->nchild[i] > 1 ? L->ns[i * w + bfcr_ns_edge(d)] / (double)(L->nchild[i] - 1) : 0.0;
        double dd = L->bfdist[i];
        h += dd + c > 0.0 ? (dd - c) / (dd + c) : 0.0;
      }
      I->hci = h / (double)k;
      BFCR_CALL(davies_bouldin(ctx, L, d, &I->db));
    }
    if (k >= 2 && n > k) {
      double B = total_ss - W;
      I->ch = W > 0.0 ? (B / (double)(k - 1)) / (W / (double)(n - k)) : INFINITY;
    }
    if (W > 0.0) {
      double var = W / ((double)n * d);
      double loglik = loglik_n - 0.5 * (double)n * d * (log(2.0 * 3.14159265358979323846 * var) + 1.0);
      double q = (double)k * d + (double)(k - 1) + 1.0;
      I->bic = -2.0 * loglik + q * log((double)n);
    } else {
      I->bic = -INFINITY;
    }
  }
cleanup:
  free(acc);
  free(tmp);
  return st;
}
