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
#
# Paths may be relative to where you submit: they are made absolute here, because the jobs
# run in OUTDIR (--chdir). A job that fails cancels the jobs waiting on it
# (--kill-on-invalid-dep=yes) instead of leaving them in DependencyNeverSatisfied.
set -euo pipefail
abs() { [ -z "$1" ] && return 0; realpath -m -- "$1"; }
grid=$(abs "${1:?grid dir}"); spectra=$(abs "${2:?spectra}")
catalog=$(abs "${3?input catalog (or \"\")}"); out=$(abs "${4:?output dir}"); config=$(abs "${5:-}")
[ -n "${CSN_REFERENCE:-}" ] && CSN_REFERENCE=$(abs "$CSN_REFERENCE")
for f in "$grid" "$spectra" ${catalog:+"$catalog"} ${config:+"$config"}; do
  [ -e "$f" ] || { echo "submit_chain.sh: $f does not exist" >&2; exit 1; }
done
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
mkdir -p "$out"
# the jobs inherit the environment: tell them where the executable is
export MSTARS=${MSTARS:-$(cd "$here/.." && pwd)/build/src/mstars}
submit() { sbatch --parsable --chdir="$out" --kill-on-invalid-dep=yes "$@"; }
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
