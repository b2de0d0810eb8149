/* bfcr: command-line front end over the public library.
 *
 * main initializes MPI (FUNNELED: only this thread calls MPI; bfcr's OpenMP threads
 * never do), pins OpenBLAS to one thread (bfcr parallelizes with OpenMP and MPI; a
 * threaded BLAS inside them oversubscribes the cores), creates the context on
 * MPI_COMM_WORLD with the log and progress hooks, and dispatches to a subcommand.
 * Every rank runs the same control flow and exits with the same code. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

#include <mpi.h>

#include "app.h"
#include "mpi_start.h"
#include "traffic.h"
#include "bfcr/version.h"

extern void openblas_set_num_threads(int);

int app_exit_code(bfcr_status s) {
  switch (s) {
    case BFCR_OK:
      return APP_EXIT_OK;
    case BFCR_ERR_ARG:
    case BFCR_ERR_INPUT:
      return APP_EXIT_INPUT;
    case BFCR_ERR_NUMERIC:
      return APP_EXIT_NUMERIC;
    case BFCR_ERR_IO:
      return APP_EXIT_IO;
    case BFCR_ERR_FORMAT:
      return APP_EXIT_FORMAT;
    case BFCR_ERR_NOMEM:
      return APP_EXIT_NOMEM;
    case BFCR_ERR_MPI:
      return APP_EXIT_MPI;
    case BFCR_ERR_INTERNAL:
      return APP_EXIT_INTERNAL;
  }
  return APP_EXIT_INTERNAL;
}

void app_progress_break(app *a) {
  if (a->progress_on) {
    fputc('\n', stderr);
    a->progress_on = 0;
  }
}

int app_fail_status(app *a, bfcr_status s) {
  if (s == BFCR_OK) return APP_EXIT_OK;
  if (a->rank == 0) {
    app_progress_break(a);
    const char *msg = a->ctx ? bfcr_ctx_errmsg(a->ctx) : "";
    fprintf(stderr, "bfcr: error: %s\n", msg && msg[0] ? msg : bfcr_status_name(s));
  }
  return app_exit_code(s);
}

int app_fail(app *a, bfcr_status s, const char *fmt, ...) {
  if (a->rank == 0) {
    app_progress_break(a);
    va_list ap;
    va_start(ap, fmt);
    fputs("bfcr: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
  }
  return app_exit_code(s);
}

int app_all_ok(int ok) {
  int mine = ok != 0, all = 0;
  if (MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD) != MPI_SUCCESS) return 0;
  return all;
}

int app_bcast_code(int code) {
  MPI_Bcast(&code, 1, MPI_INT, 0, MPI_COMM_WORLD);
  return code;
}

int app_setup_threads(app *a, int threads, int given) {
  int n = threads;
  if (!given) {
    const char *env = getenv("OMP_NUM_THREADS");
    n = env && env[0] ? 0 : 1;
  }
  return app_fail_status(a, bfcr_ctx_set_threads(a->ctx, n));
}

static void on_log(void *user, bfcr_log_level level, const char *msg) {
  app *a = user;
  if (a->rank != 0) return;
  static const char *const names[] = {"error", "warning", "info", "debug"};
  app_progress_break(a);
  fprintf(stderr, "bfcr: %s: %s\n", names[level >= 0 && level <= 3 ? level : 3], msg);
}

void app_set_verbose(app *a, int verbose) {
  if (a->ctx) bfcr_ctx_set_log(a->ctx, on_log, a, verbose ? BFCR_LOG_INFO : BFCR_LOG_WARN);
}

/* One line per phase, redrawn in place at each whole percent. */
static void on_progress(void *user, const char *phase, int64_t done, int64_t total) {
  app *a = user;
  app_traffic_poll(); /* BFCR_MEM_PHASES: phase ends between MPI calls */
  if (a->rank != 0 || !a->tty) return;
  /* A new phase starts on its own line. */
  if (a->progress_on && strncmp(a->progress_phase, phase, sizeof a->progress_phase - 1) != 0)
    app_progress_break(a);
  if (total <= 0) {
    /* Unknown total: a counter, closed by the next message or the end of the run. */
    fprintf(stderr, "\r%-24.24s %lld", phase, (long long)done);
    a->progress_on = 1;
    a->progress_pct = -1;
    snprintf(a->progress_phase, sizeof a->progress_phase, "%s", phase);
    fflush(stderr);
    return;
  }
  if (done < 0) done = 0;
  if (done > total) done = total;
  int pct = (int)((double)done / (double)total * 100.0);
  int same = a->progress_on && strncmp(a->progress_phase, phase, sizeof a->progress_phase - 1) == 0;
  if (same && pct == a->progress_pct && done < total) return;
  enum { WIDTH = 30 };
  char bar[WIDTH + 1];
  int fill = pct * WIDTH / 100;
  for (int i = 0; i < WIDTH; i++) bar[i] = i < fill ? '#' : '.';
  bar[WIDTH] = '\0';
  fprintf(stderr, "\r%-24.24s [%s] %3d%%", phase, bar, pct);
  if (done >= total) {
    fputc('\n', stderr);
    a->progress_on = 0;
  } else {
    a->progress_on = 1;
    a->progress_pct = pct;
    snprintf(a->progress_phase, sizeof a->progress_phase, "%s", phase);
  }
  fflush(stderr);
}

typedef struct command {
  const char *name;
  int (*run)(app *a, int argc, char **argv);
  const char *summary;
} command;

static const command commands[] = {
    {"fit", cmd_fit, "read a CSV, fit the clustered regression model, save it"},
    {"predict", cmd_predict, "predict the rows of a CSV with a saved model"},
    {"cluster", cmd_cluster, "build the best-friend tree of a CSV and write cluster labels"},
    {"tree", cmd_tree, "describe a saved model (levels, parameters, clusters)"},
    {"split", cmd_split, "split a CSV into seeded random train and test files"},
    {"gen", cmd_gen, "write seeded synthetic clustered regression data as CSV"},
    {"version", NULL, "print the version"},
    {"help", NULL, "print this help, or 'bfcr help COMMAND' for a command's options"},
};
enum { NCOMMANDS = (int)(sizeof commands / sizeof commands[0]) };

static void print_help(FILE *f) {
  fprintf(f,
          "Usage: bfcr COMMAND [ARGS] [OPTIONS]   (under MPI: mpirun -n P bfcr ...)\n\n"
          "Best-friend-clustering regression (Li, Yuan, Zhang, Chen, IEEE TPDS 2022):\n"
          "exact, reproducible, parallel with OpenMP threads and MPI ranks.\n\nCommands:\n");
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(f,
          "\n'bfcr COMMAND --help' lists a command's options and their defaults.\n"
          "Threads per rank: --threads N; without it, 1, or the OpenMP default when\n"
          "OMP_NUM_THREADS is set. Only rank 0 prints; every rank exits with the same "
          "code.\n\n" APP_EXIT_CODES_HELP);
}

/* --verbose adds how MPI was started (tests/cli/test_singleton_start.sh reads it). */
static void print_version(int verbose, app_pml_source pml) {
  char lib[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(lib, &len);
  lib[strcspn(lib, "\n,")] = '\0';
  printf("bfcr %s (%s)\n", BFCR_VERSION_STRING, lib);
  if (!verbose) return;
  const char *env = getenv("OMPI_MCA_pml");
  printf("mpi pml: %s (%s)\n", env ? env : "default", app_pml_source_text(pml));
}

int main(int argc, char **argv) {
#ifdef __GLIBC__
  /* Arrays of 256 KiB and more come from mmap and go back to the system when freed.
   * glibc's default moves this threshold up after the first large free; from then on
   * freed work buffers stay in the heap, and the resident size of a long fit only grows
   * (a 2-rank fit of 1M rows peaked at 279 MB per rank instead of 198 MB). */
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
#endif
  /* Before MPI_Init, which reads it (see mpi_start.c). */
  app_pml_source pml = app_mpi_start_env();
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    fprintf(stderr, "bfcr: error: MPI_Init_thread failed\n");
    return APP_EXIT_MPI;
  }
  openblas_set_num_threads(1);
  app a;
  memset(&a, 0, sizeof a);
  MPI_Comm_rank(MPI_COMM_WORLD, &a.rank);
  MPI_Comm_size(MPI_COMM_WORLD, &a.size);
  a.argc = argc;
  a.argv = argv;
  a.t_start = MPI_Wtime();
  a.tty = isatty(STDERR_FILENO);

  int rc = APP_EXIT_OK;
  const command *cmd = NULL;
  const char *name = argc > 1 ? argv[1] : NULL;
  if (!name) {
    if (a.rank == 0) print_help(stderr);
    rc = APP_EXIT_USAGE;
    goto done;
  }
  if (strcmp(name, "--version") == 0) name = "version";
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) name = "help";
  for (int i = 0; i < NCOMMANDS; i++)
    if (strcmp(commands[i].name, name) == 0) cmd = &commands[i];
  if (!cmd) {
    if (a.rank == 0) fprintf(stderr, "bfcr: error: unknown command '%s'; see 'bfcr help'\n", name);
    rc = APP_EXIT_USAGE;
    goto done;
  }
  if (strcmp(cmd->name, "version") == 0) {
    int verbose = argc > 2 && (strcmp(argv[2], "--verbose") == 0 || strcmp(argv[2], "-v") == 0);
    if (a.rank == 0) print_version(verbose, pml);
    goto done;
  }
  if (strcmp(cmd->name, "help") == 0) {
    if (argc > 2) {
      /* "bfcr help fit" is "bfcr fit --help". */
      for (int i = 0; i < NCOMMANDS; i++) {
        if (commands[i].run && strcmp(commands[i].name, argv[2]) == 0) {
          char help[] = "--help";
          char *sub[] = {argv[2], help, NULL};
          rc = commands[i].run(&a, 2, sub);
          goto done;
        }
      }
      if (a.rank == 0)
        fprintf(stderr, "bfcr: error: unknown command '%s'; see 'bfcr help'\n", argv[2]);
      rc = APP_EXIT_USAGE;
      goto done;
    }
    if (a.rank == 0) print_help(stdout);
    goto done;
  }

  bfcr_status st = bfcr_ctx_create(MPI_COMM_WORLD, &a.ctx);
  if (st != BFCR_OK) {
    rc = app_fail(&a, st, "cannot create the bfcr context on MPI_COMM_WORLD (%s)",
                  bfcr_status_name(st));
    goto done;
  }
  app_traffic_watch(a.ctx);
  app_set_verbose(&a, 0);
  bfcr_ctx_set_progress(a.ctx, on_progress, &a);
  rc = cmd->run(&a, argc - 1, argv + 1);
  app_progress_break(&a);

done:
  app_traffic_dump();
  fflush(stdout);
  bfcr_ctx_destroy(&a.ctx);
  MPI_Finalize();
  return rc;
}
