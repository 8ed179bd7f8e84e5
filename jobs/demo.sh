#!/usr/bin/env bash
# demo.sh: the main mstars job end to end on the embedded mock universe
# (config/mock-small.cfg), under `mpirun -n 2`:
#   simulate -> ingest-grid -> ingest -> train-emulator -> emulate -> fit -> calibrate-errors
#   -> report
# Installs what is missing and builds first (jobs/setup.sh). Idempotent: every run
# starts a fresh output folder. Prints where the outputs are.
#
#   jobs/demo.sh [OUTDIR]      (default: ./demo-out)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/demo-out}
ranks=${MSTARS_DEMO_RANKS:-2}

# only a folder this script made (it holds .mstars-demo) is replaced; anything else with
# files in it is refused, so that a mistyped OUTDIR never deletes a user's work
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/.mstars-demo" ]; then
  echo "demo.sh: $out exists, has files and is not a demo folder (no .mstars-demo): not" \
    "removing it; give another OUTDIR or remove it yourself" >&2
  exit 1
fi
bash "$root/jobs/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
exe="$root/build/src/mstars"
cfg="$root/config/mock-small.cfg"
mpi=(mpirun --oversubscribe -n "$ranks")

rm -rf "$out"
mkdir -p "$out"
touch "$out/.mstars-demo"
step() { echo; echo "=== $*"; }

step "1/8 simulate a mock universe (theory grid + LAMOST-format survey)"
"${mpi[@]}" "$exe" simulate --config "$cfg" --out "$out/mock"

step "2/8 ingest the theory grid"
"${mpi[@]}" "$exe" ingest-grid --config "$cfg" --grid "$out/mock/grid" --out "$out/grid.h5"

step "3/8 ingest the survey spectra"
"${mpi[@]}" "$exe" ingest --config "$cfg" --spectra "$out/mock/spectra.lst" \
  --catalog "$out/mock/input_catalog.csv" --out "$out/spectra.h5"

step "4/8 train The Payne emulator on the grid"
"${mpi[@]}" "$exe" train-emulator --config "$cfg" --grid "$out/grid.h5" --out "$out/emulator.h5"

step "5/8 emulate one spectrum"
"$exe" emulate --config "$cfg" --model "$out/emulator.h5" --labels 3500,5.0,0.0,0.0 \
  --out "$out/emulated_3500_5.0.csv"

step "6/8 fit every spectrum (emulator only) into the catalog"
"${mpi[@]}" "$exe" fit --config "$cfg" --spectra "$out/spectra.h5" --emulator "$out/emulator.h5" \
  --out "$out/catalog.h5"

step "7/8 calibrate the uncertainties: Err_repeat = a/(S/N) + b from repeat observations"
"$exe" calibrate-errors --catalog "$out/catalog.h5"

step "8/8 report: figures, summary page and summary.json against the truth"
"$exe" report "$out/catalog.h5" --truth "$out/mock/truth.csv" --out "$out/report"

echo
echo "demo outputs in $out:"
echo "  mock universe    $out/mock (grid/, spectra/, truth.csv, input_catalog.csv)"
echo "  grid store       $out/grid.h5"
echo "  spectra store    $out/spectra.h5"
echo "  emulator         $out/emulator.h5"
echo "  emulated flux    $out/emulated_3500_5.0.csv"
echo "  catalog          $out/catalog.h5 (/catalog/<column>; h5ls -r to list)"
echo "  report           $out/report/summary.md (figures *.png, numbers summary.json)"
