#!/usr/bin/python3
"""bfcr's default against one global linear model over many seeded 80/20 splits.

usage: split_repeat.py [--seeds N] [--threads T] BFCR DATA.csv:TARGET ...

For seeds 1..N (`bfcr split --seed S`) it fits bfcr with its defaults and one global
ridge model (`--level top --guard-margin -1 --shrink off`, penalty by GCV), predicts the
test part with both and prints dataset,seed,bfcr,global,ratio; then per dataset the
geometric mean of the ratio, its spread (standard error of the mean log ratio) and how
many splits were worse than the global model by more than 1%. A single split of a few
hundred rows moves the ratio by several percent; this separates that noise from a
systematic loss.
"""
import math, os, re, sys

from seeded_splits import parse_args, run, splits


def rmse(exe, tr, te, target, opts, tmp, threads):
    model = os.path.join(tmp, "m.bfcr")
    run([exe, "fit", tr, "--target", target, "-o", model, "--threads", threads] + opts)
    out = run([exe, "predict", model, te, "-o", os.path.join(tmp, "p.csv"), "--truth", target])
    return float(re.search(r"RMSE ([0-9.eE+-]+)", out).group(1))


def main():
    seeds, threads, exe, data = parse_args(sys.argv[1:], __doc__, "2")
    glob = ["--level", "top", "--guard-margin", "-1", "--shrink", "off"]
    print("dataset,seed,bfcr,global,ratio")
    logs = {}
    for name, target, s, tr, te, tmp in splits(exe, data, seeds):
        b = rmse(exe, tr, te, target, [], tmp, threads)
        g = rmse(exe, tr, te, target, glob, tmp, threads)
        logs.setdefault(name, []).append(math.log(b / g))
        print(f"{name},{s},{b:.6g},{g:.6g},{b / g:.4f}", flush=True)
    print("\ndataset,geomean_ratio,se_log,splits_worse_1pct,splits,worst_ratio")
    for name, lg in logs.items():
        m = sum(lg) / len(lg)
        sd = math.sqrt(sum((x - m) ** 2 for x in lg) / max(1, len(lg) - 1))
        worse = sum(1 for x in lg if x > math.log(1.01))
        print(f"{name},{math.exp(m):.4f},{sd / math.sqrt(len(lg)):.4f},{worse},{len(lg)},"
              f"{math.exp(max(lg)):.4f}")


if __name__ == "__main__":
    main()
