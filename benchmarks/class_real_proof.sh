#!/usr/bin/env bash
# class_real_proof.sh: the L25 classifiers trained on real shapes, proved on held-out templates
# and on the real LAMOST spectra (issue 22; benchmarks/RESULTS.md "Issue 22: the classifiers on
# real shapes"). Everything from ../shared (MSTARS_SHARED):
#   1. `simulate --from-templates` of the 74 O-M Kesseli 2017 templates (NT spectra: LAMOST-like
#      LSF difference kernel, RV, tellurics, flux-calibration tilt, sky, noise, masks; ~NT/8 per
#      group, tens to hundreds of realisations per template) and the mock universe with every
#      population (config/mock-classes.cfg, NMOCK stars: the toy WDs, galaxies, QSOs, M giants
#      and M dwarfs); merged into one store (benchmarks/class_real_sets.py merge, ingest);
#   2. label tables (class_real_sets.py labels): K template folds for CNN-SPT, leave-giant-
#      templates-out folds for CNN-dMgM (5 folds for the 8 giants), the final sets;
#   3. per fold, train-classifier on the other folds and classify the store; the scores of each
#      row come from the model that never saw its template (class_real_sets.py score);
#   4. the final spt, wdm, dmgm models on every template, then `classify` on the real spectra of
#      ../shared/data/lamost (A-K stars) and ../shared/data/lamost-mdwarfs (37 M dwarfs), tables
#      against LAMOST CLASS/SUBCLASS and the literature (classify_compare.py real), and
#      `lumclass --classify` on the M dwarfs (the combined luminosity verdict).
#   benchmarks/class_real_proof.sh [WORKDIR] [BUILD_DIR]
#   env: NT (8000) NMOCK (2000) FOLDS (4) CAP (80) MOCK_SHARE (0.25) EPOCHS (40) PATIENCE (8)
#        DMGM_EPOCHS (25) DMGM_PATIENCE (6) RANKS (2)
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/class_real_proof}
exe=$root/${2:-build}/src/mstars
shared=${MSTARS_SHARED:-$root/../shared}
export MSTARS_SHARED=$shared OPENBLAS_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
NT=${NT:-8000} NMOCK=${NMOCK:-2000} FOLDS=${FOLDS:-4} CAP=${CAP:-80} MOCK_SHARE=${MOCK_SHARE:-0.25}
EPOCHS=${EPOCHS:-40} PATIENCE=${PATIENCE:-8} RANKS=${RANKS:-2}
DMGM_EPOCHS=${DMGM_EPOCHS:-25} DMGM_PATIENCE=${DMGM_PATIENCE:-6}
mpi() { mpiexec --oversubscribe -n "$RANKS" "$@"; }
py=/usr/bin/python3
sets=$root/benchmarks/class_real_sets.py
mkdir -p "$work" && cd "$work"
t0=$(date +%s)
stamp() { echo "== $(($(date +%s) - t0)) s, load $(cut -d' ' -f1-3 /proc/loadavg): $*"; }

stamp "data"
[ -e tmpl/COMPLETE ] || mpi "$exe" simulate --from-templates "$shared/data/templates-kesseli2017" --n "$NT" \
  --out tmpl --log-level warn
[ -e mock/COMPLETE ] || mpi "$exe" simulate --config "$root/config/mock-classes.cfg" --survey-only --out mock \
  --set simulate.n_stars="$NMOCK" --set simulate.pathological_fraction=0 --set simulate.gzip_fraction=0 \
  --set general.seed=7 --log-level warn
[ -e sets/truth.csv ] || $py "$sets" merge tmpl mock sets
[ -e all.h5 ] || mpi "$exe" ingest --spectra sets/all.lst --out all.h5 --log-level warn
[ -e real_akstars.h5 ] || "$exe" ingest --spectra "$shared/data/lamost" --out real_akstars.h5 --log-level warn
[ -e real_mdwarfs.h5 ] || "$exe" ingest --spectra "$shared/data/lamost-mdwarfs" --out real_mdwarfs.h5 --log-level warn
$py "$sets" labels sets --folds "$FOLDS" --cap "$CAP" --mock-share "$MOCK_SHARE"

train() { # task labels out
  [ -e "$3" ] || mpi "$exe" train-classifier --spectra all.h5 --labels "$2" --task "$1" --out "$3" \
    --max-epochs "$EPOCHS" --patience "$PATIENCE" --resume 2>&1 | grep -v "cnn fold" > "${3%.h5}.log"
  grep -E "training spectra|validation accuracy|^ *(OB|A|F|G|K|M|GALAXY|QSO|WD|dM|gM) " "${3%.h5}.log" | \
    sed "s|^|   $3: |" | head -14 || true
}
classify() { # store out [--spt F] [--wdm F] [--dmgm F]
  local s=$1 o=$2; shift 2
  [ -e "$o" ] || "$exe" classify --spectra "$s" "$@" --out "$o" --log-level warn
}

stamp "CNN-SPT, $FOLDS template folds"
for k in $(seq 0 $((FOLDS - 1))); do
  train spt sets/spt_f$k.csv spt_f$k.h5
  classify all.h5 c_spt_f$k.h5 --spt spt_f$k.h5
done
stamp "final models (every template)"
train spt sets/spt_all.csv spt.h5
train wdm sets/wdm_all.csv wdm.h5
EPOCHS=$DMGM_EPOCHS PATIENCE=$DMGM_PATIENCE train dmgm sets/dmgm_all.csv dmgm.h5
for s in real_akstars real_mdwarfs; do
  classify $s.h5 c_$s.h5 --spt spt.h5 --wdm wdm.h5 --dmgm dmgm.h5
done
stamp "real LAMOST spectra"
$py "$root/benchmarks/classify_compare.py" real c_real_akstars.h5 real_akstars.h5 c_real_mdwarfs.h5 \
  real_mdwarfs.h5 | tee real.md
# the combined dwarf/giant verdict (lines + CNN-dMgM + LAMOST subclass; no Gaia in ../shared)
[ -e lum_mdwarfs.h5 ] || "$exe" lumclass --spectra real_mdwarfs.h5 --classify c_real_mdwarfs.h5 \
  --out lum_mdwarfs.h5 --log-level error
$py "$sets" lum lum_mdwarfs.h5 | tee lum.md

G=$(ls sets/dmgm_g*.csv | wc -l)
stamp "CNN-dMgM, $G leave-giant-templates-out folds"
for g in $(seq 0 $((G - 1))); do
  EPOCHS=$DMGM_EPOCHS PATIENCE=$DMGM_PATIENCE train dmgm sets/dmgm_g$g.csv dmgm_g$g.h5
  classify all.h5 c_dmgm_g$g.h5 --dmgm dmgm_g$g.h5
done
stamp "held-out scores"
$py "$sets" score sets . | tee score.md
stamp "done"
