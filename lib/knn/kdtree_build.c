/* kd-tree build: median split of the widest dimension, linear-time partition.
 *
 * What: a balanced binary tree over n rows of d doubles. A node of more than
 * BFCR_KD_LEAF_MAX points is cut at position lo + m/2 along the dimension where its
 * tight bounding box is widest (first such dimension on a tie), so the shape of the
 * tree depends on n only and node ids can be fixed in preorder before any work is done;
 * subtrees are then built as independent OpenMP tasks.
 * Complexity: O(n d log n) time (a box scan and a quickselect per level: each level is
 * O(n d)), O(n d) memory; no sort anywhere (qsort-based builds are 5-10x slower here).
 * Ties: the selection uses a three-way partition, so any number of equal keys (duplicate
 * rows, grids, constant columns) costs nothing extra; pivots come from a fixed hash of
 * the range, so the tree is the same for any thread count. The tree's shape never
 * changes a search result (searches are exact and tie-break on the caller's index); it
 * only changes speed.
 * Layout: rows are moved in a row-major work copy while partitioning (one contiguous
 * swap per row); that copy is kept as the tree's row-major points, and each leaf is
 * transposed once into the blocked column-major layout of the kernels (kdtree_impl.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <omp.h>

#include "knn/kdtree_impl.h"

/* Below this many rows a subtree is built by the task that reached it. */
#define KD_TASK_MIN 16384

typedef struct {
  int64_t m[256], count[256];
  int used;
} kd_count_memo;

/* Number of nodes of the subtree over m points (depends on m only). */
static int64_t kd_count(kd_count_memo *memo, int64_t m) {
  if (m <= BFCR_KD_LEAF_MAX) return 1;
  for (int i = 0; i < memo->used; i++) {
    if (memo->m[i] == m) return memo->count[i];
  }
  int64_t c = 1 + kd_count(memo, m / 2) + kd_count(memo, m - m / 2);
  if (memo->used < 256) {
    memo->m[memo->used] = m;
    memo->count[memo->used] = c;
    memo->used++;
  }
  return c;
}

typedef struct {
  bfcr_kdtree *t;
  double *W; /* n x d row-major work copy, permuted along with idx */
  kd_count_memo memo;
} kd_builder;

static inline void kd_swap_rows(double *W, int64_t *idx, int d, int64_t a, int64_t b) {
  double *ra = W + a * d, *rb = W + b * d;
  int k = 0;
#ifdef __SSE2__
  for (; k + 2 <= d; k += 2) { /* both loads before the stores: a == b is a no-op */
    const __m128d x = _mm_loadu_pd(ra + k), y = _mm_loadu_pd(rb + k);
    _mm_storeu_pd(ra + k, y);
    _mm_storeu_pd(rb + k, x);
  }
#endif
  for (; k < d; k++) {
    double x = ra[k];
    ra[k] = rb[k];
    rb[k] = x;
  }
  int64_t i = idx[a];
  idx[a] = idx[b];
  idx[b] = i;
}

static uint64_t kd_hash(uint64_t x) {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

static double kd_median3(double a, double b, double c) {
  if (a < b) {
    if (b < c) return b;
    return a < c ? c : a;
  }
  if (a < c) return a;
  return b < c ? c : b;
}

/* Reorder rows [lo, hi) so that row kth holds the key it would hold in sorted order,
 * keys before it are <= and keys after it are >=. Expected O(hi - lo). */
static void kd_select(double *W, int64_t *idx, int d, int dim, int64_t lo, int64_t hi,
                      int64_t kth) {
  uint64_t seed = kd_hash((uint64_t)lo * 0x9e3779b97f4a7c15ULL ^ (uint64_t)hi);
  while (hi - lo > 1) {
    uint64_t m = (uint64_t)(hi - lo);
    seed = kd_hash(seed + 1);
    double a = W[(lo + (int64_t)(seed % m)) * d + dim];
    double b = W[(lo + (int64_t)((seed >> 21) % m)) * d + dim];
    double c = W[(lo + (int64_t)((seed >> 42) % m)) * d + dim];
    double p = kd_median3(a, b, c);
    /* Dutch national flag: [lo, lt) < p, [lt, i) == p, (gt, hi) > p. */
    int64_t lt = lo, i = lo, gt = hi - 1;
    /* Without branches on the key (they mispredicted on about every other row): row i
     * goes to lt (below p), to gt (above p) or stays (equal: a swap with itself, which
     * changes nothing), so the rows end where the branchy form put them. */
    while (i <= gt) {
      const double x = W[i * d + dim];
      const int64_t below = x<p, above = x> p;
      kd_swap_rows(W, idx, d, i, i + below * (lt - i) + above * (gt - i));
      lt += below;
      i += 1 - above;
      gt -= above;
    }
    if (kth < lt) {
      hi = lt;
    } else if (kth > gt) {
      lo = gt + 1;
    } else {
      return;
    }
  }
}

/* Tight bounding box of rows [lo, hi) of W: bmin[k] = the first row's value, replaced by
 * every later value below it (bmax likewise above), i.e. min/max in row order with the
 * earlier value kept on equality (MINPD/MAXPD return their second operand then, the running
 * value here). Eight columns at a time in registers, rows in the outer loop (one pass over
 * the rows per 8 columns): no data-dependent branches, which mispredicted on every other
 * row in the former scalar scan. */
static void kd_box(const double *W, int d, int64_t lo, int64_t hi, double *bmin, double *bmax) {
  for (int k = 0; k < d; k++) bmin[k] = bmax[k] = W[lo * d + k];
  int k0 = 0;
#ifdef __SSE2__
  for (; k0 + 8 <= d; k0 += 8) {
    __m128d n0 = _mm_loadu_pd(bmin + k0), n1 = _mm_loadu_pd(bmin + k0 + 2);
    __m128d n2 = _mm_loadu_pd(bmin + k0 + 4), n3 = _mm_loadu_pd(bmin + k0 + 6);
    __m128d x0 = n0, x1 = n1, x2 = n2, x3 = n3;
    for (int64_t i = lo + 1; i < hi; i++) {
      const double *r = W + i * d + k0;
      const __m128d r0 = _mm_loadu_pd(r), r1 = _mm_loadu_pd(r + 2);
      const __m128d r2 = _mm_loadu_pd(r + 4), r3 = _mm_loadu_pd(r + 6);
      n0 = _mm_min_pd(r0, n0), n1 = _mm_min_pd(r1, n1);
      n2 = _mm_min_pd(r2, n2), n3 = _mm_min_pd(r3, n3);
      x0 = _mm_max_pd(r0, x0), x1 = _mm_max_pd(r1, x1);
      x2 = _mm_max_pd(r2, x2), x3 = _mm_max_pd(r3, x3);
    }
    _mm_storeu_pd(bmin + k0, n0), _mm_storeu_pd(bmin + k0 + 2, n1);
    _mm_storeu_pd(bmin + k0 + 4, n2), _mm_storeu_pd(bmin + k0 + 6, n3);
    _mm_storeu_pd(bmax + k0, x0), _mm_storeu_pd(bmax + k0 + 2, x1);
    _mm_storeu_pd(bmax + k0 + 4, x2), _mm_storeu_pd(bmax + k0 + 6, x3);
  }
#endif
  if (k0 < d) {
    double mn[8], mx[8]; /* the remaining d - k0 < 8 columns (any d without SSE2) */
    for (; k0 < d; k0 += 8) {
      const int w = d - k0 < 8 ? d - k0 : 8;
      for (int k = 0; k < w; k++) mn[k] = mx[k] = bmin[k0 + k];
      for (int64_t i = lo + 1; i < hi; i++) {
        const double *r = W + i * d + k0;
        for (int k = 0; k < w; k++) {
          mn[k] = r[k] < mn[k] ? r[k] : mn[k];
          mx[k] = r[k] > mx[k] ? r[k] : mx[k];
        }
      }
      for (int k = 0; k < w; k++) bmin[k0 + k] = mn[k], bmax[k0 + k] = mx[k];
    }
  }
}

static void kd_build_node(kd_builder *b, int64_t id, int64_t lo, int64_t hi) {
  bfcr_kdtree *t = b->t;
  const int d = t->d;
  bfcr_kd_node *nd = &t->node[id];
  double *bmin = t->bmin + id * d, *bmax = t->bmax + id * d;
  nd->lo = lo;
  nd->hi = hi;
  kd_box(b->W, d, lo, hi, bmin, bmax);
  if (hi - lo <= BFCR_KD_LEAF_MAX) {
    nd->right = -1;
    int64_t mi = t->idx[lo];
    for (int64_t i = lo + 1; i < hi; i++) {
      if (t->idx[i] < mi) mi = t->idx[i];
    }
    nd->min_index = mi;
    return;
  }
  int dim = 0;
  double w = bmax[0] - bmin[0];
  for (int k = 1; k < d; k++) {
    if (bmax[k] - bmin[k] > w) {
      w = bmax[k] - bmin[k];
      dim = k;
    }
  }
  int64_t mid = lo + (hi - lo) / 2;
  kd_select(b->W, t->idx, d, dim, lo, hi, mid);
  int64_t left = id + 1;
  int64_t right = id + 1 + kd_count(&b->memo, mid - lo);
  nd->right = right;
  if (hi - lo >= KD_TASK_MIN) {
#pragma omp task default(none) firstprivate(b, left, lo, mid)
    kd_build_node(b, left, lo, mid);
    kd_build_node(b, right, mid, hi);
#pragma omp taskwait
  } else {
    kd_build_node(b, left, lo, mid);
    kd_build_node(b, right, mid, hi);
  }
  int64_t ml = t->node[left].min_index, mr = t->node[right].min_index;
  nd->min_index = ml < mr ? ml : mr;
}

void bfcr_kdtree_free(bfcr_kdtree *t) {
  if (!t) return;
  free(t->X);
  free(t->P);
  free(t->idx);
  free(t->node);
  free(t->bmin);
  free(t->bmax);
  free(t->cb);
  free(t->Pf);
  free(t->leaf);
  free(t);
}

/* Node ranges and children of the subtree over [lo, hi) rooted at id: the shape the
 * partitioning build gives (it depends on the sizes only). */
static void kd_shape(kd_builder *b, int64_t id, int64_t lo, int64_t hi) {
  bfcr_kd_node *nd = &b->t->node[id];
  nd->lo = lo;
  nd->hi = hi;
  if (hi - lo <= BFCR_KD_LEAF_MAX) {
    nd->right = -1;
    return;
  }
  const int64_t mid = lo + (hi - lo) / 2;
  nd->right = id + 1 + kd_count(&b->memo, mid - lo);
  kd_shape(b, id + 1, lo, mid);
  kd_shape(b, nd->right, mid, hi);
}

/* The tree whose position p holds row order[p] (a permutation of 0..n-1, checked), as a
 * partitioning build that produced that order: the rows are permuted in place (one cycle
 * at a time, a bit per row), the shape is the one for n, the boxes are tight (leaves
 * scanned, inner nodes the union of their children's: the same values, min and max being
 * exact). O(n d) with no selection; the searches are exact on any tree, so this only
 * costs speed if the order is a poor one. */
static bfcr_status kd_build_by_order(kd_builder *b, const int32_t *order, int nt) {
  bfcr_kdtree *t = b->t;
  const int64_t n = t->n;
  const int d = t->d;
  double *W = b->W;
  uint64_t *seen = calloc((size_t)(n + 63) / 64, sizeof(uint64_t));
  double *spare = malloc((size_t)d * sizeof(double));
  bfcr_status st = seen && spare ? BFCR_OK : BFCR_ERR_NOMEM;
  for (int64_t p = 0; p < n && st == BFCR_OK; p++) {
    const int64_t o = order[p];
    if (o < 0 || o >= n || (seen[o >> 6] >> (o & 63) & 1u)) {
      st = BFCR_ERR_ARG;
      break;
    }
    seen[o >> 6] |= (uint64_t)1 << (o & 63);
    t->idx[p] = o;
  }
  if (st == BFCR_OK) memset(seen, 0, (size_t)(n + 63) / 64 * sizeof(uint64_t));
  /* Position q receives row idx[q]: follow each cycle from its first position. */
  for (int64_t p = 0; p < n && st == BFCR_OK; p++) {
    if (seen[p >> 6] >> (p & 63) & 1u) continue;
    memcpy(spare, W + p * d, (size_t)d * sizeof(double));
    int64_t q = p;
    for (;;) {
      seen[q >> 6] |= (uint64_t)1 << (q & 63);
      const int64_t src = t->idx[q];
      if (src == p) {
        memcpy(W + q * d, spare, (size_t)d * sizeof(double));
        break;
      }
      memcpy(W + q * d, W + src * d, (size_t)d * sizeof(double));
      q = src;
    }
  }
  free(seen);
  free(spare);
  if (st != BFCR_OK) return st;
  kd_shape(b, 0, 0, n);
#pragma omp parallel for num_threads(nt) schedule(dynamic, 64) default(none) shared(t, W, d)
  for (int64_t id = 0; id < t->nnodes; id++) {
    bfcr_kd_node *nd = &t->node[id];
    if (nd->right >= 0) continue;
    kd_box(W, d, nd->lo, nd->hi, t->bmin + id * d, t->bmax + id * d);
    int64_t mi = t->idx[nd->lo];
    for (int64_t i = nd->lo + 1; i < nd->hi; i++) mi = t->idx[i] < mi ? t->idx[i] : mi;
    nd->min_index = mi;
  }
  for (int64_t id = t->nnodes - 1; id >= 0; id--) { /* children have larger ids */
    bfcr_kd_node *nd = &t->node[id];
    if (nd->right < 0) continue;
    const int64_t l = id + 1, r = nd->right;
    for (int k = 0; k < d; k++) {
      const double al = t->bmin[l * d + k], ar = t->bmin[r * d + k];
      const double bl = t->bmax[l * d + k], br = t->bmax[r * d + k];
      t->bmin[id * d + k] = ar < al ? ar : al;
      t->bmax[id * d + k] = br > bl ? br : bl;
    }
    const int64_t ml = t->node[l].min_index, mr = t->node[r].min_index;
    nd->min_index = ml < mr ? ml : mr;
  }
  return BFCR_OK;
}

/* Build on W (n x d, malloc'd), which the tree takes over as its row-major copy; by the
 * partitioning (order NULL) or by a given order (kd_build_by_order). */
static bfcr_status kd_build_owned(double *W, int64_t n, int d, int nthreads, const int32_t *order,
                                  bfcr_kdtree **out) {
  const int nt = nthreads < 1 ? 1 : nthreads;
  bfcr_status st = BFCR_OK;
  kd_builder *b = calloc(1, sizeof(*b));
  bfcr_kdtree *t = calloc(1, sizeof(*t));
  if (b) b->W = W;
  W = NULL;
  if (!b || !t) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  t->n = n;
  t->d = d;
  t->avx2 = bfcr_kd_cpu_avx2();
  t->walks = t->avx2 ? bfcr_kd_walks_avx2(d) : bfcr_kd_walks_plain();
  b->t = t;
  t->nnodes = kd_count(&b->memo, n);
  size_t nd = (size_t)n * (size_t)d, bd = (size_t)t->nnodes * (size_t)d;
  t->P = malloc(nd * sizeof(double));
  t->idx = malloc((size_t)n * sizeof(int64_t));
  t->node = malloc((size_t)t->nnodes * sizeof(bfcr_kd_node));
  t->bmin = malloc(bd * sizeof(double));
  t->bmax = malloc(bd * sizeof(double));
  t->leaf = malloc((size_t)t->nnodes * sizeof(int64_t));
  t->cb = calloc((size_t)t->nnodes * 4 * (size_t)d, sizeof(double));
  if (!b->W || !t->P || !t->idx || !t->node || !t->bmin || !t->bmax || !t->leaf || !t->cb) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  if (order) {
    st = kd_build_by_order(b, order, nt);
    if (st != BFCR_OK) goto cleanup;
  } else {
    for (int64_t i = 0; i < n; i++) t->idx[i] = i;

      /* The memo is filled for every size the build will meet before tasks start, so the
       * tasks only read it. */
#pragma omp parallel num_threads(nt) default(none) shared(b)
#pragma omp single
    kd_build_node(b, 0, 0, b->t->n);
  }

  t->nleaves = 0;
  for (int64_t i = 0; i < t->nnodes; i++) {
    if (t->node[i].right < 0) t->leaf[t->nleaves++] = i;
  }
  /* Largest |coordinate| (a max: the same for any thread count) decides the float copy,
   * which only the AVX2 walks read. */
  double fmax = 0.0;
  if (t->avx2) {
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(b, n, d) \
    reduction(max                                                                       \
              : fmax)
    for (int64_t i = 0; i < n * d; i++) {
      const double a = fabs(b->W[i]);
      if (a > fmax) fmax = a;
    }
  }
  t->fmax = fmax;
  if (t->avx2 && fmax <= 1e15) {
    t->Pf = malloc(nd * sizeof(float));
    if (!t->Pf) {
      st = BFCR_ERR_NOMEM;
      goto cleanup;
    }
  }
  /* Leaf-blocked column-major copies (kdtree_impl.h). */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(t, b, d)
  for (int64_t L = 0; L < t->nleaves; L++) {
    const int64_t lo = t->node[t->leaf[L]].lo, m = t->node[t->leaf[L]].hi - lo;
    double *blk = t->P + lo * d;
    float *fblk = t->Pf ? t->Pf + lo * d : NULL;
    for (int64_t i = 0; i < m; i++) {
      for (int k = 0; k < d; k++) blk[k * m + i] = b->W[(lo + i) * d + k];
      if (fblk) {
        for (int k = 0; k < d; k++) fblk[k * m + i] = (float)b->W[(lo + i) * d + k];
      }
    }
  }
  /* Side-by-side child boxes (kdtree_impl.h); leaves keep zeros. */
#pragma omp parallel for num_threads(nt) schedule(static) default(none) shared(t, d)
  for (int64_t id = 0; id < t->nnodes; id++) {
    const bfcr_kd_node *nd = &t->node[id];
    if (nd->right < 0) continue;
    const int64_t l = id + 1, r = nd->right;
    double *c = t->cb + id * 4 * d;
    for (int k = 0; k < d; k++) {
      c[4 * k] = t->bmin[l * d + k];
      c[4 * k + 1] = t->bmin[r * d + k];
      c[4 * k + 2] = -t->bmax[l * d + k];
      c[4 * k + 3] = -t->bmax[r * d + k];
    }
  }
  t->X = b->W;
  b->W = NULL;
  *out = t;
  t = NULL;
cleanup:
  if (b) free(b->W);
  free(W);
  free(b);
  bfcr_kdtree_free(t);
  return st;
}

bfcr_status bfcr_kdtree_build(const double *R, int64_t n, int d, int nthreads, bfcr_kdtree **out) {
  if (!out) return BFCR_ERR_ARG;
  *out = NULL;
  if (!R || n < 1 || d < 1) return BFCR_ERR_ARG;
  if (n > INT64_MAX / 8 / d) return BFCR_ERR_NOMEM;
  double *W = malloc((size_t)n * (size_t)d * sizeof(double));
  if (!W) return BFCR_ERR_NOMEM;
  memcpy(W, R, (size_t)n * (size_t)d * sizeof(double));
  return kd_build_owned(W, n, d, nthreads, NULL, out);
}

bfcr_status bfcr_kdtree_build_take(double *R, int64_t n, int d, int nthreads, bfcr_kdtree **out) {
  if (!out || !R || n < 1 || d < 1 || n > INT64_MAX / 8 / d) {
    free(R);
    if (out) *out = NULL;
    return out && R && n >= 1 && d >= 1 ? BFCR_ERR_NOMEM : BFCR_ERR_ARG;
  }
  *out = NULL;
  return kd_build_owned(R, n, d, nthreads, NULL, out);
}

bfcr_status bfcr_kdtree_build_order(double *R, int64_t n, int d, const int32_t *order, int nthreads,
                                    bfcr_kdtree **out) {
  if (!out || !R || !order || n < 1 || d < 1 || n > INT32_MAX) {
    free(R);
    if (out) *out = NULL;
    return BFCR_ERR_ARG;
  }
  *out = NULL;
  return kd_build_owned(R, n, d, nthreads, order, out);
}

void bfcr_kdtree_order32(const bfcr_kdtree *t, int32_t *order) {
  for (int64_t p = 0; p < t->n; p++) order[p] = (int32_t)t->idx[p];
}

const double *bfcr_kdtree_rows(const bfcr_kdtree *t) {
  return t->X;
}
const int64_t *bfcr_kdtree_index(const bfcr_kdtree *t) {
  return t->idx;
}
