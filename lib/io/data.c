/* bfcr_data from caller arrays (copied, validated), destruction and accessors. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "io/schema.h"

void bfcr_data_destroy(bfcr_data **data) {
  if (!data || !*data) return;
  bfcr_data *d = *data;
  free(d->X);
  free(d->y);
  free(d->line);
  free(d->path);
  bfcr_schema_free(d->schema);
  free(d);
  *data = NULL;
}

/* "NaN", "inf", "-inf": the spellings users (and numpy) know, whatever the C library prints. */
static const char *nonfinite_name(double v) {
  return isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf";
}

/* Local checks of the arguments and values; sets the error on ctx. */
static bfcr_status check_arrays(bfcr_ctx *ctx, int64_t n_local, int d, const double *X,
                                const double *y, const char *const *names, int64_t offset) {
  if (n_local < 0)
    return bfcr_err(ctx, BFCR_ERR_ARG, "n_local is %lld, expected >= 0", (long long)n_local);
  if (d < 1) return bfcr_err(ctx, BFCR_ERR_ARG, "d is %d, expected at least one feature", d);
  if (n_local > 0 && !X)
    return bfcr_err(ctx, BFCR_ERR_ARG, "X is NULL with %lld rows", (long long)n_local);
  if (names) {
    for (int j = 0; j < d; j++) {
      if (!names[j] || !names[j][0])
        return bfcr_err(ctx, BFCR_ERR_ARG, "feature name %d is empty, expected a name", j + 1);
      for (int k = 0; k < j; k++)
        if (strcmp(names[j], names[k]) == 0)
          return bfcr_err(ctx, BFCR_ERR_ARG, "feature name %d \"%s\" repeats name %d", j + 1,
                          names[j], k + 1);
      if (y && strcmp(names[j], "y") == 0)
        return bfcr_err(ctx, BFCR_ERR_ARG,
                        "feature name %d is \"y\", which names the target; expected another",
                        j + 1);
    }
  }
  for (int64_t i = 0; i < n_local; i++) {
    const double *row = X + i * d;
    for (int j = 0; j < d; j++)
      if (!isfinite(row[j]))
        return bfcr_err(ctx, BFCR_ERR_INPUT,
                        "row %lld, column %d: expected a finite value, found %s",
                        (long long)(offset + i + 1), j + 1, nonfinite_name(row[j]));
    if (y && !isfinite(y[i]))
      return bfcr_err(ctx, BFCR_ERR_INPUT, "row %lld, target: expected a finite value, found %s",
                      (long long)(offset + i + 1), nonfinite_name(y[i]));
  }
  return BFCR_OK;
}

bfcr_status bfcr_data_from_arrays(bfcr_ctx *ctx, int64_t n_local, int d, const double *X,
                                  const double *y, const char *const *feature_names,
                                  bfcr_data **out) {
  if (!ctx) return BFCR_ERR_ARG;
  bfcr_status st = BFCR_OK;
  bfcr_data *data = NULL;
  if (out) *out = NULL;
  /* Collective facts first, so every rank takes the same path. */
  long long mine[3] = {n_local < 0 ? 0 : n_local, d, y != NULL};
  long long lo[3], hi[3], offset = 0, total = 0;
  int mpi_ok = MPI_Allreduce(mine, lo, 3, MPI_LONG_LONG, MPI_MIN, ctx->comm) == MPI_SUCCESS &&
               MPI_Allreduce(mine, hi, 3, MPI_LONG_LONG, MPI_MAX, ctx->comm) == MPI_SUCCESS &&
               MPI_Exscan(&mine[0], &offset, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) == MPI_SUCCESS &&
               MPI_Allreduce(&mine[0], &total, 1, MPI_LONG_LONG, MPI_SUM, ctx->comm) == MPI_SUCCESS;
  if (!mpi_ok) {
    st = bfcr_err(ctx, BFCR_ERR_MPI, "MPI collective failed in bfcr_data_from_arrays");
    goto cleanup;
  }
  if (ctx->rank == 0) offset = 0; /* MPI_Exscan leaves rank 0's result undefined */
  if (!out) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "out is NULL");
    goto cleanup;
  }
  if (lo[1] != hi[1]) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "ranks disagree on d (%lld to %lld)", lo[1], hi[1]);
    goto cleanup;
  }
  if (lo[2] != hi[2]) {
    st = bfcr_err(ctx, BFCR_ERR_ARG, "some ranks pass y and others do not");
    goto cleanup;
  }
  BFCR_CALL(check_arrays(ctx, n_local, d, X, y, feature_names, offset));
  BFCR_CALLOC(ctx, data, 1);
  data->n_local = n_local;
  data->n_global = total;
  data->offset = offset;
  data->d = d;
  if (n_local > 0) {
    BFCR_ALLOC(ctx, data->X, (size_t)n_local * (size_t)d);
    memcpy(data->X, X, (size_t)n_local * (size_t)d * sizeof(double));
    if (y) {
      BFCR_ALLOC(ctx, data->y, n_local);
      memcpy(data->y, y, (size_t)n_local * sizeof(double));
    }
  } else if (y) {
    /* A rank with no rows still reports that the data has a target. */
    BFCR_ALLOC(ctx, data->y, 1);
  }
  data->schema = bfcr_schema_numeric(ctx, d, feature_names);
  if (!data->schema) {
    st = ctx->err != BFCR_OK ? ctx->err : BFCR_ERR_NOMEM;
    goto cleanup;
  }
  if (y && bfcr_schema_add_target(ctx, data->schema, "y") != 0) {
    st = BFCR_ERR_NOMEM;
    goto cleanup;
  }
cleanup:
  st = bfcr_agree(ctx, st);
  if (st != BFCR_OK) {
    bfcr_data_destroy(&data);
    return st;
  }
  *out = data;
  return BFCR_OK;
}

int64_t bfcr_data_local_rows(const bfcr_data *data) {
  return data ? data->n_local : 0;
}
int64_t bfcr_data_global_rows(const bfcr_data *data) {
  return data ? data->n_global : 0;
}
int64_t bfcr_data_row_offset(const bfcr_data *data) {
  return data ? data->offset : 0;
}
int bfcr_data_features(const bfcr_data *data) {
  return data ? data->d : 0;
}
const double *bfcr_data_X(const bfcr_data *data) {
  return data ? data->X : NULL;
}
const double *bfcr_data_y(const bfcr_data *data) {
  return data ? data->y : NULL;
}
const bfcr_schema *bfcr_data_schema(const bfcr_data *data) {
  return data ? data->schema : NULL;
}
