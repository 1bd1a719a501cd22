#!/usr/bin/env bash
# `normtrain sweep --slurm` on a real one-node Slurm (tests/slurm/cluster.sh) whose MaxArraySize is
# 3: a 4-run sweep of the committed tiny data set is submitted as two job arrays (3 + 1 tasks);
# submitted again while they run, nothing is submitted twice; --wait waits for them and reports
# every run complete, each with one set of epochs; submitted after, every run is skipped; a
# task cancelled mid-run (scancel) is resumed to completion by the next submission; a task that
# fails is reported failed by --wait, exit 1. Exits 77 (skipped) when the cluster cannot start.
# Usage: tests/slurm/sweep_test.sh REPO_ROOT NORMTRAIN_BINARY
set -u
src=$1
bin=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d)
trap 'bash "$here/cluster.sh" stop "$work/cluster" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
base="$work/with space" # sweep folders whose paths have a space
mkdir -p "$base"
failures=0
started=$SECONDS

# --- the cluster ---
status=0
exports=$(NORMTRAIN_TEST_SLURM_CONF="MaxArraySize=3" bash "$here/cluster.sh" start "$work/cluster") ||
  status=$?
[ "$status" -eq 0 ] || exit "$status" # 77: cluster.sh said on stderr why it cannot start here
eval "$exports"
echo "cluster up in $((SECONDS - started)) s"

fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
  sed 's/^/    | /' "$work/out" "$work/err" 2>/dev/null
}

ok() {
  echo "ok:   $1 ($((SECONDS - started)) s)"
}

# sweep ARGS...: normtrain sweep ARGS, stdout in $work/out, stderr in $work/err, exit in $status.
sweep() {
  status=0
  "$bin" sweep "$@" >"$work/out" 2>"$work/err" || status=$?
}

# wait_for SECONDS COMMAND...
# shellcheck source=tests/support/wait_for.sh
source "$(dirname "${BASH_SOURCE[0]}")/../support/wait_for.sh"

epochs_in() {
  echo $(($(wc -l <"$1/metrics.csv") - 1))
}

completed() {
  grep -q '"status": "completed"' "$1/run.json" 2>/dev/null
}

# once DIR EPOCHS: DIR holds a complete run of EPOCHS epochs, each epoch once in metrics.csv, and
# its normtrain.log shows one start (no run of it trained twice).
once() {
  completed "$1" && [ "$(cut -d, -f1 "$1/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq 1 "$2" | tr '\n' ' ')" ] &&
    [ "$(grep -c '): start: ' "$1/normtrain.log")" -eq 1 ]
}

tiny=(--data-dir "$src/data/mnist-tiny" --limit-test 100)
grid=(--norm "ln,gn" --groups 4 --seed "1,2" "${tiny[@]}" --limit-train 256 --epochs 1)
names=(ln_seed-1 ln_seed-2 gn-4_seed-1 gn-4_seed-2)

# ---- The job script ----------------------------------------------------------------------------
sweep --slurm --dry-run --threads-per-job 1 --out "$base/s" -- "${grid[@]}"
if [ "$status" -eq 0 ] && grep -qx '#SBATCH --cpus-per-task=1' "$work/out" &&
  [ "$(grep -c -- '--array=0-2 ' "$work/out")" -eq 1 ] && [ "$(grep -c -- '--array=0-0 ' "$work/out")" -eq 1 ] &&
  bash -n "$work/out" && [ ! -e "$base/s" ]; then
  ok "--dry-run prints the job script and two arrays (MaxArraySize 3), and writes nothing"
else
  fail "--slurm --dry-run: exit $status"
fi

# ---- Submit, submit again while it runs, wait --------------------------------------------------
sweep --slurm --threads-per-job 1 --out "$base/s" -- "${grid[@]}"
if [ "$status" -eq 0 ] && [ "$(grep -c '^sweep: submitted job array' "$work/out")" -eq 2 ] &&
  [ -f "$base/s/sweep.sbatch" ] && [ -f "$base/s/sweep.json" ] &&
  [ "$(find "$base/s/.sweep" -name 'plan-*.json' | wc -l)" -eq 2 ]; then
  ok "a 4-run sweep is submitted as two job arrays, each with its plan file"
else
  fail "first submission: exit $status"
fi
plans_before=$(cd "$base/s/.sweep" && md5sum plan-*.json)
sweep --slurm --threads-per-job 1 --out "$base/s" -- "${grid[@]}"
if [ "$status" -eq 0 ] && ! grep -q '^sweep: submitted' "$work/out" &&
  grep -q 'nothing to submit' "$work/out"; then
  ok "submitted again while the arrays are queued or running: nothing is submitted twice"
else
  fail "second submission while running: exit $status"
fi
sweep --slurm --wait --threads-per-job 1 --out "$base/s" -- "${grid[@]}"
all_once=1
for name in "${names[@]}"; do once "$base/s/$name" 1 || all_once=0; done
# Tasks may finish before --wait looks, and then count as skipped as complete: all 4 are done.
read -r now done_before < <(sed -nE \
  's/^sweep: ([0-9]+) completed now, ([0-9]+) skipped as complete, 0 diverged, 0 failed$/\1 \2/p' \
  "$work/out")
if [ "$status" -eq 0 ] && [ $((${now:-0} + ${done_before:-0})) -eq 4 ] &&
  [ "$all_once" -eq 1 ] && grep -q '^  normtrain report --aggregate ' "$work/out" &&
  [ "$(cd "$base/s/.sweep" && md5sum plan-*.json)" = "$plans_before" ]; then
  ok "--wait waits for both arrays: every run complete, each trained once, plan files unchanged"
else
  fail "--wait: exit $status"
  for name in "${names[@]}"; do sed "s/^/    $name | /" "$base/s/$name/normtrain.log"; done
fi
sweep --slurm --threads-per-job 1 --out "$base/s" -- "${grid[@]}"
if [ "$status" -eq 0 ] && grep -q 'nothing to submit: of the 4 runs in .*, 4 skipped as complete' "$work/out"; then
  ok "submitted after they finished: every run is skipped as complete"
else
  fail "submission after completion: exit $status"
fi

# ---- scancel mid-run, then submit again: the run resumes --------------------------------------
long=(--norm ln --seed 1 "${tiny[@]}" --epochs 30)
sweep --slurm --threads-per-job 1 --out "$base/cancel" -- "${long[@]}"
job=$(sed -n 's/^sweep: submitted job array \([0-9]*\) .*/\1/p' "$work/out")
has_an_epoch() {
  [ -f "$base/cancel/ln/metrics.csv" ] && [ "$(epochs_in "$base/cancel/ln")" -ge 1 ]
}
job_gone() {
  [ -z "$(squeue -h -j "$1" 2>/dev/null)" ]
}
if [ -n "$job" ] && wait_for 120 has_an_epoch; then
  scancel "${job}_0"
  wait_for 30 job_gone "$job"
  kept=$(epochs_in "$base/cancel/ln")
  if grep -q '"status": "interrupted"' "$base/cancel/ln/run.json" && [ "$kept" -lt 30 ]; then
    ok "scancel stops the task's run cleanly after epoch $kept"
  else
    fail "scancel: run.json says $(grep '"status"' "$base/cancel/ln/run.json")"
  fi
  sweep --slurm --wait --threads-per-job 1 --out "$base/cancel" -- "${long[@]}"
  if [ "$status" -eq 0 ] && grep -q '^sweep: submitted job array' "$work/out" &&
    grep -qx 'sweep: 1 completed now, 0 skipped as complete, 0 diverged, 0 failed' "$work/out" &&
    completed "$base/cancel/ln" &&
    [ "$(cut -d, -f1 "$base/cancel/ln/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq 1 30 | tr '\n' ' ')" ] &&
    grep -q '): resume: ' "$base/cancel/ln/normtrain.log"; then
    ok "submitted again, the cancelled run resumes and completes its 30 epochs, each once"
  else
    fail "resubmission after scancel: exit $status"
    sed 's/^/    log | /' "$base/cancel/ln/normtrain.log"
  fi
else
  fail "the long run was not submitted or never finished an epoch"
fi

# ---- A task that fails --------------------------------------------------------------------------
mkdir "$work/no-data"
sweep --slurm --wait --out "$base/fail" -- --norm gn --groups 4 --data-dir "$work/no-data" --no-download --epochs 1
if [ "$status" -eq 1 ] && grep -qx 'sweep: 0 completed now, 0 skipped as complete, 0 diverged, 1 failed' "$work/out" &&
  grep -q "^  failed: $base/fail/gn-4 (Slurm task [0-9]*_0 FAILED" "$work/out" &&
  ! grep -q 'sbatch failed' "$work/out" "$work/err" && grep -q 'not found in' "$base/fail/gn-4/normtrain.log"; then
  ok "--wait reports a task that fails as failed (exit 1), with its Slurm state"
else
  fail "failing task: exit $status (want 1)"
fi

echo "total $((SECONDS - started)) s"
if [ "$failures" -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "slurm sweep ok"
