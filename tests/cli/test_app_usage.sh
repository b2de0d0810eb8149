#!/usr/bin/env bash
# bfcr command line: help texts, versions and usage errors (exit 2, one line naming
# the option), and that --help shows the defaults the library really applies.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
DATA="${BFCR_DATA:?}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }
# expect_exit CODE CMD...: run, keep stdout/stderr in $T/out, $T/err.
expect_exit() {
  local want=$1 got=0
  shift
  "$@" >"$T/out" 2>"$T/err" || got=$?
  [ "$got" = "$want" ] || { cat "$T/out" "$T/err" >&2; fail "exit $got (want $want): $*"; }
}

# Top level.
expect_exit 0 "$BIN" help
grep -q "Exit codes: 0 ok, 2 usage, 3 input error" "$T/out" || fail "help lacks exit codes"
expect_exit 0 "$BIN" --help
expect_exit 0 "$BIN" version
grep -Eq '^bfcr [0-9]+\.[0-9]+\.[0-9]+' "$T/out" || fail "version: $(cat "$T/out")"
expect_exit 2 "$BIN"
expect_exit 2 "$BIN" frobnicate
grep -q "unknown command 'frobnicate'" "$T/err" || fail "unknown command message"

# Every subcommand has --help (exit 0, exit codes listed) and 'bfcr help CMD' is the same.
for c in fit predict cluster tree split gen; do
  expect_exit 0 "$BIN" "$c" --help
  grep -q "^Usage: bfcr $c " "$T/out" || fail "$c --help: no usage line"
  grep -q "Exit codes:" "$T/out" || fail "$c --help: no exit codes"
  cp "$T/out" "$T/help1"
  expect_exit 0 "$BIN" help "$c"
  cmp -s "$T/out" "$T/help1" || fail "'help $c' differs from '$c --help'"
  # Unknown options: exit 2, one line on stderr naming the option, nothing on stdout.
  expect_exit 2 "$BIN" "$c" --no-such-option
  [ "$(wc -l <"$T/err")" = 1 ] || fail "$c: usage error is not one line"
  grep -q -- "--no-such-option" "$T/err" || fail "$c: message does not name the option"
  [ ! -s "$T/out" ] || fail "$c: usage error printed on stdout"
done

# Missing values, bad numbers, bad choices, missing or extra arguments.
B="$DATA/boston.csv"
expect_exit 2 "$BIN" fit "$B" --target medv -o
grep -q -- "-o needs a value" "$T/err" || fail "missing value message: $(cat "$T/err")"
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --threads abc
grep -q -- "--threads" "$T/err" || fail "bad number message"
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --threads -1
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --seed -1
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --seed 12x
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --level 0x
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --level bottom
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --lambda-min nan
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --criterion best
grep -q "hci|ch|db|bic|gcv" "$T/err" || fail "choice message does not list the choices"
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --features a,,b
expect_exit 2 "$BIN" fit "$B" --target medv -o "$T/m" --no-standardize=1
expect_exit 2 "$BIN" fit "$B" -o "$T/m"
grep -q "missing required option --target" "$T/err" || fail "required option message"
expect_exit 2 "$BIN" fit --target medv -o "$T/m"
grep -q "missing argument TRAIN.csv" "$T/err" || fail "missing argument message"
expect_exit 2 "$BIN" fit "$B" "$B" --target medv -o "$T/m"
grep -q "unexpected argument" "$T/err" || fail "extra argument message"
expect_exit 2 "$BIN" predict "$T/m" -o "$T/p.csv"
expect_exit 2 "$BIN" cluster "$B" -o "$T/l.csv" --level 2 --all-levels
expect_exit 2 "$BIN" cluster "$B" -o "$T/l.csv" --criterion gcv
expect_exit 2 "$BIN" split "$B" --train "$T/a.csv" --test "$T/a.csv"
expect_exit 2 "$BIN" split "$B" --train "$T/a.csv" --test "$T/b.csv" --test-fraction 1.5
expect_exit 2 "$BIN" gen -o "$T/g.csv" --n 0
expect_exit 2 "$BIN" tree
# Nothing was written by any of the failed runs.
[ -z "$(ls -A "$T" | grep -v -e '^out$' -e '^err$' -e '^help1$')" ] || fail "usage errors wrote files: $(ls "$T")"

# "--name=value" and options after positionals are accepted.
expect_exit 0 "$BIN" gen --output="$T/g.csv" --n=40 --d 3 --clusters=2

# The defaults --help prints are the ones the library applies: fit without options
# and compare the model's recorded parameters with the help text.
# awk reads the whole help (an early exit would end bfcr by SIGPIPE once the help is
# longer than one stdio buffer, and pipefail would fail the test).
default_of() { # default_of CMD OPTION -> the text in "(default: ...)" of that option's entry
  "$BIN" "$1" --help | awk -v opt="$2" '
    index($0, "  " opt " ") == 1 || index($0, ", " opt " ") > 0 { on = 1 }
    on { l = $0; sub(/^ +/, "", l); text = text " " l }
    on && !done && /\)$/ { print text; done = 1 }' | sed -n 's/.*(default: \([^)]*\)).*/\1/p'
}
"$BIN" fit "$B" --target medv -o "$T/m" >/dev/null
"$BIN" tree "$T/m" --json >"$T/tree.json"
for opt in criterion regressor routing small seed; do
  shown=$(default_of fit "--$opt")
  [ -n "$shown" ] || fail "fit --help shows no default for --$opt"
  used=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params"][sys.argv[2]])' \
    "$T/tree.json" "$opt")
  # --small auto is resolved by the CV: the model stores the policy it applied.
  if [ "$opt" = small ] && [ "$shown" = auto ]; then
    case "$used" in ancestor | shrink) continue ;; esac
  fi
  [ "$shown" = "$used" ] || fail "--$opt: help says default '$shown', the model used '$used'"
done
shown=$(default_of fit --no-standardize)
used=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["params"]["standardize"])' \
  "$T/tree.json")
[ "$shown" = "standardize=$used" ] || fail "--no-standardize: help '$shown', model $used"
# gen: the default d shown in help is the number of feature columns written.
d=$(default_of gen --d)
"$BIN" gen -o "$T/g.csv" --n 5 >/dev/null
[ "$(head -1 "$T/g.csv" | tr ',' '\n' | wc -l)" = $((d + 1)) ] || fail "gen default d"
[ "$(wc -l <"$T/g.csv")" = 6 ] || fail "gen --n 5 rows"
echo "ok"
