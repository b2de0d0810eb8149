/* bfcr: best-friend-clustering regression (Li, Yuan, Zhang, Chen, IEEE TPDS 2022),
 * exact and reproducible, parallel with OpenMP threads and MPI ranks.
 *
 * Umbrella header: include this one. Conventions:
 * - Every object lives on a context created on an MPI communicator; "Collective"
 *   functions must be called by every rank of that communicator, in the same order.
 * - Every fallible call returns a bfcr_status; the message (with file:line:column
 *   when an input is at fault) is kept in the context: bfcr_ctx_errmsg().
 *   Collective calls agree on the status across ranks before returning.
 * - Objects are destroyed through their address (NULL-safe; the pointer is cleared).
 * - Results do not depend on the number of ranks or threads: see docs/determinism.md.
 */
#ifndef BFCR_BFCR_H
#define BFCR_BFCR_H

#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "bfcr/export.h"
#include "bfcr/status.h"
#include "bfcr/context.h"
#include "bfcr/data.h"
#include "bfcr/model.h"
#include "bfcr/io.h"
#include "bfcr/synth.h"
#include "bfcr/quality.h"

#endif
