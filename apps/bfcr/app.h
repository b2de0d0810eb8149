/* State shared by the subcommands of the bfcr application: the MPI rank, the library
 * context, the terminal progress line, and the one mapping from bfcr_status to exit
 * codes. Every rank runs the same control flow; only rank 0 prints. */
#ifndef BFCR_APP_H
#define BFCR_APP_H

#include <stdint.h>
#include <stdio.h>

#include "bfcr/bfcr.h"

/* Exit codes (documented in docs/cli.md and every --help). */
enum {
  APP_EXIT_OK = 0,
  APP_EXIT_USAGE = 2,
  APP_EXIT_INPUT = 3,
  APP_EXIT_NUMERIC = 4,
  APP_EXIT_IO = 5,
  APP_EXIT_FORMAT = 6,
  APP_EXIT_NOMEM = 7,
  APP_EXIT_MPI = 8,
  APP_EXIT_INTERNAL = 9
};

#define APP_EXIT_CODES_HELP                                                       \
  "Exit codes: 0 ok, 2 usage, 3 input error, 4 numerical failure, 5 I/O error,\n" \
  "            6 bad model file, 7 out of memory, 8 MPI failure, 9 internal error.\n"

typedef struct app {
  int rank, size; /* on MPI_COMM_WORLD */
  bfcr_ctx *ctx;  /* created on MPI_COMM_WORLD by main */
  int argc;       /* the full command line, for run reports */
  char **argv;
  double t_start;  /* MPI_Wtime at start */
  int tty;         /* stderr is a terminal: progress bars are drawn */
  int progress_on; /* a progress line is open on stderr */
  int progress_pct;
  char progress_phase[48];
} app;

/* The exit code of a library status (the only place that maps them). */
int app_exit_code(bfcr_status s);
/* Print "bfcr: error: <bfcr_ctx_errmsg>" on rank 0 and return the exit code of s.
 * Every rank calls it with the same status (library calls agree on it). */
int app_fail_status(app *a, bfcr_status s);
/* Same for an error found by the app itself: the message is formatted here. Every
 * rank must reach the same decision (it depends only on collective results). */
int app_fail(app *a, bfcr_status s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Close an open progress line so the next message starts on a fresh line. */
void app_progress_break(app *a);
/* Threads for the context: --threads when given, else 0 (omp_get_max_threads, which
 * honours OMP_NUM_THREADS) when OMP_NUM_THREADS is set, else 1. Returns an exit code. */
int app_setup_threads(app *a, int threads, int given);
/* Log messages up to INFO (verbose) or WARN on stderr (rank 0). */
void app_set_verbose(app *a, int verbose);
/* Collective: 1 when ok is nonzero on every rank. */
int app_all_ok(int ok);
/* Collective: rank 0's exit code, broadcast (for work that only rank 0 does). */
int app_bcast_code(int code);

int cmd_fit(app *a, int argc, char **argv);
int cmd_predict(app *a, int argc, char **argv);
int cmd_cluster(app *a, int argc, char **argv);
int cmd_tree(app *a, int argc, char **argv);
int cmd_split(app *a, int argc, char **argv);
int cmd_gen(app *a, int argc, char **argv);

#endif
