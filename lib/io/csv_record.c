/* RFC 4180 record tokenizer.
 *
 * A record is fields separated by ',' and ended by LF, CRLF or the end of the file.
 * A field is either raw bytes without ',', '"', CR, LF, NUL, or a quoted field: '"',
 * any bytes but NUL with '"' written as '""' (commas, CR and LF allowed), '"', then a
 * separator. An empty line (LF or CRLF only) is a blank record, which callers skip.
 * One pass over the bytes; quoted fields with '""' are compacted in place once the
 * whole record is known, so a CSV_REC_MORE answer leaves the buffer untouched and
 * the caller can refill and retry. Field numbers in errors are 1-based. */
#include <stdint.h>
#include <string.h>

#include "io/csv_internal.h"
#include "io/numparse.h"

static const unsigned char stop_tab[256] = {[0] = 1, ['\n'] = 1, ['\r'] = 1, [','] = 1, ['"'] = 1};

#define ONES 0x0101010101010101ull
/* Nonzero when some byte of v is 0 (exact as a yes/no answer). */
static inline uint64_t has_zero_byte(uint64_t v) {
  return (v - ONES) & ~v & (ONES * 0x80);
}

static int fail(csv_rec *r, csv_syn syn, int field, int64_t nl, unsigned char byte) {
  r->syn = syn;
  r->err_field = field;
  r->err_line = nl;
  r->err_byte = byte;
  return CSV_REC_ERR;
}

int csv_tokenize(char *p0, char *end, int at_eof, csv_rec *r) {
  char *p = p0;
  r->nf = 0;
  r->blank = 0;
  r->nlines = 0;
  r->bytes = 0;
  r->syn = CSV_SYN_NONE;
  if (p == end) return at_eof ? CSV_REC_EOF : CSV_REC_MORE;
  if (*p == '\n' || (*p == '\r' && ((p + 1 < end && p[1] == '\n') || (p + 1 == end && at_eof)))) {
    r->blank = 1;
    r->bytes = *p == '\n' ? 1 : (p + 1 < end ? 2 : 1);
    r->nlines = r->bytes == 1 && *p == '\r' ? 0 : 1;
    return CSV_REC_OK;
  }
  if (*p == '\r' && p + 1 == end) return CSV_REC_MORE;
  int64_t nl = 0;
  int any_escape = 0;
  for (;;) {
    int fi = r->nf;
    char *vb, *ve;
    int quoted = 0;
    if (p < end && *p == '"') {
      int64_t open_nl = nl;
      char *q = p + 1;
      int esc = 0;
      for (;;) {
        while (q < end && *q != '"') {
          if (*q == '\n')
            nl++;
          else if (*q == '\0')
            return fail(r, CSV_SYN_NUL, fi + 1, nl, 0);
          q++;
        }
        if (q == end) {
          if (at_eof) return fail(r, CSV_SYN_UNTERMINATED, fi + 1, open_nl, 0);
          return CSV_REC_MORE;
        }
        if (q + 1 < end && q[1] == '"') {
          esc = 1;
          q += 2;
          continue;
        }
        if (q + 1 == end && !at_eof) return CSV_REC_MORE;
        break;
      }
      vb = p + 1;
      ve = q;
      quoted = esc ? 3 : 1;
      any_escape |= esc;
      p = q + 1;
    } else {
      char *q = p;
      /* Eight bytes at a time until a word holds a stop byte, then byte by byte. */
      while (end - q >= 8) {
        uint64_t v;
        memcpy(&v, q, 8);
        if (has_zero_byte(v) | has_zero_byte(v ^ (ONES * ',')) | has_zero_byte(v ^ (ONES * '\n')) |
            has_zero_byte(v ^ (ONES * '\r')) | has_zero_byte(v ^ (ONES * '"')))
          break;
        q += 8;
      }
      while (q < end && !stop_tab[(unsigned char)*q]) q++;
      if (q == end && !at_eof) return CSV_REC_MORE;
      if (q < end && *q == '"') return fail(r, CSV_SYN_STRAY_QUOTE, fi + 1, nl, '"');
      if (q < end && *q == '\0') return fail(r, CSV_SYN_NUL, fi + 1, nl, 0);
      vb = p;
      ve = q;
      p = q;
    }
    if (fi < r->cap) {
      r->f[fi].p = vb;
      r->f[fi].len = (size_t)(ve - vb);
      r->f[fi].quoted = quoted;
    }
    r->nf++;
    if (p == end) break; /* end of file (MORE was answered otherwise) */
    char c = *p;
    if (c == ',') {
      p++;
      continue;
    }
    if (c == '\n') {
      p++;
      nl++;
      break;
    }
    if (c == '\r') {
      if (p + 1 == end) {
        if (!at_eof) return CSV_REC_MORE;
        p++;
        break;
      }
      if (p[1] == '\n') {
        p += 2;
        nl++;
        break;
      }
      return fail(r, CSV_SYN_BARE_CR, fi + 1, nl, (unsigned char)p[1]);
    }
    /* Only reachable after a closing quote. */
    if (c == '\0') return fail(r, CSV_SYN_NUL, fi + 1, nl, 0);
    return fail(r, CSV_SYN_AFTER_QUOTE, fi + 1, nl, (unsigned char)c);
  }
  r->bytes = (size_t)(p - p0);
  r->nlines = nl;
  if (any_escape) {
    int n = r->nf < r->cap ? r->nf : r->cap;
    for (int i = 0; i < n; i++) {
      if (r->f[i].quoted != 3) continue;
      char *src = r->f[i].p, *dst = src, *e = src + r->f[i].len;
      while (src < e) {
        *dst++ = *src;
        src += (*src == '"') ? 2 : 1;
      }
      r->f[i].len = (size_t)(dst - r->f[i].p);
    }
  }
  for (int i = 0; i < r->nf && i < r->cap; i++)
    if (r->f[i].quoted) r->f[i].quoted = 1;
  return CSV_REC_OK;
}

int csv_utf8_valid(const char *s, size_t len, size_t *bad_at) {
  const unsigned char *u = (const unsigned char *)s;
  size_t i = 0;
  while (i < len) {
    unsigned c = u[i];
    size_t n;
    unsigned lo = 0x80, hi = 0xbf;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      if (c == 0xe0) lo = 0xa0; /* no overlongs */
      if (c == 0xed) hi = 0x9f; /* no surrogates */
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      if (c == 0xf0) lo = 0x90;
      if (c == 0xf4) hi = 0x8f; /* <= U+10FFFF */
    } else {
      *bad_at = i;
      return 0;
    }
    for (size_t k = 1; k <= n; k++) {
      if (i + k >= len) {
        *bad_at = i;
        return 0;
      }
      unsigned b = u[i + k];
      unsigned l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xbf;
      if (b < l || b > h) {
        *bad_at = i;
        return 0;
      }
    }
    i += n + 1;
  }
  return 1;
}

int csv_numeric_record(const char *p0, const char *end, int ncols, double *vals, size_t *bytes) {
  const char *p = p0;
  for (int i = 0; i < ncols; i++) {
    const char *stop;
    if (bfcr_parse_double_prefix(p, end, &vals[i], &stop) != BFCR_NUM_OK || stop == end) return 0;
    char c = *stop;
    if (i + 1 < ncols) {
      if (c != ',') return 0;
      p = stop + 1;
    } else if (c == '\n') {
      p = stop + 1;
    } else if (c == '\r' && stop + 1 < end && stop[1] == '\n') {
      p = stop + 2;
    } else {
      return 0;
    }
  }
  *bytes = (size_t)(p - p0);
  return 1;
}
