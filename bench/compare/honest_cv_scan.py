#!/usr/bin/python3
"""The honest check of the CV pick (lib/model/cv_honest.c) over many seeded splits.

usage: honest_cv_scan.py [--seeds N] [--threads T] BFCR DATA.csv:TARGET ...

For seeds 1..N (`bfcr split --seed S`, the splits of split_repeat.py) it fits the training
part with `--select-regressors ridge --verbose` (the honest check runs on the ridge pick,
before any kernel candidate) and prints the check's log line as
dataset,seed,level,rmse_pick,rmse_global,dmse,se,se_rows,se_folds,verdict (empty fields
where the check did not run: the pick was the global model or n was over the budget).
Joined with split_repeat.py's per-split ratios, it tells what any threshold on dmse / se
would have kept, without refitting.
"""
import os, re, sys

from seeded_splits import parse_args, run, splits

PAT = re.compile(r"honest CV \(a tree per fold, (\d+) x (\d+) folds\): level (\d+)(?: with shrinkage)? "
                 r"RMSE ([^,]+), global ([^,]+), dMSE ([^ ]+) \(SE ([^;]+); rows ([^,]+), "
                 r"folds ([^)]+)\): (.*)")


def main():
    seeds, threads, exe, data = parse_args(sys.argv[1:], __doc__, "1")
    print("dataset,seed,level,rmse_pick,rmse_global,dmse,se,se_rows,se_folds,verdict")
    for name, target, s, tr, te, tmp in splits(exe, data, seeds):
        out = run([exe, "fit", tr, "--target", target, "-o", os.path.join(tmp, "m.bfcr"),
                   "--threads", threads, "--select-regressors", "ridge", "--verbose"], True)
        m = PAT.search(out)
        if m:
            g = m.groups()
            print(f"{name},{s},{g[2]},{g[3]},{g[4]},{g[5]},{g[6]},{g[7]},{g[8]},"
                  f"{'kept' if g[9] == 'kept' else 'global'}", flush=True)
        else:
            print(f"{name},{s},,,,,,,,", flush=True)


if __name__ == "__main__":
    main()
