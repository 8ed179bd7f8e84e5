#!/bin/bash
# Speed of the RV module against a numpy/scipy implementation of the same template matching,
# in one run on the same spectra (benchmarks/RESULTS.md, issue 19).
# usage: benchmarks/bench_rv.sh BUILD_DIR STORE.h5 [N_C] [N_NUMPY] [TEMPLATES]
set -euo pipefail
B=${1:?build dir}; S=${2:?store with the native view}; NC=${3:-200}; NP=${4:-8}
T=${5:-${MSTARS_SHARED:-../shared}/data/templates-kesseli2017}
export OPENBLAS_NUM_THREADS=1
out=$(mktemp)
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg)"
"$B/benchmarks/bench_rv" "$S" "$T" "$NC" "$out" | tee "$out.log"
/usr/bin/python3 "$(dirname "$0")/bench_rv_numpy.py" "$S" "$T" "$NP" "$out" | tee "$out.np"
c=$(grep "TM incl. errors" "$out.log" | sed 's/.*median \([0-9.]*\) ms.*/\1/')
p=$(grep NUMPY_MS "$out.np" | cut -d' ' -f2)
echo "ratio numpy / C (TM incl. errors, median CPU per spectrum): $(echo "$p / $c" | bc -l | cut -c1-6)"
echo "machine load after: $(cut -d' ' -f1-3 /proc/loadavg)"
rm -f "$out" "$out.log" "$out.np"
