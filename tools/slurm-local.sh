#!/usr/bin/env bash
# A single-node Slurm on this machine, for the tests and CI: munged, slurmctld and slurmd started
# without systemd, their state and config in one temporary folder.
#
#   tools/slurm-local.sh up     install Debian's packages if missing, write the config, start the daemons
#   tools/slurm-local.sh down   stop exactly the daemons `up` started (by their PIDs) and remove the folder
#   tools/slurm-local.sh env    print the export that points Slurm's commands at this cluster
#
# The settings are the minimal ones known to run Slurm 22.05 in a container without cgroups,
# systemd or an accounting database: process tracking through /proc, no task plugin, consumable
# cores, no accounting (slurm.conf(5)). STATE (default /tmp/slurm-local) holds everything; a
# second cluster beside the first needs its own STATE and SLURM_LOCAL_PORT.
set -euo pipefail
STATE="${SLURM_LOCAL_STATE:-/tmp/slurm-local}"
CONF="$STATE/slurm.conf"
CPUS="$(nproc)"
PORT="${SLURM_LOCAL_PORT:-6817}"  # slurmctld's; slurmd listens on the next one (Slurm's defaults)

die() { echo "tools/slurm-local.sh: $*" >&2; exit 2; }

install_packages() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null && command -v munged >/dev/null \
    && command -v sbatch >/dev/null && return 0
  command -v apt-get >/dev/null || die "no apt-get: install slurmctld, slurmd, slurm-client and munge yourself"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge >/dev/null \
    || die "apt-get could not install slurmctld slurmd slurm-client munge: run 'apt-get update' and try again"
}

write_config() {
  mkdir -p "$STATE"/{munge,spool/ctld,spool/d,log}
  chmod 0711 "$STATE/munge"  # munged's socket directory must be world-executable
  if [ ! -s "$STATE/munge/munge.key" ]; then
    head -c 1024 /dev/urandom >"$STATE/munge/munge.key"
  fi
  chmod 0400 "$STATE/munge/munge.key"
  # cred_expire: a requeued job waits cred_expire + 1 s before it may start again, and one started
  # sooner on the same node is killed ("Job credential revoked"; slurm.conf(5), AuthInfo). The
  # default 120 s would hold a preempted test job for two minutes.
  cat >"$CONF" <<CONFIG
ClusterName=local
SlurmctldHost=localhost
SlurmctldPort=$PORT
SlurmdPort=$((PORT + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$STATE/munge/munge.socket,cred_expire=10
StateSaveLocation=$STATE/spool/ctld
SlurmdSpoolDir=$STATE/spool/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
MinJobAge=300
NodeName=localhost CPUs=$CPUS State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONFIG
}

wait_for() {  # seconds, description, command...
  local seconds="$1" what="$2"; shift 2
  for _ in $(seq "$((seconds * 5))"); do "$@" >/dev/null 2>&1 && return 0; sleep 0.2; done
  die "$what did not come up within ${seconds} s: see $STATE/log/"
}

up() {
  install_packages
  [ -s "$STATE/munged.pid" ] && kill -0 "$(cat "$STATE/munged.pid")" 2>/dev/null \
    && die "a cluster is already up in $STATE: run 'tools/slurm-local.sh down' first"
  write_config
  munged --key-file="$STATE/munge/munge.key" --socket="$STATE/munge/munge.socket" \
    --pid-file="$STATE/munged.pid" --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/seed" --force
  wait_for 10 munged munge --socket="$STATE/munge/munge.socket" -n
  SLURM_CONF="$CONF" slurmctld -f "$CONF"
  wait_for 30 slurmctld env SLURM_CONF="$CONF" scontrol ping
  SLURM_CONF="$CONF" slurmd -f "$CONF"
  wait_for 30 "the node" bash -c "SLURM_CONF='$CONF' sinfo -h -o %t | grep -qE '^idle'"
  echo "slurm-local: up (${CPUS} CPUs, partition local); export SLURM_CONF=$CONF"
}

stop_pid() {  # the daemon whose PID file `up` wrote, and only it
  local file="$STATE/$1.pid"
  [ -s "$file" ] || return 0
  local pid; pid="$(cat "$file")"
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
  fi
  rm -f "$file"
}

down() {
  stop_pid slurmd
  stop_pid slurmctld
  stop_pid munged
  rm -rf "$STATE"
  echo "slurm-local: down"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) echo "export SLURM_CONF=$CONF" ;;
  *) die "usage: tools/slurm-local.sh up|down|env" ;;
esac
