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
import math, os, re, subprocess, sys, tempfile


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def rmse(exe, tr, te, target, opts, tmp, threads):
    model = os.path.join(tmp, "m.bfcr")
    run([exe, "fit", tr, "--target", target, "-o", model, "--threads", threads] + opts)
    out = run([exe, "predict", model, te, "-o", os.path.join(tmp, "p.csv"), "--truth", target])
    return float(re.search(r"RMSE ([0-9.eE+-]+)", out).group(1))


def main():
    a = sys.argv[1:]
    seeds, threads = 20, "2"
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
    glob = ["--level", "top", "--guard-margin", "-1", "--shrink", "off"]
    print("dataset,seed,bfcr,global,ratio")
    summary = []
    with tempfile.TemporaryDirectory() as tmp:
        tr, te = os.path.join(tmp, "tr.csv"), os.path.join(tmp, "te.csv")
        for spec in data:
            path, target = spec.rsplit(":", 1)
            name = os.path.basename(path)
            logs = []
            for s in range(1, seeds + 1):
                run([exe, "split", path, "--train", tr, "--test", te, "--seed", str(s)])
                b = rmse(exe, tr, te, target, [], tmp, threads)
                g = rmse(exe, tr, te, target, glob, tmp, threads)
                logs.append(math.log(b / g))
                print(f"{name},{s},{b:.6g},{g:.6g},{b / g:.4f}", flush=True)
            m = sum(logs) / len(logs)
            sd = math.sqrt(sum((x - m) ** 2 for x in logs) / max(1, len(logs) - 1))
            worse = sum(1 for x in logs if x > math.log(1.01))
            summary.append((name, math.exp(m), sd / math.sqrt(len(logs)), worse, len(logs),
                            math.exp(max(logs))))
    print("\ndataset,geomean_ratio,se_log,splits_worse_1pct,splits,worst_ratio")
    for name, gm, se, worse, k, mx in summary:
        print(f"{name},{gm:.4f},{se:.4f},{worse},{k},{mx:.4f}")


if __name__ == "__main__":
    main()
