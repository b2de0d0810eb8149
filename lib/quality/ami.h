/* Internal pieces of the adjusted mutual information (public entry points in
 * bfcr/quality.h), exposed for the unit tests and for callers that already hold the
 * cluster sizes. */
#ifndef BFCR_QUALITY_AMI_H
#define BFCR_QUALITY_AMI_H
#include <stdint.h>
#include "bfcr/bfcr.h"

/* Expected mutual information (nats) of two random partitions of n items whose
 * cluster sizes are sizes_a[0..ka-1] and sizes_b[0..kb-1] (each list summing to n,
 * sizes >= 1, in any order), under the hypergeometric model (Vinh et al. 2010, eq. 24a).
 * Returns BFCR_ERR_ARG when the sizes are not a partition of n, BFCR_ERR_NOMEM. */
bfcr_status bfcr_ami_expected_mi(const int64_t *sizes_a, int64_t ka, const int64_t *sizes_b,
                                 int64_t kb, int64_t n, double *emi);

#endif
