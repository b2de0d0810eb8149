#ifndef BFCR_STATUS_H
#define BFCR_STATUS_H
#include "bfcr/export.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Status codes. Pinned: values never change between versions. */
typedef enum bfcr_status {
  BFCR_OK = 0,
  BFCR_ERR_ARG = 1,      /* invalid argument or parameter (caller's mistake) */
  BFCR_ERR_INPUT = 2,    /* bad input data: CSV syntax, NaN, schema mismatch */
  BFCR_ERR_NUMERIC = 3,  /* numerical failure (LAPACK info != 0, non-finite result) */
  BFCR_ERR_IO = 4,       /* file system error: open, read, write, rename */
  BFCR_ERR_FORMAT = 5,   /* model file corrupt, truncated or of another version */
  BFCR_ERR_NOMEM = 6,    /* allocation failed or a size limit was exceeded */
  BFCR_ERR_MPI = 7,      /* an MPI call failed or another rank reported an error */
  BFCR_ERR_INTERNAL = 8  /* a bug in bfcr */
} bfcr_status;

/* Stable name of a status ("BFCR_ERR_INPUT"). Not Collective. */
BFCR_API const char *bfcr_status_name(bfcr_status s);

#ifdef __cplusplus
}
#endif
#endif
