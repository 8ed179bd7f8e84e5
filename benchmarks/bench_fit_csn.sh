#!/bin/bash
# bench_fit_csn.sh: the observed-domain CSN fit in C (bench_fit_csn) against its PyTorch CPU
# reference (bench_fit_csn_torch.py), interleaved: each round runs C (which writes the dump
# with its timings), then torch on that dump, on one core each (OPENBLAS_NUM_THREADS=1,
# torch.set_num_threads(1)). Prints every round and the medians over rounds.
#
#   benchmarks/bench_fit_csn.sh BUILD_DIR [ROUNDS=3] [N=32] [BATCHES=1,8,32]
#
# The models and spectra: EMU, CSN, STORE in the environment (default: the trained
# default-architecture models of the mock-survey proof and its store, /work/csnproof).
# Extra options for bench_fit_csn: BENCH_ARGS (e.g. "--row0 1000 --set fit.csn_fit_rv=false").
# Logs and dumps go to OUT (default: a new directory under /tmp), kept for inspection.
set -euo pipefail
BUILD=${1:?usage: bench_fit_csn.sh BUILD_DIR [ROUNDS] [N] [BATCHES]}
ROUNDS=${2:-3}
N=${3:-32}
BATCHES=${4:-1,8,32}
EMU=${EMU:-/work/csnproof/emulator.h5}
CSN=${CSN:-/work/csnproof/csnpop_12k.h5}
STORE=${STORE:-/work/csnproof/spectra.h5}
OUT=${OUT:-$(mktemp -d /tmp/bench_fit_csn.XXXXXX)}
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=$BUILD/benchmarks/bench_fit_csn
PY=${PYTHON:-/usr/bin/python3}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
[ -x "$BIN" ] || { echo "bench_fit_csn.sh: no $BIN (build first)" >&2; exit 1; }
mkdir -p "$OUT"

echo "# $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores visible, $ROUNDS rounds, $N spectra, batches $BATCHES"
echo "# emulator $EMU, CSN $CSN, store $STORE; logs in $OUT"
for r in $(seq 1 "$ROUNDS"); do
    echo "# round $r: load before C: $(cut -d' ' -f1-3 /proc/loadavg)"
    # shellcheck disable=SC2086
    "$BIN" --emulator "$EMU" --csn "$CSN" --spectra "$STORE" --n "$N" --batch "$BATCHES" \
        --profile-reps 5 --dump "$OUT/dump_$r.txt" ${BENCH_ARGS:-} >"$OUT/c_$r.log"
    echo "# round $r: load before torch: $(cut -d' ' -f1-3 /proc/loadavg)"
    "$PY" "$HERE/bench_fit_csn_torch.py" "$OUT/dump_$r.txt" >"$OUT/torch_$r.log"
    rm -f "$OUT/dump_$r.txt" # tens of MB; the logs keep every number
done

echo
echo "round batch | C ms/spec CPU  evals med | C ms/model-eval | torch ms/spec  closures med | torch ms/closure  ms/model-eval | torch/C per fit  equal evals  per model-eval | model max|diff|  labels med |d|/sigma"
for r in $(seq 1 "$ROUNDS"); do
    awk -v r="$r" '$1 == "table" {
        printf "%5d %5d | %13.1f %10.1f | %15.2f | %13.1f %13.1f | %16.2f %14.2f | %15.2f %12.2f %14.2f | %15.1e %18.3f\n",
               r, $2, $3, $4, $6, $7, $8, $10, $11, $12, $13, $14, $15, $16 }' "$OUT/torch_$r.log"
done
echo
echo "medians over rounds:"
cat "$OUT"/torch_*.log | awk '$1 == "table" { print }' | sort -k2,2n | "$PY" -c '
import sys, numpy as np
rows = {}
for line in sys.stdin:
    v = line.split()
    rows.setdefault(int(v[1]), []).append([float(x) for x in v[2:]])
print("batch | C ms/spec CPU | C evals med | C ms/model-eval | torch ms/spec | torch closures med | torch ms/model-eval | torch/C per fit | at equal evals | per model-eval")
for b in sorted(rows):
    a = np.median(np.array(rows[b]), 0)
    print("%5d | %13.1f | %11.1f | %15.2f | %13.1f | %18.1f | %19.2f | %15.2f | %14.2f | %14.2f"
          % (b, a[0], a[1], a[3], a[4], a[5], a[8], a[9], a[10], a[11]))
'
echo
echo "# C profile of round 1 (ms per row, CPU) and the split of a fit:"
grep -E "^(prof|split) " "$OUT/c_1.log"
echo "# load at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
