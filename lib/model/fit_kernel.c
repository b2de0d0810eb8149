/* Kernel regressors (KRR, SVR) on the clusters of the chosen level: SPLIT, fit, MERGE.
 *
 * What: after bfcr_fit has chosen the level and fitted the linear models, every cluster
 * with at least min_cluster_size rows (or the only cluster, k = 1) is SPLIT into
 * bfcr_split_pieces(size, cap) contiguous pieces of its rows in dendrogram order (sizes
 * differ by at most one, none above the cap). Each piece gets its own kernel model on
 * its standardized rows and the standardized target (y - mean) / sd of all rows: KRR
 * with width and penalty by GCV (lib/regress/krr.c), or epsilon-SVR with C, width and
 * epsilon by a holdout of the piece's rows (lib/regress/svr.c). Nothing is tuned on
 * other data. Smaller clusters keep their linear model (the ridge/ancestor model that
 * bfcr_fit assigned), the same policy as the linear fit uses for them. The pieces depend
 * only on the cluster sizes and the cap, never on the number of ranks (unlike the
 * paper's SPLIT), so the model is the same for any P and thread count.
 *
 * Distribution (model parallel, MERGE by cost): the units (the pieces, and each small
 * cluster as one linear unit) tile the dendrogram positions 0..n-1 in order. Unit u of
 * estimated cost c_u (unit_cost: KRR bfcr_krr_fit_cost_ns, SVR m^2, as measured) goes to rank
 * floor(P (C_u + c_u / 2) / C), C_u the cost of the units before it and C the total: a
 * non-decreasing map, so each rank owns one contiguous run of units, hence one range of
 * positions. The rows move into dendrogram order (P balanced chunks, as for the linear
 * fit) and each rank fetches its range (one MPI_Alltoallv each; no rank ever holds the
 * whole dataset). Each rank fits its pieces (OpenMP over pieces, dynamic; every fit
 * single-threaded with one BLAS thread), packs them into doubles, and two Allgatherv
 * (sizes, then values) replicate all pieces in piece order. A piece's bits depend only on
 * its rows, so the model and the model file are identical for any P and thread count.
 *
 * In-sample scores: each rank predicts the rows of its range with the assembled model
 * (bfcr_model_apply: each row by its own piece, or its cluster's linear model) and
 * bfcr_score reduces them canonically over the dendrogram positions.
 *
 * Cost: per KRR piece of m rows, h_steps tridiagonal reductions (about 9 x 4/3 m^3 flops)
 * and about 2 m^2 doubles per concurrent fit (64 MB at m = 2000); SVR one SMO solve per
 * grid point (24). Traffic: about 2 n (d + 1) doubles to place and fetch the rows, plus
 * the pieces (KRR: about n (d + 1) doubles) gathered on every rank. */
#include "model/fit_kernel.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model/predict_impl.h"
#include "model/standardize.h"
#include "par/redistribute.h"
#include "regress/krr.h"
#include "regress/svr.h"

/* A run of positions fitted as one model: a kernel piece, or a small cluster (linear). */
typedef struct kunit {
  int64_t cluster, first, n;
  int64_t piece; /* global piece index, -1 for a linear unit */
} kunit;

/* Per piece record in the exchange: m, width, penalty, epsilon, bias, score, mean_y,
 * sd_y, then center[d], rows[m * d], coef[m]. */
#define KREC_HEAD 8

static int64_t rec_len(int64_t m, int d) {
  return KREC_HEAD + d + m * (d + 1);
}

/* Positions [first, end) of cluster c at level l (level 0: a sample, only when n = 1). */
static void cluster_range(const bfcr_tree *t, int l, int64_t c, int64_t *first, int64_t *end) {
  *first = l == 0 ? c : t->lv[l].start[c];
  *end = l == 0 ? c + 1 : t->lv[l].start[c + 1];
}

/* Units of the chosen level in position order; returns the count, pieces in *npieces. */
static int64_t make_units(const bfcr_tree *t, const bfcr_model *m, int64_t cap, kunit *u,
                          int64_t *npieces) {
  int64_t nu = 0, np = 0;
  for (int64_t c = 0; c < m->k; c++) {
    int64_t a, b;
    cluster_range(t, m->chosen, c, &a, &b);
    int64_t size = b - a;
    if (m->k > 1 && size < m->params.min_cluster_size) {
      if (u) u[nu] = (kunit){c, a, size, -1};
      nu++;
      continue;
    }
    int64_t k = bfcr_split_pieces(size, cap);
    for (int64_t j = 0; j < k; j++) {
      if (u) {
        int64_t s0 = bfcr_split_start(size, k, j), s1 = bfcr_split_start(size, k, j + 1);
        u[nu] = (kunit){c, a + s0, s1 - s0, np};
      }
      nu++;
      np++;
    }
  }
  *npieces = np;
  return nu;
}

/* Estimated fit time of a unit, in about nanoseconds (measured with one BLAS thread on
 * this project's 2-core machine): KRR bfcr_krr_fit_cost_ns (at d = 8: only the ratios
 * between units matter here, and d moves them little); SVR (SMO solves) about 1000 n^2.
 * A linear unit costs nothing to speak of (n). */
static double unit_cost(const kunit *u, int reg) {
  double s = (double)u->n;
  if (u->piece < 0) return s;
  return reg == BFCR_REG_KRR ? bfcr_krr_fit_cost_ns(s, 8) : 1000.0 * s * s;
}

/* Contiguous run [u0, u1) of units owned by rank r (cost-balanced, see the top). */
static void unit_run(const kunit *u, int64_t nu, int reg, int P, int r, int64_t *u0, int64_t *u1) {
  double total = 0.0, before = 0.0;
  for (int64_t i = 0; i < nu; i++) total += unit_cost(&u[i], reg);
  *u0 = nu;
  *u1 = nu;
  int found = 0;
  for (int64_t i = 0; i < nu; i++) {
    double c = unit_cost(&u[i], reg);
    int owner = total > 0.0 ? (int)floor((double)P * (before + 0.5 * c) / total) : 0;
    if (owner > P - 1) owner = P - 1;
    before += c;
    if (owner >= r && !found) {
      *u0 = i;
      found = 1;
    }
    if (owner > r) {
      *u1 = i;
      break;
    }
  }
  if (*u1 < *u0) *u1 = *u0;
}

/* Fit one piece and write its record (rows: m x (d + 1), z then the standardized y). */
typedef struct kfit {
  bfcr_krr_model krr;
  bfcr_svr_model svr;
} kfit;

static bfcr_status fit_piece(int reg, const double *rows, const double *ys, int64_t m, int d,
                             int64_t cap, kfit *f) {
  if (reg == BFCR_REG_KRR) {
    bfcr_krr_params kp;
    bfcr_krr_params_init(&kp);
    kp.max_rows = cap;
    return bfcr_krr_fit(rows, d + 1, ys, m, d, &kp, &f->krr);
  }
  bfcr_svr_params sp;
  bfcr_svr_params_init(&sp);
  sp.max_rows = cap;
  return bfcr_svr_fit(rows, d + 1, ys, m, d, &sp, &f->svr);
}

/* Number of stored rows of a fitted piece. */
static int64_t piece_rows(int reg, const kfit *f) {
  return reg == BFCR_REG_KRR ? f->krr.n : f->svr.nsv;
}

/* Record of a fitted piece (rows: the piece's training rows, stride d + 1, for the SVR
 * center). */
static bfcr_status pack_piece(int reg, const kfit *f, const double *rows, int64_t n, int d,
                              double *rec) {
  double *head = rec, *center = rec + KREC_HEAD;
  int64_t m = piece_rows(reg, f);
  double *R = center + d, *coef = R + m * d;
  head[0] = (double)m;
  if (reg == BFCR_REG_KRR) {
    const bfcr_krr_model *k = &f->krr;
    head[1] = k->h;
    head[2] = k->lambda;
    head[3] = 0.0;
    head[4] = 0.0;
    head[5] = k->gcv;
    head[6] = k->mean_y;
    head[7] = 1.0;
    memcpy(center, k->center, (size_t)d * sizeof(double));
    memcpy(R, k->X, (size_t)(m * d) * sizeof(double));
    memcpy(coef, k->alpha, (size_t)m * sizeof(double));
    return BFCR_OK;
  }
  const bfcr_svr_model *s = &f->svr;
  head[1] = s->gamma;
  head[2] = s->C;
  head[3] = s->epsilon;
  head[5] = s->val_rmse;
  head[6] = s->mean_y;
  head[7] = s->sd_y;
  /* Center: column means in row order (as bfcr_krr_fit computes its own). */
  for (int j = 0; j < d; j++) center[j] = 0.0;
  for (int64_t i = 0; i < n; i++)
    for (int j = 0; j < d; j++) center[j] += rows[i * (d + 1) + j];
  for (int j = 0; j < d; j++) center[j] /= (double)n;
  return bfcr_svr_export(s, R, coef, &head[4]);
}

static void free_fit(kfit *f) {
  bfcr_krr_free(&f->krr);
  bfcr_svr_free(&f->svr);
}

/* Every piece's record (all, in piece order, with lengths len) into the model. */
static bfcr_status unpack(bfcr_ctx *ctx, const kunit *u, int64_t nu, int64_t np, const double *all,
                          const int64_t *len, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int d = m->d;
  int64_t rows = 0;
  for (int64_t q = 0; q < np; q++) rows += len[q] == 0 ? 0 : (len[q] - KREC_HEAD - d) / (d + 1);
  BFCR_CALLOC(ctx, m->kp, np > 0 ? np : 1);
  BFCR_ALLOC(ctx, m->kcenter, np * d);
  BFCR_ALLOC(ctx, m->krows, rows > 0 ? rows * d : 1);
  BFCR_ALLOC(ctx, m->kcoef, rows > 0 ? rows : 1);
  m->npieces = np;
  m->nkrows = rows;
  const double *rec = all;
  int64_t off = 0;
  for (int64_t i = 0; i < nu; i++) {
    if (u[i].piece < 0) continue;
    int64_t q = u[i].piece, mm = (int64_t)rec[0];
    bfcr_kernel_piece *p = &m->kp[q];
    p->cluster = u[i].cluster;
    p->first = u[i].first;
    p->n = u[i].n;
    p->m = mm;
    p->off = off;
    p->width = rec[1];
    p->penalty = rec[2];
    p->epsilon = rec[3];
    p->bias = rec[4];
    p->score = rec[5];
    p->mean_y = rec[6];
    p->sd_y = rec[7];
    memcpy(m->kcenter + q * d, rec + KREC_HEAD, (size_t)d * sizeof(double));
    memcpy(m->krows + off * d, rec + KREC_HEAD + d, (size_t)(mm * d) * sizeof(double));
    memcpy(m->kcoef + off, rec + KREC_HEAD + d + mm * d, (size_t)mm * sizeof(double));
    off += mm;
    rec += len[q];
  }
cleanup:
  return st;
}

bfcr_status bfcr_fit_kernel(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                            bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  int reg = (int)m->params.regressor;
  if (!bfcr_is_kernel_regressor(reg)) { /* every rank has the same parameters */
    m->params.kernel_cap = 0;
    return BFCR_OK;
  }
  if (m->params.kernel_cap == 0) m->params.kernel_cap = BFCR_KERNEL_CAP_DEFAULT;
  int d = m->d, P = ctx->size, agreed = 0;
  int64_t cap = m->params.kernel_cap, n = t->n, nl = t->n_local, np = 0, nu, u0 = 0, u1 = 0;
  int64_t blo = bfcr_block_lo(n, P, ctx->rank), bhi = bfcr_block_lo(n, P, ctx->rank + 1);
  kunit *u = NULL;
  kfit *fits = NULL;
  bfcr_status *ust = NULL;
  double *rows = NULL, *ext = NULL, *ys = NULL, *mine = NULL, *all = NULL;
  double *yhat = NULL, *ytrue = NULL;
  int64_t *mylen = NULL, *len = NULL, *lab = NULL, *piece = NULL, *ordall = NULL;
  double t0 = bfcr_wtime();

  nu = make_units(t, m, cap, NULL, &np);
  BFCR_ALLOC(ctx, u, nu);
  make_units(t, m, cap, u, &np);
  unit_run(u, nu, reg, P, ctx->rank, &u0, &u1);
  int64_t plo = u1 > u0 ? u[u0].first : 0, phi = u1 > u0 ? u[u1 - 1].first + u[u1 - 1].n : 0;
  int64_t q0 = 0, q1 = 0; /* my pieces [q0, q1) */
  for (int64_t i = 0; i < u0; i++) q0 += u[i].piece >= 0;
  q1 = q0;
  for (int64_t i = u0; i < u1; i++) q1 += u[i].piece >= 0;

  /* Target standardization (the kernel fits see a unit-scale target; any scale of y
   * gives the same choices). Collective; meet a rank that failed above first. */
  BFCR_CALL_AGREED(bfcr_agree(ctx, BFCR_OK));
  BFCR_CALL_AGREED(bfcr_agree(
      ctx, bfcr_standardize_cols(ctx, y, nl, 1, n, t->offset, &m->ky_mean, &m->ky_scale)));

  /* Rows (z, y) into dendrogram order, then this rank's range of positions. */
  bfcr_zy_rows zy = {*zs, y};
  BFCR_CALL_AGREED(bfcr_tree_rows_to_dendro(ctx, t, d + 1, bfcr_pack_zy, &zy, &rows));
  BFCR_CALL_AGREED(bfcr_fetch_rows(ctx, rows, d + 1, blo, bhi, plo, phi, &ext));
  free(rows);
  rows = NULL;
  bfcr_phase_add(ctx, "kernel rows", bfcr_wtime() - t0, 0.0);
  {
    double loc = 0.0, mx = 0.0, tot = 0.0;
    for (int64_t i = u0; i < u1; i++) loc += unit_cost(&u[i], reg);
    if (MPI_Allreduce(&loc, &mx, 1, MPI_DOUBLE, MPI_MAX, ctx->comm) == MPI_SUCCESS &&
        MPI_Allreduce(&loc, &tot, 1, MPI_DOUBLE, MPI_SUM, ctx->comm) == MPI_SUCCESS &&
        ctx->rank == 0)
      bfcr_log(ctx, BFCR_LOG_INFO,
               "%s: %lld pieces of at most %lld rows over %lld clusters (%lld small clusters "
               "keep their linear model); %d ranks, cost per rank max/mean %.2f",
               reg == BFCR_REG_KRR ? "krr" : "svr", (long long)np, (long long)cap, (long long)m->k,
               (long long)(nu - np), P, tot > 0 ? mx / (tot / P) : 1.0);
  }

  /* Fit my pieces. */
  t0 = bfcr_wtime();
  int64_t nmy = u1 - u0, nr = phi - plo;
  BFCR_ALLOC(ctx, ys, nr > 0 ? nr : 1);
  for (int64_t p = 0; p < nr; p++) ys[p] = (ext[p * (d + 1) + d] - m->ky_mean) / m->ky_scale;
  BFCR_CALLOC(ctx, fits, nmy > 0 ? nmy : 1);
  BFCR_CALLOC(ctx, ust, nmy > 0 ? nmy : 1);
#pragma omp parallel for schedule(dynamic, 1) num_threads(ctx->nthreads)
  for (int64_t i = u0; i < u1; i++) {
    if (u[i].piece < 0) continue;
    int64_t a = u[i].first - plo;
    ust[i - u0] = fit_piece(reg, ext + a * (d + 1), ys + a, u[i].n, d, cap, &fits[i - u0]);
  }
  for (int64_t i = u0; i < u1; i++)
    if (ust[i - u0] != BFCR_OK) {
      st = bfcr_err(ctx, ust[i - u0], "%s fit failed on piece %lld (cluster %lld, %lld rows): %s",
                    reg == BFCR_REG_KRR ? "kernel ridge" : "SVR", (long long)u[i].piece,
                    (long long)u[i].cluster, (long long)u[i].n, bfcr_status_name(ust[i - u0]));
      goto cleanup;
    }

  /* Pack my pieces, replicate every piece on every rank (piece order = rank order). */
  int64_t ntot = 0;
  BFCR_ALLOC(ctx, mylen, q1 > q0 ? q1 - q0 : 1);
  for (int64_t i = u0; i < u1; i++)
    if (u[i].piece >= 0) {
      mylen[u[i].piece - q0] = rec_len(piece_rows(reg, &fits[i - u0]), d);
      ntot += mylen[u[i].piece - q0];
    }
  BFCR_ALLOC(ctx, mine, ntot > 0 ? ntot : 1);
  {
    double *rec = mine;
    for (int64_t i = u0; i < u1; i++) {
      if (u[i].piece < 0) continue;
      const double *r = ext + (u[i].first - plo) * (d + 1);
      BFCR_CALL(pack_piece(reg, &fits[i - u0], r, u[i].n, d, rec));
      rec += mylen[u[i].piece - q0];
    }
  }
  for (int64_t i = 0; i < nmy; i++) free_fit(&fits[i]);
  bfcr_phase_add(ctx, "kernel fit", bfcr_wtime() - t0, 0.0);
  t0 = bfcr_wtime();
  BFCR_ALLOC(ctx, len, np > 0 ? np : 1);
  BFCR_CALL_AGREED(bfcr_allgather_items(ctx, mylen, q1 - q0, sizeof(int64_t), len));
  int64_t total = 0;
  for (int64_t q = 0; q < np; q++) total += len[q];
  BFCR_ALLOC(ctx, all, total > 0 ? total : 1);
  BFCR_CALL_AGREED(bfcr_allgather_items(ctx, mine, ntot, sizeof(double), all));
  free(mine);
  mine = NULL;
  BFCR_CALL(unpack(ctx, u, nu, np, all, len, m));
  free(all);
  all = NULL;
  if (m->train_z && m->n_train == n) { /* routing by sample: the piece of each kept row */
    BFCR_ALLOC(ctx, m->train_piece, n);
    const int64_t *ord = t->order; /* several ranks: gathered for this step only */
    if (!ord) BFCR_CALL_AGREED(bfcr_tree_order_all(ctx, t, &ordall));
    if (!ord) ord = ordall;
    for (int64_t i = 0; i < nu; i++)
      for (int64_t p = u[i].first; p < u[i].first + u[i].n; p++)
        m->train_piece[ord[p]] = u[i].piece;
    free(ordall);
    ordall = NULL;
  }

  /* In-sample predictions of my range, scored over the dendrogram positions. */
  BFCR_ALLOC(ctx, lab, nr > 0 ? nr : 1);
  BFCR_ALLOC(ctx, piece, nr > 0 ? nr : 1);
  BFCR_ALLOC(ctx, yhat, nr > 0 ? nr : 1);
  BFCR_ALLOC(ctx, ytrue, nr > 0 ? nr : 1);
  for (int64_t i = u0; i < u1; i++)
    for (int64_t p = u[i].first; p < u[i].first + u[i].n; p++) {
      lab[p - plo] = u[i].cluster;
      piece[p - plo] = u[i].piece;
    }
  for (int64_t p = 0; p < nr; p++) ytrue[p] = ext[p * (d + 1) + d];
  BFCR_CALL(bfcr_model_apply(ctx, m, ext, d + 1, nr, lab, piece, yhat));
  BFCR_CALL_AGREED(bfcr_agree(ctx, BFCR_OK));
  BFCR_CALL_AGREED(bfcr_score(ctx, ytrue, yhat, nr, &m->train_rmse, &m->train_mae, &m->train_r2));
  bfcr_phase_add(ctx, "kernel gather+score", bfcr_wtime() - t0, 0.0);
cleanup:
  if (fits)
    for (int64_t i = 0; i < u1 - u0; i++) free_fit(&fits[i]);
  free(u);
  free(fits);
  free(ust);
  free(rows);
  free(ext);
  free(ys);
  free(mine);
  free(all);
  free(yhat);
  free(ytrue);
  free(mylen);
  free(len);
  free(lab);
  free(piece);
  free(ordall);
  if (!agreed) st = bfcr_agree(ctx, st);
  return st;
}
