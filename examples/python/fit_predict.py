#!/usr/bin/python3
"""Fit bfcr on a DataFrame with text columns, predict held-out rows, inspect the levels,
save and reload the model, and plot the cluster sizes per level (when matplotlib is
installed).

    PYTHONPATH=build/python /usr/bin/python3 examples/python/fit_predict.py [datasets/cps1988.csv wage]
"""
import os
import sys

import numpy as np
import pandas as pd

import bfcr

here = os.path.dirname(os.path.abspath(__file__))
csv = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "..", "..", "datasets",
                                                          "cps1988.csv")
target = sys.argv[2] if len(sys.argv) > 2 else "wage"

df = pd.read_csv(csv, float_precision="round_trip")  # text columns stay text: one-hot in bfcr
y = df.pop(target)
test = np.random.default_rng(1).random(len(df)) < 0.2
X_train, X_test, y_train, y_test = df[~test], df[test], y[~test], y[test]

# 1. Fit and predict (every parameter defaults to the library's; threads=0: all cores).
est = bfcr.BFCRegressor(threads=0).fit(X_train, y_train)
pred = est.predict(X_test)
rmse = float(np.sqrt(np.mean((pred - y_test.to_numpy()) ** 2)))
print("held-out RMSE %.3f, R^2 %.4f" % (rmse, est.score(X_test, y_test)))

# 2. The levels of the summary tree, with the metric of every level.
levels = pd.DataFrame(est.levels_)
levels["chosen"] = np.where(levels.level == est.chosen_level_, "*", "")
print(levels.to_string(index=False, float_format=lambda v: "%.4g" % v))
print("chosen level %d: %d clusters, sizes %d..%d; %d encoded features (%s, ...)" %
      (est.chosen_level_, est.n_clusters_, est.cluster_sizes_.min(), est.cluster_sizes_.max(),
       len(est.encoded_feature_names_), ", ".join(est.encoded_feature_names_[:4])))

# 3. The same model file as the app writes (`bfcr predict model.bfcr ...` reads it).
est.save("model.bfcr")
back = bfcr.load("model.bfcr")
assert np.array_equal(back.predict(X_test), pred)
print("saved and reloaded model.bfcr: same predictions")

# 4. Clustering only: labels of every level.
cl = bfcr.BestFriendClustering().fit(X_train.select_dtypes("number"))
print("clusterer: level %d by HCI, %d clusters" % (cl.chosen_level_, cl.n_clusters_))

# 5. Cluster sizes per level.
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    print("matplotlib not installed: no plot")
else:
    fig, ax = plt.subplots(figsize=(6, 4))
    for lv in range(1, cl.n_levels_ - 1):
        sizes = np.sort(np.bincount(cl.level_labels_[lv]))[::-1]
        ax.plot(np.arange(1, len(sizes) + 1), sizes, marker=".", label="level %d" % lv)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("cluster rank (largest first)")
    ax.set_ylabel("rows in the cluster")
    ax.set_title("best-friend cluster sizes per level")
    ax.legend()
    fig.tight_layout()
    fig.savefig("cluster_sizes.png", dpi=100)
    print("wrote cluster_sizes.png")
