#!/usr/bin/env bash
# bench_classify.sh: the L25 classifiers, C (bench_classify) vs numpy + PyTorch CPU
# (bench_classify_torch.py), one core each, the same architecture and sizes: classification
# per spectrum (native view + three CNNs + softmax; target <= 2 ms per spectrum per core) and
# a CNN-SPT training epoch. ROUNDS interleaved rounds (C, PyTorch, C, ...) so that load from
# other processes hits both alike; the medians over the rounds and the ratios are printed.
#   benchmarks/bench_classify.sh [BUILD_DIR] [ROUNDS] [SPECTRA]
set -u
build=${1:-build}
rounds=${2:-3}
spectra=${3:-512}
root=$(cd "$(dirname "$0")/.." && pwd)
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1
echo "# $(date -u +%F) $(uname -m), $(nproc --all) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
args=(--spectra "$spectra" --repeat 1)
out=$(mktemp)
for r in $(seq "$rounds"); do
    taskset -c 0 "$build/benchmarks/bench_classify" "${args[@]}" | grep -v '^#' | sed "s/^/C /" | tee -a "$out"
    (cd "$root/benchmarks" && taskset -c 0 /usr/bin/python3 bench_classify_torch.py "${args[@]}") | sed "s/^/torch /" | tee -a "$out"
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
/usr/bin/python3 - "$out" <<'PY'
import re, sys, statistics as st
v = {}
for line in open(sys.argv[1]):
    who, what = line.split()[:2]
    m = re.search(r"([0-9.]+) (s/epoch|ms/spectrum) wall, ([0-9.]+)", line)
    vv = re.search(r"view ([0-9.]+) ms", line)
    v.setdefault((who, what), []).append((float(m.group(1)), float(m.group(3)),
                                          float(vv.group(1)) if vv else float("nan")))
for what, unit in (("classify", "ms/spectrum"), ("train", "s/epoch")):
    c = [st.median(x[i] for x in v[("C", what)]) for i in (0, 1, 2)]
    t = [st.median(x[i] for x in v[("torch", what)]) for i in (0, 1, 2)]
    extra = f"; view C {c[2]:.3f} ms, numpy {t[2]:.3f} ms" if what == "classify" else ""
    print(f"{what}: C {c[0]:.4g} {unit} (cpu {c[1]:.4g}), PyTorch {t[0]:.4g} (cpu {t[1]:.4g}); "
          f"C is {t[1] / c[1]:.2f}x as fast (cpu time){extra}")
PY
rm -f "$out"
