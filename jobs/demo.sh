#!/usr/bin/env bash
# demo.sh: the main mstars job end to end on a mock universe with a known truth
# (config/demo.cfg), every method, under `mpirun -n 2`, in under 15 minutes on 2 cores:
#
#   simulate -> ingest-grid -> ingest                    the mock universe and its two stores:
#                                                        M dwarfs and a ~14% minority of M
#                                                        giants, white dwarfs, earlier types,
#                                                        galaxies and QSOs (config/demo.cfg)
#   reference subset                                     a random 20% of the stars with their
#                                                        truth labels (the role APOGEE plays),
#                                                        and a held-out 15% (calibration.csv);
#                                                        M dwarfs only: what the methods learn
#   simulate, ingest, train-classifier x3                the Li 2025 classifiers (CNN-SPT,
#                                                        CNN-WDM, CNN-dMgM) trained on their own
#                                                        labelled universe (another seed, every
#                                                        class in numbers), never on the stars
#                                                        of the demo mock
#   train-emulator -> fit (emulator only)                The Payne; the baseline without CSN
#   train-csn                                            Z25: Cycle-StarNet
#   rv (training frames), train-cnn                      label transfer (Li 2025 CNN ensemble)
#   train-slam                                           label transfer (SLAM, Li 2021)
#   build-library                                        empirical library (Du 2025 LASPM)
#   fit --methods class,lum,rv,z25,slam,cnn,laspm --reference calibration.csv
#                                                        ONE pass over the spectra: the
#                                                        classifiers route the rows (z25, cnn,
#                                                        slam, laspm on M dwarfs), every
#                                                        method, the recommended labels (errors
#                                                        measured against the held-out 15%) and
#                                                        the disagreement flag (combined.h5)
#   report                                               opens on the summary against the truth
#                                                        of the other 65% of the stars (labels
#                                                        judged on its M dwarfs; the
#                                                        classification on all of them)
#
# Installs what is missing and builds first (jobs/setup.sh). Idempotent: every run starts a
# fresh output folder. Prints where the outputs are and writes OUTDIR/timing.txt.
#
#   jobs/demo.sh [OUTDIR]      (default: ./demo-out)
#
# Environment:
#   MSTARS_DEMO_RANKS    MPI ranks (default 2)
#   MSTARS_DEMO_METHODS  the methods besides z25, comma-separated (default
#                        class,lum,rv,cnn,slam,laspm; class: the three CNN classifiers; lum:
#                        the dwarf/giant verdict (L25 lines, CMD, CNN-dMgM, LAMOST subclass);
#                        together they route the rows: run.dwarfs_only of the config)
#   MSTARS_DEMO_CONFIG   configuration (default config/demo.cfg)
#   MSTARS_DEMO_SET      extra "--set key=value" words for every command (the test's tiny chain)
#   MSTARS_DEMO_CNN      extra train-cnn options (default: --folds 5 --max-epochs 200 --patience 12)
#   MSTARS_DEMO_SLAM     extra train-slam options (default: --search coordinate --cv-folds 4)
#   MSTARS_DEMO_CLASSIFIER  extra train-classifier options (default: --max-epochs 40 --patience 8)
#   MSTARS_DEMO_CLASS_STARS objects of the classifiers' training universe (default 1500)
#   MSTARS_TEMPLATES     RV templates (default ../shared/data/templates-kesseli2017; when absent,
#                        templates are made from the mock's own theory grid: see README)
#   MSTARS_DEMO_NO_SETUP=1  skip jobs/setup.sh (the build exists)
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
out=${1:-$root/demo-out}
ranks=${MSTARS_DEMO_RANKS:-2}
methods=${MSTARS_DEMO_METHODS:-class,lum,rv,cnn,slam,laspm}
cfg=${MSTARS_DEMO_CONFIG:-$root/config/demo.cfg}
cnn_opts=(${MSTARS_DEMO_CNN:---folds 5 --max-epochs 200 --patience 12})
slam_opts=(${MSTARS_DEMO_SLAM:---search coordinate --cv-folds 4})
class_opts=(${MSTARS_DEMO_CLASSIFIER:---max-epochs 40 --patience 8})
class_stars=${MSTARS_DEMO_CLASS_STARS:-1500}

# only a folder this script made (it holds .mstars-demo) is replaced; anything else with
# files in it is refused, so that a mistyped OUTDIR never deletes a user's work
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/.mstars-demo" ]; then
  echo "demo.sh: $out exists, has files and is not a demo folder (no .mstars-demo): not" \
    "removing it; give another OUTDIR or remove it yourself" >&2
  exit 1
fi
[ "${MSTARS_DEMO_NO_SETUP:-0}" = 1 ] || bash "$root/jobs/setup.sh"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
exe=${MSTARS_EXE:-$root/build/src/mstars}
mpi=(mpirun --oversubscribe -n "$ranks")
common=(--config "$cfg")
for kv in ${MSTARS_DEMO_SET:-}; do common+=(--set "$kv"); done
has() { case ",$methods," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

rm -rf "$out"
mkdir -p "$out"
touch "$out/.mstars-demo"
t_start=$(date +%s)
echo "# demo.sh $(date -u '+%Y-%m-%d %H:%M UTC'), $ranks ranks, $(nproc) cores, load" \
  "$(cut -d' ' -f1-3 /proc/loadavg) at the start; methods z25,$methods" > "$out/timing.txt"
# CPU seconds (user + system) of this shell's finished children so far (bash `times`)
# (`times` must run in this shell, not in a subshell such as $(...): through a file)
cpu_children() { times > "$out/.times"; }
cpu_read() { awk 'NR == 2 { split($1, u, /[ms]/); split($2, y, /[ms]/)
  printf "%.2f", u[1] * 60 + u[2] + y[1] * 60 + y[2] }' "$out/.times"; }
# step NAME command...: run it, log to OUTDIR/logs/NAME.log, time it into timing.txt (wall
# and CPU seconds: on a loaded machine the CPU time / ranks is what an idle machine would take)
mkdir -p "$out/logs"
step() {
  local name=$1; shift
  echo "=== $name"
  local t0 c0 c1; t0=$(date +%s.%N); cpu_children; c0=$(cpu_read)
  if ! "$@" > "$out/logs/$name.log" 2>&1; then
    echo "demo.sh: step $name failed; the end of $out/logs/$name.log:" >&2
    tail -n 15 "$out/logs/$name.log" >&2
    exit 1
  fi
  cpu_children; c1=$(cpu_read)
  awk -v a="$t0" -v b="$(date +%s.%N)" -v s="$name" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    -v c0="$c0" -v c1="$c1" \
    'BEGIN { printf "%-16s %7.1f s wall %8.1f s CPU  (load %s)\n", s, b - a, c1 - c0, l }' \
    | tee -a "$out/timing.txt"
}

# 1. the mock universe and its stores
step simulate "${mpi[@]}" "$exe" simulate "${common[@]}" --out "$out/mock"
step ingest-grid "${mpi[@]}" "$exe" ingest-grid "${common[@]}" --grid "$out/mock/grid" --out "$out/grid.h5"
step ingest "${mpi[@]}" "$exe" ingest "${common[@]}" --spectra "$out/mock/spectra.lst" \
  --catalog "$out/mock/input_catalog.csv" --out "$out/spectra.h5"

# 2. the reference subset: every spectrum of a random 20% of the stars (all epochs of a star
# on one side) with its truth labels, which the learned methods train on; a held-out 15% of
# the stars (calibration.csv) that NO method trains on measures each method's error scale for
# the recommended labels (fit --methods --reference); the other 65% is what the report judges
# (truth_test.csv). The reference and held-out tables hold the M dwarfs of their stars only (the
# methods learn M dwarfs, as a reference survey's M-dwarf labels would be); the judged table
# holds every object of its stars with its truth class (spt_class, is_wd, lum_class, kind): the
# report judges the labels on its M dwarfs and the classification on all of it
awk -F, -v ref="$out/reference.csv" -v cal="$out/calibration.csv" -v test="$out/truth_test.csv" '
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i
            print "obsid,teff,logg,m_h,alpha_m" > ref; print "obsid,teff,logg,m_h,alpha_m,rv" > cal
            print > test; next }
  { h = ($col["star_id"] * 2654435761) % 4294967296
    md = !("kind" in col) || $col["kind"] == "mdwarf"
    if (h / 4294967296 < 0.2) {
      if (md) print $col["obsid"] "," $col["teff"] "," $col["logg"] "," $col["m_h"] "," $col["alpha_m"] > ref
    } else if (h / 4294967296 < 0.35) {
      if (md) print $col["obsid"] "," $col["teff"] "," $col["logg"] "," $col["m_h"] "," $col["alpha_m"] \
        "," $col["rv"] > cal
    } else { print > test; nt++; ntm += md }
  } END { printf "%d %d\n", nt, ntm > "/dev/stderr" }' "$out/mock/truth.csv" 2> "$out/.judged"
read -r n_judged n_judged_md < "$out/.judged"
echo "reference subset: $(($(wc -l < "$out/reference.csv") - 1)) M-dwarf spectra with truth labels;" \
  "held out for the error scales: $(($(wc -l < "$out/calibration.csv") - 1));" \
  "judged: $n_judged spectra, $n_judged_md of them M dwarfs" | tee -a "$out/timing.txt"

# 3. Z25: the emulator, the fit without adaptation (the baseline), Cycle-StarNet, the fit
step train-emulator "${mpi[@]}" "$exe" train-emulator "${common[@]}" --grid "$out/grid.h5" \
  --out "$out/emulator.h5"
step emulate "$exe" emulate "${common[@]}" --model "$out/emulator.h5" --labels 3500,5.0,0.0,0.0 \
  --out "$out/emulated_3500_5.0.csv"
step fit-emulator "${mpi[@]}" "$exe" fit "${common[@]}" --spectra "$out/spectra.h5" \
  --emulator "$out/emulator.h5" --out "$out/catalog_emu.h5"
# the synthetic training labels follow the reference subset's (Teff, [M/H]) distribution
step train-csn "${mpi[@]}" "$exe" train-csn "${common[@]}" --emulator "$out/emulator.h5" \
  --observed "$out/spectra.h5" --reference "$out/reference.csv" --out "$out/csn.h5"
# (the fit with Cycle-StarNet is the z25 method of the one pass below)

# 4. the other methods' models (each trained on the reference subset only)
run_methods=z25   # the methods of the one fit --methods pass, in the job's order
method_opts=(--emulator "$out/emulator.h5" --csn "$out/csn.h5")
if has rv; then
  templates=${MSTARS_TEMPLATES:-$root/../shared/data/templates-kesseli2017}
  if [ ! -d "$templates" ] && [ ! -f "$templates" ]; then
    # fallback: templates from the mock's own noiseless theory grid (log g 5, four [M/H])
    echo "demo.sh: no template library at $templates: using templates made from the mock grid" \
      "(benchmarks/rv_mock_templates.py); the RV numbers are then not those of real templates" \
      | tee -a "$out/timing.txt"
    templates=$out/templates-mockgrid
    step rv-templates python3 "$root/benchmarks/rv_mock_templates.py" "$out/mock/grid" "$templates"
    # the mock grid starts at 5800 A, the L25 TM range at 4700 A: match within what it covers
    rv_range=(--tm-range 5900,8899)
  fi
  run_methods=rv,$run_methods
  method_opts+=(--templates "$templates" ${rv_range[@]+"${rv_range[@]}"})
fi
if has slam; then
  step train-slam "${mpi[@]}" "$exe" train-slam "${common[@]}" --spectra "$out/spectra.h5" \
    --labels "$out/reference.csv" --label-cols teff,logg,m_h,alpha_m "${slam_opts[@]}" \
    --out "$out/slam.h5"
  run_methods=$run_methods,slam
  method_opts+=(--slam-model "$out/slam.h5")
fi
if has cnn; then
  cnn_rv=()   # the CNN's training rest frames: the rv velocities (L25 4a), as in the pass below
  if has rv; then
    step rv "${mpi[@]}" "$exe" rv "${common[@]}" --spectra "$out/spectra.h5" \
      --templates "$templates" ${rv_range[@]+"${rv_range[@]}"} --out "$out/catalog_rv.h5"
    cnn_rv=(--rv "$out/catalog_rv.h5")
  fi
  step train-cnn "${mpi[@]}" "$exe" train-cnn "${common[@]}" --spectra "$out/spectra.h5" \
    --labels "$out/reference.csv" --class dM "${cnn_opts[@]}" "${cnn_rv[@]}" --out "$out/cnn_dM.h5"
  run_methods=$run_methods,cnn
  method_opts+=(--cnn-model "$out/cnn_dM.h5")
fi
if has laspm; then
  # the library is the reference subset itself (no curation cuts: one exact label table); no
  # judged or held-out star is in it, so none is matched to its own spectra
  step build-library "$exe" build-library "${common[@]}" --spectra "$out/spectra.h5" \
    --labels "truth=$out/reference.csv" --no-dbscan --no-nn-check --out "$out/library.h5"
  run_methods=$run_methods,laspm
  method_opts+=(--laspm-library "$out/library.h5")
fi
# the luminosity class first: it needs no model, and its dwarf/giant verdict routes the rows
# (run.dwarfs_only of the config: demo.cfg's z25, cnn, slam, laspm on dwarfs; the others on
# every row; survey/skip_reason says why)
if has lum; then
  run_methods=lum,$run_methods
fi
# the Li 2025 classifiers (CNN-SPT 8 classes, CNN-WDM, CNN-dMgM): the demo mock's own training
# share has a few dozen non-M objects over seven classes, too few to learn from, so they train
# on a labelled universe of their own, as L25's classifiers trained on their own labelled sets:
# another draw (general.seed) of the same simulator and instrument, the class mix of
# config/mock-classes.cfg, one spectrum per object; none of its objects is a demo star. In the
# pass they run first and route the rows (class, then lum: dwarf or giant)
if has class; then
  cls=(--set general.seed=20261203 --set simulate.n_stars="$class_stars"
       --set simulate.repeat_fraction=0 --set simulate.fraction_mgiant=0.15
       --set simulate.fraction_ob=0.05 --set simulate.fraction_a=0.05 --set simulate.fraction_f=0.05
       --set simulate.fraction_g=0.05 --set simulate.fraction_k=0.10 --set simulate.fraction_wd=0.05
       --set simulate.fraction_galaxy=0.05 --set simulate.fraction_qso=0.05)
  step simulate-classes "${mpi[@]}" "$exe" simulate "${common[@]}" "${cls[@]}" --survey-only \
    --out "$out/mock_classes"
  step ingest-classes "${mpi[@]}" "$exe" ingest "${common[@]}" "${cls[@]}" \
    --spectra "$out/mock_classes/spectra.lst" --catalog "$out/mock_classes/input_catalog.csv" \
    --out "$out/classes.h5"
  for t in spt wdm dmgm; do
    step "train-$t" "${mpi[@]}" "$exe" train-classifier "${common[@]}" "${cls[@]}" \
      --spectra "$out/classes.h5" --labels "$out/mock_classes/truth.csv" --task "$t" \
      "${class_opts[@]}" --out "$out/$t.h5"
  done
  run_methods=class,$run_methods
  method_opts+=(--spt "$out/spt.h5" --wdm "$out/wdm.h5" --dmgm "$out/dmgm.h5")
fi

# 5. every method in ONE pass over the spectra into one catalog (fit --methods): each method's
# columns, the recommended labels (each method's errors measured against the held-out 15%,
# calibration.csv) and the disagreement flag; then the report
step fit-methods "${mpi[@]}" "$exe" fit "${common[@]}" --methods "$run_methods" \
  --spectra "$out/spectra.h5" "${method_opts[@]}" --reference "$out/calibration.csv" \
  --out "$out/combined.h5"
step report "$exe" report "$out/combined.h5" "${common[@]}" --truth "$out/truth_test.csv" \
  --baseline "$out/catalog_emu.h5" --out "$out/report"
t_total=$(($(date +%s) - t_start))
cpu_children
echo "total            $t_total s wall ($(awk -v t="$t_total" 'BEGIN { printf "%.1f", t / 60 }') min)," \
  "$(cpu_read) s CPU; load $(cut -d' ' -f1-3 /proc/loadavg) at the end" | tee -a "$out/timing.txt"

echo
echo "demo outputs in $out:"
echo "  report           $out/report/summary.md  <- start here: it opens on the summary table"
echo "  combined catalog $out/combined.h5 (fit --methods $run_methods: every method's columns,"
echo "                   recommended labels, *_method, disagree_flags)"
echo "  baseline         $out/catalog_emu.h5 (the fit without Cycle-StarNet)"
echo "  models           $out/emulator.h5, $out/csn.h5$(has cnn && echo ", $out/cnn_dM.h5")$(has slam && echo ", $out/slam.h5")$(has laspm && echo ", $out/library.h5")"
has class && echo "  classifiers      $out/spt.h5, $out/wdm.h5, $out/dmgm.h5 (trained on $out/mock_classes)"
echo "  mock universe    $out/mock (grid/, spectra/, truth.csv); reference subset $out/reference.csv,"
echo "                   held out for the error scales $out/calibration.csv"
echo "  timing           $out/timing.txt; logs in $out/logs/"
