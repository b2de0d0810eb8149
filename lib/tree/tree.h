/* The hierarchical summary tree (DESIGN.md sections 1-4).
 *
 * Level 0 holds the samples; the items of level l are the nodes of level l (samples
 * at l = 0); every item's best friend is its exact nearest neighbour among the items
 * of its level (canonical distance, ties to the smaller item index); the weakly
 * connected components of the best-friend graph become the nodes of level l + 1,
 * represented by the mean of all the original samples they hold. Levels are built
 * until one node is left.
 *
 * Numbering: while building, the nodes of a level are numbered by their smallest
 * member sample (global index), which is canonical whatever the rank and thread
 * counts. At the end every level is renumbered in dendrogram order (children of a node
 * ordered by their smallest member), so each node is one contiguous range of samples. */
#ifndef BFCR_TREE_TREE_H
#define BFCR_TREE_TREE_H

#include <stdint.h>
#include "core/ctx.h"
#include "core/zsrc.h"

struct bfcr_slab_keep;

/* Width of a node summary: n, mean[d], sse, ymean, edge, then unused. */
#define BFCR_NS_N 0
#define BFCR_NS_MEAN 1
static inline int64_t bfcr_ns_width(int d) {
  return d + 4;
}
static inline int64_t bfcr_ns_sse(int d) {
  return 1 + d;
}
static inline int64_t bfcr_ns_y(int d) {
  return 2 + d;
}
static inline int64_t bfcr_ns_edge(int d) {
  return 3 + d;
}

typedef struct bfcr_level {
  int64_t m; /* nodes (items) at this level; level 0: n samples */
  /* Nodes of this level, as produced by the components of level - 1 (level >= 1): */
  double *ns;      /* [m * ns_width] summaries: count, centroid, sse, mean y, edge sum */
  int64_t *minidx; /* [m] smallest member sample (global index); freed after the build */
  int64_t *nchild; /* [m] items of level - 1 merged into this node */
  int64_t *start;  /* [m + 1] sample range in dendrogram order (after ordering) */
  /* This level's items and their best friends (all levels but the top). Levels >= 1
   * keep only parent once the tree is built (bf, bfdist, dbterm: NULL); level 0 keeps bf
   * (the cross-validation routes held-out rows by it) and parent. */
  int64_t *bf;     /* [m] best friend (item index at this level) */
  double *bfdist;  /* [m] Euclidean distance to it */
  int64_t *parent; /* [m] node of level + 1 holding this item */
  double *dbterm;  /* [m] Davies-Bouldin term of each item (levels >= 1 with m >= 2) */
  /* ns holds nodes [ns_lo, ns_hi) (node c at ns + (c - ns_lo) * ns_width) after
   * bfcr_tree_keep_own_ns (a fit with several ranks: the nodes over the rank's block);
   * both 0 when ns holds all m. */
  int64_t ns_lo, ns_hi;
  /* Several ranks, during the build only (levels_dist.c): 1 while the level is held in
   * chunks: ns, bf, bfdist hold nodes [held_lo, held_hi) of the build numbering (after
   * bfcr_tree_dendro, ns and bfdist follow ns_lo / ns_hi); nchild, parent, dbterm all m.
   * 0 in the built tree. */
  int held;
  int64_t held_lo, held_hi;
} bfcr_level;

/* The replication bound: with several ranks, a level l >= 1 whose own level is built is
 * held in chunks while its m summaries would take more than BFCR_TREE_REP_BYTES on every
 * rank, m (d + 4) 8 > 4 MiB (43,690 nodes with d = 8), and replicated from the first level
 * at or below it. Why: a replicated level costs every rank its summaries plus the
 * searches' copies, and the levels shrink by 4-20x each, so all replicated levels together
 * stay within about 1.3x the budget: a few MB against the ~100 MB a rank holds for 250k
 * rows, whatever n. The bound depends on d only, never on the rank count, so which levels
 * are held is the same for any P (the answers are the same either way: the held route
 * gives the replicated route's bits). */
#define BFCR_TREE_REP_BYTES ((int64_t)4 << 20)
static inline int64_t bfcr_tree_rep_max(int d) {
  return BFCR_TREE_REP_BYTES / (bfcr_ns_width(d) * 8);
}

struct bfcr_tree {
  int d;
  int64_t n; /* samples (global) */
  int64_t n_local, offset;
  int has_y;
  int nlevels;           /* levels including 0 */
  bfcr_level *lv;        /* [nlevels]; level 0's ns/minidx/nchild are NULL */
  int64_t *order;        /* [n] one rank: dendrogram order, order[pos] = global sample
                            index; NULL with several ranks (dpos instead) */
  int64_t *dpos;         /* [n_local] several ranks: dendrogram position of local row i;
                            NULL on one rank */
  bfcr_level_info *info; /* [nlevels] per-level metrics (GCV filled by the fit) */
  int skip_db;           /* Davies-Bouldin terms not computed (BFCR_TREE_SKIP_DB) */
  /* Several ranks: 1 when lv[0].bf and lv[0].parent hold this rank's rows only (n_local
   * entries, local row i = global row offset + i), so no rank keeps an n-word copy of
   * level 0; a consumer needing another row's value asks its owner. 0: n entries. */
  int lv0_local;
  /* Levels whose summaries were kept distributed during the build: 0 on one process; with
   * several ranks 1 (level 0, own rows) plus the held levels >= 1 (bfcr_level.held). */
  int dist_levels;
  /* Level 0's kd-tree over the rows, kept (BFCR_TREE_KEEP_KD0, one rank) for the fit's
   * cross-validation, which routes held-out rows on it instead of building it again and
   * frees it right after (a separately allocated slot, so it can be freed through a const
   * tree before the CV's own arrays raise the peak); NULL when not kept. */
  struct bfcr_kdtree **kd0;
  /* Several ranks, the same request: the level-0 slab search's plan and its slab tree's
   * order (lib/knn/slab.h, 4 B a slab row), which the CV's slab routing reuses and frees
   * (a slot, as kd0); NULL when not kept. */
  struct bfcr_slab_keep **slab0;
  /* Several ranks: the model fit's rows in dendrogram order (this rank's block of
   * positions, d + 1 doubles a row: z, standardized y), kept for the fit's CV, which
   * takes them over instead of moving the rows again (a slot, as kd0); NULL when not kept. */
  double **zyd;
};

/* Build every level from standardized rows Z (n_local x d, rows [offset, offset +
 * n_local) of n) and optional y. Collective; with several ranks the status is agreed
 * (the same on every rank) on return. */
bfcr_status bfcr_tree_build_z(bfcr_ctx *ctx, const double *Z, const double *y, int64_t n_local,
                              int64_t offset, int64_t n, int d, int max_levels, bfcr_tree **out);
/* The same from a row source: with several ranks no standardized copy of the block is
 * made (rows are standardized as they are packed for exchange). */
bfcr_status bfcr_tree_build_src(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                int64_t n_local, int64_t offset, int64_t n, int d, int max_levels,
                                bfcr_tree **out);
/* The same with flags: BFCR_TREE_SKIP_DB leaves the Davies-Bouldin search out (DB NaN,
 * flagged in info[].skipped); bfcr_tree_build_src computes every metric. */
#define BFCR_TREE_SKIP_DB 1
/* One rank: keep level 0's kd-tree in t->kd0 (when the search built one); several
 * ranks: keep the slab search's plan and tree order in t->slab0 (when it ran). */
#define BFCR_TREE_KEEP_KD0 2
bfcr_status bfcr_tree_build_src_ex(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                   int64_t n_local, int64_t offset, int64_t n, int d,
                                   int max_levels, int flags, bfcr_tree **out);
/* The same with the replication bound given in nodes (rep_max <= 0: bfcr_tree_rep_max(d)):
 * for tests, which hold small levels in chunks with a tiny bound. */
bfcr_status bfcr_tree_build_src_rep(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                    int64_t n_local, int64_t offset, int64_t n, int d,
                                    int max_levels, int flags, int64_t rep_max, bfcr_tree **out);
void bfcr_tree_free(bfcr_tree *t);

/* Several ranks, the fit's tree once built: each level's summaries are kept only for the
 * nodes over this rank's dendrogram block [bfcr_block_lo(n, P, rank), ..(rank + 1)) (what
 * the distributed cross-validation reads; the level fits read none): O(m / P) instead of
 * O(m) per level. Levels already trimmed are left as they are. Local; on a failed
 * allocation a level keeps all its summaries. */
void bfcr_tree_keep_own_ns(bfcr_ctx *ctx, bfcr_tree *t);
/* Frees nchild of every level >= 1 (read by the build and the level fits only). Local. */
void bfcr_tree_free_nchild(bfcr_tree *t);
/* All m summaries of level l (m x ns_width, malloc'd into *out), gathered from the ranks
 * that keep them (each node from the rank whose block holds its last position): the same
 * bits as the replicated ones. Collective; status agreed. */
bfcr_status bfcr_tree_ns_all(bfcr_ctx *ctx, const bfcr_tree *t, int l, double **out);
/* Nodes [*a, *b) of level l whose last dendrogram position lies in rank r's block of P
 * (the distributed CV's owners). Local. */
void bfcr_tree_owned_nodes(const bfcr_tree *t, int l, int P, int r, int64_t *a, int64_t *b);

/* Several ranks (level0_dist.c). Best friends of this rank's rows into lv0->bf (global
 * indices) and their distances into lv0->bfdist (n_local entries each, allocated by the
 * caller). Nodes of level 1 (lv1->m = k, nchild filled by bfcr_components_dist,
 * components_dist.h) from this rank's rows: lv0->parent[i] their node, rank_in[i] their
 * rank among its members, second[i] the second half of a mutual pair; fills lv1->ns:
 * replicated when own_lo is NULL, else only the nodes whose first level-1 position lies in
 * this rank's block, [*own_lo, *own_hi) (contiguous chunks tiling [0, k) in rank order).
 * Both are collective, open with a status agreement and return the same status on every
 * rank. bfcr_level_dist_bestfriends is the search of any level whose items are held in such
 * blocks (rows [offset, offset + n_local) of n; `level` names it in the notes; keep: see
 * bfcr_knn_allnn_dist_keep, NULL for none). */
bfcr_status bfcr_level0_dist_bestfriends(bfcr_ctx *ctx, const bfcr_zsrc *zs, int64_t n_local,
                                         int64_t offset, int64_t n, int d, bfcr_level *lv0,
                                         struct bfcr_slab_keep **keep);
bfcr_status bfcr_level0_dist_nodes(bfcr_ctx *ctx, const bfcr_zsrc *zs, const double *y,
                                   int64_t n_local, int64_t n, int d, const bfcr_level *lv0,
                                   const int64_t *rank_in, const unsigned char *second,
                                   bfcr_level *lv1, int64_t *own_lo, int64_t *own_hi);
bfcr_status bfcr_level_dist_bestfriends(bfcr_ctx *ctx, int level, const bfcr_zsrc *zs,
                                        int64_t n_local, int64_t offset, int64_t n, int d,
                                        int64_t *bf, double *bfdist, struct bfcr_slab_keep **keep);

/* Components of the best-friend graph of m items: comp[i] = component id, numbered by
 * the smallest item index in the component (ascending). Returns the component count.
 * Local; O(m) with union-find. */
int64_t bfcr_components(const int64_t *bf, int64_t m, int64_t *comp, int64_t *work);

/* Node summaries: merge op for the canonical reduction. */
void bfcr_ns_merge(int d, const double *a, const double *b, double *out);

/* Renumber all levels in dendrogram order and fill start[] and order[] (one rank) or
 * dpos[] (several). With lv0_local, t->dpos holds on entry each own row's rank among its
 * level-1 node's members (global-index order) and lv[0].parent its canonical node; no
 * n-word array is made. Local. */
bfcr_status bfcr_tree_dendro(bfcr_ctx *ctx, bfcr_tree *t);

/* The whole dendrogram order (n words, malloc'd into *out): a copy of t->order on one
 * rank, gathered from every rank's dpos with several. Collective with several ranks; for
 * the rare consumer that needs it (kernel models routed by sample). */
bfcr_status bfcr_tree_order_all(bfcr_ctx *ctx, const bfcr_tree *t, int64_t **out);

/* This rank's rows (pack(user, i, dst) writes local row i, width doubles) moved into
 * dendrogram order, positions [bfcr_block_lo(n, P, rank), bfcr_block_lo(n, P, rank + 1))
 * into *out: by t->dpos with several ranks, by t->order on one. Collective. */
bfcr_status bfcr_tree_rows_to_dendro(bfcr_ctx *ctx, const bfcr_tree *t, int64_t width,
                                     void (*pack)(void *user, int64_t i, double *dst), void *user,
                                     double **out);

/* Davies-Bouldin terms of a level's items, max_j (s_i + s_j) / |mu_i - mu_j|, into
 * terms[m] (metrics.c), on kt when given (a kd-tree over the level's centroids in item
 * order, as the level's best-friend search builds it), else on a tree built here.
 * Needs ns, bf and bfdist. Collective with several ranks (each computes a slice). */
struct bfcr_kdtree;
bfcr_status bfcr_level_db_terms(bfcr_ctx *ctx, const bfcr_level *L, int d,
                                const struct bfcr_kdtree *kt, double *terms);

/* Per-level metrics HCI, CH, DB (from the terms), BIC and sizes into t->info (GCV left
 * NaN). Local. */
bfcr_status bfcr_tree_metrics(bfcr_ctx *ctx, bfcr_tree *t);

#endif
