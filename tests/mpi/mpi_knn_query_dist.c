/* ranks: 1 2 3 4 */
/* The distributed nearest-reference search (bfcr_knn_query_dist: slabs for low d, the ring
 * for the GEMM range) equals the one-process exact scan bit for bit: nearest index, the bits
 * of dist2 and the tag of the nearest row, for 1-4 ranks, 1 and 2 threads, the automatic,
 * tree (slabs) and GEMM (ring) methods; reference blocks even, uneven (rank 0 empty) and all
 * on the last rank; query blocks of other sizes (some ranks without queries). Data: blobs at
 * d = 1, 2, 8, 20 with queries that copy reference rows, come from other blobs or lie far
 * outside every slab; integer grids doubled (ties by index) queried at half-integer points
 * (many equidistant rows); copies of a few rows; fewer reference rows than ranks; more
 * queries on a rank than one round holds. A bad layout fails with the same status on every
 * rank. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "knn/knn.h"
#include "knn/knn_query_dist.h"
#include "mpitest.h"

/* Queries: a third copies of reference rows, a third fresh rows of the same blobs, the rest
 * of other blobs, and every 50th far outside the data. */
static double *make_queries(const double *R, int64_t nR, int64_t m, int d, uint64_t cs,
                            uint64_t seed) {
  double *Q = mt_blobs(m, d, cs, seed + 1), *O = mt_blobs(m, d, cs + 99, seed + 2);
  for (int64_t i = 0; i < m; i++) {
    const uint64_t r = mt_rng(&seed);
    if (i % 50 == 49) {
      for (int k = 0; k < d; k++) Q[i * d + k] = (k % 2 ? -1e3 : 1e3) * (1.0 + (double)(r % 7));
    } else if (nR > 0 && r % 3 == 0) {
      memcpy(Q + i * d, R + (int64_t)(r / 3 % (uint64_t)nR) * d, (size_t)d * sizeof(double));
    } else if (r % 3 == 1) {
      memcpy(Q + i * d, O + i * d, (size_t)d * sizeof(double));
    }
  }
  free(O);
  return Q;
}

/* Half-integer points of the grid's box: equidistant from 2^d grid points. */
static double *make_half(int64_t m, int side, int d, uint64_t seed) {
  double *Q = malloc((size_t)(m * d) * sizeof(double));
  for (int64_t i = 0; i < m * d; i++)
    Q[i] = (double)(int64_t)(mt_rng(&seed) % (uint64_t)side) - side / 2 - 0.5;
  return Q;
}

static void check_case(bfcr_ctx *ctx, const char *name, const double *R, int64_t nR,
                       const double *Q, int64_t m, int d) {
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  int64_t *nn0 = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  int64_t *nn = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  int64_t *tag = malloc((size_t)(m > 0 ? m : 1) * sizeof(int64_t));
  int64_t *Rtag = malloc((size_t)(nR > 0 ? nR : 1) * sizeof(int64_t));
  double *d0 = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
  double *d2 = malloc((size_t)(m > 0 ? m : 1) * sizeof(double));
  bfcr_knn_brute(R, nR, d, Q, m, 0, nn0, d0);
  for (int64_t j = 0; j < nR; j++) Rtag[j] = 7 * j + 3;
  for (int threads = 1; threads <= 2; threads++) {
    bfcr_ctx_set_threads(ctx, threads);
    for (int how = 0; how < 6; how++) {
      if (threads == 2 && how != 1) continue; /* threads change nothing across ranks */
      /* how 4, 5: even blocks with the slabs (tree) and the ring (GEMM) forced. */
      ctx->nn_method = how == 4 ? BFCR_NN_TREE : how == 5 ? BFCR_NN_GEMM : BFCR_NN_AUTO;
      int64_t lo, hi, qlo, qhi;
      mt_block(nR, P, rank, how > 3 ? 0 : how, &lo, &hi);
      mt_block(m, P, rank, how > 3 ? 0 : 3 - how, &qlo, &qhi); /* queries laid out otherwise */
      const int64_t mq = qhi - qlo;
      for (int64_t i = 0; i < mq; i++) {
        nn[i] = -7;
        tag[i] = -7;
        d2[i] = -7.0;
      }
      bfcr_status st = bfcr_knn_query_dist(ctx, R + lo * d, Rtag + lo, hi - lo, lo, d, Q + qlo * d,
                                           mq, nn, d2, tag);
      MT_CHECK(st == BFCR_OK, "%s (layout %d, %d threads): status %d: %s", name, how, threads,
               (int)st, bfcr_ctx_errmsg(ctx));
      if (st != BFCR_OK) continue;
      int64_t bad = 0, first = -1;
      for (int64_t i = 0; i < mq; i++) {
        const int64_t g = qlo + i;
        const int64_t want_tag = nn0[g] >= 0 ? Rtag[nn0[g]] : tag[i];
        if (nn[i] != nn0[g] || memcmp(&d2[i], &d0[g], sizeof(double)) != 0 || tag[i] != want_tag) {
          if (first < 0) first = i;
          bad++;
        }
      }
      MT_CHECK(bad == 0,
               "%s (nR = %lld, d = %d, layout %d, %d threads): %lld queries differ, first %lld: "
               "nn %lld vs %lld, dist2 %.17g vs %.17g",
               name, (long long)nR, d, how, threads, (long long)bad, (long long)first,
               (long long)(first >= 0 ? nn[first] : 0),
               (long long)(first >= 0 ? nn0[qlo + first] : 0), first >= 0 ? d2[first] : 0.0,
               first >= 0 ? d0[qlo + first] : 0.0);
    }
  }
  bfcr_ctx_set_threads(ctx, 1);
  ctx->nn_method = BFCR_NN_AUTO;
  free(nn0);
  free(nn);
  free(tag);
  free(Rtag);
  free(d0);
  free(d2);
}

static void check_errors(bfcr_ctx *ctx) {
  const int P = bfcr_ctx_size(ctx), rank = bfcr_ctx_rank(ctx);
  if (P == 1) return; /* one block always tiles */
  const int64_t n = 40;
  const int d = 3;
  double *R = mt_blobs(n, d, 1, 2);
  int64_t nn[40];
  double d2[40];
  int64_t lo = n * rank / P, hi = n * (rank + 1) / P;
  /* A gap before the last rank's block: every rank must report BFCR_ERR_ARG. */
  const int64_t off = lo + (rank == P - 1 ? 1 : 0);
  const int64_t cnt = hi - off;
  bfcr_status st = bfcr_knn_query_dist(ctx, R + off * d, NULL, cnt, off, d, R, 5, nn, d2, NULL);
  MT_CHECK(st == BFCR_ERR_ARG, "bad layout: status %d", (int)st);
  bfcr_ctx_clear_error(ctx);
  free(R);
}

int main(int argc, char **argv) {
  mt_init(&argc, &argv);
  bfcr_ctx *ctx = NULL;
  bfcr_ctx_create(MPI_COMM_WORLD, &ctx);
  const int P = bfcr_ctx_size(ctx);
  static const struct {
    int64_t nR, m;
    int d;
  } blobs[] = {{6000, 2500, 2}, {5000, 2000, 8}, {3000, 1200, 1}, {1500, 600, 20}};
  for (size_t c = 0; c < sizeof blobs / sizeof blobs[0]; c++) {
    const int d = blobs[c].d;
    double *R = mt_blobs(blobs[c].nR, d, 100 + c, 200 + c);
    double *Q = make_queries(R, blobs[c].nR, blobs[c].m, d, 100 + c, 300 + c);
    check_case(ctx, "blobs", R, blobs[c].nR, Q, blobs[c].m, d);
    free(R);
    free(Q);
  }
  /* More queries on a rank than one round of the slab search holds (65536). */
  {
    double *R = mt_blobs(1000, 2, 70, 71), *Q = make_queries(R, 1000, 135000, 2, 70, 72);
    check_case(ctx, "many queries", R, 1000, Q, 135000, 2);
    free(R);
    free(Q);
  }
  /* Ties: duplicated grid points, queries equidistant from 2^d of them. */
  static const int grid[][2] = {{40, 2}, {10, 3}, {300, 1}};
  for (int c = 0; c < 3; c++) {
    int64_t nR;
    double *R = mt_grid(grid[c][0], grid[c][1], 1, &nR, 40 + c);
    double *Q = make_half(1000, grid[c][0], grid[c][1], 50 + c);
    check_case(ctx, "grid x2, half-integer queries", R, nR, Q, 1000, grid[c][1]);
    free(R);
    free(Q);
  }
  /* Copies of three rows (every slab's rows tie) and tiny reference sets (empty slabs). */
  {
    double *U = mt_blobs(3, 4, 7, 8), *R = malloc(600 * 4 * sizeof(double));
    for (int i = 0; i < 600; i++) memcpy(R + i * 4, U + (i * 7 % 3) * 4, 4 * sizeof(double));
    double *Q = make_queries(R, 600, 300, 4, 7, 9);
    check_case(ctx, "copies of 3 rows", R, 600, Q, 300, 4);
    free(U);
    free(R);
    free(Q);
  }
  for (int64_t nR = 1; nR <= P + 1; nR++) {
    double *R = mt_blobs(nR, 3, 60 + nR, 61), *Q = make_queries(R, nR, 97, 3, 60 + nR, 62);
    check_case(ctx, "tiny reference set", R, nR, Q, 97, 3);
    free(R);
    free(Q);
  }
  check_errors(ctx);
  bfcr_ctx_destroy(&ctx);
  return mt_finish("mpi_knn_query_dist");
}
