#!/usr/bin/env bash
# test_cnn_cli.sh: `mstars train-cnn` and `mstars predict-cnn` end to end on a tiny mock
# universe:
#   - train-cnn on 1, 2 and 3 ranks writes bit-identical weights (the exact all-reduce) and
#     records the rank count; a run stopped by --max-time exits 3 and --resume finishes it
#     with the same weights;
#   - predict-cnn on 1 and 2 ranks, and with another chunk size, writes identical catalogs
#     (cnn_* values, errors, parameter_flag), rows of the store one for one; unusable rows
#     have NaN and cnn_n_models 0; an interrupted run (max_runtime) resumes to the same
#     catalog;
#   - the input: the native view in the rest frame of an rv catalog (rv_adopted where
#     rv_flag = 1, else Z*c; recorded per row in cnn_rv/cnn_rv_source and in the model);
#     a model/input mismatch (velocity source, a store without the native view, a model of
#     the old Z25 input) is refused with a message;
#   - the errors: e_cnn = sqrt((s e_cnn_ens)^2 + floor^2) with the model's error_scale and
#     error_floor;
#   - wrong inputs fail with a message: a class other than dM/gM, labels with nothing to join on.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
# same NONEMPTY_A B: non-empty and equal
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=70 --set simulate.repeat_fraction=0.3
      --set simulate.grid_teff=3200,3300,100 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set run.chunk_size=16 --log-level warn)
mpi 2 "$exe" simulate "${opts[@]}" --out "$m" >/dev/null || { echo "FAIL simulate"; exit 1; }
mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$m/input_catalog.csv" \
  --out "$work/s.h5" >/dev/null || { echo "FAIL ingest"; exit 1; }
train=(--spectra "$work/s.h5" --labels "$m/truth.csv" --class dM --folds 3 --max-epochs 2)
# the weights of a model file as text
weights() { h5dump -d /models/param -d /models/best_epoch -d /train/oof "$1" | sed 1d; }
for n in 1 2 3; do
  mpi $n "$exe" train-cnn "${opts[@]}" "${train[@]}" --out "$work/m$n.h5" >"$work/t$n.log" 2>&1
  check "train-cnn on $n rank(s) exits 0" test $? -eq 0
done
w1=$(weights "$work/m1.h5")
check "a model file has 3 models" grep -q "( 3, " <<<"$w1"
for n in 2 3; do check "train-cnn: 1 vs $n ranks bit-identical" same "$w1" "$(weights "$work/m$n.h5")"; done
check "the rank count is recorded" sh -c "h5dump -a /seed_ranks_max_epochs_batch '$work/m2.h5' | grep -Eq '[(]0[)]: [0-9]+, 2, 2, 128'"
# time limit and resume
"$exe" train-cnn "${opts[@]}" "${train[@]}" --out "$work/r.h5" --max-time 0.001 >"$work/r1.log" 2>&1
check "train-cnn --max-time exits 3" test $? -eq 3
check "no model file after a stop" test ! -e "$work/r.h5"
for i in 1 2 3 4 5 6 7 8 9 10 11 12; do
  [ -e "$work/r.h5" ] && break
  "$exe" train-cnn "${opts[@]}" "${train[@]}" --out "$work/r.h5" --max-time 0.001 --resume >>"$work/r1.log" 2>&1
done
check "--resume finishes with the same weights" same "$w1" "$(weights "$work/r.h5")"
# predict
cat_text() { h5dump -d /catalog/id -d /catalog/cnn_teff -d /catalog/e_cnn_teff -d /catalog/cnn_m_h \
  -d /catalog/e_cnn_alpha_m -d /catalog/parameter_flag -d /catalog/cnn_n_models "$1" | sed 1d; }
"$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/m1.h5" --out "$work/c1.h5" >"$work/p1.log" 2>&1
check "predict-cnn on 1 rank exits 0" test $? -eq 0
mpi 2 "$exe" predict-cnn "${opts[@]}" --set run.chunk_size=7 --spectra "$work/s.h5" --model "$work/m1.h5" \
  --out "$work/c2.h5" >"$work/p2.log" 2>&1
check "predict-cnn on 2 ranks, chunks of 7, exits 0" test $? -eq 0
c1=$(cat_text "$work/c1.h5")
check "predict-cnn: 1 vs 2 ranks identical" same "$c1" "$(cat_text "$work/c2.h5")"
rows=$(h5dump -H -d /spectra/flux "$work/s.h5" | grep -o 'SIMPLE { ( [0-9]*' | grep -o '[0-9]*$')
check "one catalog row per store row ($rows)" sh -c "h5dump -H -d /catalog/cnn_teff '$work/c1.h5' | grep -q '( $rows )'"
py=/usr/bin/python3
if $py -c 'import h5py, numpy' 2>/dev/null; then
  check "values, errors, flags consistent" $py - "$work/c1.h5" "$work/s.h5" <<'PY'
import sys, h5py, numpy as np
c, s = h5py.File(sys.argv[1], "r")["catalog"], h5py.File(sys.argv[2], "r")
st = s["meta/status"][:]
n = c["cnn_n_models"][:]
t, e, f = c["cnn_teff"][:], c["e_cnn_teff"][:], c["parameter_flag"][:]
ok = (np.all(n[st != 0] == 0) and np.all(np.isnan(t[n == 0])) and np.all(n[n > 0] == 3)
      and np.all(np.isfinite(t[n > 0])) and np.all(e[n > 0] >= 0) and np.all(f[n == 0] == 0)
      and np.all(np.isin(f, [0, 1])) and (n > 0).sum() > 0.8 * len(n))
print("rows", len(n), "predicted", (n > 0).sum(), "flag 1", f.sum())
sys.exit(0 if ok else 1)
PY
fi
# interrupted survey job, resumed
mpi 2 "$exe" predict-cnn "${opts[@]}" --set run.chunk_size=4 --set run.max_runtime=1e-6 --spectra "$work/s.h5" \
  --model "$work/m1.h5" --out "$work/c3.h5" >"$work/p3.log" 2>&1
code=$?
check "predict-cnn stopped by max_runtime exits 3" test $code -eq 3
mpi 2 "$exe" predict-cnn "${opts[@]}" --set run.chunk_size=4 --spectra "$work/s.h5" --model "$work/m1.h5" \
  --out "$work/c3.h5" --resume >>"$work/p3.log" 2>&1
check "predict-cnn --resume completes the same catalog" same "$c1" "$(cat_text "$work/c3.h5")"
if $py -c 'import h5py, numpy' 2>/dev/null; then
  check "e_cnn is the model's error model on e_cnn_ens" $py - "$work/c1.h5" "$work/m1.h5" <<'PY'
import sys, h5py, numpy as np
c, m = h5py.File(sys.argv[1], "r")["catalog"], h5py.File(sys.argv[2], "r")
labels = m.attrs["labels"].decode().split(",") if isinstance(m.attrs["labels"], bytes) else m.attrs["labels"].split(",")
s, f = m.attrs["error_scale"], m.attrs["error_floor"]
ok = len(s) == len(labels) and np.all(s >= 0) and np.all(f >= 0)
for j, l in enumerate(labels):
    e, en = c["e_cnn_" + l][:], c["e_cnn_" + l + "_ens"][:]
    p = np.isfinite(en)
    ok &= p.sum() > 0 and np.allclose(e[p], np.sqrt((s[j] * en[p]) ** 2 + f[j] ** 2), rtol=1e-12)
src = c["cnn_rv_source"][:]
n = c["cnn_n_models"][:]
ok &= np.all(src[n > 0] == 2) and np.all(np.isfinite(c["cnn_rv"][:][n > 0]))
print("scale", s, "floor", f)
sys.exit(0 if ok else 1)
PY
  # an rv catalog of this store: rv_adopted = Z*c + 40 km/s, rv_flag 0 on every third row
  $py - "$work/s.h5" "$work/rv.h5" <<'PY'
import sys, h5py, numpy as np
s = h5py.File(sys.argv[1], "r")
z = s["meta/z"][:]
with h5py.File(sys.argv[2], "w") as f:
    f["catalog/obsid"] = s["meta/obsid"][:]
    f["catalog/rv_adopted"] = z * 299792.458 + 40.0
    flag = np.ones(len(z), np.int32)
    flag[::3] = 0
    f["catalog/rv_flag"] = flag
    f.attrs["complete"] = np.array([1], np.int64)
PY
  mpi 2 "$exe" train-cnn "${opts[@]}" "${train[@]}" --rv "$work/rv.h5" --out "$work/mrv.h5" >"$work/trv.log" 2>&1
  check "train-cnn --rv exits 0" test $? -eq 0
  check "the model records the velocity source" sh -c "h5dump -a /input_velocity '$work/mrv.h5' | grep -q 'rv_adopted where rv_flag = 1'"
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/mrv.h5" --rv "$work/rv.h5" --out "$work/crv.h5" >"$work/prv.log" 2>&1
  check "predict-cnn --rv exits 0" test $? -eq 0
  check "cnn_rv: rv_adopted where rv_flag = 1, else Z*c" $py - "$work/crv.h5" "$work/s.h5" <<'PY'
import sys, h5py, numpy as np
c, s = h5py.File(sys.argv[1], "r")["catalog"], h5py.File(sys.argv[2], "r")
zc = s["meta/z"][:] * 299792.458
n, src, rv = c["cnn_n_models"][:], c["cnn_rv_source"][:], c["cnn_rv"][:]
i = np.arange(len(n))
p = n > 0
ok = (np.all(src[p & (i % 3 != 0)] == 1) and np.all(src[p & (i % 3 == 0)] == 2)
      and np.allclose(rv[p & (i % 3 != 0)], zc[p & (i % 3 != 0)] + 40.0)
      and np.allclose(rv[p & (i % 3 == 0)], zc[p & (i % 3 == 0)]) and (src[p] == 1).sum() > 0)
sys.exit(0 if ok else 1)
PY
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/mrv.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
  check "a model trained with --rv refuses the pipeline velocities" sh -c "test $? -eq 1 && grep -q 'velocity sources must agree' '$work/x.log'"
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/m1.h5" --rv "$work/rv.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
  check "a model trained without --rv refuses the rv catalog" sh -c "test $? -eq 1 && grep -q 'velocity sources must agree' '$work/x.log'"
  $py -c "import h5py,sys; f=h5py.File(sys.argv[1],'a'); del f.attrs['input_velocity']" "$work/m2.h5"
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/s.h5" --model "$work/m2.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
  check "a model of the old Z25 input is refused" sh -c "test $? -eq 1 && grep -q 'older train-cnn' '$work/x.log'"
  cp "$work/s.h5" "$work/nonative.h5"
  $py -c "import h5py,sys; del h5py.File(sys.argv[1],'a')['native']" "$work/nonative.h5"
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/nonative.h5" --model "$work/mrv.h5" --rv "$work/rv.h5" --out "$work/x.h5" >"$work/x.log" 2>&1
  check "a store without the native view is refused" sh -c "test $? -eq 1 && grep -q 'native view' '$work/x.log'"
fi
# wrong inputs
"$exe" train-cnn "${opts[@]}" --spectra "$work/s.h5" --labels "$m/truth.csv" --class sdM --out "$work/x.h5" >"$work/x.log" 2>&1
check "train-cnn --class sdM refused" sh -c "test $? -eq 1 && grep -q 'dM or gM' '$work/x.log'"
cut -d, -f11-14 "$m/truth.csv" >"$work/noid.csv"
"$exe" train-cnn "${opts[@]}" --spectra "$work/s.h5" --labels "$work/noid.csv" --class dM --out "$work/x.h5" >"$work/x.log" 2>&1
check "labels with nothing to join on (no obsid, key or position) refused" sh -c "test $? -eq 1 && grep -q 'nothing to join on' '$work/x.log'"
[ $fails -eq 0 ] || { for f in "$work"/*.log; do echo "== $f"; tail -5 "$f"; done; }
exit $fails
