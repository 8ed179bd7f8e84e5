#!/usr/bin/env bash
# cnn_proof.sh: the issue-21 mock proof of the L25 CNN ensemble: simulate a mock universe,
# ingest it, measure the RVs (mstars rv: the CNN's input is the native spectrum in the rest
# frame of rv_adopted, else the pipeline Z*c), train the ten-fold dM ensemble on the truth
# labels of a random 20% of the stars (the APOGEE role), predict every spectrum, and compare
# the other stars with the truth per S/N_i bin, next to the Z25 emulator fit on the same rows
# (benchmarks/cnn_proof.py): bias, scatter, and the pulls of the calibrated error and of the
# raw ensemble spread on these held-out stars.
# usage: benchmarks/cnn_proof.sh WORKDIR [N_STARS (1500)] [RANKS (2)]
set -eu
work=$1
n_stars=${2:-1500}
ranks=${3:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
exe=${MSTARS_EXE:-$root/build/src/mstars}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mpi() { mpiexec -n "$ranks" "$@"; }
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=$n_stars)
mkdir -p "$work"
cd "$work"
[ -e mock/truth.csv ] || mpi "$exe" simulate "${opts[@]}" --out mock
[ -e store.h5 ] || mpi "$exe" ingest "${opts[@]}" --spectra mock/spectra.lst \
    --catalog mock/input_catalog.csv --out store.h5
[ -e rv.h5 ] || mpi "$exe" rv "${opts[@]}" --spectra store.h5 --out rv.h5 \
    --templates "${MSTARS_SHARED:-$root/../shared}/data/templates-kesseli2017" > rv.log 2>&1
/usr/bin/python3 "$root/benchmarks/cnn_proof.py" split mock/truth.csv labels20.csv 0.2 21
[ -e cnn_dM.h5 ] || mpi "$exe" train-cnn "${opts[@]}" --spectra store.h5 --labels labels20.csv \
    --rv rv.h5 --class dM --out cnn_dM.h5 --resume 2>&1 | tee train.log
rm -f cat_cnn.h5
time mpi "$exe" predict-cnn "${opts[@]}" --spectra store.h5 --model cnn_dM.h5 --rv rv.h5 \
    --out cat_cnn.h5 2>&1 | tee predict.log
if [ ! -e cat_z25.h5 ]; then
  mpi "$exe" ingest-grid "${opts[@]}" --grid mock/grid --out grid.h5
  mpi "$exe" train-emulator "${opts[@]}" --grid grid.h5 --out emu.h5 > emu.log 2>&1
  mpi "$exe" fit "${opts[@]}" --spectra store.h5 --emulator emu.h5 --out cat_z25.h5 > fit.log 2>&1
fi
/usr/bin/python3 "$root/benchmarks/cnn_proof.py" report mock/truth.csv labels20.csv cat_cnn.h5 cat_z25.h5 \
    | tee report.md
