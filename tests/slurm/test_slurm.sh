#!/usr/bin/env bash
# test_slurm.sh: a real one-machine Slurm (munge, slurmctld, slurmd), the demo chain
# submitted with WITH_CSN=1 jobs/submit_chain.sh (ingest-grid -> train-emulator, ingest ->
# train-csn (a tiny network) -> fit --csn with
# afterok dependencies, srun --mpi=pmix), waited for, its catalog checked, and the daemons
# it started stopped. Skips (exit 77) with a message where Slurm cannot be installed or
# started (e.g. not root, no package archive).
set -u
exe=${MSTARS_EXE:?}
root=${MSTARS_SOURCE_ROOT:?}
skip() { echo "skipping: $*"; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "starting Slurm daemons needs root"
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null 2>&1 ||
    { apt-get update -qq >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends slurmctld slurmd slurm-client munge >/dev/null 2>&1; } ||
    skip "the Slurm packages cannot be installed here"
fi
scratch=$(mktemp -d /tmp/mstars-slurm-XXXXXX)
chmod 755 "$scratch"
started_munge=0
cleanup() {
  for p in slurmd slurmctld; do
    [ -f "$scratch/$p.pid" ] && kill "$(cat "$scratch/$p.pid")" 2>/dev/null
  done
  sleep 1
  [ $started_munge = 1 ] && pkill -f "munged --pid-file=$scratch/munged.pid"
  [ "${KEEP:-0}" = 1 ] || rm -rf "$scratch"
}
trap cleanup EXIT

# munge
mkdir -p /run/munge && chown munge:munge /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  [ -f /etc/munge/munge.key ] || skip "no munge key"
  runuser -u munge -- /usr/sbin/munged --pid-file="$scratch/munged.pid" 2>/dev/null ||
    runuser -u munge -- /usr/sbin/munged || skip "munged does not start"
  started_munge=1
  sleep 1
  munge -n | unmunge >/dev/null 2>&1 || skip "munge does not work"
fi

# slurm.conf (platform.md recipe): this host, its CPUs, scratch paths
host=$(hostname)
node=$(slurmd -C 2>/dev/null | head -1 | sed "s/^NodeName=[^ ]*/NodeName=$host NodeAddr=127.0.0.1/")
[ -n "$node" ] || skip "slurmd -C gives no node description"
node=$(echo "$node" | sed 's/RealMemory=[0-9]*/RealMemory=4000/')
mkdir -p "$scratch/state" "$scratch/spool"
cat > "$scratch/slurm.conf" <<CONF
ClusterName=mstarstest
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=pmix
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
SwitchType=switch/none
MailProg=/bin/true
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$scratch/state
SlurmdSpoolDir=$scratch/spool
SlurmctldPidFile=$scratch/slurmctld.pid
SlurmdPidFile=$scratch/slurmd.pid
SlurmctldLogFile=$scratch/slurmctld.log
SlurmdLogFile=$scratch/slurmd.log
SlurmctldPort=${MSTARS_SLURMCTLD_PORT:-6817}
SlurmdPort=${MSTARS_SLURMD_PORT:-6818}
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$scratch/slurm.conf
/usr/sbin/slurmctld -f "$SLURM_CONF" || skip "slurmctld does not start (see $scratch/slurmctld.log)"
/usr/sbin/slurmd -f "$SLURM_CONF" || skip "slurmd does not start"
for _ in $(seq 30); do sinfo -h -o %T 2>/dev/null | grep -q idle && break; sleep 1; done
sinfo -h -o %T | grep -q idle || skip "the Slurm node did not become idle: $(sinfo 2>&1 | tail -1)"

fails=0
check() { local what=$1; shift; if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fails=$((fails + 1)); fi; }

# a tiny mock universe, then the chain through Slurm
cfg=$scratch/tiny.cfg
cat > "$cfg" <<CONF
simulate = { n_stars = 60; grid_teff = [3000.0, 3400.0, 200.0]; grid_logg = [4.5, 5.0, 0.5];
             grid_mh = [-0.5, 0.0, 0.5]; };
emulator = { hidden = 32; epochs = 30; };
run = { chunk_size = 8; };
fit = { presearch_points = 64; };
csn = { dom_filters = [4.0, 4.0]; dom_strides = [2.0, 2.0]; sh_filters = [8.0, 8.0, 8.0];
        sh_strides = [2.0, 2.0, 2.0]; sp_filters = [4.0, 4.0, 4.0]; sp_strides = [2.0, 2.0, 2.0];
        kernel = 3; z_shared = 4; z_split = 2; dis_x_filters = [4.0, 8.0];
        dis_x_strides = [4.0, 4.0]; dis_z_filters = [8.0, 8.0]; iterations = 40;
        validate_every = 20; checkpoint_every = 20; validation_spectra = 16;
        mixture_size = 20000; };
CONF
"$exe" simulate --config "$cfg" --out "$scratch/mock" --log-level warn || { echo "FAIL simulate"; exit 1; }
out=$scratch/out
MSTARS=$exe WITH_CSN=1 bash "$root/jobs/submit_chain.sh" "$scratch/mock/grid" "$scratch/mock/spectra.lst" \
  "$scratch/mock/input_catalog.csv" "$out" "$cfg" > "$scratch/submit.log" 2>&1
check "submit_chain.sh submits the chain" test $? -eq 0
cat "$scratch/submit.log"
for _ in $(seq 300); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 1; done
check "all jobs left the queue within 5 minutes" test -z "$(squeue -h)"
check "grid store written" test -f "$out/grid.h5"
check "spectra store written" test -f "$out/spectra.h5"
check "emulator written" test -f "$out/emulator.h5"
check "Cycle-StarNet model written (train_csn.sbatch)" test -f "$out/csn.h5"
check "catalog written and complete" test -f "$out/catalog.h5" -a ! -e "$out/catalog.h5.journal"
check "catalog has a teff column" h5ls "$out/catalog.h5/catalog/teff"
check "the fit went through the CSN (--csn: teff_emu column)" h5ls "$out/catalog.h5/catalog/teff_emu"
check "the fit ran under srun with 2 tasks" grep -q "2 rank(s)" "$out"/mstars-fit-*.log
if [ $fails -ne 0 ]; then
  for f in "$out"/*.log; do echo "== $f"; tail -5 "$f"; done
  tail -5 "$scratch/slurmctld.log"
  exit 1
fi
