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
import os, re, subprocess, sys, tempfile

PAT = re.compile(r"honest CV \(a tree per fold, (\d+) x (\d+) folds\): level (\d+)(?: with shrinkage)? "
                 r"RMSE ([^,]+), global ([^,]+), dMSE ([^ ]+) \(SE ([^;]+); rows ([^,]+), "
                 r"folds ([^)]+)\): (.*)")


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout + r.stderr


def main():
    a = sys.argv[1:]
    seeds, threads = 20, "1"
    while a and a[0].startswith("--"):
        if a[0] == "--seeds":
            seeds = int(a[1])
        elif a[0] == "--threads":
            threads = a[1]
        else:
            sys.exit(__doc__)
        a = a[2:]
    if len(a) < 2:
        sys.exit(__doc__)
    exe, data = a[0], a[1:]
    print("dataset,seed,level,rmse_pick,rmse_global,dmse,se,se_rows,se_folds,verdict")
    with tempfile.TemporaryDirectory() as tmp:
        tr, te, mo = (os.path.join(tmp, f) for f in ("tr.csv", "te.csv", "m.bfcr"))
        for spec in data:
            path, target = spec.rsplit(":", 1)
            name = os.path.basename(path)
            for s in range(1, seeds + 1):
                run([exe, "split", path, "--train", tr, "--test", te, "--seed", str(s)])
                out = run([exe, "fit", tr, "--target", target, "-o", mo, "--threads", threads,
                           "--select-regressors", "ridge", "--verbose"])
                m = PAT.search(out)
                if m:
                    g = m.groups()
                    print(f"{name},{s},{g[2]},{g[3]},{g[4]},{g[5]},{g[6]},{g[7]},{g[8]},"
                          f"{'kept' if g[9] == 'kept' else 'global'}", flush=True)
                else:
                    print(f"{name},{s},,,,,,,,", flush=True)


if __name__ == "__main__":
    main()
