/* Internal pieces shared by the synthetic generator (synth.c) and its CSV writer
 * (synth_csv.c): parameter checks, the cluster parameters, row generation. */
#ifndef BFCR_SYNTH_IMPL_H
#define BFCR_SYNTH_IMPL_H

#include <stddef.h>
#include <stdint.h>
#include "bfcr/synth.h"

/* The drawn cluster parameters of one parameter set. */
typedef struct bfcr_synth_model {
  bfcr_synth_params p;
  double *centre; /* [clusters * d] */
  double *beta;   /* [clusters * d] */
  double *b;      /* [clusters] */
  double *A;      /* [d * k] row-major latent map (latent_dim = k > 0), else NULL */
} bfcr_synth_model;

/* BFCR_OK, or BFCR_ERR_ARG with the reason in msg. */
bfcr_status bfcr_synth_check(const bfcr_synth_params *p, char *msg, size_t len);
/* Checked parameters -> drawn cluster parameters (BFCR_ERR_NOMEM on allocation failure). */
bfcr_status bfcr_synth_model_init(bfcr_synth_model *m, const bfcr_synth_params *p);
void bfcr_synth_model_free(bfcr_synth_model *m);
/* Rows [first, first + count): X (count x d), y (count), label (count, or NULL). */
void bfcr_synth_model_rows(const bfcr_synth_model *m, int64_t first, int64_t count, double *X,
                           double *y, int64_t *label);
/* First global row of block r of n rows over P ranks: floor(r * n / P) without overflow. */
int64_t bfcr_synth_block_start(int64_t n, int P, int r);
/* bfcr_synth_write_csv with round_rows_per_rank rows formatted per rank per round
 * (0: automatic, about 64 MiB of text per round); tests use small rounds. Collective. */
bfcr_status bfcr_synth_write_csv_rounds(bfcr_ctx *ctx, const bfcr_synth_params *p, const char *path,
                                        int64_t round_rows_per_rank);
/* Replace the first occurrence of the locale's decimal separator sep in the number
 * s (len bytes, NUL-terminated) by '.'; returns the new length. */
size_t bfcr_synth_point_fix(char *s, size_t len, const char *sep);

#endif
