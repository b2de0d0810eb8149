/* Weakly connected components of a best-friend graph (every item has one out-edge).
 *
 * Union-find where the root of a set is always its smallest item (union links the larger
 * root under the smaller), with path halving: O(m alpha(m)). Components are then
 * numbered in order of their smallest item, a canonical order that does not depend on
 * how the graph was computed. */
#include "tree/tree.h"

static int64_t find(int64_t *up, int64_t i) {
  while (up[i] != i) {
    up[i] = up[up[i]];
    i = up[i];
  }
  return i;
}

int64_t bfcr_components(const int64_t *bf, int64_t m, int64_t *comp, int64_t *up) {
  for (int64_t i = 0; i < m; i++) up[i] = i;
  for (int64_t i = 0; i < m; i++) {
    int64_t a = find(up, i), b = find(up, bf[i]);
    if (a < b)
      up[b] = a;
    else if (b < a)
      up[a] = b;
  }
  int64_t k = 0;
  for (int64_t i = 0; i < m; i++) {
    int64_t r = find(up, i);
    if (r == i)
      comp[i] = k++;
    else
      comp[i] = comp[r]; /* r < i, already numbered */
  }
  return k;
}

void bfcr_ns_merge(int d, const double *a, const double *b, double *out) {
  double na = a[BFCR_NS_N], nb = b[BFCR_NS_N], n = na + nb;
  double f = nb / n, g = na * nb / n, dd = 0.0;
  for (int k = 0; k < d; k++) {
    double delta = b[BFCR_NS_MEAN + k] - a[BFCR_NS_MEAN + k];
    out[BFCR_NS_MEAN + k] = a[BFCR_NS_MEAN + k] + f * delta;
    dd += delta * delta;
  }
  out[BFCR_NS_N] = n;
  out[bfcr_ns_sse(d)] = a[bfcr_ns_sse(d)] + b[bfcr_ns_sse(d)] + g * dd;
  double dy = b[bfcr_ns_y(d)] - a[bfcr_ns_y(d)];
  out[bfcr_ns_y(d)] = a[bfcr_ns_y(d)] + f * dy;
  out[bfcr_ns_edge(d)] = a[bfcr_ns_edge(d)] + b[bfcr_ns_edge(d)];
}
