#!/usr/bin/env bash
# test_cli.sh: the executable's user interface: help, --version, errors for unknown
# commands, options and configuration keys (one line, non-zero exit).
set -u
exe=${MSTARS_EXE:?}
fails=0
check() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
out=$(mktemp); err=$(mktemp)

"$exe" --version >"$out" 2>"$err"
check "--version exits 0" test $? -eq 0
check "--version names a git revision (not an empty one: src/meson.build keeps @VCS_TAG@)" \
  grep -Eq "\(git [0-9a-z]" "$out"
for word in "mstars 0" "git" "MPI:" "Open MPI" "HDF5:" "parallel" "BLAS:" "OpenBLAS" "hwloc:" "cfitsio:"; do
    check "--version mentions '$word'" grep -q "$word" "$out"
done

"$exe" help >"$out" 2>"$err"
check "help exits 0" test $? -eq 0
check "help lists config" grep -q "^  config " "$out"
check "help lists every command once" test -z "$(grep -E '^  [a-z]' "$out" | awk '{print $1}' | sort | uniq -d)"

"$exe" frobnicate >"$out" 2>"$err"; rc=$?
check "unknown command exits 2" test $rc -eq 2
check "unknown command: one line naming it" test "$(grep -c frobnicate "$err")" -eq 1 -a "$(wc -l <"$err")" -eq 1

"$exe" config --bogus >"$out" 2>"$err"; rc=$?
check "unknown option exits 2" test $rc -eq 2
check "unknown option named" grep -q "'--bogus'" "$err"
check "unknown option: one line" test "$(wc -l <"$err")" -eq 1

"$exe" config --set preprocess.continuum_sigmaa=3 >"$out" 2>"$err"; rc=$?
check "unknown key exits non-zero" test $rc -ne 0
check "unknown key named" grep -q "preprocess.continuum_sigmaa" "$err"

"$exe" config --set preprocess.continuum_sigma=25 >"$out" 2>"$err"
check "override applied" grep -q "continuum_sigma = 25.0;" "$out"

"$exe" config --help >"$out" 2>"$err"
check "command help lists common options" grep -q -- "--set KEY=VALUE" "$out"

"$exe" config --docs --config "$MSTARS_SOURCE_ROOT/config/mock-small.cfg" >"$out" 2>"$err"
check "config --docs with a config file" grep -q "# sigma of the Gaussian kernel" "$out"

# numeric options (ms_cli_number): not a number, out of range, a range in the message
# (under mpiexec, as users run these commands: a singleton MPI start can stall under load)
one() { timeout 120 mpiexec --oversubscribe -n 1 "$@"; }
one "$exe" rv --spectra none.h5 --out none_cat.h5 --fit-points 7x >"$out" 2>"$err"; rc=$?
check "a numeric option that is not a number exits 2" test $rc -eq 2
check "... naming the command, option and text" grep -q "mstars rv: --fit-points '7x' is not a number in 3..21" "$err"
one "$exe" lumclass --spectra none.h5 --out none_cat.h5 --limit 0 >"$out" 2>"$err"; rc=$?
check "a numeric option below its minimum exits 2" test $rc -eq 2
check "... saying the minimum" grep -q "mstars lumclass: --limit '0' is not a number >= 1" "$err"
one "$exe" laspm --spectra none.h5 --library none_lib.h5 --out none_cat.h5 --n-curv 300 >"$out" 2>"$err"; rc=$?
check "a numeric option above its maximum exits 2" test $rc -eq 2
check "... saying the range" grep -q "mstars laspm: --n-curv '300' is not a number in 4..256" "$err"

rm -f "$out" "$err"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
