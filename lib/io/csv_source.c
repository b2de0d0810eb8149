/* CSV file access: open with distinct I/O messages, pread, and a streaming window of
 * records. The window holds at most max(4 MiB, 2 * (line limit + 2)) bytes, so memory
 * does not grow with the file; a record longer than the limit is an error, never a
 * reallocation. Each thread of a split read has its own window (pread shares no file
 * position) and its own error slot (csv_errs_new). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/csv_internal.h"

#define CSV_WINDOW (4u << 20)

bfcr_status csv_open(bfcr_ctx *ctx, const char *path, csv_src *src) {
  src->path = path;
  src->fd = -1;
  src->size = 0;
  struct stat sb;
  int fd = open(path, O_RDONLY | O_NONBLOCK); /* a FIFO must not block the open */
  if (fd < 0) {
    int e = errno;
    if (e == ENOENT) return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open: no such file", path);
    if (e == EACCES) return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open: permission denied", path);
    if (e == ENOTDIR)
      return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open: a path component is not a directory",
                      path);
    return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot open: %s", path, strerror(e));
  }
  if (fstat(fd, &sb) != 0) {
    int e = errno;
    close(fd);
    return bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
  }
  if (S_ISDIR(sb.st_mode)) {
    close(fd);
    return bfcr_err(ctx, BFCR_ERR_IO, "%s: is a directory, expected a CSV file", path);
  }
  if (!S_ISREG(sb.st_mode)) {
    close(fd);
    return bfcr_err(ctx, BFCR_ERR_IO,
                    "%s: is not a regular file (pipes and devices cannot be split over ranks)",
                    path);
  }
  src->fd = fd;
  src->size = (int64_t)sb.st_size;
  return BFCR_OK;
}

void csv_close(csv_src *src) {
  if (src->fd >= 0) close(src->fd);
  src->fd = -1;
}

int64_t csv_pread(bfcr_ctx *ctx, const csv_src *src, char *buf, size_t n, int64_t off) {
  size_t got = 0;
  while (got < n) {
    ssize_t k = pread(src->fd, buf + got, n - got, (off_t)(off + (int64_t)got));
    if (k < 0) {
      if (errno == EINTR) continue;
      bfcr_err(ctx, BFCR_ERR_IO, "%s: read failed at byte %lld: %s", src->path,
               (long long)(off + (int64_t)got), strerror(errno));
      return -1;
    }
    if (k == 0) break;
    got += (size_t)k;
  }
  return (int64_t)got;
}

bfcr_status csv_stream_open(bfcr_ctx *ctx, csv_stream *s, const csv_src *src, int64_t from,
                            int64_t line, int64_t max_line) {
  memset(s, 0, sizeof *s);
  s->src = src;
  s->base = from;
  s->line = line;
  s->max_line = max_line;
  size_t need = (size_t)max_line * 2 + 8;
  s->cap = need > CSV_WINDOW ? need : CSV_WINDOW;
  s->mem = bfcr_malloc(ctx, s->cap, 1);
  return s->mem ? BFCR_OK : BFCR_ERR_NOMEM;
}

void csv_stream_seek(csv_stream *s, int64_t from, int64_t line) {
  s->base = from;
  s->len = s->pos = 0;
  s->line = line;
}

void csv_stream_close(csv_stream *s) {
  free(s->mem);
  s->mem = NULL;
}

/* Move the unread bytes to the front and read more; returns bytes added or -1. */
static int64_t refill(bfcr_ctx *ctx, csv_stream *s) {
  if (s->pos > 0) {
    memmove(s->mem, s->mem + s->pos, s->len - s->pos);
    s->base += (int64_t)s->pos;
    s->len -= s->pos;
    s->pos = 0;
  }
  int64_t want = s->src->size - (s->base + (int64_t)s->len);
  if (want <= 0) return 0;
  size_t room = s->cap - s->len;
  size_t n = (uint64_t)want < room ? (size_t)want : room;
  int64_t got = csv_pread(ctx, s->src, s->mem + s->len, n, s->base + (int64_t)s->len);
  if (got < 0) return -1;
  s->len += (size_t)got;
  return got;
}

int csv_stream_next(bfcr_ctx *ctx, csv_stream *s, csv_rec *r, int64_t *line_out) {
  for (;;) {
    size_t avail = s->len - s->pos;
    size_t limit = (size_t)s->max_line + 2; /* content plus a CRLF terminator */
    int clipped = avail > limit;
    size_t wlen = clipped ? limit : avail;
    int at_eof = !clipped && s->base + (int64_t)s->len >= s->src->size;
    int rc = csv_tokenize(s->mem + s->pos, s->mem + s->pos + wlen, at_eof, r);
    if (rc == CSV_REC_MORE) {
      if (clipped) {
        r->syn = CSV_SYN_TOO_LONG;
        r->err_field = 1;
        r->err_line = 0;
        *line_out = s->line;
        return CSV_REC_ERR;
      }
      int64_t got = refill(ctx, s);
      if (got < 0) return -1;
      if (got == 0 && s->base + (int64_t)s->len < s->src->size) {
        bfcr_err(ctx, BFCR_ERR_IO, "%s: file shrank while reading", s->src->path);
        return -1;
      }
      continue;
    }
    *line_out = s->line;
    if (rc == CSV_REC_ERR) return rc;
    if (rc == CSV_REC_EOF) return rc;
    /* The terminator (1 or 2 bytes) does not count towards the limit. */
    size_t content = r->bytes;
    if (content > 0 && s->mem[s->pos + content - 1] == '\n') content--;
    if (content > 0 && s->mem[s->pos + content - 1] == '\r') content--;
    if ((int64_t)content > s->max_line) {
      r->syn = CSV_SYN_TOO_LONG;
      r->err_field = 1;
      r->err_line = 0;
      return CSV_REC_ERR;
    }
    s->pos += r->bytes;
    s->line += r->nlines;
    return CSV_REC_OK;
  }
}

int csv_stream_next_numeric(csv_stream *s, int ncols, double *vals, int64_t *line_out) {
  size_t avail = s->len - s->pos;
  size_t limit = (size_t)s->max_line + 2;
  size_t bytes;
  const char *p = s->mem + s->pos;
  if (!csv_numeric_record(p, p + (avail < limit ? avail : limit), ncols, vals, &bytes)) return 0;
  size_t content = bytes - (bytes >= 2 && p[bytes - 2] == '\r' ? 2 : 1);
  if ((int64_t)content > s->max_line) return 0;
  *line_out = s->line;
  s->pos += bytes;
  s->line += 1;
  return 1;
}

bfcr_ctx *csv_errs_new(bfcr_ctx *ctx, int n) {
  bfcr_ctx *e = bfcr_malloc(ctx, (size_t)n, sizeof *e);
  for (int i = 0; e && i < n; i++) {
    e[i] = *ctx;
    e[i].err = BFCR_OK;
    e[i].errmsg[0] = '\0';
  }
  return e;
}

bfcr_status csv_errs_take(bfcr_ctx *ctx, bfcr_status code, const bfcr_ctx *slot) {
  return bfcr_err(ctx, code, "%s", slot->errmsg);
}

static void show_byte(char *out, size_t n, unsigned char c) {
  if (c >= 0x20 && c < 0x7f)
    snprintf(out, n, "'%c'", c);
  else
    snprintf(out, n, "byte 0x%02x", c);
}

bfcr_status csv_syntax_error(bfcr_ctx *ctx, const char *path, int64_t line, const csv_rec *r,
                             int64_t max_line) {
  char b[32];
  int64_t at = line + r->err_line;
  switch (r->syn) {
    case CSV_SYN_UNTERMINATED:
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, r->err_field,
                         "expected a closing quote for the field opened here, found end of file");
    case CSV_SYN_AFTER_QUOTE:
      show_byte(b, sizeof b, r->err_byte);
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, r->err_field,
                         "expected a comma or a line end after a closing quote, found %s", b);
    case CSV_SYN_STRAY_QUOTE:
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, r->err_field,
                         "expected a quote only at the start of a field, found one inside an "
                         "unquoted field");
    case CSV_SYN_NUL:
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, r->err_field,
                         "expected text, found a NUL byte");
    case CSV_SYN_BARE_CR:
      show_byte(b, sizeof b, r->err_byte);
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, r->err_field,
                         "expected a line feed after a carriage return, found %s", b);
    case CSV_SYN_TOO_LONG:
      return bfcr_err_at(ctx, BFCR_ERR_INPUT, path, at, 1,
                         "expected a line of at most %lld bytes, found a longer one",
                         (long long)max_line);
    case CSV_SYN_NONE:
      break;
  }
  return bfcr_err_at(ctx, BFCR_ERR_INTERNAL, path, at, r->err_field, "unknown syntax error");
}
