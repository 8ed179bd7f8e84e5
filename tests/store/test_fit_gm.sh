#!/usr/bin/env bash
# test_fit_gm.sh: L25's two CNN ensembles in ONE `mstars fit --methods` pass (issue 22): the
# dwarfs' (cnn, --cnn-model) and the M giants' (cnn_gm, --cnn-gm-model, its own column group
# cnn_gm_*), routed by the job's classification (lum: luminosity_class) with run.dwarfs_only
# (default z25,cnn) and run.giants_only (default cnn_gm). On a tiny mock with M giants and
# tiny ensembles (3 folds, 2 epochs, trained by train-cnn --class dM / gM):
#   - the dwarf rows carry the dM ensemble's values, EXACTLY those of `predict-cnn --model dM`
#     over the same store, and null cnn_gm columns with skip_reason "dwarf"; the giant rows the
#     reverse (cnn_gm_* == `predict-cnn --model gM`'s cnn_*); the recommended labels never
#     come from an ensemble on the other class's rows; export writes the cnn_gm columns and
#     report compares cnn_gm against the truth;
#   - 1 rank chunks of 16 == 2 ranks chunks of 7 (bit for bit); an interrupted run resumed
#     equals the uninterrupted one;
#   - refusals: cnn_gm without --cnn-gm-model, a dM model as --cnn-gm-model, cnn_gm in
#     run.dwarfs_only, a gM model for cnn on the dwarfs.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
py=/usr/bin/python3
$py -c 'import h5py, numpy' 2>/dev/null || { echo "SKIP: python3-h5py absent"; exit 77; }
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=${N_STARS:-80} --set simulate.repeat_fraction=0
      --set simulate.fraction_mgiant=0.35 --set simulate.snr_r_median=30 --set preprocess.wave_step=4
      --set run.chunk_size=16 --log-level warn)
mpi 2 "$exe" simulate "${opts[@]}" --out "$m" >/dev/null &&
mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$m/input_catalog.csv" \
  --out "$work/spectra.h5" >/dev/null || { echo "FAIL preparing the mock"; exit 1; }
for c in dM gM; do
  "$exe" train-cnn "${opts[@]}" --spectra "$work/spectra.h5" --labels "$m/truth.csv" --class $c --folds 3 \
    --max-epochs 2 --out "$work/$c.h5" >/dev/null 2>&1 || { echo "FAIL train-cnn --class $c"; exit 1; }
  "$exe" predict-cnn "${opts[@]}" --spectra "$work/spectra.h5" --model "$work/$c.h5" --out "$work/p$c.h5" \
    >/dev/null 2>&1 || { echo "FAIL predict-cnn --model $c.h5"; exit 1; }
done

fm=("$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --cnn-model "$work/dM.h5" --cnn-gm-model "$work/gM.h5")
all=(--methods cnn_gm,cnn,lum)
mpi 1 "${fm[@]}" "${all[@]}" --out "$work/j1.h5" >/dev/null 2>"$work/j1.log"
check "fit --methods lum,cnn,cnn_gm, 1 rank, chunks of 16, exits 0" test $? -eq 0
check "methods attribute in the job's order" sh -c "h5dump -a /methods '$work/j1.h5' | grep -q '\"lum,cnn,cnn_gm\"'"
check "cnn_gm's own root attributes (class gM)" sh -c "h5dump -a /cnn_gm_class '$work/j1.h5' | grep -q '\"gM\"'"
cat > "$work/gm.py" <<'PY'
import sys, h5py, numpy as np
# the one-pass catalog against predict-cnn of the dM and the gM ensemble over the same store
job = h5py.File(sys.argv[1], "r"); c = job["catalog"]
pdm = h5py.File(sys.argv[2], "r")["catalog"]; pgm = h5py.File(sys.argv[3], "r")["catalog"]
methods = job.attrs["methods"]
methods = (methods.decode() if isinstance(methods, bytes) else str(methods)).split(",")
giant = c["lum_code"][:] == 2  # lum alone (no class method): luminosity_class giant, else dwarf
dwarf = ~giant
bad = []
def same(a, b):
    if a.dtype.kind == "f":
        return np.array_equal(np.isnan(a), np.isnan(b)) and np.array_equal(a[~np.isnan(a)], b[~np.isnan(b)])
    return np.array_equal(a, b)
cols = ["teff", "logg", "m_h", "alpha_m"]
for pre, single, on in (("cnn", pdm, dwarf), ("cnn_gm", pgm, giant)):
    names = [f"{pre}_{q}" for q in cols] + [f"e_{pre}_{q}" for q in cols] + \
            [f"e_{pre}_{q}_ens" for q in cols] + [f"{pre}_n_models", f"{pre}_rv", f"{pre}_rv_source"]
    for n in names:
        sn = n.replace(pre, "cnn", 1)
        a, b = c[n][:], single[sn][:]
        if not same(a[on], b[on]): bad.append(f"{n} != predict-cnn's {sn} on its rows")
        off = a[~on]
        if (off.dtype.kind == "f" and not np.all(np.isnan(off))) or (off.dtype.kind != "f" and np.any(off != 0)):
            bad.append(f"{n} not null on the other rows")
    flag = c["parameter_flag" if pre == "cnn" else "cnn_gm_parameter_flag"][:]
    if np.any(flag[~on] != 0): bad.append(pre + ": parameter_flag set on rows it did not apply to")
    g = methods.index(pre)
    bit = (c["methods_skipped"][:] >> g) & 1
    if not np.array_equal(bit == 1, ~on): bad.append(f"{pre}: methods_skipped bit {g} != not its rows")
reason = c["skip_reason"][:].astype(str)
if not (np.all(reason[giant] == "giant") and np.all(reason[dwarf] == "dwarf")): bad.append("skip_reason")
for q in cols:
    m = c[q + "_method"][:].astype(str)
    if np.any(m[giant] == "cnn") or np.any(m[dwarf] == "cnn_gm"):
        bad.append(q + "_method: an ensemble recommended on the other class's rows")
rec_gm = (c["teff_method"][:].astype(str) == "cnn_gm")
if not np.array_equal(c["teff"][:][rec_gm], c["cnn_gm_teff"][:][rec_gm]): bad.append("teff != cnn_gm_teff where recommended")
na = [int(x) for x in job.attrs["counts_not_applicable_per_method"]]
if na != [0, int(giant.sum()), int(dwarf.sum())]: bad.append(f"counts_not_applicable_per_method {na}")
pred_gm = int((c["cnn_gm_n_models"][:] > 0).sum()); pred_dm = int((c["cnn_n_models"][:] > 0).sum())
print(f"rows {len(giant)}: dwarfs {dwarf.sum()} (dM ensemble predicted {pred_dm}), giants {giant.sum()} "
      f"(gM ensemble predicted {pred_gm}); recommended teff from",
      dict(zip(*np.unique(c['teff_method'][:].astype(str), return_counts=True))))
if pred_gm == 0 or pred_dm == 0 or rec_gm.sum() == 0: bad.append("no row of one ensemble: the test proves nothing")
print("differ: " + "; ".join(bad) if bad else "all equal")
sys.exit(1 if bad else 0)
PY
check "dwarfs: the dM ensemble (== predict-cnn --model dM); giants: the gM ensemble (== predict-cnn --model gM); the other's columns null, skip_reason, recommended labels" \
  $py "$work/gm.py" "$work/j1.h5" "$work/pdM.h5" "$work/pgM.h5"
"$exe" export "$work/j1.h5" --format csv --out "$work/j1.csv" >/dev/null 2>&1
check "export writes the cnn_gm columns" sh -c "head -1 '$work/j1.csv' | tr ',' '\n' | grep -qx cnn_gm_teff"
"$exe" report "$work/j1.h5" --truth "$m/truth.csv" --out "$work/rep" >/dev/null 2>&1
check "report compares cnn_gm against the truth beside cnn" sh -c "grep -q '| Teff (K) | cnn_gm |' '$work/rep/summary.md' && grep -q '| Teff (K) | cnn |' '$work/rep/summary.md'"
same_across_ranks_and_resume "$work/j1.h5" 0.05 "${fm[@]}" "${all[@]}"
# refusals
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --methods lum,cnn_gm --out "$work/x.h5" >/dev/null 2>"$work/e1.txt"
check "cnn_gm without its model is refused, naming the option" grep -q "cnn_gm needs --cnn-gm-model" "$work/e1.txt"
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --methods lum,cnn_gm --cnn-gm-model "$work/dM.h5" \
  --out "$work/x.h5" >/dev/null 2>"$work/e2.txt"
check "a dM model as --cnn-gm-model is refused" grep -q "is a dM ensemble; --cnn-gm-model takes" "$work/e2.txt"
"${fm[@]}" --methods lum,cnn_gm --set run.giants_only= --set run.dwarfs_only=cnn_gm --out "$work/x.h5" >/dev/null 2>"$work/e3.txt"
check "cnn_gm in run.dwarfs_only is refused" grep -q "take it out of run.dwarfs_only" "$work/e3.txt"
"$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --methods lum,cnn --cnn-model "$work/gM.h5" \
  --out "$work/x.h5" >/dev/null 2>"$work/e4.txt"
check "a gM model for cnn on the dwarfs is refused" grep -q "give it to cnn_gm" "$work/e4.txt"
"${fm[@]}" --methods lum,cnn_gm --set run.dwarfs_only=cnn_gm --out "$work/x.h5" >/dev/null 2>"$work/e5.txt"
check "cnn_gm in both lists is refused" grep -q "both run.dwarfs_only" "$work/e5.txt"
check "refused runs wrote nothing" test ! -e "$work/x.h5" -a ! -e "$work/x.h5.journal"
finish
