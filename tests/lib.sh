# lib.sh: what the shell tests share. Source it first:  . "$(dirname "$0")/../lib.sh"
#   exe, root          the mstars under test and the source tree (meson's test environment)
#   check WHAT CMD...  runs CMD: "ok   WHAT" or "FAIL WHAT" (counted in fails); finish ends
#                      the test (exit 1 when a check failed)
#   mpi N CMD...       CMD on N ranks (MS_MPI_TIMEOUT=seconds: killed after that long)
#   same A B           A is not empty and equals B
#   values FILE DSET   the values of a dataset, one a line
#   truth COL          a column of the mock universe's truth.csv ($m/truth.csv)
#   ms_workdir         work: $KEEP_DIR or a new temporary folder, removed at exit unless KEEP=1
#   mock_fit_inputs [R] the mock universe and what `fit` needs, made with "${opts[@]}":
#                      simulate ($m), ingest-grid ($work/grid.h5), ingest ($work/spectra.h5),
#                      train-emulator on R ranks (default 2: $work/emu.h5); exits 1 on failure
exe=${MSTARS_EXE:?}
root=${MSTARS_SOURCE_ROOT:?}
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }
mpi() { local n=$1; shift; ${MS_MPI_TIMEOUT:+timeout "$MS_MPI_TIMEOUT"} mpiexec --oversubscribe -n "$n" "$@"; }
same() { [ -n "$1" ] && [ "$1" = "$2" ]; }
values() { h5dump -A 0 -y -w 0 -d "$2" "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr -d ' ' | tr ',' '\n' | grep -v '^$'; }
truth() { local c; c=$(head -1 "$m/truth.csv" | tr ',' '\n' | grep -n "^$1\$" | cut -d: -f1); tail -n +2 "$m/truth.csv" | cut -d, -f"$c"; }
# The determinism checks of a survey job already written with 1 rank, chunks of 16, to REF:
# 2 ranks with chunks of 7 equal it, and a run interrupted at once then resumed (each resume
# stopping after STEP seconds) equals it, bit for bit. Usage: same_across_ranks_and_resume REF
# STEP COMMAND... (the command without --out; $work is the scratch folder).
same_across_ranks_and_resume() {
  local ref=$1 step=$2; shift 2
  mpi 2 "$@" --set run.chunk_size=7 --out "$work/j2.h5" >/dev/null 2>&1
  check "the same with 2 ranks, chunks of 7, exits 0" test $? -eq 0
  check "catalog: 2 ranks, chunks of 7 == 1 rank, chunks of 16 (bit for bit)" \
    h5diff -q "$ref" "$work/j2.h5" /catalog /catalog
  mpi 2 "$@" --set run.chunk_size=4 --set run.max_runtime=1e-6 --out "$work/int.h5" >/dev/null 2>&1
  check "an interrupted run exits 0 and leaves no complete-looking catalog" test $? -eq 0 -a ! -e "$work/int.h5"
  for i in $(seq 1 25); do
    [ -e "$work/int.h5" ] && break
    mpi 2 "$@" --set run.chunk_size=4 --set run.max_runtime="$step" --resume --out "$work/int.h5" >/dev/null 2>&1
  done
  check "--resume completes it, equal to the uninterrupted run (bit for bit)" \
    h5diff -q "$ref" "$work/int.h5" /catalog /catalog
}

finish() {
  [ "$fails" -eq 0 ] || { echo "$fails check(s) failed"; exit 1; }
  echo "all checks passed"
}
ms_workdir() {
  work=${KEEP_DIR:-$(mktemp -d)}
  m=$work/mock
  trap '[ "${KEEP:-0}" = 1 ] || rm -rf "$work"' EXIT
}
mock_fit_inputs() {
  mpi 2 "$exe" simulate "${opts[@]}" --out "$m" >/dev/null || { echo "FAIL simulate"; exit 1; }
  mpi 2 "$exe" ingest-grid "${opts[@]}" --grid "$m/grid" --out "$work/grid.h5" >/dev/null &&
  mpi 2 "$exe" ingest "${opts[@]}" --spectra "$m/spectra.lst" --catalog "$m/input_catalog.csv" \
    --out "$work/spectra.h5" >/dev/null &&
  mpi "${1:-2}" "$exe" train-emulator "${opts[@]}" --grid "$work/grid.h5" --out "$work/emu.h5" >/dev/null ||
    { echo "FAIL preparing the inputs"; exit 1; }
}
