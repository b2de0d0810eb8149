/* The kd-tree walks (kdtree_walk.h) in plain C: any CPU, any dimension. */
#define KD_AVX2 0
#define KD_FN(name) name##_plain
#include "knn/kdtree_walk.h"

const bfcr_kd_walks *bfcr_kd_walks_plain(void) {
  return &kd_walks_plain;
}
