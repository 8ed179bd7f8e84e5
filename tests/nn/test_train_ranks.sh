#!/usr/bin/env bash
# test_train_ranks.sh: `mstars train-emulator` gives the same network for 1, 2 and 3 ranks
# (exact gradient sums over fixed shards: identical weights and content hash), and a run
# stopped by --max-time on 2 ranks and resumed on 1 rank ends where an uninterrupted run
# does. Arguments: nn_tool mpiexec.
set -u
exe=${MSTARS_EXE:?}
tool=$1
mpiexec=$2
fails=0
check() { # description, then a command that must succeed
    local what=$1; shift
    if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi
}
dir=$(mktemp -d /tmp/mstars-ranks-XXXXXX)
trap 'rm -rf "$dir"' EXIT
run() { "$mpiexec" --oversubscribe -n "$@"; }
hash_of() { grep -o 'content hash [0-9a-f]*' "$1" | awk '{print $3}'; }

"$tool" make-grid "$dir/grid.h5" 7 3 4 2 300 || exit 1
common=(--grid "$dir/grid.h5" --set emulator.hidden=32 --set emulator.epochs=40
        --set emulator.batch_size=24 --set emulator.shard_size=4 --set emulator.validate_every=10
        --set emulator.checkpoint_every=10 --set emulator.learning_rate=3e-3)

for n in 1 2 3; do
    run "$n" "$exe" train-emulator "${common[@]}" --out "$dir/r$n.h5" >"$dir/log$n" 2>&1
    check "train-emulator on $n rank(s) exits 0" test $? -eq 0
done
check "1 vs 2 ranks: identical networks" "$tool" compare "$dir/r1.h5" "$dir/r2.h5" 0
check "1 vs 3 ranks: identical networks" "$tool" compare "$dir/r1.h5" "$dir/r3.h5" 0
h1=$(hash_of "$dir/log1"); h2=$(hash_of "$dir/log2")
check "content hash logged" test -n "$h1"
check "content hashes equal ($h1, $h2)" test "$h1" = "$h2"
check "progress lines with the losses" grep -q "epoch 20/40  train L1 .* validation" "$dir/log2"
check "accuracy report" grep -q "validation accuracy (Z25 Eq. 1" "$dir/log1"

# stopped by the time limit on 2 ranks (exit 3), resumed on 1 rank
run 2 "$exe" train-emulator "${common[@]}" --out "$dir/s.h5" --max-time 0.000001 >"$dir/logs" 2>&1
check "--max-time stops with exit code 3" test $? -eq 3
check "checkpoint written" test -s "$dir/s.h5.ckpt"
check "no model file after a stop" test ! -e "$dir/s.h5"
run 1 "$exe" train-emulator "${common[@]}" --out "$dir/s.h5" --resume >"$dir/logr" 2>&1
check "resume exits 0" test $? -eq 0
check "resume announced" grep -q "resuming from" "$dir/logr"
check "resumed run (2 then 1 ranks) equals the uninterrupted one" "$tool" compare "$dir/r1.h5" "$dir/s.h5" 0

# the float all-reduce path (shard_size = 0) agrees to float rounding after a few epochs
short=(--grid "$dir/grid.h5" --set emulator.hidden=32 --set emulator.epochs=3
       --set emulator.batch_size=24 --set emulator.shard_size=0 --set emulator.validate_every=1
       --set emulator.learning_rate=1e-3)
run 1 "$exe" train-emulator "${short[@]}" --out "$dir/p1.h5" >"$dir/logp1" 2>&1
run 2 "$exe" train-emulator "${short[@]}" --out "$dir/p2.h5" >"$dir/logp2" 2>&1
check "plain all-reduce: 1 vs 2 ranks within float rounding" "$tool" compare "$dir/p1.h5" "$dir/p2.h5" 1e-4

if [ $fails -ne 0 ]; then
    for f in "$dir"/log*; do echo "== $f"; tail -5 "$f"; done
fi
echo "$fails failure(s)"
exit $((fails != 0))
