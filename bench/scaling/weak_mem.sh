#!/usr/bin/env bash
# Weak scaling of memory and traffic: `bfcr fit` and `bfcr predict` at P = 1, 2, 4, 8 ranks
# (one thread each; 4 and 8 oversubscribe a 2-core machine, which changes the times but
# not the bytes) on N0 x P rows of `bfcr gen --seed 5` (8 features, 16 clusters). Prints a
# Markdown table: the largest rank's peak resident memory for fit and for predict (GNU time
# around every rank), the bytes sent by the busiest rank during fit (the app's PMPI
# counters, run record `sent_mb_max`), the model file size, and whether the model file is
# byte-identical across P for the same data (the P = 1 reference is refitted at each size).
# Predict runs on the training file itself (N0 x P query rows).
# usage: bench/scaling/weak_mem.sh [BUILD_DIR] [N0] [RANKS] [FIT_ARGS...]
#   e.g. bench/scaling/weak_mem.sh build 250000 "1 2 4 8"
# Env: WORK (data and outputs, default /tmp/bfcr-weak; on a cluster a file system the
# nodes share), MPIEXEC (mpirun, or srun inside a Slurm allocation), CHECK_P1=1 to also
# fit every size on one rank and compare the model bytes.
set -euo pipefail
build=${1:-build}
n0=${2:-250000}
ranks=${3:-"1 2 4 8"}
shift $(($# < 3 ? $# : 3))
bfcr=$(readlink -f "$build/bin/bfcr")
work=${WORK:-/tmp/bfcr-weak}
mpiexec=${MPIEXEC:-mpirun}
gtime=${GTIME:-/usr/bin/time}
mkdir -p "$work"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cores=$(nproc --all)
root=()
[[ $(id -u) == 0 ]] && root=(--allow-run-as-root)

# Peak RSS (MB) of the largest rank: GNU time writes one file per rank (PREFIX.RANK).
peak() { cat "$1".* | awk '{if ($1 > m) m = $1} END {printf "%.1f", m / 1024}'; }

echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "| P | rows | fit peak MB (largest rank) | fit sent MB (busiest rank) | predict peak MB (largest rank) | model file MB | fit wall s | predict wall s | same model as P=1 |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
for p in $ranks; do
  n=$((n0 * p))
  data=$work/gen-$n.csv
  [[ -s $data ]] || "$bfcr" gen -o "$data" --n "$n" --seed 5 >/dev/null
  over=()
  ((p > cores)) && over=(--oversubscribe --bind-to none)
  # Every rank under GNU time, its peak into PREFIX.<rank> (Open MPI's or PMI's rank).
  timed() {
    local prefix=$1
    shift
    rm -f "$prefix".*
    local launch=("$mpiexec" "${root[@]}" "${over[@]}" -np "$p")
    [[ $(basename "$mpiexec") == srun ]] && launch=(srun -n "$p" -c 1 --cpu-bind=cores)
    "${launch[@]}" bash -c \
      'exec "$0" -f %M -o "$1.${OMPI_COMM_WORLD_RANK:-${PMI_RANK:-0}}" "$2" "${@:3}"' \
      "$gtime" "$prefix" "$bfcr" "$@"
  }
  t0=$(date +%s.%N)
  rm -f "$work/tp-$p".*
  rm -f "$work/mp-$p".*
  BFCR_MEM_PHASES=$work/mp-$p BFCR_TRAFFIC_PHASES=$work/tp-$p timed "$work/rss-fit-$p" fit "$data" --target y --threads 1 -o "$work/m-$p.bfcr" \
    --report "$work/fit-$p.json" "$@" >"$work/fit-$p.out" 2>"$work/fit-$p.err"
  t1=$(date +%s.%N)
  rm -f "$work/tpp-$p".*
  BFCR_TRAFFIC_PHASES=$work/tpp-$p timed "$work/rss-pred-$p" predict "$work/m-$p.bfcr" "$data" --threads 1 -o "$work/pred-$p.csv" \
    >"$work/pred-$p.out" 2>"$work/pred-$p.err"
  t2=$(date +%s.%N)
  same=-
  if [[ ${CHECK_P1:-0} == 1 && $p != 1 ]]; then
    "$mpiexec" "${root[@]}" -np 1 "$bfcr" fit "$data" --target y --threads 1 \
      -o "$work/m1-$n.bfcr" "$@" >/dev/null 2>&1
    same=no
    cmp -s "$work/m1-$n.bfcr" "$work/m-$p.bfcr" && same=yes
  fi
  sent=$(/usr/bin/python3 -c "import json,sys; print('%.1f' % json.load(open(sys.argv[1]))['sent_mb_max'])" "$work/fit-$p.json")
  size=$(stat -c %s "$work/m-$p.bfcr")
  mark=""
  ((p > cores)) && mark="*"
  printf "| %s%s | %s | %s | %s | %s | %.1f | %.1f | %.1f | %s |\n" "$p" "$mark" "$n" \
    "$(peak "$work/rss-fit-$p")" "$sent" "$(peak "$work/rss-pred-$p")" \
    "$(echo "$size / 1048576" | bc -l)" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$t2 - $t1" | bc -l)" "$same"
done
echo
echo "Bytes sent during fit, per phase, busiest rank (MB; BFCR_TRAFFIC_PHASES: a phase is timed"
echo "when it ends, so bytes go to the first phase that ended after them; the four knn_dist"
echo "parts end together and show under 'knn_dist partition')"
show_phases() {
/usr/bin/python3 - "$@" <<'PY'
import glob, sys
work, tag, ranks = sys.argv[1], sys.argv[2], sys.argv[3:]
table, names = {}, []
for p in ranks:
    for f in glob.glob(f"{work}/{tag}-{p}.*"):
        for line in open(f):
            name, b = line.rstrip("\n").rsplit("\t", 1)
            if name not in names:
                names.append(name)
            key = (name, p)
            table[key] = max(table.get(key, 0.0), float(b) / 1e6)
print("| phase | " + " | ".join(f"P={p}" for p in ranks) + " |")
print("|---|" + "---:|" * len(ranks))
for name in names:
    if all(table.get((name, p), 0.0) < 0.05 for p in ranks):
        continue
    print(f"| {name} | " + " | ".join("%.1f" % table.get((name, p), 0.0) for p in ranks) + " |")
PY
}
show_phases "$work" tp $ranks
echo
echo "Bytes sent during predict, per phase, busiest rank (MB; same attribution)"
show_phases "$work" tpp $ranks
echo
echo "Memory of fit per phase, largest rank (MB; BFCR_MEM_PHASES: VmRSS / VmHWM when the phase"
echo "is seen to end, at the next MPI call or progress report; VmHWM is the peak so far, so the"
echo "peak phase is the first whose VmHWM reaches the last one)"
/usr/bin/python3 - "$work" $ranks <<'PY'
import glob, sys
work, ranks = sys.argv[1], sys.argv[2:]
table, names = {}, []
for p in ranks:
    for f in glob.glob(f"{work}/mp-{p}.*"):
        for line in open(f):
            name, rss, hwm = line.rstrip("\n").rsplit("\t", 2)
            if name not in names:
                names.append(name)
            r, h = table.get((name, p), (0.0, 0.0))
            table[(name, p)] = (max(r, float(rss) / 1024), max(h, float(hwm) / 1024))
print("| phase | " + " | ".join(f"P={p} RSS / HWM" for p in ranks) + " |")
print("|---|" + "---:|" * len(ranks))
for name in names:
    cells = []
    for p in ranks:
        r, h = table.get((name, p), (0.0, 0.0))
        cells.append("%.0f / %.0f" % (r, h) if h > 0 else "-")
    print(f"| {name} | " + " | ".join(cells) + " |")
PY
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "(* = oversubscribed: more ranks than the $cores cores; times are not scaling figures, memory and bytes are exact)"
