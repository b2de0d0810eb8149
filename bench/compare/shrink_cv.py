#!/usr/bin/python3
"""CV RMSE of hierarchical shrinkage against hard routing, on the training parts written by
accuracy_peers.py (the 80% part of its seeded split).

usage: shrink_cv.py BFCR WORK [dataset ...]
For each WORK/<dataset>-train.csv runs `bfcr fit --report` twice, with `--shrink off`
(hard routing, level by the one-SE rule) and with the default (`--shrink auto`), and
prints both choices with their CV RMSE (same folds), the best shrunk candidate and the
ratio chosen / hard. Needs only bfcr and the split files.
"""
import json, os, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from accuracy_peers import DATASETS  # noqa: E402


def fit(bfcr, train, target, tmp, extra):
    rep = os.path.join(tmp, "r.json")
    subprocess.run([bfcr, "fit", train, "--target", target, "-o", os.path.join(tmp, "m.bfcr"),
                    "--report", rep, "--threads", "2"] + extra, check=True, capture_output=True)
    return json.load(open(rep))


def main():
    bfcr, work = sys.argv[1], sys.argv[2]
    names = sys.argv[3:] or list(DATASETS)
    print("dataset,top_level,hard_level,hard_cv_rmse,lambda,level,cv_rmse,best_shrunk,"
          "chosen/hard")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            train = os.path.join(work, name + "-train.csv")
            if not os.path.exists(train):
                continue
            target = DATASETS[name][2] or "y"
            h = fit(bfcr, train, target, tmp, ["--shrink", "off"])
            a = fit(bfcr, train, target, tmp, [])
            hl = h["chosen_level"]
            hr = h["cv"]["rmse"][hl]
            sh, lv = a["shrink"], a["chosen_level"]
            g = sh["grid"].index(sh["lambda"]) if sh["grid"] else 0
            cr = sh["rmse"][g][lv] if sh["grid"] else a["cv"]["rmse"][lv]
            best = min((sh["rmse"][i][l], sh["grid"][i], l) for i in range(1, len(sh["grid"]))
                       for l in range(1, len(sh["rmse"][i])) if sh["rmse"][i][l] is not None)
            print("%s,%d,%d,%.6g,%g,%d,%.6g,%.6g (lambda %g level %d),%.4f" % (
                name, len(h["cv"]["rmse"]) - 1, hl, hr, sh["lambda"], lv, cr, best[0], best[1],
                best[2], cr / hr), flush=True)


if __name__ == "__main__":
    main()
