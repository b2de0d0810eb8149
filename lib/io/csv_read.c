/* bfcr_data_read_csv: a strict RFC 4180 reader that every rank runs on its own byte
 * range of the file (see docs/csv.md for the accepted format and the policies).
 *
 * Steps (all ranks):
 * 1. Open, read the header (every rank reads it: a few bytes, no broadcast needed),
 *    validate names; assign roles (target, features, ignored) or match the header
 *    against the training schema (predict).
 * 2. csv_find_records: quote-parity scan of this rank's byte range + MPI_Exscan ->
 *    first record, its line, and the exact number of records (so the row arrays are
 *    allocated once, never grown).
 * 3. Column kinds (fit, one-hot on): rank 0 reads records from the top until each
 *    feature column has a non-missing value; numeric if it parses as a number
 *    (a non-finite or overflowing number counts as numeric, and is then reported).
 *    Broadcast, so every rank encodes identically.
 * 4. Parse the owned records through a bounded streaming window: numbers straight
 *    into the row arrays, text values into per-column dictionaries. With
 *    ctx->nthreads > 1, a range of at least 2 x 4 MiB is cut into up to 4 parts per
 *    thread, parsed by the OpenMP threads, each part into its own slots of the row
 *    arrays (the scan counted each part's records) with its own window and
 *    dictionaries; the parts are then taken in file order (rows packed, dictionaries
 *    merged, the first part that stopped ends the parse), which gives the values, ids
 *    and messages of one sequential pass for any thread count.
 * 5. Errors: each rank stops at its first error; the lowest failing rank is the
 *    earliest in the file and bfcr_agree gives everyone its message. The category
 *    limit is decided after the cross-rank merge and competes with the earliest
 *    parse error by file position, so the message is the same for any rank count.
 * 6. Merge category tables (csv_dict_merge), build the schema, one-hot encode.
 * Memory per rank: its rows (doubles) + one window of max(4 MiB, 2 x line limit) per
 * thread. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/csv_internal.h"
#include "io/numparse.h"
#include "io/schema.h"

#define CSV_DEFAULT_MAX_LINE (1 << 20)
#define CSV_DEFAULT_MAX_COLUMNS 65536
#define CSV_DEFAULT_MAX_CATEGORIES 4096

void bfcr_csv_params_init(bfcr_csv_params *p) {
  if (!p) return;
  memset(p, 0, sizeof *p);
  p->target = NULL;
  p->features = NULL;
  p->na = BFCR_NA_ERROR;
  p->text = BFCR_TEXT_ONEHOT;
  p->max_line_bytes = CSV_DEFAULT_MAX_LINE;
  p->max_columns = CSV_DEFAULT_MAX_COLUMNS;
  p->max_categories = CSV_DEFAULT_MAX_CATEGORIES;
}

typedef struct reader {
  bfcr_ctx *ctx;
  const char *path;
  bfcr_csv_params prm;
  const bfcr_schema *train; /* predict: the training schema */
  csv_src src;
  /* header */
  int ncols;
  char **names;
  int64_t data_begin, hdr_newlines;
  /* roles, per file column */
  int *kind;  /* bfcr_col_kind */
  int *slot;  /* numeric feature slot, text slot, or -1 */
  int *scol;  /* predict: schema column of each file column */
  int target; /* file column of the target, -1 */
  int nnum, ntext;
  int *text_col; /* [ntext] file column */
  /* rows */
  csv_range range;
  int64_t n;    /* rows kept */
  double *num;  /* [records * nnum] */
  double *y;    /* [records] */
  int32_t *tid; /* [records * ntext] local dictionary id / schema category / -1 */
  int64_t *line;
  int64_t dropped;
  csv_dict *dicts; /* fit: [ntext] */
  int64_t *unseen; /* predict: [ntext] */
  int dict_full;   /* stopped at a full dictionary (a category error follows) */
  /* first local error position (for ordering against the category limit) */
  int64_t err_line, err_col;
} reader;

static char *dup_str(const char *s, size_t len) {
  char *c = malloc(len + 1);
  if (c) {
    memcpy(c, s, len);
    c[len] = '\0';
  }
  return c;
}

/* An input error at (line, col), remembered for ordering against the category limit. */
static bfcr_status err_atv(bfcr_ctx *ctx, const char *path, int64_t *el, int64_t *ec, int64_t line,
                           int64_t col, const char *fmt, va_list ap)
    __attribute__((format(printf, 7, 0)));
static bfcr_status err_atv(bfcr_ctx *ctx, const char *path, int64_t *el, int64_t *ec, int64_t line,
                           int64_t col, const char *fmt, va_list ap) {
  char msg[BFCR_ERRMSG_MAX];
  vsnprintf(msg, sizeof msg, fmt, ap);
  *el = line;
  *ec = col;
  return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, line, col, "%s", msg);
}

static bfcr_status in_err(reader *R, int64_t line, int64_t col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static bfcr_status in_err(reader *R, int64_t line, int64_t col, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  bfcr_status st = err_atv(R->ctx, R->path, &R->err_line, &R->err_col, line, col, fmt, ap);
  va_end(ap);
  return st;
}

/* A field's text for a message: quoted, truncated to 60 bytes, control bytes escaped. */
static void show(char *out, size_t n, const char *s, size_t len) {
  size_t o = 0;
  if (n < 8) return;
  out[o++] = '"';
  for (size_t i = 0; i < len && o + 6 < n; i++) {
    if (i == 60) {
      memcpy(out + o, "...", 3);
      o += 3;
      break;
    }
    unsigned char c = (unsigned char)s[i];
    if (c < 0x20 || c == 0x7f) {
      o += (size_t)snprintf(out + o, n - o, "\\x%02x", c);
    } else {
      out[o++] = (char)c;
    }
  }
  out[o++] = '"';
  out[o] = '\0';
}

/* ---------------------------------------------------------------- header ---- */

static bfcr_status read_header(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  csv_stream s;
  csv_rec rec = {0};
  csv_dict seen;
  csv_dict_init(&seen, R->prm.max_columns + 1);
  int stream_open = 0;
  if (R->src.size == 0) return in_err(R, 1, 1, "expected a header line, found an empty file");
  unsigned char bom[3] = {0, 0, 0};
  int64_t nb = R->src.size < 3 ? R->src.size : 3;
  if (csv_pread(ctx, &R->src, (char *)bom, (size_t)nb, 0) != nb) return BFCR_ERR_IO;
  int64_t begin = (nb == 3 && bom[0] == 0xef && bom[1] == 0xbb && bom[2] == 0xbf) ? 3 : 0;
  if (begin == R->src.size)
    return in_err(R, 1, 1, "expected a header line, found an empty file (only a byte-order mark)");
  int64_t cap = (int64_t)R->prm.max_columns + 1;
  if (cap > R->prm.max_line_bytes + 1) cap = R->prm.max_line_bytes + 1;
  rec.cap = (int)cap;
  BFCR_ALLOC(ctx, rec.f, rec.cap);
  BFCR_CALL(csv_stream_open(ctx, &s, &R->src, begin, 1, R->prm.max_line_bytes));
  stream_open = 1;
  int64_t line;
  int rc = csv_stream_next(ctx, &s, &rec, &line);
  if (rc < 0) {
    st = ctx->err;
    goto cleanup;
  }
  if (rc == CSV_REC_ERR) {
    R->err_line = line + rec.err_line;
    R->err_col = rec.err_field;
    st = csv_syntax_error(ctx, R->path, line, &rec, R->prm.max_line_bytes);
    goto cleanup;
  }
  if (rc == CSV_REC_OK && rec.blank) {
    st = in_err(R, 1, 1, "expected a header line, found an empty line");
    goto cleanup;
  }
  if (rec.nf > R->prm.max_columns) {
    st = in_err(R, 1, R->prm.max_columns + 1, "expected at most %d columns, found %d",
                R->prm.max_columns, rec.nf);
    goto cleanup;
  }
  R->ncols = rec.nf;
  BFCR_CALLOC(ctx, R->names, R->ncols);
  int64_t nl_before = 0; /* newlines inside earlier quoted names, for exact lines */
  for (int i = 0; i < R->ncols; i++) {
    const csv_field *f = &rec.f[i];
    size_t bad = 0;
    int64_t at = 1 + nl_before;
    if (f->len == 0) {
      st = in_err(R, at, i + 1, "expected a column name, found an empty field");
      goto cleanup;
    }
    if (!csv_utf8_valid(f->p, f->len, &bad)) {
      st = in_err(R, at, i + 1, "expected a valid UTF-8 column name, found byte 0x%02x",
                  (unsigned char)f->p[bad]);
      goto cleanup;
    }
    int before = seen.n;
    int id = csv_dict_put(&seen, f->p, f->len, i + 1);
    if (id < 0) {
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory reading the header of %s", R->path);
      goto cleanup;
    }
    if (seen.n == before) {
      char b[96];
      show(b, sizeof b, f->p, f->len);
      st = in_err(R, at, i + 1,
                  "expected a unique column name, found %s again (first in column %lld)", b,
                  (long long)seen.line[id]);
      goto cleanup;
    }
    if (!(R->names[i] = dup_str(f->p, f->len))) {
      st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory reading the header of %s", R->path);
      goto cleanup;
    }
    for (size_t k = 0; k < f->len; k++) nl_before += f->p[k] == '\n';
  }
  R->data_begin = csv_stream_offset(&s);
  R->hdr_newlines = rec.nlines > 0 ? rec.nlines - 1 : 0;
cleanup:
  if (stream_open) csv_stream_close(&s);
  csv_dict_free(&seen);
  free(rec.f);
  return st;
}

static int find_col(const reader *R, const char *name) {
  for (int i = 0; i < R->ncols; i++)
    if (strcmp(R->names[i], name) == 0) return i;
  return -1;
}

/* Fit: target, features, ignored columns. */
static bfcr_status assign_roles(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  BFCR_CALLOC(ctx, R->kind, R->ncols);
  R->target = -1;
  if (R->prm.target) {
    R->target = find_col(R, R->prm.target);
    if (R->target < 0)
      return in_err(R, 1, 0,
                    "expected a column named \"%s\" (the target), found none among %d columns",
                    R->prm.target, R->ncols);
  }
  for (int i = 0; i < R->ncols; i++)
    R->kind[i] = R->prm.features ? BFCR_COL_IGNORED : BFCR_COL_NUMERIC;
  if (R->prm.features) {
    for (int k = 0; R->prm.features[k]; k++) {
      const char *nm = R->prm.features[k];
      int c = find_col(R, nm);
      if (c < 0)
        return in_err(R, 1, 0, "expected a column named \"%s\" (listed in features), found none",
                      nm);
      if (c == R->target)
        return bfcr_err(ctx, BFCR_ERR_ARG, "feature \"%s\" is also the target", nm);
      if (R->kind[c] == BFCR_COL_NUMERIC)
        return bfcr_err(ctx, BFCR_ERR_ARG, "feature \"%s\" is listed twice", nm);
      R->kind[c] = BFCR_COL_NUMERIC;
    }
  }
  if (R->target >= 0) R->kind[R->target] = BFCR_COL_TARGET;
  int nfeat = 0;
  for (int i = 0; i < R->ncols; i++) nfeat += R->kind[i] == BFCR_COL_NUMERIC;
  if (nfeat == 0) return in_err(R, 1, 0, "expected at least one feature column, found none");
cleanup:
  return st;
}

/* Predict: the header must be the training header, with or without the target. */
static bfcr_status match_schema(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  const bfcr_schema *S = R->train;
  BFCR_CALLOC(ctx, R->kind, R->ncols);
  BFCR_CALLOC(ctx, R->scol, R->ncols);
  R->target = -1;
  int i = 0, j = 0, skipped = 0;
  while (i < R->ncols || j < S->ncols) {
    if (j < S->ncols && i < R->ncols && strcmp(R->names[i], S->col_names[j]) == 0) {
      R->scol[i] = j;
      R->kind[i] = S->col_kind[j];
      if (j == S->target_col) R->target = i;
      i++, j++;
      continue;
    }
    if (j == S->target_col && !skipped) {
      skipped = 1;
      j++;
      continue;
    }
    if (j < S->ncols && i < R->ncols)
      return in_err(R, 1, i + 1, "expected column %d \"%s\", found \"%s\"", i + 1, S->col_names[j],
                    R->names[i]);
    if (j < S->ncols)
      return in_err(R, 1, i + 1, "expected column %d \"%s\", found the end of the header", i + 1,
                    S->col_names[j]);
    return in_err(R, 1, i + 1, "expected the end of the header after %d columns, found \"%s\"", i,
                  R->names[i]);
  }
cleanup:
  return st;
}

/* ----------------------------------------------------------------- kinds ---- */

static const char *missing_token(const char *p, size_t len) {
  static const char *const tok[] = {"NA", "N/A", "NaN", "nan", "NULL", "null"};
  if (len == 0) return "";
  if (p[0] != 'N' && p[0] != 'n') return NULL;
  for (size_t k = 0; k < sizeof tok / sizeof tok[0]; k++)
    if (strlen(tok[k]) == len && memcmp(tok[k], p, len) == 0) return tok[k];
  return NULL;
}

/* Rank 0: the first non-missing value of each feature column decides its kind. */
static bfcr_status detect_kinds(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  csv_stream s;
  csv_rec rec = {0};
  int stream_open = 0;
  int *decided = NULL;
  if (ctx->rank != 0 || R->prm.text != BFCR_TEXT_ONEHOT) goto bcast;
  BFCR_CALLOC(ctx, decided, R->ncols);
  int todo = 0;
  for (int i = 0; i < R->ncols; i++) {
    decided[i] = R->kind[i] != BFCR_COL_NUMERIC;
    todo += !decided[i];
  }
  rec.cap = R->ncols;
  BFCR_ALLOC(ctx, rec.f, rec.cap);
  BFCR_CALL(csv_stream_open(ctx, &s, &R->src, R->data_begin, 0, R->prm.max_line_bytes));
  stream_open = 1;
  while (todo > 0 && R->data_begin < R->src.size) {
    int64_t line;
    int rc = csv_stream_next(ctx, &s, &rec, &line);
    if (rc < 0) {
      st = ctx->err;
      goto cleanup;
    }
    /* Syntax errors and ragged rows are reported by the parse, in file order. */
    if (rc != CSV_REC_OK || (!rec.blank && rec.nf != R->ncols)) break;
    if (rec.blank) continue;
    for (int i = 0; i < R->ncols; i++) {
      if (decided[i] || missing_token(rec.f[i].p, rec.f[i].len)) continue;
      double v;
      if (!bfcr_num_is_numeric_like(bfcr_parse_double(rec.f[i].p, rec.f[i].len, &v)))
        R->kind[i] = BFCR_COL_TEXT;
      decided[i] = 1;
      todo--;
    }
  }
cleanup:
  if (stream_open) csv_stream_close(&s);
  free(rec.f);
  free(decided);
bcast:
  /* Every rank joins, even when rank 0 failed: the status is agreed afterwards. */
  if (MPI_Bcast(R->kind, R->ncols, MPI_INT, 0, ctx->comm) != MPI_SUCCESS && st == BFCR_OK)
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Bcast of the column kinds failed");
  return st;
}

/* ----------------------------------------------------------------- parse ---- */

/* Line where field i of a record starting at `line` begins (quoted newlines count). */
static int64_t field_line(const csv_rec *r, int i, int64_t line) {
  for (int k = 0; k < i && k < r->cap; k++)
    for (size_t b = 0; b < r->f[k].len; b++) line += r->f[k].p[b] == '\n';
  return line;
}

/* One thread's parse of one part of the rank's range: its records go to the row slots
 * [part->row0, part->row0 + part->records), kept rows first. */
typedef struct worker {
  bfcr_ctx *ctx; /* R->ctx for a single part, else the part's error slot */
  const csv_part *part;
  csv_dict *dicts;  /* fit: [ntext] */
  int64_t *unseen;  /* predict: [ntext] */
  int64_t n;        /* rows kept */
  int64_t dropped;  /* rows dropped for missing values */
  int dict_full;    /* stopped at a full dictionary */
  int64_t err_line; /* position of the input error that stopped the part */
  int64_t err_col;
} worker;

static bfcr_status part_err(const reader *R, worker *W, int64_t line, int64_t col, const char *fmt,
                            ...) __attribute__((format(printf, 5, 6)));
static bfcr_status part_err(const reader *R, worker *W, int64_t line, int64_t col, const char *fmt,
                            ...) {
  va_list ap;
  va_start(ap, fmt);
  bfcr_status st = err_atv(W->ctx, R->path, &W->err_line, &W->err_col, line, col, fmt, ap);
  va_end(ap);
  return st;
}

static bfcr_status number_error(const reader *R, worker *W, const csv_rec *rec, int i, int64_t line,
                                bfcr_num_result res) {
  char b[96];
  show(b, sizeof b, rec->f[i].p, rec->f[i].len);
  int64_t at = field_line(rec, i, line);
  if (res == BFCR_NUM_NONFINITE)
    return part_err(R, W, at, i + 1, "expected a finite number, found %s", b);
  if (res == BFCR_NUM_OVERFLOW)
    return part_err(R, W, at, i + 1, "expected a finite number, found %s (overflows a double)", b);
  return part_err(R, W, at, i + 1, "expected a number, found %s", b);
}

static int cmp_str(const void *key, const void *elem) {
  return strcmp((const char *)key, *(char *const *)elem);
}

/* Schema category of a value at predict (binary search; values hold no NUL). */
static int32_t schema_category(const bfcr_schema *S, int scol, const char *p, size_t len, char *tmp,
                               size_t tmpcap) {
  if (len + 1 > tmpcap) return -1; /* longer than any stored category can be */
  memcpy(tmp, p, len);
  tmp[len] = '\0';
  char **hit = bsearch(tmp, S->col_cats[scol], (size_t)S->col_ncat[scol], sizeof(char *), cmp_str);
  return hit ? (int32_t)(hit - S->col_cats[scol]) : -1;
}

/* Reads R (shared, read-only but for W's own row slots); writes W. Stops at the first
 * error or full dictionary, like a parse of the whole range would. s: the calling
 * thread's stream, opened at its first part (the caller closes it). */
static bfcr_status parse_part(const reader *R, worker *W, csv_stream *s) {
  bfcr_ctx *ctx = W->ctx;
  bfcr_status st = BFCR_OK;
  csv_rec rec = {0};
  char *tmp = NULL;
  size_t tmpcap = 0;
  double *vals = NULL;
  const csv_part *P = W->part;
  if (P->records == 0) return BFCR_OK;
  rec.cap = R->ncols;
  BFCR_ALLOC(ctx, rec.f, rec.cap);
  if (R->train) {
    for (int t = 0; t < R->ntext; t++) {
      const bfcr_schema *S = R->train;
      int sc = R->scol[R->text_col[t]];
      for (int k = 0; k < S->col_ncat[sc]; k++) {
        size_t l = strlen(S->col_cats[sc][k]) + 1;
        if (l > tmpcap) tmpcap = l;
      }
    }
    tmpcap += 1;
    BFCR_ALLOC(ctx, tmp, tmpcap);
  }
  if (s->mem)
    csv_stream_seek(s, P->start, P->line);
  else
    BFCR_CALL(csv_stream_open(ctx, s, &R->src, P->start, P->line, R->prm.max_line_bytes));
  const int nnum = R->nnum, ntext = R->ntext, ncols = R->ncols;
  const int drop_na = R->prm.na == BFCR_NA_DROP;
  /* Rows of numbers only take the fused path (one pass, no field table). */
  int all_numeric = 1;
  for (int i = 0; i < ncols; i++)
    all_numeric &= R->kind[i] == BFCR_COL_NUMERIC || R->kind[i] == BFCR_COL_TARGET;
  if (all_numeric) BFCR_ALLOC(ctx, vals, ncols);
  int64_t seen = 0;
  /* The next row slot, in a local: the workers sit side by side in memory. */
  int64_t row_next = P->row0;
  while (seen < P->records) {
    int64_t line;
    if (all_numeric && csv_stream_next_numeric(s, ncols, vals, &line)) {
      const int64_t row = row_next;
      double *nrow = R->num + row * nnum;
      for (int i = 0; i < ncols; i++) {
        if (R->kind[i] == BFCR_COL_TARGET)
          R->y[row] = vals[i];
        else
          nrow[R->slot[i]] = vals[i];
      }
      R->line[row] = line;
      row_next++;
      seen++;
      continue;
    }
    int rc = csv_stream_next(ctx, s, &rec, &line);
    if (rc < 0) {
      st = ctx->err;
      goto cleanup;
    }
    if (rc == CSV_REC_ERR) {
      W->err_line = line + rec.err_line;
      W->err_col = rec.err_field;
      st = csv_syntax_error(ctx, R->path, line, &rec, R->prm.max_line_bytes);
      goto cleanup;
    }
    if (rc == CSV_REC_EOF) {
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "%s: record count mismatch (%lld of %lld)", R->path,
                    (long long)seen, (long long)P->records);
      goto cleanup;
    }
    if (rec.blank) continue;
    seen++;
    if (rec.nf != ncols) {
      int col = rec.nf > ncols ? ncols + 1 : rec.nf + 1;
      st = part_err(R, W, field_line(&rec, col - 1, line), col, "expected %d fields, found %d",
                    ncols, rec.nf);
      goto cleanup;
    }
    const int64_t row = row_next;
    double *nrow = nnum ? R->num + row * nnum : NULL;
    int32_t *trow = ntext ? R->tid + row * ntext : NULL;
    int drop = 0;
    for (int i = 0; i < ncols; i++) {
      const int kind = R->kind[i];
      if (kind == BFCR_COL_IGNORED) continue;
      const csv_field *f = &rec.f[i];
      if ((f->len == 0 || f->p[0] == 'N' || f->p[0] == 'n')) {
        const char *tok = missing_token(f->p, f->len);
        if (tok) {
          if (drop_na) {
            drop = 1;
            continue;
          }
          int64_t at = field_line(&rec, i, line);
          if (tok[0] == '\0')
            st =
                part_err(R, W, at, i + 1, "expected a value, found an empty field (missing value)");
          else
            st = part_err(R, W, at, i + 1, "expected a value, found the missing-value token \"%s\"",
                          tok);
          goto cleanup;
        }
      }
      if (kind == BFCR_COL_TEXT) {
        if (R->train) {
          trow[R->slot[i]] = schema_category(R->train, R->scol[i], f->p, f->len, tmp, tmpcap);
        } else {
          size_t bad;
          if (!csv_utf8_valid(f->p, f->len, &bad)) {
            st = part_err(R, W, field_line(&rec, i, line), i + 1,
                          "expected valid UTF-8 text, found byte 0x%02x", (unsigned char)f->p[bad]);
            goto cleanup;
          }
        }
        continue;
      }
      double v;
      bfcr_num_result res = bfcr_parse_double(f->p, f->len, &v);
      if (res != BFCR_NUM_OK) {
        st = number_error(R, W, &rec, i, line, res);
        goto cleanup;
      }
      if (kind == BFCR_COL_TARGET)
        R->y[row] = v;
      else
        nrow[R->slot[i]] = v;
    }
    if (drop) {
      W->dropped++;
      continue;
    }
    if (!R->train) {
      /* Categories enter the dictionaries only from kept rows. */
      for (int t = 0; t < ntext; t++) {
        int i = R->text_col[t];
        int id = csv_dict_put(&W->dicts[t], rec.f[i].p, rec.f[i].len, field_line(&rec, i, line));
        if (id == -2) {
          st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the categories of column \"%s\"",
                        R->names[i]);
          goto cleanup;
        }
        if (id == -1) { /* more than max_categories here: the merge reports where */
          W->dict_full = 1;
          goto cleanup;
        }
        trow[t] = id;
      }
    } else {
      for (int t = 0; t < ntext; t++) W->unseen[t] += trow[t] < 0;
    }
    R->line[row] = line;
    row_next++;
  }
  W->n = row_next - P->row0;
cleanup:
  free(rec.f);
  free(tmp);
  free(vals);
  return st;
}

/* Append part W's outcome (status part_st) to the rank's, in part order. Fit: its
 * dictionaries are merged into R->dicts (first occurrences in file order, each column
 * capped like one dictionary of the whole range, so the ids are those one parse of the
 * range gives) and its rows' ids renumbered. Returns 1 when the rank's parse ends with
 * this part: a full dictionary (*st stays BFCR_OK, the merge reports it), the part's
 * error (moved to ctx), or a failed merge. */
static int take_part(reader *R, worker *W, bfcr_status part_st, int32_t **map, bfcr_status *st) {
  bfcr_ctx *ctx = R->ctx;
  const int nnum = R->nnum, ntext = R->ntext;
  const int64_t from = W->part->row0, to = R->n, n = W->n;
  int full = W->dict_full;
  for (int t = 0; !R->train && t < ntext; t++) {
    const csv_dict *d = &W->dicts[t];
    free(map[t]);
    map[t] = malloc((size_t)(d->n ? d->n : 1) * sizeof **map);
    if (!map[t]) {
      *st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging the categories of column \"%s\"",
                     R->names[R->text_col[t]]);
      return 1;
    }
    for (int e = 0; e < d->n; e++) {
      const char *v = csv_dict_str(d, e);
      int id = csv_dict_put(&R->dicts[t], v, strlen(v), d->line[e]);
      if (id == -2) {
        *st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory for the categories of column \"%s\"",
                       R->names[R->text_col[t]]);
        return 1;
      }
      full |= id == -1;
      map[t][e] = id;
    }
  }
  /* The part's entries all precede its error, so a sequential parse would have stopped
   * at this full dictionary first. */
  if (full) {
    R->dict_full = 1;
    return 1;
  }
  if (part_st != BFCR_OK) {
    *st = csv_errs_take(ctx, part_st, W->ctx);
    R->err_line = W->err_line;
    R->err_col = W->err_col;
    return 1;
  }
  if (from != to && n > 0) {
    if (nnum)
      memmove(R->num + to * nnum, R->num + from * nnum, (size_t)(n * nnum) * sizeof *R->num);
    if (ntext)
      memmove(R->tid + to * ntext, R->tid + from * ntext, (size_t)(n * ntext) * sizeof *R->tid);
    if (R->y) memmove(R->y + to, R->y + from, (size_t)n * sizeof *R->y);
    memmove(R->line + to, R->line + from, (size_t)n * sizeof *R->line);
  }
  if (!R->train) {
    for (int64_t r = to; r < to + n; r++)
      for (int t = 0; t < ntext; t++) R->tid[r * ntext + t] = map[t][R->tid[r * ntext + t]];
  } else {
    for (int t = 0; t < ntext; t++) R->unseen[t] += W->unseen[t];
  }
  R->n += n;
  R->dropped += W->dropped;
  return 0;
}

/* Parse this rank's records: one part in the calling thread, or the parts shared by
 * up to ctx->nthreads OpenMP threads, each part with its own window, dictionaries and
 * error slot. The parts' outcomes are
 * then taken in file order: rows packed in order, dictionaries merged in order, and
 * the first part that stopped (error or full dictionary) ends the rank's parse, which
 * is exactly what one sequential pass over the range gives. */
static bfcr_status parse_rows(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  const int T = R->range.nparts, ntext = R->ntext, fit = R->train == NULL;
  if (T == 1) {
    worker W = {.ctx = ctx, .part = &R->range.part[0], .dicts = R->dicts, .unseen = R->unseen};
    csv_stream s = {0};
    st = parse_part(R, &W, &s);
    csv_stream_close(&s);
    R->n = W.n;
    R->dropped = W.dropped;
    R->dict_full = W.dict_full;
    R->err_line = W.err_line;
    R->err_col = W.err_col;
    return st;
  }
  worker *W = NULL;
  bfcr_ctx *errs = NULL;
  bfcr_status *pst = NULL;
  csv_dict *dicts = NULL;
  int64_t *unseen = NULL;
  int32_t **map = NULL;
  BFCR_CALLOC(ctx, W, T);
  BFCR_CALLOC(ctx, pst, T);
  BFCR_CALLOC(ctx, map, ntext > 0 ? ntext : 1);
  if (fit) {
    BFCR_CALLOC(ctx, dicts, (size_t)T * (size_t)ntext);
    for (int k = 0; k < T * ntext; k++) csv_dict_init(&dicts[k], R->prm.max_categories + 1);
  } else {
    BFCR_CALLOC(ctx, unseen, (size_t)T * (size_t)ntext);
  }
  errs = csv_errs_new(ctx, T);
  if (!errs) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
  for (int t = 0; t < T; t++) {
    W[t].ctx = &errs[t];
    W[t].part = &R->range.part[t];
    W[t].dicts = dicts ? dicts + (size_t)t * (size_t)ntext : NULL;
    W[t].unseen = unseen ? unseen + (size_t)t * (size_t)ntext : NULL;
  }
  const int nt = ctx->nthreads < T ? (ctx->nthreads > 1 ? ctx->nthreads : 1) : T;
#pragma omp parallel num_threads(nt)
  {
    csv_stream s = {0}; /* one window per thread, reused over its parts */
#pragma omp for schedule(dynamic, 1)
    for (int t = 0; t < T; t++) pst[t] = parse_part(R, &W[t], &s);
    csv_stream_close(&s);
  }
  for (int t = 0; t < T; t++)
    if (take_part(R, &W[t], pst[t], map, &st)) break;
cleanup:
  if (dicts)
    for (int k = 0; k < T * ntext; k++) csv_dict_free(&dicts[k]);
  free(dicts);
  if (map)
    for (int t = 0; t < ntext; t++) free(map[t]);
  free(map);
  free(unseen);
  free(errs);
  free(pst);
  free(W);
  return st;
}

/* ---------------------------------------------------------------- encode ---- */

static char *feat_name(const char *col, const char *cat) {
  size_t a = strlen(col), b = strlen(cat);
  char *s = malloc(a + b + 2);
  if (!s) return NULL;
  memcpy(s, col, a);
  s[a] = '=';
  memcpy(s + a + 1, cat, b + 1);
  return s;
}

/* Fit: the schema from header, kinds and merged categories (takes the categories). */
static bfcr_schema *build_schema(reader *R, csv_cats *cats) {
  bfcr_schema *S = calloc(1, sizeof *S);
  if (!S) return NULL;
  int d = 0;
  for (int i = 0; i < R->ncols; i++) {
    if (R->kind[i] == BFCR_COL_NUMERIC) d++;
    if (R->kind[i] == BFCR_COL_TEXT) d += cats[R->slot[i]].n;
  }
  S->ncols = R->ncols;
  S->d = d;
  S->target_col = R->target;
  S->col_names = calloc((size_t)R->ncols, sizeof *S->col_names);
  S->col_kind = calloc((size_t)R->ncols, sizeof *S->col_kind);
  S->col_ncat = calloc((size_t)R->ncols, sizeof *S->col_ncat);
  S->col_cats = calloc((size_t)R->ncols, sizeof *S->col_cats);
  S->feat_names = calloc((size_t)(d ? d : 1), sizeof *S->feat_names);
  S->feat_col = calloc((size_t)(d ? d : 1), sizeof *S->feat_col);
  S->feat_cat = calloc((size_t)(d ? d : 1), sizeof *S->feat_cat);
  if (!S->col_names || !S->col_kind || !S->col_ncat || !S->col_cats || !S->feat_names ||
      !S->feat_col || !S->feat_cat)
    goto fail;
  int j = 0;
  for (int i = 0; i < R->ncols; i++) {
    S->col_kind[i] = R->kind[i];
    if (!(S->col_names[i] = dup_str(R->names[i], strlen(R->names[i])))) goto fail;
    if (R->kind[i] == BFCR_COL_NUMERIC) {
      S->feat_col[j] = i;
      S->feat_cat[j] = -1;
      if (!(S->feat_names[j] = dup_str(R->names[i], strlen(R->names[i])))) goto fail;
      j++;
    } else if (R->kind[i] == BFCR_COL_TEXT) {
      csv_cats *c = &cats[R->slot[i]];
      S->col_ncat[i] = c->n;
      S->col_cats[i] = c->cat;
      c->cat = NULL;
      c->n = 0;
      for (int k = 0; k < S->col_ncat[i]; k++) {
        S->feat_col[j] = i;
        S->feat_cat[j] = k;
        if (!(S->feat_names[j] = feat_name(R->names[i], S->col_cats[i][k]))) goto fail;
        j++;
      }
    }
  }
  return S;
fail:
  bfcr_schema_free(S);
  return NULL;
}

/* X (n x d) from the numeric slots and the category indices. gmap[t][local id] is
 * the schema category (fit), or NULL when tid already holds it (predict). */
static bfcr_status encode(reader *R, const bfcr_schema *S, int32_t **gmap, double **X_out) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  const int d = S->d;
  int *fsrc = NULL;     /* [d] numeric slot or -1 */
  int *fcol = NULL;     /* [S->ncols] file column of each schema column, or -1 */
  int **catfeat = NULL; /* [ntext][ncat] feature index */
  double *X = NULL;
  int identity = R->ntext == 0 && d == R->nnum;
  BFCR_ALLOC(ctx, fsrc, d);
  BFCR_CALLOC(ctx, catfeat, R->ntext > 0 ? R->ntext : 1);
  BFCR_ALLOC(ctx, fcol, S->ncols);
  for (int c = 0; c < S->ncols; c++) fcol[c] = -1;
  for (int i = 0; i < R->ncols; i++)
    if (R->kind[i] == BFCR_COL_NUMERIC || R->kind[i] == BFCR_COL_TEXT)
      fcol[R->scol ? R->scol[i] : i] = i;
  for (int j = 0; j < d; j++) {
    int sc = S->feat_col[j];
    int fc = sc >= 0 && sc < S->ncols ? fcol[sc] : -1;
    if (fc < 0) {
      st = bfcr_err(ctx, BFCR_ERR_INTERNAL, "feature %d has no source column", j);
      goto cleanup;
    }
    fsrc[j] = S->feat_cat[j] < 0 ? R->slot[fc] : -1;
    identity = identity && fsrc[j] == j;
    if (S->feat_cat[j] >= 0) {
      int t = R->slot[fc];
      if (!catfeat[t]) BFCR_CALLOC(ctx, catfeat[t], S->col_ncat[sc] > 0 ? S->col_ncat[sc] : 1);
      catfeat[t][S->feat_cat[j]] = j;
    }
  }
  if (identity) { /* numeric-only file: the parse buffer is X already */
    X = R->num;
    R->num = NULL;
  } else if (R->n > 0) {
    BFCR_CALLOC(ctx, X, (size_t)R->n * (size_t)d);
    for (int64_t r = 0; r < R->n; r++) {
      double *xr = X + r * d;
      const double *nr = R->nnum ? R->num + r * R->nnum : NULL;
      for (int j = 0; j < d; j++)
        if (fsrc[j] >= 0) xr[j] = nr[fsrc[j]];
      for (int t = 0; t < R->ntext; t++) {
        int32_t c = R->tid[r * R->ntext + t];
        if (gmap) c = gmap[t][c];
        if (c >= 0 && catfeat[t]) xr[catfeat[t][c]] = 1.0;
      }
    }
  }
  *X_out = X;
  X = NULL;
cleanup:
  free(X);
  free(fsrc);
  free(fcol);
  if (catfeat)
    for (int t = 0; t < R->ntext; t++) free(catfeat[t]);
  free(catfeat);
  return st;
}

/* ------------------------------------------------------------ entry point ---- */

static void reader_free(reader *R) {
  csv_close(&R->src);
  csv_range_free(&R->range);
  if (R->names)
    for (int i = 0; i < R->ncols; i++) free(R->names[i]);
  free(R->names);
  free(R->kind);
  free(R->slot);
  free(R->scol);
  free(R->text_col);
  free(R->num);
  free(R->y);
  free(R->tid);
  free(R->line);
  if (R->dicts)
    for (int t = 0; t < R->ntext; t++) csv_dict_free(&R->dicts[t]);
  free(R->dicts);
  free(R->unseen);
}

static bfcr_status check_params(bfcr_ctx *ctx, const char *path, const bfcr_csv_params *p,
                                bfcr_data **out) {
  if (!path) return bfcr_err(ctx, BFCR_ERR_ARG, "path is NULL");
  if (!out) return bfcr_err(ctx, BFCR_ERR_ARG, "out is NULL");
  if (p->na != BFCR_NA_ERROR && p->na != BFCR_NA_DROP)
    return bfcr_err(ctx, BFCR_ERR_ARG, "unknown missing-value policy %d", (int)p->na);
  if (p->text != BFCR_TEXT_ONEHOT && p->text != BFCR_TEXT_ERROR)
    return bfcr_err(ctx, BFCR_ERR_ARG, "unknown text policy %d", (int)p->text);
  if (p->max_line_bytes < 1 || p->max_line_bytes > ((int64_t)1 << 40))
    return bfcr_err(ctx, BFCR_ERR_ARG, "max_line_bytes %lld out of range 1..2^40",
                    (long long)p->max_line_bytes);
  if (p->max_columns < 1 || p->max_columns > (1 << 28))
    return bfcr_err(ctx, BFCR_ERR_ARG, "max_columns %d out of range 1..2^28", p->max_columns);
  if (p->max_categories < 1 || p->max_categories > (1 << 28))
    return bfcr_err(ctx, BFCR_ERR_ARG, "max_categories %d out of range 1..2^28", p->max_categories);
  return BFCR_OK;
}

/* Roles -> slots, text column list, row arrays sized exactly. */
static bfcr_status allocate_rows(reader *R) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status st = BFCR_OK;
  BFCR_ALLOC(ctx, R->slot, R->ncols);
  R->nnum = R->ntext = 0;
  for (int i = 0; i < R->ncols; i++) {
    R->slot[i] = -1;
    if (R->kind[i] == BFCR_COL_NUMERIC) R->slot[i] = R->nnum++;
    if (R->kind[i] == BFCR_COL_TEXT) R->slot[i] = R->ntext++;
  }
  BFCR_ALLOC(ctx, R->text_col, R->ntext);
  for (int i = 0; i < R->ncols; i++)
    if (R->kind[i] == BFCR_COL_TEXT) R->text_col[R->slot[i]] = i;
  int64_t n = R->range.records;
  BFCR_ALLOC(ctx, R->num, (size_t)n * (size_t)R->nnum);
  BFCR_ALLOC(ctx, R->tid, (size_t)n * (size_t)R->ntext);
  BFCR_ALLOC(ctx, R->line, n);
  /* A rank without rows still shows that the data has a target. */
  if (R->target >= 0) BFCR_ALLOC(ctx, R->y, n > 0 ? n : 1);
  if (R->train) {
    BFCR_CALLOC(ctx, R->unseen, R->ntext);
  } else {
    BFCR_CALLOC(ctx, R->dicts, R->ntext);
    for (int t = 0; t < R->ntext; t++) csv_dict_init(&R->dicts[t], R->prm.max_categories + 1);
  }
cleanup:
  return st;
}

/* Fit with text columns: merge categories, then the earliest of (category limit,
 * first parse error) in file order wins on every rank. */
static bfcr_status merge_and_agree(reader *R, bfcr_status st, csv_cats *cats, int32_t ***gmap_out) {
  bfcr_ctx *ctx = R->ctx;
  bfcr_status mst = csv_dict_merge(ctx, R->ntext, R->dicts, R->prm.max_categories, cats);
  mst = bfcr_agree(ctx, mst);
  if (mst != BFCR_OK) return mst;
  /* Earliest category overflow (identical on every rank). */
  int64_t oline = 0;
  int ot = -1;
  for (int t = 0; t < R->ntext; t++)
    if (cats[t].over_line > 0 && (ot < 0 || cats[t].over_line < oline)) {
      oline = cats[t].over_line;
      ot = t;
    }
  long long el = st == BFCR_OK ? INT64_MAX : (R->err_line > 0 ? R->err_line : 0);
  long long ec = st == BFCR_OK ? INT64_MAX : R->err_col;
  long long gl, gc;
  MPI_Allreduce(&el, &gl, 1, MPI_LONG_LONG, MPI_MIN, ctx->comm);
  if (el != gl) ec = INT64_MAX;
  MPI_Allreduce(&ec, &gc, 1, MPI_LONG_LONG, MPI_MIN, ctx->comm);
  if (ot >= 0) {
    int col = R->text_col[ot] + 1;
    if (oline < gl || (oline == gl && col < gc)) {
      char b[96];
      show(b, sizeof b, cats[ot].over_value, strlen(cats[ot].over_value));
      bfcr_err_at(ctx, BFCR_ERR_INPUT, R->path, oline, col,
                  "expected at most %d categories in column \"%s\", found more (category %d is %s)",
                  R->prm.max_categories, R->names[R->text_col[ot]], R->prm.max_categories + 1, b);
      return bfcr_agree(ctx, BFCR_ERR_INPUT);
    }
  }
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) return st;
  /* Local dictionary id -> position in the sorted global table. */
  int32_t **gmap = calloc((size_t)(R->ntext ? R->ntext : 1), sizeof *gmap);
  int ok = gmap != NULL;
  for (int t = 0; ok && t < R->ntext; t++) {
    gmap[t] = malloc((size_t)(R->dicts[t].n ? R->dicts[t].n : 1) * sizeof **gmap);
    if (!gmap[t]) {
      ok = 0;
      break;
    }
    for (int e = 0; e < R->dicts[t].n; e++) {
      char **hit = bsearch(csv_dict_str(&R->dicts[t], e), cats[t].cat, (size_t)cats[t].n,
                           sizeof(char *), cmp_str);
      gmap[t][e] = hit ? (int32_t)(hit - cats[t].cat) : -1;
    }
  }
  *gmap_out = gmap;
  if (!ok) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory mapping categories");
  return bfcr_agree(ctx, st);
}

bfcr_status bfcr_data_read_csv(bfcr_ctx *ctx, const char *path, const bfcr_csv_params *params,
                               const bfcr_schema *schema, bfcr_data **out) {
  return csv_read(ctx, path, params, schema, CSV_PART_MIN_BYTES, out);
}

bfcr_status csv_read(bfcr_ctx *ctx, const char *path, const bfcr_csv_params *params,
                     const bfcr_schema *schema, int64_t min_part_bytes, bfcr_data **out) {
  if (!ctx) return BFCR_ERR_ARG;
  double t0 = bfcr_wtime();
  bfcr_status st = BFCR_OK;
  reader R;
  memset(&R, 0, sizeof R);
  R.ctx = ctx;
  R.path = path;
  R.train = schema;
  R.src.fd = -1;
  if (params)
    R.prm = *params;
  else
    bfcr_csv_params_init(&R.prm);
  csv_cats *cats = NULL;
  int32_t **gmap = NULL;
  bfcr_data *data = NULL;
  bfcr_schema *S = NULL;
  if (out) *out = NULL;

  /* 1. Header and roles (the same outcome on every rank). */
  st = check_params(ctx, path, &R.prm, out);
  if (st == BFCR_OK) st = csv_open(ctx, path, &R.src);
  if (st == BFCR_OK) st = read_header(&R);
  if (st == BFCR_OK) st = schema ? match_schema(&R) : assign_roles(&R);
  BFCR_CALL(bfcr_agree(ctx, st));

  /* 2. Record starts of this rank's byte range. */
  int max_parts = ctx->nthreads > 1 ? CSV_PARTS_PER_THREAD * ctx->nthreads : 1;
  st = csv_find_records(ctx, &R.src, R.data_begin, R.hdr_newlines, max_parts, min_part_bytes,
                        &R.range);
  BFCR_CALL(bfcr_agree(ctx, st));

  /* 3. Column kinds. */
  if (!schema) BFCR_CALL(bfcr_agree(ctx, detect_kinds(&R)));

  /* 4. Parse. */
  st = allocate_rows(&R);
  BFCR_CALL(bfcr_agree(ctx, st));
  st = parse_rows(&R);

  /* 5. Agree on errors; 6. merge categories. */
  if (!schema && R.ntext > 0) {
    cats = calloc((size_t)R.ntext, sizeof *cats);
    int ok = cats != NULL, all_ok = 0;
    MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, ctx->comm);
    if (!all_ok) {
      st = bfcr_agree(ctx, bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory merging categories"));
      goto cleanup;
    }
    BFCR_CALL(merge_and_agree(&R, st, cats, &gmap));
  } else {
    BFCR_CALL(bfcr_agree(ctx, st));
  }

  /* Totals, offsets, warnings. */
  long long local[2] = {R.n, R.dropped}, total[2] = {0, 0}, offset = 0;
  if (MPI_Allreduce(local, total, 2, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS ||
      MPI_Exscan(&local[0], &offset, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) != MPI_SUCCESS) {
    st = bfcr_agree(ctx, bfcr_err(ctx, BFCR_ERR_MPI, "MPI reduction failed reading %s", path));
    goto cleanup;
  }
  if (ctx->rank == 0) offset = 0;
  if (total[0] == 0) {
    if (total[1] > 0)
      st = bfcr_err_at(ctx, BFCR_ERR_INPUT, path, 0, 0,
                       "expected at least one data row, found 0 samples after dropping %lld rows "
                       "with missing values",
                       total[1]);
    else
      st = bfcr_err_at(ctx, BFCR_ERR_INPUT, path, 2 + R.hdr_newlines, 1,
                       "expected a data row after the header, found none (0 samples)");
    goto cleanup; /* identical on every rank */
  }
  if (total[1] > 0 && ctx->rank == 0)
    bfcr_log(ctx, BFCR_LOG_WARN, "%s: dropped %lld of %lld rows holding missing values", path,
             total[1], total[0] + total[1]);
  if (schema && R.ntext > 0) {
    long long *u = calloc((size_t)R.ntext, sizeof *u);
    long long *ug = calloc((size_t)R.ntext, sizeof *ug);
    int ok = u && ug;
    for (int t = 0; ok && t < R.ntext; t++) u[t] = R.unseen[t];
    if (ok) MPI_Allreduce(u, ug, R.ntext, MPI_LONG_LONG, MPI_SUM, ctx->comm);
    for (int t = 0; ok && t < R.ntext; t++)
      if (ug[t] > 0 && ctx->rank == 0)
        bfcr_log(ctx, BFCR_LOG_WARN,
                 "%s: column \"%s\": %lld values of categories unseen at fit (encoded as all "
                 "indicators 0)",
                 path, R.names[R.text_col[t]], ug[t]);
    free(u);
    free(ug);
    if (!ok) {
      st = bfcr_agree(ctx, bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory"));
      goto cleanup;
    }
  }

  /* Schema and encoding. */
  if (schema)
    S = bfcr_schema_clone(ctx, schema);
  else
    S = build_schema(&R, cats);
  if (!S) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory building the schema of %s", path);
  data = st == BFCR_OK ? calloc(1, sizeof *data) : NULL;
  if (st == BFCR_OK && !data) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory");
  if (st == BFCR_OK) st = encode(&R, S, gmap, &data->X);
  if (st == BFCR_OK) {
    data->n_local = R.n;
    data->n_global = total[0];
    data->offset = offset;
    data->d = S->d;
    data->y = R.y;
    R.y = NULL;
    data->line = R.line;
    R.line = NULL;
    data->schema = S;
    S = NULL;
    data->dropped = total[1];
    data->path = dup_str(path, strlen(path));
    if (!data->path) st = bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory");
  }
  st = bfcr_agree(ctx, st);

cleanup:
  if (cats)
    for (int t = 0; t < R.ntext; t++) csv_cats_free(&cats[t]);
  free(cats);
  if (gmap)
    for (int t = 0; t < R.ntext; t++) free(gmap[t]);
  free(gmap);
  bfcr_schema_free(S);
  reader_free(&R);
  if (st != BFCR_OK) {
    bfcr_data_destroy(&data);
    return st;
  }
  *out = data;
  bfcr_phase_add(ctx, "read", bfcr_wtime() - t0, 0);
  return BFCR_OK;
}
