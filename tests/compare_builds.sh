#!/usr/bin/env bash
# compare_builds.sh OLD_EXE NEW_EXE [WORK]: a refactoring check (not part of the suite): the
# catalogs of rv, fit, fit-slam, laspm and predict-cnn and the models of train-cnn and
# train-classifier written by two builds of mstars, compared dataset by dataset (h5diff, exact);
# the attributes that differ are listed (build, git_revision, created, command and the training
# seconds differ by nature). Inputs: a tiny mock universe made by OLD_EXE (and, with
# python3-astropy/h5py and ../shared, the classifiers' mock of benchmarks/class_mock.py).
# Exit 1 when a dataset differs or a command fails with one build only.
set -u
old=${1:?OLD_EXE}; new=${2:?NEW_EXE}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${MSTARS_SHARED:-$root/../shared}
w=${3:-$(mktemp -d)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 OPENBLAS_NUM_THREADS=1
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=60 --set simulate.repeat_fraction=0.3
      --set simulate.grid_teff=3200,3300,100 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set run.chunk_size=16 --log-level warn)
in=$w/in m=$w/in/mock
mkdir -p "$in"
if [ ! -e "$in/s.h5" ]; then
  "$old" simulate "${opts[@]}" --out "$m" >/dev/null &&
  "$old" ingest-grid "${opts[@]}" --grid "$m/grid" --out "$in/grid.h5" >/dev/null &&
  "$old" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$m/input_catalog.csv" --out "$in/s.h5" >/dev/null &&
  "$old" train-emulator "${opts[@]}" --grid "$in/grid.h5" --out "$in/emu.h5" >/dev/null || { echo "FAIL inputs"; exit 1; }
  col() { head -1 "$m/truth.csv" | tr ',' '\n' | grep -n "^$1\$" | cut -d: -f1; }
  awk -F, -v o="$(col obsid)" -v t="$(col teff)" -v g="$(col logg)" -v z="$(col m_h)" \
    'NR == 1 { print "obsid,teff,logg,m_h"; next } { print $o "," $t "," $g "," $z }' "$m/truth.csv" > "$in/lab.csv"
  "$old" build-library "${opts[@]}" --spectra "$in/s.h5" --labels "a=$in/lab.csv" --nn-steps 20 --nn-rounds 1 \
    --out "$in/lib.h5" >/dev/null 2>&1
  awk -F, 'NR == 1 { print; next } { srand(NR * 7919); if (rand() < 0.4) print }' "$m/truth.csv" > "$in/train.csv"
  "$old" train-slam "${opts[@]}" --spectra "$in/s.h5" --labels "$in/train.csv" --label-cols teff,m_h \
    --grid-c 2^-1:2^1 --grid-epsilon 0.05 --grid-gamma auto --cv-folds 3 --out "$in/slam.h5" >/dev/null 2>&1
  "$old" train-cnn "${opts[@]}" --spectra "$in/s.h5" --labels "$m/truth.csv" --class dM --folds 3 \
    --max-epochs 2 --out "$in/cnn.h5" >/dev/null 2>&1
  if [ -d "$shared/data/templates-kesseli2017" ] && /usr/bin/python3 -c 'import astropy, numpy, h5py' 2>/dev/null; then
    MSTARS_SHARED=$shared /usr/bin/python3 "$root/benchmarks/class_mock.py" "$in/cm" --per-class 6 --seed 5 >/dev/null &&
    "$old" ingest --set run.chunk_size=16 --log-level warn --spectra "$in/cm" --out "$in/cs.h5" >/dev/null
  fi
fi
runs() { # exe outdir
  local exe=$1 d=$2; mkdir -p "$d"
  r() { local name=$1; shift; "$@" >"$d/$name.log" 2>&1; echo "$name $?" >> "$d/rc.txt"; }
  : > "$d/rc.txt"
  [ -d "$shared/data/templates-kesseli2017" ] &&
    r rv "$exe" rv "${opts[@]}" --spectra "$in/s.h5" --templates "$shared/data/templates-kesseli2017" --out "$d/rv.h5"
  r fit "$exe" fit "${opts[@]}" --spectra "$in/s.h5" --emulator "$in/emu.h5" --out "$d/fit.h5"
  r slam "$exe" fit-slam "${opts[@]}" --spectra "$in/s.h5" --model "$in/slam.h5" --out "$d/slam.h5"
  r laspm "$exe" laspm "${opts[@]}" --spectra "$in/s.h5" --library "$in/lib.h5" --out "$d/laspm.h5"
  r cnn "$exe" predict-cnn "${opts[@]}" --spectra "$in/s.h5" --model "$in/cnn.h5" --out "$d/cnn.h5"
  r tcnn "$exe" train-cnn "${opts[@]}" --spectra "$in/s.h5" --labels "$m/truth.csv" --class dM --folds 3 \
    --max-epochs 2 --out "$d/tcnn.h5"
  [ -e "$in/cs.h5" ] && r tcls "$exe" train-classifier --set run.chunk_size=16 --log-level warn \
    --spectra "$in/cs.h5" --labels "$in/cm/truth.csv" --max-epochs 2 --task spt --out "$d/tcls.h5"
}
runs "$old" "$w/old"
runs "$new" "$w/new"
bad=0
if ! cmp -s "$w/old/rc.txt" "$w/new/rc.txt"; then echo "FAIL exit codes differ:"; paste "$w/old/rc.txt" "$w/new/rc.txt"; bad=1; fi
for f in "$w"/old/*.h5; do
  n=$(basename "$f")
  [ -e "$w/new/$n" ] || { echo "FAIL $n: not written by the new build"; bad=1; continue; }
  out=$(h5diff -v "$f" "$w/new/$n" 2>&1)
  nds=$(grep -c '^dataset:' <<<"$out")
  ndiff=$(awk '/^dataset:/ { d = 1; next } /^attribute:/ { d = 0; next }
    /differences found/ && d && $1 != "0" { c++; d = 0 } END { print c + 0 }' <<<"$out")
  attrs=$(awk '/^attribute:/ { a = $2; gsub(/</, "", a); next } /^dataset:/ { a = ""; next }
    /differences found/ && a != "" && $1 != "0" { printf "%s ", a; a = "" }' <<<"$out")
  echo "$n: $nds datasets, $ndiff differ; attributes that differ: ${attrs:-none}"
  [ "$ndiff" -eq 0 ] && [ "$nds" -gt 0 ] || bad=1
done
[ $bad -eq 0 ] && echo "same datasets" || { echo "the builds differ"; exit 1; }
