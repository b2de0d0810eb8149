/* The bfcr model file: a versioned, little-endian, checksummed byte layout of struct
 * bfcr_model (docs/model-format.md has the table). Encoding and decoding work on byte
 * buffers so the same bytes are produced and accepted on every machine and for any
 * rank count; bfcr_model_save/bfcr_model_load (collective) move them to and from disk. */
#ifndef BFCR_IO_MODEL_FILE_H
#define BFCR_IO_MODEL_FILE_H

#include <stddef.h>
#include <stdint.h>
#include "core/ctx.h"
#include "model/model_impl.h"

#define BFCR_MODEL_MAGIC "BFCRMODL"
#define BFCR_MODEL_MAJOR 1 /* changes when an older reader cannot read the file */
#define BFCR_MODEL_MINOR                                        \
  4 /* changes when fields or sections are appended (1.1: KERN, \
       1.2: GARD, CVTB; 1.3: SHRK; 1.4: GLEV) */
/* Written when the model has no section newer than 1.3 (no GLEV), so such files stay
 * readable without a warning by 1.3 readers and byte-identical to theirs. */
#define BFCR_MODEL_MINOR_NO_GLEV 3
#define BFCR_MODEL_HEADER_BYTES 32
#define BFCR_MODEL_TRAILER_BYTES 8
/* Longest name or category accepted (bytes). */
#define BFCR_MODEL_MAX_STR (1 << 20)

/* CRC-64/XZ (ECMA-182 polynomial, reflected, init and final xor all ones) of len
 * bytes, continued from crc (start with 0). Detects every error burst of up to 64 bits
 * (so every single-bit flip); check value of "123456789" is 0x995DC9BBDF1939FA. */
uint64_t bfcr_crc64(uint64_t crc, const void *data, size_t len);

/* Check the invariants every stored model satisfies (the same rules load enforces):
 * sizes and indices in range, enums valid, finite coefficients, centroids and
 * standardization, positive scales. name prefixes the messages. BFCR_ERR_FORMAT. */
bfcr_status bfcr_model_validate(bfcr_ctx *ctx, const char *name, const bfcr_model *m);

/* Serialize a valid model into a new malloc'd buffer of *len bytes. Local. */
bfcr_status bfcr_model_encode(bfcr_ctx *ctx, const bfcr_model *m, unsigned char **buf, size_t *len);

/* Parse and validate len bytes (name is used in messages, e.g. the file path). On
 * failure *out is NULL and nothing is leaked. A file of a newer minor version is read
 * (unknown sections and appended fields skipped) with a warning logged. Local. */
bfcr_status bfcr_model_decode(bfcr_ctx *ctx, const char *name, const unsigned char *buf, size_t len,
                              bfcr_model **out);

#endif
