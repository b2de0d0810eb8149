#!/usr/bin/env bash
# Fit benchmark on seeded synthetic blob data (16 isotropic Gaussian blobs in d = 8,
# piecewise-linear target; include/bfcr/synth.h): per-phase time, rows/s, GFLOP/s where
# counted, peak memory, for n = 100k and 1M at 1 and 2 threads, CSV read included.
# usage: bench/fit_bench.sh [BUILD_DIR] [REPEATS]   (prints a Markdown table)
set -euo pipefail
build=${1:-build}
reps=${2:-3}
bfcr=$build/bin/bfcr
work=${BFCR_BENCH_DIR:-$build/bench-data}
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1
echo "| n | threads | fit wall s (median of $reps) | read s | nn level 0 s | nn levels>=1 s | metrics s (DB + rest) | rows/s | peak RSS MB |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in 100000 1000000; do
  data=$work/blobs-$n.csv
  [[ -s $data ]] || "$bfcr" gen -o "$data" --n "$n" --d 8 --clusters 16 --seed 1 >/dev/null
  for t in 1 2; do
    for r in $(seq "$reps"); do
      "$bfcr" fit "$data" --target y -o "$work/m-$n.bfcr" --threads "$t" \
        --report "$work/r-$n-$t-$r.json" >/dev/null
    done
    python3 - "$n" "$t" "$work" "$reps" <<'PY'
import json, statistics, sys
n, t, work, reps = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
runs = [json.load(open(f"{work}/r-{n}-{t}-{r}.json")) for r in range(1, reps + 1)]
def ph(run, name):
    return sum(p["seconds"] for p in run["phases"] if p["name"] == name)
wall = statistics.median(r["wall_seconds"] for r in runs)
med = lambda name: statistics.median(ph(r, name) for r in runs)
rss = max(r["peak_rss_mb_max"] for r in runs)
print(f"| {n} | {t} | {wall:.2f} | {med('read'):.2f} | {med('nn level 0'):.2f} | "
      f"{med('nn levels >= 1'):.2f} | {med('davies-bouldin') + med('order+metrics'):.2f} | "
      f"{n / wall:,.0f} | {rss:.0f} |")
PY
  done
done
