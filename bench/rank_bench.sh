#!/usr/bin/env bash
# Strong scaling and memory of the distributed fit on one machine: `bfcr fit` on seeded
# blob data (1M x 8 by default) at 1 and 2 ranks (one thread each, bound to cores), both
# routing rules; prints per rank count the median wall time, the speed-up, the peak
# resident memory of the largest rank and its ratio to one rank, the bytes sent per rank,
# and whether the model files are byte-identical to one rank's.
# usage: bench/rank_bench.sh [BUILD_DIR] [REPEATS] [N]      (prints a Markdown table)
# Needs mpiexec; as root set OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1.
set -euo pipefail
build=${1:-build}
reps=${2:-3}
n=${3:-1000000}
bfcr=$build/bin/bfcr
work=${BFCR_BENCH_DIR:-$build/bench-data}
mpiexec=${MPIEXEC:-mpiexec}
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1
data=$work/blobs-$n.csv
[[ -s $data ]] || "$bfcr" gen -o "$data" --n "$n" --d 8 --clusters 16 --seed 1 >/dev/null
echo "| routing | ranks | fit wall s (median of $reps) | speed-up | peak MB, largest rank | vs 1 rank | sent MB/rank | model = 1 rank's |"
echo "|---|---:|---:|---:|---:|---:|---:|---|"
for routing in sample centroid; do
  for p in 1 2; do
    for r in $(seq "$reps"); do
      "$mpiexec" -n "$p" --bind-to core "$bfcr" fit "$data" --target y --routing "$routing" \
        --threads 1 -o "$work/rk-$routing-$p.bfcr" --report "$work/rk-$routing-$p-$r.json" >/dev/null
    done
  done
  same=no
  cmp -s "$work/rk-$routing-1.bfcr" "$work/rk-$routing-2.bfcr" && same=yes
  python3 - "$work" "$routing" "$reps" "$same" <<'PY'
import json, statistics, sys
work, routing, reps, same = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
def runs(p):
    return [json.load(open(f"{work}/rk-{routing}-{p}-{r}.json")) for r in range(1, reps + 1)]
base = None
for p in (1, 2):
    rs = runs(p)
    wall = statistics.median(r["wall_seconds"] for r in rs)
    rss = max(r["peak_rss_mb_max"] for r in rs)
    sent = statistics.median(r.get("sent_mb_max", 0.0) for r in rs)
    if base is None:
        base = (wall, rss)
    print(f"| {routing} | {p} | {wall:.2f} | {base[0] / wall:.2f} | {rss:.1f} | "
          f"{rss / base[1]:.2f} | {sent:.1f} | {'-' if p == 1 else same} |")
PY
done
