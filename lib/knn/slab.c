/* Recursive bisection of the ranks along principal axes (see slab.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <lapacke.h>

#include "knn/slab.h"

int bfcr_slab_naxes(int P, int d) {
  int depth = 0;
  while (depth < 31 && ((int64_t)1 << depth) < P) depth++;
  int a = depth < d ? depth : d;
  return a < 1 ? 1 : a;
}

void bfcr_slabs_free(bfcr_slabs *s) {
  if (!s) return;
  free(s->V), free(s->split_t), free(s->split_g), free(s->split_a);
  free(s->info), free(s->node), free(s->E), free(s->nv);
  memset(s, 0, sizeof(*s));
}

/* ---- the plan (rank 0) ------------------------------------------------------------------ */

/* A sample key on one axis and the sample slot it came from (qsort has no context). */
typedef struct {
  double t;
  int64_t g;
  int64_t i; /* sample slot */
} slab_key;

static int key_cmp(const void *a, const void *b) {
  const slab_key *x = a, *y = b;
  if (bfcr_slab_key_less(x->t, x->g, y->t, y->g)) return -1;
  return bfcr_slab_key_less(y->t, y->g, x->t, x->g) ? 1 : 0;
}

/* Split the ranks [r0, r1) and the sample slots idx[i0, i1) (T: projections, S x naxes;
 * sample slot i has global index i * stride); the splitters go to out. key: scratch. */
static void bisect(const double *T, int naxes, int64_t stride, int64_t *idx, slab_key *key, int r0,
                   int r1, int64_t i0, int64_t i1, int depth, double *st, double *sg, double *sa) {
  if (r1 - r0 < 2) return;
  const int m = r1 - r0, rm = r0 + m / 2;
  /* The axis along which this node's sample spreads most (ties to the leading axis). */
  int a = depth % naxes;
  if (i1 - i0 >= 2 && naxes > 1) {
    double best = -1.0;
    for (int k = 0; k < naxes; k++) {
      double mu = 0.0, v = 0.0;
      for (int64_t i = i0; i < i1; i++) mu += T[idx[i] * naxes + k];
      mu /= (double)(i1 - i0);
      for (int64_t i = i0; i < i1; i++) {
        const double e = T[idx[i] * naxes + k] - mu;
        v += e * e;
      }
      if (v > best) {
        best = v;
        a = k;
      }
    }
  }
  for (int64_t i = i0; i < i1; i++) {
    key[i].t = T[idx[i] * naxes + a];
    key[i].g = idx[i] * stride;
    key[i].i = idx[i];
  }
  qsort(key + i0, (size_t)(i1 - i0), sizeof(slab_key), key_cmp);
  for (int64_t i = i0; i < i1; i++) idx[i] = key[i].i;
  const int64_t c = i0 + (i1 - i0) * (int64_t)(rm - r0) / m;
  if (c < i1) {
    st[rm - 1] = key[c].t;
    sg[rm - 1] = (double)key[c].g;
  } else { /* no sample in this node: every row goes left (any splitter is exact) */
    st[rm - 1] = INFINITY;
    sg[rm - 1] = 0.0;
  }
  sa[rm - 1] = (double)a;
  bisect(T, naxes, stride, idx, key, r0, rm, i0, c, depth + 1, st, sg, sa);
  bisect(T, naxes, stride, idx, key, rm, r1, c, i1, depth + 1, st, sg, sa);
}

/* Rank 0: the axes of the S sampled rows X (global indices j * stride) and the P - 1
 * splitters; out = [V (naxes x d), split t (P - 1), split g (P - 1), split axis (P - 1)]. */
static bfcr_status axes_and_splitters(bfcr_ctx *ctx, const double *X, int64_t S, int64_t stride,
                                      int d, int P, int naxes, double *out) {
  bfcr_status st = BFCR_OK;
  double *mu = bfcr_malloc(ctx, (size_t)d, sizeof(double));
  double *C = bfcr_malloc(ctx, (size_t)d * (size_t)d, sizeof(double));
  double *w = bfcr_malloc(ctx, (size_t)d, sizeof(double));
  double *T = bfcr_malloc(ctx, (size_t)(S > 0 ? S : 1) * (size_t)naxes, sizeof(double));
  int64_t *idx = bfcr_malloc(ctx, (size_t)(S > 0 ? S : 1), sizeof(int64_t));
  slab_key *key = bfcr_malloc(ctx, (size_t)(S > 0 ? S : 1), sizeof(slab_key));
  if (!mu || !C || !w || !T || !idx || !key) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  double *V = out;
  for (int k = 0; k < d; k++) mu[k] = 0.0;
  for (int64_t i = 0; i < S; i++) {
    for (int k = 0; k < d; k++) mu[k] += X[i * d + k];
  }
  for (int k = 0; k < d; k++) mu[k] /= (double)S;
  memset(C, 0, (size_t)d * (size_t)d * sizeof(double));
  for (int64_t i = 0; i < S; i++) {
    for (int a = 0; a < d; a++) {
      const double xa = X[i * d + a] - mu[a];
      for (int b = a; b < d; b++) C[a * d + b] += xa * (X[i * d + b] - mu[b]);
    }
  }
  /* Fallback axes: the coordinates by decreasing variance (ties to the lower one). */
  int kmax = 0;
  for (int k = 1; k < d; k++) {
    if (C[k * d + k] > C[kmax * d + kmax]) kmax = k;
  }
  for (int k = 0; k < d; k++) w[k] = C[k * d + k];
  int ok = 0;
  if (d > 1 && C[kmax * d + kmax] > 0.0) {
    /* mu (no longer needed) takes the eigenvalues; w keeps the variances. */
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, C, d, mu);
    ok = info == 0;
    for (int a = 0; a < naxes && ok; a++) { /* eigenvalues ascend: the last columns */
      double nv = 0.0;
      for (int k = 0; k < d; k++) {
        V[a * d + k] = C[k * d + (d - 1 - a)];
        nv += V[a * d + k] * V[a * d + k];
      }
      ok = isfinite(nv) && nv > 0.5;
    }
  }
  if (!ok) {
    for (int a = 0; a < naxes; a++) {
      int kb = -1;
      for (int k = 0; k < d; k++) {
        if (w[k] >= 0.0 && (kb < 0 || w[k] > w[kb])) kb = k;
      }
      for (int k = 0; k < d; k++) V[a * d + k] = k == kb ? 1.0 : 0.0;
      w[kb] = -1.0; /* variances are >= 0: taken */
    }
  }
  for (int64_t i = 0; i < S; i++) {
    for (int a = 0; a < naxes; a++) T[i * naxes + a] = bfcr_slab_proj(X + i * d, V + a * d, d);
    idx[i] = i;
  }
  double *ot = out + (int64_t)naxes * d;
  bisect(T, naxes, stride, idx, key, 0, P, 0, S, 0, ot, ot + (P - 1), ot + 2 * (P - 1));
cleanup:
  free(mu);
  free(C);
  free(w);
  free(T);
  free(idx);
  free(key);
  return st;
}

bfcr_status bfcr_slab_plan(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                           int64_t n, const int64_t *off, const int *cnt, int d, bfcr_slabs *s,
                           int64_t *bytes) {
  const int P = ctx->size, rank = ctx->rank;
  bfcr_status st = BFCR_OK;
  double *sample = NULL, *samples = NULL, *bc = NULL;
  int *gcnt = NULL, *gdis = NULL;
  MPI_Datatype row_t = MPI_DATATYPE_NULL;
  memset(s, 0, sizeof(*s));
  s->P = P;
  s->d = d;
  s->naxes = bfcr_slab_naxes(P, d);
  s->W = 3 * s->naxes + 1;
  const int na = s->naxes, P1 = P > 1 ? P - 1 : 1;
  int64_t target =
      BFCR_SLAB_SAMPLE_TARGET > 64 * (int64_t)P ? BFCR_SLAB_SAMPLE_TARGET : 64 * (int64_t)P;
  const int64_t stride = n / target > 1 ? n / target : 1;
  const int64_t g0 = (offset + stride - 1) / stride * stride;
  const int64_t nsamp = g0 < offset + n_local ? (offset + n_local - 1 - g0) / stride + 1 : 0;
  const int64_t Stot = n > 0 ? (n - 1) / stride + 1 : 0;
  const int nbc = na * d + 3 * (P - 1) + 1;
  s->V = bfcr_malloc(ctx, (size_t)na * (size_t)d, sizeof(double));
  s->split_t = bfcr_malloc(ctx, (size_t)P1, sizeof(double));
  s->split_g = bfcr_malloc(ctx, (size_t)P1, sizeof(int64_t));
  s->split_a = bfcr_malloc(ctx, (size_t)P1, sizeof(int));
  s->info = bfcr_malloc(ctx, (size_t)P * (size_t)s->W, sizeof(double));
  s->node = bfcr_malloc(ctx, (size_t)P1 * 2 * (size_t)na, sizeof(double));
  s->E = bfcr_malloc(ctx, (size_t)na, sizeof(double));
  s->nv = bfcr_malloc(ctx, (size_t)na, sizeof(double));
  sample = bfcr_malloc(ctx, (size_t)(nsamp > 0 ? nsamp * d : 1), sizeof(double));
  bc = bfcr_malloc(ctx, (size_t)nbc, sizeof(double));
  gcnt = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  gdis = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  if (rank == 0) samples = bfcr_malloc(ctx, (size_t)(Stot > 0 ? Stot * d : 1), sizeof(double));
  if (!s->V || !s->split_t || !s->split_g || !s->split_a || !s->info || !s->node || !s->E ||
      !s->nv || !sample || !bc || !gcnt || !gdis || (rank == 0 && !samples))
    st = BFCR_ERR_NOMEM;
  if (st == BFCR_OK && Stot > INT_MAX)
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "slabs: sample of %lld rows", (long long)Stot);
  if (st == BFCR_OK && (MPI_Type_contiguous(d, MPI_DOUBLE, &row_t) != MPI_SUCCESS ||
                        MPI_Type_commit(&row_t) != MPI_SUCCESS))
    st = bfcr_err(ctx, BFCR_ERR_MPI, "slabs: MPI_Type_contiguous failed");
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  for (int64_t j = 0; j < nsamp; j++) bfcr_zsrc_row(zs, g0 + j * stride - offset, sample + j * d);
  for (int p = 0; p < P; p++) {
    const int64_t a = (off[p] + stride - 1) / stride * stride, e = off[p] + cnt[p];
    gcnt[p] = a < e ? (int)((e - 1 - a) / stride + 1) : 0;
    gdis[p] = p == 0 ? 0 : gdis[p - 1] + gcnt[p - 1];
  }
  if (MPI_Gatherv(sample, (int)nsamp, row_t, samples, gcnt, gdis, row_t, 0, ctx->comm) !=
      MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "slabs: MPI_Gatherv (sample) failed");
  if (bytes && rank != 0) *bytes += nsamp * d * 8;
  if (rank == 0 && st == BFCR_OK) st = axes_and_splitters(ctx, samples, Stot, stride, d, P, na, bc);
  if (rank == 0) bc[nbc - 1] = (double)st;
  if (MPI_Bcast(bc, nbc, MPI_DOUBLE, 0, ctx->comm) != MPI_SUCCESS && st == BFCR_OK)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "slabs: MPI_Bcast (axes) failed");
  if (bytes && rank == 0) *bytes += (int64_t)nbc * 8 * (P - 1);
  if (st == BFCR_OK && bc[nbc - 1] != 0.0) st = BFCR_ERR_NOMEM; /* rank 0's message follows */
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  memcpy(s->V, bc, (size_t)na * (size_t)d * sizeof(double));
  const double *ot = bc + (int64_t)na * d;
  for (int p = 0; p + 1 < P; p++) {
    s->split_t[p] = ot[p];
    s->split_g[p] = (int64_t)ot[P - 1 + p];
    s->split_a[p] = (int)ot[2 * (P - 1) + p];
  }
cleanup:
  if (row_t != MPI_DATATYPE_NULL) MPI_Type_free(&row_t);
  free(sample);
  free(samples);
  free(bc);
  free(gcnt);
  free(gdis);
  return st;
}

void bfcr_slab_keep_free(bfcr_slab_keep *k) {
  if (!k) return;
  bfcr_slabs_free(&k->plan);
  free(k->order);
  free(k->rows);
  free(k->sg);
  free(k);
}

static uint64_t mix64(uint64_t x) { /* splitmix64's finalizer */
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

uint64_t bfcr_slab_rows_hash(const bfcr_zsrc *zs, int64_t n_local, int64_t off) {
  const int d = zs->d;
  uint64_t h = 0;
  double *row = malloc((size_t)(d > 0 ? d : 1) * sizeof(double));
  if (!row) return ~(uint64_t)0 - (uint64_t)off; /* no match: the caller moves the rows */
  for (int64_t i = 0; i < n_local; i++) {
    bfcr_zsrc_row(zs, i, row);
    for (int k = 0; k < d; k++) {
      uint64_t b;
      memcpy(&b, row + k, sizeof b);
      h ^= mix64(b ^ mix64((uint64_t)(off + i) * (uint64_t)d + (uint64_t)k + 1u));
    }
  }
  free(row);
  return h;
}

bfcr_status bfcr_slabs_copy_plan(const bfcr_slabs *src, bfcr_slabs *dst) {
  const int P = src->P, na = src->naxes, P1 = P > 1 ? P - 1 : 1;
  *dst = *src;
  dst->V = malloc((size_t)na * (size_t)src->d * sizeof(double));
  dst->split_t = malloc((size_t)P1 * sizeof(double));
  dst->split_g = malloc((size_t)P1 * sizeof(int64_t));
  dst->split_a = malloc((size_t)P1 * sizeof(int));
  dst->info = malloc((size_t)P * (size_t)src->W * sizeof(double));
  dst->node = malloc((size_t)P1 * 2 * (size_t)na * sizeof(double));
  dst->E = malloc((size_t)na * sizeof(double));
  dst->nv = malloc((size_t)na * sizeof(double));
  if (!dst->V || !dst->split_t || !dst->split_g || !dst->split_a || !dst->info || !dst->node ||
      !dst->E || !dst->nv) {
    bfcr_slabs_free(dst);
    return BFCR_ERR_NOMEM;
  }
  memcpy(dst->V, src->V, (size_t)na * (size_t)src->d * sizeof(double));
  memcpy(dst->split_t, src->split_t, (size_t)P1 * sizeof(double));
  memcpy(dst->split_g, src->split_g, (size_t)P1 * sizeof(int64_t));
  memcpy(dst->split_a, src->split_a, (size_t)P1 * sizeof(int));
  return BFCR_OK;
}

/* ---- descent ---------------------------------------------------------------------------- */

static double proj_src(const bfcr_zsrc *zs, int64_t i, const double *v, int d) {
  double s = 0.0;
  for (int k = 0; k < d; k++) s += bfcr_zsrc_at(zs, i, k) * v[k];
  return s;
}

static int descend(const bfcr_slabs *s, const double *z, const bfcr_zsrc *zs, int64_t i,
                   int64_t g) {
  int r0 = 0, r1 = s->P;
  while (r1 - r0 > 1) {
    const int rm = r0 + (r1 - r0) / 2;
    const double *v = s->V + (int64_t)s->split_a[rm - 1] * s->d;
    const double t = z ? bfcr_slab_proj(z, v, s->d) : proj_src(zs, i, v, s->d);
    if (bfcr_slab_key_less(t, g, s->split_t[rm - 1], s->split_g[rm - 1])) {
      r1 = rm;
    } else {
      r0 = rm;
    }
  }
  return r0;
}

int bfcr_slab_of(const bfcr_slabs *s, const double *z, int64_t g) {
  return descend(s, z, NULL, 0, g);
}

int bfcr_slab_of_src(const bfcr_slabs *s, const bfcr_zsrc *zs, int64_t i, int64_t g) {
  return descend(s, NULL, zs, i, g);
}

/* ---- ranges ----------------------------------------------------------------------------- */

void bfcr_slab_range_init(const bfcr_slabs *s, double *mine) {
  for (int a = 0; a < s->naxes; a++) {
    mine[3 * a] = INFINITY;
    mine[3 * a + 1] = -INFINITY;
    mine[3 * a + 2] = 0.0;
  }
  mine[s->W - 1] = 0.0;
}

void bfcr_slab_range_add(const bfcr_slabs *s, const double *z, double *mine) {
  for (int a = 0; a < s->naxes; a++) {
    const double *v = s->V + (int64_t)a * s->d;
    const double t = bfcr_slab_proj(z, v, s->d);
    mine[3 * a] = fmin(mine[3 * a], t);
    mine[3 * a + 1] = fmax(mine[3 * a + 1], t);
    mine[3 * a + 2] = fmax(mine[3 * a + 2], bfcr_slab_proj_err(z, v, s->d));
  }
  mine[s->W - 1] += 1.0;
}

void bfcr_slab_range_rows(const bfcr_slabs *s, const double *X, int64_t n, int nt, double *mine) {
  const int W = s->W, d = s->d;
  bfcr_slab_range_init(s, mine);
#pragma omp parallel num_threads(nt) default(none) shared(s, X, n, mine, W, d)
  {
    double part[3 * BFCR_SLAB_MAX_AXES + 1];
    bfcr_slab_range_init(s, part);
#pragma omp for schedule(static)
    for (int64_t k = 0; k < n; k++) bfcr_slab_range_add(s, X + k * d, part);
#pragma omp critical(bfcr_slab_range)
    {
      for (int a = 0; a + 1 < W; a += 3) {
        mine[a] = fmin(mine[a], part[a]);
        mine[a + 1] = fmax(mine[a + 1], part[a + 1]);
        mine[a + 2] = fmax(mine[a + 2], part[a + 2]);
      }
      mine[W - 1] += part[W - 1];
    }
  }
}

/* Union box of the ranks [r0, r1) into the node array; returns it (leaves: from info). */
static void node_box(bfcr_slabs *s, int r0, int r1, double *box) {
  const int na = s->naxes;
  if (r1 - r0 == 1) {
    for (int a = 0; a < na; a++) {
      box[2 * a] = s->info[(int64_t)r0 * s->W + 3 * a];
      box[2 * a + 1] = s->info[(int64_t)r0 * s->W + 3 * a + 1];
    }
    return;
  }
  const int rm = r0 + (r1 - r0) / 2;
  double *nb = s->node + (int64_t)(rm - 1) * 2 * na;
  double lb[2 * BFCR_SLAB_MAX_AXES], rb[2 * BFCR_SLAB_MAX_AXES];
  node_box(s, r0, rm, lb);
  node_box(s, rm, r1, rb);
  for (int a = 0; a < na; a++) {
    nb[2 * a] = fmin(lb[2 * a], rb[2 * a]);
    nb[2 * a + 1] = fmax(lb[2 * a + 1], rb[2 * a + 1]);
  }
  memcpy(box, nb, (size_t)(2 * na) * sizeof(double));
}

bfcr_status bfcr_slab_ranges(bfcr_ctx *ctx, bfcr_slabs *s, const double *mine, int64_t *bytes) {
  if (MPI_Allgather(mine, s->W, MPI_DOUBLE, s->info, s->W, MPI_DOUBLE, ctx->comm) != MPI_SUCCESS)
    return bfcr_err(ctx, BFCR_ERR_MPI, "slabs: MPI_Allgather (cell ranges) failed");
  if (bytes) *bytes += (int64_t)s->W * 8 * (s->P - 1);
  for (int a = 0; a < s->naxes; a++) {
    double E = 0.0;
    for (int p = 0; p < s->P; p++) E = fmax(E, s->info[(int64_t)p * s->W + 3 * a + 2]);
    s->E[a] = E;
    s->nv[a] = bfcr_slab_norm(s->V + (int64_t)a * s->d, s->d);
  }
  double root[2 * BFCR_SLAB_MAX_AXES];
  node_box(s, 0, s->P, root);
  /* gram: Gershgorin on V V^T. The computed dot product G'_ab is within 2 (d + 2) u A_ab of
   * v_a.v_b (A_ab = sum |v_ak v_bk|); taken twice over, and the sum widened. */
  const int na = s->naxes, d = s->d;
  double dev = 0.0;
  for (int a = 0; a < na; a++) {
    double row = 0.0;
    for (int b = 0; b < na; b++) {
      const double *va = s->V + (int64_t)a * d, *vb = s->V + (int64_t)b * d;
      double g = 0.0, A = 0.0;
      for (int k = 0; k < d; k++) {
        g += va[k] * vb[k];
        A += fabs(va[k] * vb[k]);
      }
      row += fabs(g - (a == b ? 1.0 : 0.0)) + 4.0 * (d + 2) * DBL_EPSILON * A;
    }
    dev = fmax(dev, row);
  }
  s->gram = 1.0 + dev * (1.0 + 4.0 * (na + 2) * DBL_EPSILON) + 4.0 * (na + 2) * DBL_EPSILON;
  return BFCR_OK;
}

/* ---- reach ------------------------------------------------------------------------------ */

/* The windows and constants of one reach test. */
typedef struct {
  double lo[BFCR_SLAB_MAX_AXES], hi[BFCR_SLAB_MAX_AXES];
  double t[BFCR_SLAB_MAX_AXES], m[BFCR_SLAB_MAX_AXES]; /* projections, error margins */
  double bound2, slack;
} reach_q;

/* Whether a box (stride 2 or 3 per axis: tmin, tmax) may hold a row of the ball: its
 * ranges meet every window, and the sum of the squared gaps (each a lower bound of
 * |v_a.(x - z)|: rounded down by slack, the errors of both projections subtracted) is at
 * most gram R^2. slack = 8 (d + na + 8) u covers the rounding of every step. */
static int box_meets(const double *box, int stride, const reach_q *q, int na) {
  double S = 0.0;
  for (int a = 0; a < na; a++) {
    const double lo = box[stride * a], hi = box[stride * a + 1];
    if (!(lo <= q->hi[a]) || !(hi >= q->lo[a])) return 0;
    double g = q->t[a] < lo ? lo - q->t[a] : q->t[a] > hi ? q->t[a] - hi : 0.0;
    g = g * (1.0 - q->slack) - q->m[a];
    if (g > 0.0) S += g * g;
  }
  return S * (1.0 - q->slack) <= q->bound2;
}

static void reach_rec(const bfcr_slabs *s, int r0, int r1, const reach_q *q, int home, int *out,
                      int *cnt) {
  const int na = s->naxes;
  if (r1 - r0 == 1) {
    const double *b = s->info + (int64_t)r0 * s->W;
    if (r0 != home && b[s->W - 1] != 0.0 && box_meets(b, 3, q, na)) {
      if (out) out[*cnt] = r0;
      (*cnt)++;
    }
    return;
  }
  const int rm = r0 + (r1 - r0) / 2;
  if (!box_meets(s->node + (int64_t)(rm - 1) * 2 * na, 2, q, na)) return;
  reach_rec(s, r0, rm, q, home, out, cnt);
  reach_rec(s, rm, r1, q, home, out, cnt);
}

int bfcr_slab_reach(const bfcr_slabs *s, const double *z, double r2, int home, int *out) {
  reach_q q;
  const int d = s->d;
  const double grow = bfcr_slab_grow(d);
  q.slack = 8.0 * (d + s->naxes + 8) * DBL_EPSILON;
  for (int a = 0; a < s->naxes; a++) {
    const double *v = s->V + (int64_t)a * d;
    const double e = bfcr_slab_proj_err(z, v, d);
    q.t[a] = bfcr_slab_proj(z, v, d);
    q.m[a] = (e + s->E[a]) * (1.0 + q.slack);
    bfcr_slab_window(q.t[a], e, r2, s->E[a], s->nv[a], grow, d, &q.lo[a], &q.hi[a]);
  }
  /* |x - z|^2 <= (r2 + d 2^-1074) grow (the window's R^2, docs/knn-distributed.md). */
  q.bound2 = s->gram * ((r2 + d * DBL_TRUE_MIN) * grow) * (1.0 + q.slack);
  int cnt = 0;
  reach_rec(s, 0, s->P, &q, home, out, &cnt);
  return cnt;
}

int bfcr_slab_home(const bfcr_slabs *s, const double *z) {
  int h = bfcr_slab_of(s, z, -1);
  if (bfcr_slab_rows(s, h) != 0.0) return h;
  double t[BFCR_SLAB_MAX_AXES];
  for (int a = 0; a < s->naxes; a++) t[a] = bfcr_slab_proj(z, s->V + (int64_t)a * s->d, s->d);
  double best = INFINITY;
  int hb = -1;
  for (int p = 0; p < s->P; p++) {
    if (bfcr_slab_rows(s, p) == 0.0) continue;
    const double *b = s->info + (int64_t)p * s->W;
    double gap2 = 0.0;
    for (int a = 0; a < s->naxes; a++) {
      const double gp = t[a] < b[3 * a]       ? b[3 * a] - t[a]
                        : t[a] > b[3 * a + 1] ? t[a] - b[3 * a + 1]
                                              : 0.0;
      gap2 += gp * gp;
    }
    if (hb < 0 || gap2 < best) {
      best = gap2;
      hb = p;
    }
  }
  return hb < 0 ? h : hb;
}

/* Up to 64 ranks, each ball's reach set is evaluated once, as a bit mask kept in ptr[j + 1]
 * until the list is written (the test costs two projections and a window a ball, and most
 * balls reach no rank: evaluating it twice, to count then to list, was ~0.3 s of CPU a
 * rank at 1M x 8, P = 2). More ranks: counted, then only the balls that reach a rank are
 * listed. The same list either way. */
#define REACH_MASK_P 64

int *bfcr_slab_reach_csr(bfcr_ctx *ctx, bfcr_status *st, const bfcr_slabs *s, const double *Z,
                         const int64_t *idx, const double *r2, int64_t m, int home, int nt,
                         int64_t *ptr, int *cnt) {
  const int d = s->d, P = s->P, masks = P <= REACH_MASK_P;
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(s, Z, idx, r2, m, home, ptr, d, masks)
  for (int64_t j = 0; j < m; j++) {
    int out[REACH_MASK_P];
    const int c = bfcr_slab_reach(s, Z + (idx ? idx[j] : j) * d, r2[j], home, masks ? out : NULL);
    uint64_t b = 0;
    for (int e = 0; masks && e < c; e++) b |= (uint64_t)1 << out[e];
    ptr[j + 1] = masks ? (int64_t)b : c;
  }
  int64_t total = 0;
  for (int64_t j = 0; j < m; j++)
    total += masks ? __builtin_popcountll((uint64_t)ptr[j + 1]) : ptr[j + 1];
  int *list = bfcr_malloc(ctx, total > 0 ? (size_t)total : 1, sizeof(int));
  if (!list) {
    if (*st == BFCR_OK) *st = BFCR_ERR_NOMEM;
    return NULL;
  }
  ptr[0] = 0;
  if (masks) { /* ranks in increasing order: the bits from the lowest */
    for (int64_t j = 0, e = 0; j < m; j++) {
      for (uint64_t b = (uint64_t)ptr[j + 1]; b; b &= b - 1) list[e++] = __builtin_ctzll(b);
      ptr[j + 1] = e;
    }
  } else {
    for (int64_t j = 0; j < m; j++) ptr[j + 1] += ptr[j];
#pragma omp parallel for num_threads(nt) schedule(static) default(none) \
    shared(s, Z, idx, r2, m, home, ptr, list, d)
    for (int64_t j = 0; j < m; j++)
      if (ptr[j + 1] > ptr[j])
        bfcr_slab_reach(s, Z + (idx ? idx[j] : j) * d, r2[j], home, list + ptr[j]);
  }
  for (int p = 0; p < P; p++) cnt[p] = 0;
  for (int64_t e = 0; e < ptr[m]; e++) cnt[list[e]]++;
  return list;
}
