#!/usr/bin/env bash
# Installed package, used the way a user would: install the already-built tree into a
# temporary prefix, move the prefix (both the CMake package and bfcr.pc must be
# relocatable, the apps must find libbfcr through their RPATH), build examples/ against
# it through find_package(bfcr) and through pkg-config, run the example as a singleton
# and under mpiexec -n 2 (same scores, same model file), and run the installed app.
# Env (set by CTest): BFCR_BIN (build/bin), MPIEXEC.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
: "${BFCR_BIN:?BFCR_BIN must point at the bin folder of a build tree}"
build=$(cd "$BFCR_BIN/.." && pwd)
mpiexec=${MPIEXEC:-mpiexec}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bfcr-install.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}
step() { echo "== $*"; }

step "install $build into a temporary prefix, then move it"
cmake --install "$build" --prefix "$tmp/staged" >"$tmp/install.log" 2>&1 ||
  { cat "$tmp/install.log" >&2; fail "cmake --install failed"; }
mv "$tmp/staged" "$tmp/prefix"
prefix=$tmp/prefix
pc=$(find "$prefix" -name bfcr.pc -path '*/pkgconfig/*' | head -n 1)
[[ -n $pc ]] || fail "no bfcr.pc installed"
libdir=$(dirname "$(dirname "$pc")")
for f in include/bfcr/bfcr.h include/bfcr/version.h bin/bfcr; do
  [[ -f $prefix/$f ]] || fail "not installed: $f"
done
static=0
[[ -e $libdir/libbfcr.so ]] || static=1
lib=$libdir/libbfcr.so
((static)) && lib=$libdir/libbfcr.a
for f in "${lib##*/}" "cmake/bfcr/bfcrConfig.cmake" "cmake/bfcr/bfcrConfigVersion.cmake" \
  "cmake/bfcr/bfcrTargets.cmake"; do
  [[ -e $libdir/$f ]] || fail "not installed: ${libdir#"$prefix"/}/$f"
done
# The shared library carries its SOVERSION.
if ((!static)); then
  compgen -G "$libdir/libbfcr.so.[0-9]*" >/dev/null || fail "libbfcr.so has no SOVERSION file"
fi
# A sanitizer build of bfcr (scripts/test.sh --tier asan) needs its consumers built so too.
san=""
if grep -q -a __asan_init "$(realpath "$lib")"; then
  san="-fsanitize=address,undefined"
fi
pclibs=(--libs)
((static)) && pclibs=(--static --libs)
version=$(sed -n 's/^#define BFCR_VERSION_STRING "\(.*\)"$/\1/p' "$prefix/include/bfcr/version.h")
[[ -n $version ]] || fail "installed version.h has no BFCR_VERSION_STRING"

step "pkg-config file"
export PKG_CONFIG_PATH="$libdir/pkgconfig${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}"
[[ $(pkg-config --modversion bfcr) == "$version" ]] || fail "pkg-config version != $version"
# The prefix was moved after installing: only a relocatable file points into it.
incdir=$(pkg-config --variable=includedir bfcr)
[[ $incdir == "$prefix"/* && -f $incdir/bfcr/bfcr.h ]] ||
  fail "bfcr.pc is not relocatable: includedir=$incdir"
[[ $(realpath "$(pkg-config --variable=libdir bfcr)") == "$(realpath "$libdir")" ]] ||
  fail "bfcr.pc is not relocatable: libdir=$(pkg-config --variable=libdir bfcr)"
pkg-config --cflags bfcr | grep -q "openmpi" || fail "bfcr.pc does not bring the MPI flags"
if pkg-config --static --libs bfcr | grep -q gslcblas; then
  fail "bfcr.pc pulls in gslcblas: $(pkg-config --static --libs bfcr)"
fi

step "example through find_package(bfcr)"
cmake -S "$src/examples" -B "$tmp/ex-cmake" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="-Werror $san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
  >"$tmp/ex-cmake.log" 2>&1 ||
  { cat "$tmp/ex-cmake.log" >&2; fail "configuring the example with find_package(bfcr) failed"; }
cmake --build "$tmp/ex-cmake" >>"$tmp/ex-cmake.log" 2>&1 ||
  { cat "$tmp/ex-cmake.log" >&2; fail "building the example with find_package(bfcr) failed"; }
grep -q "bfcr_DIR:PATH=$libdir/cmake/bfcr" "$tmp/ex-cmake/CMakeCache.txt" ||
  fail "find_package(bfcr) did not use the installed package"

step "example through pkg-config"
mkdir -p "$tmp/ex-pc"
make -C "$tmp/ex-pc" -f "$src/examples/Makefile" CFLAGS="-O2 -Wall -Wextra -Werror $san" \
  STATIC=$((static ? 1 : 0)) >"$tmp/ex-pc.log" 2>&1 ||
  { cat "$tmp/ex-pc.log" >&2; fail "building the example with pkg-config failed"; }

# Every binary must load libbfcr from the moved prefix, not from the build tree.
for exe in "$tmp/ex-cmake/fit_predict" "$tmp/ex-pc/fit_predict" "$prefix/bin/bfcr"; do
  if ((!static)); then
    where=$(env -u LD_LIBRARY_PATH ldd "$exe" | awk '/libbfcr/ {print $3}')
    [[ $(realpath "$where") == "$(realpath "$libdir")"/libbfcr.so.* ]] ||
      fail "$exe loads libbfcr from '$where', not from $libdir"
  fi
done

step "BLAS provider of libbfcr in a program that also uses GSL"
# libgsl needs libgslcblas (GSL's reference CBLAS). With bfcr linked ahead of GSL, as
# docs/install.md says, libbfcr's cblas_* must bind to OpenBLAS; linked behind, they
# bind to gslcblas (reported below, not failed: the order is the user's choice).
cat >"$tmp/gslmix.c" <<'EOF'
#include <stdio.h>
#include <gsl/gsl_sf_bessel.h>
#include "bfcr/bfcr.h"
int main(void) {
  printf("%s %.3f\n", bfcr_status_name(BFCR_OK), gsl_sf_bessel_J0(1.0));
  return 0;
}
EOF
# shellcheck disable=SC2046 # word splitting of pkg-config output is intended
cc -std=c11 $san -o "$tmp/gsl_after" "$tmp/gslmix.c" $(pkg-config --cflags "${pclibs[@]}" bfcr) -lgsl \
  -Wl,-rpath,"$libdir" || fail "cannot build a program linking bfcr then GSL"
# shellcheck disable=SC2046
cc -std=c11 $san -o "$tmp/gsl_before" "$tmp/gslmix.c" -lgsl $(pkg-config --cflags "${pclibs[@]}" bfcr) \
  -Wl,-rpath,"$libdir" || fail "cannot build a program linking GSL then bfcr"
bindings() { # program: bfcr's BLAS bindings (from libbfcr.so, or from the program when
  # bfcr is static: the program itself calls no BLAS), resolved at start-up
  env -u LD_LIBRARY_PATH LD_BIND_NOW=1 LD_DEBUG=bindings "$1" 2>&1 >/dev/null |
    grep -E "binding file [^ ]*(libbfcr|gsl_after|gsl_before)[^ ]* .* to .*symbol .cblas_" || true
}
after=$(bindings "$tmp/gsl_after")
[[ -n $after ]] || fail "libbfcr binds no cblas_ symbol (LD_DEBUG=bindings found none)"
if grep -q gslcblas <<<"$after"; then
  fail "bfcr linked before GSL still runs GSL's CBLAS: $(grep gslcblas <<<"$after" | head -n 1)"
fi
grep -q openblas <<<"$after" || fail "libbfcr's cblas_ calls do not bind to OpenBLAS: $after"
if grep -q gslcblas <<<"$(bindings "$tmp/gsl_before")"; then
  echo "note: linked as -lgsl -lbfcr, libbfcr's cblas_* bind to GSL's reference CBLAS"
fi

run() { # label, command...: run with a timeout, keep the output, fail with it shown
  local label=$1
  shift
  if ! (cd "$tmp" && env -u LD_LIBRARY_PATH timeout 180 "$@") >"$tmp/$label.out" 2>"$tmp/$label.err"; then
    cat "$tmp/$label.out" "$tmp/$label.err" >&2
    fail "$label: $*"
  fi
  cat "$tmp/$label.out"
}

step "installed app"
run version "$prefix/bin/bfcr" version
grep -q -F "$version" "$tmp/version.out" || fail "bfcr version does not print $version"

step "run the examples (singleton, then 2 ranks)"
run cmake1 "$tmp/ex-cmake/fit_predict" cmake1.model
run pc1 "$tmp/ex-pc/fit_predict" pc1.model
scores() { grep '^scores: ' "$tmp/$1.out" || fail "$1: no scores line"; }
s1=$(scores cmake1)
[[ $s1 == "$(scores pc1)" ]] || fail "pkg-config build scores differ: $s1 vs $(scores pc1)"
# Sanity of the fit: the blob recipe has noise 0.5 and cluster offsets of sd 5, so a
# per-cluster model is far better than R^2 = 0.5.
awk -v s="$s1" 'BEGIN { split(s, a, "r2="); exit !(a[2] + 0 > 0.5) }' ||
  fail "implausible fit: $s1"
run cmake2 "$mpiexec" -n 2 --oversubscribe "$tmp/ex-cmake/fit_predict" cmake2.model
[[ $s1 == "$(scores cmake2)" ]] || fail "2 ranks score differently: $s1 vs $(scores cmake2)"
cmp "$tmp/cmake1.model" "$tmp/cmake2.model" || fail "the model file depends on the rank count"

echo "install test: OK (prefix relocated, CMake + pkg-config consumers, 1 and 2 ranks)"
