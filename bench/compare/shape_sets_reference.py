#!/usr/bin/python3
"""Independent reference for docs/reproduction.md on the 2-D shape sets (columns x, y,
label): the best-friend hierarchy re-implemented with scipy (dense distances, argmin
ties to the smallest index, weakly connected components, centroids = means of the
original rows), and the paper's peers, single linkage (the minimum-spanning-tree
clustering) and k-means with the true k, all scored with scikit-learn's AMI.

Usage: /usr/bin/python3 bench/compare/shape_sets_reference.py DATASETS_DIR [names...]
"""
import sys

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial.distance import cdist
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import adjusted_mutual_info_score as ami


def best_friend_levels(X):
    lab, items, out = np.arange(len(X)), X.copy(), []
    while len(items) > 1:
        D = cdist(items, items)
        np.fill_diagonal(D, np.inf)
        m = len(items)
        g = csr_matrix((np.ones(m), (np.arange(m), D.argmin(1))), shape=(m, m))
        k, comp = connected_components(g, directed=True, connection="weak")
        lab = comp[lab]
        out.append(lab.copy())
        items = np.array([X[lab == c].mean(0) for c in range(k)])
    return out


def main(folder, names):
    for f in names:
        df = pd.read_csv("%s/paper/%s.csv" % (folder, f))
        X, t = df[["x", "y"]].to_numpy(float), df["label"].to_numpy()
        k = len(set(t))
        for mode, Z in (("raw", X), ("std", (X - X.mean(0)) / X.std(0, ddof=1))):
            lv = best_friend_levels(Z)
            print("%-12s %s best-friend levels (clusters, AMI arith, AMI max): %s" % (
                f, mode, " ".join("(%d, %.4f, %.4f)" % (len(set(l)), ami(t, l),
                                                        ami(t, l, average_method="max"))
                                  for l in lv)))
        sl = AgglomerativeClustering(n_clusters=k, linkage="single").fit_predict(X)
        km = [KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(X) for s in range(5)]
        print("%-12s single linkage k=%d: AMI %.4f (max %.4f); k-means k=%d, 5 seeds: "
              "AMI %.4f (max %.4f)" % (
                  f, k, ami(t, sl), ami(t, sl, average_method="max"), k,
                  np.mean([ami(t, l) for l in km]),
                  np.mean([ami(t, l, average_method="max") for l in km])))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:] or ["Compound", "Aggregation", "R15"])
