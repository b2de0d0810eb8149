/* Atomic output files written by the app itself (run reports, split outputs): a
 * temporary file in the target's folder, flushed, fsynced and renamed over the
 * target, so an earlier file is only ever replaced by a complete new one. */
#ifndef BFCR_APP_ATOMIC_H
#define BFCR_APP_ATOMIC_H

#include <stdio.h>

typedef struct app_atomic {
  FILE *f;    /* write here */
  char *tmp;  /* temporary path */
  char *path; /* final path */
} app_atomic;

/* Create the temporary file. Returns 0, or -1 with a message in err. */
int app_atomic_open(app_atomic *w, const char *path, char *err, size_t errlen);
/* Flush, fsync, close and rename over the final path. Returns 0, or -1 with a
 * message in err (the temporary file is then removed). */
int app_atomic_commit(app_atomic *w, char *err, size_t errlen);
/* Drop the temporary file (NULL-safe, idempotent). */
void app_atomic_abort(app_atomic *w);

#endif
