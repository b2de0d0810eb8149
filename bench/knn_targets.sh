#!/bin/sh
# The nearest-neighbour targets (docs/knn.md): median of 3 `bfcr fit` runs (CSV read
# included, 2 threads) beside scipy's cKDTree all-points search on the same file.
# Usage: bench/knn_targets.sh BFCR_BINARY DATA.csv [extra fit options]
set -eu
bin=$1
data=$2
shift 2
export OPENBLAS_NUM_THREADS=1
for r in 1 2 3; do
  /usr/bin/time -f "fit wall %e s, cpu %U+%S s, peak %M KB" "$bin" fit "$data" --target y \
    -o /tmp/knn_targets_model.bfm --threads 2 "$@" 2>&1 | grep -E "^nn level 0|^fit wall|nn level 0 "
  uptime
done
/usr/bin/python3 "$(dirname "$0")/compare/ckdtree_allnn.py" "$data" y 2 3
uptime
rm -f /tmp/knn_targets_model.bfm
