#!/usr/bin/env bash
# test_classify_cli.sh: `mstars train-classifier` and `mstars classify` end to end on a tiny
# multi-class set made by benchmarks/class_mock.py from the real Kesseli templates
# (../shared; skipped when absent, or without Debian's python3-astropy):
#   - train-classifier (spt) on 1, 2 and 3 ranks writes bit-identical weights (the exact
#     all-reduce); a run stopped by --max-time exits 3 and --resume finishes it with the same
#     weights; the model file holds the validation confusion matrix;
#   - classify on 1 and 2 ranks, and with another chunk size, writes identical catalogs, one
#     row per store row; an interrupted run (max_runtime) resumes to the same catalog; a model
#     not given leaves its columns NaN/empty;
#   - wrong inputs fail with a message: an unknown task, no model, a model of another task.
set -u
exe=${MSTARS_EXE:?}
root=${MSTARS_SOURCE_ROOT:?}
shared=${MSTARS_SHARED:-$root/../shared}
py=/usr/bin/python3
if [ ! -d "$shared/data/templates-kesseli2017" ]; then echo "SKIP: no Kesseli templates in $shared"; exit 77; fi
if ! $py -c 'import astropy, numpy, h5py' 2>/dev/null; then echo "SKIP: python3-astropy/h5py absent"; exit 77; fi
work=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
mpi() { local n=$1; shift; mpiexec --oversubscribe -n "$n" "$@"; }
opts=(--set run.chunk_size=16 --log-level warn)
MSTARS_SHARED=$shared $py "$root/benchmarks/class_mock.py" "$work/m" --per-class 6 --seed 5 >/dev/null ||
  { echo "FAIL class_mock.py"; exit 1; }
"$exe" ingest "${opts[@]}" --spectra "$work/m" --out "$work/s.h5" >/dev/null || { echo "FAIL ingest"; exit 1; }
train=(--spectra "$work/s.h5" --labels "$work/m/truth.csv" --max-epochs 2)
weights() { h5dump -d /models/param -d /models/best_epoch -d /train/oof "$1" | sed 1d; }
for n in 1 2 3; do
  mpi $n "$exe" train-classifier "${opts[@]}" "${train[@]}" --task spt --out "$work/spt$n.h5" >"$work/t$n.log" 2>&1
  check "train-classifier on $n rank(s) exits 0" test $? -eq 0
done
w1=$(weights "$work/spt1.h5")
check "one model of 4 folds" grep -q "( 1, " <<<"$w1"
for n in 2 3; do check "train-classifier: 1 vs $n ranks bit-identical" same "$w1" "$(weights "$work/spt$n.h5")"; done
check "the model file is a softmax classifier of task spt" sh -c \
  "h5dump -a /output -a /class '$work/spt1.h5' | grep -q softmax && h5dump -a /class '$work/spt1.h5' | grep -q spt"
check "the validation confusion matrix is kept (8 x 8)" sh -c \
  "h5dump -H -d /validation/confusion '$work/spt1.h5' | grep -q '( 8, 8 )'"
"$exe" train-classifier "${opts[@]}" "${train[@]}" --task spt --out "$work/r.h5" --max-time 0.001 >"$work/r.log" 2>&1
check "train-classifier --max-time exits 3" test $? -eq 3
for i in 1 2 3 4; do
  [ -e "$work/r.h5" ] && break
  "$exe" train-classifier "${opts[@]}" "${train[@]}" --task spt --out "$work/r.h5" --max-time 0.001 --resume >>"$work/r.log" 2>&1
done
check "--resume finishes with the same weights" same "$w1" "$(weights "$work/r.h5")"
for t in wdm dmgm; do
  "$exe" train-classifier "${opts[@]}" "${train[@]}" --task $t --out "$work/$t.h5" >"$work/t_$t.log" 2>&1
  check "train-classifier --task $t exits 0" test $? -eq 0
done
# classify
models=(--spt "$work/spt1.h5" --wdm "$work/wdm.h5" --dmgm "$work/dmgm.h5")
cat_text() { h5dump -d /catalog/id -d /catalog/obsid -d /catalog/class -d /catalog/class_prob -d /catalog/wd_prob \
  -d /catalog/dmgm_prob -d /catalog/class_flags -d /catalog/class_reason "$1" | sed 1d; }
"$exe" classify "${opts[@]}" --spectra "$work/s.h5" "${models[@]}" --out "$work/c1.h5" >"$work/c1.log" 2>&1
check "classify on 1 rank exits 0" test $? -eq 0
mpi 2 "$exe" classify "${opts[@]}" --set run.chunk_size=7 --spectra "$work/s.h5" "${models[@]}" --out "$work/c2.h5" >"$work/c2.log" 2>&1
check "classify on 2 ranks, chunks of 7, exits 0" test $? -eq 0
c1=$(cat_text "$work/c1.h5")
check "classify: 1 vs 2 ranks identical" same "$c1" "$(cat_text "$work/c2.h5")"
mpi 2 "$exe" classify "${opts[@]}" --set run.chunk_size=4 --set run.max_runtime=1e-6 --spectra "$work/s.h5" \
  "${models[@]}" --out "$work/c3.h5" >"$work/c3.log" 2>&1
check "classify stopped by max_runtime exits 3" test $? -eq 3
mpi 2 "$exe" classify "${opts[@]}" --set run.chunk_size=4 --spectra "$work/s.h5" "${models[@]}" --out "$work/c3.h5" \
  --resume >>"$work/c3.log" 2>&1
check "classify --resume completes the same catalog" same "$c1" "$(cat_text "$work/c3.h5")"
"$exe" classify "${opts[@]}" --spectra "$work/s.h5" --wdm "$work/wdm.h5" --out "$work/c4.h5" >"$work/c4.log" 2>&1
check "classify with --wdm only exits 0" test $? -eq 0
check "rows and columns consistent" $py - "$work/c1.h5" "$work/c4.h5" "$work/s.h5" <<'PY'
import sys, h5py, numpy as np
c, c4, s = (h5py.File(p, "r") for p in sys.argv[1:4])
n = s["native/flux"].shape[0]
k = c["catalog"]
cls = k["class"][:].astype(str)
p, wd, g = k["class_prob"][:], k["wd_prob"][:], k["dmgm_prob"][:]
ok = len(cls) == n and np.all(np.isin(cls, ["OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"]))
ok &= np.all((p >= 1 / 8 - 1e-12) & (p <= 1)) and np.all((wd >= 0) & (wd <= 1)) and np.all((g >= 0) & (g <= 1))
k4 = c4["catalog"]
ok &= np.all(k4["class"][:].astype(str) == "") and np.all(np.isnan(k4["class_prob"][:]))
ok &= np.all(np.isnan(k4["dmgm_prob"][:])) and np.array_equal(k4["wd_prob"][:], wd)
ok &= np.all(np.isin(k4["class_reason"][:].astype(str), ["M", "white dwarf"]))
print("rows", n, "classes", dict(zip(*np.unique(cls, return_counts=True))))
sys.exit(0 if ok else 1)
PY
# wrong inputs
"$exe" train-classifier "${opts[@]}" "${train[@]}" --task xyz --out "$work/x.h5" >"$work/x.log" 2>&1
check "train-classifier --task xyz refused" sh -c "test $? -eq 1 && grep -q 'spt, wdm or dmgm' '$work/x.log'"
"$exe" classify "${opts[@]}" --spectra "$work/s.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
check "classify without a model refused" sh -c "test $? -eq 1 && grep -q 'at least one of' '$work/x.log'"
"$exe" classify "${opts[@]}" --spectra "$work/s.h5" --spt "$work/wdm.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
check "a wdm model as --spt refused" sh -c "test $? -eq 1 && grep -q 'not a spt classifier' '$work/x.log'"
"$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/wdm.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
check "predict-cnn refuses a classifier" sh -c "test $? -eq 1 && grep -q 'is a classifier' '$work/x.log'"
[ $fails -eq 0 ] || { for f in "$work"/*.log; do echo "== $f"; tail -5 "$f"; done; }
exit $fails
