#!/usr/bin/env bash
# bfcr under mpirun at 2 ranks: fit and predict give byte-identical files to 1 rank;
# only rank 0 prints; errors exit every rank with the same code, one message, no hang.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
DATA="${BFCR_DATA:?}"
MPIEXEC="${MPIEXEC:-mpiexec}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
run2() { timeout 300 "$MPIEXEC" -n 2 --oversubscribe --bind-to none "$BIN" "$@"; }
expect_exit2() {
  local want=$1 got=0
  shift
  run2 "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "2 ranks: exit $got (want $want): $*"; }
}

B="$DATA/boston.csv"
# Predicting with one model: 1 rank and 2 ranks write the same bytes.
"$BIN" fit "$B" --target medv -o "$T/m1.bfcr" >/dev/null
"$BIN" predict "$T/m1.bfcr" "$B" -o "$T/p1.csv" --truth medv >"$T/pred1.out"
expect_exit2 0 predict "$T/m1.bfcr" "$B" -o "$T/p2.csv" --truth medv
cmp -s "$T/p1.csv" "$T/p2.csv" || fail "2-rank predictions differ from 1 rank"
cmp -s "$T/pred1.out" <(sed "s|p2.csv|p1.csv|" "$T/out") || fail "2-rank scores differ: $(cat "$T/out")"

# Fitting at 2 ranks: the same model file and the same predictions as 1 rank.
expect_exit2 0 fit "$B" --target medv -o "$T/m2.bfcr" --report "$T/run2.json"
[ "$(grep -c '^bfcr fit: ' "$T/out")" = 1 ] || fail "more than one rank printed"
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["ranks"]==2, r["ranks"]' \
  "$T/run2.json"
cmp -s "$T/m1.bfcr" "$T/m2.bfcr" || fail "2-rank model differs from 1 rank"
expect_exit2 0 predict "$T/m2.bfcr" "$B" -o "$T/p3.csv"
cmp -s "$T/p1.csv" "$T/p3.csv" || fail "predictions of the 2-rank model differ"

# Cluster labels do not depend on the rank count either.
"$BIN" cluster "$B" --target medv -o "$T/l1.csv" --all-levels >/dev/null
expect_exit2 0 cluster "$B" --target medv -o "$T/l2.csv" --all-levels
cmp -s "$T/l1.csv" "$T/l2.csv" || fail "2-rank labels differ"

# gen and split under mpirun produce the single-process files.
"$BIN" gen -o "$T/g1.csv" --n 3000 --seed 5 >/dev/null
expect_exit2 0 gen -o "$T/g2.csv" --n 3000 --seed 5
cmp -s "$T/g1.csv" "$T/g2.csv" || fail "2-rank gen differs"
"$BIN" split "$T/g1.csv" --train "$T/a1.csv" --test "$T/b1.csv" >/dev/null
expect_exit2 0 split "$T/g1.csv" --train "$T/a2.csv" --test "$T/b2.csv"
cmp -s "$T/a1.csv" "$T/a2.csv" && cmp -s "$T/b1.csv" "$T/b2.csv" || fail "2-rank split differs"

# Errors: every rank exits with the same code, one message, outputs untouched. The bad
# line sits in the second half of the file, which rank 1 parses.
{ head -400 "$B"; echo "1,2,3,4,5,6,7,8,9,10,11,12,x,14"; tail -n +401 "$B"; } >"$T/bad.csv"
cp "$T/m2.bfcr" "$T/keep.bfcr"
expect_exit2 3 fit "$T/bad.csv" --target medv -o "$T/m2.bfcr"
[ "$(grep -c '^bfcr: error:' "$T/err")" = 1 ] || fail "error printed $(grep -c '^bfcr: error:' "$T/err") times"
grep -q "bad.csv:401:" "$T/err" || fail "message does not name line 401: $(cat "$T/err")"
cmp -s "$T/m2.bfcr" "$T/keep.bfcr" || fail "failed 2-rank fit changed the model"
cp "$T/p2.csv" "$T/keep.csv"
expect_exit2 5 predict "$T/missing.bfcr" "$B" -o "$T/p2.csv"
expect_exit2 3 predict "$T/m1.bfcr" "$T/bad.csv" -o "$T/p2.csv"
cmp -s "$T/p2.csv" "$T/keep.csv" || fail "failed 2-rank predict changed PRED.csv"
expect_exit2 2 fit "$B" --bogus
echo "ok"
