#!/usr/bin/env bash
# test_grid_gate.sh: the grid quality gate of `mstars ingest-grid` (issue 17) end to end:
#   - a mock grid (models that resolve their lines) passes: exit 0, an info line "PASS",
#     /quality/ per model, grid_quality_pass 1;
#   - the real CIFIST files of ../shared/data/btsettl-cifist (point-sampled every 2-5 A)
#     fail: a WARN line naming the count, grid_quality_pass 0, every model above 1%; with
#     --refuse-bad-grid the command fails and writes no store (skipped without ../shared).
set -u
. "$(dirname "$0")/../lib.sh"
shared=${MSTARS_SHARED:-$root/../shared}
ms_workdir
"$exe" simulate --config "$root/config/mock-small.cfg" --set simulate.grid_teff=3000,3400,200 \
  --set simulate.grid_logg=4.5,5.0,0.5 --set simulate.grid_mh=0,0.5,0.5 --grid-only \
  --out "$work/mock" >/dev/null 2>&1 || { echo "FAIL simulate"; exit 1; }
"$exe" ingest-grid --grid "$work/mock/grid" --out "$work/mock.h5" >"$work/out.txt" 2>&1
check "mock grid: exit 0" test $? -eq 0
check "mock grid: PASS" grep -q "INFO .*grid quality: PASS" "$work/out.txt"
check "mock grid: grid_quality_pass 1" bash -c "h5dump -a /grid_quality_pass '$work/mock.h5' | grep -q '(0): 1'"
values "$work/mock.h5" /quality/alias_noise > "$work/alias.txt"
check "mock grid: /quality/alias_noise below 0.2% (5x under the threshold) for every model" \
  awk '{ n++; bad += ($1 > 2e-3) } END { exit !(n > 0 && bad == 0) }' "$work/alias.txt"
grid=$shared/data/btsettl-cifist
if [ -d "$grid" ]; then
  mkdir -p "$work/real"
  for t in 030.0 033.0 036.0 040.0; do ln -s "$grid/lte$t-5.0-0.0a+0.0.BT-Settl.spec.txt" "$work/real/"; done
  "$exe" ingest-grid --grid "$work/real" --out "$work/real.h5" >"$work/out.txt" 2>&1
  check "real CIFIST grid: exit 0 (a warning, not a refusal)" test $? -eq 0
  check "real CIFIST grid: WARN FAIL naming 4 of 4 models" grep -q "WARN .*grid quality: FAIL: 4 of 4 models" "$work/out.txt"
  check "real CIFIST grid: grid_quality_pass 0" bash -c "h5dump -a /grid_quality_pass '$work/real.h5' | grep -q '(0): 0'"
  "$exe" ingest-grid --grid "$work/real" --out "$work/refused.h5" --refuse-bad-grid >"$work/out.txt" 2>&1
  check "--refuse-bad-grid: non-zero exit" test $? -ne 0
  check "--refuse-bad-grid: the error says why" grep -q "fails the grid quality gate" "$work/out.txt"
  check "--refuse-bad-grid: no store" test ! -e "$work/refused.h5" -a ! -e "$work/refused.h5.partial"
else
  echo "skip the real-grid checks: $grid is absent"
fi
finish
