#!/bin/bash
# Strong and weak scaling of `bfcr fit` on a Slurm cluster (see docs/scaling.md).
# Submit from the bfcr source tree:   sbatch docs/slurm-example.sh
# Adjust the #SBATCH lines, the module line and the variables below to your site.
#SBATCH --job-name=bfcr-scaling
#SBATCH --nodes=4
#SBATCH --ntasks-per-node=48
#SBATCH --cpus-per-task=1
#SBATCH --exclusive
#SBATCH --time=02:00:00
#SBATCH --output=bfcr-scaling-%j.log
set -euo pipefail

# module load openmpi openblas gsl python3          # site-specific

SRC=${SRC:-$SLURM_SUBMIT_DIR}                       # the bfcr source tree
BFCR=${BFCR:-$SRC/build/bin/bfcr}                   # built with the cluster's MPI
ROOF=${ROOF:-$SRC/build/bin/bench_roofline}
OUT=${OUT:-$SLURM_SUBMIT_DIR/scaling-$SLURM_JOB_ID} # records, tables, plots, report
DATA=${DATA:-$OUT/data}                             # generated CSV files (shared FS)
N=${N:-4000000}                                     # strong scaling rows
N0=${N0:-100000}                                    # weak scaling rows per rank
THREADS=${THREADS:-1}                               # OpenMP threads per rank
REPEATS=${REPEATS:-3}
SRUN_ARGS=${SRUN_ARGS:---mpi=pmix}                  # e.g. --mpi=pmix_v3, or empty

# Rank counts: powers of two times the cores of one node, up to the allocation.
PER_NODE=$((SLURM_NTASKS_PER_NODE * SLURM_CPUS_PER_TASK / THREADS))
TOTAL=$((SLURM_NNODES * PER_NODE))
RANKS=""
for ((p = PER_NODE; p <= TOTAL; p *= 2)); do RANKS="$RANKS${RANKS:+,}$p"; done
# Smaller points on one node show the single-node curve (1, 2, 4, ... ranks).
for ((p = PER_NODE / 2; p >= 1; p /= 2)); do RANKS="$p,$RANKS"; done
echo "ranks: $RANKS x $THREADS threads; strong n = $N, weak n0 = $N0 per rank"

export OPENBLAS_NUM_THREADS=1

# 1. The sweep (srun inside this allocation); roofline and an intra-node ping-pong first.
python3 "$SRC/bench/scaling/scale.py" run --out "$OUT" --launcher slurm --bfcr "$BFCR" \
  --roofline "$ROOF" --roofline-threads "$SLURM_NTASKS_PER_NODE" \
  --ranks "$RANKS" --threads "$THREADS" --n "$N" --n0 "$N0" --repeats "$REPEATS" \
  --data-dir "$DATA" --mpi-args="$SRUN_ARGS" --timeout 3600 --no-summary

# 2. The network, for the performance model: a ping-pong between two nodes replaces the
#    intra-node one (shared memory would make the projection far too optimistic).
if [ "$SLURM_NNODES" -ge 2 ]; then
  # shellcheck disable=SC2086
  srun -N 2 -n 2 --ntasks-per-node=1 $SRUN_ARGS "$ROOF" --pingpong-only \
    --json "$OUT/pingpong.json"
fi

# 3. Tables, plots, model and report: $OUT/report.md, $OUT/summary.csv, $OUT/plots/*.png
python3 "$SRC/bench/scaling/scale.py" summarize "$OUT"
