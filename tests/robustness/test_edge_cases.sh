#!/usr/bin/env bash
# Checklist G (edge cases) and A1-A3, A15 through `bfcr fit` / `bfcr predict`: each
# case ends in a documented OK with its value, or a documented error (exit code, one
# message naming file:line:column), never NaN in an output, and a failed run leaves
# earlier outputs byte-identical.
source "$(dirname "$0")/common.sh"
cd "$T"

# A model and predictions that every failing run below must leave untouched.
printf 'a,b,y\n1,2,3\n2,1,4\n3,5,1\n4,4,2\n' >base.csv
expect_exit 0 "$BIN" fit base.csv --target y -o m.bfcr
expect_exit 0 "$BIN" predict m.bfcr base.csv -o p.csv
keep m.bfcr p.csv

# A1 / G1: zero rows (header only) and a zero-byte file.
printf 'a,b,y\n' >hdr.csv
expect_err 3 'hdr\.csv:2:1: .*0 samples' "$BIN" fit hdr.csv --target y -o m.bfcr
expect_err 3 'hdr\.csv:2:1: .*0 samples' "$BIN" predict m.bfcr hdr.csv -o p.csv
: >zero.csv
expect_err 3 'zero\.csv:1:1: expected a header line, found an empty file' \
  "$BIN" fit zero.csv --target y -o m.bfcr
# Blank lines only after the header are zero rows too.
printf 'a,b,y\n\n\r\n\n' >blank.csv
expect_err 3 'blank\.csv:.*0 samples' "$BIN" fit blank.csv --target y -o m.bfcr
# A1 / G2: zero feature columns.
printf 'y\n1\n2\n' >nofeat.csv
expect_err 3 'nofeat\.csv:1: expected at least one feature column' \
  "$BIN" fit nofeat.csv --target y -o m.bfcr
unchanged m.bfcr p.csv

# A2 / G14: NaN, inf, -inf or a missing value in X (fit and predict): line and column.
i=0
for tok in nan NaN inf -inf Infinity 'nan(1)' '' NA 1e309; do
  i=$((i + 1))
  printf 'a,b,y\n1,2,3\n4,%s,6\n' "$tok" >"x$i.csv"
  expect_err 3 "x$i\.csv:3:2: expected a" "$BIN" fit "x$i.csv" --target y -o m.bfcr
  expect_err 3 "x$i\.csv:3:2: expected a" "$BIN" predict m.bfcr "x$i.csv" -o p.csv
done
# A3: NaN or inf in y.
for tok in nan inf -inf ''; do
  i=$((i + 1))
  printf 'a,b,y\n1,2,3\n4,5,%s\n' "$tok" >"y$i.csv"
  expect_err 3 "y$i\.csv:3:3: expected a" "$BIN" fit "y$i.csv" --target y -o m.bfcr
done
unchanged m.bfcr p.csv

# G3: n = 1 is fitted and predicts that value exactly.
printf 'x,y\n1.5,7.25\n' >one.csv
expect_exit 0 "$BIN" fit one.csv --target y -o one.bfcr
expect_exit 0 "$BIN" predict one.bfcr one.csv -o one.csv.pred
[ "$(tail -1 one.csv.pred)" = 7.25 ] || fail "n = 1 predicts $(tail -1 one.csv.pred), not 7.25"
printf 'x\n1.5\n-3\n100\n' >one_new.csv
expect_exit 0 "$BIN" predict one.bfcr one_new.csv -o one_new.pred
[ "$(tail -n +2 one_new.pred | sort -u)" = 7.25 ] || fail "n = 1 model does not predict its value"

# G7: all points identical: one cluster, the common value, no NaN.
printf 'x,z,y\n' >same.csv
for _ in $(seq 20); do echo '2,3,5' >>same.csv; done
expect_exit 0 "$BIN" fit same.csv --target y -o same.bfcr
grep -Eq '^chosen level: [0-9]+ .*, 1 clusters' "$T/out" || fail "identical points: $(grep chosen "$T/out")"
grep -Eqi 'nan|inf' "$T/out" && fail "identical points: non-finite value printed"
expect_exit 0 "$BIN" predict same.bfcr same.csv -o same.pred
[ "$(tail -n +2 same.pred | sort -u)" = 5 ] || fail "identical points do not predict 5"

# Data shared by G5, G6, G12, A15: three groups, y linear in a and b.
python3 - <<'PY'
import random
random.seed(11)
rows = []
for i in range(90):
    g = i % 3
    a = random.gauss(4 * g, 1); b = random.gauss(0, 1)
    rows.append((a, b, 2 * a - b + g + random.gauss(0, 0.05)))
with open("lin.csv", "w") as f:
    f.write("a,b,y\n")
    for a, b, y in rows: f.write("%.6f,%.6f,%.6f\n" % (a, b, y))
with open("const.csv", "w") as f:          # G5: a constant column c
    f.write("a,c,b,y\n")
    for a, b, y in rows: f.write("%.6f,7,%.6f,%.6f\n" % (a, b, y))
with open("const_other.csv", "w") as f:    # the same rows with c = -3
    f.write("a,c,b,y\n")
    for a, b, y in rows: f.write("%.6f,-3,%.6f,%.6f\n" % (a, b, y))
with open("dup.csv", "w") as f:            # G6: a duplicated column
    f.write("a,a2,b,y\n")
    for a, b, y in rows: f.write("%.6f,%.6f,%.6f,%.6f\n" % (a, a, b, y))
with open("d1.csv", "w") as f:             # G12: d = 1
    f.write("a,y\n")
    for a, b, y in rows: f.write("%.6f,%.6f\n" % (a, 3 * a + (a > 4))) 
# A15: integers written as "3" and as "3.0"
with open("int.csv", "w") as f, open("dec.csv", "w") as g:
    f.write("a,b,y\n"); g.write("a,b,y\n")
    for i in range(40):
        a, b = i % 7, (i * 5) % 11
        f.write("%d,%d,%d\n" % (a, b, 2 * a + b))
        g.write("%d.0,%d.0,%d.0\n" % (a, b, 2 * a + b))
PY
r2_of() { awk '/^training: /{print $NF}' "$T/out"; }
expect_exit 0 "$BIN" fit lin.csv --target y -o lin.bfcr
r2_lin=$(r2_of)

# G5: a constant column gets weight 0 (no division by zero): the fit is as good, and
# changing the constant's value at predict changes no prediction (beyond rounding: the
# weight is 0 up to the eigensolver's eps-level leakage, measured ~1e-14 relative).
expect_exit 0 "$BIN" fit const.csv --target y -o const.bfcr
r2_const=$(r2_of)
python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if b>=a-1e-3 else 1)' \
  "$r2_lin" "$r2_const" || fail "constant column: R^2 $r2_const vs $r2_lin"
expect_exit 0 "$BIN" predict const.bfcr const.csv -o c1.pred
expect_exit 0 "$BIN" predict const.bfcr const_other.csv -o c2.pred
finite_csv c1.pred
close_csv c1.pred c2.pred 1e-11

# G6: a duplicated column: finite, no blow-up, as good a fit.
expect_exit 0 "$BIN" fit dup.csv --target y -o dup.bfcr
r2_dup=$(r2_of)
python3 -c 'import sys; b=float(sys.argv[1]); sys.exit(0 if b>0.99 else 1)' "$r2_dup" ||
  fail "duplicated column: R^2 $r2_dup"
expect_exit 0 "$BIN" fit dup.csv --target y -o dup_ols.bfcr --regressor ols
grep -q 'rank-deficient models: [1-9]' <("$BIN" tree dup_ols.bfcr) ||
  fail "duplicated column with OLS: rank deficiency not reported"
expect_exit 0 "$BIN" predict dup_ols.bfcr dup.csv -o dup.pred
finite_csv dup.pred

# G12: d = 1 through fit, predict and cluster.
expect_exit 0 "$BIN" fit d1.csv --target y -o d1.bfcr
expect_exit 0 "$BIN" predict d1.bfcr d1.csv -o d1.pred --truth y
finite_csv d1.pred
expect_exit 0 "$BIN" cluster d1.csv --target y -o d1.labels --all-levels

# A15: "3" and "3.0" give the same model, byte for byte.
expect_exit 0 "$BIN" fit int.csv --target y -o int.bfcr
expect_exit 0 "$BIN" fit dec.csv --target y -o dec.bfcr
cmp -s int.bfcr dec.bfcr || fail '"3" and "3.0" give different models'

# G9: a level that does not exist: error naming the valid range, nothing written.
expect_err 3 'level 999 does not exist: this tree has levels 1\.\.[0-9]+' \
  "$BIN" fit lin.csv --target y -o m.bfcr --level 999
expect_err 3 'levels 1\.\.[0-9]+' "$BIN" cluster lin.csv --target y -o p.csv --level 999
unchanged m.bfcr p.csv

# G4 / G10: clusters with fewer rows than features: a fallback or shrunk model, its
# rank reported, finite predictions.
python3 - <<'PY'
import random
random.seed(5)
with open("wide.csv", "w") as f:
    f.write(",".join("x%d" % j for j in range(12)) + ",y\n")
    for i in range(40):
        c = i % 8
        x = [random.gauss(3 * c, 0.3) for _ in range(12)]
        f.write(",".join("%.5f" % v for v in x) + ",%.5f\n" % (sum(x) + c))
PY
for reg in ridge ols; do
  for small in shrink ancestor; do
    expect_exit 0 "$BIN" fit wide.csv --target y -o wide.bfcr --regressor $reg --small $small \
      --level 1
    expect_exit 0 "$BIN" tree wide.bfcr
    grep -Eq 'clusters below min_cluster_size: [0-9]+; rank-deficient models: [0-9]+' "$T/out" ||
      fail "wide ($reg, $small): no small-cluster/rank report"
    expect_exit 0 "$BIN" predict wide.bfcr wide.csv -o wide.pred
    finite_csv wide.pred
  done
done

# G8: most rows exact copies of a few distinct rows: the same model for 1 and 2
# threads and for 1 and 2 ranks (ties broken by the smallest index everywhere).
python3 - <<'PY'
import random
random.seed(8)
base = [(random.randint(0, 9), random.randint(0, 9)) for _ in range(40)]
with open("dups.csv", "w") as f:
    f.write("a,b,y\n")
    for i in range(600):
        a, b = base[random.randrange(len(base))] if i >= 40 else base[i]
        f.write("%d,%d,%d\n" % (a, b, a * b % 7))
PY
expect_exit 0 "$BIN" fit dups.csv --target y -o dups1.bfcr --threads 1
expect_exit 0 "$BIN" fit dups.csv --target y -o dups2.bfcr --threads 2
cmp -s dups1.bfcr dups2.bfcr || fail "duplicates: 1 and 2 threads give different models"
if command -v "$MPIEXEC" >/dev/null; then
  mpi 2 fit dups.csv --target y -o dups3.bfcr --threads 1 >"$T/out" 2>"$T/err" ||
    fail "duplicates: 2-rank fit failed: $(cat "$T/err")"
  cmp -s dups1.bfcr dups3.bfcr || fail "duplicates: 1 and 2 ranks give different models"
fi

# G4 / A9 wide: d > n (20 x 500), fitted from the clusters' rows in the dual form: every
# regressor and small-cluster policy finite; constant columns and a single distinct row
# repeated give finite models that predict the mean target; the same model bytes for 1
# and 2 threads and for 1 and 2 ranks.
python3 - <<'PY'
import random
random.seed(7)
d = 500
with open("wide500.csv", "w") as f, open("wide500c.csv", "w") as g, open("wide500s.csv", "w") as h:
    hdr = ",".join("x%d" % j for j in range(d)) + ",y\n"
    f.write(hdr); g.write(hdr); h.write(hdr)
    row0 = [random.gauss(0, 1) for _ in range(d)]
    for i in range(20):
        c = i % 3
        x = [random.gauss(2 * c, 1) for _ in range(d)]
        y = sum(x[:10]) + c
        f.write(",".join("%.6f" % v for v in x) + ",%.6f\n" % y)
        x2 = [4.0 if j % 7 == 0 else v for j, v in enumerate(x)]
        g.write(",".join("%.6f" % v for v in x2) + ",%.6f\n" % y)
        h.write(",".join("%.6f" % v for v in row0) + ",%d\n" % (i % 4))
PY
for reg in ridge ols; do
  for small in shrink ancestor; do
    expect_exit 0 "$BIN" fit wide500.csv --target y -o w5.bfcr --regressor $reg --small $small
    grep -Eqi 'nan' "$T/out" && fail "d > n ($reg, $small): NaN printed"
    expect_exit 0 "$BIN" predict w5.bfcr wide500.csv -o w5.pred
    finite_csv w5.pred
  done
done
expect_exit 0 "$BIN" fit wide500c.csv --target y -o w5c.bfcr --small shrink --criterion gcv
expect_exit 0 "$BIN" predict w5c.bfcr wide500c.csv -o w5c.pred
finite_csv w5c.pred
expect_exit 0 "$BIN" fit wide500s.csv --target y -o w5s.bfcr
expect_exit 0 "$BIN" predict w5s.bfcr wide500s.csv -o w5s.pred
[ "$(tail -n +2 w5s.pred | sort -u)" = 1.5 ] || fail "single distinct row: not the mean target"
expect_exit 0 "$BIN" fit wide500.csv --target y -o w5a.bfcr --small shrink --threads 1
expect_exit 0 "$BIN" fit wide500.csv --target y -o w5b.bfcr --small shrink --threads 2
cmp -s w5a.bfcr w5b.bfcr || fail "d > n: 1 and 2 threads give different models"
if command -v "$MPIEXEC" >/dev/null; then
  mpi 2 fit wide500.csv --target y -o w5m.bfcr --small shrink --threads 1 >"$T/out" 2>"$T/err" ||
    fail "d > n: 2-rank fit failed: $(cat "$T/err")"
  cmp -s w5a.bfcr w5m.bfcr || fail "d > n: 1 and 2 ranks give different models"
fi
echo "ok"
