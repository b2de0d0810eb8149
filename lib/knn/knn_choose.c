/* Method choice for exact nearest neighbours by a probe of the data (docs/knn.md).
 *
 * What: the kd-tree is built first (the Davies-Bouldin search and the next level need it
 * anyway, and its build is O(n log n)); then a fixed sample of queries walks it with the
 * same pruning rule as the real walks (nearer child first, a node is opened only when its
 * point-to-box bound can still beat the query's best) while the walk counts the points
 * whose distance it measures and the nodes whose bounds it evaluates. The counts give the
 * tree's cost per query; the blocked GEMM's cost per query is nR pairs at the measured
 * tile rate. The cheaper one runs.
 * Determinism: the sample is the points at tree positions round((s + 1/2) n / S), the
 * counts depend on the tree and the data only, and the rates are constants measured once
 * (bench_knn probe); the choice is thus the same on every rank, thread count and run.
 * Whichever method runs, answers are the unique minimum of (canonical dist2, index), so
 * the choice changes time only.
 * Complexity: a probe walk stops once it has measured the break-even number of points
 * (where the tree's cost per query reaches the GEMM's) and counts as that budget: the
 * probe costs at most S break-even walks, S / m of one GEMM pass. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "knn/kdtree_impl.h"

/* Cost model constants, CPU seconds per unit on one core, fitted to `bench_knn probe`
 * (kd-tree CPU time per probe-counted evaluation on 100k x {8, 20, 64} blobs and
 * latent-subspace rows: 2.5, 3.8, 12.5 ns) and to the GEMM path's measured rate
 * (docs/knn.md):
 *   tree:  KNN_TREE_EVAL_S (d + KNN_TREE_EVAL_D0) per point scanned in a leaf
 *          + KNN_TREE_NODE_S d per child bound;
 *   gemm:  2 (d + 1) / KNN_GEMM_FLOPS + KNN_GEMM_PAIR_S per (query, reference) pair. */
#define KNN_TREE_EVAL_S 0.17e-9
#define KNN_TREE_EVAL_D0 7.0
#define KNN_TREE_NODE_S 0.4e-9
#define KNN_GEMM_FLOPS 30e9
#define KNN_GEMM_PAIR_S 0.3e-9
/* Pruned blocked GEMM (knn_blocked.c): its setup (split tree, balls, copies) per row and
 * coordinate, measured at 50k x 64 (about 0.5 CPU s); its pairs are estimated by
 * blocked_pairs(). */
#define KNN_BLOCK_ROW_S 0.16e-6
/* Queries walked by the probe (fewer when the tree has fewer points). */
#define KNN_PROBE_QUERIES 256
#define KNN_PROBE_STACK 192

const char *bfcr_nn_method_name(bfcr_nn_method m) {
  switch (m) {
    case BFCR_NN_TREE:
      return "tree";
    case BFCR_NN_GEMM:
      return "gemm";
    default:
      return "auto";
  }
}

int bfcr_nn_method_parse(const char *s, bfcr_nn_method *out) {
  if (!s || !out) return -1;
  for (int m = BFCR_NN_AUTO; m <= BFCR_NN_GEMM; m++) {
    if (!strcmp(s, bfcr_nn_method_name((bfcr_nn_method)m))) {
      *out = (bfcr_nn_method)m;
      return 0;
    }
  }
  return -1;
}

/* One probe walk from q (excluding tree position self): points measured and nodes
 * bounded, up to the budget. */
static void probe_walk(const bfcr_kdtree *t, const double *q, int64_t self, double budget,
                       double *evals, double *nodes, double *best) {
  const int d = t->d;
  int64_t stack[KNN_PROBE_STACK];
  double slb[KNN_PROBE_STACK];
  int sp = 0;
  double bd = INFINITY, ne = 0.0, nn = 0.0;
  int64_t id = 0;
  double lb = 0.0;
  for (;;) {
    if (lb <= bd) {
      const bfcr_kd_node *nd = &t->node[id];
      if (nd->right < 0) {
        for (int64_t p = nd->lo; p < nd->hi; p++) {
          if (p == self) continue;
          const double v = bfcr_dist2(q, t->X + p * d, d);
          if (v < bd) bd = v;
        }
        ne += (double)(nd->hi - nd->lo);
      } else if (sp + 2 <= KNN_PROBE_STACK) {
        const int64_t l = id + 1, r = nd->right;
        const double ll = bfcr_kd_point_box(q, t->bmin + l * d, t->bmax + l * d, d);
        const double lr = bfcr_kd_point_box(q, t->bmin + r * d, t->bmax + r * d, d);
        nn += 2.0;
        bfcr_kd_push2(stack, slb, &sp, l, ll, r, lr, ll <= lr);
      }
    }
    if (ne > budget || sp == 0) break;
    sp--;
    id = stack[sp];
    lb = slb[sp];
  }
  *evals = ne < budget ? ne : budget;
  *nodes = nn;
  *best = bd;
}

static int dbl_cmp(const void *a, const void *b) {
  const double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Reference rows per query that the pruned blocked GEMM (knn_blocked.c) multiplies, as
 * estimated from the tree: its nodes of at most BFCR_KNN_BLOCK_LEAF points stand in for the
 * blocks and their boxes for the balls; every block's bound is the 90th percentile of the
 * probe's best distances (walks stopped at the budget give larger values: a larger,
 * pessimistic count). For each probe query, the points of the blocks whose box gap to the
 * query's own block is within that bound. Deterministic (fixed order). */
static double blocked_pairs(const bfcr_kdtree *t, const int64_t *pos, const double *best, int S) {
  const int d = t->d;
  int64_t *blk = malloc((size_t)t->nnodes * sizeof *blk), *stack = malloc(128 * sizeof *stack);
  double *sb = malloc((size_t)S * sizeof *sb);
  double pairs = (double)t->n;
  if (!blk || !stack || !sb) goto done;
  int64_t nb = 0;
  int sp = 0;
  stack[sp++] = 0;
  while (sp > 0) {
    const int64_t id = stack[--sp];
    const bfcr_kd_node *nd = &t->node[id];
    if (nd->hi - nd->lo <= BFCR_KNN_BLOCK_LEAF || nd->right < 0 || sp + 2 > 128) {
      blk[nb++] = id;
    } else {
      stack[sp++] = nd->right;
      stack[sp++] = id + 1;
    }
  }
  memcpy(sb, best, (size_t)S * sizeof *sb);
  qsort(sb, (size_t)S, sizeof *sb, dbl_cmp);
  const double U = sb[(int)(0.9 * (S - 1))];
  double tot = 0.0;
  for (int s = 0; s < S; s++) {
    int64_t own = -1;
    for (int64_t b = 0; b < nb && own < 0; b++) {
      const bfcr_kd_node *nd = &t->node[blk[b]];
      if (nd->lo <= pos[s] && pos[s] < nd->hi) own = blk[b];
    }
    if (own < 0) continue;
    for (int64_t b = 0; b < nb; b++) {
      const int64_t id = blk[b];
      if (bfcr_kd_box_box(t->bmin + own * d, t->bmax + own * d, t->bmin + id * d, t->bmax + id * d,
                          d) <= U)
        tot += (double)(t->node[id].hi - t->node[id].lo);
    }
  }
  pairs = tot / S;
done:
  free(blk);
  free(stack);
  free(sb);
  return pairs;
}

void bfcr_knn_probe(const bfcr_kdtree *t, int64_t m, int exclude_self, int nthreads,
                    bfcr_knn_choice *c) {
  const int64_t n = t->n;
  const int d = t->d;
  const int S = n < KNN_PROBE_QUERIES ? (int)n : KNN_PROBE_QUERIES;
  const double eval_s = KNN_TREE_EVAL_S * (d + KNN_TREE_EVAL_D0);
  const double gemm_q = (double)n * (2.0 * (d + 1) / KNN_GEMM_FLOPS + KNN_GEMM_PAIR_S);
  double budget = gemm_q / eval_s + 64.0;
  if (budget > (double)n) budget = (double)n;
  double se = 0.0, sn = 0.0;
  const int nt = nthreads < 1 ? 1 : nthreads;
  double *ev = malloc((size_t)S * 3 * sizeof(double));
  int64_t *pos = malloc((size_t)S * sizeof *pos);
  double gemm_pairs = (double)n;
  if (!ev || !pos) { /* no memory for the probe: assume the tree visits everything */
    se = (double)S * budget;
  } else {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 8) default(none) \
    shared(t, ev, pos, S, n, d, budget, exclude_self)
    for (int s = 0; s < S; s++) {
      const int64_t p = (int64_t)(((double)s + 0.5) * (double)n / (double)S);
      pos[s] = p;
      probe_walk(t, t->X + p * d, exclude_self ? p : -1, budget, &ev[2 * s], &ev[2 * s + 1],
                 &ev[2 * S + s]);
    }
    /* Fixed-order sums: the same totals for any thread count. */
    for (int s = 0; s < S; s++) {
      se += ev[2 * s];
      sn += ev[2 * s + 1];
    }
    /* The pruned GEMM runs from 4 blocks on (bfcr_knn_gemm); queries from outside the
     * tree (exclude_self == 0) are assumed to lie where its points do. */
    if (n >= 4 * BFCR_KNN_BLOCK_LEAF && m >= BFCR_KNN_BLOCK_LEAF)
      gemm_pairs = blocked_pairs(t, pos, ev + 2 * S, S);
  }
  free(ev);
  free(pos);
  c->probe_queries = S;
  c->evals_per_query = se / S;
  c->nodes_per_query = sn / S;
  const double tree_q = c->evals_per_query * eval_s + c->nodes_per_query * KNN_TREE_NODE_S * d;
  c->est_tree_s = tree_q * (double)m / nt;
  const double pair_s = 2.0 * (d + 1) / KNN_GEMM_FLOPS + KNN_GEMM_PAIR_S;
  const double blocked_q =
      gemm_pairs < (double)n ? gemm_pairs * pair_s + KNN_BLOCK_ROW_S * d : gemm_q;
  c->est_gemm_s = (blocked_q < gemm_q ? blocked_q : gemm_q) * (double)m / nt;
}

void bfcr_knn_decide(bfcr_nn_method forced, bfcr_knn_choice *c) {
  c->forced = forced != BFCR_NN_AUTO;
  if (forced == BFCR_NN_TREE || forced == BFCR_NN_GEMM)
    c->method = forced;
  else
    c->method = c->est_gemm_s < c->est_tree_s ? BFCR_NN_GEMM : BFCR_NN_TREE;
}

void bfcr_knn_choice_format(const bfcr_knn_choice *c, char *buf, size_t size) {
  const char *name = c->method == BFCR_NN_GEMM ? "gemm tiles" : "kd-tree";
  if (c->probe_queries > 0)
    snprintf(buf, size,
             "%s%s (probe: %d queries, %.1f dist evals/query, est tree %.3g s vs gemm %.3g s)",
             name, c->forced ? ", forced" : "", c->probe_queries, c->evals_per_query, c->est_tree_s,
             c->est_gemm_s);
  else
    snprintf(buf, size, "%s%s", name, c->forced ? " (forced)" : " (no probe)");
}
