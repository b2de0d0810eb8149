#!/usr/bin/env bash
# Reproduce the paper's clustering-quality and hierarchy figures (docs/reproduction.md):
# AMI of every level on the 2-D shape sets, the summary trees of cal_housing and CASP on
# paper-sized training splits, test RMSE of bfcr's variants and, when scikit-learn is
# installed, k-NN / global linear references. Single rank; every output goes to OUT.
#
# Usage: scripts/reproduce.sh [OUT_DIR]   (env BFCR_BIN: the bfcr binary, default
#        build/bin/bfcr; BFCR_DATA: the datasets folder, default datasets/)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
bin=${BFCR_BIN:-$here/build/bin/bfcr}
data=${BFCR_DATA:-$here/datasets}
out=${1:-reproduce-out}
[ -x "$bin" ] || { echo "reproduce.sh: no bfcr binary at $bin (set BFCR_BIN)" >&2; exit 2; }
mkdir -p "$out"
cd "$out"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2} OPENBLAS_NUM_THREADS=1

echo "== 1. AMI of every level on the shape sets (paper: Compound .92, Aggregation .93, R15 .96)"
for f in Compound Aggregation R15; do
  for mode in std raw; do
    flag=; [ $mode = raw ] && flag=--no-standardize
    "$bin" cluster "$data/paper/$f.csv" -o "$f-$mode-labels.csv" --truth label $flag \
      --plot "$f-$mode.png" > "$f-$mode.txt"
    printf '%-12s %-4s %s\n' "$f" "$mode" "$(grep '^AMI of level' "$f-$mode.txt")"
  done
done

echo "== 2. paper-sized training splits"
"$bin" split "$data/paper/cal_housing.csv" --train cal_train.csv --test cal_test.csv \
  --test-fraction 0.107 --seed 1
"$bin" split "$data/paper/CASP.csv" --train casp_train.csv --test casp_test.csv \
  --test-fraction 0.1122 --seed 1

echo "== 3. summary trees (paper: cadata 18432 4737 326* 64 8 2 1; Proteins 40730 11273* 724 191 32 6 2 1)"
for mode in std raw; do
  flag=; [ $mode = raw ] && flag=--no-standardize
  "$bin" cluster cal_train.csv --target median_house_value -o cal-$mode-labels.csv $flag \
    --plot cal-$mode.png > cal-$mode-tree.txt
  "$bin" cluster casp_train.csv --target RMSD -o casp-$mode-labels.csv $flag \
    --plot casp-$mode.png > casp-$mode-tree.txt
  for s in cal casp; do
    echo "$s $mode:"
    sed -n '/level *clusters/,/^$/p' $s-$mode-tree.txt
  done
done

echo "== 4. test RMSE"
fit_predict() { # name train test target [fit options]
  local name=$1 tr=$2 te=$3 t=$4
  shift 4
  "$bin" fit "$tr" --target "$t" -o "$name.bfcr" "$@" > "$name-fit.txt"
  local lv
  lv=$(awk '/^\*/{print $2 " (" $3 " clusters)"; exit}' "$name-fit.txt")
  "$bin" predict "$name.bfcr" "$te" -o "$name-pred.csv" --truth "$t" > "$name-pred.txt"
  printf '%-28s level %-22s %s\n' "$name [$*]" "$lv" "$(grep -i 'RMSE' "$name-pred.txt")"
}
for s in cal casp; do
  t=median_house_value; [ $s = casp ] && t=RMSD
  fit_predict $s-default $s\_train.csv $s\_test.csv $t
  fit_predict $s-ols $s\_train.csv $s\_test.csv $t --regressor ols
  fit_predict $s-global $s\_train.csv $s\_test.csv $t --level top
  fit_predict $s-hci $s\_train.csv $s\_test.csv $t --criterion hci
  fit_predict $s-hci-ols $s\_train.csv $s\_test.csv $t --criterion hci --regressor ols
  fit_predict $s-hci-centroid $s\_train.csv $s\_test.csv $t --criterion hci --routing centroid
  fit_predict $s-raw-hci $s\_train.csv $s\_test.csv $t --criterion hci --no-standardize
done

if /usr/bin/python3 -c 'import sklearn' 2> /dev/null; then
  echo "== 5. scikit-learn references (k by 5-fold CV on the training rows)"
  /usr/bin/python3 "$here/bench/compare/knn_reference.py" cal_train.csv cal_test.csv median_house_value
  /usr/bin/python3 "$here/bench/compare/knn_reference.py" casp_train.csv casp_test.csv RMSD
else
  echo "== 5. skipped: python3-sklearn is not installed"
fi
