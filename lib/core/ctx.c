/* Context lifecycle, errors, logging, phase timers and the status agreement that keeps
 * every collective call from returning on one rank alone. */
#include "core/ctx.h"

#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *bfcr_status_name(bfcr_status s) {
  switch (s) {
    case BFCR_OK: return "BFCR_OK";
    case BFCR_ERR_ARG: return "BFCR_ERR_ARG";
    case BFCR_ERR_INPUT: return "BFCR_ERR_INPUT";
    case BFCR_ERR_NUMERIC: return "BFCR_ERR_NUMERIC";
    case BFCR_ERR_IO: return "BFCR_ERR_IO";
    case BFCR_ERR_FORMAT: return "BFCR_ERR_FORMAT";
    case BFCR_ERR_NOMEM: return "BFCR_ERR_NOMEM";
    case BFCR_ERR_MPI: return "BFCR_ERR_MPI";
    case BFCR_ERR_INTERNAL: return "BFCR_ERR_INTERNAL";
  }
  return "BFCR_ERR_UNKNOWN";
}

bfcr_status bfcr_ctx_create(MPI_Comm comm, bfcr_ctx **out) {
  if (!out) return BFCR_ERR_ARG;
  *out = NULL;
  int inited = 0;
  MPI_Initialized(&inited);
  if (!inited) return BFCR_ERR_MPI;
  bfcr_ctx *ctx = calloc(1, sizeof(*ctx));
  if (!ctx) return BFCR_ERR_NOMEM;
  if (MPI_Comm_dup(comm, &ctx->comm) != MPI_SUCCESS) {
    free(ctx);
    return BFCR_ERR_MPI;
  }
  /* Errors inside bfcr's own communicator come back as codes, never abort silently. */
  MPI_Comm_set_errhandler(ctx->comm, MPI_ERRORS_RETURN);
  MPI_Comm_rank(ctx->comm, &ctx->rank);
  MPI_Comm_size(ctx->comm, &ctx->size);
  ctx->nthreads = 1;
  ctx->log_level = BFCR_LOG_WARN;
  *out = ctx;
  return BFCR_OK;
}

void bfcr_ctx_destroy(bfcr_ctx **ctx) {
  if (!ctx || !*ctx) return;
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Comm_free(&(*ctx)->comm);
  free(*ctx);
  *ctx = NULL;
}

bfcr_status bfcr_ctx_set_threads(bfcr_ctx *ctx, int nthreads) {
  if (!ctx) return BFCR_ERR_ARG;
  if (nthreads < 0 || nthreads > 4096)
    return bfcr_err(ctx, BFCR_ERR_ARG, "thread count %d out of range 0..4096", nthreads);
  ctx->nthreads = nthreads == 0 ? omp_get_max_threads() : nthreads;
  return BFCR_OK;
}

int bfcr_ctx_threads(const bfcr_ctx *ctx) { return ctx ? ctx->nthreads : 1; }

void bfcr_ctx_set_log(bfcr_ctx *ctx, bfcr_log_fn fn, void *user, bfcr_log_level max_level) {
  if (!ctx) return;
  ctx->log_fn = fn;
  ctx->log_user = user;
  ctx->log_level = max_level;
}

void bfcr_ctx_set_progress(bfcr_ctx *ctx, bfcr_progress_fn fn, void *user) {
  if (!ctx) return;
  ctx->progress_fn = fn;
  ctx->progress_user = user;
}

int bfcr_ctx_rank(const bfcr_ctx *ctx) { return ctx ? ctx->rank : 0; }
int bfcr_ctx_size(const bfcr_ctx *ctx) { return ctx ? ctx->size : 1; }
MPI_Comm bfcr_ctx_comm(const bfcr_ctx *ctx) { return ctx ? ctx->comm : MPI_COMM_NULL; }
bfcr_status bfcr_ctx_errcode(const bfcr_ctx *ctx) { return ctx ? ctx->err : BFCR_ERR_ARG; }
const char *bfcr_ctx_errmsg(const bfcr_ctx *ctx) { return ctx ? ctx->errmsg : "no context"; }

void bfcr_ctx_clear_error(bfcr_ctx *ctx) {
  if (!ctx) return;
  ctx->err = BFCR_OK;
  ctx->errmsg[0] = '\0';
}

static bfcr_status set_errv(bfcr_ctx *ctx, bfcr_status code, const char *prefix,
                            const char *fmt, va_list ap) {
  if (!ctx) return code;
  ctx->err = code;
  size_t used = 0;
  if (prefix) {
    int n = snprintf(ctx->errmsg, sizeof ctx->errmsg, "%s", prefix);
    used = n < 0 ? 0 : (size_t)n < sizeof ctx->errmsg ? (size_t)n : sizeof ctx->errmsg - 1;
  }
  vsnprintf(ctx->errmsg + used, sizeof ctx->errmsg - used, fmt, ap);
  return code;
}

bfcr_status bfcr_err(bfcr_ctx *ctx, bfcr_status code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  set_errv(ctx, code, NULL, fmt, ap);
  va_end(ap);
  return code;
}

bfcr_status bfcr_err_at(bfcr_ctx *ctx, bfcr_status code, const char *path, int64_t line,
                        int64_t col, const char *fmt, ...) {
  char prefix[512];
  if (line > 0 && col > 0)
    snprintf(prefix, sizeof prefix, "%s:%lld:%lld: ", path, (long long)line, (long long)col);
  else if (line > 0)
    snprintf(prefix, sizeof prefix, "%s:%lld: ", path, (long long)line);
  else
    snprintf(prefix, sizeof prefix, "%s: ", path);
  va_list ap;
  va_start(ap, fmt);
  set_errv(ctx, code, prefix, fmt, ap);
  va_end(ap);
  return code;
}

void bfcr_log(const bfcr_ctx *ctx, bfcr_log_level level, const char *fmt, ...) {
  if (!ctx || !ctx->log_fn || level > ctx->log_level) return;
  char msg[BFCR_ERRMSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  ctx->log_fn(ctx->log_user, level, msg);
}

void bfcr_progress(const bfcr_ctx *ctx, const char *phase, int64_t done, int64_t total) {
  if (ctx && ctx->progress_fn && ctx->rank == 0) ctx->progress_fn(ctx->progress_user, phase, done, total);
}

bfcr_status bfcr_agree(bfcr_ctx *ctx, bfcr_status local) {
  int mine = local == BFCR_OK ? ctx->size : ctx->rank;
  int first = ctx->size;
  if (MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, ctx->comm) != MPI_SUCCESS)
    return bfcr_err(ctx, BFCR_ERR_MPI, "MPI_Allreduce failed while agreeing on a status");
  if (first == ctx->size) return BFCR_OK;
  int code = (int)local;
  MPI_Bcast(&code, 1, MPI_INT, first, ctx->comm);
  MPI_Bcast(ctx->errmsg, BFCR_ERRMSG_MAX, MPI_CHAR, first, ctx->comm);
  ctx->errmsg[BFCR_ERRMSG_MAX - 1] = '\0';
  ctx->err = (bfcr_status)code;
  return ctx->err;
}

double bfcr_wtime(void) { return MPI_Wtime(); }

void bfcr_phase_add(bfcr_ctx *ctx, const char *name, double seconds, double flops) {
  if (!ctx) return;
  for (int i = 0; i < ctx->nphases; i++) {
    if (strcmp(ctx->phase_name[i], name) == 0) {
      ctx->phase_sec[i] += seconds;
      ctx->phase_flops[i] += flops;
      return;
    }
  }
  if (ctx->nphases == BFCR_MAX_PHASES) return;
  int i = ctx->nphases++;
  snprintf(ctx->phase_name[i], sizeof ctx->phase_name[i], "%s", name);
  ctx->phase_sec[i] = seconds;
  ctx->phase_flops[i] = flops;
  ctx->phase_est[i] = 0;
}

void bfcr_phase_add_est(bfcr_ctx *ctx, const char *name, double seconds, double flops) {
  bfcr_phase_add(ctx, name, seconds, flops);
  for (int i = 0; ctx && i < ctx->nphases; i++)
    if (strcmp(ctx->phase_name[i], name) == 0) ctx->phase_est[i] = 1;
}

int bfcr_ctx_num_phases(const bfcr_ctx *ctx) { return ctx ? ctx->nphases : 0; }
const char *bfcr_ctx_phase_name(const bfcr_ctx *ctx, int i) {
  return ctx && i >= 0 && i < ctx->nphases ? ctx->phase_name[i] : NULL;
}
double bfcr_ctx_phase_seconds(const bfcr_ctx *ctx, int i) {
  return ctx && i >= 0 && i < ctx->nphases ? ctx->phase_sec[i] : 0.0;
}
double bfcr_ctx_phase_flops(const bfcr_ctx *ctx, int i) {
  return ctx && i >= 0 && i < ctx->nphases ? ctx->phase_flops[i] : 0.0;
}
int bfcr_ctx_phase_flops_estimated(const bfcr_ctx *ctx, int i) {
  return ctx && i >= 0 && i < ctx->nphases ? ctx->phase_est[i] : 0;
}
void bfcr_ctx_reset_phases(bfcr_ctx *ctx) {
  if (ctx) ctx->nphases = 0;
  if (ctx) ctx->nn_nnotes = 0;
  if (ctx) ctx->dist_levels = 0;
}

int bfcr_ctx_distributed_levels(const bfcr_ctx *ctx) {
  return ctx ? ctx->dist_levels : 0;
}

int bfcr_ctx_num_nn_notes(const bfcr_ctx *ctx) {
  return ctx ? ctx->nn_nnotes : 0;
}
const char *bfcr_ctx_nn_note(const bfcr_ctx *ctx, int i) {
  return ctx && i >= 0 && i < ctx->nn_nnotes ? ctx->nn_note[i] : NULL;
}

void bfcr_nn_note(bfcr_ctx *ctx, const char *where, const char *what) {
  if (!ctx || ctx->nn_nnotes >= BFCR_MAX_NN_NOTES) return;
  const size_t wl = strlen(where);
  for (int i = 0; i < ctx->nn_nnotes; i++) {
    if (!strncmp(ctx->nn_note[i], where, wl) && ctx->nn_note[i][wl] == ':') return;
  }
  snprintf(ctx->nn_note[ctx->nn_nnotes++], sizeof ctx->nn_note[0], "%s: %s", where, what);
}

void *bfcr_malloc(bfcr_ctx *ctx, size_t n, size_t size) {
  if (n == 0 || size == 0) return NULL;
  if (n > SIZE_MAX / size) {
    bfcr_err(ctx, BFCR_ERR_NOMEM, "allocation of %zu x %zu bytes overflows", n, size);
    return NULL;
  }
  void *p = malloc(n * size);
  if (!p) bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory allocating %zu bytes", n * size);
  return p;
}

void *bfcr_calloc(bfcr_ctx *ctx, size_t n, size_t size) {
  if (n == 0 || size == 0) return NULL;
  void *p = calloc(n, size);
  if (!p) bfcr_err(ctx, BFCR_ERR_NOMEM, "out of memory allocating %zu x %zu bytes", n, size);
  return p;
}
