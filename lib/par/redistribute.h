/* Moving rows between ranks: the balanced block split of a global order, the exchange
 * of rows from input-order blocks into a new order (level-1 order, dendrogram order),
 * and fetching an arbitrary contiguous range of positions (OLS on a straddling node).
 * All exchanges are one MPI_Alltoallv of whole rows (a contiguous datatype of width
 * doubles, so counts are in rows); received rows land directly in position order. */
#ifndef BFCR_PAR_REDISTRIBUTE_H
#define BFCR_PAR_REDISTRIBUTE_H

#include <stdint.h>
#include "core/ctx.h"

/* Balanced block split of n positions over P ranks: rank r holds [lo(r), lo(r + 1));
 * sizes differ by at most one (the first n % P blocks are one larger). */
static inline int64_t bfcr_block_lo(int64_t n, int P, int r) {
  int64_t q = n / P, rem = n % P;
  return q * r + (r < rem ? r : rem);
}
/* Rank whose block holds position p (0 <= p < n). */
static inline int bfcr_block_owner(int64_t n, int P, int64_t p) {
  int64_t q = n / P, rem = n % P, big = (q + 1) * rem;
  if (p < big) return (int)(p / (q + 1));
  return (int)(rem + (p - big) / q);
}

/* Collective. This rank holds global rows [offset, offset + n_local) of n (width
 * doubles each, row-major; the blocks of all ranks tile [0, n) in rank order).
 * pos2g (length n, the same on every rank) is a permutation: the row to place at each
 * position of the new order. *out (malloc'd, NULL when empty) receives the rows at
 * positions [bfcr_block_lo(n, P, rank), bfcr_block_lo(n, P, rank + 1)) in position
 * order. O(n) scan of pos2g per rank plus one Alltoallv. Returns the same status on
 * every rank. */
bfcr_status bfcr_redistribute_rows(bfcr_ctx *ctx, const double *rows, int64_t width,
                                   int64_t n_local, int64_t offset, int64_t n, const int64_t *pos2g,
                                   double **out);

/* The same exchange with the rows produced on the fly: pack(user, i, dst) writes local
 * row i (0 <= i < n_local, width doubles) to dst, so callers that assemble rows from
 * several arrays need no packed copy. Peak memory: the packed local rows plus the
 * received rows plus 8 bytes per received row (they are put in order in place). */
/* Apply the permutation dest (row i goes to slot dest[i]) to m rows of width doubles in
 * place, cycle by cycle with one spare row (width doubles): 8 bytes per row instead of a
 * second copy. dest is left as the identity. */
void bfcr_permute_rows(double *rows, int64_t *dest, int64_t m, int64_t width, double *spare);

typedef void (*bfcr_pack_row_fn)(void *user, int64_t i, double *dst);
bfcr_status bfcr_redistribute_fn(bfcr_ctx *ctx, int64_t width, int64_t n_local, int64_t offset,
                                 int64_t n, const int64_t *pos2g, bfcr_pack_row_fn pack, void *user,
                                 double **out);

/* The same exchange when each rank knows only where its own rows go: dest[i] is the
 * position of local row i (the dests of all ranks form a permutation of [0, n), checked).
 * No rank needs the whole permutation: O(n_local) work per rank; 8 bytes per row travel
 * with the rows. Same result as bfcr_redistribute_fn with the inverse permutation. */
bfcr_status bfcr_redistribute_dest(bfcr_ctx *ctx, int64_t width, int64_t n_local, int64_t n,
                                   const int64_t *dest, bfcr_pack_row_fn pack, void *user,
                                   double **out);

/* Collective. This rank holds the rows of positions [held_lo, held_hi) (the held blocks
 * tile [0, n) in rank order) and wants positions [want_lo, want_hi) (any range,
 * possibly empty or overlapping other ranks' wants). *out (malloc'd, NULL when empty)
 * receives them in position order. Returns the same status on every rank. */
bfcr_status bfcr_fetch_rows(bfcr_ctx *ctx, const double *rows, int64_t width, int64_t held_lo,
                            int64_t held_hi, int64_t want_lo, int64_t want_hi, double **out);

/* Collective: gather variable-sized runs of whole items (item_bytes each) so that every
 * rank holds all items in rank order: this rank contributes `count` items from `mine`,
 * `all` receives the sum of all counts. Returns the same status on every rank. */
bfcr_status bfcr_allgather_items(bfcr_ctx *ctx, const void *mine, int64_t count, size_t item_bytes,
                                 void *all);

#endif
