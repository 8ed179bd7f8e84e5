#!/usr/bin/env bash
# test_rv_cli.sh: `mstars rv` end to end on real LAMOST M dwarfs (../shared; skipped when absent):
#   - the catalog is identical (exact) for 1 and 2 ranks and different chunk sizes;
#   - --max-runtime stops cleanly and --resume finishes it identical to an uninterrupted run;
#   - template RVs agree with the LAMOST pipeline RV (median |rv_tm - Z c| < 10 km/s) and
#     every spectrum gets a template RV;
#   - a store made before the native view: a clear error naming the dataset and the fix.
set -u
. "$(dirname "$0")/../lib.sh"
shared=${MSTARS_SHARED:?}
data=$shared/data/lamost-mdwarfs
tpl=$shared/data/templates-kesseli2017
if [ ! -d "$data" ] || [ ! -d "$tpl" ]; then echo "SKIP: $data or $tpl absent"; exit 77; fi
ms_workdir
ls "$data"/*.fits | head -12 > "$work/list.lst"
"$exe" ingest --log-level warn --spectra "$work/list.lst" --out "$work/store.h5" >/dev/null ||
  { echo "FAIL ingest"; exit 1; }
rv=("$exe" rv --log-level warn --spectra "$work/store.h5" --templates "$tpl")
mpi 1 "${rv[@]}" --set run.chunk_size=4 --out "$work/cat1.h5" >/dev/null
check "rv with 1 rank exits 0" test $? -eq 0
mpi 2 "${rv[@]}" --set run.chunk_size=3 --out "$work/cat2.h5" >/dev/null
check "rv with 2 ranks exits 0" test $? -eq 0
check "catalog: 2 ranks, chunks of 3 == 1 rank, chunks of 4 (exact)" \
  h5diff -q "$work/cat1.h5" "$work/cat2.h5" /catalog /catalog

mpi 2 "${rv[@]}" --set run.chunk_size=3 --out "$work/lim.h5" --max-runtime 0.0001 >/dev/null
check "--max-runtime: exit 0, no complete-looking catalog" test $? -eq 0 -a ! -e "$work/lim.h5"
mpi 2 "${rv[@]}" --set run.chunk_size=3 --out "$work/lim.h5" --resume >/dev/null
check "--resume completes identical to an uninterrupted run" \
  h5diff -q "$work/cat2.h5" "$work/lim.h5" /catalog /catalog

paste <(values "$work/cat1.h5" /catalog/rv_tm) <(values "$work/cat1.h5" /catalog/rv_pipeline) > "$work/rv.txt"
check "every spectrum has a template RV" awk '$1 == "nan" || $1 == "NaN" { bad++ } END { exit bad > 0 || NR != 12 }' "$work/rv.txt"
check "median |rv_tm - Z c| < 10 km/s" bash -c "awk '\$2 != \"nan\" { d = \$1 - \$2; print (d < 0 ? -d : d) }' '$work/rv.txt' |
  sort -g | awk '{ v[NR] = \$1 } END { exit !(NR > 5 && v[int((NR + 1) / 2)] < 10) }'"

# a store without the native view (as written before it existed): the store with /native
# removed (h5py), when Debian's python3-h5py is there
if /usr/bin/python3 -c "import h5py" 2>/dev/null; then
  cp "$work/store.h5" "$work/old.h5"
  /usr/bin/python3 -c "import h5py, sys; f = h5py.File(sys.argv[1], 'r+'); del f['native']" "$work/old.h5"
  "$exe" rv --log-level warn --spectra "$work/old.h5" --templates "$tpl" --out "$work/x.h5" 2>"$work/err.txt" >/dev/null
  check "old store: rv fails" test $? -ne 0
  check "old store: the error names /native/flux and the fix" \
    grep -q "no /native/flux.*--reprocess" "$work/err.txt"
  "$exe" ingest --log-level warn --spectra "$work/list.lst" --out "$work/old.h5" 2>"$work/err3.txt" >/dev/null
  check "ingest over an old store processes every file again (warning names the native view)" \
    grep -q "no native view" "$work/err3.txt"
  "$exe" rv --log-level warn --spectra "$work/old.h5" --templates "$tpl" --set run.chunk_size=4 \
    --out "$work/cat_re.h5" >/dev/null
  check "the re-ingested store gives the same catalog" \
    h5diff -q "$work/cat1.h5" "$work/cat_re.h5" /catalog /catalog
else
  echo "note: python3-h5py absent, old-store checks not run"
fi
"$exe" rv --log-level warn --spectra "$work/store.h5" --templates "$work/nothing" --out "$work/x.h5" 2>"$work/err2.txt" >/dev/null
check "missing template library: error names it" grep -q "nothing" "$work/err2.txt"
finish
