#!/usr/bin/env bash
# test_report_cli.sh: `mstars report` end to end on a tiny fitted mock universe:
#   - with --truth: exit 0, every figure listed in summary.json is a valid PNG of sensible
#     size, summary.json parses and has the keys the README promises, the counts add up
#     (input = catalog rows = fitted + failed + skipped; fitted = rows with a Teff in the
#     exported catalog), recovery.teff.n = fitted rows whose obsid is in the truth;
#   - a FITS reference (the catalog's own export): bias and scatter 0 for every label;
#   - without --truth, or without the emulator file: exit 0, the numbers null, the page
#     says why, the figures that need them absent;
#   - after calibrate-errors: the precision figure and precision_vs_snr numbers; --calibrated
#     with the <p>_cal labels of --zero-point (named on the page and in the JSON, Teff bias
#     against the truth ~0) and refused without them;
#   - an unfinished catalog is refused.
# summary.json is read with python3's json module (checks skipped without python3).
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=150
      --set simulate.repeat_fraction=1
      --set simulate.grid_teff=3000,3600,200 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set emulator.hidden=32 --set emulator.epochs=30
      --set run.chunk_size=16 --set fit.presearch_points=64 --log-level warn)
mock_fit_inputs
mpi 2 "$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" \
  --out "$work/cat.h5" >/dev/null || { echo "FAIL preparing the catalog"; exit 1; }

have_py=0
python3 -c 'import json' 2>/dev/null && have_py=1
# json FILE EXPR: print a Python expression over the parsed summary `s`
json() { python3 -c "import json, sys; s = json.load(open(sys.argv[1])); print($2)" "$1"; }
# every figure listed in summary.json: a PNG (signature) of more than 10 kB
pngs_ok() {
  local dir=$1 f n=0
  for f in $(json "$dir/summary.json" '" ".join(s["figures"].values())'); do
    [ "$(head -c 8 "$dir/$f" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] || return 1
    [ "$(stat -c %s "$dir/$f")" -gt 10000 ] || return 1
    n=$((n + 1))
  done
  [ "$n" -ge "${2:-1}" ]
}

# ---- with the truth
r=$work/report
"$exe" report "$work/cat.h5" --truth "$m/truth.csv" --out "$r" --log-level warn >"$work/r.log" 2>&1
check "report --truth exits 0" test $? -eq 0
check "summary.md and summary.json written" test -s "$r/summary.md" -a -s "$r/summary.json"
for f in kiel hr recovery recovery_snr emulator_accuracy spt_subclass; do
  check "figure $f.png is a PNG" sh -c "head -c 4 '$r/$f.png' | grep -q PNG"
done
"$exe" export "$work/cat.h5" --format csv --out "$work/cat.csv" --log-level warn
col() { head -1 "$1" | tr ',' '\n' | grep -nx "$2" | cut -d: -f1; }
rows=$(($(wc -l <"$work/cat.csv") - 1))
tc=$(col "$work/cat.csv" teff)
oc=$(col "$work/cat.csv" obsid)
fitted=$(awk -F, -v c="$tc" 'NR > 1 && $c != "" { n++ } END { print n + 0 }' "$work/cat.csv")
# fitted rows whose obsid is in the truth (column obsid of truth.csv)
toc=$(col "$m/truth.csv" obsid)
matched=$(awk -F, -v t="$toc" -v o="$oc" -v c="$tc" 'FNR == NR { if (FNR > 1) in_truth[$t] = 1; next }
  FNR > 1 && $c != "" && ($o in in_truth) { n++ } END { print n + 0 }' "$m/truth.csv" "$work/cat.csv")
if [ $have_py = 1 ]; then
  check "summary.json parses" python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$r/summary.json"
  check "every listed figure is a valid PNG over 10 kB (at least 6)" pngs_ok "$r" 6
  check "summary.json has the README keys" python3 - "$r/summary.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
c = s["counts"]
assert all(isinstance(c[k], int) for k in ("input", "fitted", "flagged"))
assert isinstance(c["flag_reasons"], dict) and c["flag_reasons"]
for p in ("teff", "logg", "m_h", "alpha_m", "rv"):
    r = s["recovery"][p]
    for k in ("n", "bias", "scatter"): assert k in r, (p, k)
    bins = r["by_snr"]
    assert [(b["snr_min"], b["snr_max"]) for b in bins] == [(5, 10), (10, 20), (20, 50), (50, None)]
    for b in bins:
        for k in ("n", "bias", "scatter"): assert k in b
    for k in ("a", "b"): assert k in s["precision_vs_snr"][p]
for k in ("with_csn", "without_csn"): assert k in s["residual_over_sigma"]
for k in ("eq1_median", "eq1_max"): assert k in s["emulator"]
PY
  check "counts.input = catalog rows ($rows)" test "$(json "$r/summary.json" 's["counts"]["input"]')" = "$rows"
  check "counts.fitted = rows with a Teff ($fitted)" test "$(json "$r/summary.json" 's["counts"]["fitted"]')" = "$fitted"
  check "fitted + failed + skipped = input" test "$(json "$r/summary.json" \
    'sum(s["counts"][k] for k in ("fitted", "failed", "skipped")) == s["counts"]["input"]')" = True
  check "flagged <= input, every reason count <= input" test "$(json "$r/summary.json" \
    's["counts"]["flagged"] <= s["counts"]["input"] and max(s["counts"]["flag_reasons"].values()) <= s["counts"]["input"]')" = True
  check "recovery.teff.n = fitted rows matched to the truth ($matched)" \
    test "$(json "$r/summary.json" 's["recovery"]["teff"]["n"]')" = "$matched"
  check "recovery by S/N: bins hold at most recovery.teff.n rows" test "$(json "$r/summary.json" \
    'sum(b["n"] for b in s["recovery"]["teff"]["by_snr"]) <= s["recovery"]["teff"]["n"]')" = True
  check "emulator.eq1_median from the catalog's emulator" test "$(json "$r/summary.json" \
    '0 < s["emulator"]["eq1_median"] <= s["emulator"]["eq1_max"]')" = True
  check "Teff bias against the truth is finite" test "$(json "$r/summary.json" \
    'isinstance(s["recovery"]["teff"]["bias"], (int, float))')" = True
else
  echo "MSTARS_SKIP json-checks: no python3"
fi
check "the page lists the counts" grep -q "| input (catalog rows) | $rows |" "$r/summary.md"

# ---- a FITS reference: the catalog's own export (every difference 0)
"$exe" export "$work/cat.h5" --format fits --out "$work/cat.fits" --log-level warn
"$exe" report "$work/cat.h5" --reference "$work/cat.fits" --out "$work/ref" --log-level warn >/dev/null 2>&1
check "report --reference FITS exits 0" test $? -eq 0
if [ $have_py = 1 ]; then
  check "the catalog against itself: n = fitted, bias 0, scatter 0" test "$(json "$work/ref/summary.json" \
    'all(s["recovery"][p]["n"] == s["counts"]["fitted"] and s["recovery"][p]["bias"] == 0 and s["recovery"][p]["scatter"] == 0 for p in ("teff", "logg", "m_h", "rv"))')" = True
fi

# ---- no truth, no emulator: graceful
mv "$work/emu.h5" "$work/emu-moved.h5"
"$exe" report "$work/cat.h5" --out "$work/bare" --log-level warn >/dev/null 2>&1
check "report without --truth and without the emulator file exits 0" test $? -eq 0
check "no recovery figure without a table" test ! -e "$work/bare/recovery.png"
check "no emulator map without the emulator file" test ! -e "$work/bare/emulator_accuracy.png"
check "the page says why" sh -c "grep -q 'no --truth or --reference' '$work/bare/summary.md' &&
  grep -q 'emu.h5 is not readable' '$work/bare/summary.md'"
if [ $have_py = 1 ]; then
  check "recovery and emulator numbers null" test "$(json "$work/bare/summary.json" \
    's["recovery"]["teff"]["n"] == 0 and s["recovery"]["teff"]["bias"] is None and s["emulator"]["eq1_median"] is None')" = True
  check "figures still drawn: Kiel, HR, SpT" pngs_ok "$work/bare" 3
fi
"$exe" report "$work/cat.h5" --emulator "$work/emu-moved.h5" --out "$work/emu" --log-level warn >/dev/null 2>&1
check "--emulator FILE gives the accuracy map" test -s "$work/emu/emulator_accuracy.png"
"$exe" report "$work/cat.h5" --truth "$work/nonexistent.csv" --out "$work/x" --log-level warn 2>"$work/err.txt"
check "a missing --truth file: non-zero exit naming it" sh -c "[ $? -ne 0 ] && grep -q nonexistent.csv '$work/err.txt'"
mv "$work/emu-moved.h5" "$work/emu.h5"

# ---- after calibrate-errors (when the command exists)
if "$exe" help 2>/dev/null | grep -q calibrate-errors; then
  cp "$work/cat.h5" "$work/cal.h5"
  if "$exe" calibrate-errors --catalog "$work/cal.h5" --min-per-bin 2 --log-level warn >/dev/null 2>&1; then
    "$exe" report "$work/cal.h5" --out "$work/cal" --log-level warn >/dev/null 2>&1
    check "report after calibrate-errors exits 0" test $? -eq 0
    check "precision figure drawn" sh -c "head -c 4 '$work/cal/precision_snr.png' | grep -q PNG"
    [ $have_py = 1 ] && check "precision_vs_snr.teff.{a,b} from the catalog" test "$(json "$work/cal/summary.json" \
      'all(isinstance(s["precision_vs_snr"]["teff"][k], (int, float)) for k in ("a", "b"))')" = True
  else
    echo "MSTARS_SKIP precision-checks: calibrate-errors failed on this tiny catalog"
  fi
  # --calibrated: the labels on the zero point of a reference (here the truth itself, all stars)
  cp "$work/cat.h5" "$work/zp.h5"
  if "$exe" calibrate-errors --catalog "$work/zp.h5" --min-per-bin 2 --reference "$m/truth.csv" \
       --zero-point --log-level warn >/dev/null 2>&1; then
    "$exe" report "$work/zp.h5" --truth "$m/truth.csv" --calibrated --out "$work/zpr" --log-level warn >/dev/null 2>&1
    check "report --calibrated exits 0" test $? -eq 0
    check "the page names the calibrated labels" grep -q "labels on the reference's zero point.*teff" "$work/zpr/summary.md"
    if [ $have_py = 1 ]; then
      "$exe" report "$work/zp.h5" --truth "$m/truth.csv" --out "$work/zpraw" --log-level warn >/dev/null 2>&1
      check "summary.json lists calibrated_labels" test "$(json "$work/zpr/summary.json" \
        '"teff" in s["calibrated_labels"].split(",")')" = True
      # the zero point is the clipped mean of fit - truth over the same rows: the recovered
      # bias is ~0 (clipping aside), and smaller than the raw labels' unless that was ~0 too
      check "--calibrated: |Teff bias| against the truth < 1 K, and <= the raw one" python3 - \
        "$work/zpr/summary.json" "$work/zpraw/summary.json" <<'PY'
import json, sys
cal, raw = (json.load(open(p))["recovery"]["teff"]["bias"] for p in sys.argv[1:3])
print("Teff bias raw %.3f, calibrated %.3f" % (raw, cal))
sys.exit(0 if abs(cal) < 1.0 and abs(cal) <= abs(raw) + 1e-9 else 1)
PY
    fi
  else
    echo "FAIL calibrate-errors --zero-point on the report catalog"; fails=$((fails + 1))
  fi
  "$exe" report "$work/cat.h5" --calibrated --out "$work/nocal" --log-level warn 2>"$work/err.txt"
  check "--calibrated without <p>_cal columns: refused, saying what to run" sh -c \
    "[ $? -ne 0 ] && grep -q 'zero-point first' '$work/err.txt' && test ! -e '$work/nocal/summary.json'"
fi

# ---- unfinished catalogs are refused
mpi 1 "$exe" fit "${opts[@]}" --spectra "$work/spectra.h5" --emulator "$work/emu.h5" \
  --out "$work/stopped.h5" --max-runtime 0.0001 >/dev/null 2>&1
if [ -e "$work/stopped.h5.partial" ]; then
  cp "$work/stopped.h5.partial" "$work/incomplete.h5"
  "$exe" report "$work/incomplete.h5" --out "$work/inc" --log-level warn 2>"$work/err.txt"
  check "an unfinished catalog is refused" sh -c "[ $? -ne 0 ] && grep -q incomplete '$work/err.txt'"
  check "nothing written for it" test ! -e "$work/inc/summary.json"
else
  echo "FAIL the stopped fit left no partial catalog"; fails=$((fails + 1))
fi
finish
