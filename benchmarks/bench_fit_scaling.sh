#!/usr/bin/env bash
# bench_fit_scaling.sh: strong scaling of `mstars fit` over ranks on one store.
#
#   benchmarks/bench_fit_scaling.sh SPECTRA_STORE EMULATOR [RUNS] [RANKS...]
#
# For each rank count (default 1 2 4; more ranks than cores are oversubscribed, which
# exercises the logic but cannot speed up), RUNS runs (default 3) interleaved across rank
# counts; prints median wall time, spectra/s, parallel efficiency against 1 rank, the
# master's time per request, and the peak memory per rank.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe=$root/build/src/mstars
store=${1:?spectra store}; emu=${2:?emulator}; runs=${3:-3}; shift 3 || true
ranks=("$@"); [ ${#ranks[@]} -gt 0 ] || ranks=(1 2 4)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
declare -A wall req rss
for r in $(seq "$runs"); do
  for n in "${ranks[@]}"; do
    log=$work/log.$n.$r
    t0=$(date +%s.%N)
    mpirun --oversubscribe -n "$n" "$exe" fit --spectra "$store" --emulator "$emu" \
      --out "$work/cat.$n.$r.h5" --set run.progress_seconds=0 > "$log" 2>&1
    t1=$(date +%s.%N)
    wall[$n]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') "
    req[$n]+="$(grep -o '([0-9.]* us per request)' "$log" | tr -dc '0-9.') "
    rss[$n]+="$(grep -o 'max [0-9.]* MiB' "$log" | tr -dc '0-9.') "
    rm -f "$work"/cat.*.h5
  done
done
rows=$(grep -o 'fit: [0-9]* rows' "$work"/log.1.1 | tr -dc '0-9')
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "mstars fit: $rows spectra, $(nproc) cores, $(date -u +%F), runs: $runs"
t1=$(median "${wall[1]:-0}")
for n in "${ranks[@]}"; do
  m=$(median "${wall[$n]}")
  awk -v n="$n" -v m="$m" -v t1="$t1" -v rows="$rows" -v all="${wall[$n]}" \
      -v us="$(median "${req[$n]:-0}")" -v rss="$(median "${rss[$n]:-0}")" 'BEGIN {
    printf "  ranks=%d  median wall %.2fs  %.0f spectra/s  speed-up %.2f  efficiency %.0f%%  master %.1f us/request  peak RSS/rank %.0f MiB  (runs: %s)\n",
      n, m, rows / m, t1 / m, 100 * t1 / m / n, us, rss, all }'
done
