#!/usr/bin/python3
"""Peer for the all-points 1-NN search (docs/knn.md, issue targets): scipy's cKDTree
build + exact query of every row against the set (k=2: the row itself and its nearest
other row), with `workers` threads. The CSV read and the z-scoring (bfcr's default) are
excluded from the time.

Usage: /usr/bin/python3 bench/compare/ckdtree_allnn.py DATA.csv TARGET [WORKERS [REPEATS]]
Prints each repeat's wall and process CPU seconds and their medians (CPU time is the
figure to compare on a loaded machine).
"""
import sys
import time

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree


def main(path, target, workers=2, repeats=3):
    df = pd.read_csv(path)
    X = df[[c for c in df.columns if c != target]].to_numpy(float)
    sd = X.std(axis=0)
    sd[sd == 0] = 1.0
    X = (X - X.mean(axis=0)) / sd
    times, cpus = [], []
    for _ in range(repeats):
        t0, c0 = time.perf_counter(), time.process_time()
        tree = cKDTree(X)
        tree.query(X, k=2, workers=workers)
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    print("cKDTree build+query %d x %d, workers=%d: wall %s s, median %.3f s; "
          "cpu %s s, median %.3f s" % (
              X.shape[0], X.shape[1], workers, " ".join("%.3f" % t for t in times),
              float(np.median(times)), " ".join("%.3f" % t for t in cpus),
              float(np.median(cpus))))


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:5]))
