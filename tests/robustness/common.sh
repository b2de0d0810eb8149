# shellcheck shell=bash
# Helpers sourced by the robustness scripts (tests/robustness/test_*.sh).
# Environment (set by CTest): BFCR_BIN, BFCR_DATA, MPIEXEC (optional).
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
DATA="${BFCR_DATA:?}"
MPIEXEC="${MPIEXEC:-mpiexec}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# soft_fail MSG: record a failure and go on (the script fails at the end: finish).
soft_fail() {
  echo "FAIL: $*" >&2
  echo "$*" >>"$T/soft-failures"
}
finish() {
  [ ! -s "$T/soft-failures" ] || fail "$(wc -l <"$T/soft-failures") failure(s), listed above"
  echo "ok"
}
note() { echo "note: $*"; }
# expect_exit CODE CMD...: run with stdout in $T/out (or $OUT when set), stderr in
# $T/err; check the code.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"${OUT:-$T/out}" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }
}
# expect_err CODE REGEX CMD...: exit CODE, exactly one "bfcr: error:" line on stderr
# and it matches REGEX (extended).
expect_err() {
  local want=$1 re=$2
  shift 2
  expect_exit "$want" "$@"
  [ "$(grep -c '^bfcr: error: ' "$T/err")" = 1 ] || { cat "$T/err" >&2; fail "not one error line: $*"; }
  grep -Eq "^bfcr: error: .*$re" "$T/err" || { cat "$T/err" >&2; fail "message does not match '$re': $*"; }
}
# keep FILE...: save copies; unchanged FILE...: byte-identical to the saved copies.
keep() { for f in "$@"; do cp -p "$f" "$f.keep"; done; }
unchanged() {
  for f in "$@"; do cmp -s "$f" "$f.keep" || fail "$f changed after a failed run"; done
}
# no_temps DIR: no temporary file of the atomic writers left in DIR.
no_temps() {
  local left
  left=$(find "$1" -maxdepth 1 -name '.*.tmp-*' -o -maxdepth 1 -name '*.tmp-*' | head -3)
  [ -z "$left" ] || fail "temporary files left in $1: $left"
}
# finite_csv FILE: every value of a one-column numeric CSV is finite.
finite_csv() {
  python3 - "$1" <<'PY' || fail "non-finite or unparsable value in $1"
import math, sys
rows = open(sys.argv[1]).read().split("\n")
assert rows[0] == "prediction", rows[0]
vals = [float(r) for r in rows[1:] if r]
assert vals and all(math.isfinite(v) for v in vals)
PY
}
# mpirun with a hard timeout (an MPI hang must fail the test, not the CTest timeout).
mpi() {
  local np=$1
  shift
  timeout -k 5 120 "$MPIEXEC" -n "$np" --oversubscribe --bind-to none "$BIN" "$@"
}
# close_csv A B TOL: two one-column CSV files hold the same values within TOL relative
# to max(1, |value|).
close_csv() {
  python3 - "$1" "$2" "$3" <<'PY' || fail "$1 and $2 differ by more than $3"
import sys
a = open(sys.argv[1]).read().split()
b = open(sys.argv[2]).read().split()
tol = float(sys.argv[3])
assert len(a) == len(b) and a[0] == b[0], (len(a), len(b))
for x, y in zip(a[1:], b[1:]):
    x, y = float(x), float(y)
    assert abs(x - y) <= tol * max(1.0, abs(x)), (x, y)
PY
}
