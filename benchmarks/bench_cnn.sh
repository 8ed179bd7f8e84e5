#!/usr/bin/env bash
# bench_cnn.sh: the L25 CNN, C (bench_cnn) vs PyTorch CPU (bench_cnn_torch.py), one core each,
# the same architecture, batch and data sizes: a training epoch and ten-model ensemble
# inference per spectrum, and (C alone) making L25's input from a native spectrum. ROUNDS interleaved rounds (C, PyTorch, C, ...) so that load from
# other processes hits both alike; the medians over the rounds and the ratio are printed.
#   benchmarks/bench_cnn.sh [BUILD_DIR] [ROUNDS] [N_IN] [SPECTRA]
set -u
build=${1:-build}
rounds=${2:-3}
n_in=${3:-5000}
spectra=${4:-512}
root=$(cd "$(dirname "$0")/.." && pwd)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "# $(date -u +%F) $(uname -m), $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
args=(--n-in "$n_in" --spectra "$spectra" --epochs 1 --models 10 --repeat 1)
out=$(mktemp)
for r in $(seq "$rounds"); do
    taskset -c 0 "$build/benchmarks/bench_cnn" "${args[@]}" | grep -v '^#' | sed "s/^/C /" | tee -a "$out"
    taskset -c 0 /usr/bin/python3 "$root/benchmarks/bench_cnn_torch.py" "${args[@]}" | sed "s/^/torch /" | tee -a "$out"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$out" <<'PY'
import re, sys, statistics as st
v = {}
for line in open(sys.argv[1]):
    who, what = line.split()[:2]
    m = re.search(r"([0-9.]+) (s/epoch|ms/spectrum) wall, ([0-9.]+)", line)
    v.setdefault((who, what), []).append((float(m.group(1)), float(m.group(3))))
for what, unit in (("train", "s/epoch"), ("infer", "ms/spectrum")):
    c = [st.median(x[i] for x in v[("C", what)]) for i in (0, 1)]
    t = [st.median(x[i] for x in v[("torch", what)]) for i in (0, 1)]
    print(f"{what}: C {c[0]:.4g} {unit} (cpu {c[1]:.4g}), PyTorch {t[0]:.4g} (cpu {t[1]:.4g}); "
          f"C is {t[1] / c[1]:.2f}x as fast (cpu time)")
if ("C", "input") in v:
    c = [st.median(x[i] for x in v[("C", "input")]) for i in (0, 1)]
    print(f"input (C alone: native pixels -> L25 input): {c[0]:.4g} ms/spectrum (cpu {c[1]:.4g})")
PY
rm -f "$out"
