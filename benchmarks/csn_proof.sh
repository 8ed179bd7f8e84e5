#!/usr/bin/env bash
# csn_proof.sh: the Cycle-StarNet proof of issue 6 and the accuracy runs of issue 7 on a mock
# universe with a known truth.
#
#   benchmarks/csn_proof.sh WORKDIR [GAP_STRENGTH] [CSN_ITERATIONS] [RANKS]
#
# Defaults: gap 1.0, 36,000 iterations (the learning rate divided by 10 after 12,000:
# config/mock-csn.cfg), 2 ranks: the recorded proof, ~110 min of training and ~2.5 min per
# 2,000 fitted spectra on 2 cores. The gap-0 half of the proof: the same with GAP 0.0 in a
# second WORKDIR (copy WORKDIR/emulator.h5 there first: the grid does not depend on the gap).
#
# Steps (each skipped when its output exists, so a run can be continued or extended):
#   simulate (config/mock-csn.cfg, simulate.gap_strength = GAP) -> ingest-grid -> ingest ->
#   train-emulator -> fit without adaptation (catalog_emu.h5) -> the reference (Teff, [M/H])
#   distribution (below) -> train-csn (CSN_ITERATIONS; rerunning with a larger number
#   resumes from the checkpoint; a resumed run is bit-identical to a straight one) ->
#   fit --csn (catalog_csn_<iterations>.h5; FIT_LIMIT=N for the first N rows, the recorded
#   runs used FIT_LIMIT=2000) -> benchmarks/compare_truth.py of both catalogs against
#   truth.csv (bias, scatter and rms per S/N bin, mean |residual| / sigma, with and without
#   adaptation).
# LR_DECAY_AT=N moves the step decay (csn.lr_milestones = N, csn.lr_gamma = 0.1; O'Briain's
# schedule decays at 50,000, beyond this training).
# GAP_COMPONENTS=a,b,c,d,e,f scales the gap's six ingredients (simulate.gap_components; the
# no-TiO run of RESULTS.md used 0,1,1,1,1,1). CSN_SET="key=value ..." passes settings to
# train-csn only (the loss-setting runs of RESULTS.md: CSN_SET="csn.lambda_adv=3" or
# CSN_SET="csn.lambda_synth=90 csn.lambda_obs=90 csn.z_split=1", with 18000 iterations and
# LR_DECAY_AT=12000). Use a new WORKDIR for each: its outputs are kept and reused.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe=${MSTARS:-$root/build/src/mstars}
work=${1:?work directory}; gap=${2:-1.0}; iters=${3:-36000}; ranks=${4:-2}
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
cfg=(--config "$root/config/mock-csn.cfg" --set simulate.gap_strength="$gap" --set csn.iterations="$iters")
[ -n "${LR_DECAY_AT:-}" ] && cfg+=(--set csn.lr_milestones="$LR_DECAY_AT" --set csn.lr_gamma=0.1)
[ -n "${GAP_COMPONENTS:-}" ] && cfg+=(--set simulate.gap_components="$GAP_COMPONENTS")
csn_set=(); for kv in ${CSN_SET:-}; do csn_set+=(--set "$kv"); done
mpi=(mpirun --oversubscribe -n "$ranks")
mkdir -p "$work"
stage() { # stage NAME OUTPUT command...: run unless OUTPUT exists; log and time it
  local name=$1 out=$2; shift 2
  if [ -e "$out" ]; then echo "  $name: $out exists, kept"; return; fi
  local t0; t0=$(date +%s.%N)
  "$@" > "$work/$name.log" 2>&1 || { echo "$name failed, see $work/$name.log"; tail -n 5 "$work/$name.log"; exit 1; }
  awk -v a="$t0" -v b="$(date +%s.%N)" -v s="$name" 'BEGIN {printf "  %-16s %8.1f s\n", s, b - a}'
}
echo "csn_proof: gap $gap, $iters CSN iterations, $ranks ranks, $(nproc) cores, $(date -u +%F), in $work"
stage simulate "$work/mock/COMPLETE" "${mpi[@]}" "$exe" simulate "${cfg[@]}" --out "$work/mock"
stage ingest-grid "$work/grid.h5" "${mpi[@]}" "$exe" ingest-grid "${cfg[@]}" --grid "$work/mock/grid" --out "$work/grid.h5"
stage ingest "$work/spectra.h5" "${mpi[@]}" "$exe" ingest "${cfg[@]}" --spectra "$work/mock/spectra.lst" \
  --catalog "$work/mock/input_catalog.csv" --out "$work/spectra.h5"
stage train-emulator "$work/emulator.h5" "${mpi[@]}" "$exe" train-emulator "${cfg[@]}" --grid "$work/grid.h5" \
  --out "$work/emulator.h5"
stage fit-emu "$work/catalog_emu.h5" "${mpi[@]}" "$exe" fit "${cfg[@]}" --spectra "$work/spectra.h5" \
  --emulator "$work/emulator.h5" --out "$work/catalog_emu.h5"
# The reference (Teff, [M/H]) distribution of the synthetic training labels (Z25 3.3.2): by
# default the mock population's, one row per star (what an external reference catalogue of
# the same kind of stars gives; no star-by-star truth enters the training). REFERENCE=first-pass
# uses the labels of the emulator-only fit instead (biased by the gap).
if [ ! -e "$work/reference.csv" ]; then
  "$py" - "$work" "${REFERENCE:-population}" <<'PY'
import csv, sys, h5py, numpy as np
work, kind = sys.argv[1], sys.argv[2]
if kind == "first-pass":
    with h5py.File(work + "/catalog_emu.h5", "r") as f:
        t, m = f["catalog/teff"][:], f["catalog/m_h"][:]
    ok = np.isfinite(t) & np.isfinite(m)
    pairs = zip(t[ok], m[ok])
else:
    seen, pairs = set(), []
    for r in csv.DictReader(open(work + "/mock/truth.csv")):
        if r["star_id"] not in seen:
            seen.add(r["star_id"])
            pairs.append((float(r["teff"]), float(r["m_h"])))
with open(work + "/reference.csv", "w") as o:
    o.write("teff,m_h\n")
    o.writelines(f"{a:.1f},{b:.3f}\n" for a, b in pairs)
PY
fi
csn=$work/csn_$iters.h5
if [ ! -e "$csn" ]; then
  # continue the longest earlier training when there is one (same schedule: resume)
  ckpt=$work/csn.ckpt
  resume=(); [ -e "$ckpt" ] && resume=(--resume)
  stage train-csn-$iters "$csn" "${mpi[@]}" "$exe" train-csn "${cfg[@]}" "${csn_set[@]}" --emulator "$work/emulator.h5" \
    --observed "$work/spectra.h5" --reference "$work/reference.csv" --checkpoint "$ckpt" "${resume[@]}" --out "$csn"
fi
# the CSN fit costs ~0.3 s per spectrum per core: FIT_LIMIT=N fits the first N rows only (the
# store's rows are in random population order); the catalog's *_emu columns hold the
# emulator-only fit of the same rows for the side-by-side comparison
limit=(); [ -n "${FIT_LIMIT:-}" ] && limit=(--limit "$FIT_LIMIT")
stage fit-csn-$iters "$work/catalog_csn_$iters.h5" "${mpi[@]}" "$exe" fit "${cfg[@]}" --spectra "$work/spectra.h5" \
  --emulator "$work/emulator.h5" --csn "$csn" "${limit[@]}" --out "$work/catalog_csn_$iters.h5"
grep -h "validation accuracy" "$work/train-emulator.log" | sed 's/^.*INFO  /  emulator: /' || true
grep -h "fit: .* rows;" "$work"/fit-*.log | sed 's/^.*INFO  /  /' || true
"$py" "$root/benchmarks/compare_truth.py" "$work/mock/truth.csv" "$work/catalog_emu.h5" \
  "$work/catalog_csn_$iters.h5" --json "$work/compare_$iters.json"
