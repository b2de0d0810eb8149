#!/usr/bin/env bash
# Quick start: install what is missing, build bfcr (Release) into build/, then on
# datasets/diamonds.csv (target: price) make a seeded 80/20 train/test split, fit the
# best-friend clustering regression with the default settings, predict the test rows,
# do the same with a single global ridge model (--level top), and compare the two.
# Usage: scripts/quickstart.sh [--np N] [--threads T] [--no-setup]
#   --np N       run the app under mpiexec with N ranks (default: one process, no mpiexec)
#   --threads T  OpenMP threads per rank (default: cores / ranks)
#   --no-setup   skip scripts/setup-deps.sh
# Files go to build/quickstart/. Works as root and as a normal user.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

np=0
threads=""
setup=1
usage() { sed -n '2,10s/^# \{0,1\}//p' "$0"; }
while (($#)); do
  case "$1" in
    --np)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
      np=$2
      shift 2
      ;;
    --threads)
      [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { usage >&2; exit 2; }
      threads=$2
      shift 2
      ;;
    --no-setup) setup=0; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "quickstart: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
  esac
done

((setup)) && bash "$root/scripts/setup-deps.sh"

cores=$(nproc 2>/dev/null || echo 1)
ranks=$((np > 0 ? np : 1))
[[ -n $threads ]] || threads=$((cores / ranks > 0 ? cores / ranks : 1))

echo "== build (Release) into build/"
cmake -S "$root" -B "$root/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$root/build" -j "$cores" >/dev/null
bfcr=$root/build/bin/bfcr
[[ -x $bfcr ]] || { echo "quickstart: $bfcr was not built" >&2; exit 1; }

# bfcr runs its own OpenMP threads: OpenBLAS stays on one thread per rank.
export OPENBLAS_NUM_THREADS=1
launch=()
if ((np > 0)); then
  launch=(mpiexec -n "$np")
  ((EUID == 0)) && launch+=(--allow-run-as-root)
  ((np > cores)) && launch+=(--oversubscribe)
  # Open MPI binds each rank to one core when np <= 2: let the threads spread.
  ((threads > 1)) && launch+=(--bind-to none)
  export OMPI_MCA_pml=${OMPI_MCA_pml:-ob1} # skip probing fabrics: faster start on one host
fi
app() { "${launch[@]}" "$bfcr" "$@"; }

data=$root/datasets/diamonds.csv
out=$root/build/quickstart
mkdir -p "$out"
echo "== $(basename "$data"): seeded 80/20 split"
app split "$data" --train "$out/train.csv" --test "$out/test.csv" --test-fraction 0.2 --seed 1

now() { echo "${EPOCHREALTIME/,/.}"; }
# run NAME [fit options...]: fit on train.csv, predict test.csv, keep the scores line.
declare -A rmse r2 secs
run() {
  local name=$1 t0 t1 line
  shift
  echo
  echo "== $name: fit"
  t0=$(now)
  app fit "$out/train.csv" --target price -o "$out/$name.model" --threads "$threads" "$@"
  echo "== $name: predict the test rows"
  app predict "$out/$name.model" "$out/test.csv" -o "$out/$name.pred.csv" --truth price \
    --threads "$threads" | tee "$out/$name.predict.txt"
  t1=$(now)
  # "price: RMSE 626.1  MAE 321.2  R^2 0.975123"
  line=$(grep -E '^price: RMSE ' "$out/$name.predict.txt" | tail -n 1) || {
    echo "quickstart: no score line in the output of bfcr predict" >&2
    return 1
  }
  read -r _ _ rmse["$name"] _ _ _ r2["$name"] <<<"$line"
  secs[$name]=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
}
run bfcr
run global --level top

echo
echo "== test-set comparison (diamonds, target price; $ranks rank(s) x $threads thread(s))"
printf '%-34s %12s %10s %9s\n' model RMSE "R^2" seconds
printf '%-34s %12s %10s %9s\n' "bfcr (default settings)" "${rmse[bfcr]}" "${r2[bfcr]}" \
  "${secs[bfcr]}"
printf '%-34s %12s %10s %9s\n' "single global ridge (--level top)" "${rmse[global]}" \
  "${r2[global]}" "${secs[global]}"
awk -v a="${rmse[bfcr]}" -v b="${rmse[global]}" \
  'BEGIN { if (b > 0) printf "bfcr RMSE is %.1f%% of the global model'"'"'s\n", 100 * a / b }'
echo "files: $out/"
