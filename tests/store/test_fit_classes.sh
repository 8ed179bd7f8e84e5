#!/usr/bin/env bash
# test_fit_classes.sh: the classification inside `mstars fit --methods` (issues 22 and 24) on a
# tiny mock universe with other populations (config/mock-classes.cfg's fractions: M giants,
# OB..K stars, white dwarfs, galaxies, QSOs) and tiny models (three classifiers of two epochs,
# a CNN ensemble, an emulator):
#   - the class and lum columns of `fit --methods class,lum,z25,cnn` equal those of the single
#     commands EXACTLY (`mstars classify` with the same models; `mstars lumclass --classify`
#     of that classify catalog: the job's lum takes its CNN vote from its class method);
#   - the routing: z25 and cnn (run.dwarfs_only) ran exactly on the rows the classification
#     calls dwarfs, their columns null elsewhere, methods_skipped has their bits and
#     skip_reason the class (non-M, white dwarf, giant, unclassified); the rule of
#     classify.c/lumclass.c recomputed here from the class and lum columns;
#   - run.giants_only: cnn on giants only;
#   - the catalog is bit-identical for 1 and 2 ranks and chunks of 16 and 7, and an
#     interrupted run (max_runtime) resumed with --resume equals the uninterrupted one;
#   - refusals: class without a model, class in run.dwarfs_only, a method in both lists.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
py=/usr/bin/python3
$py -c 'import h5py, numpy' 2>/dev/null || { echo "SKIP: python3-h5py absent"; exit 77; }
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=${N_STARS:-80} --set simulate.repeat_fraction=0
      --set simulate.fraction_mgiant=0.15 --set simulate.fraction_a=0.1 --set simulate.fraction_k=0.1
      --set simulate.fraction_wd=0.1 --set simulate.fraction_qso=0.05 --set simulate.snr_r_median=20
      --set simulate.grid_teff=3000,3800,200 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set preprocess.wave_step=4 --set emulator.hidden=16
      --set emulator.epochs=10 --set fit.presearch_points=32 --set run.chunk_size=16 --log-level warn)
mock_fit_inputs
tr=(--spectra "$work/spectra.h5" --labels "$m/truth.csv" --max-epochs 2 --folds 2)
for t in spt wdm dmgm; do
  "$exe" train-classifier "${opts[@]}" "${tr[@]}" --task $t --out "$work/$t.h5" >/dev/null 2>&1 ||
    { echo "FAIL train-classifier --task $t"; exit 1; }
done
"$exe" train-cnn "${opts[@]}" --spectra "$work/spectra.h5" --labels "$m/truth.csv" --class dM --folds 3 \
  --max-epochs 2 --out "$work/cnn.h5" >/dev/null 2>&1 || { echo "FAIL train-cnn"; exit 1; }
M=(--spt "$work/spt.h5" --wdm "$work/wdm.h5" --dmgm "$work/dmgm.h5")

# the single commands
"$exe" classify "${opts[@]}" --spectra "$work/spectra.h5" "${M[@]}" --out "$work/class.h5" >/dev/null 2>&1 &&
"$exe" lumclass "${opts[@]}" --spectra "$work/spectra.h5" --classify "$work/class.h5" --out "$work/lum.h5" >/dev/null 2>&1
check "classify and lumclass --classify exit 0" test $? -eq 0
"$exe" lumclass "${opts[@]}" --spectra "$work/spectra.h5" --out "$work/lum0.h5" >/dev/null 2>&1
check "lumclass without --classify exits 0" test $? -eq 0

fm=("$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" --cnn-model "$work/cnn.h5" "${M[@]}")
all=(--methods cnn,z25,lum,class)
mpi 1 "${fm[@]}" "${all[@]}" --out "$work/j1.h5" >/dev/null 2>"$work/j1.log"
check "fit --methods class,lum,z25,cnn, 1 rank, chunks of 16, exits 0" test $? -eq 0
check "methods attribute in the job's order: class first" sh -c "h5dump -a /methods '$work/j1.h5' | grep -q 'class,lum,z25,cnn'"
cat > "$work/cmp.py" <<'PY'
import sys, h5py, numpy as np
job = h5py.File(sys.argv[1], "r")["catalog"]; single = h5py.File(sys.argv[2], "r")["catalog"]
bad = []
for n in single:
    if n not in job: bad.append(n + " missing"); continue
    a, b = single[n][:], job[n][:]
    same = (np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])
            if a.dtype.kind == "f" else np.array_equal(a, b))
    if not same: bad.append(n)
print(sys.argv[2].split("/")[-1], len(list(single)), "columns;", "differ: " + " ".join(bad) if bad else "all equal")
sys.exit(1 if bad else 0)
PY
check "class columns of the one-pass catalog == mstars classify's (exact)" $py "$work/cmp.py" "$work/j1.h5" "$work/class.h5"
check "lum columns == mstars lumclass --classify of that catalog (exact)" $py "$work/cmp.py" "$work/j1.h5" "$work/lum.h5"
# the routing, recomputed from the class and lum columns by the documented rule
cat > "$work/route.py" <<'PY'
import sys, h5py, numpy as np
c = h5py.File(sys.argv[1], "r")["catalog"]
dwarfs_only = sys.argv[2].split(",")
methods = h5py.File(sys.argv[1], "r").attrs["methods"]
methods = (methods.decode() if isinstance(methods, bytes) else str(methods)).split(",")
f = c["class_flags"][:]; lum = c["lum_code"][:]
route = np.where(f & 1, "unclassified", np.where(f & 4, "non-M", np.where(f & 8, "white dwarf",
                 np.where(f & 16, "giant", "dwarf")))).astype(object)
m = (route == "dwarf") | (route == "giant")
route[m & (lum == 2)] = "giant"; route[m & (lum == 1)] = "dwarf"
want = sys.argv[3]   # the class the restricted methods run on
skipped = c["methods_skipped"][:]; reason = c["skip_reason"][:].astype(str)
ok = True
for g, name in enumerate(methods):
    restricted = name in dwarfs_only
    bit = (skipped >> g) & 1
    exp = (route != want) if restricted else np.zeros(len(route), bool)
    if not np.array_equal(bit.astype(bool), exp):
        print(name, "skipped on", bit.sum(), "rows, expected", exp.sum()); ok = False
any_skip = skipped != 0
ok &= bool(np.all(reason[any_skip] == route[any_skip].astype(str))) and bool(np.all(reason[~any_skip] == ""))
if "z25" in methods:
    ok &= bool(np.all(np.isnan(c["z25_teff"][:][route != want])))
    ok &= bool(np.all(np.isfinite(c["z25_teff"][:][(route == want) & (c["store_status"][:] == 0)])))
if "cnn" in methods:
    ok &= bool(np.all(c["cnn_n_models"][:][route != want] == 0))
u, n = np.unique(route.astype(str), return_counts=True)
print("routes", dict(zip(u, n)), "; skip reasons", dict(zip(*np.unique(reason, return_counts=True))))
# the test must see rows of more than one route, else it proves nothing
sys.exit(0 if ok and (route != want).sum() > 0 and (route == want).sum() > 0 else 1)
PY
check "z25 and cnn ran exactly on the dwarfs; methods_skipped and skip_reason say why" \
  $py "$work/route.py" "$work/j1.h5" z25,cnn dwarf
same_across_ranks_and_resume "$work/j1.h5" 1 "${fm[@]}" "${all[@]}"
# lum alone routes too (no CNN vote): equal to lumclass without --classify
"${fm[@]}" --methods lum,cnn --set run.giants_only=cnn --set run.dwarfs_only= --out "$work/g.h5" >/dev/null 2>&1
check "fit --methods lum,cnn with run.giants_only=cnn exits 0" test $? -eq 0
check "lum columns without the class method == mstars lumclass (exact)" $py "$work/cmp.py" "$work/g.h5" "$work/lum0.h5"
check "run.giants_only: cnn on the giants of luminosity_class only" $py -c "
import sys, h5py, numpy as np
c = h5py.File(sys.argv[1], 'r')['catalog']
giant = c['lum_code'][:] == 2; bit = (c['methods_skipped'][:] >> 1) & 1
r = c['skip_reason'][:].astype(str)
print('giants', giant.sum(), 'of', len(giant))
sys.exit(0 if np.array_equal(bit == 1, ~giant) and np.all(r[~giant] == 'dwarf') and np.all(c['cnn_n_models'][:][~giant] == 0) else 1)" "$work/g.h5"
# refusals
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --methods class --out "$work/x.h5" >/dev/null 2>"$work/e1.txt"
check "class without a model is refused, naming the options" grep -q "class needs at least one of --spt" "$work/e1.txt"
"${fm[@]}" --methods class,z25 --set run.dwarfs_only=class,z25 --out "$work/x.h5" >/dev/null 2>"$work/e2.txt"
check "class in run.dwarfs_only is refused" grep -q "routes the rows" "$work/e2.txt"
"${fm[@]}" --methods class,z25 --set run.giants_only=z25 --out "$work/x.h5" >/dev/null 2>"$work/e3.txt"
check "a method in both lists is refused" grep -q "both run.dwarfs_only" "$work/e3.txt"
check "refused runs wrote nothing" test ! -e "$work/x.h5" -a ! -e "$work/x.h5.journal"
[ $fails -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
echo "all checks passed"
