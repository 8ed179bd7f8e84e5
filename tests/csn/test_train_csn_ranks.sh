#!/usr/bin/env bash
# test_train_csn_ranks.sh: `mstars train-csn` under mpiexec with 1, 2 and 3 ranks gives
# bit-identical models (csn.exact_sums: per-spectrum gradients summed in fixed point; the
# synthetic set emulated in fixed chunks). Arguments: nn_tool csn_tool mpiexec.
set -u
exe=${MSTARS_EXE:?}
nn_tool=$1
tool=$2
mpiexec=$3
dir=$(mktemp -d /tmp/mstars-csnranks-XXXXXX)
trap 'rm -rf "$dir"' EXIT
"$nn_tool" make-grid "$dir/grid.h5" 6 3 3 1 200 || exit 1
"$exe" train-emulator --grid "$dir/grid.h5" --out "$dir/emu.h5" --set emulator.labels=teff,logg,m_h \
    --set emulator.hidden=24 --set emulator.epochs=30 --set emulator.batch_size=16 \
    --set emulator.learning_rate=3e-3 >"$dir/emu.log" 2>&1 || exit 1
"$tool" make-observed "$dir/obs.h5" 120 200 3 || exit 1
sets=(--set csn.dom_filters=4,4 --set csn.dom_strides=2,2 --set csn.sh_filters=8,8,8
      --set csn.sh_strides=2,2,2 --set csn.sp_filters=4,4,4 --set csn.sp_strides=2,2,2
      --set csn.kernel=3 --set csn.z_shared=4 --set csn.z_split=2 --set csn.dis_x_filters=4,8
      --set csn.dis_x_strides=4,4 --set csn.dis_z_filters=8,8 --set csn.iterations=40
      --set csn.validate_every=20 --set csn.validation_spectra=16 --set csn.learning_rate=1e-3
      --set csn.n_observed=100 --set csn.mixture_size=20000)
fails=0
for n in 1 2 3; do
    "$mpiexec" -n $n "$exe" train-csn --emulator "$dir/emu.h5" --observed "$dir/obs.h5" \
        --out "$dir/m$n.h5" "${sets[@]}" >"$dir/log$n" 2>&1 || { echo "FAIL $n ranks"; cat "$dir/log$n"; exit 1; }
    echo "ok   $n rank(s): $(grep -o 'wrote.*' "$dir/log$n")"
done
for n in 2 3; do
    if "$tool" compare "$dir/m1.h5" "$dir/m$n.h5" 0; then echo "ok   1 vs $n ranks: identical"
    else echo "FAIL 1 vs $n ranks"; fails=$((fails + 1)); fi
done
info=$("$tool" info "$dir/m2.h5")
grep -q "ranks 2" <<<"$info" && echo "ok   rank count recorded" || { echo "FAIL rank count"; fails=$((fails + 1)); }
exit $fails
