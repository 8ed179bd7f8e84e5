#!/usr/bin/env bash
# submit_chain.sh: submit the whole chain with dependencies (afterok):
#   ingest-grid -> train-emulator --+---------------------------+
#   ingest -------------------------+-> [train-csn (WITH_CSN=1)] +-> fit (resubmits itself
#                                                                     until complete)
#
#   [WITH_CSN=1 [CSN_REFERENCE=ref.csv]] jobs/submit_chain.sh GRID_DIR SPECTRA_DIR_OR_LIST \
#       INPUT_CATALOG OUTDIR [CONFIG]
# With WITH_CSN=1 Cycle-StarNet is trained (jobs/train_csn.sbatch, resubmitting itself until
# done; CSN_REFERENCE: the (teff, m_h) reference distribution) and the fit uses it (--csn).
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
if [ "${WITH_CSN:-0}" = 1 ]; then
  # train-csn may resubmit itself: the fit starts after its first part (afterany) and, while
  # the model is not written yet, fit.sbatch waits for the queued train-csn job again
  c=$(submit --dependency=afterok:"$e":"$s" "$here/train_csn.sbatch" "$out/emulator.h5" "$out/spectra.h5" \
        "$out/csn.h5" "$config" "${CSN_REFERENCE:-}")
  f=$(submit --dependency=afterany:"$c" "$here/fit.sbatch" "$out/spectra.h5" "$out/emulator.h5" \
        "$out/catalog.h5" "$config" "$out/csn.h5")
  echo "ingest-grid $g, train-emulator $e, ingest $s, train-csn $c, fit $f; outputs in $out"
else
  f=$(submit --dependency=afterok:"$e":"$s" "$here/fit.sbatch" "$out/spectra.h5" "$out/emulator.h5" "$out/catalog.h5" "$config")
  echo "ingest-grid $g, train-emulator $e, ingest $s, fit $f; outputs in $out"
fi
