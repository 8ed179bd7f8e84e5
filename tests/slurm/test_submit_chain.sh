#!/usr/bin/env bash
# test_submit_chain.sh: jobs/submit_chain.sh with relative paths, against a stand-in sbatch
# that records its arguments (no Slurm needed; issue 18 item 3):
#   - every path handed to a job is absolute (the jobs run in OUTDIR via --chdir);
#   - every job is submitted with --kill-on-invalid-dep=yes (a failed job cancels its
#     dependents instead of leaving them waiting forever);
#   - a missing input is refused at submission.
set -u
root=${MSTARS_SOURCE_ROOT:?}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }
mkdir -p "$work/bin" "$work/sub/mock/grid" "$work/sub/mock/spectra"
cat >"$work/bin/sbatch" <<'SB'
#!/usr/bin/env bash
n=$(( $(cat "$SBATCH_LOG.n" 2>/dev/null || echo 100) + 1 )); echo $n >"$SBATCH_LOG.n"
echo "$*" >>"$SBATCH_LOG"; echo $n
SB
chmod +x "$work/bin/sbatch"
touch "$work/sub/mock/spectra.lst" "$work/sub/mock/input.csv" "$work/sub/my.cfg"
export SBATCH_LOG=$work/sbatch.log
(cd "$work/sub" && PATH="$work/bin:$PATH" WITH_CSN=1 CSN_REFERENCE=my.cfg \
  bash "$root/jobs/submit_chain.sh" mock/grid mock/spectra.lst mock/input.csv out my.cfg) \
  >"$work/out.txt" 2>&1
check "submit_chain.sh with relative paths exits 0" test $? -eq 0
check "5 jobs submitted" test "$(wc -l <"$SBATCH_LOG")" -eq 5
check "every job: --kill-on-invalid-dep=yes" test "$(grep -c -- '--kill-on-invalid-dep=yes' "$SBATCH_LOG")" -eq 5
check "every job runs in the absolute OUTDIR" test "$(grep -c -- "--chdir=$work/sub/out " "$SBATCH_LOG")" -eq 5
check "no relative input path reaches a job" bash -c "! grep -qE ' (mock/|my.cfg|out/)' '$SBATCH_LOG'"
check "the config reaches the jobs as an absolute path" grep -q "$work/sub/my.cfg" "$SBATCH_LOG"
(cd "$work/sub" && PATH="$work/bin:$PATH" bash "$root/jobs/submit_chain.sh" mock/nogrid \
  mock/spectra.lst "" out) >"$work/out.txt" 2>&1
check "a missing input is refused at submission" \
  sh -c "test $? -ne 0 && grep -q 'nogrid does not exist' '$work/out.txt'"
[ $fails -eq 0 ] || { cat "$SBATCH_LOG"; echo "$fails check(s) failed"; exit 1; }
