#!/usr/bin/python3
"""The best-friend clustering regression assembled from the strongest Python parts, timed
side by side with `bfcr fit` (and with k-means + per-cluster linear regression) on one CSV,
CSV read included for every contender. For docs/peers.md.

scipy pipeline (2 workers where the library offers them):
  pandas.read_csv -> standardize (z-scores) -> level 0: scipy.spatial.cKDTree exact 1-NN
  (query k=2, workers=2; the best friend is the nearest point that is not the row itself)
  -> scipy.sparse.csgraph.connected_components (weak) -> size-weighted centroids (bincount)
  -> the same on the centroids, level after level, until one node -> per-cluster ridge
  (scikit-learn RidgeCV, GCV over 37 penalties 1e-4..1e5) at the first level with <= 64
  clusters.
  It does less than `bfcr fit`: no level metrics (HCI, CH, DB, BIC, GCV per level), no
  dendrogram order, no model file, no training score, and cKDTree does not promise ties
  to the smallest index. Its time is therefore a lower bound for the same work in Python.
k-means: pandas.read_csv -> standardize -> sklearn KMeans(16, n_init=1, random_state=1)
  -> one LinearRegression per cluster.
bfcr: `bfcr fit DATA --target y -o MODEL --threads 2` (process wall time).

Usage: /usr/bin/python3 bench/compare/pipeline_scipy.py [--data FILE] [--n 1000000]
       [--repeats 3] [--threads 2] [--bfcr build/bin/bfcr]
Without --data, `bfcr gen -o /tmp/bfcr-peers/synth-N.csv --n N --d 8 --clusters 16 --seed 1`
writes the file (reused when present).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bfcr", default=os.path.join(ROOT, "build", "bin", "bfcr"))
    ap.add_argument("--data", default="", help="CSV with target column --target")
    ap.add_argument("--target", default="y")
    ap.add_argument("--n", type=int, default=1000000, help="rows of generated data")
    ap.add_argument("--work", default="/tmp/bfcr-peers")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-load", type=float, default=0.0,
                    help="wait before each run until the 1-minute load is below this")
    return ap.parse_args()


def wait_for_load(limit):
    while limit > 0 and os.getloadavg()[0] >= limit:
        print("# load %.2f >= %.2f, waiting 30 s" % (os.getloadavg()[0], limit), flush=True)
        time.sleep(30)


class Clock:
    """Named stage times of one run."""

    def __init__(self):
        self.t, self.stages = time.perf_counter(), {}

    def lap(self, name):
        now = time.perf_counter()
        self.stages[name] = self.stages.get(name, 0.0) + now - self.t
        self.t = now


def read_standardize(path, target, clock):
    import numpy as np
    import pandas as pd
    df = pd.read_csv(path)
    clock.lap("read")
    X = df.drop(columns=[target]).to_numpy(np.float64)
    y = df[target].to_numpy(np.float64)
    sd = X.std(0, ddof=1)
    sd[sd == 0] = 1.0
    Z = (X - X.mean(0)) / sd
    clock.lap("standardize")
    return X, y, Z


def best_friend_components(P, workers):
    """Components of the best-friend graph of the rows of P: (count, label per row)."""
    import numpy as np
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree
    m = len(P)
    _, idx = cKDTree(P).query(P, k=2, workers=workers)
    own = np.arange(m)
    # With duplicate rows the row itself need not come first.
    bf = np.where(idx[:, 0] == own, idx[:, 1], idx[:, 0])
    g = csr_matrix((np.ones(m, np.int8), (own, bf)), shape=(m, m))
    return connected_components(g, directed=True, connection="weak")


def scipy_pipeline(path, target, workers):
    import numpy as np
    from sklearn.linear_model import RidgeCV
    clock = Clock()
    X, y, Z = read_standardize(path, target, clock)
    n, d = Z.shape
    k, lab = best_friend_components(Z, workers)
    clock.lap("nn+components level 0")
    levels = [n, k]
    model_lab = lab if k <= 64 else None
    cnt = np.bincount(lab, minlength=k).astype(np.float64)
    cen = np.stack([np.bincount(lab, weights=Z[:, j], minlength=k) for j in range(d)], 1)
    cen /= cnt[:, None]
    clock.lap("centroids")
    while k > 1:
        k2, comp = best_friend_components(cen, workers)
        clock.lap("nn+components levels >= 1")
        # Size-weighted mean of the children = mean of all original rows of the node.
        cnt2 = np.bincount(comp, weights=cnt, minlength=k2)
        cen = np.stack([np.bincount(comp, weights=cen[:, j] * cnt, minlength=k2)
                        for j in range(d)], 1) / cnt2[:, None]
        lab = comp[lab]
        k, cnt = k2, cnt2
        levels.append(k)
        if model_lab is None and k <= 64:
            model_lab = lab
        clock.lap("centroids")
    order = np.argsort(model_lab, kind="stable")
    bounds = np.searchsorted(model_lab[order], np.arange(model_lab.max() + 2))
    alphas = np.logspace(-4, 5, 37)
    models = []
    for c in range(len(bounds) - 1):
        rows = order[bounds[c]:bounds[c + 1]]
        models.append(RidgeCV(alphas=alphas).fit(Z[rows], y[rows]))
    clock.lap("per-cluster ridge")
    return clock.stages, "levels %s; ridge on %d clusters" % (
        " ".join(map(str, levels)), len(models))


def kmeans_pipeline(path, target, clusters=16):
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LinearRegression
    clock = Clock()
    X, y, Z = read_standardize(path, target, clock)
    lab = KMeans(n_clusters=clusters, n_init=1, random_state=1).fit(Z).labels_
    clock.lap("kmeans")
    models = [LinearRegression().fit(X[lab == c], y[lab == c]) for c in range(clusters)]
    clock.lap("per-cluster linear")
    return clock.stages, "KMeans(%d, n_init=1) + %d LinearRegression" % (clusters, len(models))


def bfcr_fit(args, path):
    model = os.path.join(args.work, "pipeline.bfcr")
    report = os.path.join(args.work, "pipeline-fit.json")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run([args.bfcr, "fit", path, "--target", args.target, "-o", model,
                        "--threads", str(args.threads), "--report", report],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    wall = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("bfcr fit failed (exit %d):\n%s" % (p.returncode, p.stderr))
    with open(report) as f:
        rep = json.load(f)
    stages = {ph["name"]: ph["seconds"] for ph in rep["phases"]}
    stages["in-process wall"] = rep["wall_seconds"]
    stages["total"] = wall
    return stages, "levels %s; chosen level %d, %d clusters" % (
        " ".join(str(lv["clusters"]) for lv in rep["levels"]), rep["chosen_level"],
        rep["clusters"])


def main():
    args = parse_args()
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.makedirs(args.work, exist_ok=True)
    path = args.data
    if not path:
        path = os.path.join(args.work, "synth-%d.csv" % args.n)
        if not os.path.exists(path):
            subprocess.run([args.bfcr, "gen", "-o", path, "--n", str(args.n), "--d", "8",
                            "--clusters", "16", "--seed", "1"], check=True,
                           stdout=subprocess.DEVNULL)
    contenders = [("bfcr fit", lambda: bfcr_fit(args, path)),
                  ("scipy best-friend pipeline",
                   lambda: scipy_pipeline(path, args.target, args.threads)),
                  ("k-means(16) + per-cluster linear",
                   lambda: kmeans_pipeline(path, args.target))]
    runs = {name: [] for name, _ in contenders}
    notes = {}
    # Interleaved repeats: a burst of outside load hits every contender alike.
    for r in range(args.repeats):
        for name, fn in contenders:
            wait_for_load(args.max_load)
            load = os.getloadavg()[0]
            stages, notes[name] = fn()
            stages.setdefault("total", sum(stages.values()))
            runs[name].append(stages)
            print("# repeat %d %-34s %.3f s (load before %.2f)" % (
                r + 1, name, stages["total"], load), flush=True)
    med = {name: statistics.median(s["total"] for s in runs[name]) for name in runs}
    print("\n%s (%s), %d threads, median of %d\n" % (path, notes["bfcr fit"].split(";")[0],
                                                    args.threads, args.repeats))
    print("| contender | wall s (median) | min | max | / bfcr | notes |")
    print("|---|---:|---:|---:|---:|---|")
    for name in runs:
        t = [s["total"] for s in runs[name]]
        print("| %s | %.3f | %.3f | %.3f | %.2fx | %s |" % (
            name, med[name], min(t), max(t), med[name] / med["bfcr fit"], notes[name]))
    for name in runs:
        keys = [k for k in runs[name][0] if k != "total"]
        print("\n%s stages (median s): %s" % (name, ", ".join(
            "%s %.3f" % (k, statistics.median(s.get(k, 0.0) for s in runs[name]))
            for k in keys)))
    sp = med["scipy best-friend pipeline"] / med["bfcr fit"]
    km = med["bfcr fit"] / med["k-means(16) + per-cluster linear"]
    print("\ntarget bfcr >= 5x faster than the scipy pipeline: %.2fx -> %s" % (
        sp, "met" if sp >= 5 else "NOT met"))
    print("target bfcr <= 3x the time of k-means(16)+per-cluster linear: %.2fx -> %s" % (
        km, "met" if km <= 3 else "NOT met"))


if __name__ == "__main__":
    main()
