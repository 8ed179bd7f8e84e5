#!/bin/bash
# bench_slam.sh: SLAM training (per-pixel hyperparameter search over the public SLAM grid) and
# prediction in C (bench_slam, libsvm with a reused precomputed kernel) against scikit-learn
# (bench_slam.py: SVR + GridSearchCV per pixel, what the public SLAM code runs), one core
# each, on the same training set and pixels, in one run.
#
#   benchmarks/bench_slam.sh BUILD_DIR [NPIX=20]
#
# STORE: the store of the real M dwarfs (mstars ingest of ../shared/data/lamost-mdwarfs with
# preprocess.min_good_fraction=0.3 and an empty preprocess.required_class: 35 labelled
# spectra); MODEL: a train-slam model of it (made here when missing, coordinate search).
set -euo pipefail
BUILD=${1:?usage: bench_slam.sh BUILD_DIR [NPIX]}
NPIX=${2:-20}
HERE=$(cd "$(dirname "$0")" && pwd)
SHARED=${MSTARS_SHARED:-$HERE/../../shared}
[ -d "$SHARED/data/lamost-mdwarfs" ] || SHARED=/work/shared
LABELS=$SHARED/data/lamost-mdwarfs/labels.csv
OUT=${OUT:-$(mktemp -d /tmp/bench_slam.XXXXXX)}
mkdir -p "$OUT"
STORE=${STORE:-$OUT/mdwarfs.h5}
MODEL=${MODEL:-$OUT/slam.h5}
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $NPIX pixels; files in $OUT"
[ -e "$STORE" ] || "$BUILD/src/mstars" ingest --spectra "$SHARED/data/lamost-mdwarfs" --catalog "$LABELS" \
  --out "$STORE" --set preprocess.min_good_fraction=0.3 --set 'preprocess.required_class=' --log-level warn
[ -e "$MODEL" ] || "$BUILD/src/mstars" train-slam --spectra "$STORE" --labels "$LABELS" --key file \
  --search coordinate --out "$MODEL" --log-level warn
taskset -c 0 "$BUILD/benchmarks/bench_slam" "$STORE" "$LABELS" "$MODEL" "$NPIX" "$OUT/dump.txt"
taskset -c 0 "$PY" "$HERE/bench_slam.py" "$STORE" "$LABELS" "$OUT/dump.txt"
