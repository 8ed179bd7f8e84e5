#!/usr/bin/env bash
# test_pipeline.sh: simulate -> ingest-grid -> ingest through the real executable, under
# mpirun with 1, 2 and 3 ranks:
#   - every pathological file of the mock survey becomes the flagged row its truth says,
#     and every clean file a usable row;
#   - the stores do not depend on the rank count (h5diff of every dataset);
#   - the grid store holds every model with its labels.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
set_tiny=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=50
          --set simulate.pathological_fraction=0.25 --set simulate.grid_teff=3000,3400,200
          --set simulate.grid_logg=4.5,5.0,0.5 --set simulate.grid_mh=-0.5,0,0.5 --log-level warn)

mpi 2 "$exe" simulate "${set_tiny[@]}" --out "$work/mock" || { echo "FAIL simulate"; exit 1; }
for n in 1 2 3; do
  mpi "$n" "$exe" ingest-grid "${set_tiny[@]}" --grid "$work/mock/grid" --out "$work/grid$n.h5"
  check "ingest-grid with $n rank(s) succeeds" test $? -eq 0
  mpi "$n" "$exe" ingest "${set_tiny[@]}" --spectra "$work/mock/spectra.lst" \
    --catalog "$work/mock/input_catalog.csv" --out "$work/spectra$n.h5"
  check "ingest with $n rank(s) succeeds" test $? -eq 0
done
for n in 2 3; do
  for g in /spectra /meta /input; do
    check "spectra store $g: $n ranks == 1 rank" h5diff -q "$work/spectra1.h5" "$work/spectra$n.h5" $g $g
  done
  for g in /spectra /labels /meta; do
    check "grid store $g: $n ranks == 1 rank" h5diff -q "$work/grid1.h5" "$work/grid$n.h5" $g $g
  done
done

# statuses against the truth's pathology column (rows in truth order)
values "$work/spectra2.h5" /meta/status > "$work/status.txt"
col=$(head -1 "$work/mock/truth.csv" | tr ',' '\n' | grep -n '^pathology$' | cut -d: -f1)
tail -n +2 "$work/mock/truth.csv" | cut -d, -f"$col" | awk '
  { m["none"] = 0; m["truncated"] = 1; m["missing_ext"] = 2; m["all_nan"] = 3; m["zero_ivar"] = 3;
    m["short_wave"] = 4; m["non_star"] = 5; print ($1 in m) ? m[$1] : "unknown-" $1 }' > "$work/expected.txt"
check "every row's status matches its truth pathology" cmp -s "$work/status.txt" "$work/expected.txt"
check "the mock survey has pathological files" test "$(grep -vc '^0$' "$work/expected.txt")" -ge 3
n_models=$(wc -l < "$work/mock/grid.lst")
check "grid store has every model" test "$(values "$work/grid1.h5" /labels/teff | wc -l)" -eq "$n_models"
check "no grid model flagged" test "$(values "$work/grid1.h5" /meta/status | grep -vc '^0$')" -eq 0
# a disk that fills up while the store is written: non-zero exit, no store, no partial file
full=$work/full
mkdir -p "$full"
if mount -t tmpfs -o size=2m tmpfs "$full" 2>/dev/null; then
  mpi 2 "$exe" ingest "${set_tiny[@]}" --spectra "$work/mock/spectra.lst" --out "$full/s.h5" \
    >"$work/full.log" 2>&1
  rc=$?
  check "disk full: ingest exits non-zero" test $rc -ne 0
  check "disk full: no store that looks complete" test ! -e "$full/s.h5"
  check "disk full: the partial file is removed" test ! -e "$full/s.h5.partial"
  check "disk full: the error names the store" grep -q "s.h5" "$work/full.log"
  umount "$full"
else
  echo "skip disk-full check: cannot mount a small tmpfs here"
fi
if [ $fails -ne 0 ]; then
  echo "$fails check(s) failed"
  # each row whose status differs from its truth: the file, the pathology and the store's reason
  # (this check failed once in many CI runs and never alone: keep what it saw)
  file_col=$(head -1 "$work/mock/truth.csv" | tr ',' '\n' | grep -n '^file$' | cut -d: -f1)
  paste -d' ' "$work/status.txt" "$work/expected.txt" | awk '$1 != $2 { print NR, $1, $2 }' |
    head -n 10 | while read -r row got want; do
      line=$(sed -n "$((row + 1))p" "$work/mock/truth.csv" | cut -d, -f"$file_col,$col")
      reason=$(h5dump -A 0 -y -w 0 -d /meta/status_reason -s $((row - 1)) -c 1 "$work/spectra2.h5" |
        sed -n '/DATA {/,/}/p' | sed '1d;$d' | sed 's/\\000//g')
      echo "  row $row ($line): status $got, truth says $want; reason: $reason"
    done
  exit 1
fi
