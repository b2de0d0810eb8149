#!/usr/bin/python3
"""Stacking over levels and a committee of neighbouring levels, on top of bfcr's default.

Measures, with bfcr's command line only, two ways of using neighbouring levels that the
library does not implement (issue 12, item 2; docs/accuracy.md, "What was not done"):

  stack     Breiman's stacked regression (Machine Learning 24, 1996) over the levels:
            the members are the hard-routed ridge models of every level l = 1..T of the
            tree (`bfcr fit TRAIN --level l --shrink off`; with a fixed --level the fit
            runs no CV, no shrinkage and no kernel candidates, so each member is what the
            level-selection CV scores as its level-l candidate: ridge, routing by nearest
            training row, the small-cluster rule and the guard as the default has them).
            Their weights are non-negative, without intercept (scipy.optimize.nnls),
            fitted on out-of-fold predictions of an inner K-fold of the TRAINING part only
            (--inner-folds, default 5, folds from numpy default_rng(seed + 1000)): for each
            inner fold the members are fitted on the other folds and predict it. Then every
            member is refitted on the whole training part and the weighted sum predicts
            the test part. Inner trees may have another number of levels T' than the
            training part's T: member l uses inner level min(l, T'), and the top member
            (one global model) always uses the inner top.
  stack+def the same with two more members: the ridge-only default model
            (`--select-regressors ridge`: CV level choice and hierarchical shrinkage) and
            the default model (ridge + kernel ridge candidates), each fitted per inner fold
            as well (without --no-krr-default; with it, the ridge default only).
  committee the plain mean of the hard-routed ridge models of the ridge default's chosen
            level L and its neighbours L - 1 and L + 1 (those that exist, levels 1..T).
  def+nbrs  the plain mean of the default's predictions and the hard-routed ridge models of
            levels D - 1 and D + 1 (D = the default's chosen level; those that exist).

  Blending the k nearest clusters' models by distance is NOT computed: `bfcr predict`
  applies only the model of the cluster a row is routed to, and neither `bfcr tree
  --json` nor `--report` exposes per-cluster coefficients or centroids, so another
  cluster's prediction for a row cannot be obtained from the command line.

References on the same split: the default (`bfcr fit TRAIN`, ridge + kernel ridge
candidates), the ridge-only default, the best single level by TEST RMSE (an oracle: it
peeks, an upper bound for any level choice) and the level of lowest inner-CV RMSE (honest).
Inner-CV RMSEs are also given: the ridge default's, and the stack's with nested weights
(for inner fold k the NNLS weights come from the other folds' out-of-fold rows), so "keep
the stack when its CV beats the default's" can be judged without the test rows ("cv pick").

Split: accuracy_peers.py's split_lines (numpy default_rng(seed) permutation, the first 20%
test), seeds --first-seed (default 1) .. --first-seed + --seeds - 1. Runs bfcr with
OPENBLAS_NUM_THREADS=1 and --threads (default 1).

Usage:
  /usr/bin/python3 bench/compare/level_committees.py [--bfcr build/bin/bfcr]
      [--datasets boston,concrete,...] [--seeds N] [--inner-folds K] [--no-krr-default]
      [--work /tmp/bfcr-levels] [--out-md FILE] [--out-json FILE]
Runtime per split (one thread, measured under load average 10-30 on 2 shared cores, so
inflated): boston, diabetes ~35 s, concrete ~70 s, txhousing ~70 s, CASP ~70 s, cal_housing
~90 s, cps1988 ~110 s, diamonds ~200 s: (T + 2 + [default]) x (K + 1) fits of the
training part's size, T = 4..8 levels; the default fits (kernel candidates, a budget of
about 10 estimated seconds each) are a large part. The 8 sets x 1 seed took 665 s.
Documented results: docs/accuracy.md, "Stacking over levels, committees of neighbouring
levels".
"""
import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import accuracy_peers  # noqa: E402  (DATASETS, split_lines: the same split as the peers)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy.optimize import nnls  # noqa: E402


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bfcr", default=os.path.join(ROOT, "build", "bin", "bfcr"))
    ap.add_argument("--datasets", default="boston,concrete,diabetes,txhousing,cps1988,"
                    "cal_housing,diamonds,CASP")
    ap.add_argument("--seeds", type=int, default=1, help="splits with seeds F..F+N-1")
    ap.add_argument("--first-seed", type=int, default=1, help="F")
    ap.add_argument("--inner-folds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-krr-default", action="store_true",
                    help="skip the default fit with kernel candidates (ridge default only)")
    ap.add_argument("--work", default="/tmp/bfcr-levels")
    ap.add_argument("--out-md", default=None, help="default WORK/level_committees.md")
    ap.add_argument("--out-json", default=None, help="default WORK/level_committees.json")
    ap.add_argument("--from-json", default=None,
                    help="comma-separated result files of earlier runs: no fits, only the tables")
    return ap.parse_args()


ENV = dict(os.environ, OPENBLAS_NUM_THREADS="1")


def run(cmd):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV)
    if r.returncode != 0:
        sys.exit("failed: %s\n%s" % (" ".join(shlex.quote(c) for c in cmd), r.stderr[-2000:]))
    return r.stdout


class Bfcr:
    def __init__(self, args, work):
        self.exe, self.threads, self.work = args.bfcr, str(args.threads), work
        self.fits, self.fit_s = 0, 0.0

    def fit_predict(self, train, target, tests, flags, tag):
        """Fit on train with flags, predict every file of tests; returns (report, [preds])."""
        model = os.path.join(self.work, tag + ".bfcr")
        rep = os.path.join(self.work, tag + ".json")
        t0 = time.perf_counter()
        run([self.exe, "fit", train, "--target", target, "-o", model, "--threads",
             self.threads, "--report", rep] + flags)
        self.fits += 1
        self.fit_s += time.perf_counter() - t0
        with open(rep) as f:
            report = json.load(f)
        preds = []
        for te in tests:
            out = os.path.join(self.work, tag + "-pred.csv")
            run([self.exe, "predict", model, te, "-o", out, "--threads", self.threads])
            preds.append(pd.read_csv(out)["prediction"].to_numpy(float))
        os.remove(model)
        return report, preds


def top_level(report):
    return len(report["levels"]) - 1


def rmse(y, p):
    return float(np.sqrt(np.mean((y - p) ** 2)))


def write_rows(header, rows, idx, path):
    with open(path, "w") as f:
        f.write(header + "\n")
        f.writelines(rows[i] + "\n" for i in idx)


def nested_stack_cv(P, y, fold):
    """Out-of-fold predictions of the stack itself: fold k's rows weighted by NNLS weights
    fitted on the other folds' out-of-fold member predictions."""
    out = np.empty_like(y)
    for k in np.unique(fold):
        w, _ = nnls(P[fold != k], y[fold != k])
        out[fold == k] = P[fold == k] @ w
    return out


def one_split(args, name, seed):
    group, src, target = accuracy_peers.DATASETS[name]
    src = os.path.join(ROOT, src)
    work = os.path.join(args.work, "%s-s%d" % (name, seed))
    os.makedirs(work, exist_ok=True)
    tr, te = os.path.join(work, "train.csv"), os.path.join(work, "test.csv")
    accuracy_peers.split_lines(src, 0.2, seed, tr, te)
    ytr = pd.read_csv(tr)[target].to_numpy(float)
    yte = pd.read_csv(te)[target].to_numpy(float)
    b = Bfcr(args, work)
    t0 = time.perf_counter()
    r = dict(dataset=name, seed=seed, n_train=len(ytr), n_test=len(yte))

    # Today's defaults on the split.
    pfull = None
    if not args.no_krr_default:
        rep, (pfull,) = b.fit_predict(tr, target, [te], [], "default")
        r["default"] = rmse(yte, pfull)
        r["default_regressor"] = rep["params"]["regressor"]
        r["default_level"] = rep["chosen_level"]
    rep, (pdef,) = b.fit_predict(tr, target, [te], ["--select-regressors", "ridge"], "ridge")
    r["ridge_default"] = rmse(yte, pdef)
    L, T = rep["chosen_level"], top_level(rep)
    r["L"], r["T"], r["shrink_lambda"] = L, T, rep["shrink"]["lambda"]
    if pfull is None:
        r["default"], r["default_regressor"], r["default_level"] = r["ridge_default"], "ridge", L
        pfull = pdef

    # Members on the whole training part, predicting the test part.
    levels = list(range(1, T + 1))
    Pte = np.column_stack([b.fit_predict(tr, target, [te], ["--level", str(l), "--shrink", "off"],
                                         "lev%d" % l)[1][0] for l in levels])
    r["level_rmse"] = [rmse(yte, Pte[:, j]) for j in range(T)]

    # Inner K-fold of the training part: out-of-fold member predictions.
    with open(tr) as f:
        header, *rows = f.read().splitlines()
    rows = [x for x in rows if x]
    K = args.inner_folds
    perm = np.random.default_rng(seed + 1000).permutation(len(rows))
    fold = np.empty(len(rows), int)
    fold[perm] = np.arange(len(rows)) % K
    Poof = np.empty((len(rows), T))
    pdef_oof = np.empty(len(rows))
    pfull_oof = np.empty(len(rows))
    inner_T = []
    itr, iva = os.path.join(work, "itrain.csv"), os.path.join(work, "ival.csv")
    for k in range(K):
        write_rows(header, rows, np.flatnonzero(fold != k), itr)
        write_rows(header, rows, np.flatnonzero(fold == k), iva)
        rep, (p,) = b.fit_predict(itr, target, [iva], ["--select-regressors", "ridge"], "iridge")
        pdef_oof[fold == k] = p
        if not args.no_krr_default:
            pfull_oof[fold == k] = b.fit_predict(itr, target, [iva], [], "idefault")[1][0]
        else:
            pfull_oof[fold == k] = p
        Tk = top_level(rep)
        inner_T.append(Tk)
        for j, l in enumerate(levels):
            lk = Tk if l == T else min(l, Tk)
            Poof[fold == k, j] = b.fit_predict(itr, target, [iva],
                                               ["--level", str(lk), "--shrink", "off"],
                                               "ilev")[1][0]
    os.remove(itr)
    os.remove(iva)
    r["inner_T"] = inner_T
    r["level_cv"] = [rmse(ytr, Poof[:, j]) for j in range(T)]
    r["ridge_default_cv"] = rmse(ytr, pdef_oof)
    r["default_cv"] = rmse(ytr, pfull_oof)

    # Stack over levels, and with the ridge default as one more member.
    w, _ = nnls(Poof, ytr)
    r["stack_w"] = w.tolist()
    r["stack"] = rmse(yte, Pte @ w)
    r["stack_cv"] = rmse(ytr, nested_stack_cv(Poof, ytr, fold))
    if args.no_krr_default:
        Q, Qte = np.column_stack([Poof, pdef_oof]), np.column_stack([Pte, pdef])
    else:
        Q = np.column_stack([Poof, pdef_oof, pfull_oof])
        Qte = np.column_stack([Pte, pdef, pfull])
    w2, _ = nnls(Q, ytr)
    r["stackdef_w"] = w2.tolist()
    r["stackdef"] = rmse(yte, Qte @ w2)
    r["stackdef_cv"] = rmse(ytr, nested_stack_cv(Q, ytr, fold))

    # Best single level: by the test rows (oracle) and by the inner CV (honest).
    j = int(np.argmin(r["level_rmse"]))
    r["best_level_oracle"], r["best_level_oracle_rmse"] = j + 1, r["level_rmse"][j]
    j = int(np.argmin(r["level_cv"]))
    r["best_level_cv"], r["best_level_cv_rmse"] = j + 1, r["level_rmse"][j]

    # Committees around the ridge default's level L.
    nb = [l for l in (L - 1, L, L + 1) if 1 <= l <= T]
    r["committee_levels"] = nb
    r["committee"] = rmse(yte, Pte[:, [l - 1 for l in nb]].mean(axis=1))
    D = r["default_level"]
    cols = [pfull] + [Pte[:, l - 1] for l in (D - 1, D + 1) if 1 <= l <= T]
    r["defnbrs"] = rmse(yte, np.mean(cols, axis=0))

    # The CV pick: of the default, the ridge default, the stack and stack+def, the one of
    # lowest inner CV RMSE (the stacks' with nested weights).
    best = min(("default", r["default_cv"]), ("ridge_default", r["ridge_default_cv"]),
               ("stack", r["stack_cv"]),
               ("stackdef", r["stackdef_cv"]), key=lambda t: t[1])
    r["cv_pick"], r["cv_pick_rmse"] = best[0], r[best[0]]
    r["fits"], r["fit_seconds"] = b.fits, b.fit_s
    r["seconds"] = time.perf_counter() - t0
    os.remove(tr)
    os.remove(te)
    return r


def geomean(xs):
    xs = [x for x in xs if x == x and x > 0]
    return math.exp(sum(math.log(x) for x in xs) / len(xs)) if xs else math.nan


PICK = dict(default="default", ridge_default="ridge def", stack="stack", stackdef="stack+def")


def f(x):
    return "%.0f" % x if abs(x) >= 1000 else "%.4g" % x


def markdown(args, res, total):
    ver = run([args.bfcr, "version"]).strip()
    if args.from_json:
        head = "tables of the runs in %s (%s)" % (args.from_json, ver)
    else:
        head = ("`bench/compare/level_committees.py --datasets %s --seeds %d --first-seed %d "
                "--inner-folds %d --threads %d`; %s; %.0f s; load at the end %s" % (
                    args.datasets, args.seeds, args.first_seed, args.inner_folds, args.threads,
                    ver, total, " ".join("%.2f" % x for x in os.getloadavg())))
    L = ["Stacking over levels and neighbour-level committees (%s)." % head, "",
         "Test RMSE; ratios are to the default (ridge + kernel candidates). \"oracle\" = the "
         "single level of lowest TEST RMSE (peeks); \"cv level\" = the level of lowest inner-CV "
         "RMSE; committee = mean of levels L-1, L, L+1 (L = the ridge default's level); "
         "def+nbrs = mean of the default and levels D-1, D+1 (D = the default's level); "
         "cv pick = the default, ridge default, stack or stack+def, whichever has the lowest "
         "inner CV.", "",
         "| dataset | seed | default (reg, L) | ridge default (L/T, lambda) | oracle level | "
         "cv level |"
         " stack | stack+def | committee | def+nbrs | cv pick |",
         "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    keys = ["ridge_default", "best_level_oracle_rmse", "best_level_cv_rmse", "stack", "stackdef",
            "committee", "defnbrs", "cv_pick_rmse"]
    for r in res:
        d = r["default"]
        L.append("| %s | %d | %s (%s, %d) | %s (%d/%d, %g) %.3f | %s (l%d) %.3f | %s (l%d) %.3f | "
                 "%s %.3f | %s %.3f | %s %.3f | %s %.3f | %s (%s) %.3f |" % (
                     r["dataset"], r["seed"], f(d), r["default_regressor"], r["default_level"],
                     f(r["ridge_default"]), r["L"], r["T"], r["shrink_lambda"],
                     r["ridge_default"] / d,
                     f(r["best_level_oracle_rmse"]), r["best_level_oracle"],
                     r["best_level_oracle_rmse"] / d,
                     f(r["best_level_cv_rmse"]), r["best_level_cv"], r["best_level_cv_rmse"] / d,
                     f(r["stack"]), r["stack"] / d, f(r["stackdef"]), r["stackdef"] / d,
                     f(r["committee"]), r["committee"] / d, f(r["defnbrs"]), r["defnbrs"] / d,
                     f(r["cv_pick_rmse"]), PICK[r["cv_pick"]],
                     r["cv_pick_rmse"] / d))
    g = ["| **geo mean of ratios** (%d splits) | | 1 |" % len(res)]
    for k in keys:
        g.append(" %.3f |" % geomean([r[k] / r["default"] for r in res]))
    L.append("".join(g))
    g = ["| geo mean, ratio to the ridge default | | |"]
    for k in keys:
        g.append(" %.3f |" % geomean([r[k] / r["ridge_default"] for r in res]))
    L.append("".join(g))
    names = list(dict.fromkeys(r["dataset"] for r in res))
    L += ["", "Per dataset, geometric mean over its splits of the ratio to the default (splits "
          "where the column beats the default by more than 1% / loses by more than 1%):", "",
          "| dataset | splits | ridge default | oracle level | cv level | stack | stack+def | "
          "committee | def+nbrs | cv pick | stack / ridge def | committee / ridge def |",
          "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for n in names:
        rs = [r for r in res if r["dataset"] == n]
        g = ["| %s | %d |" % (n, len(rs))]
        for k in keys:
            q = [r[k] / r["default"] for r in rs]
            g.append(" %.3f (%d/%d) |" % (geomean(q), sum(x < 0.99 for x in q),
                                          sum(x > 1.01 for x in q)))
        for k in ("stack", "committee"):
            q = [r[k] / r["ridge_default"] for r in rs]
            g.append(" %.3f (%d/%d) |" % (geomean(q), sum(x < 0.99 for x in q),
                                          sum(x > 1.01 for x in q)))
        L.append("".join(g))
    L += ["", "Inner-CV RMSE of the training part (stack: nested weights), NNLS weights per level "
          "(1..T; stack+def: then the ridge default, the default), inner trees' levels:", "",
          "| dataset | seed | default CV | ridge default CV | stack CV | stack+def CV | "
          "stack weights | stack+def weights | inner T | fits, s |",
          "|---|---:|---:|---:|---:|---:|---|---|---|---:|"]
    for r in res:
        L.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s (T %d) | %d, %.0f |" % (
            r["dataset"], r["seed"], f(r["default_cv"]), f(r["ridge_default_cv"]), f(r["stack_cv"]),
            f(r["stackdef_cv"]), " ".join("%.2f" % x for x in r["stack_w"]),
            " ".join("%.2f" % x for x in r["stackdef_w"]),
            ",".join(map(str, r["inner_T"])), r["T"], r["fits"], r["fit_seconds"]))
    return "\n".join(L) + "\n"


def main():
    args = parse_args()
    os.makedirs(args.work, exist_ok=True)
    res = []
    t0 = time.perf_counter()
    if args.from_json:
        for path in args.from_json.split(","):
            with open(path) as fo:  # a (dataset, seed) seen in an earlier file is skipped
                seen = {(r["dataset"], r["seed"]) for r in res}
                res += [r for r in json.load(fo) if (r["dataset"], r["seed"]) not in seen]
        print(markdown(args, res, 0.0))
        return
    for name in [s for s in args.datasets.split(",") if s]:
        if name not in accuracy_peers.DATASETS or accuracy_peers.DATASETS[name][0] != "shipped":
            sys.exit("unknown or unsupported dataset %s" % name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            r = one_split(args, name, seed)
            res.append(r)
            print("# %-11s seed %d: default %s ridge %s oracle %s cv-level %s stack %s "
                  "stack+def %s committee %s def+nbrs %s (%d fits, %.0f s, load %.1f)" % (
                      name, seed, f(r["default"]), f(r["ridge_default"]),
                      f(r["best_level_oracle_rmse"]), f(r["best_level_cv_rmse"]), f(r["stack"]),
                      f(r["stackdef"]), f(r["committee"]), f(r["defnbrs"]), r["fits"],
                      r["seconds"], os.getloadavg()[0]), flush=True)
            out_json = args.out_json or os.path.join(args.work, "level_committees.json")
            with open(out_json, "w") as fo:
                json.dump(res, fo, indent=1)
    md = markdown(args, res, time.perf_counter() - t0)
    with open(args.out_md or os.path.join(args.work, "level_committees.md"), "w") as fo:
        fo.write(md)
    print(md)


if __name__ == "__main__":
    main()
