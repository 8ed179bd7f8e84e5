#!/usr/bin/env bash
# bench_simulate_classes.sh: generation speed of the mock's other populations (issue 22)
# and of the template generator, in ONE run, recorded in benchmarks/RESULTS.md:
#   1. `mstars simulate --survey-only`, one rank, into tmpfs: 400 objects of each kind alone
#      (simulate.fraction_<kind> = 1, no repeats), spectra/s/core from the log;
#   2. config/mock-classes.cfg (2000 objects, all kinds) with 1 and 2 ranks, and its class
#      counts from truth.csv;
#   3. `mstars simulate --from-templates` (2000 spectra) with 1 and 2 ranks;
#   4. the peer: the numpy reference of tests/sim/check_templates.py (the template convolved
#      with the difference LSF on its own pixels) timed per spectrum on the --clean output.
# Usage: benchmarks/bench_simulate_classes.sh [BUILD_DIR] [TEMPLATE_DIR]
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-$root/build}
tdir=${2:-$root/../shared/data/templates-kesseli2017}
exe=$build/src/mstars
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
base=/dev/shm
[ -d "$base" ] || base=/tmp
dir=$(mktemp -d "$base/mstars-bench-classes-XXXXXX")
trap 'rm -rf "$dir"' EXIT
echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), files in $dir"
rate() { grep -oE "[0-9]+ spectra/s/core" | head -1; }
echo "== one kind at a time, 400 objects, 1 rank"
"$exe" simulate --survey-only --set simulate.n_stars=400 --set simulate.repeat_fraction=0 \
  --out "$dir/k" --log-level info 2>&1 | rate | sed 's/^/   mdwarf  /'
for k in mgiant ob a f g k wd galaxy qso; do
  "$exe" simulate --survey-only --set simulate.n_stars=400 --set simulate.repeat_fraction=0 \
    --set simulate.fraction_$k=1 --out "$dir/k" --log-level info 2>&1 | rate | sed "s/^/   $k  /"
done
rm -rf "$dir/k"
for ranks in 1 2; do
  echo "== config/mock-classes.cfg, $ranks rank(s)"
  /usr/bin/time -f "   wall %e s" mpiexec --oversubscribe -n "$ranks" "$exe" simulate \
    --config "$root/config/mock-classes.cfg" --survey-only --out "$dir/c$ranks" 2>&1 |
    grep -E "spectra in|wall"
done
echo "== class counts of config/mock-classes.cfg (kind spt_class lum_class, header CLASS/SUBCLASS says M dwarf)"
/usr/bin/python3 - "$dir/c2/truth.csv" <<'PY'
import csv, sys, collections
rows = list(csv.DictReader(open(sys.argv[1])))
c = collections.Counter((r["kind"], r["spt_class"], r["lum_class"]) for r in rows)
m = collections.Counter(r["kind"] for r in rows if r["class"] == "STAR" and r["subclass"].startswith("M"))
for k, n in sorted(c.items(), key=lambda x: -x[1]):
    print(f"   {k[0]:7s} {k[1]:7s} {k[2]:6s} {n:5d} spectra, header M: {m[k[0]]}")
print(f"   total {len(rows)}")
PY
rm -rf "$dir/c1" "$dir/c2"
if [ -f "$tdir/M0_Giant.fits" ]; then
  for ranks in 1 2; do
    echo "== --from-templates --n 2000, $ranks rank(s)"
    /usr/bin/time -f "   wall %e s" mpiexec --oversubscribe -n "$ranks" "$exe" simulate \
      --from-templates "$tdir" --n 2000 --out "$dir/t$ranks" 2>&1 | grep -E "templates in|spectra in|wall"
    rm -rf "$dir/t$ranks"
  done
  echo "== peer: numpy reference convolution, per spectrum (20 --clean spectra)"
  "$exe" simulate --from-templates "$tdir" --n 20 --clean --out "$dir/clean" --log-level warn
  /usr/bin/python3 - "$dir/clean" "$tdir" "$root/tests/sim/check_templates.py" <<'PY'
import csv, sys, time, importlib.util
import numpy as np
from astropy.io import fits
spec = importlib.util.spec_from_file_location("ct", sys.argv[3]); ct = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ct)
rows = list(csv.DictReader(open(sys.argv[1] + "/truth.csv")))
ts = []
for r in rows:
    with fits.open(f"{sys.argv[2]}/{r['template']}.fits") as h:
        tw = 10.0 ** np.asarray(h[1].data["LogLam"], float); tf = np.asarray(h[1].data["Flux"], float)
    wave = ct.read_lamost(sys.argv[1] + "/" + r["file"])[0]
    t0 = time.perf_counter(); ct.reference(tw, tf, wave, float(r["lsf_r6500"]), float(r["lsf_tilt"]))
    ts.append(time.perf_counter() - t0)
print(f"   numpy LSF + resampling: median {1e3 * np.median(ts):.1f} ms per spectrum ({len(ts)} spectra)")
PY
fi
