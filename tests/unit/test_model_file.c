/* Model file: round trips, and every kind of damage rejected with its own message. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "io/model_file.h"
#include "model/model_impl.h"
#include "testutil.h"

/* ------------------------------------------------------------ a hand-built model */

static char *sdup(const char *s) {
  char *p = malloc(strlen(s) + 1);
  cr_assert(p);
  strcpy(p, s);
  return p;
}

/* With text: columns carat (numeric), cut (text, 3 categories), price (target),
 * "a,\"b\"" (ignored); features carat, cut=Fair, cut=Good, cut=Ideal. Without text:
 * 4 numeric columns and the target. */
static bfcr_schema *make_schema(int text) {
  bfcr_schema *s = calloc(1, sizeof *s);
  cr_assert(s);
  int ncols = text ? 4 : 5, d = 4;
  s->ncols = ncols;
  s->col_names = calloc((size_t)ncols, sizeof(char *));
  s->col_kind = calloc((size_t)ncols, sizeof(int));
  s->col_ncat = calloc((size_t)ncols, sizeof(int));
  s->col_cats = calloc((size_t)ncols, sizeof(char **));
  s->d = d;
  s->feat_names = calloc((size_t)d, sizeof(char *));
  s->feat_col = calloc((size_t)d, sizeof(int));
  s->feat_cat = calloc((size_t)d, sizeof(int));
  if (text) {
    const char *names[] = {"carat", "cut", "price", "a,\"b\""};
    const int kinds[] = {BFCR_COL_NUMERIC, BFCR_COL_TEXT, BFCR_COL_TARGET, BFCR_COL_IGNORED};
    for (int c = 0; c < 4; c++) {
      s->col_names[c] = sdup(names[c]);
      s->col_kind[c] = kinds[c];
    }
    const char *cats[] = {"Fair", "Good", "Ideal"};
    s->col_cats[1] = calloc(3, sizeof(char *));
    for (int j = 0; j < 3; j++) s->col_cats[1][j] = sdup(cats[j]);
    s->col_ncat[1] = 3;
    s->target_col = 2;
    const char *fn[] = {"carat", "cut=Fair", "cut=Good", "cut=Ideal"};
    for (int j = 0; j < d; j++) {
      s->feat_names[j] = sdup(fn[j]);
      s->feat_col[j] = j == 0 ? 0 : 1;
      s->feat_cat[j] = j == 0 ? -1 : j - 1;
    }
  } else {
    for (int c = 0; c < ncols; c++) {
      char nm[16];
      snprintf(nm, sizeof nm, c == 4 ? "y" : "x%d", c + 1);
      s->col_names[c] = sdup(nm);
      s->col_kind[c] = c == 4 ? BFCR_COL_TARGET : BFCR_COL_NUMERIC;
    }
    s->target_col = 4;
    for (int j = 0; j < d; j++) {
      s->feat_names[j] = sdup(s->col_names[j]);
      s->feat_col[j] = j;
      s->feat_cat[j] = -1;
    }
  }
  return s;
}

/* 4 levels (40, 9, 3, 1 clusters), level 2 chosen, optional 40 kept routing rows. */
static bfcr_model *make_model(int routing, int text) {
  bfcr_model *m = calloc(1, sizeof *m);
  cr_assert(m);
  bfcr_fit_params *p = &m->params;
  p->tree.standardize = 1;
  p->tree.max_levels = -3; /* kept as given: fit reads < 1 as the default */
  p->criterion = BFCR_CRIT_DB;
  p->level = -1;
  p->regressor = BFCR_REG_OLS;
  p->small = BFCR_SMALL_ANCESTOR;
  p->min_cluster_size = 6;
  p->routing = routing ? BFCR_ROUTE_SAMPLE : BFCR_ROUTE_CENTROID;
  p->lambda_mode = BFCR_LAMBDA_FIXED;
  p->lambda = 0.375;
  p->lambda_min = 1e-6;
  p->lambda_max = 1e3;
  p->lambda_steps = 41;
  p->rcond = 1e-12;
  p->seed = 0xFEEDFACECAFEBEEFull;
  m->schema = make_schema(text);
  int d = m->d = 4;
  m->mean = malloc(d * sizeof(double));
  m->scale = malloc(d * sizeof(double));
  for (int j = 0; j < d; j++) {
    m->mean[j] = 0.1 * (j + 1) - 0.25;
    m->scale[j] = 0.5 + j;
  }
  m->nlevels = 4;
  m->levels = calloc(4, sizeof *m->levels);
  const int64_t nc[] = {40, 9, 3, 1}, mn[] = {1, 2, 8, 40}, mx[] = {1, 7, 20, 40};
  for (int l = 0; l < 4; l++) {
    bfcr_level_info *li = &m->levels[l];
    li->level = l;
    li->clusters = nc[l];
    li->min_size = mn[l];
    li->max_size = mx[l];
    li->hci = l == 3 ? NAN : 0.1 * l;
    li->ch = l == 0 ? INFINITY : 10.0 / (l + 1);
    li->db = l == 3 ? NAN : 1.0 / 3.0 + l;
    li->bic = -100.5 * l;
    li->gcv = 2.0 - l * 0.25;
    li->within_ss = 1e-300 * l;
  }
  m->chosen = 2;
  int64_t k = m->k = 3;
  m->centroids = malloc((size_t)(k * d) * sizeof(double));
  m->w = malloc((size_t)(k * d) * sizeof(double));
  for (int64_t i = 0; i < k * d; i++) {
    m->centroids[i] = sin(0.7 * (double)i) * 3;
    m->w[i] = cos(1.3 * (double)i) / 7;
  }
  m->w[1] = -0.0;
  m->cm = calloc((size_t)k, sizeof *m->cm);
  for (int64_t c = 0; c < k; c++) {
    bfcr_cluster_model *cm = &m->cm[c];
    cm->size = 10 + 5 * c;
    cm->intercept = 100.0 / 3.0 * (double)(c + 1);
    cm->lambda = c == 1 ? 0 : 0.125 * (double)c;
    cm->gcv = c == 1 ? NAN : 1.5 + (double)c;
    cm->rank = c == 1 ? 3 : 4;
    cm->flags = c == 1 ? BFCR_CM_RANKDEF : c == 2 ? BFCR_CM_FALLBACK : 0;
    cm->src_level = c == 2 ? 3 : 2;
    cm->src_node = c == 2 ? 0 : c;
  }
  m->train_rmse = 0.75;
  m->train_mae = 0.5;
  m->train_r2 = -0.125;
  if (routing) {
    m->n_train = 40;
    m->train_z = malloc((size_t)(40 * d) * sizeof(double));
    m->train_label = malloc(40 * sizeof(int64_t));
    for (int i = 0; i < 40 * d; i++) m->train_z[i] = (double)(i % 13) / 4.0 - 1.5;
    for (int i = 0; i < 40; i++) m->train_label[i] = i % 3;
  }
  return m;
}

static void encode(bfcr_ctx *ctx, const bfcr_model *m, unsigned char **buf, size_t *len) {
  bfcr_status st = bfcr_model_encode(ctx, m, buf, len);
  cr_assert_eq(st, BFCR_OK, "encode: %s", bfcr_ctx_errmsg(ctx));
}

/* Decode must fail with BFCR_ERR_FORMAT, leave no model, and say `want`. */
static void expect_reject(bfcr_ctx *ctx, const unsigned char *buf, size_t len, const char *want) {
  bfcr_model *m = (bfcr_model *)1;
  bfcr_ctx_clear_error(ctx);
  bfcr_status st = bfcr_model_decode(ctx, "m.bfcr", buf, len, &m);
  cr_assert_eq(st, BFCR_ERR_FORMAT, "expected a format error (%s), got %d: %s", want, st,
               bfcr_ctx_errmsg(ctx));
  cr_assert_null(m);
  if (want)
    cr_assert(strstr(bfcr_ctx_errmsg(ctx), want), "message \"%s\" lacks \"%s\"",
              bfcr_ctx_errmsg(ctx), want);
  cr_assert(strncmp(bfcr_ctx_errmsg(ctx), "m.bfcr: ", 8) == 0, "message \"%s\" lacks the path",
            bfcr_ctx_errmsg(ctx));
}

static uint64_t rd64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}
static void wr64(unsigned char *p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = (unsigned char)(v >> (8 * i));
}
static void wr32(unsigned char *p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the trailing checksum after a deliberate edit (so the edit reaches the
 * section decoder instead of being caught by the checksum). */
static void reseal(unsigned char *buf, size_t len) {
  wr64(buf + len - 8, bfcr_crc64(0, buf, len - 8));
}

/* Offset of the payload of the section with this tag (its u64 length is just before). */
static size_t find_section(const unsigned char *buf, size_t len, const char *tag) {
  size_t pos = BFCR_MODEL_HEADER_BYTES;
  while (pos + 12 <= len - 8) {
    uint64_t slen = rd64(buf + pos + 4);
    if (memcmp(buf + pos, tag, 4) == 0) return pos + 12;
    pos += 12 + (size_t)slen;
  }
  cr_assert_fail("section %s not found", tag);
  return 0;
}

static void check_same_model(const bfcr_model *a, const bfcr_model *b) {
  const bfcr_fit_params *p = &a->params, *q = &b->params;
  cr_assert(p->tree.standardize == q->tree.standardize && p->tree.max_levels == q->tree.max_levels);
  cr_assert(p->criterion == q->criterion && p->level == q->level && p->regressor == q->regressor);
  cr_assert(p->small == q->small && p->min_cluster_size == q->min_cluster_size);
  cr_assert(p->routing == q->routing && p->lambda_steps == q->lambda_steps && p->seed == q->seed);
  cr_assert(p->lambda_mode == q->lambda_mode && p->lambda == q->lambda);
  cr_assert(p->lambda_min == q->lambda_min && p->lambda_max == q->lambda_max &&
            p->rcond == q->rcond);
  const bfcr_schema *s = a->schema, *t = b->schema;
  cr_assert(s->ncols == t->ncols && s->d == t->d && s->target_col == t->target_col);
  for (int c = 0; c < s->ncols; c++) {
    cr_assert_str_eq(s->col_names[c], t->col_names[c]);
    cr_assert(s->col_kind[c] == t->col_kind[c] && s->col_ncat[c] == t->col_ncat[c]);
    for (int j = 0; j < s->col_ncat[c]; j++) cr_assert_str_eq(s->col_cats[c][j], t->col_cats[c][j]);
  }
  for (int j = 0; j < s->d; j++) {
    cr_assert_str_eq(s->feat_names[j], t->feat_names[j]);
    cr_assert(s->feat_col[j] == t->feat_col[j] && s->feat_cat[j] == t->feat_cat[j]);
  }
  int d = a->d;
  cr_assert(a->d == b->d && a->nlevels == b->nlevels && a->chosen == b->chosen && a->k == b->k);
  cr_assert(memcmp(a->mean, b->mean, d * sizeof(double)) == 0);
  cr_assert(memcmp(a->scale, b->scale, d * sizeof(double)) == 0);
  for (int l = 0; l < a->nlevels; l++) {
    const bfcr_level_info *x = &a->levels[l], *y = &b->levels[l];
    cr_assert(x->level == y->level && x->clusters == y->clusters && x->min_size == y->min_size &&
              x->max_size == y->max_size);
    double u[6] = {x->hci, x->ch, x->db, x->bic, x->gcv, x->within_ss};
    double v[6] = {y->hci, y->ch, y->db, y->bic, y->gcv, y->within_ss};
    cr_assert(memcmp(u, v, sizeof u) == 0, "level %d metrics differ", l);
  }
  cr_assert(memcmp(a->centroids, b->centroids, (size_t)(a->k * d) * sizeof(double)) == 0);
  cr_assert(memcmp(a->w, b->w, (size_t)(a->k * d) * sizeof(double)) == 0);
  for (int64_t c = 0; c < a->k; c++) {
    const bfcr_cluster_model *x = &a->cm[c], *y = &b->cm[c];
    cr_assert(x->size == y->size && x->rank == y->rank && x->flags == y->flags &&
              x->src_level == y->src_level && x->src_node == y->src_node);
    double u[3] = {x->intercept, x->lambda, x->gcv}, v[3] = {y->intercept, y->lambda, y->gcv};
    cr_assert(memcmp(u, v, sizeof u) == 0);
  }
  cr_assert(a->train_rmse == b->train_rmse && a->train_mae == b->train_mae &&
            a->train_r2 == b->train_r2 && a->n_train == b->n_train);
  if (a->n_train) {
    cr_assert(memcmp(a->train_z, b->train_z, (size_t)(a->n_train * d) * sizeof(double)) == 0);
    cr_assert(memcmp(a->train_label, b->train_label, (size_t)a->n_train * sizeof(int64_t)) == 0);
  } else {
    cr_assert_null(b->train_z);
  }
}

/* ------------------------------------------------------------ round trips */

Test(model_file, crc64_check_value) {
  cr_assert_eq(bfcr_crc64(0, "123456789", 9), 0x995DC9BBDF1939FAull);
  /* Continuation equals one pass. */
  uint64_t c = bfcr_crc64(bfcr_crc64(0, "1234", 4), "56789", 5);
  cr_assert_eq(c, 0x995DC9BBDF1939FAull);
}

static void round_trip(int routing, int text) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(routing, text), *back = NULL, *again = NULL;
  unsigned char *b1, *b2;
  size_t n1, n2;
  encode(ctx, m, &b1, &n1);
  cr_assert_eq(memcmp(b1, "BFCRMODL", 8), 0);
  cr_assert_eq(bfcr_model_decode(ctx, "mem", b1, n1, &back), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  check_same_model(m, back);
  encode(ctx, back, &b2, &n2);
  cr_assert_eq(n1, n2);
  cr_assert_eq(memcmp(b1, b2, n1), 0, "re-encoding differs");

  /* Through files and the collective entry points. */
  const char *p1 = tu_write_file(routing ? "r1.bfcr" : "c1.bfcr", "", 0);
  const char *p2 = tu_write_file(routing ? "r2.bfcr" : "c2.bfcr", "", 0);
  cr_assert_eq(bfcr_model_save(ctx, m, p1), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_load(ctx, p1, &again), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  check_same_model(m, again);
  cr_assert_eq(bfcr_model_save(ctx, again, p2), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  FILE *f1 = fopen(p1, "rb"), *f2 = fopen(p2, "rb");
  cr_assert(f1 && f2);
  unsigned char *c1 = malloc(n1 + 1), *c2 = malloc(n1 + 1);
  cr_assert_eq(fread(c1, 1, n1 + 1, f1), n1);
  cr_assert_eq(fread(c2, 1, n1 + 1, f2), n1);
  cr_assert_eq(memcmp(c1, b1, n1), 0);
  cr_assert_eq(memcmp(c2, b1, n1), 0);
  fclose(f1);
  fclose(f2);
  free(c1);
  free(c2);
  free(b1);
  free(b2);
  bfcr_model_destroy(&again);
  cr_assert_null(again);
  bfcr_model_free(back);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, round_trip_centroid_text) {
  round_trip(0, 1);
}
Test(model_file, round_trip_routing_text) {
  round_trip(1, 1);
}
Test(model_file, round_trip_routing_numeric) {
  round_trip(1, 0);
}
Test(model_file, round_trip_centroid_numeric) {
  round_trip(0, 0);
}

Test(model_file, free_and_destroy_are_null_safe) {
  bfcr_model_free(NULL);
  bfcr_model_destroy(NULL);
  bfcr_model *m = NULL;
  bfcr_model_destroy(&m);
  cr_assert_null(m);
}

/* ------------------------------------------------------------ damage */

Test(model_file, truncated_at_every_offset) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  expect_reject(ctx, b, 0, "not a bfcr model file");
  for (size_t len = 1; len < n; len++) {
    unsigned char *cut = malloc(len); /* exact size, so ASan sees any over-read */
    memcpy(cut, b, len);
    char want[64];
    snprintf(want, sizeof want, "truncated at byte %zu", len);
    expect_reject(ctx, cut, len, want);
    free(cut);
  }
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, every_single_bit_flip_rejected) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  for (size_t i = 0; i < n; i++) {
    for (int bit = 0; bit < 8; bit++) {
      b[i] ^= (unsigned char)(1u << bit);
      bfcr_model *out = (bfcr_model *)1;
      bfcr_status st = bfcr_model_decode(ctx, "m.bfcr", b, n, &out);
      cr_assert_eq(st, BFCR_ERR_FORMAT, "flip of bit %d at byte %zu accepted (%d)", bit, i, st);
      cr_assert_null(out);
      b[i] ^= (unsigned char)(1u << bit);
    }
  }
  /* A flip in the body is reported as a checksum mismatch. */
  b[n / 2] ^= 4;
  expect_reject(ctx, b, n, "checksum mismatch");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, wrong_magic) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(0, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  b[4] = 'X';
  expect_reject(ctx, b, n, "not a bfcr model file");
  const char *csv = "carat,cut,price\n0.23,Ideal,326\n";
  expect_reject(ctx, (const unsigned char *)csv, strlen(csv), "not a bfcr model file");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, text_mode_mangled) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  /* LF -> CRLF (a Unix file copied to Windows in text mode). */
  unsigned char *crlf = malloc(2 * n);
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    if (b[i] == '\n') crlf[k++] = '\r';
    crlf[k++] = b[i];
  }
  expect_reject(ctx, crlf, k, "line endings were converted");
  /* CRLF -> LF (the other way). */
  k = 0;
  for (size_t i = 0; i < n; i++)
    if (!(b[i] == '\r' && i + 1 < n && b[i + 1] == '\n')) crlf[k++] = b[i];
  expect_reject(ctx, crlf, k, "line endings were converted");
  free(crlf);
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, unknown_major_version) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(0, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  b[16] = 2, b[18] = 0; /* major 2, minor 0 */
  reseal(b, n);
  expect_reject(ctx, b, n, "version 2.0 is not supported");
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "reads version 1.x"), "%s", bfcr_ctx_errmsg(ctx));
  b[16] = 0; /* major 0 */
  b[18] = 7;
  reseal(b, n);
  expect_reject(ctx, b, n, "version 0.7 is not supported");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, byte_swapped) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(0, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  /* What a big-endian writer of the same layout would put in the header. */
  unsigned char be_mark[4] = {1, 2, 3, 4}, be_major[2] = {0, 1};
  memcpy(b + 12, be_mark, 4);
  memcpy(b + 16, be_major, 2);
  reseal(b, n);
  expect_reject(ctx, b, n, "wrong endianness");
  b[12] = 9; /* neither order */
  expect_reject(ctx, b, n, "not a bfcr model file");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, trailing_garbage) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 0);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  unsigned char *more = malloc(n + 3);
  memcpy(more, b, n);
  memcpy(more + n, "\n\n\n", 3);
  expect_reject(ctx, more, n + 1, "1 bytes of trailing garbage");
  expect_reject(ctx, more, n + 3, "trailing garbage");
  free(more);
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

/* Overwrite a u64 or u32 count at payload offset `off` of section tag and expect
 * rejection (before any allocation: ASan would flag a huge malloc). */
static void patch_count(bfcr_ctx *ctx, const unsigned char *orig, size_t n, const char *tag,
                        size_t off, int bytes, uint64_t v, const char *want) {
  unsigned char *b = malloc(n);
  memcpy(b, orig, n);
  size_t at = find_section(b, n, tag) + off;
  if (bytes == 8)
    wr64(b + at, v);
  else
    wr32(b + at, (uint32_t)v);
  reseal(b, n);
  expect_reject(ctx, b, n, want);
  free(b);
}

Test(model_file, huge_and_zero_counts) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  const uint64_t big[] = {1ull << 31, 1ull << 32, 1ull << 63, UINT64_MAX,
                          (1ull << 61) + 1 /* times 8 wraps to 8 */};
  for (int i = 0; i < 5; i++) {
    patch_count(ctx, b, n, "CENT", 0, 8, big[i], "cluster count");
    patch_count(ctx, b, n, "ROUT", 0, 8, big[i], "row count");
    patch_count(ctx, b, n, "CMOD", 0, 8, big[i], "clusters, section CENT has 3");
  }
  const uint32_t big32[] = {1u << 31, 0xFFFFFFFEu, 0x7FFFFFFFu, 1u << 30};
  for (int i = 0; i < 4; i++) {
    patch_count(ctx, b, n, "SCHM", 0, 4, big32[i], "column count");
    patch_count(ctx, b, n, "STDZ", 0, 4, big32[i], "feature count");
    patch_count(ctx, b, n, "LEVL", 0, 4, big32[i], "level count");
    /* The first column name's length. */
    patch_count(ctx, b, n, "SCHM", 8, 4, big32[i], "column name");
  }
  patch_count(ctx, b, n, "CENT", 0, 8, 0, "cluster count 0");
  patch_count(ctx, b, n, "ROUT", 0, 8, 0, "row count 0");
  patch_count(ctx, b, n, "STDZ", 0, 4, 0, "feature count 0");
  patch_count(ctx, b, n, "LEVL", 0, 4, 0, "level count 0");
  patch_count(ctx, b, n, "SCHM", 0, 4, 0, "column count 0");
  /* 1 is a valid count that disagrees with the rest. */
  patch_count(ctx, b, n, "CENT", 0, 8, 1, "section CENT has 64 unexpected bytes");
  patch_count(ctx, b, n, "STDZ", 0, 4, 1, "section STDZ has 48 unexpected bytes");
  patch_count(ctx, b, n, "LEVL", 0, 4, 1, "section LEVL has 228 unexpected bytes");
  /* Section length running past the body. */
  patch_count(ctx, b, n, "PARM", (size_t)-8, 8, 1ull << 62, "declares");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

static void patch_double(bfcr_ctx *ctx, const unsigned char *orig, size_t n, const char *tag,
                         size_t off, double v, const char *want) {
  uint64_t u;
  memcpy(&u, &v, 8);
  patch_count(ctx, orig, n, tag, off, 8, u, want);
}

Test(model_file, non_finite_values_rejected) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  /* WGHT payload: k (8), d (4), then w; element 5 = cluster 1, coefficient 1. */
  patch_double(ctx, b, n, "WGHT", 12 + 5 * 8, NAN, "coefficient 1 of cluster 1 is not finite");
  patch_double(ctx, b, n, "WGHT", 12, INFINITY, "coefficient 0 of cluster 0 is not finite");
  patch_double(ctx, b, n, "CENT", 12 + 7 * 8, -INFINITY, "centroid 1, feature 3 is not finite");
  patch_double(ctx, b, n, "STDZ", 4 + 2 * 8, NAN, "standardization mean 2 is not finite");
  patch_double(ctx, b, n, "STDZ", 4 + 4 * 8 + 8, 0.0, "standardization scale 1 is 0");
  patch_double(ctx, b, n, "STDZ", 4 + 4 * 8, NAN, "standardization scale 0");
  /* CMOD: k (8), rmse, mae, r2 (24), then per cluster size (8), intercept (8). */
  patch_double(ctx, b, n, "CMOD", 32 + 8, NAN, "intercept of cluster 0 is not finite");
  patch_double(ctx, b, n, "ROUT", 12, INFINITY, "kept training row 0, feature 0 is not finite");

  /* The same rule stops save from writing such a model. */
  m->w[5] = NAN;
  const char *p = tu_write_file("nan.bfcr", "old", 3);
  cr_assert_eq(bfcr_model_save(ctx, m, p), BFCR_ERR_INTERNAL);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "coefficient 1 of cluster 1 is not finite"), "%s",
            bfcr_ctx_errmsg(ctx));
  FILE *f = fopen(p, "rb");
  char old[8] = {0};
  cr_assert_eq(fread(old, 1, sizeof old, f), 3);
  fclose(f);
  cr_assert_str_eq(old, "old");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

Test(model_file, invalid_enums_and_indices) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(1, 1);
  unsigned char *b;
  size_t n;
  encode(ctx, m, &b, &n);
  /* PARM: standardize (4), max_levels (4), criterion (4), level (4), regressor (4),
   * small (4), min_cluster_size (8), routing (4), lambda mode (4), lambda (8). */
  patch_count(ctx, b, n, "PARM", 8, 4, 9, "invalid criterion 9");
  patch_count(ctx, b, n, "PARM", 16, 4, 4, "invalid regressor 4");
  /* A kernel regressor (2 = KRR, format 1.1) needs its KERN section. */
  patch_count(ctx, b, n, "PARM", 16, 4, 2, "section KERN missing");
  patch_count(ctx, b, n, "PARM", 20, 4, 0xFFFFFFFFu, "invalid small-cluster policy");
  patch_count(ctx, b, n, "PARM", 32, 4, 5, "invalid routing 5");
  patch_count(ctx, b, n, "PARM", 36, 4, 3, "invalid lambda mode 3");
  uint64_t minus_one;
  double m1 = -1.0;
  memcpy(&minus_one, &m1, 8);
  patch_count(ctx, b, n, "PARM", 40, 8, minus_one, "fixed ridge penalty -1 is not finite");
  /* SCHM: ncols (4), target (4), name "carat" (4 + 5), kind (4). */
  patch_count(ctx, b, n, "SCHM", 17, 4, 4, "invalid column kind 4");
  patch_count(ctx, b, n, "SCHM", 4, 4, 3, "disagrees with target column 3");
  /* A NUL inside the first column name ("carat" at payload bytes 12..16). */
  patch_count(ctx, b, n, "SCHM", 12, 4, 0x61720061u, "column name contains a NUL byte");
  /* ROUT labels are after the 40 x 4 doubles. */
  patch_count(ctx, b, n, "ROUT", 12 + 160 * 8, 8, 3, "cluster 3 out of range 0..2");
  /* CMOD cluster 0: size, intercept, lambda, gcv (32), rank, flags, src_level, src_node. */
  patch_count(ctx, b, n, "CMOD", 32 + 32, 4, 5, "rank 5 out of range 0..4");
  patch_count(ctx, b, n, "CMOD", 32 + 36, 4, 8, "invalid flags 0x8");
  patch_count(ctx, b, n, "CMOD", 32 + 40, 4, 1, "source level 1 out of range 2..3");
  patch_count(ctx, b, n, "CMOD", 32 + 44, 8, 3, "source node 3 out of range");
  patch_count(ctx, b, n, "CMOD", 32, 8, 0, "cluster 0 has 0 training rows");
  /* LEVL: nlevels, chosen, then level 0 entry starting with its level number. */
  patch_count(ctx, b, n, "LEVL", 8, 4, 1, "level table entry 0 says level 1");
  free(b);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

/* ------------------------------------------------------------ sections and versions */

typedef struct sec {
  char tag[5];
  unsigned char *data;
  size_t len;
} sec;

static int split(const unsigned char *b, size_t n, sec *out) {
  int k = 0;
  size_t pos = BFCR_MODEL_HEADER_BYTES;
  while (pos < n - 8) {
    memcpy(out[k].tag, b + pos, 4);
    out[k].tag[4] = 0;
    out[k].len = (size_t)rd64(b + pos + 4);
    out[k].data = malloc(out[k].len + 16);
    memcpy(out[k].data, b + pos + 12, out[k].len);
    pos += 12 + out[k].len;
    k++;
  }
  return k;
}

/* A file from sections with the given minor version (a writer of the future). */
static unsigned char *build(const sec *s, int k, int minor, size_t *len) {
  size_t body = 0;
  for (int i = 0; i < k; i++) body += 12 + s[i].len;
  *len = BFCR_MODEL_HEADER_BYTES + body + 8;
  unsigned char *b = malloc(*len);
  memcpy(b, "BFCRMODL\r\n\x1a\n", 12);
  wr32(b + 12, 0x01020304u);
  b[16] = 1, b[17] = 0, b[18] = (unsigned char)minor, b[19] = 0;
  wr32(b + 20, (uint32_t)k);
  wr64(b + 24, body);
  size_t pos = BFCR_MODEL_HEADER_BYTES;
  for (int i = 0; i < k; i++) {
    memcpy(b + pos, s[i].tag, 4);
    wr64(b + pos + 4, s[i].len);
    memcpy(b + pos + 12, s[i].data, s[i].len);
    pos += 12 + s[i].len;
  }
  reseal(b, *len);
  return b;
}

static int nwarn;
static char lastwarn[512];
static void on_log(void *user, bfcr_log_level level, const char *msg) {
  (void)user;
  if (level == BFCR_LOG_WARN) {
    nwarn++;
    snprintf(lastwarn, sizeof lastwarn, "%s", msg);
  }
}

Test(model_file, newer_minor_is_read_with_a_warning) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_ctx_set_log(ctx, on_log, NULL, BFCR_LOG_INFO);
  bfcr_model *m = make_model(1, 1), *back = NULL;
  unsigned char *b, *f, *again;
  size_t n, fn, n2;
  encode(ctx, m, &b, &n);
  sec s[12];
  int k = split(b, n, s);
  cr_assert_eq(k, 8);
  /* Version 1.5 appends a field to PARM and adds a section between CMOD and WGHT. */
  memcpy(s[0].data + s[0].len, "\x01\x02\x03\x04", 4);
  s[0].len += 4;
  memmove(&s[7], &s[6], 2 * sizeof s[0]);
  memcpy(s[6].tag, "XTRA", 5);
  s[6].data = malloc(5);
  memcpy(s[6].data, "hello", 5);
  s[6].len = 5;
  f = build(s, k + 1, 5, &fn);
  nwarn = 0;
  cr_assert_eq(bfcr_model_decode(ctx, "new.bfcr", f, fn, &back), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  cr_assert_eq(nwarn, 1);
  cr_assert(strstr(lastwarn, "version 1.5 is newer"), "%s", lastwarn);
  check_same_model(m, back);
  encode(ctx, back, &again, &n2); /* re-saved as 1.0, without what it did not know */
  cr_assert(n2 == n && memcmp(again, b, n) == 0);
  free(f);
  /* The same extras in a 1.0 file are errors. */
  f = build(s, k + 1, 0, &fn);
  expect_reject(ctx, f, fn, "section PARM has 4 unexpected bytes");
  free(f);
  s[0].len -= 4;
  f = build(s, k + 1, 0, &fn);
  expect_reject(ctx, f, fn, "unknown section 'XTRA'");
  free(f);
  /* Missing and reordered sections. */
  f = build(s, 6, 0, &fn);
  expect_reject(ctx, f, fn, "section WGHT is missing");
  free(f);
  sec t = s[1];
  s[1] = s[2], s[2] = t;
  f = build(s, 6, 0, &fn);
  expect_reject(ctx, f, fn, "where section SCHM was expected");
  free(f);
  for (int i = 0; i < k + 1; i++) free(s[i].data);
  free(again);
  free(b);
  bfcr_model_free(back);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}

/* ------------------------------------------------------------ files and accessors */

Test(model_file, load_file_errors) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = (bfcr_model *)1;
  cr_assert_eq(bfcr_model_load(ctx, "/nonexistent/dir/m.bfcr", &m), BFCR_ERR_IO);
  cr_assert_null(m);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "/nonexistent/dir/m.bfcr: cannot open"), "%s",
            bfcr_ctx_errmsg(ctx));
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "No such file"), "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_eq(bfcr_model_load(ctx, "/tmp", &m), BFCR_ERR_IO);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "is a folder"), "%s", bfcr_ctx_errmsg(ctx));
  const char *empty = tu_write_file("empty.bfcr", "", 0);
  cr_assert_eq(bfcr_model_load(ctx, empty, &m), BFCR_ERR_FORMAT);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "not a bfcr model file"), "%s", bfcr_ctx_errmsg(ctx));
  cr_assert_null(m);
  bfcr_model *model = make_model(0, 0);
  cr_assert_eq(bfcr_model_save(ctx, model, "/nonexistent/dir/m.bfcr"), BFCR_ERR_IO);
  cr_assert_eq(bfcr_model_save(ctx, NULL, empty), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_model_load(ctx, NULL, &m), BFCR_ERR_ARG);
  bfcr_model_free(model);
  tu_ctx_free(&ctx);
}

Test(model_file, accessors) {
  bfcr_model *m = make_model(0, 1);
  cr_assert_eq(bfcr_model_num_levels(m), 4);
  cr_assert_eq(bfcr_model_chosen_level(m), 2);
  cr_assert_eq(bfcr_model_clusters(m), 3);
  cr_assert_eq(bfcr_model_schema(m), m->schema);
  cr_assert_eq(bfcr_model_params(m)->lambda_steps, 41);
  bfcr_level_info li;
  cr_assert_eq(bfcr_model_level_info(m, 1, &li), BFCR_OK);
  cr_assert(li.level == 1 && li.clusters == 9 && li.max_size == 7);
  cr_assert_eq(bfcr_model_level_info(m, 4, &li), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_model_level_info(m, -1, &li), BFCR_ERR_ARG);
  double coef[5];
  int64_t size;
  double lambda;
  int rank;
  cr_assert_eq(bfcr_model_cluster(m, 3, coef, &size, &lambda, &rank), BFCR_ERR_ARG);
  cr_assert_eq(bfcr_model_cluster(m, -1, coef, NULL, NULL, NULL), BFCR_ERR_ARG);
  for (int64_t c = 0; c < 3; c++) {
    cr_assert_eq(bfcr_model_cluster(m, c, coef, &size, &lambda, &rank), BFCR_OK);
    cr_assert(size == m->cm[c].size && lambda == m->cm[c].lambda && rank == m->cm[c].rank);
    /* The original-unit model predicts what the standardized one does. */
    const double x[4] = {1.7, 0, 1, 0};
    double yo = coef[4], ys = m->cm[c].intercept;
    for (int j = 0; j < 4; j++) {
      yo += coef[j] * x[j];
      ys += m->w[c * 4 + j] * (x[j] - m->mean[j]) / m->scale[j];
    }
    cr_assert(fabs(yo - ys) <= 1e-12 * (1 + fabs(ys)), "cluster %lld: %.17g vs %.17g", (long long)c,
              yo, ys);
    cr_assert_eq(coef[2], m->w[c * 4 + 2] / m->scale[2]);
  }
  cr_assert_eq(bfcr_model_cluster(m, 1, NULL, NULL, NULL, &rank), BFCR_OK);
  cr_assert_eq(rank, 3);
  cr_assert_eq(bfcr_model_num_levels(NULL), 0);
  cr_assert_eq(bfcr_model_clusters(NULL), 0);
  cr_assert_null(bfcr_model_schema(NULL));
  cr_assert_null(bfcr_model_params(NULL));
  bfcr_model_destroy(&m);
  cr_assert_null(m);
}

Test(model_file, save_replaces_atomically) {
  bfcr_ctx *ctx = tu_ctx();
  bfcr_model *m = make_model(0, 0);
  const char *p = tu_write_file("replace.bfcr", "previous contents", 17);
  cr_assert_eq(bfcr_model_save(ctx, m, p), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  bfcr_model *back = NULL;
  cr_assert_eq(bfcr_model_load(ctx, p, &back), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  check_same_model(m, back);
  bfcr_model_free(back);
  bfcr_model_free(m);
  tu_ctx_free(&ctx);
}
