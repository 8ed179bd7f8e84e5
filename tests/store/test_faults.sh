#!/usr/bin/env bash
# test_faults.sh: what a new user hits (issue 18), through the executable:
#   - ingest --catalog with a missing, column-less or malformed catalog: the catalog's own
#     error, exit 1, no crash (was SIGFPE), with 1 and 2 ranks;
#   - finished work is not overwritten: ingest --out over a catalog refuses; fit over a
#     complete catalog needs --force; fit --resume on a complete, calibrated catalog does
#     nothing, says so and keeps the calibration columns;
#   - export: unknown format exit 2; FITS read by astropy without a UnitsWarning, with the
#     bit names (TFLAGn) and TNULL; CSV read by pandas with obsid and source_id as int64;
#     LAMOST names (teff_err, snrr);
#   - the fit's progress wording; jobs/demo.sh refuses to delete a folder it did not make.
set -u
MS_MPI_TIMEOUT=120
. "$(dirname "$0")/../lib.sh"
ms_workdir
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=120
      --set simulate.grid_teff=3000,3600,200 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set emulator.hidden=16 --set emulator.epochs=5
      --set run.chunk_size=4 --set fit.presearch_points=16 --log-level warn)
mock_fit_inputs 1

# ingest --catalog: the catalog's own error
printf 'a,b\n1,2\n' >"$work/nocol.csv"
printf 'obsid,x\n1,"unterminated\n' >"$work/bad.csv"
for c in missing nocol bad; do
  for n in 1 2; do
    mpi $n "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$work/$c.csv" \
      --out "$work/s_$c.h5" >"$work/log" 2>&1
    rc=$?
    check "ingest --catalog $c.csv, $n rank(s): exit 1 (no SIGFPE)" test $rc -eq 1
    check "ingest --catalog $c.csv, $n rank(s): the error names the catalog" grep -q "$c.csv" "$work/log"
    check "ingest --catalog $c.csv, $n rank(s): no store" test ! -e "$work/s_$c.h5" -a ! -e "$work/s_$c.h5.partial"
  done
done

fit=("$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5")
mpi 2 "${fit[@]}" --out "$work/cat.h5" --log-level info --set run.progress_seconds=0.001 \
  >"$work/fit.log" 2>&1 || { echo "FAIL fit"; exit 1; }
check "progress counts flagged rows as 'failed or unusable', not 'failed'" \
  sh -c "grep -q 'flagged so far (failed or unusable)' '$work/fit.log' && ! grep -q 'failed so far' '$work/fit.log'"
cp "$work/cat.h5" "$work/cat0.h5"

# ingest over a catalog refuses, the catalog unchanged
mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --out "$work/cat.h5" >"$work/log" 2>&1
rc=$?
check "ingest --out over a catalog: exit 1, saying it is a catalog" \
  sh -c "test $rc -eq 1 && grep -q 'is a catalog' '$work/log'"
check "ingest --out over a catalog: the catalog unchanged" cmp -s "$work/cat.h5" "$work/cat0.h5"

# fit over a complete catalog
mpi 2 "${fit[@]}" --out "$work/cat.h5" >"$work/log" 2>&1
rc=$?
check "fit over a complete catalog: exit 1 naming --force" sh -c "test $rc -eq 1 && grep -q -- '--force' '$work/log'"
check "fit over a complete catalog: unchanged" cmp -s "$work/cat.h5" "$work/cat0.h5"
"$exe" calibrate-errors --catalog "$work/cat.h5" --log-level warn >/dev/null 2>&1
ncols=$(h5ls "$work/cat.h5/catalog" | wc -l)
mpi 2 "${fit[@]}" --out "$work/cat.h5" --resume --log-level info >"$work/log" 2>&1
rc=$?
check "fit --resume on a complete catalog: exit 0, says nothing to resume" \
  sh -c "test $rc -eq 0 && grep -q 'nothing to resume' '$work/log'"
check "fit --resume on a complete catalog: calibration columns kept ($ncols)" \
  test "$(h5ls "$work/cat.h5/catalog" | wc -l)" -eq "$ncols"
mpi 2 "${fit[@]}" --out "$work/cat0.h5" --force >/dev/null 2>&1
check "fit --force replaces a complete catalog" test $? -eq 0 -a -e "$work/cat0.h5"
mpi 2 "${fit[@]}" --out "$work/cat0.h5" --force --max-runtime 0.0001 >/dev/null 2>&1
mpi 2 "${fit[@]}" --out "$work/cat0.h5" --resume >/dev/null 2>&1
check "an interrupted fit --force continues with --resume (the old catalog does not stop it)" \
  test $? -eq 0 -a -e "$work/cat0.h5" -a ! -e "$work/cat0.h5.journal"

# export
"$exe" export "$work/cat0.h5" --format votable --out "$work/c.xml" >/dev/null 2>&1
check "export --format votable: exit 2 (a bad command line)" test $? -eq 2
"$exe" export "$work/cat0.h5" --format fits --out "$work/c.fits" --log-level warn &&
  "$exe" export "$work/cat0.h5" --format csv --out "$work/c.csv" --names lamost --log-level warn
check "export fits and csv --names lamost" test $? -eq 0
if /usr/bin/python3 -c 'import astropy, pandas' 2>/dev/null; then
  /usr/bin/python3 - "$work/c.fits" "$work/c.csv" >"$work/py.txt" 2>&1 <<'PY'
import sys, warnings
from astropy.io import fits
from astropy.table import Table
from astropy.units import UnitsWarning
import pandas as pd
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter("always")
    t = Table.read(sys.argv[1], hdu="CATALOG")
units = [x for x in w if issubclass(x.category, UnitsWarning)]
print("units_warnings", len(units))
h = fits.getheader(sys.argv[1], "CATALOG")
names = {h["TTYPE%d" % i]: i for i in range(1, h["TFIELDS"] + 1)}
print("tflag_fit", "0=not_converged" in h.get("TFLAG%d" % names["fit_flags"], ""))
print("tflag_cut", "0=teff_hot" in h.get("TFLAG%d" % names["cut_flags"], ""))
print("tnull_source_id", h.get("TNULL%d" % names["source_id"]) == -1)
print("tcomm_long", len(h.get("TCOMM%d" % names["spt"], "")) > 60)
print("obsid_int", t["obsid"].dtype.kind == "i")
d = pd.read_csv(sys.argv[2])
print("pandas_int", d["obsid"].dtype.kind == "i" and d["gaia_source_id"].dtype.kind == "i"
      and d["vbflag"].dtype.kind == "i")
print("lamost_names", "teff_err" in d.columns and "snrr" in d.columns and "e_teff" not in d.columns)
PY
  cat "$work/py.txt"
  check "FITS: astropy reads it without a UnitsWarning" grep -qx "units_warnings 0" "$work/py.txt"
  for k in tflag_fit tflag_cut tnull_source_id tcomm_long obsid_int pandas_int lamost_names; do
    check "export: $k" grep -qx "$k True" "$work/py.txt"
  done
else
  echo "skip the astropy / pandas checks: /usr/bin/python3 without astropy and pandas"
fi

# demo.sh never deletes a folder it did not make (it refuses before building anything)
mkdir -p "$work/mine"
echo precious >"$work/mine/notes.txt"
bash "$root/jobs/demo.sh" "$work/mine" >"$work/log" 2>&1
rc=$?
check "demo.sh OUTDIR that is not a demo folder: exit 1, files kept" \
  sh -c "test $rc -eq 1 && test -e '$work/mine/notes.txt' && grep -q 'not a demo folder' '$work/log'"
finish
