#!/bin/bash
# Speed of the dwarf/giant line indices (src/lumclass) against the numpy implementation of the
# same indices (benchmarks/lumclass_calibrate.py), one run on the same spectra of a store
# (benchmarks/RESULTS.md, issue 22).
# usage: benchmarks/bench_lumclass.sh BUILD_DIR STORE.h5 [REPS_C] [REPS_NUMPY]
set -euo pipefail
B=${1:?build dir}; S=${2:?store with the native view}; RC=${3:-200}; RP=${4:-20}
echo "machine load: $(cut -d' ' -f1-3 /proc/loadavg)"
c=$("$B/benchmarks/bench_lumclass" "$S" "$RC" | tee /dev/stderr | grep C_MS | cut -d' ' -f2)
p=$(/usr/bin/python3 - "$S" "$RP" "$(dirname "$0")" <<'PY'
import sys, time, numpy as np, h5py
sys.path.insert(0, sys.argv[3])
import lumclass_calibrate as L
f = h5py.File(sys.argv[1], "r")
fl, iv, mk, z = f["native/flux"][:], f["native/ivar"][:], f["native/mask"][:], f["meta/z"][:]
ll = f["native/loglam"][:]
reps, ts = int(sys.argv[2]), []
for i in range(len(z)):
    v = z[i] * L.C_KMS if z[i] > -9000 else 0.0
    t0 = time.process_time()
    for _ in range(reps):
        w = 10 ** ll / (1 + v / L.C_KMS)   # the rest frame, as the C code does per call
        L.indices(w, fl[i], iv[i], mk[i] != 0)
    ts.append((time.process_time() - t0) / reps)
print("%.6f" % (1e3 * np.median(ts)))
PY
)
echo "numpy: median $p ms per spectrum (indices only, CPU)"
echo "ratio numpy / C: $(echo "$p / $c" | bc -l | cut -c1-6)"
echo "machine load after: $(cut -d' ' -f1-3 /proc/loadavg)"
