#!/usr/bin/env bash
# bfcr on datasets/boston.csv: fit (+ JSON report), predict with --truth, tree --json,
# cluster --all-levels, --level top, repeatability, and failures that must exit with
# the documented code and leave earlier outputs byte-identical.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
B="${BFCR_DATA:?}/boston.csv"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }
}
# in_range X LO HI: LO <= X <= HI (floating point).
in_range() { python3 -c 'import sys; x,a,b=map(float,sys.argv[1:]); sys.exit(0 if a<=x<=b else 1)' "$@"; }
rows() { echo $(($(wc -l <"$1") - 1)); }

N=$(rows "$B")

# fit: table with the chosen level marked, training RMSE, phases; report is JSON.
expect_exit 0 "$BIN" fit "$B" --target medv -o "$T/m.bfcr" --report "$T/run.json"
grep -Eq '^\* +[0-9]+ ' "$T/out" || fail "fit: no marked level in the table"
grep -q "^chosen level: " "$T/out" || fail "fit: no chosen level line"
grep -q "^training: RMSE " "$T/out" || fail "fit: no training RMSE"
grep -q "model save" "$T/out" || fail "fit: no phase table"
python3 - "$T/run.json" "$N" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["command"] == "fit" and r["ranks"] == 1 and r["threads"] >= 1, r
assert r["rows"] == int(sys.argv[2]) and r["features"] == 13 and r["target"] == "medv", r
lv = r["levels"]
assert lv[0]["level"] == 0 and lv[0]["clusters"] == r["rows"], lv[0]
assert lv[-1]["clusters"] == 1, lv[-1]
assert 1 <= r["chosen_level"] < len(lv), r["chosen_level"]
assert r["clusters"] == lv[r["chosen_level"]]["clusters"]
assert 0 < r["train_rmse"] < 9.2, r["train_rmse"]   # 9.2 = std of medv: beat the mean
assert 0.5 < r["train_r2"] <= 1, r["train_r2"]
names = [p["name"] for p in r["phases"]]
assert names and all(p["seconds"] >= 0 for p in r["phases"]), r["phases"]
assert r["wall_seconds"] > 0
EOF
# The table's marked level is the report's chosen level.
marked=$(awk '/^\* / {print $2}' "$T/out")
chosen=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chosen_level"])' "$T/run.json")
[ "$marked" = "$chosen" ] || fail "marked level $marked != chosen $chosen"

# predict with --truth: one `prediction` column, one row per input row, sane R^2.
expect_exit 0 "$BIN" predict "$T/m.bfcr" "$B" -o "$T/p.csv" --truth medv
[ "$(head -1 "$T/p.csv")" = "prediction" ] || fail "predict header: $(head -1 "$T/p.csv")"
[ "$(rows "$T/p.csv")" = "$N" ] || fail "predict rows $(rows "$T/p.csv") != $N"
r2=$(awk '/R\^2/ {print $NF}' "$T/out")
in_range "$r2" 0.5 1 || fail "predict R^2 $r2"
# The same rows scored by fit (training RMSE) and by predict --truth agree.
fit_rmse=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["train_rmse"])' "$T/run.json")
pred_rmse=$(awk '/RMSE/ {print $3}' "$T/out")
python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if abs(a-b)<=1e-5*abs(a) else 1)' \
  "$fit_rmse" "$pred_rmse" || fail "train RMSE $fit_rmse vs predict RMSE $pred_rmse"

# Predicting a file without the target column gives the same predictions.
cut -d, -f1-13 "$B" >"$T/notarget.csv"
expect_exit 0 "$BIN" predict "$T/m.bfcr" "$T/notarget.csv" -o "$T/p2.csv"
cmp -s "$T/p.csv" "$T/p2.csv" || fail "predictions change without the target column"

# Repeatability: the same fit gives a byte-identical model and predictions.
expect_exit 0 "$BIN" fit "$B" --target medv -o "$T/m2.bfcr"
cmp -s "$T/m.bfcr" "$T/m2.bfcr" || fail "two identical fits wrote different models"
expect_exit 0 "$BIN" fit "$B" --target medv -o "$T/m3.bfcr" --threads 1
cmp -s "$T/m.bfcr" "$T/m3.bfcr" || fail "the model depends on the thread count"

# tree: text and JSON agree with the model.
expect_exit 0 "$BIN" tree "$T/m.bfcr"
grep -q "^chosen level: $chosen," "$T/out" || fail "tree: chosen level"
expect_exit 0 "$BIN" tree "$T/m.bfcr" --json
python3 -m json.tool "$T/out" >/dev/null || fail "tree --json does not parse"
python3 - "$T/out" "$chosen" "$N" <<'EOF'
import json, sys
t = json.load(open(sys.argv[1]))
assert t["chosen_level"] == int(sys.argv[2]) and t["d"] == 13 and t["target"] == "medv", t
assert t["features"][0] == "crim" and len(t["features"]) == 13, t["features"]
assert t["cluster_sizes"]["total"] == int(sys.argv[3]), t["cluster_sizes"]
assert t["clusters"] == t["levels"][t["chosen_level"]]["clusters"]
EOF

# --level top: one cluster, the global model.
expect_exit 0 "$BIN" fit "$B" --target medv -o "$T/top.bfcr" --level top
grep -Eq "^chosen level: [0-9]+ \(fixed by --level\), 1 clusters" "$T/out" || fail "--level top"
# A level that does not exist: input error naming the range, nothing written.
expect_exit 3 "$BIN" fit "$B" --target medv -o "$T/none.bfcr" --level 999
[ ! -e "$T/none.bfcr" ] || fail "failed fit wrote a model"

# cluster --all-levels: one column per level >= 1, labels nested level to level, each
# column holding as many distinct labels as the table says.
expect_exit 0 "$BIN" cluster "$B" --target medv -o "$T/l.csv" --all-levels
cp "$T/out" "$T/cluster.out"
[ "$(rows "$T/l.csv")" = "$N" ] || fail "cluster rows"
python3 - "$T/l.csv" "$T/cluster.out" <<'EOF'
import csv, re, sys
rows = list(csv.reader(open(sys.argv[1])))
head, body = rows[0], rows[1:]
assert head == ["level%d" % (i + 1) for i in range(len(head))], head
table = {}
for line in open(sys.argv[2]):
    m = re.match(r"^[* ]\s+(\d+)\s+(\d+)\s", line)
    if m: table[int(m.group(1))] = int(m.group(2))
cols = list(zip(*body))
for i, col in enumerate(cols):
    labels = set(map(int, col))
    assert labels == set(range(table[i + 1])), (i + 1, len(labels), table[i + 1])
for a, b in zip(cols, cols[1:]):
    parent = {}
    for x, y in zip(a, b):
        assert parent.setdefault(x, y) == y, "labels not nested"
assert len(set(cols[-1])) == 1
EOF
# --level L writes the same labels as column L of --all-levels.
expect_exit 0 "$BIN" cluster "$B" --target medv -o "$T/l2.csv" --level 2
[ "$(head -1 "$T/l2.csv")" = label ] || fail "cluster --level header"
cut -d, -f2 "$T/l.csv" | tail -n +2 >"$T/col2"
tail -n +2 "$T/l2.csv" | cmp -s - "$T/col2" || fail "cluster --level 2 != level2 column"
expect_exit 3 "$BIN" cluster "$B" -o "$T/l3.csv" --level 999
grep -q "levels 1\.\." "$T/err" || fail "cluster --level 999 message: $(cat "$T/err")"

# Bad input: exit 3, file:line:column in the one-line message, earlier outputs intact.
printf 'a,b,y\n1,2,3\n4,x,6\n7,8,9\n' >"$T/bad.csv"
cp "$T/m.bfcr" "$T/keep.bfcr"
cp "$T/run.json" "$T/keep.json"
expect_exit 3 "$BIN" fit "$T/bad.csv" --target y -o "$T/m.bfcr" --report "$T/run.json"
grep -Eq "^bfcr: error: .*bad\.csv:3:[0-9]+: " "$T/err" || fail "bad input message: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "bad input: more than one line on stderr"
cmp -s "$T/m.bfcr" "$T/keep.bfcr" || fail "failed fit changed the model file"
cmp -s "$T/run.json" "$T/keep.json" || fail "failed fit changed the report"
ls -A "$T" | grep -q bfcr- && fail "temporary files left behind: $(ls -A "$T")"

# A failed predict leaves an existing PRED.csv byte-identical: bad data, wrong header,
# missing model, corrupt model, --truth naming another column or a missing column.
cp "$T/p.csv" "$T/keep.csv"
expect_exit 3 "$BIN" predict "$T/m.bfcr" "$T/bad.csv" -o "$T/p.csv"
expect_exit 3 "$BIN" predict "$T/m.bfcr" "${BFCR_DATA}/diamonds.csv" -o "$T/p.csv"
expect_exit 5 "$BIN" predict "$T/missing.bfcr" "$B" -o "$T/p.csv"
head -c 200 "$T/m.bfcr" >"$T/trunc.bfcr"
expect_exit 6 "$BIN" predict "$T/trunc.bfcr" "$B" -o "$T/p.csv"
printf 'not a model\n' >"$T/text.bfcr"
expect_exit 6 "$BIN" predict "$T/text.bfcr" "$B" -o "$T/p.csv"
expect_exit 3 "$BIN" predict "$T/m.bfcr" "$B" -o "$T/p.csv" --truth crim
expect_exit 3 "$BIN" predict "$T/m.bfcr" "$T/notarget.csv" -o "$T/p.csv" --truth medv
expect_exit 5 "$BIN" predict "$T/m.bfcr" "$B" -o "$T/no/such/dir/p.csv"
cmp -s "$T/p.csv" "$T/keep.csv" || fail "a failed predict changed PRED.csv"
echo "ok"
