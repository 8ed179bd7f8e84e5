#!/bin/bash
# demo_real.sh: the chain of jobs/demo.sh on the real spectra of ../shared/data (issue 24 item 4),
# ending in one table: each method against the independent literature labels of the 35 real M
# dwarfs (bias +/- error, scatter +/- error; errors from 2000 bootstrap resamples).
#
#   jobs/demo_real.sh [OUTDIR]      env: MSTARS (the executable), SHARED (holds data/), RANKS (2),
#                                   EPOCHS (400: the Z25 emulator), CNN (1: the CNN CV; 0: skip)
#
# What runs (every step on the same store; the literature joined BY POSITION everywhere: the
# table given to mstars has no obsid and no file name, so every join goes through the position
# route of include/mstars/join.h):
#   ingest     ../shared/data/lamost-mdwarfs (37 LAMOST DR7 M dwarfs, 35 with literature Teff,
#              log g, [Fe/H]) and ../shared/data/lamost (23 non-M files of DR1-DR10: the DR1
#              files have no OBSID and get the key LMJD-PLANID_spSS-FFF); the literature is the
#              input catalog (/input/lit_*)
#   models     ingest-grid on the real BT-Settl CIFIST grid (the quality gate must WARN: the grid
#              is point-sampled), a small 2-label emulator (teff, logg only: [M/H] and
#              [alpha/M] are n/a); build-library from the labelled stars
#   methods    ONE `fit --methods rv,z25,laspm` pass (combined.h5): template RVs with the
#              Kesseli et al. 2017 templates, the Z25 fit, LASPM --leave-out-self (leave-one-
#              out), the recommended labels (errors by the three-cornered hat: no labels are
#              held out here, the literature is what the table judges) and the disagreement
#   slam-cv    cv-slam, 5 folds of the labelled stars, a coarse hyperparameter grid
#   laspm-kesseli  laspm against the Kesseli templates as a library (spectral type -> Teff)
#   cnn-cv     train-cnn (3-model ensembles) / predict-cnn in 5 outer folds of the stars
#   report     report combined.h5 --reference literature.csv
# (the learned methods are cross-validated, so they stay outside the one pass: a model trained
# on every labelled star would be judged on the stars it trained on)
#
# To add a method later (classify, lumclass): add it to the fit --methods list (or one run line
# in "the methods" below) and one line in TABLE (name | output file | its teff,logg,m_h columns;
# a .h5 catalog is read by its `id` column, a .csv by `store_row`).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
[ -d "$SHARED/data" ] || SHARED=/work/shared
MSTARS=${MSTARS:-$ROOT/build/src/mstars}
OUT=${1:-/tmp/mstars_demo_real}
RANKS=${RANKS:-2}
EPOCHS=${EPOCHS:-400}
CNN=${CNN:-1}
PY=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1 MSTARS_SHARED=$SHARED
MD=$SHARED/data/lamost-mdwarfs
[ -d "$MD" ] || { echo "demo_real: no real data under $SHARED/data: nothing to do"; exit 0; }
mkdir -p "$OUT"
cd "$OUT"
T0=$(date +%s)
say() { echo "== [$(( $(date +%s) - T0 )) s] $*"; }
run() { local log=$1; shift; "$@" > "$log" 2>&1 || { echo "FAILED: $* (see $OUT/$log)"; tail -5 "$log"; exit 1; }; }
mpi() { mpirun -n "$RANKS" "$MSTARS" "$@"; }
# keep every labelled star (one spectrum has 46% good pixels) and every class (the non-M
# files); the store, the grid store and the fit must share them (their preprocess hashes)
PRE=(--set preprocess.min_good_fraction=0.3 --set 'preprocess.required_class=')
echo "# demo_real: $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $RANKS ranks, files in $OUT"

say "inputs: the literature by position only (no obsid, no file name)"
"$PY" - "$MD/labels.csv" <<'PY'
import csv, sys
rows = [r for r in csv.DictReader(open(sys.argv[1])) if r["teff"]]
with open("literature.csv", "w") as f:      # --reference / --labels of every command
    f.write("name,ra,dec,teff,logg,m_h,fe_h\n")
    for r in rows:
        f.write(f"\"{r['name']}\",{r['ra']},{r['dec']},{r['teff']},{r['logg']},{r['fe_h']},{r['fe_h']}\n")
with open("input.csv", "w") as f:           # ingest --catalog: /input/lit_* per store row
    f.write("name,ra,dec,lit_row,lit_teff,lit_logg,lit_m_h\n")
    for k, r in enumerate(rows):
        f.write(f"\"{r['name']}\",{r['ra']},{r['dec']},{k},{r['teff']},{r['logg']},{r['fe_h']}\n")
print(f"   {len(rows)} literature rows")
PY
ls "$MD"/spec-*.fits > spectra.lst
[ -d "$SHARED/data/lamost" ] && ls "$SHARED"/data/lamost/*.fits* >> spectra.lst

say "ingest ($(wc -l < spectra.lst) files)"
rm -f spectra.h5
run ingest.log mpi ingest --spectra spectra.lst --catalog input.csv --out spectra.h5 "${PRE[@]}"
grep -E "input catalog|ambiguous| ok |rows in" ingest.log | sed 's/^\[[^]]*\] /   /'
"$PY" - <<'PY'
import h5py
with h5py.File("spectra.h5", "r") as f:
    key, obsid, dv = (f["meta/" + k][:] for k in ("key", "obsid", "data_v"))
    lay = f["meta/layout"][:]
    dr1 = [k.decode() for k, o, l in zip(key, obsid, lay) if not o.strip()]
    print(f"   keys: {len(set(key))} distinct of {len(key)} rows; rows without an OBSID (DR1 and early plates) keyed "
          f"{', '.join(dr1[:3])}{' ...' if len(dr1) > 3 else ''}")
PY

# ----------------------------------------------------------------------------- the methods
say "models: the real BT-Settl CIFIST grid (must WARN), emulator teff,logg; the LASPM library"
rm -f grid.h5 emulator.h5 emulator.h5.ckpt
run ingest_grid.log "$MSTARS" ingest-grid --grid "$SHARED/data/btsettl-cifist" --out grid.h5 "${PRE[@]}"
grep -E "WARN" ingest_grid.log | sed 's/^\[[^]]*\] /   /' | cut -c1-200
run train_emulator.log "$MSTARS" train-emulator --grid grid.h5 --out emulator.h5 \
    --set emulator.labels=teff,logg --set emulator.hidden=64 --set emulator.epochs="$EPOCHS" \
    --set emulator.batch_size=32 --set emulator.validate_every=20 "${PRE[@]}"
rm -rf library.h5
run build_library.log "$MSTARS" build-library --spectra spectra.h5 --labels lit=literature.csv \
    --out library.h5 --no-dbscan --no-nn-check

say "fit --methods rv,z25,laspm: one pass (rv Kesseli templates, Z25, LASPM leave-one-out)"
rm -rf combined.h5*
run fit_methods.log mpi fit --methods rv,z25,laspm --spectra spectra.h5 --out combined.h5 \
    --templates "$SHARED/data/templates-kesseli2017" --emulator emulator.h5 \
    --laspm-library library.h5 --leave-out-self --set run.progress_seconds=0 "${PRE[@]}"
grep -E "WARN" fit_methods.log | sed 's/^\[[^]]*\] /   /' | cut -c1-200

say "slam-cv: cv-slam, 5 folds, coarse grid"
run cv_slam.log mpi cv-slam --spectra spectra.h5 --labels literature.csv --label-cols teff,logg,m_h \
    --folds 5 --grid-c 1,4 --grid-epsilon 0.05 --grid-gamma auto --cv-folds 4 --out slam_cv.csv \
    --set run.progress_seconds=0
grep -E "slam: " cv_slam.log | grep -E "joined" | sed 's/^\[[^]]*\] /   /' | head -1

say "laspm-kesseli: the Kesseli templates as a library"
rm -rf kesseli_library.h5 laspm_kesseli.h5*
run kesseli_library.log "$PY" "$ROOT/benchmarks/laspm_kesseli_library.py" spectra.h5 kesseli_library.h5 \
    "$SHARED/data/templates-kesseli2017"
run laspm_kesseli.log mpi laspm --spectra spectra.h5 --library kesseli_library.h5 --out laspm_kesseli.h5

if [ "$CNN" = 1 ]; then
  say "cnn-cv: train-cnn / predict-cnn in 5 outer folds of the stars (3-model ensembles)"
  rm -rf cnn[0-9].h5* cnn_cat[0-9].h5*
  "$PY" - "$MSTARS" "$RANKS" <<'PY' > cnn_cv.log 2>&1 || { echo "FAILED: cnn-cv (see $OUT/cnn_cv.log)"; exit 1; }
import csv, subprocess, sys
import h5py, numpy as np
exe, ranks = sys.argv[1], sys.argv[2]
lit = list(csv.DictReader(open("literature.csv")))
with h5py.File("spectra.h5", "r") as f:
    lit_row = f["input/lit_row"][:]
fold = np.random.default_rng(24).permutation(len(lit)) % 5
out = open("cnn_cv.csv", "w")
out.write("store_row,fold,cnn_teff,cnn_logg,cnn_m_h\n")
for k in range(5):
    with open(f"cnn_train{k}.csv", "w") as f:
        f.write("ra,dec,teff,logg,fe_h\n")
        for r, fo in zip(lit, fold):
            if fo != k:
                f.write(f"{r['ra']},{r['dec']},{r['teff']},{r['logg']},{r['fe_h']}\n")
    for args in (["train-cnn", "--spectra", "spectra.h5", "--labels", f"cnn_train{k}.csv", "--class", "dM",
                  "--folds", "3", "--max-epochs", "60", "--out", f"cnn{k}.h5"],
                 ["predict-cnn", "--spectra", "spectra.h5", "--model", f"cnn{k}.h5", "--out", f"cnn_cat{k}.h5"]):
        subprocess.run(["mpirun", "-n", ranks, exe] + args + ["--set", "run.progress_seconds=0"], check=True)
    with h5py.File(f"cnn_cat{k}.h5", "r") as f:
        c = f["catalog"]
        for i, (row, lr) in enumerate(zip(c["id"][:], lit_row)):
            if lr >= 0 and fold[lr] == k:
                out.write(f"{row},{k},{c['cnn_teff'][i]},{c['cnn_logg'][i]},{c['cnn_m_h'][i]}\n")
PY
fi

say "report against the literature"
rm -rf report
run report.log "$MSTARS" report combined.h5 --reference literature.csv --out report
grep -E "joined|ambiguous" report.log | sed 's/^\[[^]]*\] /   /' | head -2

# ------------------------------------------------------------------------------- the table
# name | output | its teff,logg,m_h columns ("-": the method does not give it)
TABLE=(
  "z25 (BT-Settl grid)|combined.h5|z25_teff,z25_logg,-"
  "slam-cv|slam_cv.csv|slam_teff,slam_logg,slam_m_h"
  "laspm-loo|combined.h5|laspm_teff,laspm_logg,laspm_m_h"
  "laspm-kesseli|laspm_kesseli.h5|laspm_teff,laspm_logg,laspm_m_h"
  "cnn-cv|cnn_cv.csv|cnn_teff,cnn_logg,cnn_m_h"
  "recommended (fit --methods)|combined.h5|teff,logg,m_h"
)
say "each method against the literature (joined to the store by position at ingest)"
"$PY" "$ROOT/jobs/demo_real_table.py" spectra.h5 "${TABLE[@]}" | tee table.md
"$PY" - <<'PY'
import h5py, numpy as np
with h5py.File("combined.h5", "r") as f:
    c = f["catalog"]
    d = c["rv_tm"][:] - c["rv_pipeline"][:]
    d = d[np.isfinite(d)]
print(f"\nrv_tm (Kesseli templates) - LAMOST pipeline Z c: n {len(d)}, median {np.median(d):+.1f} km/s, "
      f"robust scatter {1.4826 * np.median(np.abs(d - np.median(d))):.1f} km/s (no literature RV here)")
PY
say "done: $OUT/table.md, $OUT/report/summary.md"
