/* See fuzz_common.h. MPI is initialized once and never finalized: libFuzzer exits from
 * its own code, and Open MPI's memory kept at exit is covered by tests/lsan.supp. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mpi.h>

static bfcr_ctx *g_ctx;

/* Every message is formatted (so the formatting runs under the sanitizers) and
 * dropped. */
static void sink(void *user, bfcr_log_level level, const char *msg) {
  (void)user;
  (void)level;
  volatile size_t n = strlen(msg);
  (void)n;
}

bfcr_ctx *fuzz_ctx(void) {
  if (!g_ctx) {
    int up = 0;
    MPI_Initialized(&up);
    if (!up && MPI_Init(NULL, NULL) != MPI_SUCCESS) fuzz_fail(__FILE__, __LINE__, "MPI_Init");
    if (bfcr_ctx_create(MPI_COMM_SELF, &g_ctx) != BFCR_OK)
      fuzz_fail(__FILE__, __LINE__, "bfcr_ctx_create");
    if (bfcr_ctx_set_threads(g_ctx, 1) != BFCR_OK) fuzz_fail(__FILE__, __LINE__, "threads");
    bfcr_ctx_set_log(g_ctx, sink, NULL, BFCR_LOG_DEBUG);
  }
  bfcr_ctx_clear_error(g_ctx);
  bfcr_ctx_reset_phases(g_ctx);
  return g_ctx;
}

void fuzz_ctx_release(void) {
  bfcr_ctx_destroy(&g_ctx);
}

_Noreturn void fuzz_fail(const char *file, int line, const char *what) {
  fprintf(stderr, "fuzz invariant failed: %s (%s:%d)\n", what, file, line);
  fflush(stderr);
  abort();
}
