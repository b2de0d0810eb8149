#!/usr/bin/env bash
# The scaling driver (bench/scaling/scale.py): its dry runs print sane mpirun, hostfile
# and srun command lines without touching the disk, bad usage exits 2, and a tiny real
# sweep at 1 rank (n = 2000) leaves the run records, the CSV/JSON summary, the plots and
# the report.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
MPIEXEC="${MPIEXEC:-mpiexec}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
SCALE="$HERE/../../bench/scaling/scale.py"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
has() { grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "no line matching '$2' in $(basename "$1")"; }; }
hasnt() { ! grep -qE -- "$2" "$1" || { cat "$1" >&2; fail "unexpected '$2' in $(basename "$1")"; }; }

# Local mpirun on a 2-core machine: ranks 1, 2, 4 x threads 1, 2 (at most 4 cores' worth).
python3 "$SCALE" run --out "$T/dry" --dry-run --bfcr "$BIN" --mpirun "$MPIEXEC" --cores 2 \
  --ranks 1,2,4 --threads 1,2 --max-workers 4 --n 400000 --n0 1000 --repeats 2 >"$T/local"
[ ! -e "$T/dry" ] || fail "a dry run created $T/dry"
# 5 points per mode (1x1 1x2 2x1 2x2 4x1) x 2 modes x 2 repeats.
[ "$(grep -c ' fit ' "$T/local")" = 20 ] || fail "expected 20 fit commands"
has "$T/local" "^env .*OPENBLAS_NUM_THREADS=1 .* -np 1 --map-by slot:PE=1 --bind-to core .*/bfcr fit .*blobs-n400000-d8-k16-s3.csv --target y .* --threads 1 --report .*strong-p1-t1-r0.report.json"
has "$T/local" "OMP_NUM_THREADS=2 .* -np 1 --map-by slot:PE=2 --bind-to core .* --threads 2 "
has "$T/local" "OMPI_MCA_pml=ob1 .* -np 2 --map-by slot:PE=1 --bind-to core "
# More ranks x threads than cores: oversubscribed and unbound.
has "$T/local" " -np 4 --oversubscribe --bind-to none .*strong-p4-t1-r1"
has "$T/local" " -np 2 --oversubscribe --bind-to none .* --threads 2 "
hasnt "$T/local" "-np 4 .*--bind-to core"
hasnt "$T/local" "-np 8"
# Weak scaling: n = n0 x ranks, one data file per size.
has "$T/local" "weak-p4-t1-r0 n=4000"
has "$T/local" "bfcr gen -o .*blobs-n4000-d8-k16-s3.csv --n 4000 --d 8 --clusters 16 --seed 3"
[ "$(grep -c ' gen -o ' "$T/local")" = 4 ] || fail "expected 4 gen commands (n 1000 2000 4000 400000)"
if [ "$(id -u)" = 0 ]; then
  has "$T/local" "--allow-run-as-root"
else
  hasnt "$T/local" "--allow-run-as-root"
fi

# Slurm: srun with tasks, cpus per task, core binding and the environment exported.
python3 "$SCALE" run --out "$T/dry" --dry-run --launcher slurm --bfcr /opt/bfcr/bin/bfcr \
  --ranks 96,192 --threads 2 --modes strong --n 4095000 --repeats 1 \
  --mpi-args=--mpi=pmix >"$T/slurm"
has "$T/slurm" "^srun -n 96 -c 2 --cpu-bind=cores --export=ALL,OMP_NUM_THREADS=2,OMP_PLACES=cores,OMP_PROC_BIND=close,OPENBLAS_NUM_THREADS=1 --mpi=pmix /opt/bfcr/bin/bfcr fit "
has "$T/slurm" "^srun -n 192 -c 2 .* --threads 2 "
has "$T/slurm" "^srun -n 1 -c 2 .*bfcr gen .* --n 4095000 "
hasnt "$T/slurm" "mpirun|--oversubscribe|OMPI_MCA_pml"
[ "$(grep -c ' fit ' "$T/slurm")" = 2 ] || fail "expected 2 srun fit commands"

# Hostfile: mpirun --hostfile, environment carried with -x, never oversubscribed.
echo "node1 slots=48" >"$T/hosts"
python3 "$SCALE" run --out "$T/dry" --dry-run --launcher hostfile --hostfile "$T/hosts" \
  --bfcr "$BIN" --ranks 96 --modes weak --n0 100000 --repeats 1 >"$T/hostfile"
has "$T/hostfile" "mpirun .*--hostfile $T/hosts -np 96 --map-by slot:PE=1 --bind-to core -x OMP_NUM_THREADS=1 -x OPENBLAS_NUM_THREADS=1 .*bfcr fit .*blobs-n9600000-"
hasnt "$T/hostfile" "--oversubscribe"

# Usage errors exit 2 and say what is wrong.
rc=0
python3 "$SCALE" run --out "$T/x" --launcher hostfile --dry-run 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "hostfile launcher without --hostfile: exit $rc (want 2)"
has "$T/err" "needs --hostfile"
rc=0
python3 "$SCALE" run --out "$T/x" --ranks 0,2 --dry-run 2>"$T/err" || rc=$?
[ "$rc" = 2 ] || fail "--ranks 0: exit $rc (want 2)"

# A tiny real sweep at 1 rank: records, tables, plots, report.
python3 "$SCALE" run --out "$T/real" --bfcr "$BIN" --mpirun "$MPIEXEC" --ranks 1 --threads 1 \
  --n 2000 --n0 2000 --repeats 2 --no-roofline --strict >"$T/run.out" 2>&1 \
  || { cat "$T/run.out" >&2; fail "tiny sweep failed"; }
for f in sweep.json machine.json summary.csv summary.json phases.csv projection.csv report.md \
  runs/strong-p1-t1-r0.json runs/weak-p1-t1-r1.json plots/speedup.png plots/efficiency.png \
  plots/phases-strong.png plots/phases-weak.png plots/projection.png; do
  [ -s "$T/real/$f" ] || fail "missing or empty: $f"
done
python3 - "$T/real" <<'EOF'
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "summary.csv"))))
assert [(r["mode"], r["ranks"], r["threads"]) for r in rows] == \
    [("strong", "1", "1"), ("weak", "1", "1")], rows
for r in rows:
    assert r["n"] == "2000" and r["repeats"] == "2" and r["failed"] == "0", r
    lo, med, hi = float(r["wall_min"]), float(r["wall_median"]), float(r["wall_max"])
    assert 0 < lo <= med <= hi, r
assert float(rows[0]["speedup"]) == 1.0 and float(rows[0]["efficiency"]) == 1.0, rows[0]
assert float(rows[1]["efficiency"]) == 1.0, rows[1]
s = json.load(open(os.path.join(out, "summary.json")))
assert len(s["points"]) == 2 and s["model"]["n_ref"] == 2000, s["model"]
assert "nn level 0" in s["points"][0]["phases"], s["points"][0]["phases"].keys()
assert {r["cores"] for r in s["projection"]} >= {96, 12288}, "projection range"
rec = json.load(open(os.path.join(out, "runs", "strong-p1-t1-r0.json")))
assert rec["exit_code"] == 0 and rec["report"]["rows"] == 2000, rec["exit_code"]
assert rec["report"]["ranks"] == 1 and rec["config"]["ranks"] == 1
assert " fit " in rec["command"] and "--report" in rec["command"], rec["command"]
phases = list(csv.DictReader(open(os.path.join(out, "phases.csv"))))
assert any(p["phase"] == "nn level 0" for p in phases)
rep = open(os.path.join(out, "report.md")).read()
assert "PROJECTION" in rep and "| strong | 1 x 1 | 2000 | 2/2 |" in rep, rep[:2000]
EOF
# The model files of the runs are removed; the data file is kept for reuse.
[ -z "$(ls "$T/real/runs" | grep '\.model$' || true)" ] || fail "model files left behind"
[ -s "$T/real/data/blobs-n2000-d8-k16-s3.csv" ] || fail "data file missing"
# Summarizing again from the records gives the same table.
cp "$T/real/summary.csv" "$T/summary1.csv"
python3 "$SCALE" summarize "$T/real" --no-plots >/dev/null
cmp -s "$T/summary1.csv" "$T/real/summary.csv" || fail "summarize is not reproducible"
# The count-based model reads the committed counts and prints both data sets' projections.
python3 "$HERE/../../bench/scaling/perfmodel.py" counts >"$T/counts.md" || fail "perfmodel.py counts"
has "$T/counts.md" "PROJECTION, Gas Sensor .* one rank per core, boundary law of the Gas Sensor PROXY"
has "$T/counts.md" "PROJECTION, 100 x Gas Sensor .* hybrid: .* isotropic blobs"
has "$T/counts.md" "^\\| 12288 \\| "
echo "test_scaling_dryrun: 1 passed, 0 failed"
