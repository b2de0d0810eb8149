#!/usr/bin/python3
"""Which grouping rule reproduces the paper's best-friend hierarchy?

Li, Yuan, Zhang, Chen (IEEE TPDS 2022) report clusters per level 18432, 4737, 326, 64, 8, 2, 1
(cadata) and 40730, 11273, 724, 191, 32, 6, 2, 1 (Proteins), HCI per level, and AMI x100 of the
HCI-chosen level on Compound 92 / Aggregation 93 / R15 96 (DESIGN.md section 1,
docs/reproduction.md). Level 0 -> 1 is always the best-friend (1-NN) graph of the samples; this
script varies only the rule that groups the nodes of levels >= 1, the feature scaling and the
HCI definition, and prints one table per dataset:
  variant, clusters per level, HCI per level (several definitions), chosen level, AMI (shape sets).

Grouping rules for levels >= 1 (a node's links; next level = connected components of the links):
  centroid      best friend = nearest centroid, centroid = mean of all rows (what bfcr does)
  centroid_unw  same, centroid = unweighted mean of the child centroids
  k2            link to the two nearest centroids
  k2mut         best friend, plus the second nearest centroid when that one has this node among
                its own two nearest
  mutual        only mutual nearest-centroid pairs merge
  single        best friend = node holding the nearest sample outside the node (Boruvka step,
                single linkage); link weight = that sample-sample gap
  cent_single   union of the centroid and the single links (two out-links per node)
  single_all    every sample links its node to the node of its nearest outside sample
  cent2samp     the node's centroid links to the node of the nearest outside sample
  samp2cent     every sample links its node to the nearest other centroid
(FINCH's rule, "j first neighbour of i, i of j, or same first neighbour", and "friends of
friends" give the same weakly connected components as the 1-NN graph: a shared first
neighbour is already a path i -> k <- j. They are not separate variants.)

HCI definitions (for a cluster i of level k >= 1; its links are the level k-1 links among its
children, reduced to a spanning tree by Kruskal, so |E| = children - 1):
  E    c = mean tree-edge weight, d = the node's own link distance at level k (DESIGN.md)
  V    c = tree-edge sum / children (the paper's Algorithm 4 as printed)
  SQ   as E with squared distances
  C    as E with d = distance to the nearest other centroid (differs only for rules whose
       link distance is not a centroid distance)
HCI(k) = mean_i (d-c)/(d+c) (0 when both are 0); chosen level = argmax over 1 <= k < top.

Scalings: raw, z (mean 0, population std 1, as bfcr), minmax ([0, 1] per column).
cadata / Proteins: the paper-sized training rows of `bfcr split ... --seed 1` (the split rule
from `bfcr split --help`, re-implemented here: 18431 / 40730 rows), or --whole for all rows.

Run:  /usr/bin/python3 bench/compare/linkage_variants.py [--sets Compound,Aggregation,R15,cadata,
      Proteins] [--rules centroid,single,...] [--scalings raw,z,minmax] [--whole]
      [--data datasets/paper]
Cost (one core): shape sets ~3 s; all rules x 3 scalings: cadata ~1.5 min, Proteins ~4 min.
Prototype only: neighbours from scipy's cKDTree with exact ties broken to the smaller index
where the tree reports them; not bit-for-bit bfcr.
"""
import argparse
import os
import sys

import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree
from scipy.spatial.distance import cdist
from sklearn.metrics import adjusted_mutual_info_score as ami

PAPER = {
    "cadata": ("18432, 4737, 326*, 64, 8, 2, 1", ".31 .51 .26 .45 .24 0"),
    "Proteins": ("40730, 11273*, 724, 191, 32, 6, 2, 1", ".65 .44 .28 .14 .13 .11 0"),
    "Compound": ("AMI 92", ""), "Aggregation": ("AMI 93", ""), "R15": ("AMI 96", ""),
}
RULES = ["centroid", "centroid_unw", "k2", "k2mut", "mutual", "single", "cent_single", "single_all", "cent2samp",
         "samp2cent"]
M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & M64
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & M64
    return x ^ (x >> 31)


def bfcr_train_mask(n, frac, seed=1):
    """Rows on the training side of `bfcr split` (rule printed by `bfcr split --help`)."""
    s = splitmix64(seed)
    return np.array([(splitmix64((s + i) & M64) >> 11) * 2.0 ** -53 >= frac for i in range(n)])


def load(folder, name, whole):
    if name == "cadata":
        df = pd.read_csv(folder + "/cal_housing.csv")
        X, t, frac = df.drop(columns="median_house_value").to_numpy(float), None, 0.107
    elif name == "Proteins":
        df = pd.read_csv(folder + "/CASP.csv")
        X, t, frac = df.drop(columns="RMSD").to_numpy(float), None, 0.1122
    else:
        df = pd.read_csv("%s/%s.csv" % (folder, name))
        return df[["x", "y"]].to_numpy(float), df["label"].to_numpy()
    if not whole:
        X = X[bfcr_train_mask(len(X), frac)]
    return X, t


def scale(X, how):
    if how == "z":
        mu = X.mean(0)
        sd = np.sqrt(((X - mu) ** 2).mean(0))
        return (X - mu) / np.where(sd > 0, sd, 1.0)
    if how == "minmax":
        lo, hi = X.min(0), X.max(0)
        return (X - lo) / np.where(hi > lo, hi - lo, 1.0)
    return X.copy()


def nn_items(P, k=1):
    """k nearest other items of each row of P (distances, indices), ties to the smaller index."""
    m = len(P)
    if m <= 6000:
        D = cdist(P, P)
        np.fill_diagonal(D, np.inf)
        idx = np.argsort(D, axis=1, kind="stable")[:, :k]  # stable: equal distances keep index order
        return np.take_along_axis(D, idx, 1), idx
    tree = cKDTree(P)
    K = k + 8
    while True:
        d, j = tree.query(P, k=min(K, m))
        self_ = j == np.arange(m)[:, None]
        d = np.where(self_, np.inf, d)
        srt = np.argsort(d, axis=1, kind="stable")  # self (inf) goes last
        d, j = np.take_along_axis(d, srt, 1), np.take_along_axis(j, srt, 1)
        # rows where the k-th distance ties with the last returned one may hide smaller indices
        if K >= m or not np.any(d[:, k - 1] == d[:, -1]):
            break
        K *= 4
    # re-order ties by index
    out_d, out_j = np.empty((m, k)), np.empty((m, k), dtype=np.int64)
    for r in range(m):
        o = np.lexsort((j[r], d[r]))[:k]
        out_d[r], out_j[r] = d[r, o], j[r, o]
    return out_d, out_j


def nearest_outside(X, lab, Q, qlab):
    """For each query row Q[q] (belonging to node qlab[q]): the nearest sample of X whose label
    differs from qlab[q]. Returns (distance, sample index)."""
    tree = cKDTree(X)
    nq = len(Q)
    bd, bj = np.full(nq, np.inf), np.full(nq, -1, dtype=np.int64)
    todo = np.arange(nq)
    K = 16
    while len(todo) and K <= 1024 and K < len(X):
        d, j = tree.query(Q[todo], k=min(K, len(X)))
        other = lab[j] != qlab[todo][:, None]
        has = other.any(1)
        first = other.argmax(1)
        rows = np.nonzero(has)[0]
        # exact ties at the first outside distance: take the smallest index
        for r in rows:
            dd = d[r, first[r]]
            cand = j[r][(d[r] == dd) & other[r]]
            bd[todo[r]], bj[todo[r]] = dd, cand.min()
        todo = todo[~has]
        K *= 4
    # the rest: one complement tree per node
    for g in np.unique(qlab[todo]):
        qs = todo[qlab[todo] == g]
        comp = np.nonzero(lab != g)[0]
        if len(comp) == 0:
            continue
        d, j = cKDTree(X[comp]).query(Q[qs], k=1)
        bd[qs], bj[qs] = d, comp[j]
    return bd, bj


def components(m, a, b):
    g = coo_matrix((np.ones(len(a)), (a, b)), shape=(m, m)).tocsr()
    k, comp = connected_components(g, directed=False)
    # relabel by smallest member node so labels are canonical
    first = np.full(k, m)
    np.minimum.at(first, comp, np.arange(m))
    rank = np.argsort(np.argsort(first))
    return k, rank[comp]


def kruskal_sums(m, a, b, w, comp, k, square):
    """Sum of spanning-tree edge weights of the link graph inside every component."""
    parent = np.arange(m)

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    ww = w * w if square else w
    s = np.zeros(k)
    for e in np.lexsort((b, a, ww)):
        ra, rb = find(a[e]), find(b[e])
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
            s[comp[a[e]]] += ww[e]
    return s


def links(rule, X, lab, m, items):
    """Links among the m nodes of a level >= 1: arrays a, b, w, and each node's own link distance."""
    if rule in ("centroid", "centroid_unw", "mutual"):
        d, j = nn_items(items, 1)
        a, b, w = np.arange(m), j[:, 0], d[:, 0]
        if rule == "mutual":
            keep = j[j[:, 0], 0] == np.arange(m)
            a, b, w = a[keep], b[keep], w[keep]
        return a, b, w, d[:, 0]
    if rule == "k2mut":
        kk = min(2, m - 1)
        d, j = nn_items(items, kk)
        a, b, w = [np.arange(m)], [j[:, 0]], [d[:, 0]]
        if kk == 2:
            # the second friend too, when the relation is mutual within the two nearest
            back = (j[j[:, 1], 0] == np.arange(m)) | (j[j[:, 1], 1] == np.arange(m))
            a.append(np.nonzero(back)[0]), b.append(j[back, 1]), w.append(d[back, 1])
        return np.concatenate(a), np.concatenate(b), np.concatenate(w), d[:, 0]
    if rule == "k2":
        kk = min(2, m - 1)
        d, j = nn_items(items, kk)
        return np.repeat(np.arange(m), kk), j.ravel(), d.ravel(), d[:, 0]
    if rule == "cent_single":
        a1, b1, w1, own = links("centroid", X, lab, m, items)
        a2, b2, w2, _ = links("single", X, lab, m, items)
        return np.r_[a1, a2], np.r_[b1, b2], np.r_[w1, w2], own
    if rule in ("single", "single_all"):
        d, j = nearest_outside(X, lab, X, lab)
        a, b = lab, lab[j]
        own = np.full(m, np.inf)
        np.minimum.at(own, a, d)
        if rule == "single_all":
            return a, b, d, own
        # per node: the smallest (gap, sample index, outside sample index)
        o = np.lexsort((j, np.arange(len(X)), d, a))
        firsts = o[np.r_[True, a[o][1:] != a[o][:-1]]]
        return a[firsts], b[firsts], d[firsts], own
    if rule == "cent2samp":
        d, j = nearest_outside(X, lab, items, np.arange(m))
        return np.arange(m), lab[j], d, d
    if rule == "samp2cent":
        tree = cKDTree(items)
        dd, jj = tree.query(X, k=min(2, m))
        first_other = np.where(jj[:, 0] == lab, 1, 0)
        d = dd[np.arange(len(X)), first_other]
        b = jj[np.arange(len(X)), first_other]
        own = np.full(m, np.inf)
        np.minimum.at(own, lab, d)
        return lab, b, d, own
    raise ValueError(rule)


def hierarchy(X, rule, max_levels=40):
    """Per level k: labels of the samples, m_k; and HCI per level for each definition."""
    n = len(X)
    lab = np.arange(n)
    m = n
    items = X
    d0, j0 = nn_items(X, 1)
    a, b, w, own = np.arange(n), j0[:, 0], d0[:, 0], d0[:, 0]
    labs, counts, hci = [lab], [n], {"E": [], "V": [], "SQ": [], "C": []}
    while m > 1 and len(counts) < max_levels:
        k, comp = components(m, a, b)
        sums = kruskal_sums(m, a, b, w, comp, k, False)
        sums2 = kruskal_sums(m, a, b, w, comp, k, True)
        nchild = np.bincount(comp, minlength=k).astype(float)
        lab = comp[lab]
        sizes = np.bincount(lab, minlength=k).astype(float)
        if rule == "centroid_unw":
            cen = np.zeros((k, X.shape[1]))
            np.add.at(cen, comp, items)
            items = cen / nchild[:, None]
        else:
            cen = np.zeros((k, X.shape[1]))
            np.add.at(cen, lab, X)
            items = cen / sizes[:, None]
        m = k
        labs.append(lab)
        counts.append(k)
        if k == 1:
            break
        a, b, w, own = links(rule, X, lab, m, items)
        dc = nn_items(items, 1)[0][:, 0] if rule not in ("centroid", "centroid_unw", "k2",
                                                         "k2mut", "mutual", "cent_single") else own
        e1 = np.maximum(nchild - 1, 1)

        def mean_term(c, d):
            s = d + c
            return float(np.mean(np.where(s > 0, (d - c) / np.where(s > 0, s, 1), 0.0)))

        hci["E"].append(mean_term(sums / e1, own))
        hci["V"].append(mean_term(sums / nchild, own))
        hci["SQ"].append(mean_term(sums2 / e1, own ** 2))
        hci["C"].append(mean_term(sums / e1, dc))
    return labs, counts, hci


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--data", default=os.path.join(here, "..", "..", "datasets", "paper"))
    ap.add_argument("--sets", default="Compound,Aggregation,R15,cadata,Proteins")
    ap.add_argument("--rules", default=",".join(RULES))
    ap.add_argument("--scalings", default="raw,z,minmax")
    ap.add_argument("--whole", action="store_true", help="cadata/Proteins: all rows, no split")
    args = ap.parse_args()
    for name in args.sets.split(","):
        X0, truth = load(args.data, name, args.whole)
        print("\n== %s: %d rows x %d; paper: %s %s" % (name, len(X0), X0.shape[1], *PAPER[name]))
        for how in args.scalings.split(","):
            X = scale(X0, how)
            for rule in args.rules.split(","):
                labs, counts, hci = hierarchy(X, rule)
                print("%-7s %-12s levels %s" % (how, rule, ", ".join(map(str, counts))))
                if truth is not None:
                    am = [ami(truth, l) for l in labs[1:]]
                    print("%-20s AMI/lvl  %s   (best %.3f at level %d)" % (
                        "", " ".join("%.3f" % v for v in am), max(am), 1 + int(np.argmax(am))))
                for key in ("E", "V", "SQ", "C"):
                    h = hci[key]
                    if key == "C" and rule in ("centroid", "centroid_unw", "k2", "k2mut", "mutual",
                                               "cent_single"):
                        continue
                    ch = 1 + int(np.argmax(h)) if h else 0
                    txt = " ".join("%.2f" % v for v in h)
                    extra = ""
                    if truth is not None and ch:
                        extra = "  AMI %.3f" % ami(truth, labs[ch])
                    print("%-20s HCI-%-3s %s -> level %d (%d clusters)%s" % (
                        "", key, txt, ch, counts[ch] if ch else 0, extra))
                sys.stdout.flush()


if __name__ == "__main__":
    main()
