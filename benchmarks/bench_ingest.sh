#!/usr/bin/env bash
# bench_ingest.sh: ingest throughput (read + preprocess + parallel HDF5 write), in
# spectra per second per core, on real-layout files.
#
#   benchmarks/bench_ingest.sh [SPECTRA_DIR_OR_LIST] [REPEAT] [RUNS]
#
# Default input: the 23 real LAMOST files of ../shared/data/lamost (DR1-DR10 layouts,
# 6 gzipped), each listed REPEAT times (default 100) so that a run is long enough to time.
# Runs 1 and 2 ranks RUNS times each (default 3), alternating, and prints the median.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
exe=$root/build/src/mstars
src=$(realpath "${1:-$root/../shared/data/lamost}")
repeat=${2:-100}
runs=${3:-3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -d "$src" ]; then
  find "$src" -name '*.fits*' | sort > "$work/once.lst"
else
  cp "$src" "$work/once.lst"
fi
: > "$work/all.lst"
for _ in $(seq "$repeat"); do cat "$work/once.lst" >> "$work/all.lst"; done
n=$(wc -l < "$work/all.lst")
# warm the page cache so that both rank counts read from memory
cat $(cat "$work/once.lst") > /dev/null

declare -A times
for r in $(seq "$runs"); do
  for ranks in 1 2; do
    t0=$(date +%s.%N)
    mpirun --oversubscribe -n "$ranks" "$exe" ingest --spectra "$work/all.lst" --out "$work/s.h5" \
      --reprocess --log-level warn
    t1=$(date +%s.%N)
    times[$ranks]+="$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.3f", b - a}') "
  done
done
median() { printf '%s\n' $1 | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
echo "ingest of $n spectra ($(wc -l < "$work/once.lst") distinct files x $repeat), $(nproc) cores, $(date -u +%F)"
for ranks in 1 2; do
  m=$(median "${times[$ranks]}")
  awk -v n="$n" -v m="$m" -v r="$ranks" -v all="${times[$ranks]}" 'BEGIN {
    printf "  ranks=%d  median wall %.2fs  %.0f spectra/s  %.0f spectra/s/core  (runs: %s)\n", r, m, n / m, n / m / r, all }'
done
