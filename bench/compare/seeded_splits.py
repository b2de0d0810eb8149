"""Shared loop of the split scans (split_repeat.py, honest_cv_scan.py): their command
line `[--seeds N] [--threads T] BFCR DATA.csv:TARGET ...` and the seeded 80/20 splits
made by `bfcr split --seed S`, S = 1..N."""
import os, subprocess, sys, tempfile


def run(cmd, with_stderr=False):
    """stdout of cmd (and its stderr after it when asked); exits with stderr on failure."""
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{r.stderr}")
    return r.stdout + (r.stderr if with_stderr else "")


def parse_args(argv, doc, threads):
    """(seeds, threads, exe, [DATA.csv:TARGET ...]) from argv; the usage (doc) otherwise."""
    a, seeds = list(argv), 20
    while a and a[0].startswith("--"):
        if a[0] == "--seeds" and len(a) > 1:
            seeds = int(a[1])
        elif a[0] == "--threads" and len(a) > 1:
            threads = a[1]
        else:
            sys.exit(doc)
        a = a[2:]
    if len(a) < 2:
        sys.exit(doc)
    return seeds, threads, a[0], a[1:]


def splits(exe, data, seeds):
    """Yields (dataset name, target, seed, train csv, test csv, scratch dir) for every
    dataset and seed, the split written afresh into the same two files each time."""
    with tempfile.TemporaryDirectory() as tmp:
        tr, te = os.path.join(tmp, "tr.csv"), os.path.join(tmp, "te.csv")
        for spec in data:
            path, target = spec.rsplit(":", 1)
            for s in range(1, seeds + 1):
                run([exe, "split", path, "--train", tr, "--test", te, "--seed", str(s)])
                yield os.path.basename(path), target, s, tr, te, tmp
