#!/usr/bin/python3
"""Accuracy benchmark: test RMSE of bfcr (the application, default settings or --bfcr-args)
beside xgboost, random forest, HistGradientBoosting, k-means + per-cluster linear, global
ridge and global least squares, on one seeded 80/20 split per dataset.

Datasets, in two groups:
  shipped   datasets/*.csv (diamonds, boston, concrete, txhousing, cps1988, diabetes) and
            datasets/paper/cal_housing.csv, datasets/paper/CASP.csv: bfcr's defaults were
            chosen on validation splits of the first six;
  aside     sets the defaults were never chosen on: make_friedman1/2/3 (scikit-learn,
            seeded, Friedman's noise levels), a linear set (make_regression), and the
            statsmodels data sets fair (affairs) and randhie (mdvis) when python3-statsmodels
            is installed (they ship inside that package; skipped with a note otherwise).

Split: the data rows of each CSV are permuted with numpy's default_rng(--seed) and the first
20% (rounded down) become the test file, the rest the training file; the lines are copied as
text, so bfcr and the Python contenders read exactly the same values. Files go to --work.

Contenders (no one sees the test rows before predicting them; "inner validation" is a
seeded 20% part of the training rows):
  bfcr       `bfcr fit TRAIN --target T -o M --threads N [--bfcr-args]`, then
             `bfcr predict M TEST -o P --threads N`; the RMSE is computed from P
  ols        LinearRegression on the one-hot encoded features
  ridge      StandardScaler + RidgeCV (alphas 1e-6 .. 1e6, 25 values, efficient LOO)
  kmeans+lr  k-means (n_init 3) on z-scores, one LinearRegression per cluster (clusters below
             2 (p + 1) rows use the global model); k from {2, 4, 8, 16, 32} (those leaving at
             least 4 (p + 1) rows per cluster) by the inner validation RMSE, then refit on all
             training rows
  hgb        HistGradientBoostingRegressor(random_state=1), defaults
  rf         RandomForestRegressor(300 trees, random_state=1)
  xgboost    XGBRegressor(tree_method="hist", n_estimators 500, learning_rate 0.05, max_depth
             6, random_state 1), early stopping (50 rounds) on the inner validation part, then
             refit on all training rows with the best number of rounds
Text columns: one-hot encoded for the Python contenders into the same columns as bfcr's CSV
reader makes (one 0/1 column per category of the training rows; unseen test categories give
all zeros); bfcr reads the text columns itself. The Python side runs with OMP_WAIT_POLICY=PASSIVE
(unless set): on a loaded machine, threads spinning at OpenMP barriers made small HistGB and
xgboost fits take seconds. bfcr's processes get the environment as it was.

Peer results are cached in --work/peers-cache.json (key: dataset, contender, training file
sha256, quick flag) so that re-running bfcr alone is quick; --no-cache recomputes them. bfcr is
never cached.

Outputs: --out-csv (long format: one row per dataset x contender) and --out-md (markdown:
datasets, RMSE table with bfcr's ratios, geometric means per group, flags where bfcr is
worse than the better global linear model by more than 1%).

Second mode, --diamonds-cv: 5-fold CV (KFold shuffle, random_state --seed) of diamonds' 80%
training file with bfcr (--bfcr-args as given, default settings otherwise) and the global
least-squares model: per fold the RMSE and the worst absolute error of each. Targets: every
bfcr fold RMSE <= 700 and bfcr's worst error <= the global model's worst error on that fold.

Usage:
  /usr/bin/python3 bench/compare/accuracy_peers.py [--bfcr build/bin/bfcr] [--bfcr-args '...']
      [--datasets diamonds,friedman1,...] [--contenders bfcr,ols,...] [--quick] [--no-cache]
  /usr/bin/python3 bench/compare/accuracy_peers.py --diamonds-cv [--bfcr-args '...']
"""
import argparse
import csv
import hashlib
import json
import math
import os
import shlex
import subprocess
import sys
import time
import types

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # no __pycache__ left in the source tree
import peers  # noqa: E402  (load(): pandas read + one-hot; Peers: OLS, HGB, k-means + linear)

# name -> (group, source, target); source is a path relative to ROOT or "gen:" / "sm:".
DATASETS = {
    "diamonds": ("shipped", "datasets/diamonds.csv", "price"),
    "boston": ("shipped", "datasets/boston.csv", "medv"),
    "concrete": ("shipped", "datasets/concrete.csv", "compressive_strength"),
    "txhousing": ("shipped", "datasets/txhousing.csv", "median"),
    "cps1988": ("shipped", "datasets/cps1988.csv", "wage"),
    "diabetes": ("shipped", "datasets/diabetes.csv", "progression"),
    "cal_housing": ("shipped", "datasets/paper/cal_housing.csv", "median_house_value"),
    "CASP": ("shipped", "datasets/paper/CASP.csv", "RMSD"),
    "friedman1": ("aside", "gen:friedman1", "y"),
    "friedman2": ("aside", "gen:friedman2", "y"),
    "friedman3": ("aside", "gen:friedman3", "y"),
    "linear10": ("aside", "gen:linear10", "y"),
    "fair": ("aside", "sm:fair", "affairs"),
    "randhie": ("aside", "sm:randhie", "mdvis"),
}
CONTENDERS = ["bfcr", "ols", "ridge", "kmeans+lr", "hgb", "rf", "xgboost"]
ENSEMBLES = ["xgboost", "rf", "hgb"]
KMEANS_GRID = [2, 4, 8, 16, 32]
ORIG_WAIT_POLICY = os.environ.get("OMP_WAIT_POLICY")


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bfcr", default=os.path.join(ROOT, "build", "bin", "bfcr"))
    ap.add_argument("--bfcr-args", default="", help="extra `bfcr fit` flags (one string)")
    ap.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated names")
    ap.add_argument("--contenders", default=",".join(CONTENDERS))
    ap.add_argument("--quick", action="store_true",
                    help="smaller generated sets (5000 rows), rf 100 trees, xgboost "
                         "learning rate 0.1 / 250 rounds, k-means n_init 1")
    ap.add_argument("--threads", type=int, default=2, help="bfcr --threads and n_jobs")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--work", default="/tmp/bfcr-accuracy", help="splits, models, cache")
    ap.add_argument("--out-csv", default=None, help="default WORK/accuracy.csv")
    ap.add_argument("--out-md", default=None, help="default WORK/accuracy.md")
    ap.add_argument("--no-cache", action="store_true", help="recompute the peers")
    ap.add_argument("--diamonds-cv", action="store_true", help="the diamonds 5-fold CV mode")
    ap.add_argument("--folds", type=int, default=5, help="--diamonds-cv folds")
    return ap.parse_args()


# ---------------------------------------------------------------- data and split

def generated(name, n, seed, path):
    """Write a scikit-learn generated set as CSV (%.17g round-trips)."""
    import numpy as np
    from sklearn import datasets as skd
    if name == "friedman1":
        X, y = skd.make_friedman1(n_samples=n, n_features=10, noise=1.0, random_state=seed)
    elif name == "friedman2":
        X, y = skd.make_friedman2(n_samples=n, noise=125.0, random_state=seed)
    elif name == "friedman3":
        X, y = skd.make_friedman3(n_samples=n, noise=0.1, random_state=seed)
    elif name == "linear10":
        X, y = skd.make_regression(n_samples=n, n_features=10, n_informative=6, noise=10.0,
                                   random_state=seed)
    else:
        raise KeyError(name)
    d = X.shape[1]
    np.savetxt(path, np.column_stack([X, y]), fmt="%.17g", delimiter=",", comments="",
               header=",".join(["x%d" % j for j in range(d)] + ["y"]))


def statsmodels_set(name, path):
    """A statsmodels data set (shipped inside python3-statsmodels) as CSV; None if absent."""
    try:
        from statsmodels import datasets as smd
    except ImportError:
        return None
    df = getattr(smd, name).load_pandas().data
    df.to_csv(path, index=False, float_format="%.17g")
    return path


def source_file(args, name):
    group, src, target = DATASETS[name]
    if src.startswith("gen:"):
        n = 5000 if args.quick else 10000
        path = os.path.join(args.work, "%s-%d-seed%d.csv" % (name, n, args.seed))
        if not os.path.exists(path):
            generated(src[4:], n, args.seed, path)
        return path
    if src.startswith("sm:"):
        path = os.path.join(args.work, name + ".csv")
        if os.path.exists(path):
            return path
        return statsmodels_set(src[3:], path)
    path = os.path.join(ROOT, src)
    return path if os.path.exists(path) else None


def split_lines(path, frac, seed, train_path, test_path):
    """Seeded split of the data lines of a CSV (copied as text): the first floor(frac * n)
    rows of a default_rng(seed) permutation are the test rows, both files keep file order."""
    import numpy as np
    with open(path, newline="") as f:
        header, *rows = f.read().splitlines()
    rows = [r for r in rows if r]
    perm = np.random.default_rng(seed).permutation(len(rows))
    test = np.zeros(len(rows), bool)
    test[perm[:int(frac * len(rows))]] = True
    for p, want in ((train_path, False), (test_path, True)):
        with open(p + ".tmp", "w") as f:
            f.write(header + "\n")
            f.writelines(r + "\n" for r, t in zip(rows, test) if t == want)
        os.replace(p + ".tmp", p)
    return len(rows) - int(test.sum()), int(test.sum())


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


# ---------------------------------------------------------------- contenders

def run_bfcr(args, name, train, test, target):
    """bfcr fit + predict; returns (rmse, seconds, note, predictions or None)."""
    import numpy as np
    import pandas as pd
    model = os.path.join(args.work, name + ".bfcr")
    pred = os.path.join(args.work, name + "-pred.csv")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    if ORIG_WAIT_POLICY is None:  # the passive wait set for the Python side only
        env.pop("OMP_WAIT_POLICY", None)
    t0 = time.perf_counter()
    fit = subprocess.run([args.bfcr, "fit", train, "--target", target, "-o", model,
                          "--threads", str(args.threads)] + shlex.split(args.bfcr_args),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    if fit.returncode != 0:
        return math.nan, time.perf_counter() - t0, "FIT FAILED: " + fit.stderr.strip()[-200:], None
    prd = subprocess.run([args.bfcr, "predict", model, test, "-o", pred,
                          "--threads", str(args.threads)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    dt = time.perf_counter() - t0
    if prd.returncode != 0:
        return math.nan, dt, "PREDICT FAILED: " + prd.stderr.strip()[-200:], None
    p = pd.read_csv(pred)["prediction"].to_numpy(float)
    y = pd.read_csv(test)[target].to_numpy(float)
    note = ""
    for line in fit.stdout.splitlines():
        if line.startswith("chosen level"):
            note = line.replace("chosen level: ", "level ")
    return float(np.sqrt(np.mean((y - p) ** 2))), dt, note, p


class Python:
    """The Python contenders on one encoded train/test pair."""

    def __init__(self, args, Xtr, ytr, Xte, yte):
        import numpy as np
        self.np, self.args = np, args
        self.quick = args.quick
        ns = types.SimpleNamespace(repeats=1, kmeans_init=1 if args.quick else 3,
                                   select_rows=0, threads=args.threads, hgb_cap_rows=0)
        self.p = peers.Peers(ns, Xtr, ytr, Xte, yte)
        self.Xtr, self.ytr, self.Xte, self.yte = Xtr, ytr, Xte, yte
        perm = np.random.default_rng(args.seed).permutation(len(ytr))
        nv = len(ytr) // 5
        self.va, self.tr = np.sort(perm[:nv]), np.sort(perm[nv:])

    def rmse(self, y, p):
        return float(self.np.sqrt(self.np.mean((y - p) ** 2)))

    def ols(self):
        from sklearn.linear_model import LinearRegression
        m = LinearRegression().fit(self.Xtr, self.ytr)
        return self.rmse(self.yte, m.predict(self.Xte)), ""

    def ridge(self):
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler
        m = make_pipeline(StandardScaler(), RidgeCV(alphas=self.np.logspace(-6, 6, 25)))
        m.fit(self.Xtr, self.ytr)
        return self.rmse(self.yte, m.predict(self.Xte)), "alpha %.3g" % m[-1].alpha_

    def kmeans_lr(self):
        p, tr, va = self.p, self.tr, self.va
        d = self.Xtr.shape[1]
        best = None
        for k in KMEANS_GRID:
            if k > KMEANS_GRID[0] and len(tr) / k < 4 * (d + 1):
                break  # too few rows per cluster for a linear model of d features
            f = p._kmeans_lr(p.Ztr[tr], self.Xtr[tr], self.ytr[tr], k)
            e = self.rmse(self.ytr[va], p._kmeans_lr_predict(f, p.Ztr[va], self.Xtr[va]))
            if best is None or e < best[0]:
                best = (e, k)
        f = p._kmeans_lr(p.Ztr, self.Xtr, self.ytr, best[1])
        return self.rmse(self.yte, p._kmeans_lr_predict(f, p.Zte, self.Xte)), "k=%d" % best[1]

    def hgb(self):
        from sklearn.ensemble import HistGradientBoostingRegressor
        m = HistGradientBoostingRegressor(random_state=1).fit(self.Xtr, self.ytr)
        return self.rmse(self.yte, m.predict(self.Xte)), "%d iterations" % m.n_iter_

    def rf(self):
        from sklearn.ensemble import RandomForestRegressor
        trees = 100 if self.quick else 300
        m = RandomForestRegressor(n_estimators=trees, random_state=1,
                                  n_jobs=self.args.threads).fit(self.Xtr, self.ytr)
        return self.rmse(self.yte, m.predict(self.Xte)), "%d trees" % trees

    def xgboost(self):
        from xgboost import XGBRegressor
        lr, rounds = (0.1, 250) if self.quick else (0.05, 500)
        kw = dict(tree_method="hist", learning_rate=lr, max_depth=6, random_state=1,
                  n_jobs=self.args.threads)
        tr, va = self.tr, self.va
        m = XGBRegressor(n_estimators=rounds, early_stopping_rounds=50, **kw)
        m.fit(self.Xtr[tr], self.ytr[tr], eval_set=[(self.Xtr[va], self.ytr[va])], verbose=False)
        best = m.best_iteration + 1
        m = XGBRegressor(n_estimators=best, **kw).fit(self.Xtr, self.ytr)
        return self.rmse(self.yte, m.predict(self.Xte)), "%d rounds (lr %g)" % (best, lr)


# ---------------------------------------------------------------- benchmark mode

def load_cache(args):
    path = os.path.join(args.work, "peers-cache.json")
    if args.no_cache or not os.path.exists(path):
        return path, {}
    with open(path) as f:
        return path, json.load(f)


def benchmark(args):
    names = [s for s in args.datasets.split(",") if s]
    contenders = [c for c in args.contenders.split(",") if c]
    for s in names:
        if s not in DATASETS:
            sys.exit("unknown dataset %s (known: %s)" % (s, ",".join(DATASETS)))
    for c in contenders:
        if c not in CONTENDERS:
            sys.exit("unknown contender %s (known: %s)" % (c, ",".join(CONTENDERS)))
    cache_path, cache = load_cache(args)
    results, info, skipped, cached = [], [], [], 0
    t_all = time.perf_counter()
    for name in names:
        group, _, target = DATASETS[name]
        src = source_file(args, name)
        if src is None:
            skipped.append(name)
            print("# %s: data not available, skipped" % name, flush=True)
            continue
        train = os.path.join(args.work, name + "-train.csv")
        test = os.path.join(args.work, name + "-test.csv")
        ntr, nte = split_lines(src, 0.2, args.seed, train, test)
        Xtr, ytr, Xte, yte, _ = peers.load(train, test, target)
        info.append(dict(dataset=name, group=group, n_train=ntr, n_test=nte, d=Xtr.shape[1],
                         target=target))
        key0 = "%s|%s|%s" % (name, sha256(train)[:16], "quick" if args.quick else "full")
        py = None
        for c in contenders:
            key = key0 + "|" + c
            t0 = time.perf_counter()
            hit = c != "bfcr" and key in cache
            if c == "bfcr":
                rmse, secs, note, _ = run_bfcr(args, name, train, test, target)
            elif hit:
                rmse, secs, note = cache[key]["rmse"], cache[key]["seconds"], cache[key]["note"]
                cached += 1
            else:
                if py is None:
                    py = Python(args, Xtr, ytr, Xte, yte)
                rmse, note = getattr(py, c.replace("+lr", "_lr"))()
                secs = time.perf_counter() - t0
                cache[key] = dict(rmse=rmse, seconds=secs, note=note)
                with open(cache_path + ".tmp", "w") as f:
                    json.dump(cache, f, indent=0, sort_keys=True)
                os.replace(cache_path + ".tmp", cache_path)
            results.append(dict(group=group, dataset=name, n_train=ntr, n_test=nte,
                                d=Xtr.shape[1], contender=c, rmse=rmse, seconds=secs,
                                note=note))
            print("# %-12s %-10s RMSE %-12.6g %7.2f s  %s%s" % (
                name, c, rmse, secs, note, " (cached)" if hit else ""),
                flush=True)
    total = time.perf_counter() - t_all
    out_csv = args.out_csv or os.path.join(args.work, "accuracy.csv")
    out_md = args.out_md or os.path.join(args.work, "accuracy.md")
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(results[0]) if results else ["dataset"])
        w.writeheader()
        for r in results:
            w.writerow(dict(r, rmse="%.9g" % r["rmse"], seconds="%.3f" % r["seconds"]))
    md = markdown(args, info, results, contenders, skipped, total, cached)
    with open(out_md, "w") as f:
        f.write(md)
    print(md)
    print("# wrote %s and %s (%.0f s)" % (out_csv, out_md, total))


def geomean(xs):
    xs = [x for x in xs if x == x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


def fmt(x):
    if x != x:
        return "-"
    return "%.0f" % x if abs(x) >= 1000 else "%.4g" % x


def markdown(args, info, results, contenders, skipped, total, cached):
    R = {(r["dataset"], r["contender"]): r["rmse"] for r in results}
    ver = subprocess.run([args.bfcr, "version"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout.strip()
    L = ["# Accuracy beside the peers", "",
         "bfcr: `%s` (%s), fit flags: `%s`; seed %d%s; %.0f s in all; load at the end %s." % (
             os.path.relpath(args.bfcr, ROOT) if args.bfcr.startswith(ROOT) else args.bfcr,
             ver or "?", args.bfcr_args or "(defaults)", args.seed,
             ", --quick" if args.quick else "", total,
             " ".join("%.2f" % x for x in os.getloadavg())), ""]
    if cached:
        L += ["%d peer results were taken from the cache (same split file, same settings)."
              % cached, ""]
    if skipped:
        L += ["Skipped (data not available): %s." % ", ".join(skipped), ""]
    L += ["| dataset | group | train rows | test rows | features (one-hot) | target |",
          "|---|---|---:|---:|---:|---|"]
    for i in info:
        L.append("| %s | %s | %d | %d | %d | %s |" % (i["dataset"], i["group"], i["n_train"],
                                                       i["n_test"], i["d"], i["target"]))
    have = set(contenders)
    ratios = []  # (dataset, group, bfcr/ols, bfcr/ridge, bfcr/best ensemble, bfcr/kmeans+lr)
    L += ["", "Test RMSE (lowest in bold). lin = the better of ols and ridge; ens = the best of "
          "xgboost / rf / hgb.", "",
          "| dataset | " + " | ".join(contenders) + " | bfcr/ols | bfcr/lin | bfcr/ens | flag |",
          "|---|" + "---:|" * len(contenders) + "---:|---:|---:|---|"]
    for i in info:
        ds = i["dataset"]
        vals = [R.get((ds, c), math.nan) for c in contenders]
        low = min((v for v in vals if v == v), default=math.nan)
        cells = ["**%s**" % fmt(v) if v == low else fmt(v) for v in vals]
        b = R.get((ds, "bfcr"), math.nan)
        lin = min((R[(ds, c)] for c in ("ols", "ridge") if (ds, c) in R), default=math.nan)
        ens = min((R[(ds, c)] for c in ENSEMBLES if (ds, c) in R), default=math.nan)
        km = R.get((ds, "kmeans+lr"), math.nan)
        ro, rl, re_, rk = b / R.get((ds, "ols"), math.nan), b / lin, b / ens, b / km
        flag = "WORSE THAN LINEAR by %.1f%%" % (100 * (rl - 1)) if rl > 1.01 else ""
        ratios.append((ds, i["group"], ro, rl, re_, rk))
        L.append("| %s | %s | %s | %s | %s | %s |" % (ds, " | ".join(cells), fmt(ro), fmt(rl),
                                                       fmt(re_), flag))
    if "bfcr" in have:
        L += ["", "Geometric mean of bfcr's RMSE ratio per group:", "",
              "| group | sets | bfcr/ols | bfcr/lin | bfcr/kmeans+lr | bfcr/ens | sets worse "
              "than lin by > 1% |", "|---|---:|---:|---:|---:|---:|---|"]
        for g, label in (("shipped", "(a) shipped + paper"), ("aside", "(b) kept aside"),
                         (None, "all")):
            rs = [r for r in ratios if g is None or r[1] == g]
            if not rs:
                continue
            bad = ["%s (+%.1f%%)" % (r[0], 100 * (r[3] - 1)) for r in rs if r[3] > 1.01]
            L.append("| %s | %d | %s | %s | %s | %s | %s |" % (
                label, len(rs), fmt(geomean(r[2] for r in rs)), fmt(geomean(r[3] for r in rs)),
                fmt(geomean(r[5] for r in rs)), fmt(geomean(r[4] for r in rs)),
                ", ".join(bad) or "none"))
    if any(c in have for c in ENSEMBLES):
        L += ["", "Geometric mean of every contender's RMSE / the best ensemble's, per group:",
              "", "| group | " + " | ".join(contenders) + " |",
              "|---|" + "---:|" * len(contenders)]
        for g, label in (("shipped", "(a) shipped + paper"), ("aside", "(b) kept aside"),
                         (None, "all")):
            ds = [i["dataset"] for i in info if g is None or i["group"] == g]
            if not ds:
                continue
            ens = {d: min((R[(d, c)] for c in ENSEMBLES if (d, c) in R)) for d in ds}
            L.append("| %s | %s |" % (label, " | ".join(
                fmt(geomean(R.get((d, c), math.nan) / ens[d] for d in ds)) for c in contenders)))
    L += ["", "Notes per run (choices made on the training rows):", ""]
    for i in info:
        notes = ["%s: %s" % (r["contender"], r["note"]) for r in results
                 if r["dataset"] == i["dataset"] and r["note"]]
        L.append("- %s: %s" % (i["dataset"], "; ".join(notes)))
    return "\n".join(L) + "\n"


# ---------------------------------------------------------------- diamonds CV mode

def diamonds_cv(args):
    import numpy as np
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold
    target = "price"
    train = os.path.join(args.work, "diamonds-train.csv")
    test = os.path.join(args.work, "diamonds-test.csv")
    split_lines(os.path.join(ROOT, "datasets/diamonds.csv"), 0.2, args.seed, train, test)
    with open(train) as f:
        header, *rows = f.read().splitlines()
    t_all = time.perf_counter()
    out = []
    folds = KFold(args.folds, shuffle=True, random_state=args.seed).split(np.arange(len(rows)))
    for k, (a, b) in enumerate(folds):
        ftr = os.path.join(args.work, "diamonds-cv%d-train.csv" % k)
        fva = os.path.join(args.work, "diamonds-cv%d-val.csv" % k)
        for path, idx in ((ftr, a), (fva, b)):
            with open(path, "w") as f:
                f.write(header + "\n")
                f.writelines(rows[i] + "\n" for i in idx)
        rmse, secs, note, p = run_bfcr(args, "diamonds-cv%d" % k, ftr, fva, target)
        Xtr, ytr, Xva, yva, _ = peers.load(ftr, fva, target)
        q = LinearRegression().fit(Xtr, ytr).predict(Xva)
        lin_rmse = float(np.sqrt(np.mean((yva - q) ** 2)))
        lin_worst = float(np.max(np.abs(yva - q)))
        if p is None:
            worst, at = math.nan, (math.nan, math.nan)
        else:
            e = np.abs(yva - p)
            j = int(np.argmax(e))
            worst, at = float(e[j]), (float(yva[j]), float(p[j]))
        ok = rmse <= 700 and worst <= lin_worst
        out.append(dict(fold=k + 1, n_train=len(a), n_val=len(b), bfcr_rmse=rmse,
                        linear_rmse=lin_rmse, bfcr_worst=worst, linear_worst=lin_worst,
                        worst_true=at[0], worst_pred=at[1], seconds=secs, note=note,
                        ok="yes" if ok else "NO"))
        print("# fold %d: bfcr RMSE %.6g (worst |err| %.6g: true %.6g predicted %.6g), linear "
              "RMSE %.6g (worst %.6g), %.1f s, %s" % (k + 1, rmse, worst, at[0], at[1],
                                                      lin_rmse, lin_worst, secs, note),
              flush=True)
    total = time.perf_counter() - t_all
    out_csv = args.out_csv or os.path.join(args.work, "diamonds-cv.csv")
    out_md = args.out_md or os.path.join(args.work, "diamonds-cv.md")
    with open(out_csv, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(out[0]))
        w.writeheader()
        w.writerows(out)
    ver = subprocess.run([args.bfcr, "version"], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, text=True).stdout.strip()
    L = ["# diamonds: %d-fold CV of the 80%% training part" % args.folds, "",
         "%s, fit flags `%s`, seed %d; %.0f s in all; load at the end %s." % (
             ver or "?", args.bfcr_args or "(defaults)", args.seed, total,
             " ".join("%.2f" % x for x in os.getloadavg())), "",
         "| fold | train / held-out rows | bfcr RMSE | linear RMSE | bfcr worst abs error "
         "(true -> predicted) | linear worst abs error | RMSE <= 700 and worst <= linear's |",
         "|---:|---:|---:|---:|---:|---:|---|"]
    for r in out:
        L.append("| %d | %d / %d | %s | %s | %s (%s -> %s) | %s | %s |" % (
            r["fold"], r["n_train"], r["n_val"], fmt(r["bfcr_rmse"]), fmt(r["linear_rmse"]),
            fmt(r["bfcr_worst"]), fmt(r["worst_true"]), fmt(r["worst_pred"]),
            fmt(r["linear_worst"]), r["ok"]))
    L += ["", "Target met on %d of %d folds; bfcr notes: %s" % (
        sum(r["ok"] == "yes" for r in out), len(out), "; ".join(r["note"] for r in out))]
    md = "\n".join(L) + "\n"
    with open(out_md, "w") as f:
        f.write(md)
    print(md)
    print("# wrote %s and %s (%.0f s)" % (out_csv, out_md, total))


def main():
    args = parse_args()
    args.bfcr = os.path.abspath(args.bfcr)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    # On a loaded machine, OpenMP threads spinning at barriers (HGB, xgboost) made small fits
    # take seconds; read when the OpenMP runtime starts, i.e. at the first sklearn import.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.makedirs(args.work, exist_ok=True)
    if args.diamonds_cv:
        diamonds_cv(args)
    else:
        benchmark(args)


if __name__ == "__main__":
    main()
