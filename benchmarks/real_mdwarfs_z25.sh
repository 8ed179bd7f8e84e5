#!/bin/bash
# real_mdwarfs_z25.sh: the Z25 pipeline on the real M dwarfs with the real grid (issue 17's
# proof). Ingests ../shared/data/btsettl-cifist (the only real grid here; the quality gate
# must flag it) and the LAMOST M dwarfs of ../shared/data/lamost-mdwarfs, trains a small,
# quick emulator (teff, logg), fits, and prints: the grid warning, the fraction of rows
# flagged and why, the catalog's sanity verdict, the spread of (fit - literature) / e_teff
# over the unflagged rows (target 0.7-1.5, or every bad row flagged), and SpT(TiO5) against
# the LAMOST SUBCLASS.
#
# usage: benchmarks/real_mdwarfs_z25.sh [OUTDIR]      (env: MSTARS, SHARED, EPOCHS, HIDDEN,
#                                                     EXTRA: more `--set` options for fit)
# Takes about a minute on 2 busy cores. Needs /usr/bin/python3 (standard library only).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[ -d "$SHARED/data" ] || [ ! -d "$ROOT/../../shared/data" ] || SHARED=$ROOT/../../shared  # a git worktree one level down
MSTARS=${MSTARS:-$ROOT/build/src/mstars}
OUT=${1:-/tmp/real_mdwarfs_z25}
EPOCHS=${EPOCHS:-400}
HIDDEN=${HIDDEN:-64}
EXTRA=${EXTRA:-}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
GRID=$SHARED/data/btsettl-cifist
MD=$SHARED/data/lamost-mdwarfs
[ -d "$GRID" ] && [ -d "$MD" ] || { echo "no real data under $SHARED/data: skipped"; exit 0; }
mkdir -p "$OUT"
cd "$OUT"
rm -f grid.h5 spectra.h5 emulator.h5 emulator.h5.ckpt catalog.h5 catalog.csv
echo "== ingest-grid (the quality gate)"
"$MSTARS" ingest-grid --grid "$GRID" --out grid.h5 > ingest_grid.log 2>&1
grep -E "grid quality" ingest_grid.log | sed 's/^\[[^]]*\] //'
echo "== ingest the real M dwarfs"
# an input catalog with one id per star (source_id = obsid: these 37 spectra are 37 stars), so
# that calibrate-errors can split the reference by star; and the reference (literature Teff,
# log g by obsid)
/usr/bin/python3 - "$MD/labels.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open("input.csv", "w") as f:
    f.write("obsid,source_id\n")
    for r in rows:
        f.write(f"{r['obsid']},{r['obsid']}\n")
with open("reference.csv", "w") as f:
    f.write("obsid,teff,logg\n")
    for r in rows:
        if r["teff"]:
            f.write(f"{r['obsid']},{r['teff']},{r['logg']}\n")
PY
"$MSTARS" ingest --spectra "$MD" --catalog input.csv --out spectra.h5 > ingest.log 2>&1
grep -E "rows in|ok " ingest.log | sed 's/^\[[^]]*\] //'
echo "== train-emulator (teff, logg; ${HIDDEN} x 2, ${EPOCHS} epochs)"
"$MSTARS" train-emulator --grid grid.h5 --out emulator.h5 --set emulator.labels=teff,logg \
    --set emulator.hidden="$HIDDEN" --set emulator.epochs="$EPOCHS" \
    --set emulator.batch_size=32 --set emulator.validate_every=20 > train.log 2>&1
grep -E "WARN|validation accuracy|per pixel" train.log | sed 's/^\[[^]]*\] //'
echo "== fit"
# shellcheck disable=SC2086
"$MSTARS" fit --spectra spectra.h5 --emulator emulator.h5 --out catalog.h5 \
    --set run.progress_seconds=0 $EXTRA > fit.log 2>&1
grep -E "WARN" fit.log | sed 's/^\[[^]]*\] //'
grep -E "INFO.*catalog sanity" fit.log | sed 's/^\[[^]]*\] //' || true
"$MSTARS" export catalog.h5 --format csv --out catalog.csv > /dev/null 2>&1
echo "== against the literature (labels.csv, joined by obsid): the fit's own errors"
/usr/bin/python3 "$ROOT/benchmarks/real_mdwarfs_compare.py" catalog.csv "$MD/labels.csv"
echo "== calibrate-errors --reference (no repeats): floor and scale from half of the stars"
cp catalog.h5 catalog_cal.h5
"$MSTARS" calibrate-errors --catalog catalog_cal.h5 --reference reference.csv \
    --reference-fraction 0.5 --error-model scaled > calib.log 2>&1 || { tail -3 calib.log; exit 1; }
grep -E "teff|logg" calib.log | sed 's/^\[[^]]*\] //' | head -8
"$MSTARS" export catalog_cal.h5 --format csv --out catalog_cal.csv > /dev/null 2>&1
/usr/bin/python3 "$ROOT/benchmarks/real_mdwarfs_compare.py" catalog_cal.csv "$MD/labels.csv" \
    --total --check-half
