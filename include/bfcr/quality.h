#ifndef BFCR_QUALITY_H
#define BFCR_QUALITY_H
#include <stdint.h>
#include "bfcr/export.h"
#include "bfcr/status.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Agreement of two partitions of the same n items: adjusted mutual information (Vinh,
 * Epps & Bailey, JMLR 2010), the expected mutual information taken under the
 * hypergeometric model of random partitions with the same cluster sizes:
 *
 *   AMI = (MI - E[MI]) / (norm(H(a), H(b)) - E[MI])
 *
 * 1 for identical partitions (whatever the label values), about 0 for independent ones,
 * negative when they agree less than chance. Entropies in nats (the ratio does not
 * depend on the base). The four usual normalisations are all returned; scikit-learn's
 * adjusted_mutual_info_score defaults to the arithmetic mean, Vinh et al. recommend
 * the max. Labels are any int64 values; only equality matters. */
typedef struct bfcr_ami_result {
  int64_t n;             /* items */
  int64_t classes_a;     /* distinct labels in a */
  int64_t classes_b;     /* distinct labels in b */
  double mi;             /* mutual information */
  double emi;            /* its expectation under the hypergeometric model */
  double h_a, h_b;       /* entropies of a and of b */
  double ami_arithmetic; /* normaliser (H(a) + H(b)) / 2: scikit-learn's default */
  double ami_max;        /* normaliser max(H(a), H(b)): Vinh et al.'s AMI_max */
  double ami_geometric;  /* normaliser sqrt(H(a) H(b)) */
  double ami_min;        /* normaliser min(H(a), H(b)) */
} bfcr_ami_result;

/* AMI with the arithmetic-mean normaliser (scikit-learn's default) of labels a[0..n-1]
 * and b[0..n-1]. Identical partitions give exactly 1 (also when every item is alone or
 * all are together, where the formula is 0/0). A normaliser equal to E[MI] otherwise
 * (possible only with the min normaliser, where MI = E[MI] for every permutation)
 * gives 0; scikit-learn divides rounding noise by epsilon there.
 * Cost: O(n log n) to tabulate, plus the expectation over pairs of distinct cluster
 * sizes (at most sqrt(2n) of each), O(n) memory. Deterministic (fixed summation order).
 * Returns BFCR_ERR_ARG for NULL pointers or n < 1, BFCR_ERR_NOMEM when out of memory
 * (*ami untouched then). Not Collective. */
BFCR_API bfcr_status bfcr_ami(const int64_t *a, const int64_t *b, int64_t n, double *ami);

/* The same computation, every part and every normaliser. Same errors. Not Collective. */
BFCR_API bfcr_status bfcr_ami_detail(const int64_t *a, const int64_t *b, int64_t n,
                                     bfcr_ami_result *result);

#ifdef __cplusplus
}
#endif
#endif
