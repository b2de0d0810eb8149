/* Fuzz target: the model-file decoder (lib/io/model_file.c, bfcr_model_decode).
 *
 * Each input is decoded twice: as it is (header, version, length and checksum checks)
 * and with its body length and CRC-64 trailer recomputed, so that mutations reach the
 * section parsers behind the checksum instead of dying at it. Oracles beyond "no
 * sanitizer report":
 *  - a failure carries a message and returns no model;
 *  - a model that decodes is usable: the accessors, bfcr_model_assign and
 *    bfcr_predict run on a few rows without touching memory out of bounds (validation
 *    must have ruled out every bad index), and labels are in 0..k-1;
 *  - encode(decode(x)) decodes again and re-encodes to the same bytes, and for a
 *    file of the reader's own minor version it equals x byte for byte (the format has
 *    a single encoding of each model).
 * Cost per input: O(size) decode plus a predict of 4 rows. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "io/model_file.h"

enum { PREDICT_ROWS = 4, MAX_D_USED = 4096, MAX_K_VISITED = 64 };

static uint16_t get_u16(const uint8_t *p) {
  return (uint16_t)(p[0] | (p[1] << 8));
}

static void put_u64(uint8_t *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

static void use_model(bfcr_ctx *ctx, const bfcr_model *m) {
  int d = m->d;
  int64_t k = bfcr_model_clusters(m);
  FUZZ_CHECK(d >= 1 && k >= 1, "a decoded model without features or clusters");
  int nl = bfcr_model_num_levels(m);
  FUZZ_CHECK(nl >= 1, "a decoded model without levels");
  int chosen = bfcr_model_chosen_level(m);
  FUZZ_CHECK(chosen >= 0 && chosen < nl, "chosen level out of range");
  bfcr_level_info li;
  for (int l = 0; l < nl; l++)
    FUZZ_CHECK(bfcr_model_level_info(m, l, &li) == BFCR_OK, "level_info refused a valid level");
  FUZZ_CHECK(bfcr_model_level_info(m, nl, &li) != BFCR_OK, "level_info accepted a bad level");
  double rmse, mae, r2;
  bfcr_model_train_scores(m, &rmse, &mae, &r2);
  const bfcr_schema *s = bfcr_model_schema(m);
  FUZZ_CHECK(s && bfcr_schema_features(s) == d, "schema and model disagree on d");
  for (int j = 0; j < d && j < MAX_D_USED; j++)
    FUZZ_CHECK(bfcr_schema_feature_name(s, j) != NULL, "a feature without a name");
  if (d > MAX_D_USED) return; /* keep each run cheap */
  double *coef = malloc(((size_t)d + 1) * sizeof *coef);
  FUZZ_CHECK(coef != NULL, "out of memory in the harness");
  for (int64_t c = 0; c < k && c < MAX_K_VISITED; c++) {
    int64_t size;
    double lambda;
    int rank;
    bfcr_model_cluster(m, c, coef, &size, &lambda, &rank);
  }
  free(coef);

  /* Predict a few rows: zeros, the first mean, large and small values. */
  double *X = malloc((size_t)PREDICT_ROWS * (size_t)d * sizeof *X), yhat[PREDICT_ROWS];
  int64_t lab[PREDICT_ROWS];
  FUZZ_CHECK(X != NULL, "out of memory in the harness");
  for (int i = 0; i < PREDICT_ROWS; i++)
    for (int j = 0; j < d; j++)
      X[(size_t)i * (size_t)d + (size_t)j] = i == 0   ? 0.0
                                             : i == 1 ? m->mean[j]
                                             : i == 2 ? 1e6
                                                      : -1e-6;
  bfcr_data *data = NULL;
  FUZZ_CHECK(bfcr_data_from_arrays(ctx, PREDICT_ROWS, d, X, NULL, NULL, &data) == BFCR_OK,
             "bfcr_data_from_arrays failed");
  if (bfcr_model_assign(ctx, m, data, lab) == BFCR_OK)
    for (int i = 0; i < PREDICT_ROWS; i++)
      FUZZ_CHECK(lab[i] >= 0 && lab[i] < k, "label out of range");
  (void)bfcr_predict(ctx, m, data, yhat);
  bfcr_data_destroy(&data);
  free(X);
}

static void decode_one(const uint8_t *buf, size_t len) {
  bfcr_ctx *ctx = fuzz_ctx();
  bfcr_model *m = NULL;
  bfcr_status st = bfcr_model_decode(ctx, "fuzz.bfcr", buf, len, &m);
  if (st != BFCR_OK) {
    FUZZ_CHECK(m == NULL, "a failed decode returned a model");
    const char *msg = bfcr_ctx_errmsg(ctx);
    FUZZ_CHECK(msg && msg[0], "a failed decode without a message");
    return;
  }
  FUZZ_CHECK(m != NULL, "decode succeeded without a model");
  use_model(ctx, m);

  /* Round trip: encode, decode, encode again. */
  ctx = fuzz_ctx();
  unsigned char *e1 = NULL, *e2 = NULL;
  size_t n1 = 0, n2 = 0;
  FUZZ_CHECK(bfcr_model_encode(ctx, m, &e1, &n1) == BFCR_OK, "a decoded model does not encode");
  bfcr_model *m2 = NULL;
  FUZZ_CHECK(bfcr_model_decode(ctx, "re.bfcr", e1, n1, &m2) == BFCR_OK,
             "an encoded model does not decode");
  FUZZ_CHECK(bfcr_model_encode(ctx, m2, &e2, &n2) == BFCR_OK, "re-encode failed");
  FUZZ_CHECK(n1 == n2 && memcmp(e1, e2, n1) == 0, "save -> load -> save is not byte-identical");
  if (get_u16(buf + 18) == BFCR_MODEL_MINOR)
    FUZZ_CHECK(n1 == len && memcmp(e1, buf, len) == 0,
               "a file of the current version decodes to a model that encodes differently");
  free(e1);
  free(e2);
  bfcr_model_free(m2);
  bfcr_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Exact-size heap copy so ASan sees a read past the end. */
  uint8_t *buf = calloc(size ? size : 1, 1);
  FUZZ_CHECK(buf != NULL, "out of memory in the harness");
  if (size) memcpy(buf, data, size);
  decode_one(buf, size);
  if (size >= BFCR_MODEL_HEADER_BYTES + BFCR_MODEL_TRAILER_BYTES) {
    /* Body length and checksum made consistent with the bytes. */
    size_t body = size - BFCR_MODEL_HEADER_BYTES - BFCR_MODEL_TRAILER_BYTES;
    put_u64(buf + 24, (uint64_t)body);
    put_u64(buf + size - 8, bfcr_crc64(0, buf, size - 8));
    decode_one(buf, size);
  }
  free(buf);
  return 0;
}
