/* Internal layout of a fitted model: everything predict needs, and everything the
 * model file stores (lib/io/model_file.c serializes exactly these fields). */
#ifndef BFCR_MODEL_IMPL_H
#define BFCR_MODEL_IMPL_H

#include <stdint.h>
#include "core/ctx.h"
#include "io/schema.h"

/* Flags of a cluster model. */
enum {
  BFCR_CM_FALLBACK = 1, /* too small: the model of an ancestor is used (small=ancestor) */
  BFCR_CM_RANKDEF = 2   /* OLS: numerical rank < d */
};

typedef struct bfcr_cluster_model {
  int64_t size;      /* training rows in the cluster */
  double intercept;  /* y = intercept + sum_j w[j] * z[j], z = standardized features */
  double lambda;     /* ridge penalty (absolute, scatter units); 0 for OLS */
  double gcv;        /* GCV score of the chosen lambda (NaN for OLS) */
  int32_t rank;      /* numerical rank (OLS) or d (ridge) */
  int32_t flags;     /* BFCR_CM_* */
  int32_t src_level; /* level of the node whose model is used (== chosen level unless fallback) */
  int32_t pad;
  int64_t src_node;  /* index of that node within its level */
} bfcr_cluster_model;

struct bfcr_model {
  bfcr_fit_params params;   /* as used, with automatic values resolved */
  bfcr_schema *schema;
  int d;
  double *mean, *scale;     /* [d] standardization: z = (x - mean) / scale */
  int nlevels;              /* levels including 0 (samples) */
  bfcr_level_info *levels;  /* [nlevels] */
  int chosen;               /* chosen level */
  int64_t k;                /* clusters at the chosen level */
  double *centroids;        /* [k * d] standardized */
  bfcr_cluster_model *cm;   /* [k] */
  double *w;                /* [k * d] standardized coefficients */
  int64_t n_train;          /* routing = sample: training rows kept */
  double *train_z;          /* [n_train * d] standardized training rows, or NULL */
  int64_t *train_label;     /* [n_train] cluster of each kept row, or NULL */
  double train_rmse;        /* in-sample scores: every training row predicted by the model */
  double train_mae;         /* of its own cluster (what predict gives on the training rows */
  double train_r2;          /* when routing = sample) */
};

void bfcr_model_free(bfcr_model *m);

#endif
