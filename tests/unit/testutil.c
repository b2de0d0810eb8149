/* nftw() */
#define _XOPEN_SOURCE 700
#include "testutil.h"

#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <ftw.h>
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "io/model_file.h"
#include "knn/knn.h"

static void finalize_mpi(void) {
  int fin = 0;
  MPI_Finalized(&fin);
  if (!fin) MPI_Finalize();
}

bfcr_ctx *tu_ctx(void) {
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) {
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    atexit(finalize_mpi);
  }
  bfcr_ctx *ctx = NULL;
  if (bfcr_ctx_create(MPI_COMM_SELF, &ctx) != BFCR_OK) return NULL;
  return ctx;
}

void tu_ctx_free(bfcr_ctx **ctx) {
  bfcr_ctx_destroy(ctx);
}

static char tmpdir[256];
static pid_t tmpdir_pid;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/* The folder (and whatever the test wrote into it) goes when the process that made it
 * exits normally: Criterion runs each test in its own process, so each removes its own. */
static void remove_tmpdir(void) {
  if (tmpdir[0] && getpid() == tmpdir_pid) nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

const char *tu_write_file(const char *name, const char *text, size_t len) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bfcr-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return NULL;
    tmpdir_pid = getpid();
    atexit(remove_tmpdir);
  }
  static char paths[64][512];
  static int next;
  char *p = paths[next++ % 64];
  snprintf(p, 512, "%s/%s", tmpdir, name);
  FILE *f = fopen(p, "wb");
  if (!f) return NULL;
  fwrite(text, 1, len, f);
  fclose(f);
  return p;
}

static const char *under(const char *env, const char *fallback, const char *name) {
  static char paths[16][1024];
  static int next;
  const char *root = getenv(env);
  if (!root) root = fallback;
  char *p = paths[next++ % 16];
  snprintf(p, 1024, "%s/%s", root, name);
  return p;
}

const char *tu_dataset(const char *name) {
  return under("BFCR_DATA", "datasets", name);
}
const char *tu_testdata(const char *name) {
  return under("BFCR_TESTDATA", "tests/data", name);
}

bfcr_data *tu_smooth(bfcr_ctx *ctx, int64_t n, int d, double sig, double c, uint64_t seed) {
  double *X = malloc(sizeof(double) * (size_t)(d * n)), *y = malloc(sizeof(double) * (size_t)n);
  uint64_t s = seed;
  for (int64_t i = 0; i < n; i++) {
    double v = 0.0, e = 0.0;
    for (int j = 0; j < d; j++) {
      X[i * d + j] = 2 * tu_unif(&s) - 1;
      v += (j % 2 ? -1.0 : 1.0) * (1.0 + 0.5 * j) * X[i * d + j];
    }
    for (int q = 0; q < 12; q++) e += tu_unif(&s);
    y[i] = v + c * X[i * d] * X[i * d + 1] + sig * (e - 6.0);
  }
  bfcr_data *dt = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &dt), BFCR_OK);
  free(X);
  free(y);
  return dt;
}

bfcr_data *tu_blobs(bfcr_ctx *ctx, int64_t n, int d, int k, double noise, uint64_t seed,
                    int64_t **labels) {
  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = n;
  sp.d = d;
  sp.clusters = k;
  sp.noise = noise;
  sp.seed = seed;
  double *X = malloc(n * d * sizeof *X), *y = malloc(n * sizeof *y);
  int64_t *lab = malloc(n * sizeof *lab);
  cr_assert(X && y && lab, "out of memory");
  cr_assert_eq(bfcr_synth_rows(&sp, 0, n, X, y, lab), BFCR_OK);
  bfcr_data *data = NULL;
  cr_assert_eq(bfcr_data_from_arrays(ctx, n, d, X, y, NULL, &data), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  free(X);
  free(y);
  if (labels)
    *labels = lab;
  else
    free(lab);
  return data;
}

bfcr_model *tu_fit(bfcr_ctx *ctx, const bfcr_data *data, const bfcr_fit_params *p) {
  bfcr_model *m = NULL;
  cr_assert_eq(bfcr_fit(ctx, data, p, &m), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  return m;
}

void tu_model_set_minor(unsigned char *b, size_t n, unsigned minor) {
  b[18] = (unsigned char)minor;
  b[19] = 0;
  uint64_t c = bfcr_crc64(0, b, n - 8);
  for (int i = 0; i < 8; i++) b[n - 8 + i] = (unsigned char)(c >> (8 * i));
}

bfcr_model *tu_model_round_trip(bfcr_ctx *ctx, const bfcr_model *m, unsigned minor) {
  unsigned char *b = NULL, *b2 = NULL;
  size_t n = 0, n2 = 0;
  bfcr_model *back = NULL;
  cr_assert_eq(bfcr_model_encode(ctx, m, &b, &n), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(b[18], minor);
  cr_assert_eq(bfcr_model_decode(ctx, "m", b, n, &back), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_encode(ctx, back, &b2, &n2), BFCR_OK);
  cr_assert(n2 == n && memcmp(b, b2, n) == 0, "the decoded model encodes to other bytes");
  free(b);
  free(b2);
  return back;
}

bfcr_model *tu_model_as_minor(bfcr_ctx *ctx, const bfcr_model *m, unsigned minor) {
  unsigned char *b = NULL;
  size_t n = 0;
  bfcr_model *back = NULL;
  cr_assert_eq(bfcr_model_encode(ctx, m, &b, &n), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  tu_model_set_minor(b, n, minor);
  cr_assert_eq(bfcr_model_decode(ctx, "old.bfcr", b, n, &back), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  free(b);
  return back;
}

/* ---- exact nearest-neighbour references (test_knn*.c) ---- */
uint64_t tu_rng(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double tu_unif(uint64_t *s) {
  return (double)(tu_rng(s) >> 11) * 0x1p-53;
}

void tu_knn_ref(const double *R, int64_t nR, int d, const double *Q, int64_t m, int self,
                int64_t **enn, double **ed2) {
  *enn = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  *ed2 = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
  cr_assert(*enn && *ed2, "reference arrays: out of memory");
  bfcr_knn_brute(R, nR, d, Q, m, self, *enn, *ed2);
}

void tu_expect_nn(const char *what, int64_t m, const int64_t *nn, const double *d2,
                  const int64_t *enn, const double *ed2) {
  /* One assertion per array, at the first difference: Criterion reports every assertion
   * to its runner, and a million passing ones dominate the valgrind tier's time. */
  int64_t i = 0;
  while (i < m && nn[i] == enn[i] && (d2[i] == ed2[i] || (isinf(d2[i]) && isinf(ed2[i])))) i++;
  if (i == m) return;
  cr_assert_eq(nn[i], enn[i], "%s: query %lld: index %lld, expected %lld", what, (long long)i,
               (long long)nn[i], (long long)enn[i]);
  cr_assert(false, "%s: query %lld: dist2 %.17g, expected %.17g", what, (long long)i, d2[i],
            ed2[i]);
}
/* ---- end of the nearest-neighbour references ---- */
