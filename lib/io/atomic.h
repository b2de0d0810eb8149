/* Atomic file replacement: every output bfcr writes (model files, CSV columns) goes
 * through a temporary file in the target's folder that is renamed over the target
 * only once it is complete and on disk, so a reader sees the old file or the whole
 * new one, never a partial one, whatever happens to the writer.
 *
 * Sequence: mkstemp("<dir>/.<name>.tmp-XXXXXX") -> buffered writes (short writes and
 * EINTR retried) -> fsync(file) -> close -> rename(tmp, target) -> fsync(dir).
 * Any failure before the rename removes the temporary file and leaves an earlier
 * target byte-for-byte untouched. A failure of the final directory fsync is reported
 * (the new file is in place but its rename may not survive a power cut).
 *
 * Permissions: a replaced file keeps its mode; a new file gets 0666 minus the process
 * umask (read from /proc/self/status, since reading it through umask() would change
 * a process-wide setting; 0644 where that is unavailable). */
#ifndef BFCR_IO_ATOMIC_H
#define BFCR_IO_ATOMIC_H

#include <stddef.h>
#include "core/ctx.h"

typedef struct bfcr_atomic_file {
  int fd;             /* temporary file, -1 when none is open */
  char *path;         /* target */
  char *tmp_path;     /* temporary file in the target's folder */
  unsigned char *buf; /* write buffer */
  size_t buf_len, buf_cap;
  /* Fault injection, set by tests after bfcr_atomic_open (0 = off). */
  int fail_write_at;    /* the Nth write(2) call (1-based) fails with ENOSPC */
  int fail_fsync_at;    /* the Nth fsync fails with EIO: 1 = the file, 2 = the folder */
  size_t max_chunk;     /* cap on the bytes passed to one write(2) call (forces short writes) */
  int nwrites, nfsyncs; /* system calls made so far */
} bfcr_atomic_file;

/* Create the temporary file for path. On failure nothing is left behind and af is
 * safe to pass to bfcr_atomic_abort. Errors: BFCR_ERR_IO naming the folder and the
 * system error, BFCR_ERR_NOMEM. Local. */
bfcr_status bfcr_atomic_open(bfcr_ctx *ctx, const char *path, bfcr_atomic_file *af);
/* Append len bytes (buffered). On failure the writer is aborted (temporary removed). */
bfcr_status bfcr_atomic_write(bfcr_ctx *ctx, bfcr_atomic_file *af, const void *data, size_t len);
/* Flush, fsync, rename over the target, fsync the folder; releases af either way. */
bfcr_status bfcr_atomic_commit(bfcr_ctx *ctx, bfcr_atomic_file *af);
/* Drop the temporary file and release af (idempotent; safe after a failed open). */
void bfcr_atomic_abort(bfcr_atomic_file *af);

/* One shot: replace path by the len bytes at data. Local. */
bfcr_status bfcr_atomic_write_file(bfcr_ctx *ctx, const char *path, const void *data, size_t len);

#endif
