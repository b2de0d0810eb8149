#!/usr/bin/env bash
# A rank that dies in the middle of the collective model write (a model fitted on 2 ranks
# keeps its routing rows in shards; rank 0 writes the file and receives rank 1's rows as
# it reaches them): the job ends, nonzero, within FAULT_LIMIT seconds, and the earlier
# model file is byte-identical. The rank is stopped (SIGSTOP) as soon as the temporary
# file appears, so the kill lands while the file is incomplete, then killed (SIGKILL).
# Both the writer (rank 0) and a sender (rank 1) are tried.
source "$(dirname "$0")/common.sh"
cd "$T"
command -v "$MPIEXEC" >/dev/null || fail "no mpiexec ($MPIEXEC)"
FAULT_LIMIT=${FAULT_LIMIT:-60}

"$BIN" gen -o big.csv --n 300000 --d 8 --clusters 20 --seed 4 >/dev/null
"$BIN" gen -o small.csv --n 2000 --d 8 --clusters 5 --seed 4 >/dev/null
"$BIN" fit small.csv --target y -o m.bfcr >/dev/null
keep m.bfcr

for victim_rank in 1 0; do
  timeout -k 5 600 "$MPIEXEC" -n 2 --oversubscribe --bind-to none "$BIN" fit big.csv --target y \
    -o m.bfcr --threads 1 >"$T/out" 2>"$T/err" &
  job=$!
  victim=""
  for _ in $(seq 3000); do # the rank with OMPI_COMM_WORLD_RANK = victim_rank
    mpirun_pid=$(pgrep -P $job | head -1 || true)
    for r in $( [ -n "$mpirun_pid" ] && pgrep -P "$mpirun_pid" -x bfcr || true); do
      if tr '\0' '\n' <"/proc/$r/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$victim_rank"; then
        victim=$r
      fi
    done
    [ -n "$victim" ] && break
    sleep 0.05
  done
  [ -n "$victim" ] || fail "rank $victim_rank not found"
  # Wait for the temporary file of the atomic write, then freeze the victim there.
  # Bounded by time, not by a count of polls: under a sanitizer the fit before the write
  # takes far longer than a fixed number of polls.
  stopped=0
  deadline=$((SECONDS + 540))
  while ((SECONDS < deadline)); do
    if compgen -G ".m.bfcr.tmp-*" >/dev/null; then
      kill -STOP "$victim" 2>/dev/null && stopped=1
      break
    fi
    kill -0 $job 2>/dev/null || break
  done
  if [ $stopped = 0 ]; then
    wait $job || true
    fail "rank $victim_rank: never saw the temporary model file"
  fi
  sleep 0.5
  unchanged m.bfcr
  t0=$(date +%s)
  kill -KILL "$victim"
  got=0
  wait $job || got=$?
  t1=$(date +%s)
  if [ "$got" = 0 ]; then
    note "rank $victim_rank: the write ended before the stop (not a mid-write fault); rerun"
    cp m.bfcr.keep m.bfcr
    continue
  fi
  [ $((t1 - t0)) -le "$FAULT_LIMIT" ] || fail "rank $victim_rank: the job took $((t1 - t0)) s to end"
  unchanged m.bfcr
  note "rank $victim_rank killed mid-write: mpirun exit $got after $((t1 - t0)) s, old model intact"
done
echo "ok"
