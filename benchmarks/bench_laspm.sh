#!/bin/bash
# bench_laspm.sh: LASPM matching speed, mstars (C, OpenBLAS dgemm) against the numpy peer,
# one core each, in one run.
#
#   benchmarks/bench_laspm.sh STORE.h5 [N_LIB=5000] [N_SPECTRA=256] [REPEATS=3] [WORK=/tmp/bench_laspm]
#
# STORE.h5: a spectra store (e.g. `mstars ingest` of a `mstars simulate` mock). A library of
# N_LIB of its spectra (drawn with replacement) is written once, then N_SPECTRA spectra are
# matched against it REPEATS times by build/benchmarks/bench_laspm and by
# benchmarks/bench_laspm_numpy.py; medians, the ratio, and the agreement of the best match.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
store=$1; nlib=${2:-5000}; n=${3:-256}; reps=${4:-3}; work=${5:-/tmp/bench_laspm}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
mkdir -p "$work"
py=/usr/bin/python3
lib="$work/lib_$nlib.h5"
[ -f "$lib" ] || $py "$here/bench_laspm_numpy.py" make-library "$store" "$lib" "$nlib"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; $(date -u +%FT%TZ)"
c=$("$here/../build/benchmarks/bench_laspm" "$store" "$lib" "$n" "$reps" "$work/best_c.txt")
p=$($py "$here/bench_laspm_numpy.py" match "$store" "$lib" "$n" "$reps" "$work/best_np.txt")
echo "$c"; echo "$p"
$py - "$work/best_c.txt" "$work/best_np.txt" "$c" "$p" "$lib" <<'PY'
import re, sys
import h5py
import numpy as np
a, b = np.loadtxt(sys.argv[1]), np.loadtxt(sys.argv[2])
rate = lambda s: float(re.search(r"\(([\d.]+) spectra/s/core\)", s).group(1))
rc, rp = rate(sys.argv[3]), rate(sys.argv[4])
print(f"per core (CPU time): mstars {rc:.1f} spectra/s, numpy {rp:.1f} spectra/s, ratio {rc / rp:.1f}x")
# the library is drawn with replacement, so the best match can be one of two identical
# entries: compare the best chi2, not the index (relative to max(chi2, 1))
d = np.abs(a[:, 1] - b[:, 1]) / np.maximum(np.abs(b[:, 1]), 1.0)
t = h5py.File(sys.argv[5], "r")["/library/flux"]
diff = np.flatnonzero(a[:, 0] != b[:, 0])
dup = sum(np.array_equal(t[int(a[i, 0])], t[int(b[i, 0])]) for i in diff)
print(f"best chi2 agrees to {np.max(d):.1e} (relative, max over {len(a)} spectra); same best "
      f"library row {np.mean(a[:, 0] == b[:, 0]) * 100:.0f}%, the other {len(diff)}: identical "
      f"library spectra in {dup}; "
      f"median |Teff difference| {np.median(np.abs(a[:, 2] - b[:, 2])):.1f} K (combination: "
      f"mstars' shared polynomial vs numpy's one NNLS round)")
PY
