/* Coarse boundary queries and round 1's bits (query_coarse.h). */
#include <float.h>
#include <math.h>
#include <string.h>

#include "knn/query_coarse.h"

static uint32_t qc_bits(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  return u;
}

/* Exact: |z - x| <= sqrt(b (1 + m)) (rounding of bfcr_dist2, m = 4 (d + 8) u), |zc - x| <=
 * that + |z - zc| (computed from the coarse values themselves), and bfcr_dist2(zc, x) <=
 * |zc - x|^2 (1 + m); 1e-300 covers underflow. Coordinates beyond the float range send
 * zeros and an infinite bound (always flagged). */
void bfcr_query_coarse(const double *z, double b, int d, unsigned char *c) {
  const double m = 4.0 * (d + 8) * DBL_EPSILON;
  double dz2 = 0.0;
  int ok = 1;
  for (int k = 0; k < d; k++) {
    if (!(fabs(z[k]) <= FLT_MAX)) ok = 0;
    const uint32_t u = ok ? qc_bits((float)z[k]) >> 8 : 0; /* toward zero: stays finite */
    c[3 * k] = (unsigned char)u, c[3 * k + 1] = (unsigned char)(u >> 8);
    c[3 * k + 2] = (unsigned char)(u >> 16);
    float f;
    const uint32_t w = u << 8;
    memcpy(&f, &w, sizeof f);
    const double e = z[k] - (double)f;
    dz2 += e * e;
  }
  double B = (sqrt(b * (1.0 + m) + 1e-300) + sqrt(dz2 * (1.0 + m) + 1e-300)) * (1.0 + m);
  B = B * B * (1.0 + m) + 1e-300;
  float fb = INFINITY;
  if (!ok || !(B <= FLT_MAX)) {
    memset(c, 0, (size_t)3 * d);
  } else {
    fb = (float)B;
    if ((double)fb < B) fb = nextafterf(fb, INFINITY);
  }
  memcpy(c + 3 * d, &fb, sizeof fb);
}

void bfcr_query_uncoarse(const unsigned char *c, int d, double *q, double *b) {
  for (int k = 0; k < d; k++) {
    const uint32_t w =
        ((uint32_t)c[3 * k] | (uint32_t)c[3 * k + 1] << 8 | (uint32_t)c[3 * k + 2] << 16) << 8;
    float f;
    memcpy(&f, &w, sizeof f);
    q[k] = (double)f;
  }
  float fb;
  memcpy(&fb, c + 3 * d, sizeof fb);
  *b = (double)fb;
}

int64_t bfcr_qc_layout(int P, const int *cnt, int *bytes, int *dis) {
  int64_t o = 0;
  for (int p = 0; p < P; p++) {
    bytes[p] = (cnt[p] + 7) / 8;
    dis[p] = (int)o;
    o += bytes[p];
  }
  return o;
}

int64_t bfcr_qc_mark(int P, int *cnt, int *dis, const int64_t *nn, const int *bdis,
                     unsigned char *bits) {
  int64_t total = 0;
  for (int p = 0; p < P; p++) {
    memset(bits + bdis[p], 0, (size_t)(cnt[p] + 7) / 8);
    int c = 0;
    for (int i = 0; i < cnt[p]; i++) {
      if (nn[(int64_t)dis[p] + i] < 0) continue;
      bits[bdis[p] + i / 8] |= (unsigned char)(1u << (i % 8));
      c++;
    }
    cnt[p] = c;
    dis[p] = (int)total;
    total += c;
  }
  return total;
}

int64_t bfcr_qc_keep(int P, int *cnt, int *dis, const unsigned char *bits, const int *bdis,
                     double *rows, int stride, int64_t *tag) {
  int64_t total = 0;
  for (int p = 0; p < P; p++) {
    int c = 0;
    for (int i = 0; i < cnt[p]; i++) {
      if (!(bits[bdis[p] + i / 8] >> (i % 8) & 1u)) continue;
      /* forward: the slot never passes the source */
      const int64_t from = (int64_t)dis[p] + i, to = total + c;
      if (to != from) {
        memmove(rows + to * stride, rows + from * stride, (size_t)stride * sizeof(double));
        tag[to] = tag[from];
      }
      c++;
    }
    cnt[p] = c;
    dis[p] = (int)total;
    total += c;
  }
  return total;
}
