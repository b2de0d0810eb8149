/* Shared helpers for the Criterion unit tests. */
#ifndef BFCR_TESTUTIL_H
#define BFCR_TESTUTIL_H
#include "bfcr/bfcr.h"

/* A context on MPI_COMM_SELF (MPI initialized once per test process as a singleton). */
bfcr_ctx *tu_ctx(void);
void tu_ctx_free(bfcr_ctx **ctx);
/* Write text to a fresh file under the test temp folder; returns its path (static buffer
 * per call index, valid until the process ends). */
const char *tu_write_file(const char *name, const char *text, size_t len);
/* Path of a file under datasets/ or tests/data/ (from BFCR_DATA / BFCR_TESTDATA). */
const char *tu_dataset(const char *name);
const char *tu_testdata(const char *name);
/* Seeded Gaussian blobs (bfcr_synth_rows): n rows x d, k clusters, target noise; the true
 * cluster labels go to *labels when it is not NULL (caller frees). Asserts on failure. */
bfcr_data *tu_blobs(bfcr_ctx *ctx, int64_t n, int d, int k, double noise, uint64_t seed,
                    int64_t **labels);
/* bfcr_fit that asserts success (the context's message on failure). */
bfcr_model *tu_fit(bfcr_ctx *ctx, const bfcr_data *data, const bfcr_fit_params *p);
#endif
