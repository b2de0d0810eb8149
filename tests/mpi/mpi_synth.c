/* ranks: 1 2 3 4 */
/* bfcr_synth_data and bfcr_synth_write_csv at P ranks: the blocks are the 1-rank rows,
 * and the file is byte-identical to the one a single process writes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bfcr/bfcr.h"
#include "io/schema.h"
#include "mpitest.h"
#include "synth/synth_impl.h"

#define PINNED_HASH UINT64_C(0x2e7c412999da75c1)

/* FNV-1a 64 of a file's bytes (0 when unreadable), and its length. */
static uint64_t file_hash(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  *len = -1;
  if (!f) return 0;
  long n = 0;
  for (int c; (c = fgetc(f)) != EOF; n++) h = (h ^ (uint64_t)c) * UINT64_C(0x100000001b3);
  fclose(f);
  *len = n;
  return h;
}

static void check_blocks(bfcr_ctx *ctx, const bfcr_synth_params *p) {
  int P = bfcr_ctx_size(ctx), r = bfcr_ctx_rank(ctx);
  bfcr_data *data = NULL;
  bfcr_status st = bfcr_synth_data(ctx, p, &data);
  MT_CHECK(st == BFCR_OK, "bfcr_synth_data: %s", bfcr_ctx_errmsg(ctx));
  if (st != BFCR_OK) return;
  int64_t lo = (int64_t)((long double)r * p->n / P),
          hi = (int64_t)((long double)(r + 1) * p->n / P);
  int64_t nl = bfcr_data_local_rows(data), off = bfcr_data_row_offset(data);
  MT_CHECK(off == lo && nl == hi - lo, "block [%lld, +%lld), expected [%lld, %lld)", (long long)off,
           (long long)nl, (long long)lo, (long long)hi);
  MT_CHECK(bfcr_data_global_rows(data) == p->n, "n_global %lld",
           (long long)bfcr_data_global_rows(data));
  long long total = 0, mine = nl;
  MPI_Allreduce(&mine, &total, 1, MPI_LONG_LONG, MPI_SUM, MPI_COMM_WORLD);
  MT_CHECK(total == p->n, "blocks hold %lld rows", total);
  MT_CHECK(bfcr_data_y(data) != NULL, "no target");
  MT_CHECK(strcmp(bfcr_schema_target(bfcr_data_schema(data)), "y") == 0, "target name");
  MT_CHECK(data->line == NULL && data->path == NULL, "line/path set");
  if (nl > 0) {
    double *X = malloc(sizeof(double) * (size_t)(nl * p->d)),
           *y = malloc(sizeof(double) * (size_t)nl);
    MT_CHECK(bfcr_synth_rows(p, off, nl, X, y, NULL) == BFCR_OK, "bfcr_synth_rows");
    MT_CHECK(memcmp(X, bfcr_data_X(data), sizeof(double) * (size_t)(nl * p->d)) == 0, "X differs");
    MT_CHECK(memcmp(y, bfcr_data_y(data), sizeof(double) * (size_t)nl) == 0, "y differs");
    free(X);
    free(y);
  }
  bfcr_data_destroy(&data);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  int rank = bfcr_ctx_rank(ctx);

  bfcr_synth_params p;
  bfcr_synth_params_init(&p);
  p.n = 10007;
  p.d = 5;
  p.seed = 77;
  check_blocks(ctx, &p);
  bfcr_ctx_set_threads(ctx, 2);
  check_blocks(ctx, &p);
  bfcr_synth_params tiny = p;
  tiny.n = 2; /* ranks without rows */
  check_blocks(ctx, &tiny);
  bfcr_ctx_set_threads(ctx, 1);

  /* CSV: reference written by rank 0 alone, then by all ranks (automatic and tiny rounds). */
  char dir[64] = "/tmp/bfcr-mpisynth-XXXXXX";
  if (rank == 0 && !mkdtemp(dir)) dir[0] = '\0';
  MPI_Bcast(dir, sizeof dir, MPI_CHAR, 0, MPI_COMM_WORLD);
  MT_CHECK(dir[0] != '\0', "mkdtemp failed");
  char ref[128], all[128], small_ref[128], small[128], bad[160];
  bfcr_synth_params q = p; /* for rounds of a few rows: many rounds, ragged ends */
  q.n = 503;
  snprintf(ref, sizeof ref, "%s/ref.csv", dir);
  snprintf(all, sizeof all, "%s/all.csv", dir);
  snprintf(small, sizeof small, "%s/small.csv", dir);
  snprintf(small_ref, sizeof small_ref, "%s/small_ref.csv", dir);
  snprintf(bad, sizeof bad, "%s/missing/out.csv", dir);
  if (rank == 0) {
    bfcr_ctx *self = NULL;
    bfcr_ctx_create(MPI_COMM_SELF, &self);
    MT_CHECK(bfcr_synth_write_csv(self, &p, ref) == BFCR_OK, "reference: %s",
             bfcr_ctx_errmsg(self));
    MT_CHECK(bfcr_synth_write_csv(self, &q, small_ref) == BFCR_OK, "reference: %s",
             bfcr_ctx_errmsg(self));
    bfcr_ctx_destroy(&self);
  }
  MT_CHECK(bfcr_synth_write_csv(ctx, &p, all) == BFCR_OK, "write: %s", bfcr_ctx_errmsg(ctx));
  bfcr_ctx_set_threads(ctx, 2);
  MT_CHECK(bfcr_synth_write_csv_rounds(ctx, &q, small, 7) == BFCR_OK, "write in rounds of 7: %s",
           bfcr_ctx_errmsg(ctx));
  bfcr_ctx_set_threads(ctx, 1);
  if (rank == 0) {
    long lr, la, lsr, ls;
    uint64_t hr = file_hash(ref, &lr), ha = file_hash(all, &la);
    uint64_t hsr = file_hash(small_ref, &lsr), hs = file_hash(small, &ls);
    printf("synthetic CSV: %ld bytes, FNV-1a %016llx\n", lr, (unsigned long long)hr);
    MT_CHECK(lr > 0 && la == lr && lsr > 0 && ls == lsr, "lengths %ld %ld %ld %ld", lr, la, lsr,
             ls);
    MT_CHECK(ha == hr, "hashes %016llx %016llx", (unsigned long long)hr, (unsigned long long)ha);
    MT_CHECK(hs == hsr, "small rounds: hashes %016llx %016llx", (unsigned long long)hsr,
             (unsigned long long)hs);
    /* The bytes are pinned too: the same file on every run, at every rank count. */
    MT_CHECK(hr == PINNED_HASH, "hash %016llx changed", (unsigned long long)hr);
  }
  /* Read back at P ranks (the reader splits by bytes): every rank's rows are the
   * generated rows at its offset. */
  bfcr_csv_params cp;
  bfcr_csv_params_init(&cp);
  cp.target = "y";
  bfcr_data *rd = NULL;
  bfcr_status rst = bfcr_data_read_csv(ctx, all, &cp, NULL, &rd);
  MT_CHECK(rst == BFCR_OK, "read back: %s", bfcr_ctx_errmsg(ctx));
  if (rst == BFCR_OK) {
    int64_t nl = bfcr_data_local_rows(rd), off = bfcr_data_row_offset(rd);
    MT_CHECK(bfcr_data_global_rows(rd) == p.n && bfcr_data_features(rd) == p.d, "read shape");
    if (nl > 0) {
      double *X = malloc(sizeof(double) * (size_t)(nl * p.d)),
             *y = malloc(sizeof(double) * (size_t)nl);
      bfcr_synth_rows(&p, off, nl, X, y, NULL);
      MT_CHECK(memcmp(X, bfcr_data_X(rd), sizeof(double) * (size_t)(nl * p.d)) == 0, "read X");
      MT_CHECK(memcmp(y, bfcr_data_y(rd), sizeof(double) * (size_t)nl) == 0, "read y");
      free(X);
      free(y);
    }
    bfcr_data_destroy(&rd);
  }
  /* A failure on rank 0 reaches every rank, nobody hangs, and nothing is left behind. */
  bfcr_status st = bfcr_synth_write_csv(ctx, &p, bad);
  MT_CHECK(st == BFCR_ERR_IO, "write to a missing folder gave %s", bfcr_status_name(st));
  MT_CHECK(strstr(bfcr_ctx_errmsg(ctx), "missing") != NULL, "message: %s", bfcr_ctx_errmsg(ctx));
  bfcr_synth_params badp = p;
  badp.d = 0;
  st = bfcr_synth_write_csv(ctx, &badp, all);
  MT_CHECK(st == BFCR_ERR_ARG, "d = 0 gave %s", bfcr_status_name(st));
  if (rank == 0) {
    long la;
    MT_CHECK(file_hash(all, &la) == PINNED_HASH, "failed write changed the file");
    unlink(ref);
    unlink(all);
    unlink(small);
    unlink(small_ref);
    rmdir(dir);
  }
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_synth");
}
