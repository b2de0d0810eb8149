/* Atomic file replacement (see atomic.h for the sequence and its guarantees).
 *
 * Why each step: writing into the target directly would leave a torn file on a
 * crash or a full disk; the temporary lives in the target's folder because rename(2)
 * is only atomic within one file system; fsync before the rename makes the data
 * durable before the name points at it (otherwise a power cut can leave an empty file
 * under the new name); fsync of the folder makes the rename itself durable. */
#include "io/atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum { ATOMIC_BUF = 1 << 16 };

static const char *errstr(int e, char *buf, size_t len) {
  /* POSIX (XSI) strerror_r: thread-safe, unlike strerror. */
  if (strerror_r(e, buf, len) != 0) snprintf(buf, len, "error %d", e);
  return buf;
}

static char *dup_str(const char *s, size_t n) {
  char *p = malloc(n + 1);
  if (!p) return NULL;
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

/* Folder of path ("." when it has none); NULL when out of memory. */
static char *dir_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return dup_str(".", 1);
  if (slash == path) return dup_str("/", 1);
  return dup_str(path, (size_t)(slash - path));
}

/* The process umask without changing it (umask() is a process-wide write). */
static mode_t current_umask(void) {
  mode_t mask = 022;
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return mask;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, "Umask:", 6) == 0) {
      char *end = NULL;
      unsigned long v = strtoul(line + 6, &end, 8);
      if (end != line + 6 && v <= 0777) mask = (mode_t)v;
      break;
    }
  }
  fclose(f);
  return mask;
}

static int sys_fsync(bfcr_atomic_file *af, int fd) {
  af->nfsyncs++;
  if (af->fail_fsync_at > 0 && af->nfsyncs == af->fail_fsync_at) {
    errno = EIO;
    return -1;
  }
  int r;
  do {
    r = fsync(fd);
  } while (r != 0 && errno == EINTR);
  return r;
}

/* Write all n bytes, retrying short writes and EINTR. */
static int sys_write_all(bfcr_atomic_file *af, const unsigned char *p, size_t n) {
  while (n > 0) {
    size_t chunk = n;
    if (af->max_chunk > 0 && chunk > af->max_chunk) chunk = af->max_chunk;
    af->nwrites++;
    if (af->fail_write_at > 0 && af->nwrites == af->fail_write_at) {
      errno = ENOSPC;
      return -1;
    }
    ssize_t r = write(af->fd, p, chunk);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) { /* no progress on a regular file: treat as a full device */
      errno = ENOSPC;
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

void bfcr_atomic_abort(bfcr_atomic_file *af) {
  if (!af) return;
  if (af->fd >= 0) close(af->fd);
  if (af->tmp_path) unlink(af->tmp_path);
  free(af->tmp_path);
  free(af->path);
  free(af->buf);
  af->fd = -1;
  af->tmp_path = af->path = NULL;
  af->buf = NULL;
  af->buf_len = af->buf_cap = 0;
}

bfcr_status bfcr_atomic_open(bfcr_ctx *ctx, const char *path, bfcr_atomic_file *af) {
  if (!af) return bfcr_err(ctx, BFCR_ERR_ARG, "atomic writer: NULL writer");
  memset(af, 0, sizeof *af);
  af->fd = -1;
  if (!path || !path[0]) return bfcr_err(ctx, BFCR_ERR_ARG, "output path is empty");
  bfcr_status st = BFCR_OK;
  char ebuf[128];
  char *dir = NULL;
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  BFCR_CHECK(ctx, base[0] != '\0', BFCR_ERR_IO, "%s: is a folder, not a file name", path);

  struct stat sb;
  mode_t mode;
  if (stat(path, &sb) == 0) {
    BFCR_CHECK(ctx, !S_ISDIR(sb.st_mode), BFCR_ERR_IO, "%s: is a folder, not a file", path);
    mode = sb.st_mode & 07777;
  } else {
    mode = 0666 & ~current_umask();
  }

  dir = dir_of(path);
  af->path = dup_str(path, strlen(path));
  size_t dlen = dir ? strlen(dir) : 0, blen = strlen(base);
  af->tmp_path = malloc(dlen + blen + 16);
  af->buf = malloc(ATOMIC_BUF);
  if (!dir || !af->path || !af->tmp_path || !af->buf) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "%s: out of memory opening the output", path);
    goto cleanup;
  }
  af->buf_cap = ATOMIC_BUF;
  /* Hidden name derived from the target, so a leftover (after a crash) is recognisable. */
  snprintf(af->tmp_path, dlen + blen + 16, "%s/.%s.tmp-XXXXXX", dir, base);
  af->fd = mkstemp(af->tmp_path);
  if (af->fd < 0) {
    int e = errno;
    free(af->tmp_path); /* nothing was created: abort must not unlink the template */
    af->tmp_path = NULL;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot create a temporary file in folder %s: %s", path,
                  dir, errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }
  if (fchmod(af->fd, mode) != 0) {
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot set permissions of %s: %s", path, af->tmp_path,
                  errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }

cleanup:
  free(dir);
  if (st != BFCR_OK) bfcr_atomic_abort(af);
  return st;
}

static bfcr_status flush(bfcr_ctx *ctx, bfcr_atomic_file *af) {
  if (af->buf_len == 0) return BFCR_OK;
  if (sys_write_all(af, af->buf, af->buf_len) != 0) {
    char ebuf[128];
    int e = errno;
    return bfcr_err(ctx, BFCR_ERR_IO, "%s: write failed: %s", af->path,
                    errstr(e, ebuf, sizeof ebuf));
  }
  af->buf_len = 0;
  return BFCR_OK;
}

bfcr_status bfcr_atomic_write(bfcr_ctx *ctx, bfcr_atomic_file *af, const void *data, size_t len) {
  if (!af || af->fd < 0)
    return bfcr_err(ctx, BFCR_ERR_INTERNAL, "atomic writer used while not open");
  if (len == 0) return BFCR_OK;
  if (!data) {
    bfcr_atomic_abort(af);
    return bfcr_err(ctx, BFCR_ERR_INTERNAL, "atomic writer: NULL data");
  }
  bfcr_status st = BFCR_OK;
  if (len <= af->buf_cap - af->buf_len) {
    memcpy(af->buf + af->buf_len, data, len);
    af->buf_len += len;
    return BFCR_OK;
  }
  BFCR_CALL(flush(ctx, af));
  if (len < af->buf_cap) {
    memcpy(af->buf, data, len);
    af->buf_len = len;
  } else if (sys_write_all(af, data, len) != 0) {
    char ebuf[128];
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: write failed: %s", af->path, errstr(e, ebuf, sizeof ebuf));
  }
cleanup:
  if (st != BFCR_OK) bfcr_atomic_abort(af);
  return st;
}

bfcr_status bfcr_atomic_commit(bfcr_ctx *ctx, bfcr_atomic_file *af) {
  if (!af || af->fd < 0)
    return bfcr_err(ctx, BFCR_ERR_INTERNAL, "atomic writer used while not open");
  bfcr_status st = BFCR_OK;
  char ebuf[128];
  char *dir = NULL;
  int dfd = -1;
  BFCR_CALL(flush(ctx, af));
  if (sys_fsync(af, af->fd) != 0) {
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: fsync failed: %s", af->path, errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }
  int fd = af->fd;
  af->fd = -1;
  if (close(fd) != 0) { /* NFS reports deferred write errors here */
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: close failed: %s", af->path, errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }
  if (rename(af->tmp_path, af->path) != 0) {
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: cannot rename %s over it: %s", af->path, af->tmp_path,
                  errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }
  free(af->tmp_path); /* renamed: nothing left to remove */
  af->tmp_path = NULL;

  dir = dir_of(af->path);
  if (!dir) {
    st = bfcr_err(ctx, BFCR_ERR_NOMEM, "%s: out of memory syncing its folder", af->path);
    goto cleanup;
  }
  dfd = open(dir, O_RDONLY | O_DIRECTORY);
  if (dfd < 0) {
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: written, but its folder %s cannot be opened to sync: %s",
                  af->path, dir, errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }
  /* EINVAL: the file system cannot sync folders; the rename is as durable as it gets. */
  if (sys_fsync(af, dfd) != 0 && errno != EINVAL) {
    int e = errno;
    st = bfcr_err(ctx, BFCR_ERR_IO, "%s: written, but syncing its folder %s failed: %s", af->path,
                  dir, errstr(e, ebuf, sizeof ebuf));
    goto cleanup;
  }

cleanup:
  if (dfd >= 0) close(dfd);
  free(dir);
  bfcr_atomic_abort(af);
  return st;
}

bfcr_status bfcr_atomic_write_file(bfcr_ctx *ctx, const char *path, const void *data, size_t len) {
  bfcr_atomic_file af;
  bfcr_status st = bfcr_atomic_open(ctx, path, &af);
  if (st != BFCR_OK) return st;
  st = bfcr_atomic_write(ctx, &af, data, len);
  if (st != BFCR_OK) return st; /* already aborted */
  return bfcr_atomic_commit(ctx, &af);
}
