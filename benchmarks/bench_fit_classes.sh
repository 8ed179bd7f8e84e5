#!/usr/bin/env bash
# bench_fit_classes.sh: the classification inside `mstars fit --methods class,lum,z25,cnn`
# (one pass, the classes route z25 and cnn to the dwarfs) against the same methods as separate
# commands (classify, lumclass --classify, fit, predict-cnn: every method on every row), and
# the one pass without routing (run.dwarfs_only empty: the same work as the separate commands).
# CPU seconds (user + sys) and wall time of each, median of REPS runs, one rank, one BLAS
# thread, on the fixtures that tests/store/test_fit_classes.sh leaves with KEEP=1 KEEP_DIR=DIR:
#   KEEP=1 KEEP_DIR=/tmp/fc MSTARS_EXE=build/src/mstars MSTARS_SOURCE_ROOT=$PWD \
#     bash tests/store/test_fit_classes.sh
#   bash benchmarks/bench_fit_classes.sh /tmp/fc build/src/mstars [REPS]
set -u
dir=${1:?fixtures folder}
exe=${2:?mstars}
reps=${3:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
export OPENBLAS_NUM_THREADS=1
opts=(--config "$root/config/mock-small.cfg" --set preprocess.wave_step=4 --set fit.presearch_points=32
      --set run.chunk_size=16 --log-level warn)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# "cpu wall" of one command
t() { /usr/bin/time -f "%U %S %e" -o "$out/t" "$@" >/dev/null 2>&1 || echo "failed: $*" >&2
      awk '{ printf "%.2f %.2f\n", $1 + $2, $3 }' "$out/t"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
M=(--spt "$dir/spt.h5" --wdm "$dir/wdm.h5" --dmgm "$dir/dmgm.h5")
declare -A C W
add() { local k=$1 r; r=$(t "${@:2}"); C[$k]+="${r% *} "; W[$k]+="${r#* } "; }
for r in $(seq "$reps"); do
  rm -rf "$out"/*.h5
  add classify "$exe" classify "${opts[@]}" --spectra "$dir/s.h5" "${M[@]}" --out "$out/c.h5"
  add lumclass "$exe" lumclass "${opts[@]}" --spectra "$dir/s.h5" --classify "$out/c.h5" --out "$out/l.h5"
  add fit "$exe" fit "${opts[@]}" --spectra "$dir/s.h5" --emulator "$dir/emu.h5" --out "$out/z.h5"
  add predict-cnn "$exe" predict-cnn "${opts[@]}" --spectra "$dir/s.h5" --model "$dir/cnn.h5" --out "$out/n.h5"
  fm=("$exe" fit "${opts[@]}" --spectra "$dir/s.h5" --emulator "$dir/emu.h5" --cnn-model "$dir/cnn.h5" "${M[@]}"
      --methods class,lum,z25,cnn)
  add routed "${fm[@]}" --out "$out/r.h5"
  add unrouted "${fm[@]}" --set run.dwarfs_only= --out "$out/u.h5"
done
rows=$(h5dump -H -d /meta/status "$dir/s.h5" | grep -o 'SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
dwarfs=$(/usr/bin/python3 -c "import h5py,sys; c=h5py.File(sys.argv[1])['catalog']; print(int((c['methods_skipped'][:]==0).sum()))" "$dir/j1.h5" 2>/dev/null || echo "?")
echo "machine: $(hostname), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $rows spectra ($dwarfs routed to z25/cnn), chunks of 16, 1 rank, median of $reps"
printf "  %-44s %9s %9s\n" "" "CPU s" "wall s"
sc=0; sw=0
for k in classify lumclass fit predict-cnn; do
  c=$(echo ${C[$k]} | tr ' ' '\n' | median); w=$(echo ${W[$k]} | tr ' ' '\n' | median)
  printf "  %-44s %9.2f %9.2f\n" "$k (separate command)" "$c" "$w"
  sc=$(echo "$sc + $c" | bc); sw=$(echo "$sw + $w" | bc)
done
printf "  %-44s %9.2f %9.2f\n" "sum of the four separate commands" "$sc" "$sw"
for k in unrouted routed; do
  c=$(echo ${C[$k]} | tr ' ' '\n' | median); w=$(echo ${W[$k]} | tr ' ' '\n' | median)
  what="fit --methods class,lum,z25,cnn"; [ $k = unrouted ] && what="$what, dwarfs_only empty"
  printf "  %-44s %9.2f %9.2f   (CPU: %.2f of the separate)\n" "$what" "$c" "$w" "$(echo "$c / $sc" | bc -l)"
done
