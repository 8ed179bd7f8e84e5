#!/bin/bash
# slam_real_cv.sh: the proof of SLAM on real stars (issue 20): k-fold cross-validation on the
# 35 labelled LAMOST M dwarfs of ../shared/data/lamost-mdwarfs (Teff, log g, [Fe/H] from
# high-resolution spectroscopy), against the peer ULySS numbers, with bootstrap error bars
# and pulls (slam_real_cv.py).
#
#   benchmarks/slam_real_cv.sh BUILD_DIR [FOLDS=7] [RANKS=2]
#
# SEARCH: coordinate (default; ~1/8 of the paper's grid fits, same CV-MSE within 1%, see
# bench_slam.sh) or full (the paper's grid: 8x the time). The store keeps every labelled star
# (preprocess.min_good_fraction=0.3: one spectrum has 46% good pixels; required_class empty).
set -euo pipefail
BUILD=${1:?usage: slam_real_cv.sh BUILD_DIR [FOLDS] [RANKS]}
FOLDS=${2:-7}
RANKS=${3:-2}
SEARCH=${SEARCH:-coordinate}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${MSTARS_SHARED:-$HERE/../../shared}
[ -d "$SHARED/data/lamost-mdwarfs" ] || SHARED=/work/shared
LABELS=$SHARED/data/lamost-mdwarfs/labels.csv
OUT=${OUT:-$(mktemp -d /tmp/slam_real.XXXXXX)}
mkdir -p "$OUT"
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $FOLDS folds, $RANKS ranks, search $SEARCH; files in $OUT"
[ -e "$OUT/mdwarfs.h5" ] || "$BUILD/src/mstars" ingest --spectra "$SHARED/data/lamost-mdwarfs" --catalog "$LABELS" \
  --out "$OUT/mdwarfs.h5" --set preprocess.min_good_fraction=0.3 --set 'preprocess.required_class=' --log-level warn
mpiexec -n "$RANKS" "$BUILD/src/mstars" cv-slam --spectra "$OUT/mdwarfs.h5" --labels "$LABELS" --key file \
  --label-cols teff,logg,fe_h --search "$SEARCH" --folds "$FOLDS" --out "$OUT/cv.csv" --set run.progress_seconds=0
cat "$OUT/cv.csv.summary.txt"
"$PY" "$HERE/slam_real_cv.py" "$OUT/cv.csv"
