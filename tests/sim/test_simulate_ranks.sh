#!/usr/bin/env bash
# test_simulate_ranks.sh: `mstars simulate` end to end under MPI: the same seed gives
# byte-identical files (spectra, plain and gzip, grid, truth.csv, input_catalog.csv, lists)
# with 1 and 2 ranks; COMPLETE is written; every truth row has its file and vice versa;
# a different seed gives a different survey; bad options fail with one line.
set -u
exe=${MSTARS_EXE:?}
mpiexec=${MPIEXEC:-mpiexec}
tmp=$(mktemp -d /tmp/mstars-simulate-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
check() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
opts=(--set simulate.n_stars=24 --set simulate.repeat_fraction=0.5
      --set simulate.pathological_fraction=0.25 --set simulate.gzip_fraction=0.4
      --set simulate.grid_teff=3200,3300,100 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set simulate.grid_format=both --log-level warn)

"$mpiexec" --oversubscribe -n 1 "$exe" simulate "${opts[@]}" --out "$tmp/r1" >"$tmp/log1" 2>&1
check "1 rank exits 0" test $? -eq 0
"$mpiexec" --oversubscribe -n 2 "$exe" simulate "${opts[@]}" --out "$tmp/r2" >"$tmp/log2" 2>&1
check "2 ranks exit 0" test $? -eq 0
check "COMPLETE written" test -f "$tmp/r2/COMPLETE"
check "1 and 2 ranks give identical files" diff -r -q "$tmp/r1" "$tmp/r2"
nspec=$(find "$tmp/r2/spectra" -type f | wc -l)
nrows=$(($(wc -l <"$tmp/r2/truth.csv") - 1))
check "every truth row has its file and every file its row ($nrows)" test "$nspec" -eq "$nrows"
missing=0
while read -r f; do [ -f "$tmp/r2/$f" ] || missing=$((missing + 1)); done <"$tmp/r2/spectra.lst"
check "spectra.lst names existing files" test "$missing" -eq 0
check "some files are gzip" test "$(find "$tmp/r2/spectra" -name '*.fits.gz' | wc -l)" -gt 0
check "grid has .spec.7 and .spec.fits" test "$(find "$tmp/r2/grid" -name '*.spec.7' | wc -l)" -eq 24 \
    -a "$(find "$tmp/r2/grid" -name '*.spec.fits' | wc -l)" -eq 24

"$mpiexec" --oversubscribe -n 2 "$exe" simulate "${opts[@]}" --set general.seed=7 --survey-only \
    --out "$tmp/r3" >"$tmp/log3" 2>&1
check "--survey-only exits 0" test $? -eq 0
check "--survey-only writes no grid" test ! -e "$tmp/r3/grid"
check "another seed, another survey" bash -c "! cmp -s '$tmp/r1/truth.csv' '$tmp/r3/truth.csv'"

# the other populations (simulate.fraction_*): still identical for any rank count
mix=(--set simulate.n_stars=30 --set simulate.fraction_mgiant=0.15 --set simulate.fraction_ob=0.1
     --set simulate.fraction_a=0.1 --set simulate.fraction_k=0.1 --set simulate.fraction_wd=0.1
     --set simulate.fraction_galaxy=0.1 --set simulate.fraction_qso=0.1
     --set simulate.pathological_fraction=0.1 --survey-only --log-level warn)
"$mpiexec" --oversubscribe -n 1 "$exe" simulate "${mix[@]}" --out "$tmp/m1" >"$tmp/logm1" 2>&1
check "mixed population, 1 rank exits 0" test $? -eq 0
"$mpiexec" --oversubscribe -n 2 "$exe" simulate "${mix[@]}" --out "$tmp/m2" >"$tmp/logm2" 2>&1
check "mixed population, 2 ranks exit 0" test $? -eq 0
check "mixed population: 1 and 2 ranks give identical files" diff -r -q "$tmp/m1" "$tmp/m2"
check "mixed population: truth names several kinds" \
    test "$(cut -d, -f51 "$tmp/m2/truth.csv" | sort -u | wc -l)" -ge 5

"$exe" simulate --set simulate.n_stars=5 >"$tmp/out" 2>"$tmp/err"; rc=$?
check "missing --out exits 2" test $rc -eq 2
check "missing --out: one line" test "$(wc -l <"$tmp/err")" -eq 1
"$exe" simulate --out "$tmp/r4" --set simulate.grid_format=hdf5 --grid-only >"$tmp/out" 2>"$tmp/err"; rc=$?
check "bad grid_format fails" test $rc -ne 0
check "bad grid_format named" grep -q "grid_format" "$tmp/err"
check "failed run is not COMPLETE" test ! -e "$tmp/r4/COMPLETE"

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all checks passed"
