#!/usr/bin/env bash
# test_slam_cli.sh: train-slam, fit-slam and cv-slam end to end on a tiny mock universe:
#   - train on the truth labels of a random 20% of the spectra (the role APOGEE plays), fit
#     every spectrum, and check the other 80% against the truth (Teff, [M/H] scatter);
#   - the model does not depend on the rank count (1, 2 ranks: h5diff of /slam, exact);
#   - the catalog has the slam column group and is equal for 1 and 2 ranks;
#   - --max-runtime stops the search with journals kept; --resume finishes it to the same model;
#   - cv-slam writes its per-star table and summary;
#   - a wrong label column fails with a message naming it.
set -u
. "$(dirname "$0")/../lib.sh"
ms_workdir
opts=(--config "$root/config/mock-small.cfg" --set simulate.n_stars=120
      --set simulate.grid_teff=3000,3800,200 --set simulate.grid_logg=4.5,5.0,0.5
      --set simulate.grid_mh=-0.5,0,0.5 --set simulate.pathological_fraction=0
      --set simulate.repeat_fraction=0 --set preprocess.wave_step=4 --set run.chunk_size=8
      --log-level warn)
# a small grid keeps the test fast; the paper's grid is the default
grid=(--grid-c 2^-1:2^3 --grid-epsilon 0.01,0.05 --grid-gamma auto,0.3 --cv-folds 4)
mpi 2 "$exe" simulate "${opts[@]}" --out "$m" >/dev/null &&
mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --out "$work/spectra.h5" >/dev/null ||
  { echo "FAIL preparing the mock"; exit 1; }
values() { h5dump -A 0 -y -w 0 -d "$2" "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | sed 's/\\000//g' | tr -d ' "' | tr ',' '\n' | grep -v '^$'; }

# every mock spectrum must ingest cleanly: a row flagged here (status != 0) would surface later
# only as NaN labels and a short cross-validation table, so name the rows and reasons now
nbad=$(values "$work/spectra.h5" /meta/status | grep -vc '^0$')
check "the mock ingests cleanly: every row has status 0 ($nbad flagged)" test "$nbad" -eq 0
[ "$nbad" -eq 0 ] || h5dump -d /meta/status_reason "$work/spectra.h5" | grep -v '""' | head -20

# 20% of the spectra with their truth labels (a fixed pseudo-random choice)
awk -F, 'NR == 1 { print; next } { srand(NR * 7919); if (rand() < 0.2) print }' "$m/truth.csv" > "$work/train.csv"
ntrain=$(($(wc -l < "$work/train.csv") - 1))
check "a training set of 15-40 spectra ($ntrain)" test "$ntrain" -ge 15 -a "$ntrain" -le 40
train=("$exe" train-slam "${opts[@]}" --spectra "$work/spectra.h5" --labels "$work/train.csv"
       --label-cols teff,m_h "${grid[@]}")
mpi 1 "${train[@]}" --out "$work/slam1.h5" >/dev/null
check "train-slam, 1 rank" test $? -eq 0 -a -e "$work/slam1.h5"
mpi 2 "${train[@]}" --out "$work/slam2.h5" --pixels-per-chunk 5 >/dev/null
check "train-slam, 2 ranks" test $? -eq 0 -a -e "$work/slam2.h5"
check "model with 2 ranks == 1 rank (exact)" h5diff -q "$work/slam1.h5" "$work/slam2.h5" /slam /slam

# interrupted search, then --resume
mpi 2 "${train[@]}" --out "$work/slam3.h5" --set run.max_runtime=0.0001 >/dev/null
check "--max-runtime: exit 0, no model" test $? -eq 0 -a ! -e "$work/slam3.h5"
check "--max-runtime: search journals kept" test -d "$work/slam3.h5.search.h5.journal"
mpi 2 "${train[@]}" --out "$work/slam3.h5" --resume >/dev/null
check "--resume: the same model" h5diff -q "$work/slam1.h5" "$work/slam3.h5" /slam /slam

# fit every spectrum; compare the 80% not trained on with the truth
fit=("$exe" fit-slam "${opts[@]}" --spectra "$work/spectra.h5" --model "$work/slam1.h5")
mpi 1 "${fit[@]}" --out "$work/cat1.h5" >/dev/null
check "fit-slam, 1 rank" test $? -eq 0 -a -e "$work/cat1.h5"
mpi 2 "${fit[@]}" --out "$work/cat2.h5" >/dev/null
check "catalog with 2 ranks == 1 rank" h5diff -q "$work/cat1.h5" "$work/cat2.h5" /catalog /catalog
for c in slam_teff e_slam_teff slam_m_h e_slam_m_h slam_chi2 slam_flags obsid; do
  check "catalog has /catalog/$c" grep -q "^$c " <(h5ls "$work/cat1.h5/catalog")
done
col() { local c; c=$(head -1 "$1" | tr ',' '\n' | grep -n "^$2\$" | cut -d: -f1); tail -n +2 "$1" | cut -d, -f"$c"; }
paste -d' ' <(values "$work/cat1.h5" /catalog/obsid) <(values "$work/cat1.h5" /catalog/slam_teff) \
  <(values "$work/cat1.h5" /catalog/slam_m_h) <(values "$work/cat1.h5" /catalog/slam_flags) > "$work/cat.txt"
paste -d' ' <(col "$m/truth.csv" obsid) <(col "$m/truth.csv" teff) <(col "$m/truth.csv" m_h) > "$work/truth.txt"
col "$work/train.csv" obsid > "$work/train_ids.txt"
awk 'FILENAME == ARGV[1] { tr[$1] = 1; next } FILENAME == ARGV[2] { t[$1] = $2; mh[$1] = $3; next }
     !($1 in tr) && ($1 in t) && $2 == $2 + 0 && $4 < 2 { n++; d = $2 - t[$1]; s += d * d; e = $3 - mh[$1]; q += e * e }
     END { printf "held-out n=%d  rms Teff %.0f K  rms [M/H] %.3f\n", n, sqrt(s / n), sqrt(q / n) > "/dev/stderr";
           exit !(n >= 60 && sqrt(s / n) < 200 && sqrt(q / n) < 0.3) }' \
  "$work/train_ids.txt" "$work/truth.txt" "$work/cat.txt"
check "held-out 80%: rms Teff < 200 K and [M/H] < 0.3 dex (trained on ~25 spectra)" test $? -eq 0

# cross-validation
mpi 2 "$exe" cv-slam "${opts[@]}" --spectra "$work/spectra.h5" --labels "$work/train.csv" \
  --label-cols teff,m_h "${grid[@]}" --folds 3 --bootstrap 100 --out "$work/cv.csv" \
  --calibrate "$work/slam3.h5" >/dev/null
check "cv-slam exits 0" test $? -eq 0
check "cv-slam --calibrate: a Teff error floor > 0 in the model" \
  awk '$1 > 0 { ok = 1 } END { exit !ok }' <(values "$work/slam3.h5" /slam/labels/error_floor | head -1)
check "cv-slam: one row per training spectrum" test "$(($(wc -l < "$work/cv.csv") - 1))" -eq "$ntrain"
check "cv-slam: summary with teff and m_h" grep -q "^m_h" "$work/cv.csv.summary.txt"

# a wrong label column is named
out=$("$exe" train-slam "${opts[@]}" --spectra "$work/spectra.h5" --labels "$work/train.csv" \
      --label-cols teff,nope --out "$work/bad.h5" 2>&1)
check "a missing label column fails" test $? -ne 0
check "... naming the column" grep -q "nope" <<< "$out"

echo "$fails failed"
exit $((fails > 0))
