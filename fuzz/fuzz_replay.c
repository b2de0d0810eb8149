/* Replay driver: runs a harness (fuzz_csv.c or fuzz_model.c) on every file named on
 * the command line, or on every regular file of each folder named, in sorted order.
 * Linked without libFuzzer, this puts the fuzz regressions and seed corpora into the
 * normal test suite (any build, any compiler, with or without sanitizers): a crash or
 * a broken harness invariant aborts, and the exit status is 0 only when every input
 * ran. */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <mpi.h>

#include "fuzz_common.h"

static int run_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "replay: cannot open %s\n", path);
    return 1;
  }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  for (;;) {
    if (!buf) break;
    if (len == cap) {
      unsigned char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        buf = NULL;
        break;
      }
      buf = nb;
      cap *= 2;
    }
    size_t got = fread(buf + len, 1, cap - len, f);
    if (got == 0) break;
    len += got;
  }
  int bad = ferror(f) || !buf;
  fclose(f);
  if (bad) {
    fprintf(stderr, "replay: cannot read %s\n", path);
    free(buf);
    return 1;
  }
  /* An exact-size copy, as libFuzzer passes it. */
  unsigned char *exact = malloc(len ? len : 1);
  if (!exact) {
    free(buf);
    return 1;
  }
  memcpy(exact, buf, len);
  free(buf);
  LLVMFuzzerTestOneInput(exact, len);
  free(exact);
  return 0;
}

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_dir(const char *dir, int *count) {
  DIR *dp = opendir(dir);
  if (!dp) {
    fprintf(stderr, "replay: cannot open folder %s\n", dir);
    return 1;
  }
  char **names = NULL;
  size_t n = 0, cap = 0;
  int fails = 0;
  for (struct dirent *e; (e = readdir(dp)) != NULL;) {
    if (e->d_name[0] == '.') continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 64;
      char **nn = realloc(names, cap * sizeof *names);
      if (!nn) {
        fails++;
        break;
      }
      names = nn;
    }
    size_t l = strlen(dir) + strlen(e->d_name) + 2;
    names[n] = malloc(l);
    if (!names[n]) {
      fails++;
      break;
    }
    snprintf(names[n], l, "%s/%s", dir, e->d_name);
    n++;
  }
  closedir(dp);
  if (n) qsort(names, n, sizeof *names, cmp_str);
  for (size_t i = 0; i < n; i++) {
    struct stat sb;
    if (stat(names[i], &sb) == 0 && S_ISREG(sb.st_mode)) {
      fails += run_file(names[i]);
      (*count)++;
    }
    free(names[i]);
  }
  free(names);
  return fails;
}

int main(int argc, char **argv) {
  MPI_Init(&argc, &argv);
  int fails = 0, count = 0;
  for (int i = 1; i < argc; i++) {
    struct stat sb;
    if (stat(argv[i], &sb) != 0) {
      fprintf(stderr, "replay: no such file or folder %s\n", argv[i]);
      fails++;
    } else if (S_ISDIR(sb.st_mode)) {
      fails += run_dir(argv[i], &count);
    } else {
      fails += run_file(argv[i]);
      count++;
    }
  }
  printf("replayed %d inputs, %d unreadable\n", count, fails);
  fuzz_ctx_release();
  MPI_Finalize();
  return fails ? 1 : 0;
}
