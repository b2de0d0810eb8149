/* The kd-tree walks — all points' best friends, outside queries, the Davies-Bouldin
 * largest ratio — written once and compiled as several instances: plain C
 * (kdtree_walks.c) and AVX2 (kdtree_walks_avx2.c, under a target pragma) with the
 * dimension a compile-time constant for d <= 16, so coordinate loops unroll and the
 * bounds and leaf kernel inline into the walk. The tree picks its instance when it is
 * built (t->walks).
 *
 * The includer defines KD_AVX2 (0/1), KD_FN(name) (a suffix per instance) and
 * optionally KD_DIM. Per node of a walk:
 *   - bounds of BOTH children in one pass over their side-by-side boxes (t->cb): the
 *     same operations in the same order as bfcr_kd_point_box, 2 children x (lo, hi) in
 *     the 4 lanes, so the bounds are bit-identical in every instance and remain exact
 *     lower bounds of the canonical distance (monotone rounding, docs/knn.md);
 *   - the nearer child is entered directly; the other is pushed only if it can still
 *     hold a better point, and checked again when popped (the best only improves);
 *   - a leaf is scanned by a kernel that returns the bit mask of its points within the
 *     current best (canonical distances, bit-identical to bfcr_dist2), so a leaf with
 *     nothing better costs no pass over its points.
 * Measured (1M x 8 blobs, all points, 1 thread): 157 nodes opened and 57 leaves of ~30
 * points scanned per query; 6.6 -> 5.1 CPU s against the former generic walk. Every
 * instance gives the same answers: bounds decide what is visited, candidates are
 * compared by canonical distance and index. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "knn/kdtree_impl.h"

#if KD_AVX2
#include <immintrin.h>
#endif

#define KD_STACK 192
/* The kernel and bounds are called from three walks; left to itself the compiler keeps
 * the kernel out of line in some of them. */
#if defined(__GNUC__) || defined(__clang__)
#define KD_INLINE static inline __attribute__((always_inline))
#else
#define KD_INLINE static inline
#endif

_Static_assert(BFCR_KD_LEAF_MAX <= 64, "leaf masks are 64-bit");

/* The dimension: a constant when KD_DIM is given, else read from the tree. */
#ifdef KD_DIM
#define KD_D KD_DIM
#else
#define KD_D (t->d)
#endif

static inline int KD_FN(kd_ctz)(uint64_t m) {
#if defined(__GNUC__) || defined(__clang__)
  return __builtin_ctzll(m);
#else
  int j = 0;
  while (!(m & 1)) {
    m >>= 1;
    j++;
  }
  return j;
#endif
}

/* Lower bounds of the distance from q to every point of node id's left and right child:
 * bfcr_kd_point_box of each child's box, bit for bit. qq holds (q_k, q_k, -q_k, -q_k) per
 * k, the side-by-side boxes (lo_l, lo_r, -hi_l, -hi_r): one 4-wide subtraction gives
 * lo - q for both children and -hi + q = q - hi (the same real number, so the same
 * rounding); the two halves are then added and squared, and summed in the order
 * k = 0..d-1 like the canonical distance. */
KD_INLINE void KD_FN(kd_child_lb)(const bfcr_kdtree *t, const double *qq, int64_t id, double *ll,
                                  double *lr) {
  const int d = KD_D;
  const double *c = t->cb + id * 4 * d;
#if KD_AVX2
  const __m256d z = _mm256_setzero_pd();
  __m128d s = _mm_setzero_pd();
  for (int k = 0; k < d; k++) {
    const __m256d g =
        _mm256_max_pd(_mm256_sub_pd(_mm256_loadu_pd(c + 4 * k), _mm256_loadu_pd(qq + 4 * k)), z);
    const __m128d tk = _mm_add_pd(_mm256_castpd256_pd128(g), _mm256_extractf128_pd(g, 1));
    s = _mm_add_pd(s, _mm_mul_pd(tk, tk));
  }
  *ll = _mm_cvtsd_f64(s);
  *lr = _mm_cvtsd_f64(_mm_unpackhi_pd(s, s));
#else
  double sl = 0.0, sr = 0.0;
  for (int k = 0; k < d; k++) {
    const double q = qq[4 * k];
    const double al = c[4 * k] - q, ar = c[4 * k + 1] - q;
    const double bl = q + c[4 * k + 2], br = q + c[4 * k + 3];
    const double tl = (al > 0.0 ? al : 0.0) + (bl > 0.0 ? bl : 0.0);
    const double tr = (ar > 0.0 ? ar : 0.0) + (br > 0.0 ? br : 0.0);
    sl += tl * tl;
    sr += tr * tr;
  }
  *ll = sl;
  *lr = sr;
#endif
}

/* The float cut of the filter below for the double cut (see kd_spread for the margin):
 * every point whose canonical distance is <= cut has a float sum of squares <= the
 * returned value. A walk keeps it while its best is unchanged (a square root and a
 * rounding step less per leaf). */
static inline float KD_FN(kd_float_cut)(double fm, double cut, int d) {
  const double r = sqrt(cut) * (1.0 + 0x1p-22) + fm;
  const double cd = r * r * (1.0 + (double)(d + 2) * 0x1p-23) + 1e-43;
  float cf = cd >= 3e38 ? INFINITY : (float)cd;
  if ((double)cf < cd) { /* rounded down: the next float up (cf is positive, finite) */
    uint32_t u;
    memcpy(&u, &cf, sizeof u);
    u++;
    memcpy(&cf, &u, sizeof u);
  }
  return cf;
}

#if KD_AVX2
/* The float filter of kd_leaf_mask: bit j set when point j may be within cut (cf =
 * kd_float_cut(fm, cut)), every point of the leaf when cut is +inf. Each block of 8
 * points sums its squares in two chains (even and odd k) added at the end: every term
 * goes through at most d roundings, as the margin allows, in half the latency. */
KD_INLINE uint64_t KD_FN(kd_leaf_filter)(const bfcr_kdtree *t, const float *qf, int64_t lo, int m,
                                         double cut, float cf) {
  const int d = KD_D;
  if (!(cut < INFINITY) || m < 8) return m == 64 ? ~(uint64_t)0 : ((uint64_t)1 << m) - 1;
  const __m256 cv = _mm256_set1_ps(cf);
  const float *base = t->Pf + lo * d;
  uint64_t cand = 0;
  /* Blocks of 8; the last one ends at m (overlap: the same bits again). */
  for (int next = 0; next < m; next += 8) {
    const int j0 = next + 8 <= m ? next : m - 8;
    __m256 a = _mm256_setzero_ps(), b = a;
    int k = 0;
    for (; k + 1 < d; k += 2) {
      const __m256 u = _mm256_sub_ps(_mm256_set1_ps(qf[k]), _mm256_loadu_ps(base + k * m + j0));
      const __m256 v =
          _mm256_sub_ps(_mm256_set1_ps(qf[k + 1]), _mm256_loadu_ps(base + (k + 1) * m + j0));
      a = _mm256_fmadd_ps(u, u, a);
      b = _mm256_fmadd_ps(v, v, b);
    }
    if (k < d) {
      const __m256 u = _mm256_sub_ps(_mm256_set1_ps(qf[k]), _mm256_loadu_ps(base + k * m + j0));
      a = _mm256_fmadd_ps(u, u, a);
    }
    a = _mm256_add_ps(a, b);
    cand |= (uint64_t)_mm256_movemask_ps(_mm256_cmp_ps(a, cv, _CMP_LE_OQ)) << j0;
  }
  return cand;
}
#endif

/* Canonical distances from q to the leaf at tree position lo (bfcr_kd_leaf_dist) and
 * the mask of the points whose distance is <= cut; acc[j] is only meaningful for bits
 * set. fm >= 0: the AVX2 build filters in float first (qq from kd_spread) and computes
 * canonical distances for the candidates only. */
KD_INLINE uint64_t KD_FN(kd_leaf_mask)(const bfcr_kdtree *t, const double *q, const double *qq,
                                       double fm, int64_t lo, int m, double cut, float cf,
                                       double *restrict acc) {
#if KD_AVX2
  const int d = KD_D;
  if (fm >= 0.0) {
    uint64_t cand = KD_FN(kd_leaf_filter)(t, (const float *)(qq + 4 * d), lo, m, cut, cf);
    uint64_t mask = 0;
    while (cand) {
      const int j = KD_FN(kd_ctz)(cand);
      cand &= cand - 1;
      const double v = bfcr_dist2(q, t->X + (lo + j) * d, d);
      acc[j] = v;
      if (v <= cut) mask |= (uint64_t)1 << j;
    }
    return mask;
  }
  const double *restrict base = t->P + lo * d;
  const __m256d cutv = _mm256_set1_pd(cut);
  uint64_t mask = 0;
  int j0 = 0;
  for (; j0 + 16 <= m; j0 += 16) {
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    int k = 0;
    for (; k < d; k++) {
      const __m256d qk = _mm256_set1_pd(q[k]);
      const double *col = base + (int64_t)k * m + j0;
      const __m256d u0 = _mm256_sub_pd(qk, _mm256_loadu_pd(col));
      const __m256d u1 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 4));
      const __m256d u2 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 8));
      const __m256d u3 = _mm256_sub_pd(qk, _mm256_loadu_pd(col + 12));
      a0 = _mm256_add_pd(a0, _mm256_mul_pd(u0, u0));
      a1 = _mm256_add_pd(a1, _mm256_mul_pd(u1, u1));
      a2 = _mm256_add_pd(a2, _mm256_mul_pd(u2, u2));
      a3 = _mm256_add_pd(a3, _mm256_mul_pd(u3, u3));
      /* Early exit only in wide trees: for d <= 8 a full block costs less than the
       * mispredicted exits (measured 3% faster on 8-d blobs without them). */
      if (d > 8 && (k & 3) == 3 && k + 1 < d) {
        const __m256d le = _mm256_or_pd(
            _mm256_or_pd(_mm256_cmp_pd(a0, cutv, _CMP_LE_OQ), _mm256_cmp_pd(a1, cutv, _CMP_LE_OQ)),
            _mm256_or_pd(_mm256_cmp_pd(a2, cutv, _CMP_LE_OQ), _mm256_cmp_pd(a3, cutv, _CMP_LE_OQ)));
        if (_mm256_movemask_pd(le) == 0) break;
      }
    }
    if (k < d) continue; /* every partial sum already exceeds cut: no bit */
    _mm256_storeu_pd(acc + j0, a0);
    _mm256_storeu_pd(acc + j0 + 4, a1);
    _mm256_storeu_pd(acc + j0 + 8, a2);
    _mm256_storeu_pd(acc + j0 + 12, a3);
    const uint64_t b = (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(a0, cutv, _CMP_LE_OQ)) |
                       (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(a1, cutv, _CMP_LE_OQ)) << 4 |
                       (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(a2, cutv, _CMP_LE_OQ)) << 8 |
                       (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(a3, cutv, _CMP_LE_OQ)) << 12;
    mask |= b << j0;
  }
  for (; j0 + 4 <= m; j0 += 4) {
    __m256d a = _mm256_setzero_pd();
    for (int k = 0; k < d; k++) {
      const __m256d u =
          _mm256_sub_pd(_mm256_set1_pd(q[k]), _mm256_loadu_pd(base + (int64_t)k * m + j0));
      a = _mm256_add_pd(a, _mm256_mul_pd(u, u));
    }
    _mm256_storeu_pd(acc + j0, a);
    mask |= (uint64_t)_mm256_movemask_pd(_mm256_cmp_pd(a, cutv, _CMP_LE_OQ)) << j0;
  }
  for (int j = j0; j < m; j++) {
    double s = 0.0;
    for (int k = 0; k < d; k++) {
      const double u = q[k] - base[(int64_t)k * m + j];
      s += u * u;
    }
    acc[j] = s;
    if (s <= cut) mask |= (uint64_t)1 << j;
  }
  return mask;
#else
  (void)qq, (void)fm, (void)cf;
  bfcr_kd_leaf_dist(t, q, lo, m, cut, acc);
  uint64_t mask = 0;
  for (int j = 0; j < m; j++) {
    if (acc[j] <= cut) mask |= (uint64_t)1 << j;
  }
  return mask;
#endif
}

/* Fold the masked points of a leaf into the best (bd, bj), skipping tree position self,
 * caller index excl and (grp non-NULL) every caller index j with grp[j] == qg. */
static inline void KD_FN(kd_fold)(const bfcr_kdtree *t, const double *acc, uint64_t mask,
                                  int64_t lo, int64_t self, int64_t excl, const int *grp, int qg,
                                  double *bd, int64_t *bj) {
  while (mask) {
    const int j = KD_FN(kd_ctz)(mask);
    mask &= mask - 1;
    const double a = acc[j];
    if (a <= *bd && lo + j != self) {
      const int64_t gj = t->idx[lo + j];
      if ((a < *bd || gj < *bj) && gj != excl && (!grp || grp[gj] != qg)) {
        *bd = a;
        *bj = gj;
      }
    }
  }
}

/* May node id, with lower bound lb, still hold a point better than (bd, bj)? */
static inline int KD_FN(kd_open)(const bfcr_kdtree *t, int64_t id, double lb, double bd,
                                 int64_t bj) {
  return lb < bd || (lb == bd && t->node[id].min_index < bj);
}

/* The query as kd_child_lb reads it. */
/* The query as the walk reads it: qq[0, 4 d) for kd_child_lb, then (AVX2 build, when
 * the tree has float points) the query in float. Returns the float filter's margin fm,
 * or -1 for no float filter.
 * Why a float filter is exact: with M = max |coordinate| of tree and query, rounding to
 * float moves each coordinate difference by at most 2^-23 M (+ 2^-149 near zero) and
 * scales it by at most 1 + 2^-24, so by the triangle inequality the float difference
 * vector is at most (1 + 2^-24) |q - p| + sqrt(d) (2^-23 M + 2^-148) long; the float
 * sum of squares (FMA, d roundings of 2^-24) then stays below ((1 + 2^-22) sqrt(cut) +
 * fm)^2 (1 + (d + 2) 2^-23) + 1e-43 whenever the canonical distance is <= cut (which is
 * within (d + 3) 2^-53 of |q - p|^2), fm = sqrt(d) (2^-22 M + 1e-44). Every point
 * passing that cut is then measured canonically. Trees with M > 1e15 (float squares
 * could overflow) keep the double kernel. */
static inline double KD_FN(kd_spread)(const bfcr_kdtree *t, const double *q, double *qq) {
  double mq = 0.0;
  for (int k = 0; k < KD_D; k++) {
    qq[4 * k] = qq[4 * k + 1] = q[k];
    qq[4 * k + 2] = qq[4 * k + 3] = -q[k];
    const double a = fabs(q[k]);
    mq = a > mq ? a : mq;
  }
#if KD_AVX2
  if (!t->Pf) return -1.0;
  if (t->fmax > mq) mq = t->fmax;
  if (!(mq <= 1e15)) return -1.0;
  float *qf = (float *)(qq + 4 * KD_D);
  for (int k = 0; k < KD_D; k++) qf[k] = (float)q[k];
  return sqrt((double)KD_D) * (0x1p-22 * mq + 1e-44);
#else
  (void)t, (void)mq;
  return -1.0;
#endif
}

/* Best (dist2, index) for q from (bd, bj), never taking tree position self, caller
 * index excl or (grp non-NULL) a caller index j with grp[j] == qg, and never entering
 * leaf qleaf (already scanned); -1 for none. Inlined, so the grp test vanishes from the
 * walks that pass NULL. Skipping points leaves the bounds valid (a node's box and
 * min_index bound its remaining points too), so the search stays exact. */
KD_INLINE void KD_FN(kd_point_walk)(const bfcr_kdtree *t, const double *q, int64_t self,
                                    int64_t excl, const int *grp, int qg, int64_t qleaf,
                                    double *bd_io, int64_t *bj_io, double *acc, double *qq) {
  const double fm = KD_FN(kd_spread)(t, q, qq);
  double bd = *bd_io;
  int64_t bj = *bj_io;
  /* The float filter's cut for the best it was computed for (NaN: none yet). */
  double cf_for = NAN;
  float cf = INFINITY;
  int64_t stack_id[KD_STACK];
  double stack_lb[KD_STACK];
  int sp = 0;
  int64_t id = 0;
  for (;;) {
    const bfcr_kd_node *nd = &t->node[id];
    if (nd->right >= 0) {
      double ll, lr;
      KD_FN(kd_child_lb)(t, qq, id, &ll, &lr);
      /* Branches, not selects: predicted, they let the next node's loads start early
       * (selects measured 15% slower). */
      const int lfirst = ll <= lr;
      const int64_t near = lfirst ? id + 1 : nd->right, far = lfirst ? nd->right : id + 1;
      const double nlb = lfirst ? ll : lr, flb = lfirst ? lr : ll;
      if (KD_FN(kd_open)(t, far, flb, bd, bj)) {
        stack_id[sp] = far;
        stack_lb[sp++] = flb;
      }
      if (KD_FN(kd_open)(t, near, nlb, bd, bj)) {
        id = near;
        continue;
      }
    } else if (id != qleaf) {
      const int m = (int)(nd->hi - nd->lo);
      if (fm >= 0.0 && !(bd == cf_for) && bd < INFINITY) {
        cf = KD_FN(kd_float_cut)(fm, bd, KD_D);
        cf_for = bd;
      }
      const uint64_t mask = KD_FN(kd_leaf_mask)(t, q, qq, fm, nd->lo, m, bd, cf, acc);
      KD_FN(kd_fold)(t, acc, mask, nd->lo, self, excl, grp, qg, &bd, &bj);
    }
    id = -1;
    while (sp > 0) {
      sp--;
      if (KD_FN(kd_open)(t, stack_id[sp], stack_lb[sp], bd, bj)) {
        id = stack_id[sp];
        break;
      }
    }
    if (id < 0) break;
  }
  *bd_io = bd;
  *bj_io = bj;
}

typedef struct {
  double bd[BFCR_KD_LEAF_MAX];
  int64_t bj[BFCR_KD_LEAF_MAX];
  double acc[BFCR_KD_LEAF_MAX];
  double *qq; /* 5 d (kd_spread) */
} KD_FN(kd_work);

static KD_FN(kd_work) * KD_FN(kd_work_new)(const bfcr_kdtree *t) {
  KD_FN(kd_work) *w = malloc(sizeof(*w));
  if (w && !(w->qq = malloc((size_t)t->d * 5 * sizeof(double)))) {
    free(w);
    w = NULL;
  }
  return w;
}

static void KD_FN(kd_work_free)(KD_FN(kd_work) * w) {
  if (w) free(w->qq);
  free(w);
}

/* Every point of leaf qleaf: seeded with its best friend inside the leaf (a small bound
 * before any walk starts), then one walk per point. */
static void KD_FN(kd_allnn_leaf)(const bfcr_kdtree *t, int64_t qleaf, KD_FN(kd_work) * w,
                                 int64_t *nn, double *dist2, int64_t pos_base) {
  const int d = KD_D;
  const bfcr_kd_node *qn = &t->node[qleaf];
  const int64_t qlo = qn->lo;
  const int m = (int)(qn->hi - qn->lo);
  const double *q = t->X + qlo * d;
  for (int i = 0; i < m; i++) {
    w->bd[i] = INFINITY;
    w->bj[i] = INT64_MAX;
    const uint64_t mask =
        KD_FN(kd_leaf_mask)(t, q + i * d, w->qq, -1.0, qlo, m, INFINITY, INFINITY, w->acc);
    KD_FN(kd_fold)(t, w->acc, mask, qlo, qlo + i, -1, NULL, 0, &w->bd[i], &w->bj[i]);
  }
  for (int i = 0; i < m; i++) KD_FN(kd_point_walk)
  (t, q + i * d, qlo + i, -1, NULL, 0, qleaf, &w->bd[i], &w->bj[i], w->acc, w->qq);
  for (int i = 0; i < m; i++) {
    const int64_t gi = pos_base >= 0 ? qlo + i - pos_base : t->idx[qlo + i];
    nn[gi] = w->bj[i];
    dist2[gi] = w->bd[i];
  }
}

static bfcr_status KD_FN(kd_allnn_leaves)(const bfcr_kdtree *t, int64_t L0, int64_t L1,
                                          int nthreads, int64_t *nn, double *dist2,
                                          int64_t pos_base) {
  const int nt = nthreads < 1 ? 1 : nthreads;
  int failed = 0;
#pragma omp parallel num_threads(nt) default(none) shared(t, nn, dist2, failed, L0, L1, pos_base)
  {
    KD_FN(kd_work) *w = KD_FN(kd_work_new)(t);
    if (!w) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 4)
    for (int64_t L = L0; L < L1; L++) {
      if (w) KD_FN(kd_allnn_leaf)(t, t->leaf[L], w, nn, dist2, pos_base);
    }
    KD_FN(kd_work_free)(w);
  }
  return failed ? BFCR_ERR_NOMEM : BFCR_OK;
}

/* Outside queries, one walk each, in parallel: query i is row rows[i] of Q when rows is
 * given (the tree's own caller matrix), else row i. It skips caller index exclude[i]
 * (exclude non-NULL) and, grp non-NULL, every tree point of its group: qgrp[i], or
 * grp[rows[i]] without qgrp; it starts from bound2[i] (bound2 non-NULL). One loop serves
 * bfcr_kdtree_query, _query_other and _query_grp; the group test costs one
 * well-predicted branch per candidate point of a scanned leaf. */
static bfcr_status KD_FN(kd_queries)(const bfcr_kdtree *t, const double *Q, const int64_t *rows,
                                     int64_t m, const int64_t *exclude, const int *qgrp,
                                     const int *grp, const double *bound2, int nthreads,
                                     int64_t *nn, double *dist2) {
  const int nt = nthreads < 1 ? 1 : nthreads;
  int failed = 0;
#pragma omp parallel num_threads(nt) default(none) \
    shared(t, Q, rows, m, exclude, qgrp, grp, bound2, nn, dist2, failed)
  {
    KD_FN(kd_work) *w = KD_FN(kd_work_new)(t);
    if (!w) {
#pragma omp atomic write
      failed = 1;
    }
#pragma omp for schedule(dynamic, 64)
    for (int64_t i = 0; i < m; i++) {
      if (!w) continue;
      double bd = bound2 ? bound2[i] : INFINITY;
      int64_t bj = INT64_MAX;
      const int64_t r = rows ? rows[i] : i;
      const int qg = !grp ? 0 : qgrp ? qgrp[i] : grp[r];
      KD_FN(kd_point_walk)
      (t, Q + r * KD_D, -1, exclude ? exclude[i] : -1, grp, qg, -1, &bd, &bj, w->acc, w->qq);
      nn[i] = bj == INT64_MAX ? -1 : bj;
      dist2[i] = bj == INT64_MAX ? INFINITY : bd;
    }
    KD_FN(kd_work_free)(w);
  }
  return failed ? BFCR_ERR_NOMEM : BFCR_OK;
}

/* bfcr_kdtree_query. */
static bfcr_status KD_FN(kd_query)(const bfcr_kdtree *t, const double *Q, int64_t m,
                                   const int64_t *exclude, const double *bound2, int nthreads,
                                   int64_t *nn, double *dist2) {
  return KD_FN(kd_queries)(t, Q, NULL, m, exclude, NULL, NULL, bound2, nthreads, nn, dist2);
}

/* Queries from rows of the tree's own caller matrix, skipping their group
 * (bfcr_kdtree_query_other). */
static bfcr_status KD_FN(kd_query_other)(const bfcr_kdtree *t, const double *R, const int64_t *rows,
                                         int64_t m, const int *grp, int nthreads, int64_t *nn,
                                         double *dist2) {
  return KD_FN(kd_queries)(t, R, rows, m, NULL, NULL, grp, NULL, nthreads, nn, dist2);
}

/* Outside queries with a group each, skipping the tree's points of that group and
 * starting from bound2 (bfcr_kdtree_query_grp: the distributed cross-validation's nearest
 * row outside the query's fold). */
static bfcr_status KD_FN(kd_query_grp)(const bfcr_kdtree *t, const double *Q, const int *qgrp,
                                       int64_t m, const int *grp, const double *bound2,
                                       int nthreads, int64_t *nn, double *dist2) {
  return KD_FN(kd_queries)(t, Q, NULL, m, NULL, qgrp, grp, bound2, nthreads, nn, dist2);
}

/* Largest (wq + w[j]) / sqrt(dist2) from best (bfcr_kdtree_max_ratio, kdtree_maxratio.c
 * has the bound's argument); qq is a 5 d buffer. */
static double KD_FN(kd_max_ratio)(const bfcr_kdtree *t, const double *w, const double *node_max,
                                  const double *q, double wq, int64_t exclude, double best,
                                  double *qq) {
  const double fm = KD_FN(kd_spread)(t, q, qq);
  /* The cut of each node is ((wq + its largest weight) / best)^2: a multiplication by
   * 1 / best, refreshed when best grows, keeps a division off every node (one more
   * rounding, far inside the cut's 2^-40 margin; extreme best values divide). */
  double ib = 1.0 / best;
  int fast = best >= 1e-280 && best <= 1e280;
#define KD_CUT(num) (fast ? bfcr_kd_ratio_cut_inv((num), ib) : bfcr_kd_ratio_cut((num), best))
  int64_t stack_id[KD_STACK];
  double stack_lb[KD_STACK];
  double acc[BFCR_KD_LEAF_MAX];
  int sp = 0;
  int64_t id = 0;
  for (;;) {
    const bfcr_kd_node *nd = &t->node[id];
    if (nd->right >= 0) {
      double ll, lr;
      KD_FN(kd_child_lb)(t, qq, id, &ll, &lr);
      const int64_t l = id + 1, r = nd->right;
      /* The child with the larger possible ratio first: compare (wq + wmax_l)^2 / ll
       * with (wq + wmax_r)^2 / lr without dividing. */
      const double nl = wq + node_max[l], nr = wq + node_max[r];
      const int lfirst = nl * nl * lr >= nr * nr * ll;
      const int64_t near = lfirst ? l : r, far = lfirst ? r : l;
      const double nlb = lfirst ? ll : lr, flb = lfirst ? lr : ll;
      if (!(flb > KD_CUT(wq + node_max[far]))) {
        stack_id[sp] = far;
        stack_lb[sp++] = flb;
      }
      if (!(nlb > KD_CUT(wq + node_max[near]))) {
        id = near;
        continue;
      }
    } else {
      const int m = (int)(nd->hi - nd->lo);
      const double cut = KD_CUT(wq + node_max[id]);
      const float cf = fm >= 0.0 && cut < INFINITY ? KD_FN(kd_float_cut)(fm, cut, KD_D) : INFINITY;
      uint64_t mask = KD_FN(kd_leaf_mask)(t, q, qq, fm, nd->lo, m, cut, cf, acc);
      while (mask) {
        const int j = KD_FN(kd_ctz)(mask);
        mask &= mask - 1;
        const int64_t gj = t->idx[nd->lo + j];
        if (gj == exclude) continue;
        const double ratio = acc[j] > 0.0 ? (wq + w[gj]) / sqrt(acc[j]) : INFINITY;
        if (ratio > best) {
          best = ratio;
          if (best == INFINITY) return best;
          ib = 1.0 / best;
          fast = best >= 1e-280 && best <= 1e280;
        }
      }
    }
    id = -1;
    while (sp > 0) {
      sp--;
      if (!(stack_lb[sp] > KD_CUT(wq + node_max[stack_id[sp]]))) {
        id = stack_id[sp];
        break;
      }
    }
    if (id < 0) break;
  }
#undef KD_CUT
  return best;
}

static const bfcr_kd_walks KD_FN(kd_walks) = {KD_FN(kd_allnn_leaves), KD_FN(kd_query),
                                              KD_FN(kd_max_ratio), KD_FN(kd_query_other),
                                              KD_FN(kd_query_grp)};

#undef KD_D
