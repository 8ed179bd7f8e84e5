#!/usr/bin/env bash
# bench_csn.sh: Cycle-StarNet training speed, C vs PyTorch CPU on this machine, and the
# throughput scaling from 1 to 2 MPI ranks. Each measurement is repeated ROUNDS times,
# interleaved (C, PyTorch, C, ...), so that load from other processes hits both alike; the
# best round of each is reported along with all rounds.
#   benchmarks/bench_csn.sh [BUILD_DIR] [ROUNDS] [ITERS]
set -u
build=${1:-build}
rounds=${2:-3}
iters=${3:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
bench="$build/benchmarks/bench_csn"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1
echo "# $(date -u +%F) $(uname -m), $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
"$bench" --parts --transfer --iters "$iters" | sed 's/^/C default: /'
grep -q avx512f /proc/cpuinfo &&
    OPENBLAS_CORETYPE=SkylakeX "$bench" --parts --transfer --iters "$iters" | grep -v Cycle | sed 's/^/C SkylakeX: /'
/usr/bin/python3 "$root/benchmarks/bench_csn_torch.py" --iters "$iters" | grep transfer | sed 's/^/torch: /'
# OpenBLAS picks its Haswell kernels on AMD CPUs with AVX-512 (Zen 4); its SkylakeX kernels
# are also measured there (OPENBLAS_CORETYPE=SkylakeX).
cores=("")
grep -q avx512f /proc/cpuinfo && cores+=("SkylakeX")
for r in $(seq "$rounds"); do
    for ct in "${cores[@]}"; do
        tag="C ${ct:-default}"
        for ex in 1 0; do
            OPENBLAS_CORETYPE=$ct "$bench" --train --iters "$iters" --repeat 1 --exact $ex |
                grep '^train' | sed "s/^/round $r $tag: /"
        done
    done
    /usr/bin/python3 "$root/benchmarks/bench_csn_torch.py" --iters "$iters" | grep 'per iteration' | sed "s/^/round $r torch: /"
    mpiexec -n 2 "$bench" --train --iters "$iters" --repeat 1 --exact 1 | grep '^train' | sed "s/^/round $r C default: /"
done
echo "# load at the end $(cut -d' ' -f1-3 /proc/loadavg)"
