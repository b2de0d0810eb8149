#!/bin/bash
# Wide-data fit benchmark (docs/benchmarks.md, "Wide data"): time and peak memory of
# `bfcr fit` on seeded n x d data from bench/gen_wide.py, median of REPS runs.
# usage: bench/wide_bench.sh [BFCR_BIN] [N D [REPS [THREADS]]]
# Prints one line per run and the medians: wall s, CPU (user + sys) s, peak RSS MB, load.
set -euo pipefail
BIN=${1:-build/bin/bfcr}
N=${2:-200}
D=${3:-5000}
REPS=${4:-3}
TH=${5:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=${TMPDIR:-/tmp}/bfcr-wide-$N-$D
mkdir -p "$TMP"
CSV=$TMP/train.csv
[ -f "$CSV" ] || /usr/bin/python3 "$HERE/gen_wide.py" "$CSV" "$N" "$D" 1
export OPENBLAS_NUM_THREADS=1
walls=() cpus=() rss=()
for r in $(seq "$REPS"); do
  /usr/bin/time -f "%e %U %S %M" -o "$TMP/time" "$BIN" fit "$CSV" --target y -o "$TMP/model.bfcr" \
    --threads "$TH" > "$TMP/out" 2>&1 || { cat "$TMP/out"; exit 1; }
  read -r w u s m < "$TMP/time"
  c=$(echo "$u + $s" | bc)
  load=$(cut -d' ' -f1 /proc/loadavg)
  echo "run $r: wall $w s, cpu $c s, peak rss $((m / 1024)) MB, load $load"
  walls+=("$w"); cpus+=("$c"); rss+=("$m")
done
med() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "$N x $D, $TH threads: median wall $(med "${walls[@]}") s, cpu $(med "${cpus[@]}") s," \
  "peak rss $(( $(med "${rss[@]}") / 1024 )) MB"
grep -E "model fit|summaries|davies|nn level|read " "$TMP/out" || true
