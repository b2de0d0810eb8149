#!/usr/bin/env bash
# MPI start-up rule of the bfcr app (apps/bfcr/mpi_start.c): a plain process (no
# launcher) without OMPI_MCA_pml gets OMPI_MCA_pml=ob1 before MPI_Init; a value the
# user set is kept; a process started by mpiexec is left to Open MPI's default.
# 'bfcr version --verbose' reports the choice; Open MPI's own pml_base_verbose log
# shows which pml components it then loaded.
set -euo pipefail
BIN="${BFCR_BIN:?}/bfcr"
MPIEXEC="${MPIEXEC:-mpiexec}"
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
# The test environment sets OMPI_MCA_pml=ob1 for every test: take it away here.
run() { env -u OMPI_MCA_pml "$@" >"$T/out" 2>"$T/err" || { cat "$T/out" "$T/err" >&2; fail "$*"; }; }
pml_line() { grep '^mpi pml: ' "$T/out" || fail "no 'mpi pml:' line in: $(cat "$T/out")"; }

if ! "$BIN" version | grep -q 'Open MPI'; then
  echo "not Open MPI: the rule does not apply"
  run "$BIN" version --verbose
  pml_line | grep -q 'not Open MPI' || fail "other MPI: $(pml_line)"
  exit 0
fi

# Singleton, nothing set: bfcr chooses ob1, and Open MPI loads no other pml.
run env OMPI_MCA_pml_base_verbose=100 "$BIN" version --verbose
[ "$(pml_line)" = "mpi pml: ob1 (set by bfcr: no launcher, single process)" ] ||
  fail "singleton: $(pml_line)"
if grep -q 'found loaded component' "$T/err"; then
  others=$(grep 'components_register: found loaded component' "$T/err" | grep -v 'component ob1$' || true)
  [ -z "$others" ] || fail "singleton loaded other pml components: $others"
  grep -q 'select: component ob1 selected' "$T/err" || fail "singleton did not select ob1"
fi

# The user's choice is kept, whatever it is ('^cm': every pml but cm).
run env OMPI_MCA_pml='^cm' "$BIN" version -v
[ "$(pml_line)" = "mpi pml: ^cm (from OMPI_MCA_pml)" ] || fail "user value: $(pml_line)"
run env OMPI_MCA_pml=ob1 "$BIN" version -v
[ "$(pml_line)" = "mpi pml: ob1 (from OMPI_MCA_pml)" ] || fail "user ob1: $(pml_line)"

# A launcher's variable alone (here Slurm's) leaves the default in place.
run env SLURM_PROCID=0 "$BIN" version -v
[ "$(pml_line)" = "mpi pml: default (MPI's default: started by a launcher)" ] ||
  fail "SLURM_PROCID: $(pml_line)"

# Started by mpiexec (1 and 2 ranks): nothing set; rank 0 prints.
for np in 1 2; do
  run "$MPIEXEC" --oversubscribe -n "$np" "$BIN" version --verbose
  [ "$(pml_line)" = "mpi pml: default (MPI's default: started by a launcher)" ] ||
    fail "mpiexec -n $np: $(pml_line)"
done
# ...and a user's value still reaches the ranks it launched.
run "$MPIEXEC" --oversubscribe -x OMPI_MCA_pml=ob1 -n 2 "$BIN" version --verbose
[ "$(pml_line)" = "mpi pml: ob1 (from OMPI_MCA_pml)" ] || fail "mpiexec with a value: $(pml_line)"

# The ordinary version line is unchanged without --verbose.
run "$BIN" version
[ "$(wc -l <"$T/out")" = 1 ] || fail "plain version prints $(wc -l <"$T/out") lines"
echo "singleton start: ok"
