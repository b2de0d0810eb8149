/* Shared helpers for the Criterion unit tests. */
#ifndef BFCR_TESTUTIL_H
#define BFCR_TESTUTIL_H
#include <stdint.h>

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
/* n rows of d features uniform in [-1, 1], target linear (alternating signs, growing
 * weights) plus c x0 x1 plus noise (a sum of 12 uniforms, sd about sig). Asserts. */
bfcr_data *tu_smooth(bfcr_ctx *ctx, int64_t n, int d, double sig, double c, uint64_t seed);
/* bfcr_fit that asserts success (the context's message on failure). */
bfcr_model *tu_fit(bfcr_ctx *ctx, const bfcr_data *data, const bfcr_fit_params *p);
/* Rewrite an encoded model file's minor version and its checksum (n bytes in b), as an
 * older or newer writer would have written it. */
void tu_model_set_minor(unsigned char *b, size_t n, unsigned minor);
/* Encode m (asserting format minor `minor`), decode it and assert that the decoded model
 * encodes to the same bytes; returns the decoded model. */
bfcr_model *tu_model_round_trip(bfcr_ctx *ctx, const bfcr_model *m, unsigned minor);
/* m encoded, relabelled as format minor `minor` (tu_model_set_minor) and decoded. */
bfcr_model *tu_model_as_minor(bfcr_ctx *ctx, const bfcr_model *m, unsigned minor);

/* ---- exact nearest-neighbour references (test_knn*.c) ---- */
/* splitmix64 step, and a uniform double in [0, 1) from it: seeded, platform-independent. */
uint64_t tu_rng(uint64_t *s);
double tu_unif(uint64_t *s);
/* Brute-force answers (bfcr_knn_brute: canonical distance, smallest index on ties) of m
 * queries Q against nR rows R (self: Q is R, a row skips itself) in fresh arrays of m
 * values each (*enn, *ed2; the caller frees them). */
void tu_knn_ref(const double *R, int64_t nR, int d, const double *Q, int64_t m, int self,
                int64_t **enn, double **ed2);
/* Asserts nn[i] == enn[i] and d2[i] bit-identical to ed2[i] (or both infinite) for every
 * query; what names the case in the failure message. */
void tu_expect_nn(const char *what, int64_t m, const int64_t *nn, const double *d2,
                  const int64_t *enn, const double *ed2);
/* ---- end of the nearest-neighbour references ---- */
#endif
