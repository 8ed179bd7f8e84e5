#!/usr/bin/env bash
# bench_fit_methods.sh: `mstars fit --methods` (one pass over the store, each chunk read once)
# against the same methods run as separate commands (fit, fit-slam, predict-cnn, laspm, and rv
# when the templates are there), on the fixtures that tests/store/test_fit_methods.sh leaves
# with KEEP=1 KEEP_DIR=DIR. Wall time of each, median of REPS runs, one rank, one BLAS thread;
# also the time of reading the store alone (the I/O that the one pass saves).
#   KEEP=1 KEEP_DIR=/tmp/fm MSTARS_EXE=build/src/mstars MSTARS_SOURCE_ROOT=$PWD \
#     MSTARS_SHARED=../shared bash tests/store/test_fit_methods.sh
#   bash benchmarks/bench_fit_methods.sh /tmp/fm build/src/mstars [REPS]
set -u
dir=${1:?fixtures folder}
exe=${2:?mstars}
reps=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${MSTARS_SHARED:-$root/../shared}
export OPENBLAS_NUM_THREADS=1
opts=(--config "$root/config/mock-small.cfg" --set preprocess.wave_step=4 --set fit.presearch_points=32
      --set run.chunk_size=16 --log-level warn)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
tpl=$shared/data/templates-kesseli2017
have_rv=0
[ -d "$tpl" ] && have_rv=1
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || echo "failed: $*" >&2; e=$(date +%s.%N); echo "$e - $s" | bc; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A T
for r in $(seq "$reps"); do
  rm -rf "$out"/*
  T[fit]+="$(t "$exe" fit "${opts[@]}" --spectra "$dir/s.h5" --emulator "$dir/emu.h5" --out "$out/z.h5") "
  T[slam]+="$(t "$exe" fit-slam "${opts[@]}" --spectra "$dir/s.h5" --model "$dir/slam.h5" --out "$out/s.h5") "
  T[cnn]+="$(t "$exe" predict-cnn "${opts[@]}" --spectra "$dir/s.h5" --model "$dir/cnn.h5" --out "$out/c.h5") "
  T[laspm]+="$(t "$exe" laspm "${opts[@]}" --spectra "$dir/s.h5" --library "$dir/lib.h5" --out "$out/l.h5") "
  [ $have_rv = 1 ] && T[rv]+="$(t "$exe" rv "${opts[@]}" --spectra "$dir/s.h5" --templates "$tpl" --out "$out/r.h5") "
  models=(--emulator "$dir/emu.h5" --slam-model "$dir/slam.h5" --cnn-model "$dir/cnn.h5" --laspm-library "$dir/lib.h5")
  T[four]+="$(t "$exe" fit "${opts[@]}" --spectra "$dir/s.h5" "${models[@]}" --methods z25,slam,cnn,laspm --out "$out/four.h5") "
  [ $have_rv = 1 ] && T[all]+="$(t "$exe" fit "${opts[@]}" --spectra "$dir/s.h5" "${models[@]}" --templates "$tpl" --methods rv,z25,slam,cnn,laspm --out "$out/all.h5") "
done
rows=$(h5dump -H -d /meta/status "$dir/s.h5" | grep -o 'SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
echo "machine: $(hostname), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $rows spectra, chunks of 16, 1 rank, median of $reps"
sep=0
for k in fit slam cnn laspm rv; do
  [ -n "${T[$k]:-}" ] || continue
  v=$(echo ${T[$k]} | tr ' ' '\n' | median)
  printf "  %-28s %8.2f s\n" "$k (separate command)" "$v"
  [ "$k" = rv ] || sep=$(echo "$sep + $v" | bc)
done
four=$(echo ${T[four]} | tr ' ' '\n' | median)
printf "  %-28s %8.2f s\n" "sum of z25,slam,cnn,laspm" "$sep"
printf "  %-28s %8.2f s   (one pass / separate: %.2f)\n" "fit --methods z25,slam,cnn,laspm" "$four" "$(echo "$four / $sep" | bc -l)"
if [ $have_rv = 1 ]; then
  rv=$(echo ${T[rv]} | tr ' ' '\n' | median)
  all=$(echo ${T[all]} | tr ' ' '\n' | median)
  tot=$(echo "$sep + $rv" | bc)
  printf "  %-28s %8.2f s\n" "sum of the five" "$tot"
  printf "  %-28s %8.2f s   (one pass / separate: %.2f)\n" "fit --methods (all five)" "$all" "$(echo "$all / $tot" | bc -l)"
fi
