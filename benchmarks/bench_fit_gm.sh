#!/usr/bin/env bash
# bench_fit_gm.sh: L25's two CNN ensembles (dM and gM) in ONE `mstars fit --methods
# lum,cnn,cnn_gm` pass against two commands (`fit --methods lum,cnn`, then `predict-cnn --model
# gM.h5`, which has no routing and runs the giants' ensemble on every row). Makes its own mock
# (N stars, 35% M giants) and two ensembles of K models (train-cnn --class dM / gM, 1 epoch:
# the speed does not depend on the training); CPU seconds (user + sys) and wall time of each,
# median of REPS runs, one rank, one BLAS thread, and the rows each ensemble predicted.
#   bash benchmarks/bench_fit_gm.sh build/src/mstars [N] [K] [REPS]
set -u
exe=$(realpath "${1:?mstars}")
n=${2:-600}
k=${3:-10}
reps=${4:-3}
root=$(cd "$(dirname "$0")/.." && pwd)
export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars="$n" --set simulate.repeat_fraction=0
      --set simulate.fraction_mgiant=0.35 --set simulate.snr_r_median=30 --set preprocess.wave_step=4
      --set run.chunk_size=64 --log-level warn)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
"$exe" simulate "${opts[@]}" --out "$out/mock" >/dev/null &&
"$exe" ingest "${opts[@]}" --spectra "$out/mock/spectra.lst" --catalog "$out/mock/input_catalog.csv" \
  --out "$out/store.h5" >/dev/null || { echo "preparing the mock failed"; exit 1; }
for c in dM gM; do
  "$exe" train-cnn "${opts[@]}" --spectra "$out/store.h5" --labels "$out/mock/truth.csv" --class $c --folds "$k" \
    --max-epochs 1 --out "$out/$c.h5" >/dev/null 2>&1 || { echo "train-cnn --class $c failed"; exit 1; }
done
# "cpu wall" of one command
t() { /usr/bin/time -f "%U %S %e" -o "$out/t" "$@" >/dev/null 2>"$out/err" || { echo "failed: $*" >&2; tail -3 "$out/err" >&2; }
      awk '{ printf "%.2f %.2f\n", $1 + $2, $3 }' "$out/t"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
declare -A C W
add() { local key=$1 r; r=$(t "${@:2}"); C[$key]+="${r% *} "; W[$key]+="${r#* } "; }
fm=("$exe" fit "${opts[@]}" --spectra "$out/store.h5" --cnn-model "$out/dM.h5")
for r in $(seq "$reps"); do
  rm -f "$out"/[a-z].h5
  add one "${fm[@]}" --cnn-gm-model "$out/gM.h5" --methods lum,cnn,cnn_gm --out "$out/a.h5"
  add fit "${fm[@]}" --methods lum,cnn --out "$out/b.h5"
  add predict "$exe" predict-cnn "${opts[@]}" --spectra "$out/store.h5" --model "$out/gM.h5" --out "$out/c.h5"
done
counts=$(/usr/bin/python3 -c "
import h5py, sys
c = h5py.File(sys.argv[1], 'r')['catalog']
g = c['lum_code'][:] == 2
print(f'{len(g)} rows: {int((~g).sum())} dwarfs (dM ensemble predicted {int((c[\"cnn_n_models\"][:] > 0).sum())}), '
      f'{int(g.sum())} giants (gM ensemble predicted {int((c[\"cnn_gm_n_models\"][:] > 0).sum())})')" "$out/a.h5")
echo "machine: $(hostname), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $k models per ensemble, chunks of 64, 1 rank, median of $reps"
echo "  $counts"
printf "  %-52s %9s %9s\n" "" "CPU s" "wall s"
med() { echo ${1} | tr ' ' '\n' | median; }
c1=$(med "${C[one]}"); w1=$(med "${W[one]}")
cf=$(med "${C[fit]}"); wf=$(med "${W[fit]}"); cp=$(med "${C[predict]}"); wp=$(med "${W[predict]}")
printf "  %-52s %9.2f %9.2f\n" "fit --methods lum,cnn" "$cf" "$wf"
printf "  %-52s %9.2f %9.2f\n" "predict-cnn --model gM.h5 (every row)" "$cp" "$wp"
printf "  %-52s %9.2f %9.2f\n" "the two commands" "$(echo "$cf + $cp" | bc)" "$(echo "$wf + $wp" | bc)"
printf "  %-52s %9.2f %9.2f   (CPU: %.2f of the two)\n" "fit --methods lum,cnn,cnn_gm (one pass)" "$c1" "$w1" \
  "$(echo "$c1 / ($cf + $cp)" | bc -l)"
