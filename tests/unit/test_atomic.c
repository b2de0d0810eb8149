/* Atomic writer: complete replacement or no change at all, and no temporary left. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/atomic.h"
#include "testutil.h"

static size_t slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  size_t n = fread(buf, 1, cap, f);
  fclose(f);
  return n;
}

/* Files in the folder of path whose name starts with ".<base>.tmp-". */
static int leftovers(const char *path) {
  char dir[512], prefix[300];
  snprintf(dir, sizeof dir, "%s", path);
  char *slash = strrchr(dir, '/');
  cr_assert(slash);
  *slash = '\0';
  snprintf(prefix, sizeof prefix, ".%s.tmp-", slash + 1);
  DIR *d = opendir(dir);
  cr_assert(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

static const char *old_text = "the old file\n";

Test(atomic, one_shot_creates_and_replaces) {
  bfcr_ctx *ctx = tu_ctx();
  const char *p = tu_write_file("one.txt", old_text, strlen(old_text));
  unlink(p);
  cr_assert_eq(bfcr_atomic_write_file(ctx, p, "abc", 3), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
  char buf[64];
  cr_assert_eq(slurp(p, buf, sizeof buf), 3);
  cr_assert_eq(memcmp(buf, "abc", 3), 0);
  /* A new file gets 0666 minus the umask, not mkstemp's 0600. */
  mode_t mask = umask(022);
  umask(mask);
  struct stat sb;
  cr_assert_eq(stat(p, &sb), 0);
  cr_assert_eq(sb.st_mode & 0777, 0666 & ~mask);
  /* A replaced file keeps its mode. */
  chmod(p, 0640);
  cr_assert_eq(bfcr_atomic_write_file(ctx, p, "", 0), BFCR_OK);
  cr_assert_eq(stat(p, &sb), 0);
  cr_assert_eq(sb.st_mode & 0777, 0640);
  cr_assert_eq(sb.st_size, 0);
  cr_assert_eq(leftovers(p), 0);
  tu_ctx_free(&ctx);
}

Test(atomic, streamed_writes_and_short_writes) {
  bfcr_ctx *ctx = tu_ctx();
  const char *p = tu_write_file("stream.bin", "", 0);
  size_t total = 300000;
  unsigned char *want = malloc(total), *got = malloc(total + 1);
  for (size_t i = 0; i < total; i++) want[i] = (unsigned char)(i * 7 + i / 251);
  for (int mode = 0; mode < 2; mode++) {
    bfcr_atomic_file af;
    cr_assert_eq(bfcr_atomic_open(ctx, p, &af), BFCR_OK);
    if (mode) af.max_chunk = 777; /* every write(2) returns short */
    /* Pieces of 1 byte, a few KiB, and larger than the internal buffer. */
    size_t at = 0, piece[] = {1, 3, 4096, 70000, 1, 100000, 12345};
    for (int i = 0; at < total; i = (i + 1) % 7) {
      size_t n = piece[i] < total - at ? piece[i] : total - at;
      cr_assert_eq(bfcr_atomic_write(ctx, &af, want + at, n), BFCR_OK);
      at += n;
    }
    /* Nothing visible under the target name before the commit. */
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(sb.st_size, mode ? (off_t)total : 0);
    cr_assert_eq(bfcr_atomic_commit(ctx, &af), BFCR_OK, "%s", bfcr_ctx_errmsg(ctx));
    if (mode) cr_assert_gt(af.nwrites, (int)(total / 777)); /* counters survive the commit */
    cr_assert_eq(slurp(p, (char *)got, total + 1), total);
    cr_assert_eq(memcmp(got, want, total), 0);
    cr_assert_eq(leftovers(p), 0);
  }
  free(want);
  free(got);
  tu_ctx_free(&ctx);
}

/* Inject a failure at the given write or fsync call: the old file must stay as it was. */
static void injected(int write_at, int fsync_at, int old_survives) {
  bfcr_ctx *ctx = tu_ctx();
  const char *p = tu_write_file("inject.txt", old_text, strlen(old_text));
  size_t total = 200000;
  char *data = malloc(total);
  memset(data, 'x', total);
  bfcr_atomic_file af;
  cr_assert_eq(bfcr_atomic_open(ctx, p, &af), BFCR_OK);
  af.fail_write_at = write_at;
  af.fail_fsync_at = fsync_at;
  bfcr_status st = BFCR_OK;
  for (size_t at = 0; at < total && st == BFCR_OK; at += 50000)
    st = bfcr_atomic_write(ctx, &af, data + at, 50000);
  if (st == BFCR_OK) st = bfcr_atomic_commit(ctx, &af);
  cr_assert_eq(st, BFCR_ERR_IO, "write %d / fsync %d: %d", write_at, fsync_at, st);
  const char *msg = bfcr_ctx_errmsg(ctx);
  cr_assert(strncmp(msg, p, strlen(p)) == 0, "message lacks the path: %s", msg);
  cr_assert(strstr(msg, write_at ? "No space left on device" : "Input/output error"), "%s", msg);
  char buf[300000];
  size_t n = slurp(p, buf, sizeof buf);
  if (old_survives) {
    cr_assert(n == strlen(old_text) && memcmp(buf, old_text, n) == 0, "old file changed");
  } else {
    cr_assert_eq(n, total); /* the folder fsync fails after the rename */
  }
  cr_assert_eq(leftovers(p), 0);
  bfcr_atomic_abort(&af); /* idempotent after a failure */
  free(data);
  tu_ctx_free(&ctx);
}

Test(atomic, failed_first_write_keeps_old_file) {
  injected(1, 0, 1);
}
Test(atomic, failed_later_write_keeps_old_file) {
  injected(3, 0, 1);
}
Test(atomic, failed_file_fsync_keeps_old_file) {
  injected(0, 1, 1);
}
Test(atomic, failed_folder_fsync_is_reported) {
  injected(0, 2, 0);
}

Test(atomic, abort_removes_temporary) {
  bfcr_ctx *ctx = tu_ctx();
  const char *p = tu_write_file("abort.txt", old_text, strlen(old_text));
  bfcr_atomic_file af;
  cr_assert_eq(bfcr_atomic_open(ctx, p, &af), BFCR_OK);
  cr_assert_eq(bfcr_atomic_write(ctx, &af, "new", 3), BFCR_OK);
  cr_assert_eq(leftovers(p), 1);
  bfcr_atomic_abort(&af);
  bfcr_atomic_abort(&af);
  cr_assert_eq(leftovers(p), 0);
  char buf[64];
  size_t n = slurp(p, buf, sizeof buf);
  cr_assert(n == strlen(old_text) && memcmp(buf, old_text, n) == 0);
  cr_assert_eq(bfcr_atomic_write(ctx, &af, "x", 1), BFCR_ERR_INTERNAL);
  cr_assert_eq(bfcr_atomic_commit(ctx, &af), BFCR_ERR_INTERNAL);
  tu_ctx_free(&ctx);
}

Test(atomic, unwritable_or_missing_folder) {
  bfcr_ctx *ctx = tu_ctx();
  cr_assert_eq(bfcr_atomic_write_file(ctx, "/nonexistent-bfcr/dir/out.csv", "a", 1), BFCR_ERR_IO);
  const char *msg = bfcr_ctx_errmsg(ctx);
  cr_assert(strstr(msg, "/nonexistent-bfcr/dir/out.csv") && strstr(msg, "No such file"), "%s", msg);
  /* A folder we may not write to (root ignores mode bits, but not a read-only /sys). */
  char dir[512];
  const char *p = tu_write_file("probe", "", 0);
  snprintf(dir, sizeof dir, "%s", p);
  *strrchr(dir, '/') = '\0';
  strcat(dir, "/ro");
  cr_assert_eq(mkdir(dir, 0500), 0);
  char target[600];
  snprintf(target, sizeof target, "%s/out.csv", dir);
  if (access(dir, W_OK) == 0) snprintf(target, sizeof target, "/sys/bfcr-out.csv");
  cr_assert_eq(bfcr_atomic_write_file(ctx, target, "a", 1), BFCR_ERR_IO);
  msg = bfcr_ctx_errmsg(ctx);
  cr_assert(strstr(msg, target) && strstr(msg, "Permission denied"), "%s", msg);
  /* A folder as the target. */
  cr_assert_eq(bfcr_atomic_write_file(ctx, dir, "a", 1), BFCR_ERR_IO);
  cr_assert(strstr(bfcr_ctx_errmsg(ctx), "is a folder"), "%s", bfcr_ctx_errmsg(ctx));
  snprintf(target, sizeof target, "%s/", dir);
  cr_assert_eq(bfcr_atomic_write_file(ctx, target, "a", 1), BFCR_ERR_IO);
  cr_assert_eq(bfcr_atomic_write_file(ctx, "", "a", 1), BFCR_ERR_ARG);
  rmdir(dir);
  tu_ctx_free(&ctx);
}

Test(atomic, relative_path_in_current_folder) {
  bfcr_ctx *ctx = tu_ctx();
  const char *p = tu_write_file("cwd-probe", "", 0);
  char dir[512];
  snprintf(dir, sizeof dir, "%s", p);
  *strrchr(dir, '/') = '\0';
  char old[1024];
  cr_assert(getcwd(old, sizeof old));
  cr_assert_eq(chdir(dir), 0);
  cr_assert_eq(bfcr_atomic_write_file(ctx, "plain.txt", "hello", 5), BFCR_OK, "%s",
               bfcr_ctx_errmsg(ctx));
  char buf[16];
  cr_assert_eq(slurp("plain.txt", buf, sizeof buf), 5);
  cr_assert_eq(chdir(old), 0);
  tu_ctx_free(&ctx);
}
