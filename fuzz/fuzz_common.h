/* Shared pieces of the fuzz harnesses (fuzz_csv.c, fuzz_model.c): one bfcr context on
 * MPI_COMM_SELF for the whole process, and a check that aborts with a message, so a
 * broken invariant is a finding like a sanitizer report. The harnesses are built two
 * ways: with libFuzzer (clang, -DBFCR_FUZZ=ON) and as plain replay programs over the
 * files in tests/fuzz-regressions/ (fuzz_replay.c, in the normal test suite). */
#ifndef BFCR_FUZZ_COMMON_H
#define BFCR_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "bfcr/bfcr.h"

/* The process-wide context (MPI initialized on first use, single thread, silent log);
 * its error is cleared on every call. */
bfcr_ctx *fuzz_ctx(void);
/* Destroy that context (before MPI_Finalize; fuzz_ctx makes a new one if called). */
void fuzz_ctx_release(void);

/* Abort with "fuzz invariant failed: what" when cond is false. */
#define FUZZ_CHECK(cond, what)                          \
  do {                                                  \
    if (!(cond)) fuzz_fail(__FILE__, __LINE__, (what)); \
  } while (0)
_Noreturn void fuzz_fail(const char *file, int line, const char *what);

/* The entry point of each harness (libFuzzer's name). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
