#!/usr/bin/env bash
# test_demo.sh: the main job (jobs/demo.sh) end to end in seconds: the whole chain (simulate,
# ingest, train-emulator, fit, train-csn, rv, train-cnn, train-slam, build-library, the
# classifiers' universe and train-classifier x3, ONE `fit --methods class,lum,rv,z25,slam,cnn,
# laspm --reference calibration.csv` pass, report) on a tiny mock universe with a quarter of
# contaminants (M giants, WDs, A/G/K stars, QSOs) and tiny models (tests/cli/demo_tiny.cfg). Checks:
#   - every step ran and timing.txt lists it;
#   - the classifiers' training universe holds none of the demo's objects (positions), and the
#     reference and held-out tables hold M dwarfs only;
#   - the class and lum columns exist; the routing follows them: the route recomputed from
#     class_flags and lum_code (README's rule) equals skip_reason wherever a method was skipped,
#     and z25, cnn, slam, laspm (demo_tiny.cfg's run.dwarfs_only) ran exactly on the rows routed
#     as dwarfs (their columns null elsewhere), with rows of both kinds;
#   - the report's classification section (route against the truth classes, CNN-SPT's
#     confusion, rows per method), and the labels judged on the true M dwarfs only;
#   - the training, held-out (calibration.csv) and judged (truth_test.csv) spectra are
#     disjoint, and the combined catalog records the held-out table as its error reference;
#   - the combined catalog names every method (root attribute "methods");
#   - summary.md OPENS on the overview, whose recovery table has a row for every method, the
#     baseline without CSN and the recommended labels, and which has the Cycle-StarNet, the
#     recommended-against-methods and the disagreement-flag sections and the warnings;
#   - overview.json has every series with numbers, the CSN residuals and the flag statistics;
#   - a second run into the same folder replaces it; a foreign non-empty folder is refused.
# The RV step uses ../shared's Kesseli templates when present, else the documented fallback
# (templates from the mock grid; needs python3: without it the test drops the rv method).
set -u
exe=${MSTARS_EXE:?}
root=${MSTARS_SOURCE_ROOT:?}
work=$(mktemp -d)
trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }

methods=class,lum,rv,cnn,slam,laspm
tmpl=${MSTARS_SHARED:-$root/../shared}/data/templates-kesseli2017
if [ ! -d "$tmpl" ] && ! python3 -c 'import os' 2>/dev/null; then
  echo "note: no Kesseli templates and no python3 for the fallback: the rv method is left out"
  methods=class,lum,cnn,slam,laspm
fi
export MSTARS_EXE="$exe" MSTARS_DEMO_NO_SETUP=1 MSTARS_DEMO_CONFIG="$root/tests/cli/demo_tiny.cfg"
export MSTARS_DEMO_METHODS=$methods MSTARS_TEMPLATES=$tmpl
export MSTARS_DEMO_CNN="--folds 2 --max-epochs 3 --patience 2"
export MSTARS_DEMO_SLAM="--search coordinate --cv-folds 2 --grid-c 1 --grid-epsilon 0.1 --grid-gamma auto"
# classifiers good enough that the tiny mock has rows of every route (about 10 CPU seconds)
export MSTARS_DEMO_CLASS_STARS=300 MSTARS_DEMO_CLASSIFIER="--max-epochs 12 --patience 4"
out=$work/demo
if ! bash "$root/jobs/demo.sh" "$out" > "$work/demo.log" 2>&1; then
  echo "FAIL jobs/demo.sh; its log:"
  tail -n 40 "$work/demo.log"
  exit 1
fi
echo "ok   jobs/demo.sh ran ($(grep '^total' "$out/timing.txt"))"

for s in simulate ingest-grid ingest train-emulator fit-emulator train-csn train-cnn \
  train-slam build-library simulate-classes ingest-classes train-spt train-wdm train-dmgm \
  fit-methods report; do
  check "timing.txt lists $s" grep -q "^$s " "$out/timing.txt"
done
case ",$methods," in *,rv,*) check "timing.txt lists rv (the CNN's training frames)" grep -q "^rv " "$out/timing.txt" ;; esac

# the three label tables share no spectrum: no method is scored on a row it trained on; together
# they hold every M dwarf of the mock and the judged share's other objects
ids() { tail -n +2 "$1" | cut -d, -f"$2" | sort; }
oc=$(head -n 1 "$out/truth_test.csv" | tr , '\n' | grep -nx obsid | cut -d: -f1)
kc=$(head -n 1 "$out/truth_test.csv" | tr , '\n' | grep -nx kind | cut -d: -f1)
n_want=$(( $(tail -n +2 "$out/mock/truth.csv" | cut -d, -f"$kc" | grep -cx mdwarf) +
           $(tail -n +2 "$out/truth_test.csv" | cut -d, -f"$kc" | grep -vcx mdwarf) ))
check "reference, calibration and judged spectra are disjoint and complete" [ \
  "$(cat <(ids "$out/reference.csv" 1) <(ids "$out/calibration.csv" 1) <(ids "$out/truth_test.csv" "$oc") | sort | uniq -d | wc -l)" -eq 0 -a \
  "$(cat <(ids "$out/reference.csv" 1) <(ids "$out/calibration.csv" 1) <(ids "$out/truth_test.csv" "$oc") | wc -l)" -eq \
  "$n_want" -a "$(($(wc -l < "$out/calibration.csv") - 1))" -gt 0 ]
ref=$(h5dump -a /error_reference "$out/combined.h5" 2>/dev/null | grep -o '"[^"]*"' | tail -n 1 | tr -d '"')
check "combined.h5 measured its error scales against calibration.csv (got: $ref)" \
  [ "$ref" = "$out/calibration.csv" ]
check "combined.h5 records the error scales" \
  sh -c "h5dump -a /catalog/e_teff/error_scales '$out/combined.h5' | grep -q 'z25:'"

# the M-dwarf methods learn M dwarfs only: the reference and held-out tables have no other kind
mdwarf_only() { awk -F, -v tab="$1" 'NR == FNR { if (FNR == 1) { for (i = 1; i <= NF; i++) c[$i] = i; next }
  kind[$c["obsid"]] = $c["kind"]; next } FNR > 1 && kind[$1] != "mdwarf" { bad++ }
  END { exit bad > 0 }' "$out/mock/truth.csv" "$1"; }
check "reference.csv holds M dwarfs only" mdwarf_only "$out/reference.csv"
check "calibration.csv holds M dwarfs only" mdwarf_only "$out/calibration.csv"
check "the judged table has contaminants" awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
  $c["kind"] != "mdwarf" { n++ } END { exit !(n > 0) }' "$out/truth_test.csv"
# the classifiers trained on a universe of their own: none of its objects is a demo object
pos() { awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next } { print $c["ra"] "," $c["dec"] }' "$1" | sort -u; }
check "the classifiers' universe shares no object with the demo mock (positions)" \
  [ -s "$out/mock_classes/truth.csv" -a "$(comm -12 <(pos "$out/mock/truth.csv") <(pos "$out/mock_classes/truth.csv") | wc -l)" -eq 0 ]

# the combined catalog names every method (fit --methods runs them in its own order)
attr=$(h5dump -a /methods "$out/combined.h5" 2>/dev/null | grep -o '"[a-z0-9,]*"' | tail -n 1 | tr -d '"')
want=$(for m in class lum rv z25 slam cnn laspm; do case ",z25,$methods," in *",$m,"*) printf '%s,' $m ;; esac; done)
want=${want%,}
check "combined.h5 holds the methods $want (got: $attr)" [ "$attr" = "$want" ]
# class and lum route the rows: their columns and the survey group's skip_reason are there
for c in class class_prob wd_prob dmgm_prob class_flags class_reason luminosity_class lum_code \
  lum_reason methods_skipped skip_reason; do
  check "combined.h5 has /catalog/$c" sh -c "h5ls '$out/combined.h5/catalog' | grep -q '^$c '"
done
# the checks that read the catalog need h5py: Debian's python3 has it (PREAMBLE), pyenv's may not
pyh5=/usr/bin/python3
[ -x "$pyh5" ] && "$pyh5" -c 'import h5py, numpy' 2>/dev/null || pyh5=python3
"$pyh5" -c 'import h5py, numpy' 2>/dev/null || { pyh5=; echo "note: no python3 with h5py: the routing checks are left out"; }
if [ -n "$pyh5" ]; then
  check "the routing follows the class columns; z25, cnn, slam, laspm ran on the dwarfs only" "$pyh5" - "$out/combined.h5" <<'PY'
import sys, h5py, numpy as np
h = h5py.File(sys.argv[1], "r"); c = h["catalog"]
methods = h.attrs["methods"]; methods = (methods.decode() if isinstance(methods, bytes) else str(methods)).split(",")
f = c["class_flags"][:].astype(np.int64); lum = c["lum_code"][:]
# README "Classification inside fit --methods", recomputed here
route = np.where(f & 1, "unclassified", np.where(f & 4, "non-M", np.where(f & 8, "white dwarf",
                 np.where(f & 16, "giant", "dwarf")))).astype(object)
m = (route == "dwarf") | (route == "giant")
route[m & (lum == 2)] = "giant"; route[m & (lum == 1)] = "dwarf"
skipped = c["methods_skipped"][:]; reason = c["skip_reason"][:].astype(str)
ok = True
for g, name in enumerate(methods):
    bit = ((skipped >> g) & 1).astype(bool)
    want = route != "dwarf" if name in ("z25", "cnn", "slam", "laspm") else np.zeros(len(route), bool)
    if not np.array_equal(bit, want):
        print(name, "skipped on", bit.sum(), "rows; the route says", want.sum()); ok = False
ok &= bool(np.all(reason[skipped != 0] == route[skipped != 0].astype(str)))
ok &= bool(np.all(np.isnan(c["z25_teff"][:][route != "dwarf"])))
ok &= bool(np.all(c["cnn_n_models"][:][route != "dwarf"] == 0))
u, n = np.unique(route.astype(str), return_counts=True)
print("routes", dict(zip(u, n)))
sys.exit(0 if ok and (route == "dwarf").sum() > 0 and (route != "dwarf").sum() > 0 else 1)
PY
fi

sm=$out/report/summary.md
check "summary.md exists" [ -s "$sm" ]
check "summary.md opens on the overview" [ "$(head -n 1 "$sm")" = "# Overview: what to look at" ]
# the verdict "as good as the best?" and the warnings agree: a "**no**" row of the recommended
# labels table iff a "worse than ... (bootstrap sd)" warning for that quantity
nno=$(sed -n '/^### Recommended labels against each method/,/^### Disagreement/p' "$sm" | grep -c '| \*\*no\*\* |$')
nwarn=$(grep -c 'the recommended labels are worse than .*bootstrap sd' "$sm")
check "recommended verdicts (${nno} no) match their warnings (${nwarn}), judged by the bootstrap" \
  sh -c "[ $nno -eq 0 -a $nwarn -eq 0 ] || [ $nno -gt 0 -a $nwarn -ge $nno ]"
for sec in "### Warnings" "### Recovery against the table, per S/N" "### Classification and routing" \
  "| true \\ route | dwarf | giant | white dwarf | non-M | unclassified |" "| true \\ CNN-SPT |" \
  "- route right (M dwarf, M giant, white dwarf, non-M): " "### Cycle-StarNet" \
  "### Recommended labels against each method" "### Disagreement flag" "# mstars report"; do
  check "summary.md has \"$sec\"" grep -qF -- "$sec" "$sm"
done
# the recovery table: a Teff row for the baseline, every method (z25 with CSN) and the
# recommended labels
for m in "z25 without CSN (baseline)" "z25 (with CSN)" cnn slam laspm "**recommended**"; do
  check "overview Teff row for $m" grep -qF "| Teff (K) | $m |" "$sm"
done
case ",$methods," in *,rv,*) check "overview RV row for rv" grep -qF "| RV (km/s) | rv |" "$sm" ;; esac
check "the CSN residuals with and without" grep -q "Mean \\\\|F_obs - F_model\\\\| / sigma: [0-9.]* without, [0-9.]* with" "$sm"

if python3 -c 'import json' 2>/dev/null; then
  py() { python3 -c "import json, sys; s = json.load(open(sys.argv[1])); $1" "$out/report/overview.json"; }
  check "overview.json: every series has Teff numbers" py "
names = ['z25 without CSN (baseline)', 'z25 (with CSN)', 'cnn', 'slam', 'laspm', 'recommended']
assert all(len(s['series'][k]['teff']['by_snr']) == 4 for k in names), s['series'].keys()
# the tiny emulator leaves few clean z25 rows; the label-transfer methods and the
# recommended labels must have numbers
assert all(s['series'][k]['teff']['n'] > 0 for k in names[2:]), s['series']"
  # the classification against the truth classes; the labels judged on the true M dwarfs only
  # (rv runs on every row, so its rows would count the contaminants if they were judged)
  read -r nj nj_md < <(sed -n 's/.*judged: \([0-9]*\) spectra, \([0-9]*\) of them M dwarfs.*/\1 \2/p' "$out/timing.txt")
  check "overview.json: classification of the $nj judged rows, rows per method" py "
c = s['classification']
assert c['judged'] == $nj and c['route_accuracy']['n'] == $nj, c
assert 0 <= c['route_accuracy']['wilson95_lo'] <= c['route_accuracy']['fraction'] <= c['route_accuracy']['wilson95_hi'] <= 1
assert c['spt_accuracy']['n'] > 0 and c['mdwarf_completeness']['n'] == $nj_md
assert c['methods']['z25']['ran'] == c['routed']['dwarf'] and c['methods']['lum']['ran'] == sum(c['routed'].values())
assert c['skip_reason_mismatch'] == 0"
  [ -n "$pyh5" ] &&
  check "overview.json: the route confusion and CNN-SPT accuracy recomputed from the catalog and truth_test.csv" \
    "$pyh5" - "$out/combined.h5" "$out/truth_test.csv" "$out/report/overview.json" <<'PY'
import csv, json, sys, h5py, numpy as np
c = h5py.File(sys.argv[1], "r")["catalog"]
truth = {r["obsid"]: r for r in csv.DictReader(open(sys.argv[2]))}
ov = json.load(open(sys.argv[3]))["classification"]
f = c["class_flags"][:].astype(np.int64); lum = c["lum_code"][:]; code = c["class_code"][:]
obsid = c["obsid"][:].astype(str)
routes = ["dwarf", "giant", "white dwarf", "non-M", "unclassified"]
groups = ["M dwarf", "M giant", "white dwarf", "non-M"]
spt = ["OB", "A", "F", "G", "K", "M", "GALAXY", "QSO"]
conf = np.zeros((4, 5), int); k = n = 0
for i in range(len(f)):
    t = truth.get(obsid[i])
    if t is None: continue
    if f[i] & 1: r = 4
    elif f[i] & 4: r = 3
    elif f[i] & 8: r = 2
    elif lum[i] == 2: r = 1
    elif lum[i] == 1: r = 0
    else: r = 1 if f[i] & 16 else 0
    g = 2 if t["is_wd"] == "1" else 3 if t["spt_class"] != "M" else 1 if t["lum_class"] == "giant" else 0
    conf[g, r] += 1
    if code[i] >= 0: n += 1; k += spt[code[i]] == t["spt_class"]
want = np.array([ov["confusion_route"][g] for g in groups])
print("route confusion", conf.tolist(), "CNN-SPT", k, "of", n)
sys.exit(0 if np.array_equal(conf, want) and ov["spt_accuracy"]["k"] == k and ov["spt_accuracy"]["n"] == n else 1)
PY
  case ",$methods," in *,rv,*)
    check "the labels are judged on the $nj_md judged M dwarfs only (rv runs on all $nj)" py "
n = s['series']['rv']['rv']['n']; assert 0 < n <= $nj_md < $nj, n" ;;
  esac
  check "overview.json: CSN residuals and flag statistics" py "
assert s['csn']['resid_with'] > 0 and s['csn']['resid_without'] > 0
assert set(s['flag']) == {'teff', 'logg', 'm_h', 'alpha_m', 'rv'}
assert all('precision' in v and 'base_rate' in v for v in s['flag'].values())
assert isinstance(s['warnings'], list)"
fi

# a second run replaces the folder it made; a foreign folder with files is refused
MSTARS_DEMO_METHODS=laspm bash "$root/jobs/demo.sh" "$out" > "$work/demo2.log" 2>&1
rc=$?
check "a second run replaces the demo folder" [ "$rc" -eq 0 -a ! -e "$out/cnn_dM.h5" -a -s "$out/report/summary.md" ]
mkdir -p "$work/foreign" && touch "$work/foreign/keep"
bash "$root/jobs/demo.sh" "$work/foreign" > "$work/demo3.log" 2>&1
rc=$?
check "a foreign non-empty folder is refused" [ "$rc" -ne 0 -a -e "$work/foreign/keep" ]

[ "$fails" -eq 0 ] && echo "all demo checks passed" || echo "$fails check(s) failed"
[ "$fails" -eq 0 ]
