#!/usr/bin/env bash
# rehearsal.sh: a release-sized rehearsal on this machine: simulate N stars, ingest the
# grid and the survey, train the emulator briefly, fit everything. Prints the wall time of
# each stage, spectra per second per core, and the peak memory per rank of the fit.
#
#   benchmarks/rehearsal.sh N_STARS [RANKS] [WORKDIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe=${MSTARS:-$root/build/src/mstars}
n=${1:?number of stars}; ranks=${2:-2}; work=${3:-$(mktemp -d)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cfg=(--config "$root/config/mock-small.cfg" --set simulate.n_stars="$n" --set emulator.epochs=100
     --set run.progress_seconds=30)
mpi=(mpirun --oversubscribe -n "$ranks")
stage() { local name=$1; shift; local t0; t0=$(date +%s.%N); "$@" > "$work/$name.log" 2>&1
  awk -v a="$t0" -v b="$(date +%s.%N)" -v s="$name" 'BEGIN {printf "  %-15s %8.1f s\n", s, b - a}'; }
mkdir -p "$work"
echo "rehearsal: $n stars, $ranks ranks, $(nproc) cores, $(date -u +%F), in $work"
stage simulate "${mpi[@]}" "$exe" simulate "${cfg[@]}" --out "$work/mock"
stage ingest-grid "${mpi[@]}" "$exe" ingest-grid "${cfg[@]}" --grid "$work/mock/grid" --out "$work/grid.h5"
stage ingest "${mpi[@]}" "$exe" ingest "${cfg[@]}" --spectra "$work/mock/spectra.lst" \
  --catalog "$work/mock/input_catalog.csv" --out "$work/spectra.h5"
stage train-emulator "${mpi[@]}" "$exe" train-emulator "${cfg[@]}" --grid "$work/grid.h5" --out "$work/emu.h5"
stage fit "${mpi[@]}" "$exe" fit "${cfg[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" \
  --out "$work/catalog.h5"
grep -h "ingest: .* rows in" "$work/ingest.log" | sed 's/^.*INFO  /  /'
grep -h "fit: .* rows;\|peak memory" "$work/fit.log" | sed 's/^.*INFO  /  /'
