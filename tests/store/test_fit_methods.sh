#!/usr/bin/env bash
# test_fit_methods.sh: `mstars fit --methods` (issue 24) end to end on a tiny mock universe with
# tiny models of every method (emulator, SLAM, CNN ensemble, LASPM library; the RV templates of
# ../shared when present):
#   - without rv, the one-pass catalog's per-method columns equal those of the single commands
#     (fit, fit-slam, predict-cnn, laspm) on the same store EXACTLY (z25's renamed as combine
#     names them), and its recommended labels / disagreement columns equal `mstars combine` of
#     the single catalogs exactly;
#   - with rv first: the rv, slam and laspm columns equal the single commands' (z25 uses the rv
#     velocity; the cnn columns, of a model trained with --rv, equal predict-cnn --rv of the rv
#     catalog; a model trained without --rv is refused), rv_adopted starts the others
#     (counted), the catalog is bit-identical for
#     1 and 2 ranks and chunks of 16 and 7, and an interrupted run (max_runtime) resumed with
#     --resume equals the uninterrupted one;
#   - --reference (held-out labels): the error scales against it, recorded, and the same
#     recommended labels from fit --methods and combine;
#   - errors: an unknown method, a method without its model.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
shared=${MSTARS_SHARED:-}
py=/usr/bin/python3
$py -c 'import h5py, numpy' 2>/dev/null || { echo "SKIP: python3-h5py absent"; exit 77; }
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=60 --set simulate.repeat_fraction=0.2
      --set simulate.grid_teff=3000,3800,200 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set preprocess.wave_step=4 --set emulator.hidden=16
      --set emulator.epochs=20 --set fit.presearch_points=32 --set run.chunk_size=16 --log-level warn)
mock_fit_inputs
# labels of a random 40% (the reference role) for SLAM, the CNN and the library
awk -F, 'NR == 1 { print; next } { srand(NR * 7919); if (rand() < 0.4) print }' "$m/truth.csv" > "$work/train.csv"
"$exe" train-slam "${opts[@]}" --spectra "$work/spectra.h5" --labels "$work/train.csv" --label-cols teff,m_h \
  --grid-c 2^0:2^2 --grid-epsilon 0.05 --grid-gamma auto --cv-folds 3 --out "$work/slam.h5" >/dev/null 2>&1 &&
"$exe" train-cnn "${opts[@]}" --spectra "$work/spectra.h5" --labels "$m/truth.csv" --class dM --folds 3 \
  --max-epochs 2 --out "$work/cnn.h5" >/dev/null 2>&1 &&
"$exe" build-library "${opts[@]}" --spectra "$work/spectra.h5" --labels "t=$work/train.csv" --no-dbscan \
  --nn-rounds 0 --out "$work/lib.h5" >/dev/null 2>&1 || { echo "FAIL training the tiny models"; exit 1; }

# the single commands
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" --out "$work/z25.h5" >/dev/null 2>&1 &&
"$exe" fit-slam "${opts[@]}" --spectra "$work/spectra.h5" --model "$work/slam.h5" --out "$work/slam_cat.h5" >/dev/null 2>&1 &&
"$exe" predict-cnn "${opts[@]}" --spectra "$work/spectra.h5" --model "$work/cnn.h5" --out "$work/cnn_cat.h5" >/dev/null 2>&1 &&
"$exe" laspm "${opts[@]}" --spectra "$work/spectra.h5" --library "$work/lib.h5" --out "$work/laspm_cat.h5" >/dev/null 2>&1
check "the single commands exit 0" test $? -eq 0
"$exe" combine --catalogs "$work/z25.h5,$work/slam_cat.h5,$work/cnn_cat.h5,$work/laspm_cat.h5" \
  --out "$work/combined.h5" >/dev/null 2>&1
check "combine of the single catalogs exits 0" test $? -eq 0

models=(--emulator "$work/emu.h5" --slam-model "$work/slam.h5" --cnn-model "$work/cnn.h5"
        --laspm-library "$work/lib.h5")
fm=("$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" "${models[@]}")
"${fm[@]}" --methods laspm,cnn,slam,z25 --out "$work/four.h5" >/dev/null 2>"$work/four.log"
check "fit --methods z25,slam,cnn,laspm exits 0" test $? -eq 0
# compare: every column of a single catalog is in the job's catalog, equal (NaN where NaN)
cat > "$work/cmp.py" <<'PY'
import sys, h5py, numpy as np
job = h5py.File(sys.argv[1], "r")["catalog"]
single = h5py.File(sys.argv[2], "r")["catalog"]
method = sys.argv[3]
rename = {"teff", "logg", "m_h", "alpha_m", "rv"} if method == "z25" else set()
def jname(n):
    if n in rename: return method + "_" + n
    for v in rename:
        if n == "e_" + v or n.startswith("e_" + v + "_"): return "e_" + method + "_" + n[2:]
    return n
bad = []
for n in single:
    a = single[n][:]; j = jname(n)
    if j not in job: bad.append(n + " missing"); continue
    b = job[j][:]
    if a.dtype.kind == "f":
        same = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])
    else:
        same = np.array_equal(a, b)
    if not same: bad.append(n)
print(method, len(list(single)), "columns;", "differ:" if bad else "all equal", " ".join(bad))
sys.exit(1 if bad else 0)
PY
for mc in z25:z25 slam:slam_cat cnn:cnn_cat laspm:laspm_cat; do
  check "${mc%%:*} columns of the one-pass catalog == the single command's (exact)" \
    $py "$work/cmp.py" "$work/four.h5" "$work/${mc#*:}.h5" "${mc%%:*}"
done
cat > "$work/rec.py" <<'PY'
import sys, h5py, numpy as np
job = h5py.File(sys.argv[1], "r")["catalog"]; comb = h5py.File(sys.argv[2], "r")["catalog"]
cols = [p + q for q in ("teff", "logg", "m_h", "alpha_m", "rv") for p in ("", "e_")] + \
       [q + "_method" for q in ("teff", "logg", "m_h", "alpha_m", "rv")] + ["disagree_flags", "disagree_pair", "disagree_sigma"]
bad = []
for n in cols:
    a, b = job[n][:], comb[n][:]
    if a.dtype.kind == "f":
        ok = np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])
    else:
        ok = np.array_equal(a, b)
    if not ok: bad.append(n)
n_rec = int((job["teff_method"][:] != b"").sum())
print("recommended teff on", n_rec, "of", len(job["teff"]), "rows;", "differ: " + " ".join(bad) if bad else "equal")
sys.exit(1 if bad or n_rec == 0 else 0)
PY
check "recommended labels and disagreement == mstars combine of the single catalogs (exact)" \
  $py "$work/rec.py" "$work/four.h5" "$work/combined.h5"
# --reference: every method's error scales measured against labels of held-out spectra (here
# the truth of the rows outside train.csv), the same in both commands (one rescaling function)
awk -F, 'NR == FNR { if (FNR > 1) seen[$0] = 1; next } FNR == 1 || !($0 in seen)' "$work/train.csv" \
  "$m/truth.csv" > "$work/heldout.csv"
"$exe" combine --catalogs "$work/z25.h5,$work/slam_cat.h5,$work/cnn_cat.h5,$work/laspm_cat.h5" \
  --reference "$work/heldout.csv" --out "$work/combined_ref.h5" >/dev/null 2>&1 &&
"${fm[@]}" --methods laspm,cnn,slam,z25 --reference "$work/heldout.csv" --out "$work/four_ref.h5" \
  >/dev/null 2>&1
check "combine --reference and fit --methods --reference exit 0" test $? -eq 0
check "--reference: recommended labels of fit --methods == combine (exact)" \
  $py "$work/rec.py" "$work/four_ref.h5" "$work/combined_ref.h5"
check "--reference: the Teff scales are the reference's, recorded with their rows" \
  sh -c "h5dump -a /catalog/e_teff/error_scales '$work/four_ref.h5' | grep -q 'slam:[0-9.,e+-]*(reference, [0-9]* rows)' &&
         h5dump -a /error_reference '$work/four_ref.h5' | grep -q heldout.csv &&
         h5dump -a /catalog/e_teff/error_scales '$work/four.h5' | grep -q '(hat)'"
"$exe" combine --catalogs "$work/z25.h5,$work/slam_cat.h5" --reference "$work/nothing.csv" \
  --out "$work/x_ref.h5" >/dev/null 2>"$work/e_ref.txt"
check "combine --reference of a missing table fails naming it" \
  sh -c "test ! -e '$work/x_ref.h5' && grep -q nothing.csv '$work/e_ref.txt'"
# the journal's settings cover every method: a resume with another method list is refused
"${fm[@]}" --methods slam,laspm --set run.chunk_size=4 --set run.max_runtime=1e-6 --out "$work/j.h5" >/dev/null 2>&1
"${fm[@]}" --methods slam --set run.chunk_size=4 --resume --out "$work/j.h5" >/dev/null 2>"$work/e3.txt"
check "--resume with other methods than the journal's is refused" test $? -ne 0 -a ! -e "$work/j.h5"
check "methods attribute in the job's order" sh -c "h5dump -a /methods '$work/four.h5' | grep -q 'z25,slam,cnn,laspm'"

tpl=$shared/data/templates-kesseli2017
if [ -n "$shared" ] && [ -d "$tpl" ]; then
  "$exe" rv "${opts[@]}" --spectra "$work/spectra.h5" --templates "$tpl" --out "$work/rv_cat.h5" >/dev/null 2>&1
  check "rv (single) exits 0" test $? -eq 0
  # the CNN's rest frames: a model trained on the rv catalog's velocities (train-cnn --rv)
  "$exe" train-cnn "${opts[@]}" --spectra "$work/spectra.h5" --labels "$m/truth.csv" --class dM --folds 3 \
    --max-epochs 2 --rv "$work/rv_cat.h5" --out "$work/cnn_rv.h5" >/dev/null 2>&1 &&
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/spectra.h5" --model "$work/cnn_rv.h5" --rv "$work/rv_cat.h5" \
    --out "$work/cnn_rv_cat.h5" >/dev/null 2>&1
  check "train-cnn --rv, predict-cnn --rv exit 0" test $? -eq 0
  "${fm[@]}" --methods rv,cnn --templates "$tpl" --out "$work/x.h5" >/dev/null 2>"$work/e4.txt"
  check "fit --methods rv,cnn with a model trained without --rv is refused (velocity named)" \
    sh -c "test ! -e '$work/x.h5' && grep -q 'velocity sources must agree' '$work/e4.txt'"
  fm=("$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" --slam-model "$work/slam.h5"
      --cnn-model "$work/cnn_rv.h5" --laspm-library "$work/lib.h5")
  all=(--methods rv,z25,slam,cnn,laspm --templates "$tpl")
  mpi 1 "${fm[@]}" "${all[@]}" --out "$work/all1.h5" >/dev/null 2>"$work/all1.log"
  check "fit --methods rv,z25,slam,cnn,laspm, 1 rank, chunks of 16, exits 0" test $? -eq 0
  mpi 2 "${fm[@]}" "${all[@]}" --set run.chunk_size=7 --out "$work/all2.h5" >/dev/null 2>&1
  check "the same with 2 ranks, chunks of 7, exits 0" test $? -eq 0
  check "catalog: 2 ranks, chunks of 7 == 1 rank, chunks of 16 (bit for bit)" \
    h5diff -q "$work/all1.h5" "$work/all2.h5" /catalog /catalog
  for mc in rv:rv_cat slam:slam_cat laspm:laspm_cat cnn:cnn_rv_cat; do
    check "with rv: ${mc%%:*} columns == the single command's (exact)" \
      $py "$work/cmp.py" "$work/all1.h5" "$work/${mc#*:}.h5" "${mc%%:*}"
  done
  check "with rv: the recommended rv comes from the rv method on most rows" $py -c "
import sys, h5py, numpy as np
c = h5py.File(sys.argv[1], 'r')['catalog']
m = c['rv_method'][:]; good = c['rv_flag'][:] == 1
print('rv_method rv on', (m == b'rv').sum(), 'of', len(m), 'rows;', good.sum(), 'with rv_flag 1')
sys.exit(0 if (m == b'rv').sum() >= 0.5 * len(m) and np.all(m[~good] != b'rv') else 1)" "$work/all1.h5"
  # interrupted after the first chunks, resumed until complete
  mpi 2 "${fm[@]}" "${all[@]}" --set run.chunk_size=4 --set run.max_runtime=1e-6 --out "$work/int.h5" >/dev/null 2>&1
  check "an interrupted run exits 0 and leaves no complete-looking catalog" test $? -eq 0 -a ! -e "$work/int.h5"
  for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    [ -e "$work/int.h5" ] && break
    mpi 2 "${fm[@]}" "${all[@]}" --set run.chunk_size=4 --set run.max_runtime=2 --resume --out "$work/int.h5" >/dev/null 2>&1
  done
  check "--resume completes it, equal to the uninterrupted run (bit for bit)" \
    h5diff -q "$work/all1.h5" "$work/int.h5" /catalog /catalog
  "${fm[@]}" --methods rv,slam --templates "$tpl" --set run.chunk_size=4 --resume --out "$work/int.h5" >/dev/null 2>&1
  check "--resume of a complete catalog: nothing to do (exit 0)" test $? -eq 0
else
  echo "note: $tpl absent, the rv method is not run"
fi

"${fm[@]}" --methods z25,xyz --out "$work/x.h5" >/dev/null 2>"$work/e1.txt"
check "an unknown method is refused, naming it" grep -q "unknown method 'xyz'" "$work/e1.txt"
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --methods slam --out "$work/x.h5" >/dev/null 2>"$work/e2.txt"
check "a method without its model is refused, naming the option" grep -q "slam needs --slam-model" "$work/e2.txt"
check "refused runs wrote nothing" test ! -e "$work/x.h5" -a ! -e "$work/x.h5.journal"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
