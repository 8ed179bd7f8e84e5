#!/bin/bash
# laspm_proof.sh: the LASPM proof of issue 23, end to end (numbers in benchmarks/RESULTS.md).
#
#   benchmarks/laspm_proof.sh [WORK=/tmp/laspm_proof] [N_STARS=3000]
#
# 1. Real: the 37 LAMOST M dwarfs of ../shared/data/lamost-mdwarfs ingested (CLASS not
#    required: two labelled stars are CLASS Unknown/...; min_good_fraction 0.4 keeps the one
#    labelled spectrum with 46% good pixels), the 35 labelled ones as a library
#    (--no-dbscan --no-nn-check: 35 stars are too few to bin), every star matched against
#    the other 34 (--leave-out-self), for the calibrated and normalised views and both
#    weightings; then the Kesseli 2017 templates as a second library.
# 2. Mock: a mock universe of N_STARS stars; 60% of the stars labelled by two catalogues with
#    offsets and a reference (laspm_mock_labels.py); build-library with every Du step; all
#    spectra matched (--leave-out-self); the test stars against the truth per S/N bin; Du's
#    repeat precision of the laspm columns.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$here/..
work=${1:-/tmp/laspm_proof}; nstars=${2:-3000}
shared=$root/../shared/data; [ -d "$shared" ] || shared=/work/shared/data
exe=$root/build/src/mstars
py=/usr/bin/python3
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
export OPENBLAS_NUM_THREADS=1
mkdir -p "$work"; cd "$work"
echo "== load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"

echo "== real: lamost-mdwarfs leave-one-out"
md=$shared/lamost-mdwarfs
rm -f md.h5
"$exe" ingest --spectra "$md" --catalog "$md/labels.csv" --out md.h5 \
  --set 'preprocess.required_class=' --set preprocess.min_good_fraction=0.4 --log-level warn
for view in calibrated normalised; do
  "$exe" build-library --spectra md.h5 --labels "lit=$md/labels.csv" --out "lib_md_$view.h5" \
    --no-dbscan --no-nn-check --view "$view" 2>&1 | grep -E "leave-one-out"
  for w in nnls inv-chi2; do
    rm -rf "loo_${view}_$w.h5"*
    "$exe" laspm --spectra md.h5 --library "lib_md_$view.h5" --out "loo_${view}_$w.h5" \
      --leave-out-self --weights "$w" --log-level warn
  done
done
$py "$here/laspm_kesseli_library.py" md.h5 lib_kesseli.h5 "$shared/templates-kesseli2017" > kesseli_labels.txt; head -1 kesseli_labels.txt
rm -rf kesseli.h5*
"$exe" laspm --spectra md.h5 --library lib_kesseli.h5 --out kesseli.h5 --log-level warn
$py "$here/laspm_loo.py" "$md/labels.csv" calibrated-nnls=loo_calibrated_nnls.h5 \
  calibrated-inv-chi2=loo_calibrated_inv-chi2.h5 normalised-nnls=loo_normalised_nnls.h5 \
  normalised-inv-chi2=loo_normalised_inv-chi2.h5 kesseli2017-templates=kesseli.h5

echo "== mock: $nstars stars"
if [ ! -f mock/COMPLETE ]; then
  mpirun -n 2 "$exe" simulate --config "$root/config/mock-small.cfg" --set "simulate.n_stars=$nstars" \
    --out mock --survey-only --log-level warn
  rm -f mock.h5
fi
[ -f mock.h5 ] || mpirun -n 2 "$exe" ingest --spectra mock/spectra.lst --catalog mock/input_catalog.csv \
  --out mock.h5 --log-level warn
$py "$here/laspm_mock_labels.py" mock mocklab
"$exe" build-library --spectra mock.h5 --labels a=mocklab/cat_a.csv,b=mocklab/cat_b.csv \
  --reference mocklab/reference.csv --out lib_mock.h5 2>&1 | grep -E "build-library" | sed 's/^\[[^]]*\] INFO  //'
rm -rf cat_mock.h5*
mpirun -n 2 "$exe" laspm --spectra mock.h5 --library lib_mock.h5 --out cat_mock.h5 --leave-out-self 2>&1 | grep "spectra/s"
$py "$here/laspm_mock_eval.py" mocklab/test.csv cat_mock.h5
"$exe" precision cat_mock.h5 --columns laspm_teff,laspm_logg,laspm_m_h --bin 5
