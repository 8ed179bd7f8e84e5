#!/usr/bin/env bash
# test_emulator_cli.sh: `mstars train-emulator` and `mstars emulate` end to end on a small
# synthetic grid store (one process): the model file, the printed spectrum and its label
# derivatives (against finite differences of printed spectra), and the errors for a
# missing or foreign model file and bad --labels. Argument: nn_tool.
set -u
exe=${MSTARS_EXE:?}
tool=$1
fails=0
check() {
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
dir=$(mktemp -d /tmp/mstars-emucli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$tool" make-grid "$dir/grid.h5" 6 3 3 1 200 || exit 1

"$exe" train-emulator --grid "$dir/grid.h5" --out "$dir/m.h5" --set emulator.labels=teff,logg,m_h \
    --set emulator.hidden=24 --set emulator.epochs=30 --set emulator.batch_size=16 \
    --set emulator.learning_rate=3e-3 >"$dir/log" 2>&1
check "train-emulator exits 0" test $? -eq 0
check "model file written" test -s "$dir/m.h5"
check "checkpoint removed after success (issue 18)" test ! -e "$dir/m.h5.ckpt"
check "no partial file left" test ! -e "$dir/m.h5.partial"
"$exe" train-emulator --grid "$dir/grid.h5" --out "$dir/nodir/m.h5" --set emulator.labels=teff,logg,m_h \
    --set emulator.hidden=24 --set emulator.epochs=30 >"$dir/log" 2>&1
check "train-emulator into a missing folder: exit 1 before training, naming it" \
    sh -c "test $? -eq 1 && grep -q 'nodir.*No such file' '$dir/log' && ! grep -q 'epoch' '$dir/log'"

"$exe" emulate --model "$dir/m.h5" --labels 3300,5.0,-0.5 >"$dir/s.txt" 2>"$dir/err"
check "emulate exits 0" test $? -eq 0
check "emulate: 200 pixels + 3 header lines" test "$(wc -l <"$dir/s.txt")" -eq 203
check "emulate: 2 columns" test "$(tail -1 "$dir/s.txt" | wc -w)" -eq 2
check "emulate: header records the content hash" grep -q "content hash [0-9a-f]\{16\}" "$dir/s.txt"

"$exe" emulate --model "$dir/m.h5" --labels logg=5.0,teff=3300,m_h=-0.5 --jacobian \
    --out "$dir/j.txt" 2>"$dir/err"
check "emulate --jacobian --out exits 0" test $? -eq 0
check "jacobian: 5 columns" test "$(tail -1 "$dir/j.txt" | wc -w)" -eq 5
diff=$(paste <(grep -v '^#' "$dir/s.txt") <(grep -v '^#' "$dir/j.txt") |
    awk '{d = $2 - $4; if (d < 0) d = -d; if (d > m) m = d} END {printf "%.3g", m}')
check "named labels, jacobian path: same flux (max diff $diff)" awk -v d="$diff" 'BEGIN {exit !(d < 1e-5)}'
# d flux / d teff against a central difference of printed spectra (h = 5 K)
"$exe" emulate --model "$dir/m.h5" --labels 3305,5.0,-0.5 >"$dir/p.txt"
"$exe" emulate --model "$dir/m.h5" --labels 3295,5.0,-0.5 >"$dir/q.txt"
worst=$(paste <(grep -v '^#' "$dir/p.txt") <(grep -v '^#' "$dir/q.txt") <(grep -v '^#' "$dir/j.txt") |
    awk '{fd = ($2 - $4) / 10; d = $7; e = fd - d; if (e < 0) e = -e; s = d < 0 ? -d : d;
          if (s > m) m = s; if (e > w) w = e} END {printf "%.3g", w / m}')
check "d flux / d teff matches finite differences (relative $worst)" \
    awk -v w="$worst" 'BEGIN {exit !(w < 0.02)}'

"$exe" emulate --model "$dir/none.h5" --labels 3300,5,0 >"$dir/out" 2>"$dir/err"; rc=$?
check "missing model: exit 1" test $rc -eq 1
check "missing model: the file is named" grep -q "none.h5" "$dir/err"
"$exe" emulate --model "$dir/grid.h5" --labels 3300,5,0 >"$dir/out" 2>"$dir/err"; rc=$?
check "grid store as model: exit 1" test $rc -eq 1
check "grid store as model: says so" grep -q "not an mstars emulator model file" "$dir/err"
"$exe" emulate --model "$dir/m.h5" --labels 3300,5 >"$dir/out" 2>"$dir/err"; rc=$?
check "missing label value: exit 1" test $rc -eq 1
check "missing label value: named" grep -q "m_h" "$dir/err"
"$exe" emulate --model "$dir/m.h5" --labels 3300,5,abc >"$dir/out" 2>"$dir/err"; rc=$?
check "bad number: named" grep -q "'abc'" "$dir/err"
"$exe" emulate --model "$dir/m.h5" --labels 5000,5,0 >"$dir/out" 2>"$dir/err"; rc=$?
check "extrapolation warns" grep -q "outside the training range" "$dir/err"
"$exe" train-emulator --grid "$dir/nothing.h5" --out "$dir/x.h5" >"$dir/out" 2>"$dir/err"; rc=$?
check "missing grid: exit 1 naming it" grep -q "nothing.h5" "$dir/err"
"$exe" train-emulator --grid "$dir/grid.h5" --out "$dir/x.h5" --set emulator.labels=teff,vsini \
    >"$dir/out" 2>"$dir/err"; rc=$?
check "unknown label: named" grep -q "vsini" "$dir/err"
echo "$fails failure(s)"
exit $((fails != 0))
