#!/usr/bin/env bash
# `normtrain sweep` on the committed tiny data set: the grid expands to the expected run folders,
# a local sweep completes its runs and a second one skips them, stopped or shorter runs are
# resumed rather than restarted, a folder holding a different run (a flag the folder name does
# not show) stops the sweep before it runs anything, a diverging run is reported as diverged and
# not retried, Ctrl-C stops a sweep, the Slurm job script is valid (tests/slurm/sweep_test.sh
# submits to a real Slurm), scripts/sweep.sh passes everything on, and bad arguments give the
# promised exit codes. Runs are 256 training images (512 for the diverging one).
# Usage: sweep_test.sh REPO_ROOT NORMTRAIN_BINARY
set -u
src=$1
bin=$2
# has_sweep BINARY: BINARY has the sweep subcommand (its help lists the sweep's own options).
has_sweep() {
  "$1" sweep --help 2>/dev/null | grep -q -- '--task-index'
}
if ! has_sweep "$bin"; then
  echo "SKIP: $bin has no sweep subcommand (yet)"
  exit 77
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
base="$work/with space"  # run folders whose paths have a space
mkdir -p "$base"
failures=0
tiny=(--data-dir "$src/data/mnist-tiny" --limit-train 256 --limit-test 100 --threads 1)

fail() {
  echo "FAIL: $1"
  failures=$((failures + 1))
  sed 's/^/    | /' "$work/out" "$work/err" 2>/dev/null
}

ok() {
  echo "ok:   $1"
}

# sweep ARGS...: normtrain sweep ARGS with stdout in $work/out, stderr in $work/err, exit status
# in $status.
sweep() {
  status=0
  "$bin" sweep "$@" >"$work/out" 2>"$work/err" || status=$?
}

# summary_is LINE: the last sweep printed exactly this summary line.
summary_is() {
  grep -qxF -- "$1" "$work/out"
}

# epochs_in DIR: the number of epoch rows in DIR/metrics.csv.
epochs_in() {
  echo $(($(wc -l <"$1/metrics.csv") - 1))
}

completed() {
  grep -q '"status": "completed"' "$1/run.json" 2>/dev/null
}

# ---- Expanding the grid ---------------------------------------------------------------------
six=(--norm "bn,gn" --groups "2,8" --seed "1,2" "${tiny[@]}" --epochs 1)
sweep --out "$base/dry" --dry-run -- "${six[@]}"
names=$(awk '$1 == "start" { sub(/:$/, "", $2); print $2 }' "$work/out" | sort | tr '\n' ' ')
want="bn_seed-1 bn_seed-2 gn-2_seed-1 gn-2_seed-2 gn-8_seed-1 gn-8_seed-2 "
if [ "$status" -eq 0 ] && [ "$names" = "$want" ] && [ "$(grep -c '^start .*--continue' "$work/out")" -eq 6 ] &&
  ! grep -q '^start  *bn.*--groups' "$work/out" && [ ! -e "$base/dry" ]; then
  ok "--dry-run lists the 6 runs of bn,gn x groups 2,8 x 2 seeds and creates nothing"
else
  fail "--dry-run: exit $status, runs '$names', want '$want'"
fi

# The schedule flags go only to the runs of their schedule, and the schedule is in the name.
sweep --out "$base/dry" --dry-run -- --norm "in,gn" --groups 4 --scheduler "none,step" --gamma "0.1,0.5" --seed 1
names=$(awk '$1 == "start" { sub(/:$/, "", $2); print $2 }' "$work/out" | tr '\n' ' ')
want="in in-step_gamma-0.1 in-step_gamma-0.5 gn-4 gn-4-step_gamma-0.1 gn-4-step_gamma-0.5 "
if [ "$status" -eq 0 ] && [ "$names" = "$want" ] && ! grep -q 'scheduler none.*--gamma' "$work/out"; then
  ok "--gamma goes only to --scheduler step runs"
else
  fail "--dry-run with schedules: exit $status, runs '$names', want '$want'"
fi

# ---- Slurm ----------------------------------------------------------------------------------
# The job script, and what would be submitted, without submitting (here there may be no Slurm).
sweep --out "$base/slurm" --slurm --dry-run -- "${six[@]}"
cp "$work/out" "$work/dry.sbatch"
if [ "$status" -eq 0 ] && grep -qx '#SBATCH --cpus-per-task=1' "$work/dry.sbatch" &&
  grep -qxF "#SBATCH --output=\"$base/slurm/slurm-%A_%a.log\"" "$work/dry.sbatch" &&
  grep -q -- '^# would run: sbatch .*--array=0-5 ' "$work/dry.sbatch" &&
  [ "$(grep -c '^#   task [0-5]: start ' "$work/dry.sbatch")" -eq 6 ] &&
  grep -qF " sweep --plan \"\${1:?" "$work/dry.sbatch" && ! grep -q 'eval' "$work/dry.sbatch" &&
  bash -n "$work/dry.sbatch" && [ ! -e "$base/slurm" ]; then
  ok "--slurm --dry-run prints a valid job script for an array of 6 tasks and writes nothing"
else
  fail "--slurm --dry-run: exit $status"
fi

# A PATH without sbatch, whatever this machine has: one folder of links to every other command
# on PATH (on a Slurm machine sbatch shares /usr/bin with bash and the rest).
mkdir "$work/no-sbatch"
IFS=: read -ra path_dirs <<<"$PATH"
for dir in "${path_dirs[@]}"; do
  for tool in "$dir"/*; do
    name=${tool##*/}
    [ "$name" != sbatch ] && [ -f "$tool" ] && [ -x "$tool" ] && [ ! -e "$work/no-sbatch/$name" ] &&
      ln -s "$tool" "$work/no-sbatch/$name"
  done
done
PATH=$work/no-sbatch sweep --out "$base/slurm" --slurm --jobs 2 -- "${six[@]}"
# Where Slurm is not installed (or is being installed meanwhile), the others are missing too.
if [ "$status" -eq 1 ] && grep -qE 'sbatch(, [a-z]+)* not found on PATH' "$work/err" &&
  [ ! -e "$base/slurm" ]; then
  ok "--slurm without sbatch fails with exit 1, says why and writes nothing"
else
  fail "--slurm without sbatch: exit $status (want 1)"
fi

# ---- A local sweep, then the same again -----------------------------------------------------
two=(--norm "ln,gn" --groups 4 --seed 1 "${tiny[@]}")
sweep --out "$base/local" --jobs 2 -- "${two[@]}" --epochs 1
if [ "$status" -eq 0 ] && completed "$base/local/ln" && completed "$base/local/gn-4" &&
  [ "$(ls "$base/local")" = "$(printf 'gn-4\nln')" ] && [ -s "$base/local/ln/normtrain.log" ] &&
  summary_is "sweep: 2 completed now, 0 skipped as complete, 0 diverged, 0 failed" &&
  grep -qxF "  normtrain report --aggregate '$base/local/ln' '$base/local/gn-4'" "$work/out"; then
  ok "a local sweep of ln,gn-4 on 2 jobs completes both and prints the aggregate command"
else
  fail "local sweep: exit $status"
fi
(cd "$base/local" && md5sum ./*/metrics.csv ./*/steps.csv) >"$work/sums"
sweep --out "$base/local" --jobs 2 -- "${two[@]}" --epochs 1
if [ "$status" -eq 0 ] && summary_is "sweep: 0 completed now, 2 skipped as complete, 0 diverged, 0 failed" &&
  (cd "$base/local" && md5sum --quiet -c "$work/sums"); then
  ok "the same sweep again skips both and leaves their files alone"
else
  fail "second local sweep: exit $status"
fi

# ---- Resuming: a stopped run, and a finished one given more epochs --------------------------
mkdir "$base/resume"
cp -r "$base/local/ln" "$base/local/gn-4" "$base/resume/"
sed -i 's/"status": "completed"/"status": "interrupted"/' "$base/resume/ln/run.json"
first_ln=$(sed -n 2p "$base/resume/ln/metrics.csv")
first_gn=$(sed -n 2p "$base/resume/gn-4/metrics.csv")
sweep --out "$base/resume" --dry-run -- "${two[@]}" --epochs 2
if [ "$status" -eq 0 ] && grep -q '^resume   ln: .*--continue  # .*after epoch 1 of 2' "$work/out" &&
  grep -q '^extend   gn-4: .*--continue  # .*from 1 to 2 epochs' "$work/out"; then
  ok "--dry-run shows the interrupted one resumed, the finished one extended"
else
  fail "--dry-run of the runs to resume: exit $status"
fi
sweep --out "$base/resume" -- "${two[@]}" --epochs 2
if [ "$status" -eq 0 ] && summary_is "sweep: 2 completed now, 0 skipped as complete, 0 diverged, 0 failed" &&
  completed "$base/resume/ln" && completed "$base/resume/gn-4" &&
  [ "$(epochs_in "$base/resume/ln")" -eq 2 ] && [ "$(epochs_in "$base/resume/gn-4")" -eq 2 ] &&
  [ "$(sed -n 2p "$base/resume/ln/metrics.csv")" = "$first_ln" ] &&
  [ "$(sed -n 2p "$base/resume/gn-4/metrics.csv")" = "$first_gn" ] &&
  grep -q '^# sweep [^ ]*: resume: ' "$base/resume/ln/normtrain.log" &&
  grep -q '^# sweep [^ ]*: extend: ' "$base/resume/gn-4/normtrain.log" &&
  grep -q '^# sweep [^ ]*: .*--epochs 2 .*--continue$' "$base/resume/gn-4/normtrain.log"; then
  ok "an interrupted run is resumed and a 1-epoch run extended to 2, epoch 1 kept as it was"
else
  fail "resume: exit $status"
fi

# A finished one-cycle run cannot be extended: its schedule depends on the total epochs.
sweep --out "$base/short" -- --norm ln --scheduler onecycle --seed 1 "${tiny[@]}" --epochs 1
(cd "$base/short" && find . -type f ! -name .normtrain.lock -exec md5sum {} +) >"$work/sums"
sweep --out "$base/short" -- --norm ln --scheduler onecycle --seed 1 "${tiny[@]}" --epochs 2
if [ "$status" -eq 2 ] && grep -q 'ln-onecycle holds a different run: --epochs 1 (saved) vs 2' "$work/err" &&
  grep -q 'one-cycle schedule depends on the total' "$work/err" && [ ! -s "$work/out" ] &&
  (cd "$base/short" && md5sum --quiet -c "$work/sums"); then
  ok "a finished one-cycle run asked for more epochs is refused with the reason and left alone"
else
  fail "one-cycle extension: exit $status (want 2)"
fi

# ---- A folder that holds a different run ----------------------------------------------------
# --lr is not in the folder name (it does not vary), so only the saved configuration tells the
# lr-0.01 run from the lr-0.05 one asked for: the sweep refuses, names the flag, runs nothing.
sweep --out "$base/stale" -- --norm gn "${tiny[@]}" --epochs 1
(cd "$base/stale" && find . -type f ! -name .normtrain.lock -exec md5sum {} +) >"$work/sums"
sweep --out "$base/stale" -- --norm gn "${tiny[@]}" --epochs 1 --lr 0.05
if [ "$status" -eq 2 ] && grep -q 'refuses 1 of the 1 runs' "$work/err" &&
  grep -qF "$base/stale/gn-8 holds a different run: --lr 0.01 (saved) vs 0.05 (requested)" "$work/err" &&
  [ ! -s "$work/out" ] && (cd "$base/stale" && md5sum --quiet -c "$work/sums"); then
  ok "a folder holding the same variant with another --lr is refused, naming --lr, and left alone"
else
  fail "stale folder: exit $status (want 2)"
fi
sweep --out "$base/stale" --dry-run -- --norm "gn,in" "${tiny[@]}" --epochs 1 --lr 0.05
if [ "$status" -eq 2 ] && grep -q '^refused  gn-8: .*--lr 0.01 (saved) vs 0.05' "$work/out" &&
  grep -q '^start    in: ' "$work/out" && grep -q ', 1 refused' "$work/out"; then
  ok "--dry-run lists the refused folder beside the others and exits 2"
else
  fail "--dry-run of a stale folder: exit $status (want 2)"
fi
sweep --out "$base/stale" -- --norm "gn,in" "${tiny[@]}" --epochs 1 --lr 0.05
if [ "$status" -eq 2 ] && grep -q 'refuses 1 of the 2 runs' "$work/err" && [ ! -e "$base/stale/in" ] &&
  (cd "$base/stale" && md5sum --quiet -c "$work/sums"); then
  ok "one refused folder stops the whole sweep before it starts any run"
else
  fail "stale folder in a larger grid: exit $status (want 2)"
fi
sweep --out "$base/stale" --slurm --dry-run -- --norm gn "${tiny[@]}" --epochs 1 --lr 0.05
if [ "$status" -eq 2 ] && grep -q -- '--lr 0.01 (saved) vs 0.05' "$work/err" && [ ! -e "$base/stale/sweep.sbatch" ]; then
  ok "--slurm refuses it too"
else
  fail "--slurm with a stale folder: exit $status (want 2)"
fi

# ---- A diverging run ------------------------------------------------------------------------
# lr 50 makes BN's parameters non-finite in epoch 2 or 3 of 512 tiny images; lr 0.01 does not.
diverge=(--norm bn --lr "0.01,50" --data-dir "$src/data/mnist-tiny" --limit-train 512 --limit-test 100 --threads 1 --epochs 3)
sweep --out "$base/diverge" -- "${diverge[@]}"
if [ "$status" -eq 3 ] && summary_is "sweep: 1 completed now, 0 skipped as complete, 1 diverged, 0 failed" &&
  grep -qxF "  diverged: $base/diverge/bn_lr-50 (log: $base/diverge/bn_lr-50/normtrain.log)" "$work/out" &&
  grep -q '^sweep: diverged bn_lr-50' "$work/out" && ! grep -q 'FAILED' "$work/out" &&
  grep -q '"status": "diverged"' "$base/diverge/bn_lr-50/run.json" && completed "$base/diverge/bn_lr-0.01" &&
  grep -q "^  normtrain report --aggregate .*/bn_lr-50'\$" "$work/out"; then
  ok "a diverging run is reported as diverged (exit 3), not as failed or as numbers"
else
  fail "diverging sweep: exit $status (want 3)"
fi
(cd "$base/diverge" && find . -type f ! -name .normtrain.lock -exec md5sum {} +) >"$work/sums"
sweep --out "$base/diverge" -- "${diverge[@]}"
if [ "$status" -eq 3 ] && summary_is "sweep: 0 completed now, 1 skipped as complete, 1 diverged, 0 failed" &&
  grep -q '1 diverged before (not retried)' "$work/out" && ! grep -q '^sweep: \(start\|resume\)' "$work/out" &&
  (cd "$base/diverge" && md5sum --quiet -c "$work/sums"); then
  ok "the same sweep again does not retry the diverged run"
else
  fail "second diverging sweep: exit $status (want 3)"
fi
sweep --out "$base/diverge" --slurm --dry-run -- "${diverge[@]}"
if [ "$status" -eq 0 ] && grep -q 'nothing to submit' "$work/out"; then
  ok "--slurm submits neither the complete nor the diverged run"
else
  fail "--slurm after a diverged run: exit $status"
fi

# ---- Ctrl-C ---------------------------------------------------------------------------------
# Job control gives the background sweep a SIGINT it can catch, as in a terminal.
stop=(--norm ln --seed "1,2" "${tiny[@]}" --epochs 12)
set -m
"$bin" sweep --out "$base/stop" -- "${stop[@]}" >"$work/out" 2>"$work/err" &
pid=$!
set +m
for _ in $(seq 1 1500); do
  [ -f "$base/stop/ln_seed-1/metrics.csv" ] && [ "$(epochs_in "$base/stop/ln_seed-1")" -ge 1 ] && break
  sleep 0.02
done
kill -INT "$pid"
status=0
wait "$pid" || status=$?
if [ "$status" -eq 130 ] && grep -q '"status": "interrupted"' "$base/stop/ln_seed-1/run.json" &&
  [ "$(epochs_in "$base/stop/ln_seed-1")" -lt 12 ] && [ ! -e "$base/stop/ln_seed-2" ] &&
  summary_is "sweep: 0 completed now, 0 skipped as complete, 0 diverged, 0 failed, 1 stopped, 1 not started"; then
  ok "Ctrl-C stops the running run (exit 130) and starts no more"
else
  fail "Ctrl-C: exit $status (want 130)"
fi
sweep --out "$base/stop" -- "${stop[@]}"
if [ "$status" -eq 0 ] && summary_is "sweep: 2 completed now, 0 skipped as complete, 0 diverged, 0 failed" &&
  [ "$(cut -d, -f1 "$base/stop/ln_seed-1/metrics.csv" | tail -n +2 | tr '\n' ' ')" = "$(seq 1 12 | tr '\n' ' ')" ] &&
  grep -q '^# sweep [^ ]*: resume: ' "$base/stop/ln_seed-1/normtrain.log"; then
  ok "the same sweep again resumes the stopped run and does the other"
else
  fail "sweep after Ctrl-C: exit $status"
fi

# ---- A failing run --------------------------------------------------------------------------
# Its flags are fine (normtrain plans to start it); the data is missing.
mkdir "$work/no-data"
sweep --out "$base/fail" -- --norm gn --groups 4 --data-dir "$work/no-data" --no-download --epochs 1
if [ "$status" -eq 1 ] && summary_is "sweep: 0 completed now, 0 skipped as complete, 0 diverged, 1 failed" &&
  grep -qxF "  failed: $base/fail/gn-4 (log: $base/fail/gn-4/normtrain.log)" "$work/out" &&
  grep -q 'not found in' "$base/fail/gn-4/normtrain.log"; then
  ok "a failing run makes exit 1 and is listed with its log"
else
  fail "failing run: exit $status (want 1)"
fi

# ---- Usage ----------------------------------------------------------------------------------
# usage_error MESSAGE_REGEX ARGS...: normtrain sweep ARGS exits 2 and says MESSAGE_REGEX on stderr.
usage_error() {
  local pattern=$1
  shift
  sweep --out "$base/usage" "$@"
  if [ "$status" -eq 2 ] && grep -Eq -- "$pattern" "$work/err" && [ ! -e "$base/usage" ]; then
    ok "usage error: $*"
  else
    fail "normtrain sweep $* -> exit $status (want 2 and /$pattern/)"
  fi
}
usage_error "unknown sweep option '--bogus'" --bogus -- --norm ln
usage_error "training flags go after '--'" --norm ln
usage_error "no grid"
usage_error "empty grid" --
usage_error "--seed has an empty value" -- --norm ln --seed ''
usage_error "--seed has an empty value" -- --norm ln --seed 1,,2
usage_error "refuses the run '--norm ln --seed': .*--seed" -- --norm ln --seed
usage_error "refuses the run '--norm xn': --norm" -- --norm "ln,xn"
usage_error "--out is set by the sweep" -- --norm ln --out x
usage_error "--continue is set by the sweep" -- --norm ln --continue
usage_error "--groups 3 does not divide" -- --norm gn --groups 3 "${tiny[@]}" --epochs 1
usage_error "--seed is given twice" -- --seed 1 --seed 2
usage_error "would share the folder 'bn'" -- --norm bn --l1 "0,0.0"
usage_error "--jobs must be a positive" --jobs 0 -- --norm ln
usage_error "are for --slurm sweeps" --partition cpu -- --norm ln
usage_error "--groups applies to none of the runs" -- --norm bn,ln --groups 8
sweep --help
if [ "$status" -eq 0 ] && grep -q '^normtrain sweep \[OPTIONS\] -- GRID' "$work/out"; then
  ok "--help"
else
  fail "--help: exit $status"
fi

# scripts/sweep.sh is normtrain sweep (with the repository's build/normtrain).
if [ -x "$src/build/normtrain" ] && has_sweep "$src/build/normtrain"; then
  status=0
  bash "$src/scripts/sweep.sh" --dry-run --out "$base/wrapper" -- --norm ln,gn >"$work/out" 2>"$work/err" || status=$?
  if [ "$status" -eq 0 ] && grep -q '^sweep (dry run): 2 runs: 2 to start' "$work/out"; then
    ok "scripts/sweep.sh passes its arguments to normtrain sweep"
  else
    fail "scripts/sweep.sh: exit $status"
  fi
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
echo "sweep ok"
