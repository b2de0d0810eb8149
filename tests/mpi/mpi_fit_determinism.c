/* ranks: 1 2 3 4 */
/* bfcr_fit, bfcr_tree_build and bfcr_predict at P ranks equal one process bit for bit:
 * rank 0 also fits the whole dataset alone on MPI_COMM_SELF (the reference, broadcast)
 * and every rank compares the serialized model bytes, the levels and cluster counts, the chosen
 * level, the tree labels of every level and the predictions of its own rows. Data: synthetic blobs,
 * datasets/boston.csv, a diamonds subset (one-hot columns), exact duplicates (ties everywhere) and
 * a regular grid (equal distances); 1 and 2 threads; ridge with the pooled penalty, OLS, routing by
 * sample, and the ancestor fallback; wide data (40 x 300) and a mixed d = 40 set fitted from the
 * clusters' rows. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/model_file.h"
#include "io/schema.h"
#include "mpitest.h"

typedef bfcr_status (*make_fn)(bfcr_ctx *ctx, const void *arg, bfcr_data **out);

static bfcr_status make_synth(bfcr_ctx *ctx, const void *arg, bfcr_data **out) {
  return bfcr_synth_data(ctx, (const bfcr_synth_params *)arg, out);
}

static bfcr_status make_csv(bfcr_ctx *ctx, const void *arg, bfcr_data **out) {
  const char *const *a = arg; /* path, target */
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = a[1];
  return bfcr_data_read_csv(ctx, a[0], &cp, NULL, out);
}

/* Row i of the tie-heavy sets (global index), the same for any split. */
static void tie_row(int kind, int64_t i, double *x, double *y) {
  if (kind == 0) { /* 1500 rows, exact copies of 37 distinct points */
    int64_t c = (i * 7919) % 37;
    x[0] = (double)(c % 6);
    x[1] = (double)(c / 6) * 0.5;
    x[2] = (double)((c * 13) % 5);
    *y = 2.0 * x[0] - x[1] + 0.25 * x[2] + (double)(i % 3);
  } else { /* 41 x 37 regular grid: every point has 2-4 best-friend candidates at once */
    x[0] = (double)(i % 41);
    x[1] = (double)(i / 41);
    x[2] = 0.0;
    *y = (i % 41 < 20 ? 1.0 : -2.0) * x[0] + 0.5 * x[1];
  }
}

static bfcr_status make_ties(bfcr_ctx *ctx, const void *arg, bfcr_data **out) {
  int kind = *(const int *)arg, P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  int64_t n = kind == 0 ? 1500 : 41 * 37;
  int64_t lo = n * r / P, hi = n * (r + 1) / P, nl = hi - lo;
  double *X = malloc(sizeof(double) * (size_t)(3 * nl + 1)),
         *y = malloc(sizeof(double) * (size_t)(nl + 1));
  for (int64_t i = lo; i < hi; i++) tie_row(kind, i, X + 3 * (i - lo), y + (i - lo));
  bfcr_status st = bfcr_data_from_arrays(ctx, nl, 3, X, y, NULL, out);
  free(X);
  free(y);
  return st;
}

static int g_cases;

/* Rank 0's buffer of len bytes on every rank (*p allocated there, NULL when len = 0). */
static void bcast_bytes(void **p, uint64_t *len) {
  MPI_Bcast(len, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  int rank;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank != 0) *p = *len ? malloc(*len) : NULL;
  for (uint64_t o = 0; o < *len; o += 1u << 30) { /* counts are ints */
    uint64_t c = *len - o < (1u << 30) ? *len - o : (1u << 30);
    MPI_Bcast((unsigned char *)*p + o, (int)c, MPI_BYTE, 0, MPI_COMM_WORLD);
  }
}

/* The one-process reference of a case: fitted by rank 0 alone on MPI_COMM_SELF, then
 * broadcast (P copies of the same fit would multiply the test's time on 2 cores).
 * Integers: ok, levels, chosen, tree levels; then clusters per level, model bytes,
 * predictions of every row, tree labels of every level, tree level infos. */
typedef struct ref {
  int64_t hdr[4];
  int64_t *clusters;
  unsigned char *bytes;
  double *pred;
  int64_t *labels;
  bfcr_level_info *tinfo;
  uint64_t lclu, lbytes, lpred, llab, linfo;
} ref;

static void ref_compute(bfcr_ctx *self, make_fn make, const void *arg, const bfcr_fit_params *fp,
                        const bfcr_tree_params *tp, ref *r) {
  bfcr_data *ds = NULL;
  bfcr_model *ms = NULL;
  bfcr_tree *ts = NULL;
  size_t ls = 0;
  if (make(self, arg, &ds) != BFCR_OK || bfcr_fit(self, ds, fp, &ms) != BFCR_OK ||
      bfcr_model_encode(self, ms, &r->bytes, &ls) != BFCR_OK ||
      bfcr_tree_build(self, ds, tp, &ts) != BFCR_OK)
    goto done;
  int64_t n = bfcr_data_global_rows(ds);
  int L = bfcr_model_num_levels(ms), TL = bfcr_tree_num_levels(ts);
  r->lbytes = ls;
  r->lclu = sizeof(int64_t) * (uint64_t)L;
  r->clusters = malloc(r->lclu + 1);
  for (int l = 0; l < L; l++) {
    bfcr_level_info a;
    bfcr_model_level_info(ms, l, &a);
    r->clusters[l] = a.clusters;
  }
  r->lpred = sizeof(double) * (uint64_t)n;
  r->pred = malloc(r->lpred + 1);
  if (bfcr_predict(self, ms, ds, r->pred) != BFCR_OK) goto done;
  r->llab = sizeof(int64_t) * (uint64_t)n * (uint64_t)TL;
  r->labels = malloc(r->llab + 1);
  r->linfo = sizeof(bfcr_level_info) * (uint64_t)TL;
  r->tinfo = malloc(r->linfo + 1);
  for (int l = 0; l < TL; l++) {
    bfcr_tree_labels(ts, l, r->labels + (int64_t)l * n);
    bfcr_tree_level_info(ts, l, &r->tinfo[l]);
  }
  r->hdr[0] = 1;
  r->hdr[1] = L;
  r->hdr[2] = bfcr_model_chosen_level(ms);
  r->hdr[3] = TL;
done:
  if (!r->hdr[0]) fprintf(stderr, "reference: %s\n", bfcr_ctx_errmsg(self));
  bfcr_tree_destroy(&ts);
  bfcr_model_destroy(&ms);
  bfcr_data_destroy(&ds);
}

static void ref_bcast(ref *r) {
  MPI_Bcast(r->hdr, 4, MPI_INT64_T, 0, MPI_COMM_WORLD);
  if (!r->hdr[0]) return;
  bcast_bytes((void **)&r->clusters, &r->lclu);
  bcast_bytes((void **)&r->bytes, &r->lbytes);
  bcast_bytes((void **)&r->pred, &r->lpred);
  bcast_bytes((void **)&r->labels, &r->llab);
  bcast_bytes((void **)&r->tinfo, &r->linfo);
}

static void ref_free(ref *r) {
  free(r->clusters);
  free(r->bytes);
  free(r->pred);
  free(r->labels);
  free(r->tinfo);
}

static void check_case(bfcr_ctx *world, bfcr_ctx *self, const char *name, make_fn make,
                       const void *arg, const bfcr_fit_params *fp, int threads) {
  bfcr_data *dw = NULL;
  bfcr_model *mw = NULL;
  bfcr_tree *tw = NULL;
  unsigned char *bw = NULL;
  size_t lw = 0;
  double *pw = NULL;
  ref r = {{0}, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, 0};
  bfcr_tree_params tp;
  bfcr_tree_params_init(&tp);
  bfcr_ctx_set_threads(world, threads);
  bfcr_ctx_set_threads(self, threads);
  g_cases++;
  if (bfcr_ctx_rank(world) == 0) ref_compute(self, make, arg, fp, &tp, &r);
  ref_bcast(&r);
  MT_CHECK(r.hdr[0] == 1, "%s: reference fit failed", name);
  bfcr_status st = make(world, arg, &dw);
  MT_CHECK(st == BFCR_OK, "%s: data: %s", name, bfcr_ctx_errmsg(world));
  if (st != BFCR_OK || r.hdr[0] != 1) goto done;
  st = bfcr_fit(world, dw, fp, &mw);
  MT_CHECK(st == BFCR_OK, "%s: fit: %s", name, bfcr_ctx_errmsg(world));
  if (st != BFCR_OK) goto done;
  int L = bfcr_model_num_levels(mw);
  MT_CHECK(L == r.hdr[1], "%s: levels %d vs %lld", name, L, (long long)r.hdr[1]);
  MT_CHECK(bfcr_model_chosen_level(mw) == r.hdr[2], "%s: chosen %d vs %lld", name,
           bfcr_model_chosen_level(mw), (long long)r.hdr[2]);
  for (int l = 0; l < L && l < r.hdr[1]; l++) {
    bfcr_level_info a;
    bfcr_model_level_info(mw, l, &a);
    MT_CHECK(a.clusters == r.clusters[l], "%s: level %d clusters %lld vs %lld", name, l,
             (long long)a.clusters, (long long)r.clusters[l]);
  }
  MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "%s: encode", name);
  MT_CHECK(bw && lw == r.lbytes && memcmp(bw, r.bytes, lw) == 0,
           "%s: model bytes differ (%zu vs %llu)", name, lw, (unsigned long long)r.lbytes);
  /* Predictions of this rank's rows against the one-process predictions of those rows. */
  int64_t nl = bfcr_data_local_rows(dw), off = bfcr_data_row_offset(dw),
          n = bfcr_data_global_rows(dw);
  MT_CHECK(r.lpred == sizeof(double) * (uint64_t)n, "%s: rows differ", name);
  if (r.lpred != sizeof(double) * (uint64_t)n) goto done;
  pw = malloc(sizeof(double) * (size_t)(nl + 1));
  MT_CHECK(bfcr_predict(world, mw, dw, pw) == BFCR_OK, "%s: predict: %s", name,
           bfcr_ctx_errmsg(world));
  MT_CHECK(memcmp(pw, r.pred + off, sizeof(double) * (size_t)nl) == 0, "%s: predictions differ",
           name);
  /* The tree alone: labels of every level. */
  st = bfcr_tree_build(world, dw, &tp, &tw);
  MT_CHECK(st == BFCR_OK, "%s: tree: %s", name, bfcr_ctx_errmsg(world));
  if (st == BFCR_OK) {
    int TL = bfcr_tree_num_levels(tw);
    MT_CHECK(TL == r.hdr[3], "%s: tree levels", name);
    int64_t *lw2 = malloc(sizeof(int64_t) * (size_t)(nl + 1));
    for (int l = 0; l < TL && l < r.hdr[3]; l++) {
      bfcr_tree_labels(tw, l, lw2);
      MT_CHECK(memcmp(lw2, r.labels + (int64_t)l * n + off, sizeof(int64_t) * (size_t)nl) == 0,
               "%s: labels of level %d differ", name, l);
      bfcr_level_info a;
      bfcr_tree_level_info(tw, l, &a);
      MT_CHECK(memcmp(&a, &r.tinfo[l], sizeof a) == 0, "%s: tree level %d info differs", name, l);
    }
    free(lw2);
  }
done:
  free(bw);
  free(pw);
  ref_free(&r);
  bfcr_tree_destroy(&tw);
  bfcr_model_destroy(&mw);
  bfcr_data_destroy(&dw);
}

/* A larger case: the reference fit runs on rank 0 alone (MPI_COMM_SELF) and its model
 * bytes and predictions are broadcast (P copies of the one-process fit would not fit
 * the test's time on 2 cores). */
static void check_big(bfcr_ctx *world, bfcr_ctx *self, const bfcr_synth_params *sp,
                      const bfcr_fit_params *fp) {
  int rank = bfcr_ctx_rank(world);
  bfcr_data *dw = NULL, *ds = NULL;
  bfcr_model *mw = NULL, *ms = NULL;
  unsigned char *bw = NULL, *bs = NULL;
  size_t lw = 0;
  uint64_t ls = 0;
  int64_t n = sp->n;
  double *pw = NULL, *ps = malloc(sizeof(double) * (size_t)n);
  bfcr_ctx_set_threads(world, 1);
  g_cases++;
  if (rank == 0) {
    int ok = bfcr_synth_data(self, sp, &ds) == BFCR_OK && bfcr_fit(self, ds, fp, &ms) == BFCR_OK &&
             bfcr_model_encode(self, ms, &bs, &lw) == BFCR_OK &&
             bfcr_predict(self, ms, ds, ps) == BFCR_OK;
    MT_CHECK(ok, "big: reference: %s", bfcr_ctx_errmsg(self));
    ls = ok ? (uint64_t)lw : 0;
  }
  MPI_Bcast(&ls, 1, MPI_UINT64_T, 0, MPI_COMM_WORLD);
  if (rank != 0) bs = malloc(ls + 1);
  MPI_Bcast(bs, (int)ls, MPI_BYTE, 0, MPI_COMM_WORLD);
  MPI_Bcast(ps, (int)n, MPI_DOUBLE, 0, MPI_COMM_WORLD);
  MT_CHECK(bfcr_synth_data(world, sp, &dw) == BFCR_OK, "big: data");
  MT_CHECK(bfcr_fit(world, dw, fp, &mw) == BFCR_OK, "big: fit: %s", bfcr_ctx_errmsg(world));
  if (mw) {
    MT_CHECK(bfcr_model_encode(world, mw, &bw, &lw) == BFCR_OK, "big: encode");
    MT_CHECK(ls > 0 && lw == ls && memcmp(bw, bs, lw) == 0, "big: model bytes differ");
    int64_t nl = bfcr_data_local_rows(dw), off = bfcr_data_row_offset(dw);
    pw = malloc(sizeof(double) * (size_t)(nl + 1));
    MT_CHECK(bfcr_predict(world, mw, dw, pw) == BFCR_OK, "big: predict");
    MT_CHECK(memcmp(pw, ps + off, sizeof(double) * (size_t)nl) == 0, "big: predictions differ");
  }
  free(bw);
  free(bs);
  free(pw);
  free(ps);
  bfcr_model_destroy(&mw);
  bfcr_model_destroy(&ms);
  bfcr_data_destroy(&dw);
  bfcr_data_destroy(&ds);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *world = NULL, *self = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &world);
  bfcr_ctx_create(MPI_COMM_SELF, &self);
  int rank = bfcr_ctx_rank(world);
  const char *data = getenv("BFCR_DATA");
  char boston[512], diamonds[512], dsub[128] = "/tmp/bfcr-mpifit-XXXXXX";
  snprintf(boston, sizeof boston, "%s/boston.csv", data ? data : "datasets");
  snprintf(diamonds, sizeof diamonds, "%s/diamonds.csv", data ? data : "datasets");
  /* Diamonds subset: the first 2500 rows (rank 0 writes, everyone reads). */
  if (rank == 0) {
    int fd = mkstemp(dsub);
    FILE *in = fopen(diamonds, "r"), *out = fd >= 0 ? fdopen(fd, "w") : NULL;
    char line[4096];
    for (int i = 0; in && out && i < 2501 && fgets(line, sizeof line, in); i++) fputs(line, out);
    if (in) fclose(in);
    if (out) fclose(out);
  }
  MPI_Bcast(dsub, sizeof dsub, MPI_CHAR, 0, MPI_COMM_WORLD);

  bfcr_synth_params sp;
  bfcr_synth_params_init(&sp);
  sp.n = 6000;
  sp.d = 4;
  sp.seed = 11;
  const char *bos[2] = {boston, "medv"}, *dia[2] = {dsub, "price"};
  int dup = 0, grid = 1;

  bfcr_fit_params def, ols, samp, anc;
  bfcr_fit_params_init(&def);
  /* The default's kernel ridge candidates on boston only: every rank replicates their
   * fits, and mpi_fit_kernel covers them; the other cases pin ridge. */
  const bfcr_fit_params kdef = def;
  def.select_regressors = 1u << BFCR_REG_RIDGE;
  ols = def;
  ols.regressor = BFCR_REG_OLS;
  ols.small = BFCR_SMALL_ANCESTOR;
  ols.min_cluster_size = 0;
  samp = def;
  samp.routing = BFCR_ROUTE_SAMPLE;
  samp.criterion = BFCR_CRIT_HCI;
  anc = def;
  anc.small = BFCR_SMALL_ANCESTOR;
  anc.lambda_mode = BFCR_LAMBDA_CLUSTER;
  anc.criterion = BFCR_CRIT_CH;

  for (int th = 1; th <= 2; th++) {
    check_case(world, self, "synth/default", make_synth, &sp, &def, th);
    check_case(world, self, "boston/default", make_csv, bos, &kdef, th);
    check_case(world, self, "diamonds/default", make_csv, dia, &def, th);
    check_case(world, self, "duplicates/default", make_ties, &dup, &def, th);
    check_case(world, self, "grid/default", make_ties, &grid, &def, th);
  }
  check_case(world, self, "synth/ols", make_synth, &sp, &ols, 2);
  check_case(world, self, "boston/ols", make_csv, bos, &ols, 1);
  check_case(world, self, "duplicates/ols", make_ties, &dup, &ols, 1);
  check_case(world, self, "boston/sample", make_csv, bos, &samp, 2);
  check_case(world, self, "grid/sample", make_ties, &grid, &samp, 1);
  check_case(world, self, "diamonds/ancestor", make_csv, dia, &anc, 2);
  /* The feature-space guard: records from the owners' summaries, an exact max (guard.c). */
  bfcr_fit_params gsp = def, gsa = anc;
  gsp.guard_space = gsa.guard_space = 1;
  check_case(world, self, "boston/guard-space", make_csv, bos, &gsp, 2);
  check_case(world, self, "synth/guard-space", make_synth, &sp, &gsp, 1);
  check_case(world, self, "diamonds/guard-space-ancestor", make_csv, dia, &gsa, 1);
  /* Wide data (d > n: clusters fitted from their rows in the dual form) and a mixed
   * set (d = 40 >= 32: small clusters from rows, large ones from transient summaries). */
  bfcr_synth_params wide = sp, mixed = sp;
  wide.n = 40;
  wide.d = 300;
  wide.clusters = 4;
  mixed.n = 600;
  mixed.d = 40;
  mixed.clusters = 6;
  bfcr_fit_params shr = def, wols = ols, wcl = def;
  shr.small = BFCR_SMALL_SHRINK;
  shr.criterion = BFCR_CRIT_GCV;
  wcl.small = BFCR_SMALL_SHRINK;
  wcl.lambda_mode = BFCR_LAMBDA_CLUSTER;
  wols.min_cluster_size = 2;
  for (int th = 1; th <= 2; th++) {
    check_case(world, self, "wide/default", make_synth, &wide, &def, th);
    check_case(world, self, "wide/shrink-gcv", make_synth, &wide, &shr, th);
  }
  check_case(world, self, "wide/ols", make_synth, &wide, &wols, 1);
  check_case(world, self, "wide/cluster-lambda", make_synth, &wide, &wcl, 2);
  check_case(world, self, "mixed/shrink-gcv", make_synth, &mixed, &shr, 2);
  /* Large enough (n d >= 1e6) for the distributed level-0 search of lib/knn. */
  bfcr_synth_params big = sp;
  big.n = 126000;
  big.d = 8;
  check_big(world, self, &big, &def);
  /* n < P and n = P + 1: ranks without rows. */
  bfcr_synth_params tiny = sp;
  tiny.n = 3;
  check_case(world, self, "synth/n=3", make_synth, &tiny, &def, 1);
  tiny.n = bfcr_ctx_size(world) + 1;
  check_case(world, self, "synth/n=P+1", make_synth, &tiny, &def, 1);

  MPI_Barrier(MPI_COMM_WORLD);
  if (rank == 0) unlink(dsub);
  if (rank == 0) printf("%d cases\n", g_cases);
  bfcr_ctx_destroy(&self);
  bfcr_ctx_destroy(&world);
  return mt_finish("mpi_fit_determinism");
}
