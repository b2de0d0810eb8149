#!/usr/bin/env bash
# `bfcr fit` under mpiexec at 1..4 ranks (oversubscribed) writes byte-identical model files
# and the models give byte-identical predictions, on datasets/boston.csv and on a
# `bfcr gen` file (OLS, routing by centroid and KRR pieces too), for 1 and 2 threads; and
# `predict --owned` (models applied on their owner ranks) gives the same bytes. Boston's
# default fit scores the kernel ridge candidates in the CV: the same kernel CV table too
# (tests/mpi/mpi_fit_kernel.c covers a set where KRR is chosen). The other options pin ridge
# selection: their subject is not the candidates (covered by boston's default).
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

# Under the sanitizers (scripts/test.sh's asan tier) a smaller matrix: the memory checks
# need each path once (one and several ranks, an uneven split, two threads), not every
# combination; the normal tier runs them all.
ths="1 2" ps="1 2 3 4"
[ "${BFCR_TEST_TIER:-normal}" = normal ] || { ths=2; ps="1 2 3"; }
th0=${ths%% *} p0=${ps%% *}
ref="the run at $p0 rank(s) x $th0 thread(s)"
"$BIN" gen -o "$T/gen.csv" --n 8000 --seed 9 >/dev/null
for set in boston gen; do
  if [ $set = boston ]; then f="$DATA/boston.csv"; tgt=medv; else f="$T/gen.csv"; tgt=y; fi
  for opts in "" "--regressor ols" "--routing centroid" "--regressor krr --kernel-cap 300"; do
    tag="$set$(echo "$opts" | tr -d ' -')"
    sel="--select-regressors ridge"
    [ $set = boston ] && [ -z "$opts" ] && sel= # the default: kernel candidates scored
    for th in $ths; do
      for p in $ps; do
        runp $p fit "$f" --target $tgt $sel $opts --threads $th -o "$T/$tag.$p.$th.bfcr"
        sed -n '/kernel ridge candidates/,/^$/p' "$T/out" >"$T/$tag.$p.$th.table"
        [ -n "$sel" ] || [ -s "$T/$tag.$p.$th.table" ] || fail "$tag: no kernel CV table"
        cmp -s "$T/$tag.$p0.$th0.table" "$T/$tag.$p.$th.table" ||
          fail "$tag: kernel CV table at $p ranks, $th threads differs from $ref"
        runp $p predict "$T/$tag.$p.$th.bfcr" "$f" -o "$T/$tag.$p.$th.csv"
        runp $p predict "$T/$tag.$p.$th.bfcr" "$f" -o "$T/$tag.$p.$th.own.csv" --owned
        cmp -s "$T/$tag.$p.$th.csv" "$T/$tag.$p.$th.own.csv" ||
          fail "$tag: --owned predictions at $p ranks, $th threads differ"
        cmp -s "$T/$tag.$p0.$th0.bfcr" "$T/$tag.$p.$th.bfcr" ||
          fail "$tag: model at $p ranks, $th threads differs from $ref"
        cmp -s "$T/$tag.$p0.$th0.csv" "$T/$tag.$p.$th.csv" ||
          fail "$tag: predictions at $p ranks, $th threads differ from $ref"
      done
    done
  done
done
echo "ok"
