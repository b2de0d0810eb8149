/* The kd-tree walks (kdtree_walk.h) compiled for AVX2: one instance per dimension
 * 1..16 (the most common widths) with the dimension a compile-time
 * constant, so coordinate loops unroll, and one for wider trees. Only used when the CPU
 * has AVX2 and FMA (t->avx2, checked when the tree is built). */
#include "knn/kdtree_impl.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC target("avx2,fma")
#endif
#define KD_AVX2 1
#define KD_CAT2(a, b) a##b
#define KD_CAT(a, b) KD_CAT2(a, b)
#define KD_FN(name) KD_CAT(name, KD_SUFFIX)
#define KD_DIM 1
#define KD_SUFFIX _avx2_d1
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 2
#define KD_SUFFIX _avx2_d2
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 3
#define KD_SUFFIX _avx2_d3
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 4
#define KD_SUFFIX _avx2_d4
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 5
#define KD_SUFFIX _avx2_d5
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 6
#define KD_SUFFIX _avx2_d6
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 7
#define KD_SUFFIX _avx2_d7
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 8
#define KD_SUFFIX _avx2_d8
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 9
#define KD_SUFFIX _avx2_d9
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 10
#define KD_SUFFIX _avx2_d10
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 11
#define KD_SUFFIX _avx2_d11
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 12
#define KD_SUFFIX _avx2_d12
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 13
#define KD_SUFFIX _avx2_d13
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 14
#define KD_SUFFIX _avx2_d14
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 15
#define KD_SUFFIX _avx2_d15
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_DIM 16
#define KD_SUFFIX _avx2_d16
#include "knn/kdtree_walk.h"
#undef KD_DIM
#undef KD_SUFFIX

#define KD_SUFFIX _avx2_dn
#include "knn/kdtree_walk.h"
#undef KD_SUFFIX

const bfcr_kd_walks *bfcr_kd_walks_avx2(int d) {
  switch (d) {
    case 1:
      return &kd_walks_avx2_d1;
    case 2:
      return &kd_walks_avx2_d2;
    case 3:
      return &kd_walks_avx2_d3;
    case 4:
      return &kd_walks_avx2_d4;
    case 5:
      return &kd_walks_avx2_d5;
    case 6:
      return &kd_walks_avx2_d6;
    case 7:
      return &kd_walks_avx2_d7;
    case 8:
      return &kd_walks_avx2_d8;
    case 9:
      return &kd_walks_avx2_d9;
    case 10:
      return &kd_walks_avx2_d10;
    case 11:
      return &kd_walks_avx2_d11;
    case 12:
      return &kd_walks_avx2_d12;
    case 13:
      return &kd_walks_avx2_d13;
    case 14:
      return &kd_walks_avx2_d14;
    case 15:
      return &kd_walks_avx2_d15;
    case 16:
      return &kd_walks_avx2_d16;
    default:
      return &kd_walks_avx2_dn;
  }
}
#if defined(__clang__)
#pragma clang attribute pop
#endif

#else

const bfcr_kd_walks *bfcr_kd_walks_avx2(int d) {
  (void)d;
  return bfcr_kd_walks_plain(); /* t->avx2 is 0 off x86-64: not reached */
}

#endif
