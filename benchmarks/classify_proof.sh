#!/usr/bin/env bash
# classify_proof.sh: the issue-22 classifier proof (benchmarks/RESULTS.md "Issue 22"):
#   1. a template-augmented training set (300 per class; M dwarfs and M giants 300 each, 300
#      white dwarfs) and an independent test set (100 per class, another seed) from
#      benchmarks/class_mock.py (real Kesseli templates + toy WD/QSO/galaxy);
#   2. train-classifier spt, wdm, dmgm on 2 ranks (validation accuracy and confusion logged);
#   3. classify the test set and the real LAMOST spectra of ../shared/data/lamost (A-K stars,
#      one Unknown) and ../shared/data/lamost-mdwarfs (M dwarfs);
#   4. benchmarks/classify_compare.py: the confusion tables.
#   benchmarks/classify_proof.sh [WORKDIR] [BUILD_DIR]
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
work=${1:-/tmp/classify_proof}
exe=$root/${2:-build}/src/mstars
shared=${MSTARS_SHARED:-$root/../shared}
export MSTARS_SHARED=$shared OPENBLAS_NUM_THREADS=1
mpi() { mpiexec --oversubscribe -n 2 "$@"; }
mkdir -p "$work" && cd "$work"
py=/usr/bin/python3
[ -d train ] || $py "$root/benchmarks/class_mock.py" train --per-class 300 --seed 1 --obsid0 900000000
[ -d test ] || $py "$root/benchmarks/class_mock.py" test --per-class 100 --seed 2 --obsid0 910000000
for s in train test; do [ -e $s.h5 ] || mpi "$exe" ingest --spectra $s --out $s.h5 --log-level warn; done
[ -e real_akstars.h5 ] || "$exe" ingest --spectra "$shared/data/lamost" --out real_akstars.h5 --log-level warn
[ -e real_mdwarfs.h5 ] || "$exe" ingest --spectra "$shared/data/lamost-mdwarfs" --out real_mdwarfs.h5 --log-level warn
for t in spt wdm dmgm; do
  [ -e $t.h5 ] || mpi "$exe" train-classifier --spectra train.h5 --labels train/truth.csv --task $t \
    --out $t.h5 --max-epochs 60 --resume 2>&1 | grep -v "cnn fold" | tee train_$t.log
done
for s in test real_akstars real_mdwarfs; do
  rm -f c_$s.h5
  "$exe" classify --spectra $s.h5 --spt spt.h5 --wdm wdm.h5 --dmgm dmgm.h5 --out c_$s.h5 --log-level warn
done
$py "$root/benchmarks/classify_compare.py" mock c_test.h5 test/truth.csv
$py "$root/benchmarks/classify_compare.py" real c_real_akstars.h5 real_akstars.h5 c_real_mdwarfs.h5 real_mdwarfs.h5
# leave-template-out (LTO=1): CNN-SPT trained without 8 templates, tested on them only
if [ "${LTO:-0}" = 1 ]; then
  held=B4,A2,F4_+0.0_Dwarf,G4_+0.0_Dwarf,K2_+0.0_Dwarf,K5_-0.5_Giant,M2_+0.0_Dwarf,M5_+0.0_Dwarf
  mkdir -p lto && cd lto
  [ -d train ] || $py "$root/benchmarks/class_mock.py" train --per-class 300 --seed 3 --obsid0 920000000 --exclude $held
  [ -d test ] || $py "$root/benchmarks/class_mock.py" test --per-class 60 --seed 4 --obsid0 930000000 --only $held \
    --giants 0 --wd 0
  for s in train test; do [ -e $s.h5 ] || "$exe" ingest --spectra $s --out $s.h5 --log-level warn; done
  [ -e spt.h5 ] || mpi "$exe" train-classifier --spectra train.h5 --labels train/truth.csv --task spt --out spt.h5 \
    --max-epochs 60 --resume 2>&1 | grep -v "cnn fold"
  rm -f c_test.h5
  "$exe" classify --spectra test.h5 --spt spt.h5 --out c_test.h5 --log-level warn
  $py "$root/benchmarks/classify_compare.py" mock c_test.h5 test/truth.csv | sed -n 1,13p
fi
