#!/usr/bin/python3
"""K-fold CV of the bfcr CLI on the training part of a seeded split (never the test part).

For each fold: fit on the other folds with the given fit options, predict the fold, and
print the fold's RMSE, its worst absolute error and the worst absolute error of one global
linear model (--level top --guard-margin -1, unguarded) on the same fold. The training part is `bfcr split --seed S`'s
train file; fold of training row i = splitmix64(seed ^ 0x5eed + i) % K.

usage: cv_folds.py BFCR DATA.csv TARGET [--folds K] [--seed S] [-- fit options...]
"""
import os, subprocess, sys, tempfile
import numpy as np
import pandas as pd

M64 = (1 << 64) - 1


def splitmix64(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout + r.stderr


def fit_predict(bfcr, tr, te, target, opts, tmp):
    model = os.path.join(tmp, "m.bfcr")
    pred = os.path.join(tmp, "p.csv")
    out = run([bfcr, "fit", tr, "--target", target, "-o", model] + opts)
    run([bfcr, "predict", model, te, "-o", pred])
    return pd.read_csv(pred)["prediction"].to_numpy(), out


def main():
    a = sys.argv[1:]
    opts = []
    if "--" in a:
        opts = a[a.index("--") + 1:]
        a = a[: a.index("--")]
    bfcr, data, target = a[0], a[1], a[2]
    K = int(a[a.index("--folds") + 1]) if "--folds" in a else 5
    seed = int(a[a.index("--seed") + 1]) if "--seed" in a else 1
    with tempfile.TemporaryDirectory() as tmp:
        tr80, te20 = os.path.join(tmp, "tr.csv"), os.path.join(tmp, "te.csv")
        run([bfcr, "split", data, "--train", tr80, "--test", te20, "--seed", str(seed)])
        df = pd.read_csv(tr80)
        key = splitmix64(seed ^ 0x5EED)
        fold = np.array([splitmix64((key + i) & M64) % K for i in range(len(df))])
        print("fold,rows,rmse,max_abs_err,global_rmse,global_max_abs_err")
        sse = gsse = 0.0
        for k in range(K):
            a_tr, a_te = os.path.join(tmp, "a.csv"), os.path.join(tmp, "b.csv")
            df[fold != k].to_csv(a_tr, index=False)
            df[fold == k].to_csv(a_te, index=False)
            y = df[fold == k][target].to_numpy()
            p, _ = fit_predict(bfcr, a_tr, a_te, target, opts, tmp)
            g, _ = fit_predict(bfcr, a_tr, a_te, target, ["--level", "top", "--guard-margin", "-1"], tmp)
            e, ge = np.abs(p - y), np.abs(g - y)
            sse += np.sum(e**2)
            gsse += np.sum(ge**2)
            print(f"{k},{len(y)},{np.sqrt(np.mean(e**2)):.1f},{e.max():.1f},"
                  f"{np.sqrt(np.mean(ge**2)):.1f},{ge.max():.1f}")
        print(f"all,{len(df)},{np.sqrt(sse / len(df)):.2f},,{np.sqrt(gsse / len(df)):.2f},")


if __name__ == "__main__":
    main()
