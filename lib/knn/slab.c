/* Slab plans along a principal axis (see slab.h). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <lapacke.h>

#include "knn/slab.h"

typedef struct {
  double t;
  int64_t g;
} slab_key;

static int key_cmp(const void *a, const void *b) {
  const slab_key *x = a, *y = b;
  if (bfcr_slab_key_less(x->t, x->g, y->t, y->g)) return -1;
  return bfcr_slab_key_less(y->t, y->g, x->t, x->g) ? 1 : 0;
}

int bfcr_slab_of(double t, int64_t g, const double *split_t, const int64_t *split_g, int P) {
  int lo = 0, hi = P - 1;
  while (lo < hi) {
    int mid = (lo + hi) / 2;
    if (bfcr_slab_key_less(t, g, split_t[mid], split_g[mid])) {
      hi = mid;
    } else {
      lo = mid + 1;
    }
  }
  return lo;
}

/* Rank 0: principal axis of the S sampled rows X (global indices j * stride) and the P - 1
 * splitters; out = [v (d), split t (P - 1), split g (P - 1)]. */
static bfcr_status axis_and_splitters(bfcr_ctx *ctx, const double *X, int64_t S, int64_t stride,
                                      int d, int P, double *out) {
  bfcr_status st = BFCR_OK;
  double *mu = bfcr_malloc(ctx, (size_t)d, sizeof(double));
  double *C = bfcr_malloc(ctx, (size_t)d * (size_t)d, sizeof(double));
  double *w = bfcr_malloc(ctx, (size_t)d, sizeof(double));
  slab_key *key = bfcr_malloc(ctx, (size_t)(S > 0 ? S : 1), sizeof(slab_key));
  if (!mu || !C || !w || !key) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  double *v = out;
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
  /* Fallback axis: the coordinate of largest variance. */
  int kmax = 0;
  for (int k = 1; k < d; k++) {
    if (C[k * d + k] > C[kmax * d + kmax]) kmax = k;
  }
  int ok = 0;
  if (d > 1 && C[kmax * d + kmax] > 0.0) {
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, C, d, w);
    if (info == 0) {
      double nv = 0.0;
      for (int k = 0; k < d; k++) {
        v[k] = C[k * d + (d - 1)]; /* eigenvalues ascend: the last column */
        nv += v[k] * v[k];
      }
      ok = isfinite(nv) && nv > 0.5;
    }
  }
  if (!ok) {
    for (int k = 0; k < d; k++) v[k] = k == kmax ? 1.0 : 0.0;
  }
  for (int64_t i = 0; i < S; i++) {
    key[i].t = bfcr_slab_proj(X + i * d, v, d);
    key[i].g = i * stride;
  }
  qsort(key, (size_t)S, sizeof(slab_key), key_cmp);
  for (int p = 1; p < P; p++) {
    const slab_key *k = &key[(int64_t)p * S / P];
    out[d + p - 1] = k->t;
    out[d + P - 1 + p - 1] = (double)k->g;
  }
cleanup:
  free(mu);
  free(C);
  free(w);
  free(key);
  return st;
}

bfcr_status bfcr_slab_plan(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local, int64_t offset,
                           int64_t n, const int64_t *off, const int *cnt, int d, double *v,
                           double *split_t, int64_t *split_g, int64_t *bytes) {
  const int P = ctx->size, rank = ctx->rank;
  bfcr_status st = BFCR_OK;
  double *sample = NULL, *samples = NULL, *bc = NULL;
  int *gcnt = NULL, *gdis = NULL;
  MPI_Datatype row_t = MPI_DATATYPE_NULL;
  int64_t target =
      BFCR_SLAB_SAMPLE_TARGET > 64 * (int64_t)P ? BFCR_SLAB_SAMPLE_TARGET : 64 * (int64_t)P;
  const int64_t stride = n / target > 1 ? n / target : 1;
  const int64_t g0 = (offset + stride - 1) / stride * stride;
  const int64_t nsamp = g0 < offset + n_local ? (offset + n_local - 1 - g0) / stride + 1 : 0;
  const int64_t Stot = n > 0 ? (n - 1) / stride + 1 : 0;
  const int nbc = d + 2 * (P - 1) + 1;
  sample = bfcr_malloc(ctx, (size_t)(nsamp > 0 ? nsamp * d : 1), sizeof(double));
  bc = bfcr_malloc(ctx, (size_t)nbc, sizeof(double));
  gcnt = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  gdis = bfcr_malloc(ctx, (size_t)P, sizeof(int));
  if (rank == 0) samples = bfcr_malloc(ctx, (size_t)(Stot > 0 ? Stot * d : 1), sizeof(double));
  if (!sample || !bc || !gcnt || !gdis || (rank == 0 && !samples)) st = BFCR_ERR_NOMEM;
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
  if (rank == 0 && st == BFCR_OK) st = axis_and_splitters(ctx, samples, Stot, stride, d, P, bc);
  if (rank == 0) bc[nbc - 1] = (double)st;
  if (MPI_Bcast(bc, nbc, MPI_DOUBLE, 0, ctx->comm) != MPI_SUCCESS && st == BFCR_OK)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "slabs: MPI_Bcast (axis) failed");
  if (bytes && rank == 0) *bytes += (int64_t)nbc * 8 * (P - 1);
  if (st == BFCR_OK && bc[nbc - 1] != 0.0) st = BFCR_ERR_NOMEM; /* rank 0's message follows */
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  memcpy(v, bc, (size_t)d * sizeof(double));
  for (int p = 0; p + 1 < P; p++) {
    split_t[p] = bc[d + p];
    split_g[p] = (int64_t)bc[d + P - 1 + p];
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
  free(k->v);
  free(k->split_t);
  free(k->split_g);
  free(k->order);
  free(k);
}
