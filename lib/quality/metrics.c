/* Quality metrics of every level, all exact from the node summaries (DESIGN.md 3):
 *
 * HCI (the paper's index): for cluster i, c_i = mean weight of the best-friend edges
 *   among its children (|E_i| = children - 1), d_i = distance from its centroid to the
 *   nearest other centroid (its own best-friend distance as an item of its level);
 *   HCI = mean_i (d_i - c_i) / (d_i + c_i), a term being 0 when d_i = c_i = 0.
 * Calinski-Harabasz = [B / (k - 1)] / [W / (n - k)], W = sum of the clusters' SSE,
 *   B = total SS - W (+inf when W = 0).
 * Davies-Bouldin with RMS scatter s_i = sqrt(SSE_i / n_i):
 *   DB = mean_i max_{j != i} (s_i + s_j) / |mu_i - mu_j|. The max is found exactly on
 *   one kd-tree of the level's centroids whose nodes carry their largest scatter
 *   (bfcr_kdtree_max_ratio): starting from the best friend's ratio R_i, a node is
 *   skipped when (s_i + its largest s) / (distance bound) cannot exceed R_i. Measured
 *   on 1M x 8 blobs (level 1: 227k clusters, 1 thread): 2.4 CPU s against 2.6 for the
 *   former radius search with one largest scatter per 8 groups by scatter, and 8 such
 *   groups on top of the node maxima were slower still. The cost is verification: a
 *   walk started from the final maximum costs the same (~100 leaves per cluster).
 * BIC of hard-assignment spherical Gaussians with one shared variance
 *   sigma^2 = W / (n d): -2 log L + q ln n, log L = sum_i n_i ln(n_i / n)
 *   - (n d / 2)(ln(2 pi sigma^2) + 1), q = k d + (k - 1) + 1. Lower is better.
 * Metrics that need two or more clusters are NaN on the top level and on level 0.
 * Sums run over nodes in dendrogram order, sequentially: every rank computes the same.
 * A level held in pieces (several ranks, bfcr_level.held) sends each node's two terms (SSE, HCI
 * term, computed by its owner with the same expressions) to rank 0, which sums them in the same
 * order and broadcasts the two sums: the same bits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "tree/tree.h"

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

bfcr_status bfcr_level_db_terms(bfcr_ctx *ctx, const bfcr_level *L, int d, const bfcr_kdtree *kt_in,
                                double *terms) {
  bfcr_status st = BFCR_OK;
  int64_t m = L->m, w = bfcr_ns_width(d);
  double *cent = NULL, *s = NULL, *tterms = NULL, *smax = NULL;
  bfcr_kdtree *own = NULL;
  const bfcr_kdtree *kt = kt_in;
  cent = kt ? NULL : malloc((size_t)(m * d) * sizeof *cent);
  s = malloc((size_t)m * sizeof *s);
  tterms = malloc((size_t)m * sizeof *tterms);
  if ((!kt && !cent) || !s || !tterms) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for Davies-Bouldin on %lld clusters",
                  (long long)m);
  }
  for (int64_t i = 0; st == BFCR_OK && i < m; i++) {
    const double *ns = L->ns + i * w;
    s[i] = sqrt(ns[bfcr_ns_sse(d)] / ns[BFCR_NS_N]);
    if (cent) memcpy(cent + i * d, ns + BFCR_NS_MEAN, (size_t)d * sizeof(double));
  }
  if (st == BFCR_OK) {
    if (!kt) {
      st = bfcr_kdtree_build(cent, m, d, ctx->nthreads, &own);
      kt = own;
    }
    if (st == BFCR_OK) {
      smax = malloc((size_t)bfcr_kdtree_nnodes(kt) * sizeof *smax);
      st = smax ? bfcr_kdtree_node_max(kt, s, smax) : BFCR_ERR_NOMEM;
    }
    if (st != BFCR_OK) bfcr_err(ctx, st, "kd-tree build failed (Davies-Bouldin)");
  }
  /* Ranks agree before the gather, so a rank that failed never leaves the others waiting. */
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  /* The level is replicated: each rank computes a contiguous slice of the terms, in
   * kd-tree order (neighbouring queries walk the same nodes while they are in cache),
   * the slices are gathered and put back in item order. The centroid of item i is the
   * tree's row i (kdtree_rows in caller order), which is what the walk reads. */
  const int64_t *order = bfcr_kdtree_order(kt);
  const double *rows = bfcr_kdtree_rows(kt);
  int64_t lo = m * ctx->rank / ctx->size, hi = m * (ctx->rank + 1) / ctx->size;
  int failed = 0;
#pragma omp parallel num_threads(ctx->nthreads) default(none) \
    shared(L, s, smax, rows, tterms, kt, order, d, lo, hi, failed)
  {
    double *work = malloc((size_t)d * 5 * sizeof *work);
    if (!work) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 64)
    for (int64_t p = lo; p < hi; p++) {
      if (!work) continue;
      const int64_t i = order[p];
      double dbf = L->bfdist[i];
      double best = dbf > 0.0 ? (s[i] + s[L->bf[i]]) / dbf : INFINITY;
      tterms[p] = bfcr_kdtree_max_ratio(kt, s, smax, rows + p * d, s[i], i, best, work);
    }
    free(work);
  }
  if (failed) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for Davies-Bouldin work buffers");
  if (ctx->size > 1) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (ctx->size > 1) BFCR_CALL(gather_slices(ctx, tterms, m));
  for (int64_t p = 0; p < m; p++) terms[order[p]] = tterms[p];
cleanup:
  bfcr_kdtree_free(own);
  free(cent);
  free(s);
  free(tterms);
  free(smax);
  return st;
}

/* Level l with its summaries and distances held for the nodes [ns_lo, ns_hi) over this
 * rank's block: each rank sends the terms of the nodes it owns (bfcr_tree_owned_nodes: runs
 * tiling [0, m) in rank order). *W = sum of the SSEs, *h = sum of the HCI terms, both
 * sequential in node order. Collective, agreed. */
static bfcr_status held_sums(bfcr_ctx *ctx, const bfcr_tree *t, int l, double *W, double *h) {
  bfcr_status st = BFCR_OK;
  const bfcr_level *L = &t->lv[l];
  const int d = t->d, P = ctx->size;
  const int64_t w = bfcr_ns_width(d), m = L->m;
  int64_t lo, hi;
  bfcr_tree_owned_nodes(t, l, P, ctx->rank, &lo, &hi);
  const int64_t nl = hi - lo;
  double *mine = NULL, *all = NULL, sums[2] = {0.0, 0.0};
  int *counts = NULL, *displs = NULL;
  mine = malloc((size_t)(nl > 0 ? 2 * nl : 1) * sizeof *mine);
  counts = malloc((size_t)P * sizeof *counts);
  displs = malloc((size_t)P * sizeof *displs);
  all = ctx->rank == 0 ? malloc((size_t)(2 * m) * sizeof *all) : NULL;
  st = mine && counts && displs && (ctx->rank != 0 || all) ? BFCR_OK : BFCR_ERR_NOMEM;
  if (st == BFCR_OK && 2 * m > INT32_MAX)
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "level of %lld nodes too large to sum", (long long)m);
  else if (st != BFCR_OK)
    bfcr_err(ctx, st, "out of memory for the metrics of %lld clusters", (long long)m);
  BFCR_CALL(bfcr_agree(ctx, st));
  for (int64_t i = 0; i < nl; i++) {
    const double *ns = L->ns + (lo + i - L->ns_lo) * w;
    const int64_t nc = L->nchild[lo + i];
    double c = nc > 1 ? ns[bfcr_ns_edge(d)] / (double)(nc - 1) : 0.0;
    double dd = L->bfdist[lo + i - L->ns_lo];
    mine[2 * i] = ns[bfcr_ns_sse(d)];
    mine[2 * i + 1] = dd + c > 0.0 ? (dd - c) / (dd + c) : 0.0;
  }
  for (int r = 0; r < P; r++) {
    int64_t a, b;
    bfcr_tree_owned_nodes(t, l, P, r, &a, &b);
    displs[r] = (int)(2 * a);
    counts[r] = (int)(2 * (b - a));
  }
  BFCR_CHECK(ctx,
             MPI_Gatherv(mine, (int)(2 * nl), MPI_DOUBLE, all, counts, displs, MPI_DOUBLE, 0,
                         ctx->comm) == MPI_SUCCESS,
             BFCR_ERR_MPI, "MPI_Gatherv of level-%d metric terms failed", l);
  if (ctx->rank == 0) {
    for (int64_t i = 0; i < m; i++) sums[0] += all[2 * i];
    for (int64_t i = 0; i < m; i++) sums[1] += all[2 * i + 1];
  }
  BFCR_CHECK(ctx, MPI_Bcast(sums, 2, MPI_DOUBLE, 0, ctx->comm) == MPI_SUCCESS, BFCR_ERR_MPI,
             "MPI_Bcast of level-%d metric sums failed", l);
  *W = sums[0];
  *h = sums[1];
cleanup:
  free(mine);
  free(all);
  free(counts);
  free(displs);
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
    double W = 0.0, loglik_n = 0.0, hheld = 0.0;
    const int held = L->held; /* summaries in node blocks */
    if (held) BFCR_CALL(held_sums(ctx, t, l, &W, &hheld));
    I->min_size = INT64_MAX;
    I->max_size = 0;
    for (int64_t i = 0; i < k; i++) {
      /* a held level's sizes are its sample ranges */
      int64_t sz = held ? L->start[i + 1] - L->start[i] : (int64_t)L->ns[i * w + BFCR_NS_N];
      if (sz < I->min_size) I->min_size = sz;
      if (sz > I->max_size) I->max_size = sz;
      if (!held) W += L->ns[i * w + bfcr_ns_sse(d)];
      loglik_n += (double)sz * log((double)sz / (double)n);
    }
    I->within_ss = W;
    if (k >= 2 && (L->bfdist || held)) {
      double h = hheld;
      for (int64_t i = 0; !held && i < k; i++) {
        double c =
            L->nchild[i] > 1 ? L->ns[i * w + bfcr_ns_edge(d)] / (double)(L->nchild[i] - 1) : 0.0;
        double dd = L->bfdist[i];
        h += dd + c > 0.0 ? (dd - c) / (dd + c) : 0.0;
      }
      I->hci = h / (double)k;
      if (t->skip_db) I->skipped |= BFCR_METRIC_DB; /* not needed: left NaN */
      if (L->dbterm) { /* terms from the level's build, now in dendrogram order */
        double sum = 0.0;
        for (int64_t i = 0; i < k; i++) sum += L->dbterm[i];
        I->db = sum / (double)k;
      }
    }
    if (k >= 2 && n > k) {
      double B = total_ss - W;
      I->ch = W > 0.0 ? (B / (double)(k - 1)) / (W / (double)(n - k)) : INFINITY;
    }
    if (W > 0.0) {
      double var = W / ((double)n * d);
      double loglik =
          loglik_n - 0.5 * (double)n * d * (log(2.0 * 3.14159265358979323846 * var) + 1.0);
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
