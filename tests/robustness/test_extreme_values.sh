#!/usr/bin/env bash
# Checklist G13: features or targets around 1e300 or 1e-300 are handled by scaling
# (a fit as good as at unit scale) or refused with an error; never a silent inf/NaN,
# never a silently useless model. Also the printed scores stay consistent (RMSE >= MAE
# always holds mathematically).
source "$(dirname "$0")/common.sh"
cd "$T"

python3 - <<'PY'
import random
def write(name, sx, sy):
    random.seed(3)
    with open(name, "w") as f:
        f.write("a,b,y\n")
        for i in range(60):
            a = random.gauss(i % 3 * 4, 1); b = random.gauss(0, 1)
            f.write("%.17g,%.17g,%.17g\n" % (a * sx, b * sx, (2 * a - b + random.gauss(0, 0.1)) * sy))
for name, sx, sy in [("unit", 1, 1), ("x_e300", 1e300, 1), ("x_em300", 1e-300, 1),
                     ("x_e160", 1e160, 1), ("y_e300", 1, 1e300), ("y_em300", 1, 1e-300)]:
    write(name + ".csv", sx, sy)
PY
# unit scale: the reference quality.
expect_exit 0 "$BIN" fit unit.csv --target y -o unit.bfcr
r2_ref=$(awk '/^training: /{print $NF}' "$T/out")

bad=""
for f in x_e300 x_em300 x_e160 y_e300 y_em300; do
  got=0
  "$BIN" fit $f.csv --target y -o $f.bfcr >"$T/out" 2>"$T/err" || got=$?
  if [ "$got" != 0 ]; then
    # An error is acceptable: documented code, one message.
    case $got in 3 | 4) ;; *) fail "$f: exit $got: $(cat "$T/err")" ;; esac
    [ "$(grep -c '^bfcr: error: ' "$T/err")" = 1 ] || fail "$f: not one error line"
    [ ! -e $f.bfcr ] || fail "$f: failed fit wrote a model"
    note "$f: refused (exit $got): $(cat "$T/err")"
    continue
  fi
  line=$(grep '^training: ' "$T/out")
  echo "$line" | grep -Eqi 'nan|inf' && fail "$f: non-finite score: $line"
  read -r rmse mae r2 < <(echo "$line" | awk '{print $3, $5, $7}')
  python3 -c 'import sys; r,m=map(float,sys.argv[1:]); sys.exit(0 if r>=m else 1)' "$rmse" "$mae" ||
    bad="$bad; $f: training RMSE $rmse < MAE $mae (underflow in the score)"
  python3 -c 'import sys; a,b=map(float,sys.argv[1:]); sys.exit(0 if b>=a-0.01 else 1)' "$r2_ref" "$r2" ||
    bad="$bad; $f: accepted with R^2 $r2 (unit scale: $r2_ref): not handled by scaling"
  "$BIN" predict $f.bfcr $f.csv -o $f.pred >/dev/null 2>&1 || fail "$f: predict failed"
  finite_csv $f.pred
done
[ -z "$bad" ] || fail "${bad#; }"
echo "ok"
