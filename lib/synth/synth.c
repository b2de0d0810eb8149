/* Seeded synthetic "blob" data: clustered features with a piecewise-linear target.
 *
 * What: cluster c (0 <= c < clusters) has centre mu_c ~ N(0, spread^2 I_d), slope
 * beta_c ~ N(0, I_d) and intercept b_c ~ N(0, offset^2), drawn from the stream
 * (seed, PARAMS, c). Row i draws from the stream (seed, ROWS, i), in this order: its
 * cluster c uniform on [0, clusters) (gsl_rng_uniform_int), e ~ N(0, width^2 I_d)
 * (d ziggurat normals), eps ~ N(0, noise^2); then x = mu_c + e and
 * y = sum_j e_j beta_cj (j ascending) + b_c + eps.
 *
 * Why per-row streams: row i is a pure function of (parameters, seed, i), so any
 * split of rows over ranks, threads or chunks gives bit-identical rows, a weak-scaling
 * run at P ranks sees the first n rows of the same sequence as every other run, and
 * rows beyond n continue the same distribution (a held-out set). Rows do not depend
 * on n at all.
 *
 * Cost: O(clusters * d) to draw the cluster parameters per call, then O(d) per row
 * (d + 1 ziggurat normals and one bounded integer); no allocation per row. */
#include "synth/synth_impl.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctx.h"
#include "io/schema.h"
#include "synth/stream.h"

/* Rows per OpenMP work item: large enough to amortize scheduling, small for balance. */
#define SYNTH_CHUNK 4096

void bfcr_synth_params_init(bfcr_synth_params *p) {
  if (!p) return;
  p->n = 100000;
  p->d = 8;
  p->clusters = 16;
  p->spread = 10.0;
  p->width = 1.5;
  p->noise = 0.5;
  p->offset = 5.0;
  p->seed = 1;
  p->latent_dim = 0;
  p->latent_noise = 0.05;
}

static int bad_scale(double v) {
  return !isfinite(v) || v < 0.0;
}

bfcr_status bfcr_synth_check(const bfcr_synth_params *p, char *msg, size_t len) {
  const char *what = NULL;
  char buf[160];
  if (!p) {
    what = "synthetic parameters are NULL";
  } else if (p->n < 0) {
    snprintf(buf, sizeof buf, "synthetic n must be >= 0, got %lld", (long long)p->n);
    what = buf;
  } else if (p->d < 1) {
    snprintf(buf, sizeof buf, "synthetic d must be >= 1, got %d", p->d);
    what = buf;
  } else if (p->clusters < 1) {
    snprintf(buf, sizeof buf, "synthetic clusters must be >= 1, got %d", p->clusters);
    what = buf;
  } else if (bad_scale(p->spread) || bad_scale(p->width) || bad_scale(p->noise) ||
             bad_scale(p->offset)) {
    snprintf(buf, sizeof buf,
             "synthetic spread, width, noise and offset must be finite and >= 0, got %g, %g, "
             "%g, %g",
             p->spread, p->width, p->noise, p->offset);
    what = buf;
  } else if (p->latent_dim < 0 || p->latent_dim > p->d || bad_scale(p->latent_noise)) {
    snprintf(buf, sizeof buf,
             "synthetic latent dimension must be in [0, d = %d] and its noise finite and >= 0, "
             "got %d and %g",
             p->d, p->latent_dim, p->latent_noise);
    what = buf;
  } else if ((uint64_t)p->clusters * (uint64_t)p->d > (UINT64_C(1) << 32)) {
    snprintf(buf, sizeof buf, "synthetic clusters * d must be <= 2^32, got %d * %d", p->clusters,
             p->d);
    what = buf;
  }
  if (!what) return BFCR_OK;
  if (msg && len) snprintf(msg, len, "%s", what);
  return BFCR_ERR_ARG;
}

bfcr_status bfcr_synth_model_init(bfcr_synth_model *m, const bfcr_synth_params *p) {
  memset(m, 0, sizeof *m);
  m->p = *p;
  const int k = p->latent_dim > 0 ? p->latent_dim : p->d; /* dimension of centres, slopes */
  size_t cd = (size_t)p->clusters * (size_t)k;
  m->centre = malloc(cd * sizeof(double));
  m->beta = malloc(cd * sizeof(double));
  m->b = malloc((size_t)p->clusters * sizeof(double));
  if (p->latent_dim > 0) m->A = malloc((size_t)p->d * (size_t)k * sizeof(double));
  if (!m->centre || !m->beta || !m->b || (p->latent_dim > 0 && !m->A)) {
    bfcr_synth_model_free(m);
    return BFCR_ERR_NOMEM;
  }
  for (int c = 0; c < p->clusters; c++) {
    bfcr_stream s;
    bfcr_stream_open(&s, p->seed, BFCR_STREAM_SYNTH_PARAMS, (uint64_t)c);
    gsl_rng r = bfcr_stream_rng(&s);
    double *mu = m->centre + (size_t)c * (size_t)k;
    double *be = m->beta + (size_t)c * (size_t)k;
    for (int j = 0; j < k; j++) mu[j] = gsl_ran_gaussian_ziggurat(&r, p->spread);
    for (int j = 0; j < k; j++) be[j] = gsl_ran_gaussian_ziggurat(&r, 1.0);
    m->b[c] = gsl_ran_gaussian_ziggurat(&r, p->offset);
  }
  if (p->latent_dim > 0) { /* the map: stream (seed, PARAMS, clusters), after the clusters' */
    bfcr_stream s;
    bfcr_stream_open(&s, p->seed, BFCR_STREAM_SYNTH_PARAMS, (uint64_t)p->clusters);
    gsl_rng r = bfcr_stream_rng(&s);
    const double sd = 1.0 / sqrt((double)k);
    for (size_t i = 0; i < (size_t)p->d * (size_t)k; i++)
      m->A[i] = gsl_ran_gaussian_ziggurat(&r, sd);
  }
  return BFCR_OK;
}

void bfcr_synth_model_free(bfcr_synth_model *m) {
  free(m->centre);
  free(m->beta);
  free(m->b);
  free(m->A);
  m->centre = m->beta = m->b = m->A = NULL;
}

/* latent_dim = q > 0: row i draws its cluster c, e ~ N(0, width^2 I_q) (q normals),
 * eps ~ N(0, noise^2), then d normals u ~ N(0, latent_noise^2); z = mu_c + e and
 * x_r = sum_j A_rj z_j (j ascending) + u_r, y = sum_j e_j beta_cj + b_c + eps. */
static void latent_rows(const bfcr_synth_model *m, int64_t first, int64_t count, double *X,
                        double *y, int64_t *label) {
  const size_t d = (size_t)m->p.d, q = (size_t)m->p.latent_dim;
  const unsigned long k = (unsigned long)m->p.clusters;
  double zbuf[64];
  double *z = q <= 64 ? zbuf : malloc(q * sizeof(double));
  if (!z) { /* allocation failed: NaN rows, which every consumer refuses */
    for (int64_t i = 0; i < count; i++) {
      for (size_t r = 0; r < d; r++) X[(size_t)i * d + r] = NAN;
      y[i] = NAN;
      if (label) label[i] = 0;
    }
    return;
  }
  for (int64_t i = 0; i < count; i++) {
    bfcr_stream s;
    bfcr_stream_open(&s, m->p.seed, BFCR_STREAM_SYNTH_ROWS, (uint64_t)(first + i));
    gsl_rng r = bfcr_stream_rng(&s);
    const size_t c = (size_t)gsl_rng_uniform_int(&r, k);
    const double *mu = m->centre + c * q, *be = m->beta + c * q;
    double dot = 0.0;
    for (size_t j = 0; j < q; j++) {
      const double e = gsl_ran_gaussian_ziggurat(&r, m->p.width);
      z[j] = mu[j] + e;
      dot += e * be[j];
    }
    y[i] = dot + m->b[c] + gsl_ran_gaussian_ziggurat(&r, m->p.noise);
    double *x = X + (size_t)i * d;
    for (size_t row = 0; row < d; row++) {
      const double *a = m->A + row * q;
      double v = 0.0;
      for (size_t j = 0; j < q; j++) v += a[j] * z[j];
      x[row] = v + gsl_ran_gaussian_ziggurat(&r, m->p.latent_noise);
    }
    if (label) label[i] = (int64_t)c;
  }
  if (z != zbuf) free(z);
}

void bfcr_synth_model_rows(const bfcr_synth_model *m, int64_t first, int64_t count, double *X,
                           double *y, int64_t *label) {
  const size_t d = (size_t)m->p.d;
  const unsigned long k = (unsigned long)m->p.clusters;
  if (m->A) {
    latent_rows(m, first, count, X, y, label);
    return;
  }
  for (int64_t i = 0; i < count; i++) {
    bfcr_stream s;
    bfcr_stream_open(&s, m->p.seed, BFCR_STREAM_SYNTH_ROWS, (uint64_t)(first + i));
    gsl_rng r = bfcr_stream_rng(&s);
    const size_t c = (size_t)gsl_rng_uniform_int(&r, k);
    const double *mu = m->centre + c * d, *be = m->beta + c * d;
    double *x = X + (size_t)i * d;
    double dot = 0.0;
    for (size_t j = 0; j < d; j++) {
      double e = gsl_ran_gaussian_ziggurat(&r, m->p.width);
      x[j] = mu[j] + e;
      dot += e * be[j];
    }
    y[i] = dot + m->b[c] + gsl_ran_gaussian_ziggurat(&r, m->p.noise);
    if (label) label[i] = (int64_t)c;
  }
}

int64_t bfcr_synth_block_start(int64_t n, int P, int r) {
  int64_t q = n / P, rem = n % P;
  return (int64_t)r * q + ((int64_t)r * rem) / P;
}

bfcr_status bfcr_synth_rows(const bfcr_synth_params *p, int64_t first, int64_t count, double *X,
                            double *y, int64_t *label) {
  if (bfcr_synth_check(p, NULL, 0) != BFCR_OK) return BFCR_ERR_ARG;
  if (first < 0 || count < 0 || first > INT64_MAX - count) return BFCR_ERR_ARG;
  if (count == 0) return BFCR_OK;
  if (!X || !y || (uint64_t)count > SIZE_MAX / sizeof(double) / (uint64_t)p->d) return BFCR_ERR_ARG;
  bfcr_synth_model m;
  bfcr_status st = bfcr_synth_model_init(&m, p);
  if (st != BFCR_OK) return st;
  bfcr_synth_model_rows(&m, first, count, X, y, label);
  bfcr_synth_model_free(&m);
  return BFCR_OK;
}

/* The schema of generated data: numeric features x1..xd and the target column "y",
 * laid out as if the written CSV (header x1..xd,y) had been read with target "y". */
static bfcr_status synth_schema(bfcr_ctx *ctx, int d, bfcr_schema **out) {
  bfcr_schema *s = bfcr_schema_numeric(ctx, d, NULL); /* NULL names: x1..xd */
  if (!s || bfcr_schema_add_target(ctx, s, "y") != 0) {
    bfcr_schema_free(s);
    return BFCR_ERR_NOMEM; /* d is valid here: only an allocation can fail (message set) */
  }
  *out = s;
  return BFCR_OK;
}

bfcr_status bfcr_synth_data(bfcr_ctx *ctx, const bfcr_synth_params *p, bfcr_data **out) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  bfcr_data *data = NULL;
  bfcr_synth_model m = {0};
  char msg[256];
  double t0 = bfcr_wtime();
  if (out) *out = NULL;
  BFCR_CHECK(ctx, out, BFCR_ERR_ARG, "bfcr_synth_data: out is NULL");
  if (bfcr_synth_check(p, msg, sizeof msg) != BFCR_OK) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "%s", msg);
    goto cleanup;
  }
  const int64_t lo = bfcr_synth_block_start(p->n, ctx->size, ctx->rank);
  const int64_t hi = bfcr_synth_block_start(p->n, ctx->size, ctx->rank + 1);
  const int64_t nl = hi - lo;
  BFCR_CALLOC(ctx, data, 1);
  data->n_local = nl;
  data->n_global = p->n;
  data->offset = lo;
  data->d = p->d;
  BFCR_CHECK(ctx, (uint64_t)nl <= SIZE_MAX / sizeof(double) / (uint64_t)p->d, BFCR_ERR_NOMEM,
             "synthetic block of %lld rows x %d features is too large", (long long)nl, p->d);
  if (nl > 0) BFCR_ALLOC(ctx, data->X, (size_t)nl * (size_t)p->d);
  /* Even an empty block says that the data has a target (as bfcr_data_from_arrays). */
  BFCR_ALLOC(ctx, data->y, nl > 0 ? (size_t)nl : 1);
  BFCR_CALL(synth_schema(ctx, p->d, &data->schema));
  st = bfcr_synth_model_init(&m, p);
  BFCR_CHECK(ctx, st == BFCR_OK, st, "out of memory for %d synthetic cluster parameters",
             p->clusters);

  const int64_t nchunks = (nl + SYNTH_CHUNK - 1) / SYNTH_CHUNK;
  const int d = p->d;
  double *X = data->X, *y = data->y;
#pragma omp parallel for num_threads(ctx->nthreads) schedule(static)
  for (int64_t k = 0; k < nchunks; k++) {
    int64_t a = k * SYNTH_CHUNK, cnt = nl - a < SYNTH_CHUNK ? nl - a : SYNTH_CHUNK;
    bfcr_synth_model_rows(&m, lo + a, cnt, X + (size_t)a * (size_t)d, y + a, NULL);
  }
cleanup:
  bfcr_synth_model_free(&m);
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) {
    bfcr_data_destroy(&data);
  } else {
    *out = data;
    bfcr_phase_add(ctx, "synth", bfcr_wtime() - t0, 0.0);
  }
  return st;
}
