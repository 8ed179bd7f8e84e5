#!/usr/bin/env bash
# run.sh: install what is missing, build, and run the whole test suite:
#   1. every suite (unit, mpi, cli, ...) in build/ (optimised, with assertions);
#   2. the unit suite again in build-asan/ under AddressSanitizer + UndefinedBehaviorSanitizer.
# The last line is "N passed, M failed"; the exit status is non-zero when M > 0 or the
# build fails. Skipped tests (data in ../shared absent, a tool missing) count as passed and
# are counted and listed: whole tests that exit 77 (meson's SKIP: every cmocka test of the
# binary skipped) and single cmocka tests skipped inside a passing binary (their
# "MSTARS_SKIP file:line" lines, tests/test_util.h).
set -u
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1

if ! bash jobs/setup.sh; then
  echo "build failed"
  echo "0 passed, 1 failed"
  exit 1
fi

if [ ! -f build-asan/build.ninja ]; then
  meson setup build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false \
    -Dnative=false >/dev/null || { echo "sanitizer configure failed"; echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C build-asan >/dev/null; then
  echo "sanitizer build failed"; echo "0 passed, 1 failed"; exit 1
fi

meson test -C build --print-errorlogs --num-processes 2 "$@"
# Leak checking stays on; third-party start-up allocations are listed in the suppressions.
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
LSAN_OPTIONS=suppressions=$root/tests/lsan.supp:print_suppressions=0 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  meson test -C build-asan --suite unit --print-errorlogs --num-processes 2

count() { # result name, log file
  grep -o "\"result\": \"$1\"" "$2" 2>/dev/null | wc -l
}
passed=0; failed=0; skipped=0; skipped_cases=0; skip_list=""
for log in build/meson-logs/testlog.json build-asan/meson-logs/testlog.json; do
  [ -f "$log" ] || { failed=$((failed + 1)); continue; }
  passed=$((passed + $(count OK "$log") + $(count SKIP "$log") + $(count EXPECTEDFAIL "$log")))
  skipped=$((skipped + $(count SKIP "$log")))
  failed=$((failed + $(count FAIL "$log") + $(count ERROR "$log") + $(count TIMEOUT "$log") \
    + $(count UNEXPECTEDPASS "$log")))
  # one JSON object per test: its name, result and output
  while IFS= read -r line; do
    name=$(printf '%s' "$line" | grep -o '"name": "[^"]*"' | head -1 | cut -d'"' -f4)
    if printf '%s' "$line" | grep -q '"result": "SKIP"'; then
      skip_list="$skip_list  ${log%%/*}: $name (whole test)"$'\n'
    else
      k=$(printf '%s' "$line" | grep -o 'MSTARS_SKIP [^\\" ]*' | wc -l)
      if [ "$k" -gt 0 ]; then
        skipped_cases=$((skipped_cases + k))
        where=$(printf '%s' "$line" | grep -o 'MSTARS_SKIP [^\\" ]*' | cut -d' ' -f2 | sed 's|.*/||' | tr '\n' ' ')
        skip_list="$skip_list  ${log%%/*}: $name ($k of its tests: $where)"$'\n'
      fi
    fi
  done < "$log"
done
if [ "$skipped" -gt 0 ] || [ "$skipped_cases" -gt 0 ]; then
  echo "skipped: $skipped whole test(s), $skipped_cases test case(s) inside passing tests:"
  printf '%s' "$skip_list"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
