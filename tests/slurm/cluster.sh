#!/usr/bin/env bash
# A private one-node Slurm cluster (slurmctld + slurmd on this host, munge for authentication)
# living entirely under DIR: its own slurm.conf, munge key and socket, state, spool, logs and
# pid files. It never reads or writes /etc/slurm, /etc/munge or the system munged, so it can
# run alongside a real installation and `stop` + `rm -rf DIR` leaves no trace.
#
# Usage: cluster.sh start DIR   prints `export SLURM_CONF=DIR/slurm.conf` on stdout (after an
#                               `unset` of any SLURM_* variables inherited from an enclosing job)
#                               once the node is idle and `srun -N1 hostname` works; progress
#                               and errors go to stderr.
#        cluster.sh stop DIR    cancels the cluster's jobs, stops its daemons and waits for them.
# In a test (the command substitution's status is lost inside eval, hence two steps):
#   exports=$(tests/slurm/cluster.sh start "$dir") || exit $?   # 77 means skip
#   eval "$exports"
#   trap 'tests/slurm/cluster.sh stop "$dir"' EXIT
#
# NORMTRAIN_TEST_SLURM_CONF, when set, holds more slurm.conf lines (e.g. MaxArraySize=3 for a
# test of splitting large sweeps into several job arrays).
#
# Exit status of start: 0 ready; 77 (skip) when Slurm or munge is missing and cannot be
# installed, or a daemon cannot start here; 1 when the daemons run but the node never becomes
# usable (a real failure); 2 bad usage.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)

usage() {
  echo "usage: cluster.sh start|stop DIR" >&2
  exit 2
}

log() {
  echo "cluster.sh: $*" >&2
}

skip() {
  echo "SKIP: $*" >&2
  exit 77
}

# alive PIDFILE: the pid in PIDFILE runs and belongs to this cluster (its command line names
# DIR), so a recycled pid is never signalled.
alive() {
  local pid
  pid=$(cat "$1" 2>/dev/null) && [ -n "$pid" ] || return 1
  # A zombie (exited, not yet reaped by PID 1) has an empty cmdline: not alive.
  [ -r "/proc/$pid/cmdline" ] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$dir"
}

# stop_daemon NAME PIDFILE: SIGTERM, up to 15 s to exit, then SIGKILL.
stop_daemon() {
  local pid i
  alive "$2" || return 0
  pid=$(cat "$2" 2>/dev/null) || return 0
  kill -TERM "$pid" 2>/dev/null || return 0
  for ((i = 0; i < 150; i++)); do
    alive "$2" || return 0
    sleep 0.1
  done
  log "$1 (pid $pid) ignored SIGTERM; killing it"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$2" || return 0
    sleep 0.1
  done
  log "$1 (pid $pid) is still running"
  return 1
}

# free_port_pair: prints P such that P and P+1 are not listened on; random start in 20000-29998
# so that two clusters started at once rarely race for the same ports. Without ss (iproute2)
# every port looks free.
free_port_pair() {
  local p i
  for ((i = 0; i < 200; i++)); do
    p=$((20000 + RANDOM % 9999))
    if [ -z "$(ss -Htan "( sport = :$p or sport = :$((p + 1)) )" 2>/dev/null)" ]; then
      echo "$p"
      return 0
    fi
  done
  return 1
}

# daemon_failed NAME LOG: a daemon did not start; say why (its log's tail) and skip.
daemon_failed() {
  log "$1 did not start; last lines of $2:"
  tail -n 15 "$2" >&2 2>/dev/null || true
  do_stop
  skip "$1 cannot start on this machine (see above)"
}

do_stop() {
  local ids i rc=0 pid
  # When start fails it calls do_stop with the marker exported: keep it off our own children.
  unset NORMTRAIN_SLURM_CLUSTER
  if alive "$dir/run/slurmctld.pid"; then
    # Cancel jobs first so that slurmd's slurmstepd processes end the jobs' processes cleanly.
    ids=$(SLURM_CONF="$dir/slurm.conf" timeout 10 squeue -h -o %A 2>/dev/null || true)
    if [ -n "$ids" ]; then
      # shellcheck disable=SC2086  # ids is a list of numeric job ids
      SLURM_CONF="$dir/slurm.conf" timeout 10 scancel $ids 2>/dev/null || true
      for ((i = 0; i < 100; i++)); do
        [ -z "$(SLURM_CONF="$dir/slurm.conf" timeout 5 squeue -h -t R,CG -o %A 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  stop_daemon slurmd "$dir/run/slurmd.pid" || rc=1
  stop_daemon slurmctld "$dir/run/slurmctld.pid" || rc=1
  # slurmstepd processes left over (slurmd was killed mid-job) inherit slurmd's marked environment.
  grep -lsaF "NORMTRAIN_SLURM_CLUSTER=$dir" /proc/[0-9]*/environ 2>/dev/null | cut -d/ -f3 |
    while read -r pid; do
      [ "$pid" = "$$" ] || kill -KILL "$pid" 2>/dev/null || true
    done || true # grep says 2 for the environ of processes it may not read
  stop_daemon munged "$dir/run/munged.pid" || rc=1
  return "$rc"
}

do_start() {
  local tool missing=() host cpus mem_kib mem_mib port state i deadline started
  started=$(date +%s.%N)
  # Variables of an enclosing Slurm job (a CI runner on a real cluster) would send srun and
  # sbatch to that job's allocation; drop them here and have the caller drop them too.
  local inherited=()
  mapfile -t inherited < <(compgen -e | grep '^SLURM_' | grep -vx SLURM_CONF || true)
  [ ${#inherited[@]} -eq 0 ] || unset "${inherited[@]}"
  for tool in munged mungekey munge unmunge slurmctld slurmd sinfo srun squeue scontrol; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "missing ${missing[*]}; trying scripts/install_slurm.sh"
    if [ "$(id -u)" -eq 0 ] || sudo -n true 2>/dev/null; then
      "$repo/scripts/install_slurm.sh" >&2 || skip "Slurm/munge packages missing and not installable"
      hash -r
      for tool in "${missing[@]}"; do
        command -v "$tool" >/dev/null || skip "$tool not found even after scripts/install_slurm.sh"
      done
    else
      skip "Slurm/munge packages missing (${missing[*]}); run scripts/install_slurm.sh as root"
    fi
  fi

  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/tmp"
  # munged refuses a key or socket directory others can write to; others may reach the socket.
  chmod 755 "$dir/munge"

  # --- munge: own key, socket, pid, log and seed; nothing of /etc/munge or /run/munge ---
  rm -f "$dir/munge/munge.key"
  mungekey --create --keyfile="$dir/munge/munge.key" >/dev/null 2>&1 ||
    { dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none &&
      chmod 600 "$dir/munge/munge.key"; }
  local sock="$dir/munge/munge.socket"
  # -f: DIR's parents (e.g. /tmp, sticky and world-writable) would otherwise fail munged's checks.
  munged -f --socket="$sock" --key-file="$dir/munge/munge.key" \
    --pid-file="$dir/run/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munged.seed" >>"$dir/log/munged.out" 2>&1 ||
    daemon_failed munged "$dir/log/munged.out"
  for ((i = 0; i < 50; i++)); do
    [ -S "$sock" ] && alive "$dir/run/munged.pid" && break
    sleep 0.1
  done
  munge -n -S "$sock" 2>/dev/null | unmunge -S "$sock" >/dev/null 2>&1 ||
    daemon_failed munged "$dir/log/munged.log"

  # --- slurm.conf ---
  host=$(hostname -s)
  cpus=$(nproc)
  mem_kib=$(awk '/^MemTotal:/ { print $2 }' /proc/meminfo)
  # 1% below MemTotal: a node configured with more memory than slurmd detects is marked invalid.
  mem_mib=$((mem_kib * 99 / 100 / 1024))
  port=$(free_port_pair) || skip "no two free TCP ports in 20000-29999"
  local user
  user=$(id -un)
  cat >"$dir/slurm.conf" <<EOF
# Private one-node cluster written by tests/slurm/cluster.sh; everything lives under $dir.
ClusterName=normtrain-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
# The daemons run as whoever starts them (root here); jobs run as that user too.
SlurmUser=$user
SlurmdUser=$user
AuthType=auth/munge
CredType=cred/munge
# Daemons and client commands all reach the private munged through this socket.
AuthInfo=socket=$sock
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
TmpFS=$dir/tmp
# No cgroups: works in containers and VMs without a delegated cgroup tree.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
MailProg=/bin/true
# Consumable cores, so several 1-CPU tasks run side by side on the one node.
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# Do not defer batch jobs' scheduling (default: up to 3 s a time); arrays finish ~3x sooner.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
# Finished jobs stay visible to squeue/scontrol for 5 minutes (there is no slurmdbd for sacct).
MinJobAge=300
KillWait=5
InactiveLimit=0
SlurmctldDebug=info
SlurmdDebug=info
${NORMTRAIN_TEST_SLURM_CONF:-}
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mib State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
  export SLURM_CONF="$dir/slurm.conf"

  # --- daemons; both fork into the background and write their pid files ---
  # NORMTRAIN_SLURM_CLUSTER marks the Slurm daemons and the slurmstepd they start (see do_stop).
  export NORMTRAIN_SLURM_CLUSTER="$dir"
  # -i: ignore (absent) saved state, so a reused DIR starts clean.
  slurmctld -f "$SLURM_CONF" -i >>"$dir/log/slurmctld.out" 2>&1 ||
    daemon_failed slurmctld "$dir/log/slurmctld.log"
  for ((i = 0; i < 100; i++)); do
    alive "$dir/run/slurmctld.pid" && scontrol ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  alive "$dir/run/slurmctld.pid" || daemon_failed slurmctld "$dir/log/slurmctld.log"
  slurmd -f "$SLURM_CONF" >>"$dir/log/slurmd.out" 2>&1 ||
    daemon_failed slurmd "$dir/log/slurmd.log"
  for ((i = 0; i < 50; i++)); do
    alive "$dir/run/slurmd.pid" && break
    sleep 0.1
  done
  alive "$dir/run/slurmd.pid" || daemon_failed slurmd "$dir/log/slurmd.log"

  # --- wait (30 s at most) for the node to be idle and a step to run ---
  deadline=$((SECONDS + 30))
  state=
  while [ "$SECONDS" -lt "$deadline" ]; do
    state=$(sinfo -h -N -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.2
  done
  if [ "$state" != idle ]; then
    log "node $host is '${state:-unknown}', not idle, after 30 s; slurmctld.log and slurmd.log:"
    tail -n 15 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
    do_stop || true
    exit 1
  fi
  if ! out=$(timeout $((deadline - SECONDS + 5)) srun -N1 -t 1 hostname 2>&1) ||
    [ "$(printf '%s\n' "$out" | tail -n 1)" != "$(hostname)" ]; then
    log "srun -N1 hostname failed: $out; slurmd.log:"
    tail -n 15 "$dir/log/slurmd.log" >&2 || true
    do_stop || true
    exit 1
  fi
  log "cluster up under $dir (node $host, $cpus CPUs, ports $port-$((port + 1))) in" \
    "$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f s", b - a }')"
  [ ${#inherited[@]} -eq 0 ] || echo "unset ${inherited[*]}"
  printf 'export SLURM_CONF=%q\n' "$SLURM_CONF"
}

[ $# -eq 2 ] || usage
command=$1
dir=$2
case "$command" in
  start) do_start ;;
  stop)
    dir=$(cd "$dir" 2>/dev/null && pwd) || exit 0 # nothing started, nothing to stop
    do_stop
    ;;
  *) usage ;;
esac
