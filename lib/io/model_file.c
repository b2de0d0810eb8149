/* Model file encoding, decoding and the collective save/load.
 *
 * Layout (docs/model-format.md): a 32-byte header (magic, text-mode guard, byte-order
 * marker, version, section count, body length), fixed-order tagged sections, and a
 * CRC-64 of everything before it. Every integer and double is written byte by byte in
 * little-endian order (doubles as their IEEE-754 bit pattern), so no struct, pointer
 * or padding byte ever reaches the file and the bytes do not depend on the machine or
 * the rank count; save -> load -> save is byte-identical.
 *
 * Decoding order, cheapest and most telling first: magic and guard ("not a bfcr model
 * file"), byte order, major version (a future major may change everything after it,
 * the checksum included), total length (truncation, trailing bytes), checksum, then the
 * sections. Every count is checked against the bytes left in its section before
 * anything is allocated (by division, so products cannot overflow); the decoded model
 * then passes the same bfcr_model_validate that save applies before writing, so a
 * model that save accepts is exactly a model that load accepts.
 *
 * Cost: O(file size) time. Save counts the bytes first (lengths precede contents), then
 * streams them in 1 MiB pieces, checksummed while still in cache: no copy of the file
 * in memory. Load holds the file plus the model (the file is read whole and broadcast,
 * in chunks of at most 1 GiB because MPI counts are int). */
#include "io/model_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "model/guard.h"
#include "model/route_shard.h"
#include "par/redistribute.h"

/* ---------------------------------------------------------------- checksum */

/* CRC-64/XZ. Two ways to the same value:
 * - slicing by 16 bytes (any machine): two independent 8-byte table lookups per step;
 *   the tables (32 KiB) are built on the stack at each call (about 6000 shift steps,
 *   microseconds; save calls this once per MiB) rather than kept in a global;
 * - carry-less multiplication (x86-64 with PCLMULQDQ, chosen at run time): the input is
 *   folded 64 bytes at a time into four 16-byte lanes, a lane A standing for A * x^512
 *   mod P one step later, the lanes are folded into one, and its 16 bytes finish
 *   through the tables. Folding keeps the value mod P, so the result is the table
 *   result, bit for bit, about 6x faster (72 MB: 5 ms instead of 30 ms). */
#define CRC64_POLY 0xC96C5795D7870F42u /* ECMA-182, reflected */

static uint64_t load_le64(const unsigned char *p) {
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  uint64_t w; /* one load on a little-endian host */
  memcpy(&w, p, 8);
  return w;
#else
  uint64_t w = 0;
  for (int i = 0; i < 8; i++) w |= (uint64_t)p[i] << (8 * i);
  return w;
#endif
}

/* Continue the raw state s (CRC register, no inversions) over len bytes. */
static uint64_t crc64_table(uint64_t s, const unsigned char *p, size_t len) {
  uint64_t t[16][256];
  for (unsigned i = 0; i < 256; i++) {
    uint64_t c = i;
    for (int b = 0; b < 8; b++) c = (c >> 1) ^ (CRC64_POLY & (0u - (c & 1u)));
    t[0][i] = c;
  }
  for (unsigned i = 0; i < 256; i++)
    for (int k = 1; k < 16; k++) t[k][i] = (t[k - 1][i] >> 8) ^ t[0][t[k - 1][i] & 0xFF];
  for (; len >= 16; len -= 16, p += 16) {
    uint64_t a = load_le64(p) ^ s, b = load_le64(p + 8);
    s = t[15][a & 0xFF] ^ t[14][(a >> 8) & 0xFF] ^ t[13][(a >> 16) & 0xFF] ^
        t[12][(a >> 24) & 0xFF] ^ t[11][(a >> 32) & 0xFF] ^ t[10][(a >> 40) & 0xFF] ^
        t[9][(a >> 48) & 0xFF] ^ t[8][a >> 56] ^ t[7][b & 0xFF] ^ t[6][(b >> 8) & 0xFF] ^
        t[5][(b >> 16) & 0xFF] ^ t[4][(b >> 24) & 0xFF] ^ t[3][(b >> 32) & 0xFF] ^
        t[2][(b >> 40) & 0xFF] ^ t[1][(b >> 48) & 0xFF] ^ t[0][b >> 56];
  }
  for (; len > 0; len--, p++) s = (s >> 8) ^ t[0][(s ^ *p) & 0xFF];
  return s;
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define CRC64_CLMUL 1

static int cpu_pclmul(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("pclmul");
}

/* x^n mod P, reflected like the CRC register (bit i holds the coefficient of x^(63-i)). */
static uint64_t xpow_mod(unsigned n) {
  uint64_t v = (uint64_t)1 << 63;
  while (n--) v = (v >> 1) ^ (CRC64_POLY & (0u - (v & 1u)));
  return v;
}

/* The 16 bytes of a lane as a polynomial: low qword H (degrees 127..64), high qword L
 * (63..0). Moving it D bits on is H * x^(D+64) + L * x^D mod P; a reflected carry-less
 * product comes out one degree low, hence the constants x^(D+63) and x^(D-1). */
#define CRC64_FOLD(a, k, next)                                                                   \
  _mm_xor_si128(                                                                                 \
      _mm_xor_si128(_mm_clmulepi64_si128((a), (k), 0x00), _mm_clmulepi64_si128((a), (k), 0x11)), \
      (next))

/* Raw state s over n bytes (n >= 64, a multiple of 64); returns the raw state. */
__attribute__((target("pclmul,sse2"))) static uint64_t crc64_clmul(uint64_t s,
                                                                   const unsigned char *p,
                                                                   size_t n) {
  const __m128i k512 = _mm_set_epi64x((long long)xpow_mod(511), (long long)xpow_mod(575));
  const __m128i k128 = _mm_set_epi64x((long long)xpow_mod(127), (long long)xpow_mod(191));
  const __m128i *q = (const __m128i *)(const void *)p;
  __m128i a0 = _mm_loadu_si128(q), a1 = _mm_loadu_si128(q + 1), a2 = _mm_loadu_si128(q + 2),
          a3 = _mm_loadu_si128(q + 3);
  a0 = _mm_xor_si128(a0, _mm_set_epi64x(0, (long long)s)); /* the register meets the data */
  for (q += 4, n -= 64; n >= 64; q += 4, n -= 64) {
    a0 = CRC64_FOLD(a0, k512, _mm_loadu_si128(q));
    a1 = CRC64_FOLD(a1, k512, _mm_loadu_si128(q + 1));
    a2 = CRC64_FOLD(a2, k512, _mm_loadu_si128(q + 2));
    a3 = CRC64_FOLD(a3, k512, _mm_loadu_si128(q + 3));
  }
  a1 = CRC64_FOLD(a0, k128, a1);
  a2 = CRC64_FOLD(a1, k128, a2);
  a3 = CRC64_FOLD(a2, k128, a3);
  unsigned char rest[16];
  _mm_storeu_si128((__m128i *)(void *)rest, a3);
  return crc64_table(0, rest, 16); /* same value mod P: finish from a zero register */
}
#endif

uint64_t bfcr_crc64(uint64_t crc, const void *data, size_t len) {
  const unsigned char *p = data;
  uint64_t s = ~crc;
#ifdef CRC64_CLMUL
  if (len >= 128 && cpu_pclmul()) {
    size_t n = len & ~(size_t)63;
    s = crc64_clmul(s, p, n);
    p += n;
    len -= n;
  }
#endif
  return ~crc64_table(s, p, len);
}

/* ---------------------------------------------------------------- tags */

#define TAG(a, b, c, d) \
  ((uint32_t)(a) | (uint32_t)(b) << 8 | (uint32_t)(c) << 16 | (uint32_t)(d) << 24)

/* ROUT, KERN and GARD are optional (routing by sample; kernel regressors, since 1.1;
 * the prediction guard and the cross-validation table, since 1.2; hierarchical
 * shrinkage, since 1.3; the feature-space guard GLEV, since 1.4, requires GARD). */
enum {
  SEC_PARM,
  SEC_SCHM,
  SEC_STDZ,
  SEC_LEVL,
  SEC_CENT,
  SEC_CMOD,
  SEC_WGHT,
  SEC_ROUT,
  SEC_KERN,
  SEC_GARD,
  SEC_CVTB,
  SEC_SHRK,
  SEC_GLEV,
  NSEC
};
static const uint32_t sec_tag[NSEC] = {
    TAG('P', 'A', 'R', 'M'), TAG('S', 'C', 'H', 'M'), TAG('S', 'T', 'D', 'Z'),
    TAG('L', 'E', 'V', 'L'), TAG('C', 'E', 'N', 'T'), TAG('C', 'M', 'O', 'D'),
    TAG('W', 'G', 'H', 'T'), TAG('R', 'O', 'U', 'T'), TAG('K', 'E', 'R', 'N'),
    TAG('G', 'A', 'R', 'D'), TAG('C', 'V', 'T', 'B'), TAG('S', 'H', 'R', 'K'),
    TAG('G', 'L', 'E', 'V')};
static const char *const sec_name[NSEC] = {"PARM", "SCHM", "STDZ", "LEVL", "CENT", "CMOD", "WGHT",
                                           "ROUT", "KERN", "GARD", "CVTB", "SHRK", "GLEV"};
/* Bytes of one piece record in KERN before its center: 4 i64 + 7 f64. */
#define KERN_PIECE_BYTES 88

static const unsigned char text_guard[4] = {0x0D, 0x0A, 0x1A, 0x0A};
#define ENDIAN_MARK 0x01020304u
#define STR_NULL 0xFFFFFFFFu /* length of a string that is absent (NULL) */

/* ---------------------------------------------------------------- validation */

static int finite_all(const double *v, int64_t n, int64_t *bad) {
  for (int64_t i = 0; i < n; i++) {
    if (!isfinite(v[i])) {
      *bad = i;
      return 0;
    }
  }
  return 1;
}

#define VCHECK(cond, ...)                                                \
  do {                                                                   \
    if (!(cond)) {                                                       \
      return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0, __VA_ARGS__); \
    }                                                                    \
  } while (0)

static bfcr_status check_str(bfcr_ctx *ctx, const char *name, const char *s, int may_be_null,
                             const char *what, int i) {
  VCHECK(s || may_be_null, "%s %d is missing", what, i);
  if (s)
    VCHECK(strlen(s) <= BFCR_MODEL_MAX_STR, "%s %d is longer than %d bytes", what, i,
           BFCR_MODEL_MAX_STR);
  return BFCR_OK;
}

static bfcr_status validate_schema(bfcr_ctx *ctx, const char *name, const bfcr_schema *s, int d) {
  bfcr_status st;
  VCHECK(s, "the model has no schema");
  VCHECK(s->ncols >= 1, "schema has %d columns (at least 1 expected)", s->ncols);
  VCHECK(s->col_kind && s->col_ncat, "schema column tables are missing");
  VCHECK(s->target_col >= -1 && s->target_col < s->ncols,
         "schema target column %d is out of range -1..%d", s->target_col, s->ncols - 1);
  for (int c = 0; c < s->ncols; c++) {
    if ((st = check_str(ctx, name, s->col_names ? s->col_names[c] : NULL, 1, "column name", c)))
      return st;
    int kind = s->col_kind[c];
    VCHECK(kind >= BFCR_COL_NUMERIC && kind <= BFCR_COL_IGNORED,
           "schema column %d has invalid kind %d", c, kind);
    VCHECK((kind == BFCR_COL_TARGET) == (c == s->target_col),
           "schema column %d: kind %d disagrees with target column %d", c, kind, s->target_col);
    int ncat = s->col_ncat[c];
    VCHECK(ncat >= 0, "schema column %d has %d categories", c, ncat);
    if (ncat == 0) continue;
    VCHECK(s->col_cats && s->col_cats[c], "schema column %d: category table missing", c);
    for (int j = 0; j < ncat; j++) {
      if ((st = check_str(ctx, name, s->col_cats[c][j], 0, "category", j))) return st;
      VCHECK(j == 0 || strcmp(s->col_cats[c][j - 1], s->col_cats[c][j]) < 0,
             "schema column %d: categories %d and %d are not in strictly increasing byte order", c,
             j - 1, j);
    }
  }
  VCHECK(s->d == d, "schema has %d features, the model %d", s->d, d);
  VCHECK(s->feat_col && s->feat_cat, "schema feature tables are missing");
  for (int j = 0; j < d; j++) {
    if ((st = check_str(ctx, name, s->feat_names ? s->feat_names[j] : NULL, 1, "feature name", j)))
      return st;
    int c = s->feat_col[j], cat = s->feat_cat[j];
    VCHECK(c >= 0 && c < s->ncols, "feature %d: source column %d out of range 0..%d", j, c,
           s->ncols - 1);
    int kind = s->col_kind[c];
    VCHECK(kind == BFCR_COL_NUMERIC || kind == BFCR_COL_TEXT,
           "feature %d comes from column %d of kind %d (numeric or text expected)", j, c, kind);
    if (kind == BFCR_COL_NUMERIC)
      VCHECK(cat == -1, "feature %d: numeric column with category %d (-1 expected)", j, cat);
    else
      VCHECK(cat >= 0 && cat < s->col_ncat[c], "feature %d: category %d out of range 0..%d", j, cat,
             s->col_ncat[c] - 1);
  }
  return BFCR_OK;
}

/* Kernel pieces (KERN): present exactly for the kernel regressors; pieces sorted by
 * cluster, each cluster's pieces contiguous from its first row and covering all of it;
 * stored rows add up; every number predict uses finite, widths and penalties > 0. */
static bfcr_status validate_kernel(bfcr_ctx *ctx, const char *name, const bfcr_model *m) {
  const bfcr_fit_params *p = &m->params;
  int d = m->d;
  int64_t bad = 0;
  if (!bfcr_is_kernel_regressor(p->regressor)) {
    VCHECK(m->npieces == 0 && m->nkrows == 0 && !m->train_piece && p->kernel_cap == 0,
           "a %s model with kernel pieces or a kernel cap",
           p->regressor == BFCR_REG_OLS ? "least-squares" : "ridge");
    return BFCR_OK;
  }
  VCHECK(isfinite(m->ky_mean) && isfinite(m->ky_scale) && m->ky_scale > 0,
         "kernel target standardization (%g, %g) is not finite with scale > 0 (section KERN "
         "missing?)",
         m->ky_mean, m->ky_scale);
  VCHECK(p->kernel_cap >= 1, "kernel regressor with kernel cap %lld (>= 1 expected)",
         (long long)p->kernel_cap);
  VCHECK(m->npieces >= 0 && m->nkrows >= 0, "negative kernel piece or row count");
  VCHECK(m->npieces == 0 || (m->kp && m->kcenter), "kernel pieces are missing");
  VCHECK(m->nkrows == 0 || (m->krows && m->kcoef), "kernel rows are missing");
  int64_t off = 0, next = 0; /* next: first row the next piece of the same cluster starts at */
  for (int64_t q = 0; q < m->npieces; q++) {
    const bfcr_kernel_piece *k = &m->kp[q];
    VCHECK(k->cluster >= 0 && k->cluster < m->k, "kernel piece %lld: cluster %lld out of range",
           (long long)q, (long long)k->cluster);
    VCHECK(q == 0 || k->cluster >= m->kp[q - 1].cluster,
           "kernel pieces are not in cluster order at piece %lld", (long long)q);
    VCHECK(q == 0 || k->cluster != m->kp[q - 1].cluster || k->first == next,
           "kernel piece %lld does not follow piece %lld of cluster %lld", (long long)q,
           (long long)(q - 1), (long long)k->cluster);
    VCHECK(k->first >= 0 && k->n >= 1 && k->n <= p->kernel_cap && k->first <= INT64_MAX - k->n,
           "kernel piece %lld: rows %lld + %lld invalid (cap %lld)", (long long)q,
           (long long)k->first, (long long)k->n, (long long)p->kernel_cap);
    VCHECK(k->m >= 0 && k->m <= k->n && (p->regressor != BFCR_REG_KRR || k->m == k->n),
           "kernel piece %lld stores %lld of its %lld rows", (long long)q, (long long)k->m,
           (long long)k->n);
    VCHECK(k->off == off, "kernel piece %lld: row offset %lld, expected %lld", (long long)q,
           (long long)k->off, (long long)off);
    off += k->m;
    next = k->first + k->n;
    /* The pieces of a cluster cover it: sizes add up to the cluster's. */
    if (q + 1 == m->npieces || m->kp[q + 1].cluster != k->cluster) {
      int64_t tot = 0, q0 = q;
      while (q0 > 0 && m->kp[q0 - 1].cluster == k->cluster) q0--;
      for (int64_t j = q0; j <= q; j++) tot += m->kp[j].n;
      VCHECK(tot == m->cm[k->cluster].size,
             "kernel pieces of cluster %lld hold %lld rows, the "
             "cluster %lld",
             (long long)k->cluster, (long long)tot, (long long)m->cm[k->cluster].size);
    }
    VCHECK(isfinite(k->width) && k->width > 0 && isfinite(k->penalty) && k->penalty > 0,
           "kernel piece %lld: width %g and penalty %g must be finite and > 0", (long long)q,
           k->width, k->penalty);
    VCHECK(isfinite(k->epsilon) && k->epsilon >= 0 && isfinite(k->bias) && isfinite(k->mean_y) &&
               isfinite(k->sd_y) && k->sd_y >= 0,
           "kernel piece %lld: epsilon, bias, mean or sd is not finite (or negative)",
           (long long)q);
  }
  VCHECK(off == m->nkrows, "kernel pieces store %lld rows, section has %lld", (long long)off,
         (long long)m->nkrows);
  VCHECK(finite_all(m->kcenter, m->npieces * d, &bad), "kernel piece %lld: center not finite",
         (long long)(bad / d));
  VCHECK(finite_all(m->krows, m->nkrows * d, &bad), "kernel row %lld is not finite",
         (long long)(bad / d));
  VCHECK(finite_all(m->kcoef, m->nkrows, &bad), "kernel coefficient %lld is not finite",
         (long long)bad);
  VCHECK(!m->train_piece || m->n_train > 0, "kernel pieces of kept rows without kept rows");
  VCHECK(m->n_train == 0 || m->train_piece, "kept training rows without their kernel pieces");
  for (int64_t i = 0; m->train_piece && i < m->n_train; i++) {
    int64_t q = m->train_piece[i];
    VCHECK(q >= -1 && q < m->npieces && (q < 0 || m->kp[q].cluster == m->train_label[i]),
           "kept training row %lld: kernel piece %lld invalid for its cluster %lld", (long long)i,
           (long long)q, (long long)m->train_label[i]);
  }
  return BFCR_OK;
}

bfcr_status bfcr_model_validate(bfcr_ctx *ctx, const char *name, const bfcr_model *m) {
  bfcr_status st;
  int64_t bad = 0;
  VCHECK(m, "no model");
  const bfcr_fit_params *p = &m->params;
  VCHECK(p->criterion >= BFCR_CRIT_HCI && p->criterion <= BFCR_CRIT_GCV, "invalid criterion %d",
         (int)p->criterion);
  VCHECK(p->regressor >= BFCR_REG_RIDGE && p->regressor <= BFCR_REG_SVR, "invalid regressor %d",
         (int)p->regressor);
  VCHECK(p->small == BFCR_SMALL_SHRINK || p->small == BFCR_SMALL_ANCESTOR,
         "invalid small-cluster policy %d", (int)p->small);
  VCHECK(p->routing == BFCR_ROUTE_CENTROID || p->routing == BFCR_ROUTE_SAMPLE, "invalid routing %d",
         (int)p->routing);
  VCHECK(p->lambda_mode >= BFCR_LAMBDA_LEVEL && p->lambda_mode <= BFCR_LAMBDA_FIXED,
         "invalid lambda mode %d", (int)p->lambda_mode);
  /* The other parameters are a record of the fit (predict uses the stored models), kept
   * bit for bit; only what bfcr_fit itself insists on is checked, so that every model
   * fit accepts can be saved. */
  VCHECK(p->lambda_mode != BFCR_LAMBDA_FIXED || (isfinite(p->lambda) && p->lambda >= 0),
         "fixed ridge penalty %g is not finite and >= 0", p->lambda);

  VCHECK(m->d >= 1, "model has d = %d features (at least 1 expected)", m->d);
  int d = m->d;
  if ((st = validate_schema(ctx, name, m->schema, d))) return st;
  VCHECK(m->mean && m->scale, "standardization is missing");
  VCHECK(finite_all(m->mean, d, &bad), "standardization mean %lld is not finite", (long long)bad);
  for (int j = 0; j < d; j++)
    VCHECK(isfinite(m->scale[j]) && m->scale[j] > 0,
           "standardization scale %d is %g (finite and > 0 expected)", j, m->scale[j]);

  VCHECK(m->nlevels >= 1 && m->levels, "model has %d levels (at least 1 expected)", m->nlevels);
  for (int l = 0; l < m->nlevels; l++) {
    const bfcr_level_info *li = &m->levels[l];
    VCHECK(li->level == l, "level table entry %d says level %d", l, li->level);
    VCHECK(li->clusters >= 1 && li->min_size >= 1 && li->min_size <= li->max_size,
           "level %d: %lld clusters of sizes %lld..%lld", l, (long long)li->clusters,
           (long long)li->min_size, (long long)li->max_size);
  }
  VCHECK(m->chosen >= 0 && m->chosen < m->nlevels, "chosen level %d out of range 0..%d", m->chosen,
         m->nlevels - 1);
  VCHECK(m->k >= 1 && m->k == m->levels[m->chosen].clusters,
         "model has %lld clusters, its chosen level %d has %lld", (long long)m->k, m->chosen,
         (long long)m->levels[m->chosen].clusters);
  VCHECK(m->centroids && m->cm && m->w, "centroids or cluster models are missing");
  /* A fit on several ranks may keep only its clusters' centroids (model_impl.h). */
  VCHECK(!m->cent_sharded ||
             (m->cent_lo >= 0 && m->cent_nloc >= 0 && m->cent_nloc <= m->k - m->cent_lo),
         "held centroids [%lld, +%lld) outside 0..%lld", (long long)m->cent_lo,
         (long long)m->cent_nloc, (long long)m->k);
  VCHECK(finite_all(m->centroids, (m->cent_sharded ? m->cent_nloc : m->k) * d, &bad),
         "centroid %lld, feature %lld is not finite",
         (long long)(bad / d + (m->cent_sharded ? m->cent_lo : 0)), (long long)(bad % d));
  VCHECK(finite_all(m->w, m->k * d, &bad), "coefficient %lld of cluster %lld is not finite",
         (long long)(bad % d), (long long)(bad / d));
  for (int64_t c = 0; c < m->k; c++) {
    const bfcr_cluster_model *cm = &m->cm[c];
    VCHECK(cm->size >= 1, "cluster %lld has %lld training rows", (long long)c, (long long)cm->size);
    VCHECK(isfinite(cm->intercept), "intercept of cluster %lld is not finite", (long long)c);
    VCHECK(isfinite(cm->lambda) && cm->lambda >= 0, "cluster %lld: lambda %g is not >= 0",
           (long long)c, cm->lambda);
    VCHECK(cm->rank >= 0 && cm->rank <= d, "cluster %lld: rank %d out of range 0..%d", (long long)c,
           (int)cm->rank, d);
    VCHECK((cm->flags & ~(BFCR_CM_FALLBACK | BFCR_CM_RANKDEF)) == 0,
           "cluster %lld: invalid flags 0x%x", (long long)c, (unsigned)cm->flags);
    VCHECK(cm->src_level >= m->chosen && cm->src_level < m->nlevels,
           "cluster %lld: source level %d out of range %d..%d", (long long)c, (int)cm->src_level,
           m->chosen, m->nlevels - 1);
    VCHECK(cm->src_node >= 0 && cm->src_node < m->levels[cm->src_level].clusters,
           "cluster %lld: source node %lld out of range at level %d", (long long)c,
           (long long)cm->src_node, (int)cm->src_level);
  }
  /* In-sample scores are reports: NaN allowed, R^2 unrestricted (it is -inf for a
   * constant target). */
  VCHECK(!(m->train_rmse < 0) && !isinf(m->train_rmse), "training RMSE %g is invalid",
         m->train_rmse);
  VCHECK(!(m->train_mae < 0) && !isinf(m->train_mae), "training MAE %g is invalid", m->train_mae);
  VCHECK(m->n_train >= 0, "negative number of kept training rows");
  VCHECK(m->n_train > 0 || p->routing != BFCR_ROUTE_SAMPLE,
         "routing by sample but no training rows are kept");
  if (m->n_train > 0) {
    /* A sharded model (route_shard.h) holds rows [lo, lo + held) of the n_train rows. */
    int64_t held = bfcr_route_rows_here(m), lo = bfcr_route_first_here(m);
    VCHECK(!m->train_sharded || (m->train_lo >= 0 && m->train_nloc >= 0 &&
                                 m->train_nloc <= m->n_train - m->train_lo),
           "kept training rows [%lld, +%lld) outside 0..%lld", (long long)m->train_lo,
           (long long)m->train_nloc, (long long)m->n_train);
    VCHECK(held == 0 || (m->train_z && m->train_label), "kept training rows are missing");
    VCHECK(finite_all(m->train_z, held * d, &bad),
           "kept training row %lld, feature %lld is not finite", (long long)(lo + bad / d),
           (long long)(bad % d));
    for (int64_t i = 0; i < held; i++)
      VCHECK(m->train_label[i] >= 0 && m->train_label[i] < m->k,
             "kept training row %lld: cluster %lld out of range 0..%lld", (long long)(lo + i),
             (long long)m->train_label[i], (long long)(m->k - 1));
  }
  if (m->guard_range) { /* GARD */
    VCHECK(m->guard_w && isfinite(m->guard_b) && finite_all(m->guard_w, d, &bad),
           "the guard's global model is missing or not finite");
    VCHECK(isfinite(m->guard_margin) && m->guard_margin >= 0, "guard margin %g is not >= 0",
           m->guard_margin);
    for (int64_t c = 0; c < m->k; c++)
      VCHECK(isfinite(m->guard_range[2 * c]) && isfinite(m->guard_range[2 * c + 1]) &&
                 m->guard_range[2 * c] <= m->guard_range[2 * c + 1],
             "cluster %lld: guard target range [%g, %g] is invalid", (long long)c,
             m->guard_range[2 * c], m->guard_range[2 * c + 1]);
  }
  if (m->guard_lev) { /* GLEV: mu and L finite, L's diagonal > 0, h_max >= 0 (+inf: off) */
    const int64_t W = bfcr_guard_lev_width(d);
    VCHECK(m->guard_range && d <= BFCR_GUARD_LEV_MAXD,
           "section GLEV without GARD or with %d > %d "
           "features",
           d, BFCR_GUARD_LEV_MAXD);
    for (int64_t c = 0; c < m->k; c++) {
      const double *g = m->guard_lev + c * W;
      VCHECK(finite_all(g, W - 1, &bad) && g[W - 1] >= 0,
             "cluster %lld: feature-space guard "
             "value %lld is invalid",
             (long long)c, (long long)(finite_all(g, W - 1, &bad) ? W - 1 : bad));
      for (int a = 0; a < d; a++)
        VCHECK(g[d + (int64_t)a * (a + 1) / 2 + a] > 0,
               "cluster %lld: feature-space guard "
               "factor has a diagonal entry <= 0",
               (long long)c);
    }
  }
  return validate_kernel(ctx, name, m);
}

/* ---------------------------------------------------------------- encoding */

/* One encoder, three sinks: WB_COUNT only counts (the file size and each section's
 * length, which precede their bytes), WB_MEMORY fills one buffer sized by the count
 * (bfcr_model_encode), WB_STREAM fills a small buffer that is checksummed and written
 * each time it is full (bfcr_model_save: the file is never whole in memory, and each
 * chunk is checksummed while it is still in cache). All three run the same put_*
 * calls, so the bytes written are the bytes counted. */
enum { WB_MEMORY, WB_COUNT, WB_STREAM };
#define STREAM_CHUNK ((size_t)1 << 20)

typedef struct wbuf {
  unsigned char *p;
  size_t len, cap;
  int oom;                     /* failed: out of memory, or st below (stream) */
  int mode;                    /* WB_* */
  uint64_t done;               /* bytes counted or already written before p[0] */
  int sec;                     /* section being written */
  uint64_t seclen[NSEC], body; /* from the count: payload lengths, body length */
  /* WB_STREAM */
  bfcr_ctx *ctx;
  bfcr_atomic_file *af;
  uint64_t crc;
  bfcr_status st;
  /* Sharded routing rows (route_shard.h), streamed by rank 0: every rank's block in rank
   * order, received from its owner (model_write_sharded). held[r] = rows of rank r. */
  const int64_t *held;
  /* Sharded centroids (model_impl.h cent_sharded), the same way: NULL when whole. */
  const int64_t *held_cent;
  void *rx; /* STREAM_CHUNK bytes for the received pieces */
} wbuf;

static uint64_t wpos(const wbuf *b) {
  return b->done + b->len;
}

/* Stream: checksum and write the buffered bytes. */
static void wflush(wbuf *b) {
  if (b->oom || b->len == 0) return;
  b->crc = bfcr_crc64(b->crc, b->p, b->len);
  bfcr_status st = bfcr_atomic_write(b->ctx, b->af, b->p, b->len);
  if (st != BFCR_OK) { /* the writer has aborted itself */
    b->st = st;
    b->oom = 1;
    return;
  }
  b->done += b->len;
  b->len = 0;
}

/* Room for n more bytes: the buffer doubles (memory) or is flushed (stream, where
 * n <= cap); NULL once failed. Not used when counting. */
static unsigned char *reserve(wbuf *b, size_t n) {
  if (b->oom) return NULL;
  if (n > b->cap - b->len) {
    if (b->mode == WB_STREAM) {
      wflush(b);
      return b->oom ? NULL : b->p;
    }
    size_t cap = b->cap ? b->cap : 4096;
    while (cap - b->len < n) {
      if (cap > SIZE_MAX / 2) {
        b->oom = 1;
        return NULL;
      }
      cap *= 2;
    }
    unsigned char *q = realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return NULL;
    }
    b->p = q;
    b->cap = cap;
  }
  return b->p + b->len;
}

static void put_bytes(wbuf *b, const void *src, size_t n) {
  if (b->mode == WB_COUNT) {
    b->done += n;
    return;
  }
  const unsigned char *s = src;
  while (n > 0) { /* one piece in memory; pieces of at most the buffer when streaming */
    size_t m = b->mode == WB_STREAM && n > b->cap ? b->cap : n;
    unsigned char *q = reserve(b, m);
    if (!q) return;
    memcpy(q, s, m);
    b->len += m;
    s += m;
    n -= m;
  }
}

static void le_store(unsigned char *q, uint64_t v, int n) {
  for (int i = 0; i < n; i++) q[i] = (unsigned char)(v >> (8 * i));
}
static void put_uint(wbuf *b, uint64_t v, int n) {
  unsigned char q[8];
  le_store(q, v, n);
  put_bytes(b, q, (size_t)n);
}
static void put_u32(wbuf *b, uint32_t v) {
  put_uint(b, v, 4);
}
static void put_i32(wbuf *b, int32_t v) {
  put_uint(b, (uint32_t)v, 4);
}
static void put_u64(wbuf *b, uint64_t v) {
  put_uint(b, v, 8);
}
static void put_i64(wbuf *b, int64_t v) {
  put_uint(b, (uint64_t)v, 8);
}
static void put_f64(wbuf *b, double v) {
  uint64_t u;
  memcpy(&u, &v, sizeof u); /* the IEEE-754 bit pattern, NaN payloads and -0 included */
  put_u64(b, u);
}
/* n doubles, little-endian: on a little-endian host their memory is those bytes. */
static void put_f64s(wbuf *b, const double *v, int64_t n) {
  if (n <= 0) return;
  if ((uint64_t)n > SIZE_MAX / 8) {
    b->oom = 1;
    return;
  }
  if (b->mode == WB_COUNT) {
    b->done += (uint64_t)n * 8;
    return;
  }
  while (n > 0) {
    size_t m = (size_t)n;
    if (b->mode == WB_STREAM && m > b->cap / 8) m = b->cap / 8;
    unsigned char *q = reserve(b, m * 8);
    if (!q) return;
#if defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    memcpy(q, v, m * 8);
#else
    for (size_t i = 0; i < m; i++) {
      uint64_t u;
      memcpy(&u, &v[i], sizeof u);
      le_store(q + 8 * i, u, 8);
    }
#endif
    b->len += m * 8;
    v += m;
    n -= (int64_t)m;
  }
}
static void put_str(wbuf *b, const char *s) {
  if (!s) {
    put_u32(b, STR_NULL);
    return;
  }
  size_t n = strlen(s);
  put_u32(b, (uint32_t)n);
  put_bytes(b, s, n);
}

/* Section = 4-byte tag, u64 payload length, payload. The length is known from the
 * count when streaming, patched in place in memory, and recorded when counting.
 * Returns the position of the length. */
static uint64_t sec_begin(wbuf *b, int sec) {
  put_u32(b, sec_tag[sec]);
  uint64_t at = wpos(b);
  b->sec = sec;
  put_u64(b, b->mode == WB_STREAM ? b->seclen[sec] : 0);
  return at;
}
static void sec_end(wbuf *b, uint64_t at) {
  if (b->oom) return;
  uint64_t len = wpos(b) - at - 8;
  if (b->mode == WB_COUNT) {
    b->seclen[b->sec] = len;
  } else if (b->mode == WB_MEMORY) {
    le_store(b->p + at, len, 8);
  } else if (len != b->seclen[b->sec]) { /* cannot happen: the same calls were counted */
    b->st =
        bfcr_err(b->ctx, BFCR_ERR_INTERNAL, "model section %s: %llu bytes written, %llu counted",
                 sec_name[b->sec], (unsigned long long)len, (unsigned long long)b->seclen[b->sec]);
    b->oom = 1;
  }
}

static void encode_params(wbuf *b, const bfcr_fit_params *p) {
  put_i32(b, p->tree.standardize);
  put_i32(b, p->tree.max_levels);
  put_u32(b, (uint32_t)p->criterion);
  put_i32(b, p->level);
  put_u32(b, (uint32_t)p->regressor);
  put_u32(b, (uint32_t)p->small);
  put_i64(b, p->min_cluster_size);
  put_u32(b, (uint32_t)p->routing);
  put_u32(b, (uint32_t)p->lambda_mode);
  put_f64(b, p->lambda);
  put_f64(b, p->lambda_min);
  put_f64(b, p->lambda_max);
  put_i32(b, p->lambda_steps);
  put_f64(b, p->rcond);
  put_u64(b, p->seed);
}

static void encode_schema(wbuf *b, const bfcr_schema *s) {
  put_u32(b, (uint32_t)s->ncols);
  put_i32(b, s->target_col);
  for (int c = 0; c < s->ncols; c++) {
    put_str(b, s->col_names ? s->col_names[c] : NULL);
    put_u32(b, (uint32_t)s->col_kind[c]);
    put_u32(b, (uint32_t)s->col_ncat[c]);
    for (int j = 0; j < s->col_ncat[c]; j++) put_str(b, s->col_cats[c][j]);
  }
  put_u32(b, (uint32_t)s->d);
  for (int j = 0; j < s->d; j++) {
    put_str(b, s->feat_names ? s->feat_names[j] : NULL);
    put_u32(b, (uint32_t)s->feat_col[j]);
    put_i32(b, s->feat_cat[j]);
  }
}

/* ROUT rows and labels of a sharded model (see wbuf.held): counted as the whole set;
 * streamed by rank 0, which takes its own block and receives every other rank's block in
 * rank order, in pieces of at most STREAM_CHUNK bytes (model_send_shard is the other
 * side). Rank 0 keeps receiving after a write failure (the put calls then do nothing), so
 * no sender is left waiting. */
#define SHARD_TAG_ROWS 0x6266
#define SHARD_TAG_LABELS 0x6267
#define SHARD_TAG_CENT 0x6268
/* n doubles of rank r's block (rank 0: its own, mine), received in pieces of at most
 * STREAM_CHUNK bytes by rank 0 (send_f64_pieces is the other side). */
static int put_f64s_from(wbuf *b, int r, const double *mine, int64_t n, int tag, const char *what) {
  if (r == 0) {
    put_f64s(b, mine, n);
    return 0;
  }
  const int64_t per = (int64_t)(STREAM_CHUNK / 8);
  for (int64_t at = 0; at < n; at += per) {
    int64_t c = n - at < per ? n - at : per;
    int rc = b->rx ? MPI_Recv(b->rx, (int)c, MPI_DOUBLE, r, tag, b->ctx->comm, MPI_STATUS_IGNORE)
                   : MPI_ERR_NO_MEM;
    if (rc != MPI_SUCCESS) {
      if (!b->oom) b->st = bfcr_err(b->ctx, BFCR_ERR_MPI, "receiving rank %d's %s failed", r, what);
      b->oom = 1;
      return -1;
    }
    put_f64s(b, b->rx, c);
  }
  return 0;
}
static bfcr_status send_f64_pieces(bfcr_ctx *ctx, const double *v, int64_t n, int tag,
                                   const char *what) {
  const int64_t per = (int64_t)(STREAM_CHUNK / 8);
  for (int64_t at = 0; at < n; at += per) {
    int64_t c = n - at < per ? n - at : per;
    if (MPI_Send(v + at, (int)c, MPI_DOUBLE, 0, tag, ctx->comm) != MPI_SUCCESS)
      return bfcr_err(ctx, BFCR_ERR_MPI, "sending the %s to rank 0 failed", what);
  }
  return BFCR_OK;
}
/* CENT values of a model with sharded centroids (see wbuf.held_cent): every rank's
 * clusters in rank order. Counted as the whole set. */
static void put_cent_sharded(wbuf *b, const bfcr_model *m) {
  const int d = m->d, P = b->ctx ? b->ctx->size : 1;
  if (b->mode == WB_COUNT) {
    b->done += (uint64_t)m->k * (uint64_t)d * 8;
    return;
  }
  /* After a write failure the pieces are still received (no sender left waiting). */
  for (int r = 0; r < P; r++)
    if (put_f64s_from(b, r, m->centroids, b->held_cent[r] * d, SHARD_TAG_CENT, "centroids")) return;
}
static void put_rout_sharded(wbuf *b, const bfcr_model *m) {
  const int d = m->d, P = b->ctx ? b->ctx->size : 1;
  if (b->mode == WB_COUNT) {
    b->done += (uint64_t)m->n_train * (uint64_t)d * 8 + (uint64_t)m->n_train * 8;
    return;
  }
  const int64_t per =
      (int64_t)(STREAM_CHUNK / 8 / (size_t)d) > 0 ? (int64_t)(STREAM_CHUNK / 8 / (size_t)d) : 1;
  void *tmp = b->rx;
  for (int part = 0; part < 2; part++) {
    for (int r = 0; r < P; r++) {
      if (r == 0) {
        if (part == 0) {
          put_f64s(b, m->train_z, m->train_nloc * d);
        } else {
          for (int64_t i = 0; i < m->train_nloc; i++) put_i64(b, m->train_label[i]);
        }
        continue;
      }
      for (int64_t at = 0; at < b->held[r]; at += per) {
        int64_t c = b->held[r] - at < per ? b->held[r] - at : per;
        int w = part == 0 ? (int)(c * d) : (int)c;
        int rc = tmp ? MPI_Recv(tmp, w, part == 0 ? MPI_DOUBLE : MPI_INT64_T, r,
                                part == 0 ? SHARD_TAG_ROWS : SHARD_TAG_LABELS, b->ctx->comm,
                                MPI_STATUS_IGNORE)
                     : MPI_ERR_NO_MEM;
        if (rc != MPI_SUCCESS) {
          if (!b->oom)
            b->st = bfcr_err(b->ctx, BFCR_ERR_MPI, "receiving rank %d's routing rows failed", r);
          b->oom = 1;
          return;
        }
        if (part == 0) {
          put_f64s(b, tmp, c * d);
        } else {
          for (int64_t i = 0; i < c; i++) put_i64(b, ((const int64_t *)tmp)[i]);
        }
      }
    }
  }
}

/* The other side of put_rout_sharded on ranks 1.. P - 1: this rank's block, the same pieces. */
static bfcr_status model_send_shard(bfcr_ctx *ctx, const bfcr_model *m) {
  const int d = m->d;
  if (m->cent_sharded) { /* CENT comes before ROUT */
    bfcr_status st =
        send_f64_pieces(ctx, m->centroids, m->cent_nloc * d, SHARD_TAG_CENT, "centroids");
    if (st != BFCR_OK) return st;
  }
  const int64_t per =
      (int64_t)(STREAM_CHUNK / 8 / (size_t)d) > 0 ? (int64_t)(STREAM_CHUNK / 8 / (size_t)d) : 1;
  for (int part = 0; part < 2; part++) {
    for (int64_t at = 0; at < m->train_nloc; at += per) {
      int64_t c = m->train_nloc - at < per ? m->train_nloc - at : per;
      int rc = part == 0 ? MPI_Send(m->train_z + at * d, (int)(c * d), MPI_DOUBLE, 0,
                                    SHARD_TAG_ROWS, ctx->comm)
                         : MPI_Send(m->train_label + at, (int)c, MPI_INT64_T, 0, SHARD_TAG_LABELS,
                                    ctx->comm);
      if (rc != MPI_SUCCESS)
        return bfcr_err(ctx, BFCR_ERR_MPI, "sending the routing rows to rank 0 failed");
    }
  }
  return BFCR_OK;
}

/* SHRK: hierarchical shrinkage (shrink.c), written when applied or scored. */
static int has_shrink(const bfcr_model *m) {
  return m->shrink_lambda > 0.0 || m->shrink_grid != NULL;
}

/* Header and sections (everything the checksum covers). */
static void encode_body(wbuf *b, const bfcr_model *m) {
  int d = m->d, kern = bfcr_is_kernel_regressor(m->params.regressor);
  int nsec = SEC_ROUT + (m->n_train > 0) + kern + (m->guard_range != NULL) + (m->cv_rmse != NULL) +
             has_shrink(m) + (m->guard_lev != NULL);
  put_bytes(b, BFCR_MODEL_MAGIC, 8);
  put_bytes(b, text_guard, 4);
  put_u32(b, ENDIAN_MARK);
  put_uint(b, BFCR_MODEL_MAJOR, 2);
  put_uint(b, m->guard_lev ? BFCR_MODEL_MINOR : BFCR_MODEL_MINOR_NO_GLEV, 2);
  put_u32(b, (uint32_t)nsec);
  put_u64(b, b->body); /* body length: from the count, or patched in memory */

  uint64_t at = sec_begin(b, SEC_PARM);
  encode_params(b, &m->params);
  sec_end(b, at);

  at = sec_begin(b, SEC_SCHM);
  encode_schema(b, m->schema);
  sec_end(b, at);

  at = sec_begin(b, SEC_STDZ);
  put_u32(b, (uint32_t)d);
  put_f64s(b, m->mean, d);
  put_f64s(b, m->scale, d);
  sec_end(b, at);

  at = sec_begin(b, SEC_LEVL);
  put_u32(b, (uint32_t)m->nlevels);
  put_u32(b, (uint32_t)m->chosen);
  for (int l = 0; l < m->nlevels; l++) {
    const bfcr_level_info *li = &m->levels[l];
    put_i32(b, li->level);
    put_i64(b, li->clusters);
    put_i64(b, li->min_size);
    put_i64(b, li->max_size);
    put_f64(b, li->hci);
    put_f64(b, li->ch);
    put_f64(b, li->db);
    put_f64(b, li->bic);
    put_f64(b, li->gcv);
    put_f64(b, li->within_ss);
  }
  sec_end(b, at);

  at = sec_begin(b, SEC_CENT);
  put_i64(b, m->k);
  put_u32(b, (uint32_t)d);
  if (b->held_cent)
    put_cent_sharded(b, m);
  else
    put_f64s(b, m->centroids, m->k * d);
  sec_end(b, at);

  at = sec_begin(b, SEC_CMOD);
  put_i64(b, m->k);
  put_f64(b, m->train_rmse);
  put_f64(b, m->train_mae);
  put_f64(b, m->train_r2);
  for (int64_t c = 0; c < m->k; c++) {
    const bfcr_cluster_model *cm = &m->cm[c];
    put_i64(b, cm->size);
    put_f64(b, cm->intercept);
    put_f64(b, cm->lambda);
    put_f64(b, cm->gcv);
    put_i32(b, cm->rank);
    put_u32(b, (uint32_t)cm->flags);
    put_i32(b, cm->src_level);
    put_i64(b, cm->src_node);
  }
  sec_end(b, at);

  at = sec_begin(b, SEC_WGHT);
  put_i64(b, m->k);
  put_u32(b, (uint32_t)d);
  put_f64s(b, m->w, m->k * d);
  sec_end(b, at);

  if (m->n_train > 0) {
    at = sec_begin(b, SEC_ROUT);
    put_i64(b, m->n_train);
    put_u32(b, (uint32_t)d);
    if (b->held) {
      put_rout_sharded(b, m);
    } else {
      put_f64s(b, m->train_z, m->n_train * d);
      for (int64_t i = 0; i < m->n_train; i++) put_i64(b, m->train_label[i]);
    }
    sec_end(b, at);
  }

  if (kern) {
    at = sec_begin(b, SEC_KERN);
    put_i64(b, m->params.kernel_cap);
    put_f64(b, m->ky_mean);
    put_f64(b, m->ky_scale);
    put_i64(b, m->npieces);
    put_u32(b, (uint32_t)d);
    for (int64_t q = 0; q < m->npieces; q++) {
      const bfcr_kernel_piece *k = &m->kp[q];
      put_i64(b, k->cluster);
      put_i64(b, k->first);
      put_i64(b, k->n);
      put_i64(b, k->m);
      put_f64(b, k->width);
      put_f64(b, k->penalty);
      put_f64(b, k->epsilon);
      put_f64(b, k->bias);
      put_f64(b, k->score);
      put_f64(b, k->mean_y);
      put_f64(b, k->sd_y);
      put_f64s(b, m->kcenter + q * d, d);
    }
    put_i64(b, m->nkrows);
    put_f64s(b, m->krows, m->nkrows * d);
    put_f64s(b, m->kcoef, m->nkrows);
    put_i64(b, m->train_piece ? m->n_train : 0);
    for (int64_t i = 0; m->train_piece && i < m->n_train; i++) put_i64(b, m->train_piece[i]);
    sec_end(b, at);
  }

  if (m->guard_range) {
    at = sec_begin(b, SEC_GARD);
    put_i64(b, m->k);
    put_u32(b, (uint32_t)d);
    put_f64(b, m->guard_margin);
    put_f64(b, m->guard_b);
    put_f64s(b, m->guard_w, d);
    put_f64s(b, m->guard_range, 2 * m->k);
    sec_end(b, at);
  }

  if (m->cv_rmse) {
    at = sec_begin(b, SEC_CVTB);
    put_u32(b, (uint32_t)m->cv_folds);
    put_u32(b, (uint32_t)m->cv_best);
    put_u32(b, (uint32_t)m->nlevels);
    put_f64s(b, m->cv_rmse, m->nlevels);
    put_f64s(b, m->cv_se, m->nlevels);
    sec_end(b, at);
  }

  if (has_shrink(m)) { /* SHRK: lambda applied, the parameter, then the CV table */
    at = sec_begin(b, SEC_SHRK);
    put_f64(b, m->shrink_lambda);
    put_f64(b, m->params.shrink);
    put_u32(b, (uint32_t)m->shrink_ng);
    put_u32(b, (uint32_t)(m->shrink_grid ? m->nlevels : 0));
    if (m->shrink_grid) {
      put_f64s(b, m->shrink_grid, m->shrink_ng);
      put_f64s(b, m->shrink_rmse, (int64_t)m->shrink_ng * m->nlevels);
    }
    sec_end(b, at);
  }

  if (m->guard_lev) { /* GLEV: k, d, then each cluster's mu, packed L, h_max */
    at = sec_begin(b, SEC_GLEV);
    put_i64(b, m->k);
    put_u32(b, (uint32_t)d);
    put_f64s(b, m->guard_lev, m->k * bfcr_guard_lev_width(d));
    sec_end(b, at);
  }
}

/* The model must pass bfcr_model_validate; then count its bytes (b->done after the
 * call: header and sections, without the trailer). */
static bfcr_status encode_count(bfcr_ctx *ctx, const bfcr_model *m, wbuf *b, const int64_t *held,
                                const int64_t *held_cent) {
  bfcr_status st = bfcr_model_validate(ctx, "model", m);
  if (st == BFCR_OK && !held && bfcr_route_local_shard(m))
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "this rank holds %lld of the model's %lld routing rows: encode or save it "
                    "on all of its ranks",
                    (long long)m->train_nloc, (long long)m->n_train);
  if (st == BFCR_OK && !held_cent && m->cent_sharded && m->cent_nloc != m->k)
    return bfcr_err(ctx, BFCR_ERR_ARG,
                    "this rank holds %lld of the model's %lld centroids: encode or save it on "
                    "all of its ranks",
                    (long long)m->cent_nloc, (long long)m->k);
  if (st != BFCR_OK) {
    /* An in-memory model that breaks the file's rules is a bug in whatever built it. */
    char why[BFCR_ERRMSG_MAX];
    snprintf(why, sizeof why, "%s", ctx ? ctx->errmsg : "invalid model");
    return bfcr_err(ctx, BFCR_ERR_INTERNAL, "refusing to save an invalid model: %s", why);
  }
  memset(b, 0, sizeof *b);
  b->mode = WB_COUNT;
  b->held = held;
  b->held_cent = held_cent;
  encode_body(b, m);
  if (b->oom || b->done > SIZE_MAX - BFCR_MODEL_TRAILER_BYTES)
    return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory encoding the model");
  b->body = b->done - BFCR_MODEL_HEADER_BYTES;
  return BFCR_OK;
}

static bfcr_status encode_local(bfcr_ctx *ctx, const bfcr_model *m, unsigned char **buf,
                                size_t *len) {
  *buf = NULL;
  *len = 0;
  wbuf b;
  bfcr_status st = encode_count(ctx, m, &b, NULL, NULL);
  if (st != BFCR_OK) return st;
  size_t size = (size_t)b.done + BFCR_MODEL_TRAILER_BYTES;
  wbuf w = {.mode = WB_MEMORY, .body = b.body};
  memcpy(w.seclen, b.seclen, sizeof w.seclen);
  w.p = malloc(size);
  w.cap = size;
  w.oom = w.p == NULL;
  encode_body(&w, m);
  if (!w.oom) put_u64(&w, bfcr_crc64(0, w.p, w.len));
  if (w.oom) {
    free(w.p);
    return bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory encoding the model");
  }
  *buf = w.p;
  *len = w.len;
  return BFCR_OK;
}

bfcr_status bfcr_model_encode(bfcr_ctx *ctx, const bfcr_model *m, unsigned char **buf,
                              size_t *len) {
  if (!(m && m->train_sharded && ctx && ctx->size > 1)) return encode_local(ctx, m, buf, len);
  /* Sharded routing rows: every rank gathers them (collective) and encodes the whole. */
  *buf = NULL;
  *len = 0;
  double *z = NULL, *cent = NULL;
  int64_t *lab = NULL;
  bfcr_status st = bfcr_route_gather(ctx, m, &z, &lab);
  if (st == BFCR_OK && m->cent_sharded) { /* every rank's clusters, in rank order */
    cent = malloc((size_t)(m->k * m->d) * sizeof(double));
    st = bfcr_agree(ctx, cent ? BFCR_OK : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory"));
    if (st == BFCR_OK)
      st = bfcr_allgather_items(ctx, m->centroids, m->cent_nloc, (size_t)m->d * sizeof(double),
                                cent);
  }
  if (st == BFCR_OK) {
    bfcr_model whole = *m;
    whole.train_sharded = 0;
    whole.train_z = z;
    whole.train_label = lab;
    if (cent) {
      whole.cent_sharded = 0;
      whole.centroids = cent;
    }
    st = encode_local(ctx, &whole, buf, len);
  }
  free(z);
  free(lab);
  free(cent);
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) {
    free(*buf);
    *buf = NULL;
    *len = 0;
  }
  return st;
}

/* Encode straight into an atomic writer for path: chunks of STREAM_CHUNK bytes,
 * checksummed as they go; the trailer is the running checksum. Same bytes as
 * bfcr_model_encode. Local. */
static bfcr_status model_write(bfcr_ctx *ctx, const bfcr_model *m, const char *path,
                               const int64_t *held, const int64_t *held_cent) {
  wbuf b = {0};
  bfcr_status st = encode_count(ctx, m, &b, held, held_cent);
  bfcr_atomic_file af;
  int opened = 0;
  wbuf w = {.mode = WB_STREAM,
            .body = b.body,
            .ctx = ctx,
            .af = &af,
            .held = held,
            .held_cent = held_cent};
  memcpy(w.seclen, b.seclen, sizeof w.seclen);
  uint64_t total = b.done;
  size_t cap = total < STREAM_CHUNK ? (size_t)total : STREAM_CHUNK;
  size_t rxcap = STREAM_CHUNK > (size_t)m->d * 8 ? STREAM_CHUNK : (size_t)m->d * 8;
  if (st == BFCR_OK && (!(w.p = malloc(cap)) || (held && !(w.rx = malloc(rxcap)))))
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory saving the model");
  w.cap = cap;
  if (st == BFCR_OK) st = bfcr_atomic_open(ctx, path, &af);
  opened = st == BFCR_OK;
  /* Sharded: the senders (model_send_shard) start only when the file is open here; from
   * then on every piece is received, whatever happens to the writing. */
  if (held) st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) {
    if (opened) bfcr_atomic_abort(&af);
    goto cleanup;
  }
  encode_body(&w, m);
  wflush(&w);
  if (!w.oom && wpos(&w) != total) {
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "model encoding wrote %llu bytes, counted %llu",
                  (unsigned long long)wpos(&w), (unsigned long long)total);
    bfcr_atomic_abort(&af);
    goto cleanup;
  }
  if (w.oom) { /* the writer aborted itself on a write error */
    st = w.st != BFCR_OK ? w.st : bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory saving the model");
    bfcr_atomic_abort(&af);
    goto cleanup;
  }
  unsigned char trailer[BFCR_MODEL_TRAILER_BYTES];
  le_store(trailer, w.crc, 8);
  st = bfcr_atomic_write(ctx, &af, trailer, sizeof trailer);
  if (st == BFCR_OK) st = bfcr_atomic_commit(ctx, &af);
cleanup:
  free(w.p);
  free(w.rx);
  return st;
}

/* ---------------------------------------------------------------- decoding */

typedef struct rd {
  bfcr_ctx *ctx;
  const char *name;
  const unsigned char *p;
  size_t pos, end; /* read position and end of the current section */
  const char *sec;
  int shard; /* ROUT holds only its counts: the rows are read in shards (load_sharded) */
} rd;

static uint64_t le_load(const unsigned char *q, int n) {
  uint64_t v = 0;
  for (int i = n - 1; i >= 0; i--) v = v << 8 | q[i];
  return v;
}

static bfcr_status rd_need(rd *r, size_t n) {
  if (r->end - r->pos >= n) return BFCR_OK;
  return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                     "truncated at byte %zu: section %s ends at byte %zu, %zu more bytes needed",
                     r->pos, r->sec, r->end, n - (r->end - r->pos));
}

#define RD(expr)                                \
  do {                                          \
    if ((st = (expr)) != BFCR_OK) goto cleanup; \
  } while (0)

static bfcr_status rd_uint(rd *r, int n, uint64_t *v) {
  bfcr_status st = rd_need(r, (size_t)n);
  if (st) return st;
  *v = le_load(r->p + r->pos, n);
  r->pos += (size_t)n;
  return BFCR_OK;
}
static bfcr_status rd_i32(rd *r, int32_t *v) {
  uint64_t u;
  bfcr_status st = rd_uint(r, 4, &u);
  /* Two's complement by arithmetic, not by a conversion the standard leaves open. */
  if (!st) *v = u >= 0x80000000u ? (int32_t)((int64_t)u - 0x100000000) : (int32_t)u;
  return st;
}
static bfcr_status rd_i64(rd *r, int64_t *v) {
  uint64_t u;
  bfcr_status st = rd_uint(r, 8, &u);
  if (!st) *v = u > (uint64_t)INT64_MAX ? -(int64_t)(~u) - 1 : (int64_t)u;
  return st;
}
static bfcr_status rd_int(rd *r, int *v) {
  int32_t x;
  bfcr_status st = rd_i32(r, &x);
  if (!st) *v = x;
  return st;
}
static bfcr_status rd_f64(rd *r, double *v) {
  uint64_t u;
  bfcr_status st = rd_uint(r, 8, &u);
  if (!st) memcpy(v, &u, sizeof *v);
  return st;
}
static bfcr_status rd_f64s(rd *r, double *v, int64_t n) {
  if (n <= 0) return BFCR_OK;
  /* n was checked against the section's length, so n * 8 does not overflow. */
  bfcr_status st = rd_need(r, (size_t)n * 8);
  if (st) return st;
  const unsigned char *q = r->p + r->pos;
  for (int64_t i = 0; i < n; i++) {
    uint64_t u = le_load(q + 8 * i, 8);
    memcpy(&v[i], &u, sizeof u);
  }
  r->pos += (size_t)n * 8;
  return BFCR_OK;
}

/* A count of items of at least elem bytes each that must fit in the rest of the section
 * (checked before anything is allocated for them) and be at most max. */
static bfcr_status rd_count(rd *r, int nbytes, uint64_t elem, uint64_t max, uint64_t *n,
                            const char *what) {
  size_t at = r->pos;
  bfcr_status st = rd_uint(r, nbytes, n);
  if (st) return st;
  uint64_t left = r->end - r->pos;
  if (*n > max)
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %s %llu exceeds the limit %llu", r->sec, at, what,
                       (unsigned long long)*n, (unsigned long long)max);
  if (elem > 0 && *n > left / elem)
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %s %llu needs %llu bytes each, only %llu are left",
                       r->sec, at, what, (unsigned long long)*n, (unsigned long long)elem,
                       (unsigned long long)left);
  return BFCR_OK;
}

/* A length-prefixed string; *s stays NULL for the absent-string marker when allowed. */
static bfcr_status rd_str(rd *r, int may_be_null, char **s, const char *what) {
  size_t at = r->pos;
  uint64_t n;
  bfcr_status st = rd_uint(r, 4, &n);
  if (st) return st;
  *s = NULL;
  if (n == STR_NULL && may_be_null) return BFCR_OK;
  if (n > BFCR_MODEL_MAX_STR)
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %s of %llu bytes (at most %d allowed)", r->sec, at,
                       what, (unsigned long long)n, BFCR_MODEL_MAX_STR);
  if ((st = rd_need(r, (size_t)n))) return st;
  if (memchr(r->p + r->pos, '\0', (size_t)n))
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %s contains a NUL byte", r->sec, at, what);
  *s = bfcr_malloc(r->ctx, (size_t)n + 1, 1);
  if (!*s) return BFCR_ERR_NOMEM;
  memcpy(*s, r->p + r->pos, (size_t)n);
  (*s)[n] = '\0';
  r->pos += (size_t)n;
  return BFCR_OK;
}

static bfcr_status bad_value(rd *r, size_t at, const char *what, long long v) {
  return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                     "section %s, byte %zu: invalid %s %lld", r->sec, at, what, v);
}

static bfcr_status rd_enum(rd *r, int *v, int max, const char *what) {
  size_t at = r->pos;
  uint64_t u;
  bfcr_status st = rd_uint(r, 4, &u);
  if (st) return st;
  if (u > (uint64_t)max) return bad_value(r, at, what, (long long)u);
  *v = (int)u;
  return BFCR_OK;
}

static bfcr_status decode_params(rd *r, bfcr_fit_params *p) {
  bfcr_status st = BFCR_OK;
  int v;
  RD(rd_int(r, &p->tree.standardize));
  RD(rd_int(r, &p->tree.max_levels));
  RD(rd_enum(r, &v, BFCR_CRIT_GCV, "criterion"));
  p->criterion = (bfcr_criterion)v;
  RD(rd_int(r, &p->level));
  RD(rd_enum(r, &v, BFCR_REG_SVR, "regressor"));
  p->regressor = (bfcr_regressor)v;
  RD(rd_enum(r, &v, BFCR_SMALL_ANCESTOR, "small-cluster policy"));
  p->small = (bfcr_small_policy)v;
  RD(rd_i64(r, &p->min_cluster_size));
  RD(rd_enum(r, &v, BFCR_ROUTE_SAMPLE, "routing"));
  p->routing = (bfcr_routing)v;
  RD(rd_enum(r, &v, BFCR_LAMBDA_FIXED, "lambda mode"));
  p->lambda_mode = (bfcr_lambda_mode)v;
  RD(rd_f64(r, &p->lambda));
  RD(rd_f64(r, &p->lambda_min));
  RD(rd_f64(r, &p->lambda_max));
  RD(rd_int(r, &p->lambda_steps));
  RD(rd_f64(r, &p->rcond));
  uint64_t seed;
  RD(rd_uint(r, 8, &seed));
  p->seed = seed;
cleanup:
  return st;
}

/* Fills a schema whose fields are set in an order that keeps it consistent at every
 * step (a count is set only once its arrays exist), so bfcr_schema_free can release it
 * after a failure at any point. */
static bfcr_status decode_schema(rd *r, bfcr_schema *s) {
  bfcr_status st = BFCR_OK;
  bfcr_ctx *ctx = r->ctx;
  uint64_t n;
  /* Per column at least: name length, kind, category count. */
  RD(rd_count(r, 4, 12, INT_MAX, &n, "column count"));
  if (n == 0) return bad_value(r, r->pos - 4, "column count", 0);
  int ncols = (int)n;
  RD(rd_int(r, &s->target_col));
  if (ncols > 0) {
    s->col_names = bfcr_calloc(ctx, (size_t)ncols, sizeof *s->col_names);
    s->col_kind = bfcr_calloc(ctx, (size_t)ncols, sizeof *s->col_kind);
    s->col_ncat = bfcr_calloc(ctx, (size_t)ncols, sizeof *s->col_ncat);
    s->col_cats = bfcr_calloc(ctx, (size_t)ncols, sizeof *s->col_cats);
    if (!s->col_names || !s->col_kind || !s->col_ncat || !s->col_cats) {
      st = BFCR_ERR_NOMEM;
      goto cleanup;
    }
  }
  s->ncols = ncols;
  for (int c = 0; c < ncols; c++) {
    RD(rd_str(r, 1, &s->col_names[c], "column name"));
    RD(rd_enum(r, &s->col_kind[c], BFCR_COL_IGNORED, "column kind"));
    RD(rd_count(r, 4, 4, INT_MAX, &n, "category count"));
    if (n > 0) {
      s->col_cats[c] = bfcr_calloc(ctx, (size_t)n, sizeof *s->col_cats[c]);
      if (!s->col_cats[c]) {
        st = BFCR_ERR_NOMEM;
        goto cleanup;
      }
      s->col_ncat[c] = (int)n;
      for (int j = 0; j < (int)n; j++) RD(rd_str(r, 0, &s->col_cats[c][j], "category"));
    }
  }
  /* Per feature: name length, column, category. */
  RD(rd_count(r, 4, 12, INT_MAX, &n, "feature count"));
  int d = (int)n;
  if (d > 0) {
    s->feat_names = bfcr_calloc(ctx, (size_t)d, sizeof *s->feat_names);
    s->feat_col = bfcr_calloc(ctx, (size_t)d, sizeof *s->feat_col);
    s->feat_cat = bfcr_calloc(ctx, (size_t)d, sizeof *s->feat_cat);
    if (!s->feat_names || !s->feat_col || !s->feat_cat) {
      st = BFCR_ERR_NOMEM;
      goto cleanup;
    }
  }
  s->d = d;
  for (int j = 0; j < d; j++) {
    RD(rd_str(r, 1, &s->feat_names[j], "feature name"));
    RD(rd_int(r, &s->feat_col[j]));
    RD(rd_int(r, &s->feat_cat[j]));
  }
cleanup:
  return st;
}

/* A dimension field repeated in a section: must equal the model's d. */
static bfcr_status rd_same_d(rd *r, int d) {
  size_t at = r->pos;
  uint64_t v;
  bfcr_status st = rd_uint(r, 4, &v);
  if (st) return st;
  if (v != (uint64_t)d)
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %llu features, the model has %d", r->sec, at,
                       (unsigned long long)v, d);
  return BFCR_OK;
}
static bfcr_status rd_same_k(rd *r, int64_t k) {
  size_t at = r->pos;
  int64_t v;
  bfcr_status st = rd_i64(r, &v);
  if (st) return st;
  if (v != k)
    return bfcr_err_at(r->ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                       "section %s, byte %zu: %lld clusters, section CENT has %lld", r->sec, at,
                       (long long)v, (long long)k);
  return BFCR_OK;
}

/* KERN: every count is bounded by the bytes left before anything is allocated. */
static bfcr_status decode_kernel(rd *r, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  bfcr_ctx *ctx = r->ctx;
  int d = m->d;
  uint64_t n;
  RD(rd_i64(r, &m->params.kernel_cap));
  RD(rd_f64(r, &m->ky_mean));
  RD(rd_f64(r, &m->ky_scale));
  RD(rd_count(r, 8, KERN_PIECE_BYTES + 8 * (uint64_t)d, INT64_MAX, &n, "piece count"));
  RD(rd_same_d(r, d));
  int64_t np = (int64_t)n, off = 0;
  BFCR_CALLOC(ctx, m->kp, np);
  BFCR_ALLOC(ctx, m->kcenter, np * d);
  m->npieces = np;
  for (int64_t q = 0; q < np; q++) {
    bfcr_kernel_piece *k = &m->kp[q];
    RD(rd_i64(r, &k->cluster));
    RD(rd_i64(r, &k->first));
    RD(rd_i64(r, &k->n));
    RD(rd_i64(r, &k->m));
    RD(rd_f64(r, &k->width));
    RD(rd_f64(r, &k->penalty));
    RD(rd_f64(r, &k->epsilon));
    RD(rd_f64(r, &k->bias));
    RD(rd_f64(r, &k->score));
    RD(rd_f64(r, &k->mean_y));
    RD(rd_f64(r, &k->sd_y));
    RD(rd_f64s(r, m->kcenter + q * d, d));
    /* Offsets are derived; a corrupt m only has to keep them in range here (validation
     * compares the sum with the row count below). */
    k->off = off;
    if (k->m > 0 && off <= INT64_MAX - k->m) off += k->m;
  }
  RD(rd_count(r, 8, 8 * ((uint64_t)d + 1), INT64_MAX, &n, "kernel row count"));
  BFCR_ALLOC(ctx, m->krows, n * (uint64_t)d);
  BFCR_ALLOC(ctx, m->kcoef, n);
  m->nkrows = (int64_t)n;
  RD(rd_f64s(r, m->krows, m->nkrows * d));
  RD(rd_f64s(r, m->kcoef, m->nkrows));
  RD(rd_count(r, 8, 8, INT64_MAX, &n, "kept-row piece count"));
  if (n != (uint64_t)m->n_train && n != 0) {
    st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                     "section KERN: %llu kept-row pieces for %lld kept rows", (unsigned long long)n,
                     (long long)m->n_train);
    goto cleanup;
  }
  if (n > 0) {
    BFCR_ALLOC(ctx, m->train_piece, n);
    for (uint64_t i = 0; i < n; i++) RD(rd_i64(r, &m->train_piece[i]));
  }
cleanup:
  return st;
}

/* A per-cluster section's header (i64 k, u32 d), which must match the model's k and d
 * (and d <= maxd). */
static bfcr_status rd_kd_header(rd *r, const bfcr_model *m, const char *sec, uint64_t maxd,
                                uint64_t *d_out) {
  bfcr_status st = BFCR_OK;
  int64_t k;
  uint64_t d;
  size_t at = r->pos;
  RD(rd_i64(r, &k));
  RD(rd_uint(r, 4, &d));
  if (k != m->k || (int)d != m->d || d > maxd)
    st = bfcr_err(r->ctx, BFCR_ERR_FORMAT,
                  "section %s, byte %zu: %lld clusters x %llu features, the model has %lld x %d",
                  sec, at, (long long)k, (unsigned long long)d, (long long)m->k, m->d);
  *d_out = d;
cleanup:
  return st;
}

/* GARD: the cluster count and width must be the model's; values checked by validate. */
static bfcr_status decode_guard(rd *r, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  bfcr_ctx *ctx = r->ctx;
  uint64_t d;
  const int64_t k = m->k;
  RD(rd_kd_header(r, m, "GARD", UINT64_MAX, &d));
  RD(rd_need(r, (size_t)(2 + d + 2 * (uint64_t)k) * 8)); /* k <= the CENT count, checked */
  BFCR_ALLOC(ctx, m->guard_w, d > 0 ? d : 1);
  BFCR_ALLOC(ctx, m->guard_range, 2 * k);
  RD(rd_f64(r, &m->guard_margin));
  RD(rd_f64(r, &m->guard_b));
  RD(rd_f64s(r, m->guard_w, d));
  RD(rd_f64s(r, m->guard_range, 2 * k));
  m->params.guard_margin = m->guard_margin;
cleanup:
  return st;
}

/* GLEV: the cluster count and width must be the model's; values checked by validate. */
static bfcr_status decode_guard_lev(rd *r, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  bfcr_ctx *ctx = r->ctx;
  uint64_t d;
  const int64_t k = m->k;
  RD(rd_kd_header(r, m, "GLEV", BFCR_GUARD_LEV_MAXD, &d));
  const int64_t W = bfcr_guard_lev_width((int)d);
  RD(rd_need(r, (size_t)(k * W) * 8));
  BFCR_ALLOC(ctx, m->guard_lev, k * W);
  RD(rd_f64s(r, m->guard_lev, k * W));
cleanup:
  return st;
}

static bfcr_status decode_section(rd *r, int sec, bfcr_model *m) {
  bfcr_status st = BFCR_OK;
  bfcr_ctx *ctx = r->ctx;
  uint64_t n;
  int d = m->d;
  switch (sec) {
    case SEC_PARM:
      RD(decode_params(r, &m->params));
      break;
    case SEC_SCHM:
      m->schema = bfcr_calloc(ctx, 1, sizeof *m->schema);
      if (!m->schema) return BFCR_ERR_NOMEM;
      m->schema->target_col = -1;
      RD(decode_schema(r, m->schema));
      break;
    case SEC_STDZ:
      RD(rd_count(r, 4, 16, INT_MAX, &n, "feature count"));
      if (n == 0) return bad_value(r, r->pos - 4, "feature count", 0);
      BFCR_ALLOC(ctx, m->mean, n);
      BFCR_ALLOC(ctx, m->scale, n);
      m->d = (int)n;
      RD(rd_f64s(r, m->mean, m->d));
      RD(rd_f64s(r, m->scale, m->d));
      break;
    case SEC_LEVL:
      RD(rd_count(r, 4, 76, INT_MAX, &n, "level count"));
      if (n == 0) return bad_value(r, r->pos - 4, "level count", 0);
      RD(rd_int(r, &m->chosen));
      BFCR_CALLOC(ctx, m->levels, n);
      m->nlevels = (int)n;
      for (int l = 0; l < m->nlevels; l++) {
        bfcr_level_info *li = &m->levels[l];
        RD(rd_int(r, &li->level));
        RD(rd_i64(r, &li->clusters));
        RD(rd_i64(r, &li->min_size));
        RD(rd_i64(r, &li->max_size));
        RD(rd_f64(r, &li->hci));
        RD(rd_f64(r, &li->ch));
        RD(rd_f64(r, &li->db));
        RD(rd_f64(r, &li->bic));
        RD(rd_f64(r, &li->gcv));
        RD(rd_f64(r, &li->within_ss));
        /* DB is computed wherever HCI is, unless the fit skipped it (not stored). */
        if (isnan(li->db) && !isnan(li->hci)) li->skipped |= BFCR_METRIC_DB;
      }
      break;
    case SEC_CENT: {
      size_t at = r->pos;
      RD(rd_uint(r, 8, &n));
      RD(rd_same_d(r, d));
      /* k rows of d doubles: compare by division so k * d * 8 cannot overflow. */
      if (n == 0 || n > (uint64_t)INT64_MAX || n > (r->end - r->pos) / 8 / (uint64_t)d) {
        st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                         "section CENT, byte %zu: cluster count %llu does not fit the %zu bytes "
                         "left for %d features",
                         at, (unsigned long long)n, r->end - r->pos, d);
        goto cleanup;
      }
      BFCR_ALLOC(ctx, m->centroids, n * (uint64_t)d);
      m->k = (int64_t)n;
      RD(rd_f64s(r, m->centroids, m->k * d));
      break;
    }
    case SEC_CMOD:
      RD(rd_same_k(r, m->k));
      RD(rd_f64(r, &m->train_rmse));
      RD(rd_f64(r, &m->train_mae));
      RD(rd_f64(r, &m->train_r2));
      /* Per cluster: 4 i64/f64 + 3 i32 + 1 i64 = 52 bytes. */
      if ((uint64_t)m->k > (r->end - r->pos) / 52) {
        st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                         "truncated at byte %zu: section CMOD is too short for %lld clusters",
                         r->end, (long long)m->k);
        goto cleanup;
      }
      BFCR_CALLOC(ctx, m->cm, m->k);
      for (int64_t c = 0; c < m->k; c++) {
        bfcr_cluster_model *cm = &m->cm[c];
        RD(rd_i64(r, &cm->size));
        RD(rd_f64(r, &cm->intercept));
        RD(rd_f64(r, &cm->lambda));
        RD(rd_f64(r, &cm->gcv));
        RD(rd_i32(r, &cm->rank));
        RD(rd_i32(r, &cm->flags));
        RD(rd_i32(r, &cm->src_level));
        RD(rd_i64(r, &cm->src_node));
      }
      break;
    case SEC_WGHT:
      RD(rd_same_k(r, m->k));
      RD(rd_same_d(r, d));
      if ((uint64_t)m->k > (r->end - r->pos) / 8 / (uint64_t)d) {
        st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                         "truncated at byte %zu: section WGHT is too short for %lld x %d "
                         "coefficients",
                         r->end, (long long)m->k, d);
        goto cleanup;
      }
      BFCR_ALLOC(ctx, m->w, m->k * d);
      RD(rd_f64s(r, m->w, m->k * d));
      break;
    case SEC_ROUT: {
      size_t at = r->pos;
      RD(rd_uint(r, 8, &n));
      RD(rd_same_d(r, d));
      /* Each kept row: d doubles and one label. */
      if (n == 0 || n > (uint64_t)INT64_MAX ||
          (!r->shard && n > (r->end - r->pos) / 8 / ((uint64_t)d + 1))) {
        st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, r->name, 0, 0,
                         "section ROUT, byte %zu: row count %llu does not fit the %zu bytes left",
                         at, (unsigned long long)n, r->end - r->pos);
        goto cleanup;
      }
      if (r->shard) { /* rows stay in the file; each rank reads its block */
        m->n_train = (int64_t)n;
        m->train_sharded = 1;
        break;
      }
      BFCR_ALLOC(ctx, m->train_z, n * (uint64_t)d);
      BFCR_ALLOC(ctx, m->train_label, n);
      m->n_train = (int64_t)n;
      RD(rd_f64s(r, m->train_z, m->n_train * d));
      for (int64_t i = 0; i < m->n_train; i++) RD(rd_i64(r, &m->train_label[i]));
      break;
    }
    case SEC_KERN:
      RD(decode_kernel(r, m));
      break;
    case SEC_GARD:
      RD(decode_guard(r, m));
      break;
    case SEC_GLEV:
      RD(decode_guard_lev(r, m));
      break;
    case SEC_CVTB: {
      uint64_t f, b, L;
      RD(rd_uint(r, 4, &f));
      RD(rd_uint(r, 4, &b));
      RD(rd_uint(r, 4, &L));
      if (L != (uint64_t)m->nlevels || f < 2 || f > INT32_MAX || b >= L) {
        st = bfcr_err(ctx, BFCR_ERR_FORMAT,
                      "section CVTB: %llu folds, best level %llu of %llu levels (the model has %d)",
                      (unsigned long long)f, (unsigned long long)b, (unsigned long long)L,
                      m->nlevels);
        goto cleanup;
      }
      RD(rd_need(r, (size_t)(2 * L * 8)));
      BFCR_ALLOC(ctx, m->cv_rmse, L);
      BFCR_ALLOC(ctx, m->cv_se, L);
      RD(rd_f64s(r, m->cv_rmse, (int64_t)L));
      RD(rd_f64s(r, m->cv_se, (int64_t)L));
      m->cv_folds = (int)f;
      m->cv_best = (int)b;
      break;
    }
    case SEC_SHRK: {
      uint64_t g, L;
      RD(rd_f64(r, &m->shrink_lambda));
      RD(rd_f64(r, &m->params.shrink));
      RD(rd_uint(r, 4, &g));
      RD(rd_uint(r, 4, &L));
      if (!(m->shrink_lambda >= 0.0) || !isfinite(m->shrink_lambda) ||
          !isfinite(m->params.shrink) || g > 64 || (L != 0 && L != (uint64_t)m->nlevels) ||
          (L == 0) != (g == 0)) {
        st = bfcr_err(ctx, BFCR_ERR_FORMAT,
                      "section SHRK: lambda %g, %llu grid points x %llu levels (the model has %d)",
                      m->shrink_lambda, (unsigned long long)g, (unsigned long long)L, m->nlevels);
        goto cleanup;
      }
      if (g > 0) {
        RD(rd_need(r, (size_t)((g + g * L) * 8)));
        BFCR_ALLOC(ctx, m->shrink_grid, g);
        BFCR_ALLOC(ctx, m->shrink_rmse, g * L);
        RD(rd_f64s(r, m->shrink_grid, (int64_t)g));
        RD(rd_f64s(r, m->shrink_rmse, (int64_t)(g * L)));
        m->shrink_ng = (int)g;
      }
      break;
    }
  }
cleanup:
  return st;
}

static void tag_text(uint32_t tag, char out[20]) {
  unsigned char c[4];
  le_store(c, tag, 4);
  int printable = 1;
  for (int i = 0; i < 4; i++) printable &= c[i] >= 0x20 && c[i] < 0x7F;
  if (printable)
    snprintf(out, 20, "'%c%c%c%c'", c[0], c[1], c[2], c[3]);
  else
    snprintf(out, 20, "0x%08lx", (unsigned long)tag);
}

static int is_prefix_of_magic(const unsigned char *buf, size_t len) {
  unsigned char head[16];
  memcpy(head, BFCR_MODEL_MAGIC, 8);
  memcpy(head + 8, text_guard, 4);
  le_store(head + 12, ENDIAN_MARK, 4);
  return memcmp(buf, head, len < 16 ? len : 16) == 0;
}

static bfcr_status check_header(bfcr_ctx *ctx, const char *name, const unsigned char *buf,
                                size_t len, int *newer_minor, uint64_t *body) {
  if (len == 0)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0, "not a bfcr model file (empty)");
  if (len < BFCR_MODEL_HEADER_BYTES && len < 16 && is_prefix_of_magic(buf, len))
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu (the header alone has %d bytes)", len,
                       BFCR_MODEL_HEADER_BYTES);
  if (len < 8 || memcmp(buf, BFCR_MODEL_MAGIC, 8) != 0)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0, "not a bfcr model file (bad magic)");
  /* The guard bytes CR LF ^Z LF change under any line-ending conversion. */
  if (len < 12 || memcmp(buf + 8, text_guard, 4) != 0) {
    static const unsigned char lf_to_crlf[4] = {0x0D, 0x0D, 0x0A, 0x1A};
    static const unsigned char crlf_to_lf[3] = {0x0A, 0x1A, 0x0A};
    int converted = (len >= 12 && memcmp(buf + 8, lf_to_crlf, 4) == 0) ||
                    (len >= 11 && memcmp(buf + 8, crlf_to_lf, 3) == 0);
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0, "not a bfcr model file%s",
                       converted ? " (its line endings were converted: copied in text mode?)"
                                 : " (bad signature)");
  }
  if (len < 16)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu (the header alone has %d bytes)", len,
                       BFCR_MODEL_HEADER_BYTES);
  uint64_t mark = le_load(buf + 12, 4);
  if (mark == 0x04030201u)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "wrong endianness: the file was written with byte-swapped (big-endian) "
                       "integers");
  if (mark != ENDIAN_MARK)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "not a bfcr model file (bad byte-order marker 0x%08llx)",
                       (unsigned long long)mark);
  if (len < 20)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu (the header alone has %d bytes)", len,
                       BFCR_MODEL_HEADER_BYTES);
  unsigned major = (unsigned)le_load(buf + 16, 2), minor = (unsigned)le_load(buf + 18, 2);
  if (major != BFCR_MODEL_MAJOR)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "model format version %u.%u is not supported (this bfcr reads version "
                       "%d.x, up to %d.%d)",
                       major, minor, BFCR_MODEL_MAJOR, BFCR_MODEL_MAJOR, BFCR_MODEL_MINOR);
  *newer_minor = minor > BFCR_MODEL_MINOR;
  if (len < BFCR_MODEL_HEADER_BYTES)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu (the header alone has %d bytes)", len,
                       BFCR_MODEL_HEADER_BYTES);
  *body = le_load(buf + 24, 8);
  size_t room = len - BFCR_MODEL_HEADER_BYTES;
  if (room < BFCR_MODEL_TRAILER_BYTES || *body > room - BFCR_MODEL_TRAILER_BYTES) {
    unsigned long long want = *body > UINT64_MAX - 40 ? UINT64_MAX : *body + 40;
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu (the header declares %llu bytes)", len, want);
  }
  size_t total = BFCR_MODEL_HEADER_BYTES + (size_t)*body + BFCR_MODEL_TRAILER_BYTES;
  if (len > total)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "%zu bytes of trailing garbage after the end of the model at byte %zu",
                       len - total, total);
  uint64_t stored = le_load(buf + total - 8, 8), computed = bfcr_crc64(0, buf, total - 8);
  if (stored != computed)
    return bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "checksum mismatch (stored 0x%016llx, computed 0x%016llx): the file is "
                       "corrupt",
                       (unsigned long long)stored, (unsigned long long)computed);
  return BFCR_OK;
}

static bfcr_status decode_impl(bfcr_ctx *ctx, const char *name, const unsigned char *buf,
                               size_t len, int shard, bfcr_model **out);

bfcr_status bfcr_model_decode(bfcr_ctx *ctx, const char *name, const unsigned char *buf, size_t len,
                              bfcr_model **out) {
  return decode_impl(ctx, name, buf, len, 0, out);
}

static bfcr_status decode_impl(bfcr_ctx *ctx, const char *name, const unsigned char *buf,
                               size_t len, int shard, bfcr_model **out) {
  *out = NULL;
  if (!name) name = "model";
  bfcr_status st = BFCR_OK;
  int newer = 0;
  uint64_t body = 0;
  bfcr_model *m = NULL;
  if ((st = check_header(ctx, name, buf, len, &newer, &body))) return st;
  unsigned minor = (unsigned)le_load(buf + 18, 2);
  uint64_t nsec = le_load(buf + 20, 4);

  BFCR_CALLOC(ctx, m, 1);
  rd r = {ctx, name, buf, BFCR_MODEL_HEADER_BYTES, 0, "header", shard};
  size_t body_end = BFCR_MODEL_HEADER_BYTES + (size_t)body;
  int next = 0; /* sections come in the order of sec_tag; all but ROUT are required */
  for (uint64_t i = 0; i < nsec; i++) {
    r.end = body_end;
    r.sec = "header";
    size_t at = r.pos;
    uint64_t tag, slen;
    RD(rd_uint(&r, 4, &tag));
    RD(rd_uint(&r, 8, &slen));
    if (slen > body_end - r.pos) {
      st = bfcr_err_at(ctx, BFCR_ERR_FORMAT, name, 0, 0,
                       "truncated at byte %zu: section at byte %zu declares %llu bytes", body_end,
                       at, (unsigned long long)slen);
      goto cleanup;
    }
    r.end = r.pos + (size_t)slen;
    int sec = -1;
    for (int s = 0; s < NSEC; s++)
      if (sec_tag[s] == tag) sec = s;
    char tname[20];
    tag_text((uint32_t)tag, tname);
    if (sec < 0) {
      /* Newer minor versions may add sections; older readers skip them. */
      BFCR_CHECK(ctx, newer, BFCR_ERR_FORMAT, "%s: unknown section %s at byte %zu", name, tname,
                 at);
      r.pos = r.end;
      continue;
    }
    /* Optional sections (ROUT, KERN) may be skipped, required ones may not. */
    BFCR_CHECK(ctx, sec == next || (sec > next && next >= SEC_ROUT), BFCR_ERR_FORMAT,
               "%s: section %s at byte %zu where section %s was expected", name, sec_name[sec], at,
               next < NSEC ? sec_name[next] : "none (all were read)");
    r.sec = sec_name[sec];
    RD(decode_section(&r, sec, m));
    /* Newer minor versions may append fields to a section; older readers skip them. */
    BFCR_CHECK(ctx, r.pos == r.end || newer, BFCR_ERR_FORMAT,
               "%s: section %s has %zu unexpected bytes at byte %zu", name, sec_name[sec],
               r.end - r.pos, r.pos);
    r.pos = r.end;
    next = sec + 1;
  }
  BFCR_CHECK(ctx, r.pos == body_end, BFCR_ERR_FORMAT,
             "%s: %zu bytes after the last of the %llu sections at byte %zu", name,
             body_end - r.pos, (unsigned long long)nsec, r.pos);
  BFCR_CHECK(ctx, next >= SEC_ROUT, BFCR_ERR_FORMAT, "%s: section %s is missing", name,
             next < NSEC ? sec_name[next] : "?");
  if (!m->guard_range) m->params.guard_margin = -1.0; /* 1.0 / 1.1 files: no guard */
  m->params.guard_space = m->guard_lev != NULL;       /* before 1.4, or d > 31: target range only */
  if (!has_shrink(m)) m->params.shrink = 0.0; /* no SHRK (before 1.3, or off): hard routing */
  m->params.select = m->cv_rmse ? BFCR_SELECT_CV : BFCR_SELECT_CRITERION;
  m->params.folds = m->cv_rmse ? m->cv_folds : 5;
  RD(bfcr_model_validate(ctx, name, m));
  if (newer && ctx && ctx->rank == 0)
    bfcr_log(ctx, BFCR_LOG_WARN,
             "%s: model format version %d.%u is newer than this bfcr's %d.%d; fields it does "
             "not know were skipped",
             name, BFCR_MODEL_MAJOR, minor, BFCR_MODEL_MAJOR, BFCR_MODEL_MINOR);
  *out = m;
  m = NULL;
cleanup:
  bfcr_model_free(m);
  return st;
}

/* ---------------------------------------------------------------- files */

static bfcr_status read_whole(bfcr_ctx *ctx, const char *path, unsigned char **buf, size_t *len) {
  *buf = NULL;
  *len = 0;
  bfcr_status st = BFCR_OK;
  char ebuf[128];
  int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open */
  if (fd < 0) {
    int e = errno;
    if (strerror_r(e, ebuf, sizeof ebuf) != 0) snprintf(ebuf, sizeof ebuf, "error %d", e);
    return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open the model file: %s", path, ebuf);
  }
  struct stat sb;
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    if (strerror_r(e, ebuf, sizeof ebuf) != 0) snprintf(ebuf, sizeof ebuf, "error %d", e);
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot stat: %s", path, ebuf);
    goto cleanup;
  }
  BFCR_CHECK(ctx, !S_ISDIR(sb.st_mode), BFCR_ERR_IO, "%s: is a folder, not a model file", path);
  BFCR_CHECK(ctx, S_ISREG(sb.st_mode), BFCR_ERR_IO, "%s: not a regular file", path);
  BFCR_CHECK(ctx, (uintmax_t)sb.st_size <= SIZE_MAX / 2, BFCR_ERR_NOMEM, "%s: too large", path);
  size_t size = (size_t)sb.st_size;
  if (size > 0) BFCR_ALLOC(ctx, *buf, size);
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd, *buf + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      if (strerror_r(e, ebuf, sizeof ebuf) != 0) snprintf(ebuf, sizeof ebuf, "error %d", e);
      st = bfcr_err(ctx, BFCR_ERR_IO, "%s: read failed: %s", path, ebuf);
      goto cleanup;
    }
    BFCR_CHECK(ctx, r > 0, BFCR_ERR_IO, "%s: file shrank while being read", path);
    got += (size_t)r;
  }
  *len = size;
cleanup:
  close(fd);
  if (st != BFCR_OK) {
    free(*buf);
    *buf = NULL;
  }
  return st;
}

/* A sharded model (route_shard.h): the same bytes as the whole model's. Rank 0 writes the
 * file through the atomic writer and receives every other rank's routing rows in rank
 * order as it reaches them (ordered writes: no rank ever holds more than its block and a
 * 1 MiB piece); the file is renamed into place only when complete, so a rank that fails
 * or dies mid-write leaves any previous file untouched. Collective. */
static bfcr_status model_save_sharded(bfcr_ctx *ctx, const bfcr_model *m, const char *path) {
  bfcr_status st = BFCR_OK;
  const int P = ctx->size;
  /* per rank: routing rows (first, count), centroids (sharded, first, count) */
  int64_t mine[5] = {m->train_lo, m->train_nloc, m->cent_sharded, m->cent_lo, m->cent_nloc};
  int64_t *lay = NULL, *held = NULL, *held_cent = NULL;
  lay = bfcr_malloc(ctx, (size_t)P * 5, sizeof(int64_t));
  held = bfcr_malloc(ctx, (size_t)P * 2, sizeof(int64_t));
  if (!lay || !held) st = BFCR_ERR_NOMEM;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (MPI_Allgather(mine, 5, MPI_INT64_T, lay, 5, MPI_INT64_T, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allgather of the routing-row layout failed");
  for (int r = 0; r < P && st == BFCR_OK; r++) {
    const int64_t *L = lay + 5 * r;
    int64_t want = r == 0 ? 0 : L[-5] + L[-4];
    held[r] = L[1];
    if (L[0] != want || held[r] < 0 || (r == P - 1 && want + held[r] != m->n_train))
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL,
                    "routing rows: rank %d holds [%lld, +%lld), not the next block of %lld", r,
                    (long long)L[0], (long long)held[r], (long long)m->n_train);
    want = r == 0 ? 0 : L[-2] + L[-1];
    held[P + r] = L[4];
    if (st == BFCR_OK && L[2] != lay[2])
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "centroids sharded on some ranks only");
    else if (st == BFCR_OK && L[2] &&
             (L[3] != want || L[4] < 0 || (r == P - 1 && want + L[4] != m->k)))
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL,
                    "centroids: rank %d holds [%lld, +%lld), not the next block of %lld", r,
                    (long long)L[3], (long long)L[4], (long long)m->k);
  }
  if (lay[2]) held_cent = held + P;
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) goto cleanup;
  if (ctx->rank == 0) {
    st = model_write(ctx, m, path, held, held_cent); /* agrees once the file is open */
  } else {
    st = bfcr_agree(ctx, bfcr_model_validate(ctx, "model", m));
    if (st == BFCR_OK) st = model_send_shard(ctx, m);
  }
cleanup:
  free(lay);
  free(held);
  return st;
}

bfcr_status bfcr_model_save(bfcr_ctx *ctx, const bfcr_model *model, const char *path) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  double t0 = bfcr_wtime();
  if (!model || !path) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "bfcr_model_save: NULL %s", model ? "path" : "model");
  } else if ((model->train_sharded || model->cent_sharded) && ctx->size > 1) {
    st = model_save_sharded(ctx, model, path);
  } else if (ctx->rank == 0) {
    st = model_write(ctx, model, path, NULL, NULL);
  }
  st = bfcr_agree(ctx, st);
  bfcr_phase_add(ctx, "model save", bfcr_wtime() - t0, 0);
  return st;
}

/* MPI counts are int: move the bytes in pieces of at most 1 GiB. */
static bfcr_status bcast_bytes(bfcr_ctx *ctx, unsigned char *buf, size_t len) {
  const size_t piece = (size_t)1 << 30;
  for (size_t at = 0; at < len; at += piece) {
    size_t n = len - at < piece ? len - at : piece;
    if (MPI_Bcast(buf + at, (int)n, MPI_BYTE, 0, ctx->comm) != MPI_SUCCESS)
      return bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast of the model bytes failed");
  }
  return BFCR_OK;
}

/* ---------------------------------------------------------------- sharded load */

/* Where a linear model's routing rows sit in its file, found by rank 0. */
typedef struct shard_plan {
  uint64_t ok;              /* 1: read in shards; 0: read the whole file as usual */
  uint64_t len;             /* bytes of the compact copy (the file without rows and labels) */
  uint64_t n, d;            /* kept rows, features */
  uint64_t rows_at, lab_at; /* file offsets of the rows and of the labels */
} shard_plan;

static int pread_all(int fd, void *buf, size_t len, uint64_t at) {
  unsigned char *p = buf;
  while (len > 0) {
    ssize_t r = pread(fd, p, len, (off_t)at);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return -1;
    p += r;
    len -= (size_t)r;
    at += (uint64_t)r;
  }
  return 0;
}

/* Rank 0: a file whose header and section table are sound, with a ROUT section and no
 * KERN section, and whose checksum holds, gives plan->ok = 1 and *compact: the file
 * without the row and label arrays, with ROUT's length, the body length and the checksum
 * patched, so that decode_impl (shard = 1) reads every other section as usual. The file is
 * read once in 1 MiB pieces, never whole. Anything else gives ok = 0: the whole-file path
 * then reads it and reports what is wrong. */
static void shard_plan_make(const char *path, shard_plan *plan, unsigned char **compact) {
  memset(plan, 0, sizeof *plan);
  *compact = NULL;
  unsigned char h[32], *piece = NULL, *c = NULL;
  int fd = open(path, O_RDONLY | O_NONBLOCK);
  struct stat sb;
  if (fd < 0) return;
  if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode) || sb.st_size < 40 || pread_all(fd, h, 32, 0))
    goto done;
  uint64_t size = (uint64_t)sb.st_size, body = le_load(h + 24, 8), nsec = le_load(h + 20, 4);
  if (memcmp(h, BFCR_MODEL_MAGIC, 8) != 0 || memcmp(h + 8, text_guard, 4) != 0 ||
      le_load(h + 12, 4) != ENDIAN_MARK || le_load(h + 16, 2) != BFCR_MODEL_MAJOR || body > size ||
      size - body != 40)
    goto done;
  uint64_t pos = 32, rout = 0, rlen = 0;
  for (uint64_t i = 0; i < nsec; i++) {
    unsigned char t[12];
    if (pos + 12 > 32 + body || pread_all(fd, t, 12, pos)) goto done;
    uint64_t tag = le_load(t, 4), slen = le_load(t + 4, 8);
    if (slen > 32 + body - pos - 12) goto done;
    if (tag == sec_tag[SEC_KERN]) goto done; /* kernel models keep all rows everywhere */
    if (tag == sec_tag[SEC_ROUT]) {
      rout = pos;
      rlen = slen;
    }
    pos += 12 + slen;
  }
  if (!rout || rlen < 12 || pread_all(fd, h, 12, rout + 12)) goto done;
  uint64_t n = le_load(h, 8), d = le_load(h + 8, 4);
  if (n == 0 || d == 0 || n > (rlen - 12) / 8 / (d + 1) || rlen - 12 != n * (d + 1) * 8) goto done;
  uint64_t rows_at = rout + 24, cut = n * (d + 1) * 8, clen = size - cut;
  if (!(c = malloc(clen)) || !(piece = malloc(STREAM_CHUNK))) goto done;
  uint64_t crc = 0, w = 0;
  for (uint64_t at = 0; at < size - 8;) {
    size_t m = size - 8 - at < STREAM_CHUNK ? (size_t)(size - 8 - at) : STREAM_CHUNK;
    if (pread_all(fd, piece, m, at)) goto done;
    crc = bfcr_crc64(crc, piece, m);
    for (size_t k = 0; k < m;) { /* copy what lies outside [rows_at, rows_at + cut) */
      uint64_t g = at + k;
      if (g >= rows_at && g < rows_at + cut) {
        k += (size_t)(rows_at + cut - g < m - k ? rows_at + cut - g : m - k);
        continue;
      }
      size_t e = g < rows_at && rows_at - g < m - k ? (size_t)(rows_at - g) : m - k;
      memcpy(c + w, piece + k, e);
      w += e;
      k += e;
    }
    at += m;
  }
  if (pread_all(fd, h, 8, size - 8) || le_load(h, 8) != crc || w != clen - 8) goto done;
  le_store(c + 24, body - cut, 8);
  le_store(c + rout + 4, rlen - cut, 8);
  le_store(c + clen - 8, bfcr_crc64(0, c, clen - 8), 8);
  plan->ok = 1;
  plan->len = clen;
  plan->n = n;
  plan->d = d;
  plan->rows_at = rows_at;
  plan->lab_at = rows_at + n * d * 8;
  *compact = c;
  c = NULL;
done:
  free(c);
  free(piece);
  close(fd);
}

/* Every rank: the model from rank 0's compact copy, then its balanced block
 * [block_lo(n, P, r), block_lo(n, P, r + 1)) of the routing rows read from the file.
 * Collective; agreed status. */
static bfcr_status load_sharded(bfcr_ctx *ctx, const char *path, const shard_plan *plan,
                                unsigned char *compact, bfcr_model **out) {
  bfcr_status st = BFCR_OK;
  bfcr_model *m = NULL;
  int fd = -1;
  if (ctx->rank != 0 && !(compact = bfcr_malloc(ctx, (size_t)plan->len, 1))) st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  BFCR_CALL(bfcr_agree(ctx, bcast_bytes(ctx, compact, (size_t)plan->len)));
  st = decode_impl(ctx, path, compact, (size_t)plan->len, 1, &m);
  if (st == BFCR_OK && (m->n_train != (int64_t)plan->n || m->d != (int)plan->d))
    st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "%s: routing rows moved while loading", path);
  if (st == BFCR_OK) {
    int64_t n = m->n_train, d = m->d;
    m->train_lo = bfcr_block_lo(n, ctx->size, ctx->rank);
    m->train_nloc = bfcr_block_lo(n, ctx->size, ctx->rank + 1) - m->train_lo;
    m->train_z = bfcr_malloc(ctx, (size_t)(m->train_nloc > 0 ? m->train_nloc * d : 1), 8);
    m->train_label = bfcr_malloc(ctx, (size_t)(m->train_nloc > 0 ? m->train_nloc : 1), 8);
    if (!m->train_z || !m->train_label) st = BFCR_ERR_NOMEM;
    if (st == BFCR_OK && (fd = open(path, O_RDONLY)) < 0)
      st = bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open the model file on rank %d", path, ctx->rank);
    if (st == BFCR_OK && (pread_all(fd, m->train_z, (size_t)(m->train_nloc * d) * 8,
                                    plan->rows_at + (uint64_t)(m->train_lo * d) * 8) ||
                          pread_all(fd, m->train_label, (size_t)m->train_nloc * 8,
                                    plan->lab_at + (uint64_t)m->train_lo * 8)))
      st = bfcr_err(ctx, BFCR_ERR_IO, "%s: reading routing rows [%lld, +%lld) failed", path,
                    (long long)m->train_lo, (long long)m->train_nloc);
#if !(defined(__BYTE_ORDER__) && defined(__ORDER_LITTLE_ENDIAN__) && \
      __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__)
    for (int64_t i = 0; st == BFCR_OK && i < m->train_nloc * d; i++) {
      uint64_t u = le_load((const unsigned char *)(m->train_z + i), 8);
      memcpy(m->train_z + i, &u, 8);
    }
    for (int64_t i = 0; st == BFCR_OK && i < m->train_nloc; i++)
      m->train_label[i] = (int64_t)le_load((const unsigned char *)(m->train_label + i), 8);
#endif
    if (st == BFCR_OK) st = bfcr_model_validate(ctx, path, m);
  }
  BFCR_CALL(bfcr_agree(ctx, st));
  *out = m;
  m = NULL;
cleanup:
  if (fd >= 0) close(fd);
  if (ctx->rank != 0) free(compact);
  bfcr_model_free(m);
  return st;
}

bfcr_status bfcr_model_load(bfcr_ctx *ctx, const char *path, bfcr_model **out) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  unsigned char *buf = NULL;
  size_t len = 0;
  bfcr_model *m = NULL;
  double t0 = bfcr_wtime();
  if (out) *out = NULL;
  if (out && path && ctx->size > 1) { /* routing rows in shards when the file allows it */
    shard_plan plan = {0};
    unsigned char *compact = NULL;
    if (ctx->rank == 0) shard_plan_make(path, &plan, &compact);
    if (MPI_Bcast(&plan, 6, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS) {
      st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast of the model layout failed");
    } else if (plan.ok) {
      st = load_sharded(ctx, path, &plan, compact, out);
      free(compact);
      goto cleanup;
    }
    free(compact);
  }
  if (st != BFCR_OK) {
  } else if (!out || !path)
    st = bfcr_err(ctx, BFCR_ERR_ARG, "bfcr_model_load: NULL %s", out ? "path" : "output");
  else if (ctx->rank == 0)
    st = read_whole(ctx, path, &buf, &len);
  BFCR_CALL(bfcr_agree(ctx, st));

  uint64_t n = len;
  if (MPI_Bcast(&n, 1, MPI_UINT64_T, 0, ctx->comm) != MPI_SUCCESS)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast of the model size failed");
  else if (ctx->rank != 0 && n > 0 && !(buf = bfcr_malloc(ctx, (size_t)n, 1)))
    st = BFCR_ERR_NOMEM;
  BFCR_CALL(bfcr_agree(ctx, st));
  len = (size_t)n;
  BFCR_CALL(bfcr_agree(ctx, bcast_bytes(ctx, buf, len)));

  /* Every rank decodes the same bytes, so all reach the same verdict; the agreement
   * only matters if memory runs out on one of them. */
  st = bfcr_model_decode(ctx, path, buf, len, &m);
  BFCR_CALL(bfcr_agree(ctx, st));
  *out = m;
  m = NULL;
cleanup:
  bfcr_model_free(m);
  free(buf);
  bfcr_phase_add(ctx, "model load", bfcr_wtime() - t0, 0);
  return st;
}
