#!/usr/bin/env bash
# test_demo.sh: the main job (jobs/demo.sh) end to end in seconds: the whole chain (simulate,
# ingest, train-emulator, fit, train-csn, rv, train-cnn, train-slam, build-library, ONE
# `fit --methods rv,z25,slam,cnn,laspm --reference calibration.csv` pass, report) on a tiny
# mock universe with tiny models (tests/cli/demo_tiny.cfg). Checks:
#   - every step ran and timing.txt lists it;
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

methods=lum,rv,cnn,slam,laspm
tmpl=${MSTARS_SHARED:-$root/../shared}/data/templates-kesseli2017
if [ ! -d "$tmpl" ] && ! python3 -c 'import os' 2>/dev/null; then
  echo "note: no Kesseli templates and no python3 for the fallback: the rv method is left out"
  methods=lum,cnn,slam,laspm
fi
export MSTARS_EXE="$exe" MSTARS_DEMO_NO_SETUP=1 MSTARS_DEMO_CONFIG="$root/tests/cli/demo_tiny.cfg"
export MSTARS_DEMO_METHODS=$methods MSTARS_TEMPLATES=$tmpl
export MSTARS_DEMO_CNN="--folds 2 --max-epochs 3 --patience 2"
export MSTARS_DEMO_SLAM="--search coordinate --cv-folds 2 --grid-c 1 --grid-epsilon 0.1 --grid-gamma auto"
out=$work/demo
if ! bash "$root/jobs/demo.sh" "$out" > "$work/demo.log" 2>&1; then
  echo "FAIL jobs/demo.sh; its log:"
  tail -n 40 "$work/demo.log"
  exit 1
fi
echo "ok   jobs/demo.sh ran ($(grep '^total' "$out/timing.txt"))"

for s in simulate ingest-grid ingest train-emulator fit-emulator train-csn train-cnn \
  train-slam build-library fit-methods report; do
  check "timing.txt lists $s" grep -q "^$s " "$out/timing.txt"
done
case ",$methods," in *,rv,*) check "timing.txt lists rv (the CNN's training frames)" grep -q "^rv " "$out/timing.txt" ;; esac

# the three label tables share no spectrum: no method is scored on a row it trained on
ids() { tail -n +2 "$1" | cut -d, -f"$2" | sort; }
oc=$(head -n 1 "$out/truth_test.csv" | tr , '\n' | grep -nx obsid | cut -d: -f1)
check "reference, calibration and judged spectra are disjoint and complete" [ \
  "$(cat <(ids "$out/reference.csv" 1) <(ids "$out/calibration.csv" 1) <(ids "$out/truth_test.csv" "$oc") | sort | uniq -d | wc -l)" -eq 0 -a \
  "$(cat <(ids "$out/reference.csv" 1) <(ids "$out/calibration.csv" 1) <(ids "$out/truth_test.csv" "$oc") | wc -l)" -eq \
  "$(($(wc -l < "$out/mock/truth.csv") - 1))" -a "$(($(wc -l < "$out/calibration.csv") - 1))" -gt 0 ]
ref=$(h5dump -a /error_reference "$out/combined.h5" 2>/dev/null | grep -o '"[^"]*"' | tail -n 1 | tr -d '"')
check "combined.h5 measured its error scales against calibration.csv (got: $ref)" \
  [ "$ref" = "$out/calibration.csv" ]
check "combined.h5 records the error scales" \
  sh -c "h5dump -a /catalog/e_teff/error_scales '$out/combined.h5' | grep -q 'z25:'"

# the combined catalog names every method (fit --methods runs them in its own order)
attr=$(h5dump -a /methods "$out/combined.h5" 2>/dev/null | grep -o '"[a-z0-9,]*"' | tail -n 1 | tr -d '"')
want=$(for m in lum rv z25 slam cnn laspm; do case ",z25,$methods," in *",$m,"*) printf '%s,' $m ;; esac; done)
want=${want%,}
check "combined.h5 holds the methods $want (got: $attr)" [ "$attr" = "$want" ]
# lum routes the rows: its luminosity_class and the survey group's skip_reason are there
for c in luminosity_class lum_reason methods_skipped skip_reason; do
  check "combined.h5 has /catalog/$c" sh -c "h5ls '$out/combined.h5/catalog' | grep -q '^$c '"
done

sm=$out/report/summary.md
check "summary.md exists" [ -s "$sm" ]
check "summary.md opens on the overview" [ "$(head -n 1 "$sm")" = "# Overview: what to look at" ]
# the verdict "as good as the best?" and the warnings agree: a "**no**" row of the recommended
# labels table iff a "worse than ... (bootstrap sd)" warning for that quantity
nno=$(sed -n '/^### Recommended labels against each method/,/^### Disagreement/p' "$sm" | grep -c '| \*\*no\*\* |$')
nwarn=$(grep -c 'the recommended labels are worse than .*bootstrap sd' "$sm")
check "recommended verdicts (${nno} no) match their warnings (${nwarn}), judged by the bootstrap" \
  sh -c "[ $nno -eq 0 -a $nwarn -eq 0 ] || [ $nno -gt 0 -a $nwarn -ge $nno ]"
for sec in "### Warnings" "### Recovery against the table, per S/N" "### Cycle-StarNet" \
  "### Recommended labels against each method" "### Disagreement flag" "# mstars report"; do
  check "summary.md has \"$sec\"" grep -qF "$sec" "$sm"
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
