#!/usr/bin/python3
"""Peer comparison for docs/peers.md: bfcr against the usual regression baselines, on the
same seeded 80/20 split of every shipped dataset and of synthetic blob data.

Every dataset is split once with `bfcr split DATA --train A --test B --test-fraction 0.2
--seed 1`; every method then reads the same A/B files. Methods:

  bfcr       `bfcr fit A --target T -o M --threads N`, `bfcr predict M B --truth T`
             (wall time of each process: CSV read, model save/load and output included)
  linear     one global least-squares model (scikit-learn LinearRegression)
  kmeans+lr  k-means on standardized features, one LinearRegression per cluster; k from
             {1, 2, 4, ..., 256} chosen on a seeded 20% validation part of the TRAINING rows;
             clusters with fewer than 2 (p + 1) rows use the global model
  knn        k-NN regression on standardized features, k from {1, 2, 3, 5, 7, 10, 15, 20,
             30, 50} by seeded 5-fold CV on the training rows
  hgb        HistGradientBoostingRegressor, default settings (its early stopping holds out
             part of the training rows when n > 10000), random_state 1
  xgboost    XGBRegressor(tree_method="hist"), default settings, random_state 1

Text columns are one-hot encoded with the training rows' levels (unseen test levels give all
zeros). "fit s" is the fit with the chosen hyper-parameters, "select s" the hyper-parameter
search before it, "predict s" the prediction of the test rows; Python times exclude the
pandas CSV read, which is shown once per dataset ("read s", train + test). Times are medians
over --repeats runs; RMSE is on the test rows. Python libraries run with --threads threads
(OMP_NUM_THREADS, n_jobs), like bfcr.

Large training sets: k-NN trains on a seeded subsample of --knn-cap-rows rows (default
200,000; HGB likewise with --hgb-cap-rows, default 0 = all rows) when the training set is
larger; the k-NN CV and the k-means k search use at most --select-rows rows; the notes column
says so.

Usage: /usr/bin/python3 bench/compare/peers.py [--sets boston,diamonds,...] [--synthetic
       100000,1000000] [--repeats 3] [--threads 2] [--bfcr build/bin/bfcr] [--work DIR]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TARGETS = {"diamonds": "price", "boston": "medv", "diabetes": "progression",
           "cps1988": "wage", "txhousing": "median", "concrete": "compressive_strength"}
METHODS = ["bfcr", "linear", "kmeans+lr", "knn", "hgb", "xgboost"]
KNN_GRID = [1, 2, 3, 5, 7, 10, 15, 20, 30, 50]
KMEANS_GRID = [1, 2, 4, 8, 16, 32, 64, 128, 256]


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bfcr", default=os.path.join(ROOT, "build", "bin", "bfcr"))
    ap.add_argument("--datasets", default=os.path.join(ROOT, "datasets"))
    ap.add_argument("--work", default="/tmp/bfcr-peers", help="split files, models, predictions")
    ap.add_argument("--sets", default=",".join(TARGETS),
                    help="shipped datasets to run ('' for none)")
    ap.add_argument("--synthetic", default="100000,1000000",
                    help="row counts of synthetic data ('' for none)")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=1, help="timing repeats (median)")
    ap.add_argument("--knn-cap-rows", type=int, default=200000,
                    help="k-NN trains on at most this many training rows (0 = all)")
    ap.add_argument("--hgb-cap-rows", type=int, default=0,
                    help="HGB trains on at most this many training rows (0 = all)")
    ap.add_argument("--select-rows", type=int, default=100000,
                    help="k-NN CV and k-means k search use at most this many training rows")
    ap.add_argument("--kmeans-init", type=int, default=3, help="KMeans n_init")
    ap.add_argument("--max-load", type=float, default=0.0,
                    help="wait until the 1-minute load average is below this (0 = do not wait)")
    return ap.parse_args()


def wait_for_load(limit):
    if limit <= 0:
        return
    while os.getloadavg()[0] >= limit:
        print("# load %.2f >= %.2f, waiting 30 s" % (os.getloadavg()[0], limit), flush=True)
        time.sleep(30)


def run(cmd):
    """Run a command, return (wall seconds, stdout); fail loudly with its stderr."""
    t0 = time.perf_counter()
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")  # bfcr: BLAS single-threaded in OpenMP
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    dt = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit("command failed (exit %d): %s\n%s" % (p.returncode, " ".join(cmd), p.stderr))
    return dt, p.stdout


def split(args, name, data):
    a = os.path.join(args.work, name + "-train.csv")
    b = os.path.join(args.work, name + "-test.csv")
    run([args.bfcr, "split", data, "--train", a, "--test", b, "--test-fraction", "0.2",
         "--seed", "1"])
    return a, b


def timed(fn, repeats):
    """Median wall seconds of fn() over repeats calls, and the last call's result."""
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


class Peers:
    """The Python methods on one encoded train/test pair."""

    def __init__(self, args, Xtr, ytr, Xte, yte):
        import numpy as np
        self.np, self.args = np, args
        self.Xtr, self.ytr, self.Xte, self.yte = Xtr, ytr, Xte, yte
        mu, sd = Xtr.mean(0), Xtr.std(0)
        sd[sd == 0] = 1.0  # constant columns (e.g. a dummy absent from the training rows)
        self.Ztr, self.Zte = (Xtr - mu) / sd, (Xte - mu) / sd
        self.rng = np.random.default_rng(1)

    def rmse(self, p):
        return float(self.np.sqrt(self.np.mean((self.yte - p) ** 2)))

    def subsample(self, n, cap):
        if cap <= 0 or n <= cap:
            return None
        return self.np.sort(self.np.random.default_rng(1).choice(n, cap, replace=False))

    def linear(self):
        from sklearn.linear_model import LinearRegression
        fit_s, m = timed(lambda: LinearRegression().fit(self.Xtr, self.ytr), self.args.repeats)
        pred_s, p = timed(lambda: m.predict(self.Xte), self.args.repeats)
        return dict(rmse=self.rmse(p), fit=fit_s, predict=pred_s, select=0.0, note="")

    def _kmeans_lr(self, Z, X, y, k):
        """k-means on Z, one LinearRegression per cluster on (X, y); small clusters -> global."""
        from sklearn.cluster import KMeans
        from sklearn.linear_model import LinearRegression
        glob = LinearRegression().fit(X, y)
        if k == 1:
            return None, [glob], glob
        km = KMeans(n_clusters=k, n_init=self.args.kmeans_init, random_state=1).fit(Z)
        need = 2 * (X.shape[1] + 1)
        models = []
        for c in range(k):
            idx = km.labels_ == c
            models.append(LinearRegression().fit(X[idx], y[idx]) if idx.sum() >= need else glob)
        return km, models, glob

    def _kmeans_lr_predict(self, fitted, Z, X):
        km, models, glob = fitted
        if km is None:
            return glob.predict(X)
        lab = km.predict(Z)
        p = self.np.empty(len(X))
        for c in range(len(models)):
            idx = lab == c
            if idx.any():
                p[idx] = models[c].predict(X[idx])
        return p

    def kmeans_lr(self):
        np = self.np
        n, d = self.Xtr.shape
        t0 = time.perf_counter()
        sub = self.subsample(n, self.args.select_rows)
        rows = np.arange(n) if sub is None else sub
        perm = np.random.default_rng(1).permutation(rows)
        nv = len(perm) // 5
        va, tr = perm[:nv], perm[nv:]
        best = None
        for k in KMEANS_GRID:
            if k > 1 and len(tr) / k < 4 * (d + 1):
                break  # too few rows per cluster for a linear model of d features
            f = self._kmeans_lr(self.Ztr[tr], self.Xtr[tr], self.ytr[tr], k)
            p = self._kmeans_lr_predict(f, self.Ztr[va], self.Xtr[va])
            e = float(np.sqrt(np.mean((self.ytr[va] - p) ** 2)))
            if best is None or e < best[0]:
                best = (e, k)
        select_s = time.perf_counter() - t0
        k = best[1]
        fit_s, f = timed(lambda: self._kmeans_lr(self.Ztr, self.Xtr, self.ytr, k),
                         self.args.repeats)
        pred_s, p = timed(lambda: self._kmeans_lr_predict(f, self.Zte, self.Xte),
                          self.args.repeats)
        note = "k=%d" % k + ("" if sub is None else ", k searched on %d rows" % len(sub))
        return dict(rmse=self.rmse(p), fit=fit_s, predict=pred_s, select=select_s, note=note)

    def knn(self):
        from sklearn.model_selection import KFold
        from sklearn.neighbors import KNeighborsRegressor, NearestNeighbors
        np = self.np
        n = len(self.Ztr)
        t0 = time.perf_counter()
        sub = self.subsample(n, self.args.select_rows)
        rows = np.arange(n) if sub is None else sub
        grid = [k for k in KNN_GRID if k < 0.8 * len(rows)]
        sse = np.zeros(len(grid))
        # One neighbour query per fold with the largest k; every smaller k is a prefix.
        for a, b in KFold(5, shuffle=True, random_state=1).split(rows):
            tr, va = rows[a], rows[b]
            nn = NearestNeighbors(n_neighbors=grid[-1], n_jobs=self.args.threads)
            idx = nn.fit(self.Ztr[tr]).kneighbors(self.Ztr[va], return_distance=False)
            csum = np.cumsum(self.ytr[tr][idx], axis=1)
            for j, k in enumerate(grid):
                sse[j] += np.sum((self.ytr[va] - csum[:, k - 1] / k) ** 2)
        k = grid[int(np.argmin(sse))]
        select_s = time.perf_counter() - t0
        cap = self.subsample(n, self.args.knn_cap_rows)
        Z, y = (self.Ztr, self.ytr) if cap is None else (self.Ztr[cap], self.ytr[cap])
        fit_s, m = timed(lambda: KNeighborsRegressor(k, n_jobs=self.args.threads).fit(Z, y),
                         self.args.repeats)
        pred_s, p = timed(lambda: m.predict(self.Zte), self.args.repeats)
        note = "k=%d" % k
        if sub is not None:
            note += ", CV on %d rows" % len(sub)
        if cap is not None:
            note += ", SUBSAMPLED: trained on %d of %d rows" % (len(cap), n)
        return dict(rmse=self.rmse(p), fit=fit_s, predict=pred_s, select=select_s, note=note)

    def hgb(self):
        from sklearn.ensemble import HistGradientBoostingRegressor
        n = len(self.Xtr)
        cap = self.subsample(n, self.args.hgb_cap_rows)
        X, y = (self.Xtr, self.ytr) if cap is None else (self.Xtr[cap], self.ytr[cap])
        fit_s, m = timed(lambda: HistGradientBoostingRegressor(random_state=1).fit(X, y),
                         self.args.repeats)
        pred_s, p = timed(lambda: m.predict(self.Xte), self.args.repeats)
        note = "%d iterations" % m.n_iter_
        if cap is not None:
            note += ", SUBSAMPLED: trained on %d of %d rows" % (len(cap), n)
        return dict(rmse=self.rmse(p), fit=fit_s, predict=pred_s, select=0.0, note=note)

    def xgboost(self):
        from xgboost import XGBRegressor
        fit_s, m = timed(lambda: XGBRegressor(tree_method="hist", n_jobs=self.args.threads,
                                              random_state=1).fit(self.Xtr, self.ytr),
                         self.args.repeats)
        pred_s, p = timed(lambda: m.predict(self.Xte), self.args.repeats)
        return dict(rmse=self.rmse(p), fit=fit_s, predict=pred_s, select=0.0, note="defaults")


def bfcr_method(args, name, a, b, target):
    model = os.path.join(args.work, name + ".bfcr")
    pred = os.path.join(args.work, name + "-pred.csv")
    report = os.path.join(args.work, name + "-fit.json")
    fits, inproc, preds, fit_out, pred_out = [], [], [], "", ""
    for _ in range(args.repeats):
        dt, fit_out = run([args.bfcr, "fit", a, "--target", target, "-o", model,
                           "--threads", str(args.threads), "--report", report])
        fits.append(dt)
        with open(report) as f:
            inproc.append(json.load(f)["wall_seconds"])
        dt, pred_out = run([args.bfcr, "predict", model, b, "-o", pred, "--truth", target,
                            "--threads", str(args.threads)])
        preds.append(dt)
    m = re.search(r"RMSE ([-+0-9.eEinfa]+)", pred_out)
    lv = re.search(r"chosen level: (\d+) \(by (\w+)\), (\d+) clusters", fit_out)
    note = "level %s (%s), %s clusters" % lv.groups() if lv else ""
    # Process start-up (MPI singleton init) is a fixed cost that dominates small sets.
    note += "; fit in-process %.3g s" % statistics.median(inproc)
    return dict(rmse=float(m.group(1)), fit=statistics.median(fits),
                predict=statistics.median(preds), select=0.0, note=note, pred_file=pred)


def load(a, b, target):
    import pandas as pd
    t0 = time.perf_counter()
    train, test = pd.read_csv(a), pd.read_csv(b)
    read_s = time.perf_counter() - t0
    feats = [c for c in train.columns if c != target]
    Xtr = pd.get_dummies(train[feats], dtype=float)
    Xte = pd.get_dummies(test[feats], dtype=float).reindex(columns=Xtr.columns, fill_value=0.0)
    return (Xtr.to_numpy(float), train[target].to_numpy(float), Xte.to_numpy(float),
            test[target].to_numpy(float), read_s)


def one_dataset(args, name, data, target):
    import numpy as np
    wait_for_load(args.max_load)
    a, b = split(args, name, data)
    Xtr, ytr, Xte, yte, read_s = load(a, b, target)
    methods = args.methods.split(",")
    peers = Peers(args, Xtr, ytr, Xte, yte)
    rows = []
    for meth in methods:
        wait_for_load(args.max_load)
        if meth == "bfcr":
            r = bfcr_method(args, name, a, b, target)
            # Cross-check the RMSE bfcr prints against its predictions file.
            import pandas as pd
            p = pd.read_csv(r.pop("pred_file"))["prediction"].to_numpy(float)
            own = float(np.sqrt(np.mean((yte - p) ** 2)))
            if abs(own - r["rmse"]) > 1e-5 * max(1.0, own):
                r["note"] += " (RMSE from predictions file: %.6g)" % own
        else:
            r = getattr(peers, meth.replace("+lr", "_lr"))()
        r["method"] = meth
        rows.append(r)
        print("#   %-10s %-10s RMSE %.6g  fit %.3g s  predict %.3g s  select %.3g s  %s" % (
            name, meth, r["rmse"], r["fit"], r["predict"], r["select"], r["note"]), flush=True)
    title = "%s: %d train / %d test rows, %d features after one-hot, target %s, read s %.3f" % (
        name, len(ytr), len(yte), Xtr.shape[1], target, read_s)
    return title, rows


def table(title, rows):
    lines = ["", "### " + title, "",
             "| method | test RMSE | fit s | predict s | select s | notes |",
             "|---|---:|---:|---:|---:|---|"]
    for r in rows:
        lines.append("| %s | %.6g | %.3g | %.3g | %s | %s |" % (
            r["method"], r["rmse"], r["fit"], r["predict"],
            "%.3g" % r["select"] if r["select"] else "-", r["note"]))
    return "\n".join(lines)


def main():
    args = parse_args()
    # Python libraries get the same thread count as bfcr (read when they first start).
    os.environ["OMP_NUM_THREADS"] = str(args.threads)
    os.environ["OPENBLAS_NUM_THREADS"] = str(args.threads)
    os.makedirs(args.work, exist_ok=True)
    jobs = []
    for name in filter(None, args.sets.split(",")):
        jobs.append((name, os.path.join(args.datasets, name + ".csv"), TARGETS[name]))
    for n in filter(None, args.synthetic.split(",")):
        n = int(n)
        data = os.path.join(args.work, "synth-%d.csv" % n)
        if not os.path.exists(data):
            run([args.bfcr, "gen", "-o", data, "--n", str(n), "--d", "8", "--clusters", "16",
                 "--seed", "1"])
        jobs.append(("synth-%d" % n, data, "y"))
    print("# peers.py: %d threads, %d repeat(s), bfcr %s" % (args.threads, args.repeats,
                                                             args.bfcr), flush=True)
    out = []
    for name, data, target in jobs:
        title, rows = one_dataset(args, name, data, target)
        out.append(table(title, rows))
        print(out[-1], flush=True)


if __name__ == "__main__":
    main()
