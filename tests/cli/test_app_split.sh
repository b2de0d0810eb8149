#!/usr/bin/env bash
# bfcr split: reproducible, depends only on (seed, row index), header in both files,
# rows copied byte for byte in input order (quoted newlines and CRLF kept), blank
# lines dropped, atomic outputs, strict errors.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
D="${BFCR_DATA:?}/boston.csv"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }
}
split() { expect_exit 0 "$BIN" split "$@"; }

# Same seed: byte-identical outputs; another seed: a different split.
split "$D" --train "$T/a1.csv" --test "$T/b1.csv" --seed 3
split "$D" --train "$T/a2.csv" --test "$T/b2.csv" --seed 3
cmp -s "$T/a1.csv" "$T/a2.csv" && cmp -s "$T/b1.csv" "$T/b2.csv" || fail "same seed, different split"
split "$D" --train "$T/a3.csv" --test "$T/b3.csv" --seed 4
cmp -s "$T/b1.csv" "$T/b3.csv" && fail "seeds 3 and 4 gave the same split"

# Header in both; train + test is the input, each in input order (a merge by row).
for f in a1 b1; do [ "$(head -1 "$T/$f.csv")" = "$(head -1 "$D")" ] || fail "$f header"; done
python3 - "$D" "$T/a1.csv" "$T/b1.csv" <<'EOF2'
import sys
src, a, b = (open(p, "rb").read().split(b"\n")[1:] for p in sys.argv[1:])
it_a, it_b = iter(a), iter(b)
na, nb = next(it_a), next(it_b)
for row in src:
    if row == na: na = next(it_a, None)
    elif row == nb: nb = next(it_b, None)
    else: raise SystemExit("row %r missing or out of order" % row)
assert 0.1 < (len(b) - 1) / (len(src) - 1) < 0.3, "test share far from 0.2"
EOF2

# A row's side depends only on (seed, index): the first 100 rows split alone go the
# same way as within the whole file.
head -101 "$D" >"$T/head.csv"
split "$T/head.csv" --train "$T/ha.csv" --test "$T/hb.csv" --seed 3
head -n "$(wc -l <"$T/hb.csv")" "$T/b1.csv" | cmp -s - "$T/hb.csv" || fail "prefix split differs"

# Fractions 0 and 1.
split "$D" --train "$T/all.csv" --test "$T/none.csv" --test-fraction 0
cmp -s "$T/all.csv" "$D" || fail "fraction 0 is not a copy"
[ "$(wc -l <"$T/none.csv")" = 1 ] || fail "fraction 0 test file has rows"
split "$D" --train "$T/none2.csv" --test "$T/all2.csv" --test-fraction 1
cmp -s "$T/all2.csv" "$D" || fail "fraction 1 is not a copy"

# RFC 4180 records: a quoted newline stays in its row, CRLF is kept, blank lines go.
printf 'id,"te\r\nxt"\r\n1,"a\r\nb"\r\n\r\n2,"c ""q"" d"\r\n3,x\r\n' >"$T/q.csv"
split "$T/q.csv" --train "$T/qa.csv" --test "$T/qb.csv" --test-fraction 0
printf 'id,"te\r\nxt"\r\n1,"a\r\nb"\r\n2,"c ""q"" d"\r\n3,x\r\n' | cmp -s - "$T/qa.csv" \
  || fail "quoted records or CRLF not copied byte for byte"
# No final newline: the last row is copied as it is.
printf 'a,b\n1,2\n3,4' >"$T/nonl.csv"
split "$T/nonl.csv" --train "$T/na.csv" --test "$T/nb.csv" --test-fraction 0
cmp -s "$T/nonl.csv" "$T/na.csv" || fail "missing final newline"

# Errors leave earlier outputs untouched: unterminated quote (exit 3, file:line:col),
# empty file (3), missing input (5), unwritable output folder (5).
cp "$T/a1.csv" "$T/keep_a.csv"
cp "$T/b1.csv" "$T/keep_b.csv"
printf 'a,b\n1,2\n3,"oops\n4,5\n' >"$T/open.csv"
expect_exit 3 "$BIN" split "$T/open.csv" --train "$T/a1.csv" --test "$T/b1.csv"
grep -q "open.csv:3:3: " "$T/err" || fail "unterminated quote message: $(cat "$T/err")"
: >"$T/empty.csv"
expect_exit 3 "$BIN" split "$T/empty.csv" --train "$T/a1.csv" --test "$T/b1.csv"
expect_exit 5 "$BIN" split "$T/nope.csv" --train "$T/a1.csv" --test "$T/b1.csv"
expect_exit 5 "$BIN" split "$D" --train "$T/a1.csv" --test "$T/no/dir/b.csv"
cmp -s "$T/a1.csv" "$T/keep_a.csv" && cmp -s "$T/b1.csv" "$T/keep_b.csv" || fail "outputs changed"
ls -A "$T" | grep -q bfcr- && fail "temporary files left behind"
echo "ok"
