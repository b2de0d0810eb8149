/* Internal pieces of the CSV reader shared by its files:
 *   csv_source.c  open/pread/streaming buffer over a file range
 *   csv_record.c  RFC 4180 record tokenizer (quotes, CRLF, limits)
 *   csv_scan.c    first pass: quote parity and record starts per rank and thread part
 *   csv_dict.c    per-column category dictionaries and their cross-rank merge
 *   csv_read.c    bfcr_data_read_csv: header, kinds, parse, encode, agreement */
#ifndef BFCR_IO_CSV_INTERNAL_H
#define BFCR_IO_CSV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"

/* ---- file and streaming buffer ---- */
typedef struct csv_src {
  const char *path;
  int fd;
  int64_t size;
} csv_src;

/* Open a regular file for reading; BFCR_ERR_IO with distinct messages for a missing
 * file, permission denied, a directory and other failures. Local. */
bfcr_status csv_open(bfcr_ctx *ctx, const char *path, csv_src *src);
void csv_close(csv_src *src);
/* pread exactly n bytes at off (fewer only at end of file); returns bytes read or -1
 * (error set on ctx). */
int64_t csv_pread(bfcr_ctx *ctx, const csv_src *src, char *buf, size_t n, int64_t off);

/* ---- record tokenizer ---- */
typedef struct csv_field {
  char *p; /* value bytes (quotes removed, "" unescaped) */
  size_t len;
  int quoted;
} csv_field;

typedef enum csv_syn {
  CSV_SYN_NONE = 0,
  CSV_SYN_UNTERMINATED, /* quote opened on line `line_off` never closed */
  CSV_SYN_AFTER_QUOTE,  /* `byte` follows a closing quote */
  CSV_SYN_STRAY_QUOTE,  /* a quote inside an unquoted field */
  CSV_SYN_NUL,          /* a NUL byte */
  CSV_SYN_BARE_CR,      /* a CR not followed by LF outside quotes (`byte` follows) */
  CSV_SYN_TOO_LONG      /* record longer than the line limit */
} csv_syn;

typedef struct csv_rec {
  csv_field *f;   /* [cap] */
  int cap;        /* fields stored at most; more are counted in nf only */
  int nf;         /* fields in the record */
  int blank;      /* an empty line (skipped) */
  size_t bytes;   /* bytes consumed, terminator included */
  int64_t nlines; /* '\n' bytes consumed (quoted ones and the terminator) */
  /* error details */
  csv_syn syn;
  int err_field;    /* 1-based field of the error */
  int64_t err_line; /* newlines before the error position within the record */
  unsigned char err_byte;
} csv_rec;

enum { CSV_REC_OK = 0, CSV_REC_MORE = 1, CSV_REC_EOF = 2, CSV_REC_ERR = 3 };

/* Tokenize one record from [p, end). at_eof: end is the end of the file. Returns
 * CSV_REC_MORE when the record may continue past end (nothing is modified then). */
int csv_tokenize(char *p, char *end, int at_eof, csv_rec *r);

/* Fused fast path for all-numeric rows: when [p, end) starts with exactly ncols
 * valid numbers separated by ',' and ended by LF or CRLF, store them in vals, set
 * *bytes and return 1. Otherwise return 0 and the caller tokenizes the record (which
 * gives the same values, or the exact error). */
int csv_numeric_record(const char *p, const char *end, int ncols, double *vals, size_t *bytes);

/* Streaming reader of records from a file offset. */
typedef struct csv_stream {
  const csv_src *src;
  char *mem;
  size_t cap, len, pos; /* buffer holds file bytes [base, base + len); next record at pos */
  int64_t base;
  int64_t line;     /* line of the next record */
  int64_t max_line; /* longest accepted record (bytes, terminator excluded) */
} csv_stream;

bfcr_status csv_stream_open(bfcr_ctx *ctx, csv_stream *s, const csv_src *src, int64_t from,
                            int64_t line, int64_t max_line);
void csv_stream_close(csv_stream *s);
/* Reuse an open stream's window from another offset (a thread's next part). */
void csv_stream_seek(csv_stream *s, int64_t from, int64_t line);
/* Next record (blank lines are returned with r->blank set). Returns CSV_REC_OK,
 * CSV_REC_EOF, or CSV_REC_ERR with r->syn set (call csv_syntax_error to report), or -1
 * after an I/O error (set on ctx). On OK, *line_out is the record's first line and
 * the record's fields stay valid until the next call. */
int csv_stream_next(bfcr_ctx *ctx, csv_stream *s, csv_rec *r, int64_t *line_out);
/* csv_numeric_record on the next record: 1 = parsed (line in *line_out), 0 = use
 * csv_stream_next for this record. */
int csv_stream_next_numeric(csv_stream *s, int ncols, double *vals, int64_t *line_out);
/* File offset of the next record. */
static inline int64_t csv_stream_offset(const csv_stream *s) {
  return s->base + (int64_t)s->pos;
}
/* Report r's syntax error (record starting at `line`) as BFCR_ERR_INPUT. */
bfcr_status csv_syntax_error(bfcr_ctx *ctx, const char *path, int64_t line, const csv_rec *r,
                             int64_t max_line);

/* ---- first pass over a byte range ---- */

/* A rank's byte range read by several OpenMP threads is cut into parts of at least
 * this many bytes (a smaller part would not repay its window and start-up), at most
 * CSV_PARTS_PER_THREAD per thread: threads take parts as they get free, so a thread
 * slowed by another process on its core does not hold the others up. */
#define CSV_PART_MIN_BYTES ((int64_t)4 << 20)
#define CSV_PARTS_PER_THREAD 4

/* One thread's share of a rank's range: the records whose first byte lies in it. */
typedef struct csv_part {
  int64_t start;   /* file offset of its first record (or blank line), -1 = none */
  int64_t line;    /* line of that offset */
  int64_t records; /* non-blank records starting in the part */
  int64_t row0;    /* records of the earlier parts of this rank (its first row slot) */
} csv_part;

typedef struct csv_range {
  int64_t records; /* non-blank records starting in this rank's range */
  int nparts;      /* >= 1 on success */
  csv_part *part;  /* [nparts], in file order; free with csv_range_free */
} csv_range;

/* Collective: split [data_begin, size) into ctx->size byte ranges and find, with quote
 * parity exchanged by MPI_Exscan, where this rank's records start. The rank's range is
 * further cut into min(max_parts, range / min_part_bytes) parts (at least 1), scanned
 * by up to ctx->nthreads OpenMP threads. hdr_newlines: '\n' bytes in
 * [0, data_begin - 1). */
bfcr_status csv_find_records(bfcr_ctx *ctx, const csv_src *src, int64_t data_begin,
                             int64_t hdr_newlines, int max_parts, int64_t min_part_bytes,
                             csv_range *out);
void csv_range_free(csv_range *r);

/* bfcr_data_read_csv with the least bytes per thread part as a parameter: the public
 * entry passes CSV_PART_MIN_BYTES; tests pass a few bytes to split small files. */
bfcr_status csv_read(bfcr_ctx *ctx, const char *path, const bfcr_csv_params *params,
                     const bfcr_schema *schema, int64_t min_part_bytes, bfcr_data **out);

/* Per-thread error slots for a parallel region: copies of ctx (status and message
 * cleared) that threads may set errors on, since ctx itself is written only outside
 * parallel regions. csv_errs_take reports a slot's message on ctx with code. */
bfcr_ctx *csv_errs_new(bfcr_ctx *ctx, int n);
bfcr_status csv_errs_take(bfcr_ctx *ctx, bfcr_status code, const bfcr_ctx *slot);

/* ---- category dictionaries ---- */
typedef struct csv_dict {
  char *arena; /* strings, NUL-terminated, at off[] */
  size_t arena_len, arena_cap;
  size_t *off;   /* [n] */
  int64_t *line; /* [n] line of first occurrence */
  int n, cap;    /* entries */
  int *slots;    /* hash table of entry indices (-1 = empty), size nslots */
  int nslots;
  int limit; /* entries kept at most (max_categories + 1) */
  int full;  /* a new value arrived while n == limit */
} csv_dict;

void csv_dict_init(csv_dict *d, int limit);
void csv_dict_free(csv_dict *d);
/* Id of value (inserted with `line` when new); -1 when the dictionary is full, -2 when
 * out of memory. */
int csv_dict_put(csv_dict *d, const char *s, size_t len, int64_t line);
static inline const char *csv_dict_str(const csv_dict *d, int i) {
  return d->arena + d->off[i];
}

/* Merged global table of one text column: sorted unique categories (strcmp), plus
 * the first line (over all ranks) where the max_categories+1-th category appears,
 * or 0 when within the limit. */
typedef struct csv_cats {
  char **cat; /* [n] owned strings */
  int n;
  int64_t over_line; /* 0 = within the limit */
  char *over_value;  /* the category first seen at over_line (owned) */
} csv_cats;

/* Collective: merge the dictionaries of ncol text columns over all ranks. Every rank
 * gets identical tables. out[ncol] must be zeroed. */
bfcr_status csv_dict_merge(bfcr_ctx *ctx, int ncol, const csv_dict *dicts, int max_categories,
                           csv_cats *out);
void csv_cats_free(csv_cats *c);

/* 1 when s[0..len) is valid UTF-8; else 0 and *bad_at = offset of the first bad byte. */
int csv_utf8_valid(const char *s, size_t len, size_t *bad_at);

#endif
