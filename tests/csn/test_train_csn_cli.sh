#!/usr/bin/env bash
# test_train_csn_cli.sh: `mstars train-csn` end to end (one process) on a toy emulator (a
# small grid store -> train-emulator) and a toy observed store (csn_tool make-observed: the
# grid's spectra with a smooth distortion, an extra line and noise): the model file and
# its record (emulator hash, history), the checkpoint, --resume giving the same weights as
# a straight run, --max-time (exit 3), and errors for wrong inputs.
# Arguments: nn_tool csn_tool.
set -u
exe=${MSTARS_EXE:?}
nn_tool=$1
tool=$2
fails=0
check() {
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
dir=$(mktemp -d /tmp/mstars-csncli-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$nn_tool" make-grid "$dir/grid.h5" 6 3 3 1 200 || exit 1
"$exe" train-emulator --grid "$dir/grid.h5" --out "$dir/emu.h5" --set emulator.labels=teff,logg,m_h \
    --set emulator.hidden=24 --set emulator.epochs=30 --set emulator.batch_size=16 \
    --set emulator.learning_rate=3e-3 >"$dir/emu.log" 2>&1 || { cat "$dir/emu.log"; exit 1; }
hash=$(grep -o "content hash [0-9a-f]*" "$dir/emu.log" | awk '{print $3}')
"$tool" make-observed "$dir/obs.h5" 120 200 3 || exit 1
# the tiny network of the tests, trained a little longer here (60 iterations, two checkpoints)
tiny=(--config "${MSTARS_SOURCE_ROOT:?}/tests/csn-tiny.cfg" --set csn.iterations=60
      --set csn.checkpoint_every=30 --set csn.learning_rate=0.001)
run() { "$exe" train-csn --emulator "$dir/emu.h5" --observed "$dir/obs.h5" "${tiny[@]}" "$@"; }

run --out "$dir/a.h5" >"$dir/a.log" 2>&1; rc=$?
check "train-csn exits 0" test $rc -eq 0
check "model file written" test -s "$dir/a.h5"
check "checkpoint written" test -s "$dir/a.h5.ckpt"
check "no partial file left" test ! -e "$dir/a.h5.partial"
check "sets: 100 observed (8:2:1), as many synthetic" grep -q "observed: 100 spectra .*train 73, validation 18, test 9); synthetic: 100" "$dir/a.log"
check "padded length logged" grep -q "200 pixels padded to 223" "$dir/a.log"
check "3 progress lines" test "$(grep -c 'csn it [0-9]*/60' "$dir/a.log")" -eq 3
check "test-set line" grep -q "test set: rec" "$dir/a.log"
info=$("$tool" info "$dir/a.h5")
check "model: history of 3 rows to iteration 60" grep -q "history 3 last_iteration 60" <<<"$info"
check "model: emulator hash $hash recorded" grep -q "emulator_hash $hash" <<<"$info"
check "model: training-set sizes recorded" grep -q "n_synth_train 73 n_obs_train 73" <<<"$info"
check "model: configuration recorded" sh -c "h5dump -a /csn_settings '$dir/a.h5' | grep -q 'csn.z_split=2'"

# 30 iterations, then resumed to 60: the same weights as the straight run
run --out "$dir/b.h5" --set csn.iterations=30 >"$dir/b1.log" 2>&1
run --out "$dir/b.h5" --resume >"$dir/b2.log" 2>&1; rc=$?
check "resume exits 0" test $rc -eq 0
check "resume starts at iteration 30" grep -q "resumed from .* at iteration 30" "$dir/b2.log"
check "resumed run = straight run" "$tool" compare "$dir/a.h5" "$dir/b.h5" 0
info=$("$tool" info "$dir/b.h5")
check "resumed model: history 20, 30 (end of the first run), 40, 60" grep -q "history 4 last_iteration 60" <<<"$info"

run --out "$dir/c.h5" --set csn.iterations=1000000 --max-time 1 >"$dir/c.log" 2>&1; rc=$?
check "--max-time: exit 3" test $rc -eq 3
check "--max-time: checkpoint kept" test -s "$dir/c.h5.ckpt"
check "--max-time: no model file" test ! -e "$dir/c.h5"

"$exe" train-csn --emulator "$dir/none.h5" --observed "$dir/obs.h5" --out "$dir/d.h5" \
    >"$dir/d.log" 2>&1; rc=$?
check "missing emulator: exit 1, file named" sh -c "test $rc -eq 1 && grep -q none.h5 '$dir/d.log'"
"$exe" train-csn --emulator "$dir/obs.h5" --observed "$dir/obs.h5" --out "$dir/d.h5" \
    >"$dir/d.log" 2>&1; rc=$?
check "store as emulator: exit 1" sh -c "test $rc -eq 1 && grep -q 'not an mstars emulator' '$dir/d.log'"
"$tool" make-observed "$dir/obs150.h5" 20 150 3 || exit 1
"$exe" train-csn --emulator "$dir/emu.h5" --observed "$dir/obs150.h5" --out "$dir/d.h5" \
    "${tiny[@]}" >"$dir/d.log" 2>&1; rc=$?
check "pixel mismatch: exit 1, explained" sh -c "test $rc -eq 1 && grep -q '200 pixels, the store has 150' '$dir/d.log'"
"$exe" train-csn --emulator "$dir/emu.h5" --observed "$dir/obs.h5" --out "$dir/d.h5" \
    "${tiny[@]}" --set csn.sp_strides=2,2,1 >"$dir/d.log" 2>&1; rc=$?
check "bad split strides: exit 1, hint" sh -c "test $rc -eq 1 && grep -q 'sp_strides' '$dir/d.log'"

if [ $fails -ne 0 ]; then
    echo "--- a.log"; cat "$dir/a.log"
    echo "$fails check(s) failed"
    exit 1
fi
echo "all checks passed"
