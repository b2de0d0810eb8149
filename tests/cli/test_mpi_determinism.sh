#!/usr/bin/env bash
# `bfcr fit` under mpiexec at 1..4 ranks (oversubscribed) writes byte-identical model files
# and the models give byte-identical predictions, on datasets/boston.csv and on a
# `bfcr gen` file (OLS, routing by sample and KRR pieces too), for 1 and 2 threads; and
# `predict --owned` (models applied on their owner ranks) gives the same bytes. On boston also
# the CV with kernel ridge candidates (--select-regressors ridge,krr: the same choice and
# kernel CV table; tests/mpi/mpi_fit_kernel.c covers a set where KRR is chosen).
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
DATA="${BFCR_DATA:?}"
MPIEXEC="${MPIEXEC:-mpiexec}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
runp() {
  local p=$1
  shift
  timeout 300 "$MPIEXEC" -n "$p" --oversubscribe --bind-to none "$BIN" "$@" >"$T/out" 2>"$T/err" ||
    { cat "$T/out" "$T/err" >&2; fail "$p ranks: $*"; }
}

"$BIN" gen -o "$T/gen.csv" --n 8000 --seed 9 >/dev/null
for set in boston gen; do
  # boston: the default's kernel ridge candidates too; gen (8000 rows): ridge only, every
  # rank replicates the candidates' fits.
  if [ $set = boston ]; then f="$DATA/boston.csv"; tgt=medv; sel=; else
    f="$T/gen.csv"; tgt=y; sel="--select-regressors ridge"; fi
  for opts in "" "--regressor ols" "--routing sample" "--regressor krr --kernel-cap 300"; do
    tag="$set$(echo "$opts" | tr -d ' -')"
    for th in 1 2; do
      for p in 1 2 3 4; do
        runp $p fit "$f" --target $tgt $sel $opts --threads $th -o "$T/$tag.$p.$th.bfcr"
        runp $p predict "$T/$tag.$p.$th.bfcr" "$f" -o "$T/$tag.$p.$th.csv"
        runp $p predict "$T/$tag.$p.$th.bfcr" "$f" -o "$T/$tag.$p.$th.own.csv" --owned
        cmp -s "$T/$tag.$p.$th.csv" "$T/$tag.$p.$th.own.csv" ||
          fail "$tag: --owned predictions at $p ranks, $th threads differ"
        cmp -s "$T/$tag.1.1.bfcr" "$T/$tag.$p.$th.bfcr" ||
          fail "$tag: model at $p ranks, $th threads differs from 1 rank"
        cmp -s "$T/$tag.1.1.csv" "$T/$tag.$p.$th.csv" ||
          fail "$tag: predictions at $p ranks, $th threads differ from 1 rank"
      done
    done
  done
done
# CV with kernel ridge candidates (small set: every rank replicates the candidates' fits).
for th in 1 2; do
  for p in 1 2 3 4; do
    runp $p fit "$DATA/boston.csv" --target medv --select-regressors ridge,krr --threads $th \
      -o "$T/bk.$p.$th.bfcr"
    sed -n '/kernel ridge candidates/,/^$/p' "$T/out" >"$T/bk.$p.$th.table"
    cmp -s "$T/bk.1.1.bfcr" "$T/bk.$p.$th.bfcr" ||
      fail "boston ridge,krr: model at $p ranks, $th threads differs from 1 rank"
    cmp -s "$T/bk.1.1.table" "$T/bk.$p.$th.table" ||
      fail "boston ridge,krr: kernel CV table at $p ranks, $th threads differs from 1 rank"
  done
done
echo "ok"
