/* Coarse boundary queries: the first of two rounds (knn_dist.c, knn_cv_route.c).
 *
 * Most boundary queries find no row within their bound, yet each carried d + 1 doubles.
 * Round 1 sends a query coarsely: 3 B a coordinate (a float with its low mantissa byte
 * cleared, 15 bits, rounded toward zero) and its bound widened by that rounding, as a
 * float rounded up, so that the owner's search with the coarse query is a superset test;
 * the owner answers one bit a query (a row within the widened bound). Round 2 sends the
 * flagged queries exactly. A query dropped in round 1 would have found nothing, so the
 * answers are unchanged bit for bit (docs/knn-distributed.md). */
#ifndef BFCR_KNN_QUERY_COARSE_H
#define BFCR_KNN_QUERY_COARSE_H

#include <stdint.h>

/* Bytes of a coarse query: d coordinates, the float bound. */
#define BFCR_QC_BYTES(d) (3 * (d) + 4)

/* The coarse form of query z (d doubles) with bound b, into c (BFCR_QC_BYTES(d) bytes):
 * every row x with bfcr_dist2(z, x) <= b has bfcr_dist2(zc, x) <= the coarse bound. */
void bfcr_query_coarse(const double *z, double b, int d, unsigned char *c);

/* Query c back to doubles: d coordinates into q, the widened bound into *b. */
void bfcr_query_uncoarse(const unsigned char *c, int d, double *q, double *b);

/* Round 1's one-bit answers travel per sender block: block p of cnt[p] queries takes
 * bytes[p] = (cnt[p] + 7) / 8 bytes at displacement dis[p]. Returns the total. */
int64_t bfcr_qc_layout(int P, const int *cnt, int *bytes, int *dis);

/* Owner: sets bit i of sender p's block (bits, layout bdis) when query dis[p] + i found
 * a row (nn >= 0); then cnt and dis describe the flagged queries only, in order (round
 * 2's receive layout). bits must hold the layout's total bytes. Returns their count. */
int64_t bfcr_qc_mark(int P, int *cnt, int *dis, const int64_t *nn, const int *bdis,
                     unsigned char *bits);

/* Sender: keeps the flagged queries (bits, layout bdis) of rows (stride doubles each)
 * and tag (one int64 each), compacted in place in order; then cnt and dis describe the
 * kept ones (round 2's send layout). Returns their count. */
int64_t bfcr_qc_keep(int P, int *cnt, int *dis, const unsigned char *bits, const int *bdis,
                     double *rows, int stride, int64_t *tag);

#endif
