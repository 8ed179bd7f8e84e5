#!/bin/bash
# bench_join.sh: the position join (include/mstars/join.h: the zones algorithm) against
# scipy's cKDTree on unit vectors (astropy's match_coordinates_sky), one core each, one run.
#
#   benchmarks/bench_join.sh [N=1000000] [REPEATS=3] [RADIUS=3] [WORK=/tmp/bench_join]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-1000000}; reps=${2:-3}; radius=${3:-3}; work=${4:-/tmp/bench_join}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
py=/usr/bin/python3
mkdir -p "$work"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg) on $(getconf _NPROCESSORS_ONLN) cores; $(date -u +%FT%TZ)"
$py "$here/bench_join.py" make "$work/pos.bin" "$n" 17
c=$("$here/../build/benchmarks/bench_join" "$work/pos.bin" "$n" "$reps" "$radius" "$work/c.txt")
p=$($py "$here/bench_join.py" match "$work/pos.bin" "$n" "$reps" "$radius" "$work/py.txt")
echo "$c"; echo "$p"
$py - "$work/c.txt" "$work/py.txt" "$c" "$p" <<'PY'
import re, sys
import numpy as np
a, b = np.loadtxt(sys.argv[1], dtype=int), np.loadtxt(sys.argv[2], dtype=int)
t = lambda s: float(re.search(r"([\d.]+) s CPU", s).group(1))
print(f"same nearest row for {np.mean(a == b) * 100:.4f}% of the rows ({(a != b).sum()} differ: "
      f"ties or the radius edge in the last bit); CPU ratio scipy/mstars {t(sys.argv[4]) / t(sys.argv[3]):.2f}")
PY
