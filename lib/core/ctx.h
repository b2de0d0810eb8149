/* Internal view of the context and the error/logging/timer helpers every module uses.
 *
 * Errors: a function that fails sets the context's error once (the innermost place
 * that knows what went wrong) and returns the code; callers propagate it unchanged
 * with BFCR_CALL. Errors are set only outside OpenMP parallel regions. */
#ifndef BFCR_CORE_CTX_H
#define BFCR_CORE_CTX_H

#include <stdarg.h>
#include <stdint.h>
#include "bfcr/bfcr.h"

#define BFCR_ERRMSG_MAX 1024
#define BFCR_MAX_PHASES 48
#define BFCR_MAX_NN_NOTES 8

struct bfcr_ctx {
  MPI_Comm comm; /* duplicated from the caller's */
  int rank, size;
  int nthreads;
  bfcr_log_fn log_fn;
  void *log_user;
  bfcr_log_level log_level;
  bfcr_progress_fn progress_fn;
  void *progress_user;
  bfcr_status err;
  char errmsg[BFCR_ERRMSG_MAX];
  int nphases;
  char phase_name[BFCR_MAX_PHASES][32];
  double phase_sec[BFCR_MAX_PHASES];
  double phase_flops[BFCR_MAX_PHASES];
  unsigned char phase_est[BFCR_MAX_PHASES]; /* flops include an estimate (LAPACK) */
  /* Nearest-neighbour method (bfcr_nn_method of lib/knn: 0 auto, 1 tree, 2 gemm) for the
   * searches of the current call, and what they chose: "where: method (probe ...)". */
  int nn_method;
  int nn_nnotes;
  char nn_note[BFCR_MAX_NN_NOTES][192];
  /* Levels the last tree build kept distributed (bfcr_tree.dist_levels), reset with the
   * phases. */
  int dist_levels;
};

/* Record the choice of the search at `where` ("level 0", ...); the first one per place is
 * kept. */
void bfcr_nn_note(bfcr_ctx *ctx, const char *where, const char *what);

/* Set the context error with a printf-style message; returns code. */
bfcr_status bfcr_err(bfcr_ctx *ctx, bfcr_status code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Same, prefixed "path:line:column: " (line, column 1-based; 0 = omit). */
bfcr_status bfcr_err_at(bfcr_ctx *ctx, bfcr_status code, const char *path, int64_t line,
                        int64_t col, const char *fmt, ...) __attribute__((format(printf, 6, 7)));
void bfcr_log(const bfcr_ctx *ctx, bfcr_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void bfcr_progress(const bfcr_ctx *ctx, const char *phase, int64_t done, int64_t total);

/* Collective: all ranks learn the first (lowest rank) failing rank's status and
 * message; returns that status (BFCR_OK when every rank succeeded). Every collective
 * public entry point ends with it, so no rank returns alone while others wait. */
bfcr_status bfcr_agree(bfcr_ctx *ctx, bfcr_status local);

/* Phase timers: add wall seconds and flops to the named phase. */
double bfcr_wtime(void);
void bfcr_phase_add(bfcr_ctx *ctx, const char *name, double seconds, double flops);
/* The same for a phase whose flop count includes an estimate (e.g. an eigensolver whose
 * work depends on the data): the phase is marked so tables can say so. */
void bfcr_phase_add_est(bfcr_ctx *ctx, const char *name, double seconds, double flops);

/* Allocation that reports through the context (overflow-checked n * size). */
void *bfcr_calloc(bfcr_ctx *ctx, size_t n, size_t size);
void *bfcr_malloc(bfcr_ctx *ctx, size_t n, size_t size);

#define BFCR_CALL(expr)           \
  do {                            \
    bfcr_status bfcr_s_ = (expr); \
    if (bfcr_s_ != BFCR_OK) {     \
      st = bfcr_s_;               \
      goto cleanup;               \
    }                             \
  } while (0)

/* The same for a collective step whose status is already agreed (it opens with an
 * agreement, so a rank that failed locally and agrees in cleanup meets it): sets the
 * caller's `agreed` flag so cleanup does not agree a second time. */
#define BFCR_CALL_AGREED(expr) \
  do {                         \
    st = (expr);               \
    if (st != BFCR_OK) {       \
      agreed = 1;              \
      goto cleanup;            \
    }                          \
  } while (0)

#define BFCR_CHECK(ctx, cond, code, ...)         \
  do {                                           \
    if (!(cond)) {                               \
      st = bfcr_err((ctx), (code), __VA_ARGS__); \
      goto cleanup;                              \
    }                                            \
  } while (0)

#define BFCR_ALLOC(ctx, ptr, n)                              \
  do {                                                       \
    (ptr) = bfcr_malloc((ctx), (size_t)(n), sizeof(*(ptr))); \
    if (!(ptr) && (n) > 0) {                                 \
      st = BFCR_ERR_NOMEM;                                   \
      goto cleanup;                                          \
    }                                                        \
  } while (0)

#define BFCR_CALLOC(ctx, ptr, n)                             \
  do {                                                       \
    (ptr) = bfcr_calloc((ctx), (size_t)(n), sizeof(*(ptr))); \
    if (!(ptr) && (n) > 0) {                                 \
      st = BFCR_ERR_NOMEM;                                   \
      goto cleanup;                                          \
    }                                                        \
  } while (0)

#endif
