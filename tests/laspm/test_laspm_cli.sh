#!/usr/bin/env bash
# test_laspm_cli.sh: `mstars build-library`, `mstars laspm` and `mstars precision` end to end on
# a tiny mock universe:
#   - build-library from two label tables (the truth of the even stars, one table shifted by
#     +200 K) and a reference (the truth): the shift is found and removed (the curation record
#     holds the offset), the library has spectra, every step's count is recorded;
#   - laspm on every spectrum with 1 and 2 ranks and chunks of 7 or 3: identical catalogs; the
#     test (odd) stars' Teff within 250 K of the truth for >= 80% of usable spectra;
#   - --leave-out-self: no library spectrum of a spectrum's own star among its five ids;
#   - --max-runtime stops with journals, --resume completes equal to the uninterrupted run;
#   - a library on another wavelength grid is refused with a message naming both files;
#   - precision prints Du's epsilon table for the laspm columns;
#   - combine reads a laspm catalog through the schema's answer table.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=160 --set run.chunk_size=7
      --log-level warn)
mpi 2 "$exe" simulate "${opts[@]}" --survey-only --out "$m" >/dev/null &&
mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$m/input_catalog.csv" \
  --out "$work/spectra.h5" >/dev/null || { echo "FAIL preparing the inputs"; exit 1; }
col() { head -1 "$m/truth.csv" | tr ',' '\n' | grep -n "^$1\$" | cut -d: -f1; }
o=$(col obsid); s=$(col star_id); t=$(col teff); g=$(col logg); z=$(col m_h); q=$(col pathology)
# labels of the even stars: table a (+200 K), table b (truth); the reference: truth
awk -F, -v o="$o" -v s="$s" -v t="$t" -v g="$g" -v z="$z" -v q="$q" 'NR == 1 { print "obsid,teff,logg,m_h" > A;
  print "obsid,teff,logg,m_h" > B; print "obsid,teff,logg,m_h" > R; next }
  $q == "none" { print $o "," $t "," $g "," $z > R; if ($s % 2 == 0) { print $o "," $t + 200 "," $g "," $z > A;
  print $o "," $t "," $g "," $z > B } }' A="$work/a.csv" B="$work/b.csv" R="$work/ref.csv" "$m/truth.csv"
"$exe" build-library "${opts[@]}" --spectra "$work/spectra.h5" --labels "a=$work/a.csv,b=$work/b.csv" \
  --reference "$work/ref.csv" --nn-steps 40 --nn-rounds 2 --out "$work/lib.h5" > "$work/build.log" 2>&1
check "build-library exits 0" test $? -eq 0
dump() { h5dump -A 0 -y -w 0 -d "$2" "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | sed 's/\\000//g' | tr -d ' "' | tr ',' '\n' | grep -v '^$'; }
paste <(dump "$work/lib.h5" /curation/step) <(dump "$work/lib.h5" /curation/count) > "$work/steps.txt"
check "the library records the steps" grep -q "^bins_without_cluster_dropped" "$work/steps.txt"
check "the +200 K shift of table a is found (offset within 1 K)" awk '$1 == "offset_x1e4:a:teff" {
  ok = ($2 > -2010000 && $2 < -1990000) } END { exit !ok }' "$work/steps.txt"
check "the library has spectra" awk '$1 == "library" { ok = $2 > 10 } END { exit !ok }' "$work/steps.txt"

run=("$exe" laspm "${opts[@]}" --spectra "$work/spectra.h5" --library "$work/lib.h5")
for n in 1 2; do
  mpi "$n" "${run[@]}" --out "$work/cat$n.h5" >/dev/null
  check "laspm with $n rank(s) exits 0" test $? -eq 0
done
check "catalog with 2 ranks == 1 rank (bit for bit)" h5diff -q "$work/cat1.h5" "$work/cat2.h5" /catalog /catalog
"${run[@]}" --set run.chunk_size=3 --out "$work/chunk3.h5" >/dev/null
check "catalog with chunks of 3 == chunks of 7 (bit for bit)" h5diff -q "$work/cat1.h5" "$work/chunk3.h5" /catalog /catalog
paste <(dump "$work/cat1.h5" /catalog/store_status) <(dump "$work/cat1.h5" /catalog/laspm_teff) \
      <(tail -n +2 "$m/truth.csv" | cut -d, -f"$t") <(tail -n +2 "$m/truth.csv" | cut -d, -f"$s") > "$work/teff.txt"
check "odd (test) stars: Teff within 250 K of the truth for >= 80%" awk '$1 == 0 && $4 % 2 == 1 { n++;
  d = $2 - $3; ok += (d < 250 && d > -250) } END { exit !(n > 10 && ok / n >= 0.8) }' "$work/teff.txt"

mpi 2 "${run[@]}" --out "$work/loo.h5" --leave-out-self >/dev/null
check "--leave-out-self exits 0" test $? -eq 0
paste <(dump "$work/loo.h5" /catalog/source_id) <(dump "$work/loo.h5" /catalog/laspm_id1) \
      <(dump "$work/loo.h5" /catalog/laspm_id5) > "$work/ids.txt"
check "--leave-out-self: no spectrum matched to its own star" awk '$1 >= 0 && ($1 == $2 || $1 == $3) { bad++ }
  END { exit bad > 0 }' "$work/ids.txt"

mpi 2 "${run[@]}" --out "$work/limited.h5" --max-runtime 0.0001 >/dev/null
check "--max-runtime: exit 0 with journals and no catalog" test ! -e "$work/limited.h5" -a -d "$work/limited.h5.journal"
mpi 2 "${run[@]}" --out "$work/limited.h5" --resume >/dev/null
check "--resume completes" test -e "$work/limited.h5" -a ! -e "$work/limited.h5.journal"
check "--resume == uninterrupted run" h5diff -q "$work/cat1.h5" "$work/limited.h5" /catalog /catalog

"$exe" ingest "${opts[@]}" --set preprocess.wave_max=8800 --spectra "$m/spectra.lst" --out "$work/other.h5" >/dev/null 2>&1
"$exe" laspm "${opts[@]}" --spectra "$work/other.h5" --library "$work/lib.h5" --out "$work/bad.h5" > "$work/bad.log" 2>&1
check "a library on another grid is refused" test $? -ne 0
check "the message names the library" grep -q "lib.h5" "$work/bad.log"

"$exe" combine --catalogs "$work/cat1.h5" --out "$work/comb.h5" --log-level warn
check "combine takes a laspm catalog (its columns kept by name)" h5diff -q "$work/comb.h5" "$work/cat1.h5" \
  /catalog/laspm_teff /catalog/laspm_teff
check "combine: the recommended Teff is laspm's" cmp -s <(dump "$work/comb.h5" /catalog/teff) <(dump "$work/cat1.h5" /catalog/laspm_teff)

"$exe" precision "$work/cat1.h5" --columns laspm_teff,laspm_m_h --min-per-bin 2 > "$work/prec.txt" 2>&1
check "precision prints the epsilon table" grep -q "^laspm_teff: .* stars with repeats" "$work/prec.txt"
[ "$fails" = 0 ] || { cat "$work/build.log"; exit 1; }
echo "all checks passed"
