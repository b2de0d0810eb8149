#!/usr/bin/env bash
# bfcr on datasets/diamonds.csv (text columns one-hot encoded): split, fit on the
# training part, predict the held-out part with --truth, sane R^2, one prediction per
# input row in input order.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
D="${BFCR_DATA:?}/diamonds.csv"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
rows() { echo $(($(wc -l <"$1") - 1)); }

"$BIN" split "$D" --train "$T/train.csv" --test "$T/test.csv" --test-fraction 0.2 --seed 7 >"$T/out"
[ $(($(rows "$T/train.csv") + $(rows "$T/test.csv"))) = "$(rows "$D")" ] || fail "split lost rows"

"$BIN" fit "$T/train.csv" --target price -o "$T/m.bfcr" --report "$T/run.json" >"$T/fit.out"
python3 - "$T/run.json" "$(rows "$T/train.csv")" <<'EOF2'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rows"] == int(sys.argv[2]), r["rows"]
# 6 numeric columns + one-hot cut (5), color (7), clarity (8) = 26 features.
assert r["features"] == 26, r["features"]
assert 0.8 < r["train_r2"] <= 1, r["train_r2"]
EOF2

"$BIN" predict "$T/m.bfcr" "$T/test.csv" -o "$T/p.csv" --truth price >"$T/pred.out"
[ "$(head -1 "$T/p.csv")" = prediction ] || fail "header"
[ "$(rows "$T/p.csv")" = "$(rows "$T/test.csv")" ] || fail "prediction rows"
r2=$(awk '/R\^2/ {print $NF}' "$T/pred.out")
rmse=$(awk '/RMSE/ {print $3}' "$T/pred.out")
# Held-out sanity: far better than the mean (price sd ~ 4000), R^2 well above 0.
python3 -c 'import sys; r2,rmse=map(float,sys.argv[1:]); sys.exit(0 if 0.7<r2<=1 and 0<rmse<2500 else 1)' \
  "$r2" "$rmse" || fail "held-out R^2 $r2, RMSE $rmse"

# Input order: predicting the test rows reversed gives the predictions reversed.
{ head -1 "$T/test.csv"; tail -n +2 "$T/test.csv" | tac; } >"$T/rev.csv"
"$BIN" predict "$T/m.bfcr" "$T/rev.csv" -o "$T/prev.csv" >/dev/null
diff <(tail -n +2 "$T/p.csv" | tac) <(tail -n +2 "$T/prev.csv") >/dev/null \
  || fail "predictions do not follow the input order"
echo "ok (held-out RMSE $rmse, R^2 $r2)"
