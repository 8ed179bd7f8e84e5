#!/bin/bash
# slam_mock.sh: SLAM on the mock universe (issue 20): train on the TRUTH labels of a random
# 20% of the survey's spectra (the role APOGEE plays for L21), fit every spectrum, and report
# bias and scatter of the other 80% per S/N bin (slam_mock.py).
#
#   benchmarks/slam_mock.sh BUILD_DIR [N_STARS=600] [RANKS=2]
#
# SEARCH (full|coordinate, default coordinate) and WAVE_STEP (default 2 A) keep it to minutes
# on 2 cores; OUT keeps the files (default a new directory under /tmp).
set -euo pipefail
BUILD=${1:?usage: slam_mock.sh BUILD_DIR [N_STARS] [RANKS]}
N=${2:-600}
RANKS=${3:-2}
SEARCH=${SEARCH:-coordinate}
WAVE_STEP=${WAVE_STEP:-2}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$(mktemp -d /tmp/slam_mock.XXXXXX)}
mkdir -p "$OUT"
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
X=$BUILD/src/mstars
opts=(--config "$HERE/../config/mock-small.cfg" --set simulate.n_stars="$N" --set preprocess.wave_step="$WAVE_STEP"
      --set run.progress_seconds=30 --log-level info)
echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), load $(cut -d' ' -f1-3 /proc/loadavg), $N stars, $RANKS ranks, search $SEARCH; files in $OUT"
[ -e "$OUT/spectra.h5" ] || {
  mpiexec -n "$RANKS" "$X" simulate "${opts[@]}" --out "$OUT/mock" > "$OUT/simulate.log" 2>&1
  mpiexec -n "$RANKS" "$X" ingest "${opts[@]}" --spectra "$OUT/mock/spectra.lst" --out "$OUT/spectra.h5" > "$OUT/ingest.log" 2>&1
}
# 20% of the spectra, a fixed pseudo-random choice, with their truth labels
awk -F, 'NR == 1 { print; next } { srand(NR * 7919); if (rand() < 0.2) print }' "$OUT/mock/truth.csv" > "$OUT/train.csv"
echo "# training set: $(($(wc -l < "$OUT/train.csv") - 1)) spectra with truth labels"
/usr/bin/time -f "train-slam: %e s wall, %U s user" mpiexec -n "$RANKS" "$X" train-slam "${opts[@]}" \
  --spectra "$OUT/spectra.h5" --labels "$OUT/train.csv" --label-cols teff,logg,m_h --search "$SEARCH" \
  --out "$OUT/slam.h5" 2>&1 | grep -v progress | tail -3
/usr/bin/time -f "fit-slam: %e s wall, %U s user" mpiexec -n "$RANKS" "$X" fit-slam "${opts[@]}" \
  --spectra "$OUT/spectra.h5" --model "$OUT/slam.h5" --out "$OUT/cat.h5" 2>&1 | grep -v progress | tail -2
"$PY" "$HERE/slam_mock.py" "$OUT/cat.h5" "$OUT/mock/truth.csv" "$OUT/train.csv"
