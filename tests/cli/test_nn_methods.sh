#!/usr/bin/env bash
# `bfcr fit --nn auto|tree|gemm` writes byte-identical model files (the method changes the
# time only), at 1 and 2 threads, on blob data above the former d <= 16 rule and on rows
# near a 3-dimensional subspace of R^20 (`bfcr gen --latent-dim`); 2 ranks too; the fit
# output and the run record name the method chosen at level 0.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
MPIEXEC="${MPIEXEC:-mpiexec}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" gen -o "$T/blob.csv" --n 3000 --d 20 --seed 4 >/dev/null
"$BIN" gen -o "$T/latent.csv" --n 3000 --d 20 --latent-dim 3 --seed 5 >/dev/null
"$BIN" gen -o "$T/latent2.csv" --n 3000 --d 20 --latent-dim 3 --seed 5 --threads 2 >/dev/null
cmp -s "$T/latent.csv" "$T/latent2.csv" || fail "gen --latent-dim depends on the threads"
for set in blob latent; do
  for th in 1 2; do
    for nn in auto tree gemm; do
      "$BIN" fit "$T/$set.csv" --target y --select-regressors ridge --nn $nn --threads $th -o "$T/$set.$nn.$th.bfcr" \
        --report "$T/$set.$nn.$th.json" >"$T/out" 2>&1 || { cat "$T/out"; fail "$set --nn $nn"; }
      grep -q "^nn level 0: " "$T/out" || fail "$set --nn $nn: no 'nn level 0' line"
      grep -q '"nn":\["level 0: ' "$T/$set.$nn.$th.json" || fail "$set --nn $nn: run record"
      cmp -s "$T/$set.auto.1.bfcr" "$T/$set.$nn.$th.bfcr" ||
        fail "$set: model with --nn $nn at $th threads differs from --nn auto at 1 thread"
    done
  done
  grep -q "^nn level 0: kd-tree (forced)" <("$BIN" fit "$T/$set.csv" --target y --select-regressors ridge --nn tree \
    -o "$T/x.bfcr") || fail "$set: forced tree not reported"
  for nn in auto gemm; do
    timeout 300 "$MPIEXEC" -n 2 --oversubscribe --bind-to none "$BIN" fit "$T/$set.csv" \
      --target y --select-regressors ridge --nn $nn -o "$T/$set.$nn.np2.bfcr" >"$T/out" 2>&1 || { cat "$T/out"; fail "np2"; }
    cmp -s "$T/$set.auto.1.bfcr" "$T/$set.$nn.np2.bfcr" || fail "$set: 2 ranks --nn $nn differ"
  done
done
echo "ok"
