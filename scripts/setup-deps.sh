#!/usr/bin/env bash
# Install what bfcr needs to build and test on Debian 12 (bookworm), only when missing.
# Quiet and quick when everything is present (safe to call from every script); uses
# sudo only when not root. As root it also brings the loopback interface up: Open MPI
# cannot start even a singleton without a network interface.
#   scripts/setup-deps.sh [--check]     --check: list what is missing, install nothing
set -euo pipefail

packages=(
  build-essential cmake pkg-config # compiler, build system
  libopenmpi-dev openmpi-bin       # MPI (mpicc, mpiexec)
  libopenblas-dev liblapacke-dev   # BLAS (GEMM/SYRK), LAPACKE (solves, eigen)
  libgsl-dev                       # RNG, statistics
  libsvm-dev                       # support vector regression per cluster
  libcriterion-dev                 # unit tests
  valgrind                         # memcheck test tier
  gnuplot-nox                      # benchmark plots
  python3                          # benchmark and comparison scripts
  python3-dev python3-numpy        # the Python package (python/) and its tests:
  python3-sklearn python3-pandas   #   scikit-learn estimators, DataFrames,
  python3-pytest python3-mpi4py    #   pytest; mpi4py for the 2-rank test (optional)
)

check_only=0
case "${1:-}" in
  --check) check_only=1 ;;
  "") ;;
  -h | --help)
    sed -n '2,6s/^# \{0,1\}//p' "$0"
    exit 0
    ;;
  *)
    echo "setup-deps: unknown option '$1' (try --help)" >&2
    exit 2
    ;;
esac

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [[ $status == installed ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  if ((check_only)); then
    echo "setup-deps: missing: ${missing[*]}"
    exit 1
  fi
  if ((EUID == 0)); then
    sudo=()
  elif command -v sudo >/dev/null 2>&1; then
    sudo=(sudo)
  else
    echo "setup-deps: not root and no sudo; install as root: apt-get install ${missing[*]}" >&2
    exit 1
  fi
  echo "setup-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # --no-install-recommends: otherwise Open MPI pulls in Fortran coarray packages.
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
elif ((check_only)); then
  echo "setup-deps: all ${#packages[@]} packages present"
fi

# Open MPI needs an interface that is up, even for a singleton run.
if command -v ip >/dev/null 2>&1 && ! ip -o link show lo 2>/dev/null | grep -q '[<,]UP[,>]'; then
  if ((EUID == 0)) && ((!check_only)); then
    ip link set lo up
    echo "setup-deps: brought the loopback interface up"
  else
    echo "setup-deps: warning: the loopback interface is down (as root: ip link set lo up)" >&2
  fi
fi
