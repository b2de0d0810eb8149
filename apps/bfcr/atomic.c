/* Temporary file + fsync + rename (see atomic.h). */
#include "atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void clear(app_atomic *w) {
  free(w->tmp);
  free(w->path);
  w->f = NULL;
  w->tmp = NULL;
  w->path = NULL;
}

int app_atomic_open(app_atomic *w, const char *path, char *err, size_t errlen) {
  memset(w, 0, sizeof *w);
  const char *slash = strrchr(path, '/');
  size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0;
  size_t len = strlen(path);
  w->path = malloc(len + 1);
  w->tmp = malloc(len + 32);
  if (!w->path || !w->tmp) {
    snprintf(err, errlen, "out of memory");
    clear(w);
    return -1;
  }
  memcpy(w->path, path, len + 1);
  /* ".NAME.bfcr-XXXXXX" beside the target: same file system, so rename is atomic. */
  snprintf(w->tmp, len + 32, "%.*s.%s.bfcr-XXXXXX", (int)dirlen, path, path + dirlen);
  int fd = mkstemp(w->tmp);
  if (fd < 0) {
    snprintf(err, errlen, "%s: cannot create a temporary file beside it: %s", path,
             strerror(errno));
    clear(w);
    return -1;
  }
  /* mkstemp makes the file 0600; give it the mode a plain fopen would. */
  mode_t mask = umask(0);
  umask(mask);
  if (fchmod(fd, 0666 & ~mask) != 0 || !(w->f = fdopen(fd, "wb"))) {
    snprintf(err, errlen, "%s: cannot prepare the temporary file: %s", path, strerror(errno));
    close(fd);
    unlink(w->tmp);
    clear(w);
    return -1;
  }
  return 0;
}

int app_atomic_commit(app_atomic *w, char *err, size_t errlen) {
  int bad = fflush(w->f) != 0 || ferror(w->f);
  int e = errno;
  if (!bad && fsync(fileno(w->f)) != 0) {
    bad = 1;
    e = errno;
  }
  if (fclose(w->f) != 0 && !bad) {
    bad = 1;
    e = errno;
  }
  w->f = NULL;
  if (!bad && rename(w->tmp, w->path) != 0) {
    bad = 1;
    e = errno;
  }
  if (bad) {
    snprintf(err, errlen, "%s: write failed: %s", w->path, strerror(e));
    unlink(w->tmp);
    clear(w);
    return -1;
  }
  /* Make the rename itself durable; failure here leaves a complete file either way. */
  const char *slash = strrchr(w->path, '/');
  if (slash) w->path[slash - w->path + 1] = '\0';
  int dfd = open(slash ? w->path : ".", O_RDONLY);
  if (dfd >= 0) {
    (void)fsync(dfd);
    close(dfd);
  }
  clear(w);
  return 0;
}

void app_atomic_abort(app_atomic *w) {
  if (!w || !w->tmp) return;
  if (w->f) fclose(w->f);
  unlink(w->tmp);
  clear(w);
}
