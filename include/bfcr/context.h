#ifndef BFCR_CONTEXT_H
#define BFCR_CONTEXT_H
#include <mpi.h>
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The context: a duplicated communicator, thread count, log hook, last error and
 * the per-phase timers of the last call. One context per thread of use. */
typedef struct bfcr_ctx bfcr_ctx;

typedef enum bfcr_log_level {
  BFCR_LOG_ERROR = 0,
  BFCR_LOG_WARN = 1,
  BFCR_LOG_INFO = 2,
  BFCR_LOG_DEBUG = 3
} bfcr_log_level;

/* Log hook: called on the rank that logs (messages from rank 0 unless stated). */
typedef void (*bfcr_log_fn)(void *user, bfcr_log_level level, const char *msg);
/* Progress hook for long phases: done out of total units of the named phase. */
typedef void (*bfcr_progress_fn)(void *user, const char *phase, int64_t done, int64_t total);

/* Create a context on comm (duplicated; comm may be freed afterwards). MPI must be
 * initialized by the caller (MPI_THREAD_FUNNELED is enough). Collective. */
BFCR_API bfcr_status bfcr_ctx_create(MPI_Comm comm, bfcr_ctx **ctx);
/* Free the context and its communicator. Collective. NULL-safe. */
BFCR_API void bfcr_ctx_destroy(bfcr_ctx **ctx);

/* OpenMP threads used by bfcr calls on this context (default: 1, the caller's thread).
 * 0 means omp_get_max_threads(). Never changes process-wide settings. Not Collective. */
BFCR_API bfcr_status bfcr_ctx_set_threads(bfcr_ctx *ctx, int nthreads);
BFCR_API int bfcr_ctx_threads(const bfcr_ctx *ctx);
/* Messages at or below max_level go to fn (default: none are emitted). Not Collective. */
BFCR_API void bfcr_ctx_set_log(bfcr_ctx *ctx, bfcr_log_fn fn, void *user, bfcr_log_level max_level);
BFCR_API void bfcr_ctx_set_progress(bfcr_ctx *ctx, bfcr_progress_fn fn, void *user);

BFCR_API int bfcr_ctx_rank(const bfcr_ctx *ctx);
BFCR_API int bfcr_ctx_size(const bfcr_ctx *ctx);
BFCR_API MPI_Comm bfcr_ctx_comm(const bfcr_ctx *ctx);

/* Last error on this context: code and message ("" when none). Not Collective. */
BFCR_API bfcr_status bfcr_ctx_errcode(const bfcr_ctx *ctx);
BFCR_API const char *bfcr_ctx_errmsg(const bfcr_ctx *ctx);
BFCR_API void bfcr_ctx_clear_error(bfcr_ctx *ctx);

/* Phase timers of the calls made on this context since the last reset: wall seconds
 * on this rank, in the order the phases first ran. Not Collective. */
BFCR_API int bfcr_ctx_num_phases(const bfcr_ctx *ctx);
BFCR_API const char *bfcr_ctx_phase_name(const bfcr_ctx *ctx, int i);
BFCR_API double bfcr_ctx_phase_seconds(const bfcr_ctx *ctx, int i);
/* Analytic floating-point operation count of phase i (0 where not counted). */
BFCR_API double bfcr_ctx_phase_flops(const bfcr_ctx *ctx, int i);
/* 1 when phase i's flop count includes an estimate (LAPACK eigensolvers and least
 * squares, whose work depends on the data; formulas in docs/regression.md), 0 when
 * every operation is counted. */
BFCR_API int bfcr_ctx_phase_flops_estimated(const bfcr_ctx *ctx, int i);
BFCR_API void bfcr_ctx_reset_phases(bfcr_ctx *ctx);
/* The nearest-neighbour method choices of the calls since the last reset, one line each
 * ("level 0: kd-tree (probe: ...)"), reset with the phases. Not Collective. */
BFCR_API int bfcr_ctx_num_nn_notes(const bfcr_ctx *ctx);
BFCR_API const char *bfcr_ctx_nn_note(const bfcr_ctx *ctx, int i);
/* Levels of the last tree build (since the last reset) whose summaries were kept
 * distributed: 0 on one process; with several ranks 1 (level 0, each rank's own rows)
 * plus the levels >= 1 held in chunks (docs/distributed.md). Not collective. */
BFCR_API int bfcr_ctx_distributed_levels(const bfcr_ctx *ctx);

#ifdef __cplusplus
}
#endif
#endif
