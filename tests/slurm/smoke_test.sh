#!/usr/bin/env bash
# Starts a private one-node Slurm cluster (tests/slurm/cluster.sh) and checks what normtrain's
# Slurm sweeps rely on: a 3-task job array runs and writes its outputs, 1-CPU tasks run side by
# side, scancel stops one running array task and then the rest, and squeue/scontrol (not sacct:
# there is no slurmdbd) report the jobs. Prints MaxArraySize, the node's CPUs and how long the
# cluster took to start. Exits 77 (skipped), saying why, when the cluster cannot start here.
# Usage: tests/slurm/smoke_test.sh
set -euo pipefail

cluster=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cluster.sh
work=$(mktemp -d)
trap 'bash "$cluster" stop "$work/cluster" || true; rm -rf "$work"' EXIT
mkdir -p "$work/jobs"

fail() {
  echo "FAIL: $1"
  shift
  for file in "$@"; do
    [ -e "$file" ] && sed 's/^/    | /' "$file"
  done
  echo "    slurmctld.log:"
  tail -n 20 "$work/cluster/log/slurmctld.log" 2>/dev/null | sed 's/^/    | /' || true
  exit 1
}

ok() {
  echo "ok:   $1"
}

# wait_for SECONDS COMMAND...
# shellcheck source=tests/support/wait_for.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/wait_for.sh"

# job_gone ID: squeue no longer lists job (or array) ID as pending, running or completing.
job_gone() {
  [ -z "$(squeue -h -j "$1" -t PD,R,CG -o %i 2>/dev/null)" ]
}

# task_states ID: "TASK_ID=STATE" for each task of array ID, from scontrol (sacct needs slurmdbd).
task_states() {
  scontrol -o show job "$1" |
    sed -n 's/.*ArrayTaskId=\([0-9]*\) .*JobState=\([A-Z_]*\) .*/\1=\2/p' | sort -n
}

# running_count ID: how many tasks of array ID are running.
running_count() {
  squeue -h -j "$1" -t R -o %i | wc -l
}

# running_at_least ID N: at least N tasks of array ID are running.
running_at_least() {
  [ "$(running_count "$1")" -ge "$2" ]
}

# no_process PATTERN: no process's command line is exactly PATTERN.
no_process() {
  ! pgrep -f "^$1\$" >/dev/null
}

# processes_at_least PATTERN N: at least N processes' command lines are exactly PATTERN.
processes_at_least() {
  [ "$(pgrep -c -f "^$1\$")" -ge "$2" ]
}

# --- start (timed) ---
started=$(date +%s.%N)
status=0
exports=$(bash "$cluster" start "$work/cluster") || status=$?
[ "$status" -eq 0 ] || exit "$status" # 77: cluster.sh said on stderr why it cannot start here
eval "$exports"
start_s=$(awk -v a="$started" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
echo "cluster started in ${start_s} s (SLURM_CONF=$SLURM_CONF)"

max_array=$(scontrol show config | awk '$1 == "MaxArraySize" { print $3 }')
cpus=$(sinfo -h -N -o %c | head -n 1)
echo "MaxArraySize=$max_array node CPUs=$cpus"
if [ -z "$max_array" ] || [ "$max_array" -lt 3 ]; then
  fail "MaxArraySize '$max_array' is under 3"
fi
[ "$cpus" = "$(nproc)" ] || fail "node has '$cpus' CPUs, nproc says $(nproc)"
ok "scontrol show config and sinfo report MaxArraySize and the node's CPUs"

# --- a 3-task array writes its outputs ---
# shellcheck disable=SC2016  # $SLURM_ARRAY_TASK_ID is expanded by the job, not here
array=$(sbatch --parsable --chdir="$work/jobs" --output=/dev/null --array=0-2 \
  --cpus-per-task=1 --wrap 'echo $SLURM_ARRAY_TASK_ID > out.$SLURM_ARRAY_TASK_ID')
array=${array%%;*} # --parsable prints "id" or "id;cluster"
wait_for 60 job_gone "$array" || fail "array $array still queued or running after 60 s"
for task in 0 1 2; do
  [ "$(cat "$work/jobs/out.$task" 2>/dev/null)" = "$task" ] ||
    fail "array task $task did not write out.$task"
done
states=$(task_states "$array" | tr '\n' ' ')
[ "$states" = "0=COMPLETED 1=COMPLETED 2=COMPLETED " ] ||
  fail "array $array task states are '$states' (scontrol), not all COMPLETED"
ok "array $array ran its 3 tasks, wrote out.0-2 and scontrol reports them COMPLETED"

# --- 1-CPU tasks run side by side; scancel stops a running task, then the rest ---
marker="sleep 30.$$" # a command line no other process has, to find the tasks' processes
sleepers=$(sbatch --parsable --chdir="$work/jobs" --output=/dev/null --array=0-2 \
  --cpus-per-task=1 --wrap "$marker")
sleepers=${sleepers%%;*}
expected=$((cpus < 3 ? cpus : 3))
wait_for 30 running_at_least "$sleepers" "$expected" ||
  fail "only $(running_count "$sleepers") of array $sleepers's tasks run at once, not $expected"
ok "$expected 1-CPU tasks of array $sleepers run side by side on $cpus CPUs"

scancel "${sleepers}_0"
wait_for 20 job_gone "${sleepers}_0" || fail "task ${sleepers}_0 still running after scancel"
state=$(task_states "$sleepers" | sed -n 's/^0=//p')
[ "$state" = CANCELLED ] || fail "task ${sleepers}_0 is '$state' after scancel, not CANCELLED"
[ "$(running_count "$sleepers")" -ge 1 ] || fail "scancel of task 0 stopped the other tasks too"
ok "scancel ${sleepers}_0 cancelled that task and left the others running"

# Task 2 takes task 0's CPU. Cancel the rest only once its process exists: a kill that lands
# while slurmd is still launching a task can miss the task's process (proctrack/linuxproc).
remaining=$((cpus < 2 ? cpus : 2))
wait_for 30 processes_at_least "$marker" "$remaining" ||
  fail "only $(pgrep -c -f "^$marker\$") of the $remaining remaining tasks' processes started"

scancel "$sleepers"
wait_for 20 job_gone "$sleepers" || fail "array $sleepers still running after scancel"
wait_for 10 no_process "$marker" ||
  fail "the cancelled tasks' '$marker' processes are still running"
ok "scancel $sleepers cancelled the rest and their processes are gone"

# --- no accounting database: sacct may fail, squeue/scontrol must do ---
if sacct_out=$(timeout 10 sacct -n -j "$array" 2>&1); then
  echo "note: sacct works here: $(echo "$sacct_out" | head -n 1)"
else
  echo "note: sacct unavailable as expected (no slurmdbd): $(echo "$sacct_out" | head -n 1)"
fi

echo "all Slurm smoke checks passed (cluster start ${start_s} s, total ${SECONDS} s)"
