/* Sums over the rows of all ranks in global row order (sum_rows.c). */
#ifndef BFCR_PAR_SUM_ROWS_H
#define BFCR_PAR_SUM_ROWS_H

#include <stdint.h>
#include "core/ctx.h"

/* Collective. This rank holds rows [offset, offset + n_local) of n (the ranks' blocks
 * tile [0, n) in rank order, empty blocks allowed); v_local holds nv vectors of n_local
 * values, vector j at v_local + j * ld. On return every rank holds out[j] =
 * (((0 + v_0) + v_1) + ... + v_{n-1}) for vector j: the plain left-to-right sum over
 * the global rows, bit-identical to one process's loop for any rank count (see
 * sum_rows.c for why this order and not the pairwise tree of reduce.h). offset and n
 * are checked against the ranks' blocks. Returns the same status on every rank. */
bfcr_status bfcr_sum_rows_canonical(bfcr_ctx *ctx, const double *v_local, int64_t n_local,
                                    int64_t offset, int64_t n, int nv, int64_t ld, double *out);

#endif
