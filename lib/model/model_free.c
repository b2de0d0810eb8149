/* Release a model and everything it owns. Also used by the model loader on a
 * partially decoded model, so every pointer may be NULL. */
#include <stdlib.h>

#include "model/model_impl.h"
#include "model/route_cache.h"

void bfcr_model_free(bfcr_model *m) {
  if (!m) return;
  bfcr_route_cache_free(atomic_load(&m->route));
  bfcr_schema_free(m->schema);
  free(m->mean);
  free(m->scale);
  free(m->levels);
  free(m->centroids);
  free(m->cm);
  free(m->w);
  free(m->train_z);
  free(m->train_label);
  free(m->kp);
  free(m->kcenter);
  free(m->krows);
  free(m->kcoef);
  free(m->train_piece);
  free(m->guard_range);
  free(m->guard_lev);
  free(m->guard_w);
  free(m->cv_rmse);
  free(m->shrink_grid);
  free(m->shrink_rmse);
  free(m->shrink_dmse);
  free(m->shrink_dse);
  free(m->kcv_state);
  free(m->kcv_cost);
  free(m->kcv_rmse);
  free(m->kcv_dmse);
  free(m->kcv_dse);
  free(m->scv_rmse);
  free(m->scv_dmse);
  free(m->scv_dse);
  free(m->scv_lambda);
  free(m->cv_se);
  free(m);
}
