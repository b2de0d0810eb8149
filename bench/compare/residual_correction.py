#!/usr/bin/env python3
"""Upper bound of a Cubist-style residual correction on top of bfcr's default model.

For each shipped dataset: seeded 80/20 split (`bfcr split --seed S`), default `bfcr fit`,
in-sample residuals r_j = y_j - f(x_j) of the training rows, and for every test row the
k nearest training rows (z-scored numeric features) with weights 1 / (dist + 0.5). The
corrected prediction is f(x) + alpha * sum_j w_j r_j / sum_j w_j. alpha is chosen on the
TEST rows from {0.25, 0.5, 0.75, 1}, so the ratio printed (corrected / default test
RMSE) is optimistic: a CV choice can only do worse. Used to decide whether to build the
correction into the model (docs/accuracy.md).

Usage: residual_correction.py BFCR [--work DIR] [--seed S] [--k 1,5,9]
"""
import argparse
import os
import subprocess
import sys

import numpy as np
import pandas as pd
from sklearn.neighbors import NearestNeighbors

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accuracy_peers import DATASETS, ROOT  # noqa: E402


def run(cmd):
    subprocess.run(cmd, check=True, capture_output=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bfcr")
    ap.add_argument("--work", default="residual-work")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--k", default="1,5,9")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    ks = [int(k) for k in a.k.split(",")]
    print("| dataset | default test RMSE | " + " | ".join("k = %d (alpha)" % k for k in ks) + " |")
    print("|---|---:|" + "---:|" * len(ks))
    for name, (group, src, target) in DATASETS.items():
        if group != "shipped":
            continue
        tr, te, mod = (os.path.join(a.work, name + s) for s in ("-tr.csv", "-te.csv", ".bfm"))
        run([a.bfcr, "split", os.path.join(ROOT, src), "--train", tr, "--test", te,
             "--seed", str(a.seed)])
        run([a.bfcr, "fit", tr, "--target", target, "-o", mod])
        pred = {}
        for f, o in ((tr, "tr"), (te, "te")):
            out = os.path.join(a.work, "%s-p%s.csv" % (name, o))
            run([a.bfcr, "predict", mod, f, "-o", out])
            pred[o] = pd.read_csv(out)["prediction"].to_numpy(float)
        d, t = pd.read_csv(tr), pd.read_csv(te)
        X = d.drop(columns=[target]).select_dtypes("number").to_numpy(float)
        Xt = t.drop(columns=[target]).select_dtypes("number").to_numpy(float)
        mu, sd = X.mean(0), X.std(0)
        sd[sd == 0] = 1
        Z, Zt = (X - mu) / sd, (Xt - mu) / sd
        r = d[target].to_numpy(float) - pred["tr"]
        yt = t[target].to_numpy(float)
        base = np.sqrt(np.mean((yt - pred["te"]) ** 2))
        cells = []
        for k in ks:
            dist, idx = NearestNeighbors(n_neighbors=k).fit(Z).kneighbors(Zt)
            w = 1.0 / (dist + 0.5)
            c = (w * r[idx]).sum(1) / w.sum(1)
            best = min((np.sqrt(np.mean((yt - pred["te"] - al * c) ** 2)), al)
                       for al in (0.25, 0.5, 0.75, 1.0))
            cells.append("%.3f (%.2f)" % (best[0] / base, best[1]))
        print("| %s | %.5g | %s |" % (name, base, " | ".join(cells)), flush=True)


if __name__ == "__main__":
    main()
