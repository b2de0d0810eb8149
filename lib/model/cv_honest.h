/* Honest (nested) check of the cross-validated ridge pick against the global model
 * (cv_honest.c). */
#ifndef BFCR_MODEL_CV_HONEST_H
#define BFCR_MODEL_CV_HONEST_H

#include "core/zsrc.h"
#include "model/model_impl.h"
#include "tree/tree.h"

/* Budget: the check runs when n x K x repeats <= this many rows (the fold trees and level
 * fits cost about K x repeats tree builds over (K - 1) / K of the rows, so about as much as
 * that many criterion fits of the training part). */
#ifndef BFCR_CV_HONEST_MAX_ROWS
#define BFCR_CV_HONEST_MAX_ROWS 100000
#endif
/* Fold splits averaged (fold seeds seed, seed + 1, ...). */
#ifndef BFCR_CV_HONEST_REPEATS
#define BFCR_CV_HONEST_REPEATS 1
#endif

#ifndef BFCR_CV_HONEST_FOLD_SE
#define BFCR_CV_HONEST_FOLD_SE 0
#endif
#define BFCR_CV_HONEST_MAXK 64

/* After the ridge CV (m->chosen, m->shrink_lambda, m->cv_folds set): when the pick is a
 * level below the top and n is within the budget, refit the whole procedure per fold from
 * the training part only (its own tree, its own ridge models and penalties at every
 * level from the matched one up), route each held-out row as predict would (nearest
 * training row of the fold), predict it at the fold tree's level below its top whose
 * cluster count is nearest the pick's (log scale; ties to fewer clusters) with the pick's
 * shrinkage lambda, guarded as predict guards, and the same row with the fold's global
 * ridge model. Also keeps a fold-level SE (sd of the fold means / sqrt(folds)) for the
 * log; BFCR_CV_HONEST_FOLD_SE 1 decides by it instead (measured, not the default). The pick is kept
 * only when its mean paired squared-error difference to the global model is below minus its
 * standard error (the levels' one-SE rule), else m->chosen = top and m->shrink_lambda = 0. Writes
 * m->hcv_*. zs, y: local rows (target units). Collective with several ranks (the rows are gathered
 * on every rank and each rank runs the same replicated computation); status agreed. */
bfcr_status bfcr_cv_honest(bfcr_ctx *ctx, const bfcr_tree *t, const bfcr_zsrc *zs, const double *y,
                           int64_t n_local, const bfcr_fit_params *p, bfcr_model *m);

#endif
