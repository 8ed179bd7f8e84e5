#!/usr/bin/env bash
# bench_simulate.sh: throughput of mock-survey generation (`mstars simulate`), the number
# recorded in benchmarks/RESULTS.md (target: >= 500 spectra/s/core including writing).
#
#   1. bench_simulate: one core, synthesis alone and synthesis + FITS writing, wall and CPU
#      time, into a tmpfs directory (/dev/shm) and into DIR on disk;
#   2. `mstars simulate --survey-only` end to end (population, synthesis, files, truth.csv,
#      input_catalog.csv) with 1 and 2 ranks.
#
# Usage: benchmarks/bench_simulate.sh [BUILD_DIR] [N_STARS] [DIR]
#   defaults: build, 3000 stars (about 4100 spectra), a fresh directory under /tmp.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
n=${2:-3000}
dir=${3:-$(mktemp -d /tmp/mstars-bench-simulate-XXXXXX)}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
mkdir -p "$dir"
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
if [ -d /dev/shm ]; then
  shm=$(mktemp -d /dev/shm/mstars-bench-XXXXXX)
  echo "== one core, files on tmpfs ($shm)"
  "$build/benchmarks/bench_simulate" "$n" "$shm"
  rm -rf "$shm"
fi
echo "== one core, files on disk ($dir/single)"
mkdir -p "$dir/single"
"$build/benchmarks/bench_simulate" "$n" "$dir/single"
rm -rf "$dir/single"
for ranks in 1 2; do
  echo "== mstars simulate --survey-only, $ranks rank(s), $n stars, into $dir/r$ranks"
  /usr/bin/time -f "   wall %e s, max RSS %M kB" \
    mpiexec --oversubscribe -n "$ranks" "$build/src/mstars" simulate --survey-only \
      --set simulate.n_stars="$n" --out "$dir/r$ranks" 2>&1 | grep -E "spectra in|wall"
  rm -rf "$dir/r$ranks"
done
rmdir "$dir" 2>/dev/null || true
