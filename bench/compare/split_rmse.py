#!/usr/bin/python3
"""Test RMSE of bfcr CLI settings on a seeded 80/20 split (`bfcr split --seed S`).

usage: split_rmse.py [--seed S] NAME=BFCR[:fit options] ... -- DATA.csv:TARGET ...
Prints dataset,setting,test_rmse. Example (before/after, one global ridge model):
  split_rmse.py old=/path/old/bfcr new=build/bin/bfcr \\
      'global=build/bin/bfcr:--level top --guard-margin -1' -- datasets/diamonds.csv:price
"""
import os, re, subprocess, sys, tempfile


def run(cmd):
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout


def main():
    a = sys.argv[1:]
    seed = "1"
    if a and a[0] == "--seed":
        seed, a = a[1], a[2:]
    cut = a.index("--")
    settings, data = a[:cut], a[cut + 1:]
    print("dataset,setting,test_rmse")
    with tempfile.TemporaryDirectory() as tmp:
        tr, te = os.path.join(tmp, "tr.csv"), os.path.join(tmp, "te.csv")
        for spec in data:
            path, target = spec.rsplit(":", 1)
            run([settings[0].split("=", 1)[1].split(":")[0], "split", path, "--train", tr,
                 "--test", te, "--seed", seed])
            for s in settings:
                name, rest = s.split("=", 1)
                exe, _, opts = rest.partition(":")
                model = os.path.join(tmp, "m.bfcr")
                run([exe, "fit", tr, "--target", target, "-o", model] + opts.split())
                out = run([exe, "predict", model, te, "-o", os.path.join(tmp, "p.csv"),
                           "--truth", target])
                rmse = float(re.search(r"RMSE ([0-9.eE+-]+)", out).group(1))
                print(f"{os.path.basename(path)},{name},{rmse:.6g}", flush=True)


if __name__ == "__main__":
    main()
