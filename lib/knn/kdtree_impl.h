/* Internal layout of the kd-tree, shared by the build, query and all-pairs files.
 *
 * The points are stored in tree order twice: row-major in X (queries read their own
 * coordinates from it) and leaf-blocked column-major in P: the leaf [lo, hi) of m
 * points occupies P[lo * d, hi * d) and its coordinate k of position p sits at
 * P[lo * d + k * m + (p - lo)]. A leaf is then one contiguous block of d short columns,
 * so the canonical distance from one query to every point of a leaf vectorizes across
 * the leaf's points (and streams from one region of memory) while each pair keeps the
 * canonical summation order k = 0..d-1. idx[p] is the caller's row index of tree
 * position p: ties are broken on it, never on tree positions. */
#ifndef BFCR_KNN_KDTREE_IMPL_H
#define BFCR_KNN_KDTREE_IMPL_H

#include <math.h>
#include <stdint.h>
#include "knn/knn.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* Leaves hold at most this many points (a node of more is split in two halves), so a
 * leaf's candidate mask fits 64 bits. With the fixed-dimension walks (kdtree_walk.h) 64
 * beats 48 on 1M x 8 blobs (leaves of 61 vs 30 points): all points 9% and Davies-Bouldin
 * 13% less CPU time (docs/knn.md). */
#define BFCR_KD_LEAF_MAX 64

typedef struct bfcr_kd_node {
  int64_t lo, hi;    /* tree positions [lo, hi) */
  int64_t right;     /* right child node id; -1 for a leaf (left child is id + 1) */
  int64_t min_index; /* smallest caller index inside: prunes exact ties */
} bfcr_kd_node;

/* The searches that run on every tree, one instance per build (kdtree_walk.h). */
typedef struct bfcr_kd_walks {
  bfcr_status (*allnn_leaves)(const bfcr_kdtree *t, int64_t L0, int64_t L1, int nthreads,
                              int64_t *nn, double *dist2, int64_t pos_base);
  bfcr_status (*query)(const bfcr_kdtree *t, const double *Q, int64_t m, const int64_t *exclude,
                       const double *bound2, int nthreads, int64_t *nn, double *dist2);
  double (*max_ratio)(const bfcr_kdtree *t, const double *w, const double *node_max,
                      const double *q, double wq, int64_t exclude, double best, double *qq);
  bfcr_status (*query_other)(const bfcr_kdtree *t, const double *R, const int64_t *rows, int64_t m,
                             const int *grp, int nthreads, int64_t *nn, double *dist2);
  bfcr_status (*query_grp)(const bfcr_kdtree *t, const double *Q, const int *qgrp, int64_t m,
                           const int *grp, const double *bound2, int nthreads, int64_t *nn,
                           double *dist2);
} bfcr_kd_walks;

struct bfcr_kdtree {
  int64_t n;
  int d;
  double *X;          /* n x d, row-major, tree order */
  double *P;          /* leaf-blocked column-major, tree order (see above) */
  int64_t *idx;       /* tree position -> caller's row index */
  bfcr_kd_node *node; /* preorder: node 0 is the root, left child = id + 1 */
  int64_t nnodes;
  double *bmin, *bmax; /* tight bounding box of node i: [i * d, i * d + d) */
  /* Children's boxes of internal node i side by side, for one pass that bounds both:
   * cb[(i d + k) 4 ...] = lo_left[k], lo_right[k], -hi_left[k], -hi_right[k]. */
  double *cb;
  /* P in float, for the AVX2 walks' filter (kdtree_walk.h, kd_spread): NULL unless the
   * CPU has AVX2 + FMA and fmax = max |coordinate| <= 1e15. */
  float *Pf;
  double fmax;
  int64_t *leaf; /* leaf node ids in tree order */
  int64_t nleaves;
  int avx2; /* the CPU has AVX2 and FMA: 4-wide kernels and walks (checked at build) */
  const bfcr_kd_walks *walks; /* chosen at build time for this CPU and d */
};

/* The walks for a tree of dimension d: plain C (kdtree_walks.c) or AVX2 with d a
 * compile-time constant up to 16 (kdtree_walks_avx2.c). Searches over tree positions
 * write their results at the caller's index of each point, or at the tree position minus
 * pos_base when pos_base >= 0; max_ratio takes a 5 d work buffer. */
const bfcr_kd_walks *bfcr_kd_walks_plain(void);
const bfcr_kd_walks *bfcr_kd_walks_avx2(int d);

/* The squared-distance cut for a weight-sum-to-best ratio r = num / best (see below). */
static inline double bfcr_kd_ratio_cut_r(double r) {
  if (!(r <= 1e150)) return INFINITY;
  if (r < 1e-140) return 1e-280;
  return r * r * (1.0 + 0x1p-40);
}

/* A squared distance above which no point with weight sum <= num can have a ratio above
 * best (kdtree_maxratio.c); +inf when nothing can be skipped. */
static inline double bfcr_kd_ratio_cut(double num, double best) {
  return best > 0.0 ? bfcr_kd_ratio_cut_r(num / best) : INFINITY;
}

/* The same with ib = 1 / best precomputed, for best in [1e-280, 1e280]. */
static inline double bfcr_kd_ratio_cut_inv(double num, double ib) {
  return bfcr_kd_ratio_cut_r(num * ib);
}

/* The same kernel 4 lanes wide (kdtree_avx2.c): separate multiply and add, no FMA, so
 * every lane still rounds exactly like bfcr_dist2; results are bit-identical to the
 * SSE2 kernel. bfcr_kd_cpu_avx2() says whether this CPU runs it. */
void bfcr_kd_leaf_dist_avx2(const double *base, int d, const double *q, int m, double cut,
                            double *acc);
int bfcr_kd_cpu_avx2(void);

/* Squared distance from point q (d values, contiguous) to box [lo, hi]: a lower bound of
 * bfcr_dist2(q, r) for every r in the box, because rounding is monotone and the sum runs
 * in the same order k = 0..d-1 (see docs/knn.md). */
static inline double bfcr_kd_point_box(const double *q, const double *lo, const double *hi, int d) {
  double s = 0.0;
  for (int k = 0; k < d; k++) {
    /* At most one of the two differences is positive (lo <= hi, rounding is
     * monotone), so t is exactly the branchy gap; max keeps this branch-free. */
    double a = lo[k] - q[k], b = q[k] - hi[k];
    double t = (a > 0.0 ? a : 0.0) + (b > 0.0 ? b : 0.0);
    s += t * t;
  }
  return s;
}

/* Squared gap between boxes a and b: a lower bound of the distance of any pair drawn
 * from them, by the same monotonicity argument. */
static inline double bfcr_kd_box_box(const double *alo, const double *ahi, const double *blo,
                                     const double *bhi, int d) {
  double s = 0.0;
  for (int k = 0; k < d; k++) {
    double t = 0.0;
    if (ahi[k] < blo[k]) {
      t = blo[k] - ahi[k];
    } else if (bhi[k] < alo[k]) {
      t = alo[k] - bhi[k];
    }
    s += t * t;
  }
  return s;
}

/* Canonical squared distances from q to the m points of a leaf starting at tree
 * position lo: acc[j] = bfcr_dist2(q, point lo + j) bit for bit whenever that value is
 * <= cut; otherwise acc[j] is some value > cut (a partial sum: partial sums only grow,
 * since every added term is >= 0, so a block of points whose partial sums all exceed
 * cut stops early without changing any answer). Blocks of 8 points keep their partial
 * sums in registers across the d coordinates; each pair sums k = 0..d-1 in order. */
#define BFCR_KD_BLOCK 8
static inline void bfcr_kd_leaf_dist(const bfcr_kdtree *t, const double *q, int64_t lo, int m,
                                     double cut, double *restrict acc) {
  const int d = t->d;
  const double *restrict base = t->P + lo * d;
  int j0 = 0;
  if (t->avx2) {
    bfcr_kd_leaf_dist_avx2(base, d, q, m, cut, acc);
    return;
  }
#ifdef __SSE2__
  /* Plain SSE2 (the x86-64 baseline): separate multiply and add, no FMA, so each lane
   * rounds exactly like bfcr_dist2. */
  const __m128d cutv = _mm_set1_pd(cut);
  for (; j0 + BFCR_KD_BLOCK <= m; j0 += BFCR_KD_BLOCK) {
    __m128d a0 = _mm_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    for (int k = 0; k < d; k++) {
      const __m128d qk = _mm_set1_pd(q[k]);
      const double *col = base + (int64_t)k * m + j0;
      __m128d u0 = _mm_sub_pd(qk, _mm_loadu_pd(col));
      __m128d u1 = _mm_sub_pd(qk, _mm_loadu_pd(col + 2));
      __m128d u2 = _mm_sub_pd(qk, _mm_loadu_pd(col + 4));
      __m128d u3 = _mm_sub_pd(qk, _mm_loadu_pd(col + 6));
      a0 = _mm_add_pd(a0, _mm_mul_pd(u0, u0));
      a1 = _mm_add_pd(a1, _mm_mul_pd(u1, u1));
      a2 = _mm_add_pd(a2, _mm_mul_pd(u2, u2));
      a3 = _mm_add_pd(a3, _mm_mul_pd(u3, u3));
      if ((k & 1) && k + 1 < d) {
        __m128d le = _mm_or_pd(_mm_or_pd(_mm_cmple_pd(a0, cutv), _mm_cmple_pd(a1, cutv)),
                               _mm_or_pd(_mm_cmple_pd(a2, cutv), _mm_cmple_pd(a3, cutv)));
        if (_mm_movemask_pd(le) == 0) break;
      }
    }
    _mm_storeu_pd(acc + j0, a0);
    _mm_storeu_pd(acc + j0 + 2, a1);
    _mm_storeu_pd(acc + j0 + 4, a2);
    _mm_storeu_pd(acc + j0 + 6, a3);
  }
#else
  (void)cut;
#endif
  for (int j = j0; j < m; j++) acc[j] = 0.0;
  for (int k = 0; k < d; k++) {
    const double qk = q[k];
    const double *restrict col = base + (int64_t)k * m;
    for (int j = j0; j < m; j++) {
      double u = qk - col[j];
      acc[j] += u * u;
    }
  }
}

/* Push both children of a node on a search stack, the one to visit first (first_l
 * better, ties to the left child l) on top, each with its lower bound. */
static inline void bfcr_kd_push2(int64_t *stack_id, double *stack_lb, int *sp, int64_t l, double ll,
                                 int64_t r, double lr, int l_first) {
  int s = *sp;
  if (l_first) {
    stack_id[s] = r;
    stack_lb[s++] = lr;
    stack_id[s] = l;
    stack_lb[s++] = ll;
  } else {
    stack_id[s] = l;
    stack_lb[s++] = ll;
    stack_id[s] = r;
    stack_lb[s++] = lr;
  }
  *sp = s;
}

#endif
