#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

void tu_ctx_free(bfcr_ctx **ctx) { bfcr_ctx_destroy(ctx); }

static char tmpdir[256];

const char *tu_write_file(const char *name, const char *text, size_t len) {
  if (!tmpdir[0]) {
    snprintf(tmpdir, sizeof tmpdir, "/tmp/bfcr-test-XXXXXX");
    if (!mkdtemp(tmpdir)) return NULL;
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

const char *tu_dataset(const char *name) { return under("BFCR_DATA", "datasets", name); }
const char *tu_testdata(const char *name) { return under("BFCR_TESTDATA", "tests/data", name); }
