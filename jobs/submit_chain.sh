#!/usr/bin/env bash
# submit_chain.sh: submit the whole chain with dependencies (afterok):
#   ingest-grid -> train-emulator --+
#   ingest -------------------------+-> fit (resubmits itself until complete)
#
#   jobs/submit_chain.sh GRID_DIR SPECTRA_DIR_OR_LIST INPUT_CATALOG OUTDIR [CONFIG]
# Prints the job ids. Extra sbatch options (partition, account) via SBATCH_* variables.
set -euo pipefail
grid=${1:?grid dir}; spectra=${2:?spectra}; catalog=${3:?input catalog (or "")}
out=${4:?output dir}; config=${5:-}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
# the jobs inherit the environment: tell them where the executable is
export MSTARS=${MSTARS:-$(cd "$here/.." && pwd)/build/src/mstars}
submit() { sbatch --parsable --chdir="$out" "$@"; }
g=$(submit "$here/ingest_grid.sbatch" "$grid" "$out/grid.h5" "$config")
e=$(submit --dependency=afterok:"$g" "$here/train_emulator.sbatch" "$out/grid.h5" "$out/emulator.h5" "$config")
s=$(submit "$here/ingest.sbatch" "$spectra" "$out/spectra.h5" "$catalog" "$config")
f=$(submit --dependency=afterok:"$e":"$s" "$here/fit.sbatch" "$out/spectra.h5" "$out/emulator.h5" "$out/catalog.h5" "$config")
echo "ingest-grid $g, train-emulator $e, ingest $s, fit $f; outputs in $out"
