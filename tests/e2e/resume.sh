#!/usr/bin/env bash
# Ctrl-C, kill -9 and --resume: an interrupted and resumed run must produce the same metrics
# as an uninterrupted one, and the same seed twice the same metrics; for BatchNorm (running
# statistics) and with dropout (the generator's state) too.
# Usage: e2e_resume.sh NORMTRAIN_BINARY TINY_DATA_DIR
set -euo pipefail
bin=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
args=(--norm gn --groups 4 --epochs 4 --limit-train 512 --limit-test 200 --threads 1 --seed 3
  --device cpu --data-dir "$data" --quiet)

# The columns that must match: epoch through test_acc (times differ run to run).
results() { cut -d, -f1-5 "$1/metrics.csv"; }

# Starts a run in the background, waits until its first epoch is on disk, then sends SIGNAL.
# Prints the run's exit status.
interrupt_after_first_epoch() {
  local signal=$1 out=$2
  "$bin" "${args[@]}" --out "$out" &
  local pid=$!
  for _ in $(seq 1 600); do
    [ -f "$out/metrics.csv" ] && [ "$(wc -l <"$out/metrics.csv")" -ge 2 ] && break
    sleep 0.02
  done
  kill -s "$signal" "$pid"
  local status=0
  wait "$pid" || status=$?
  echo "$status"
}

"$bin" "${args[@]}" --out "$work/whole"
"$bin" "${args[@]}" --out "$work/again"
diff <(results "$work/whole") <(results "$work/again") || { echo "same seed, different metrics"; exit 1; }
diff "$work/whole/steps.csv" "$work/again/steps.csv" >/dev/null || { echo "same seed, different steps"; exit 1; }

status=$(interrupt_after_first_epoch INT "$work/ctrl-c")
[ "$status" -eq 130 ] || { echo "Ctrl-C exit status $status, want 130"; exit 1; }
grep -q '"status": "interrupted"' "$work/ctrl-c/run.json" || { echo "run.json not marked"; exit 1; }
[ "$(wc -l <"$work/ctrl-c/metrics.csv")" -lt 5 ] || { echo "Ctrl-C came too late to test"; exit 1; }
"$bin" --resume "$work/ctrl-c" --quiet
diff <(results "$work/whole") <(results "$work/ctrl-c") || { echo "resumed after Ctrl-C differs"; exit 1; }
diff <(cut -d, -f1-5 "$work/whole/steps.csv") <(cut -d, -f1-5 "$work/ctrl-c/steps.csv") >/dev/null ||
  { echo "resumed steps.csv differs"; exit 1; }

status=$(interrupt_after_first_epoch KILL "$work/killed")
[ "$status" -eq 137 ] || { echo "kill -9 exit status $status, want 137"; exit 1; }
"$bin" --resume "$work/killed/checkpoint.pt" --quiet
diff <(results "$work/whole") <(results "$work/killed") || { echo "resumed after kill -9 differs"; exit 1; }

# Every kind of state: BatchNorm's running statistics, dropout's generator, the fused and
# the stock kernels; batch renormalization's moving averages and warm-up step count (8 steps
# an epoch, the warm-up ends within the first), FRN's tau and standardized convolutions.
for variant in "--norm bn" "--norm bn --l1 0.01 --kernels stock" "--norm ln --dropout 0.1" \
  "--norm gn --groups 8 --dropout 0.1 --kernels stock" "--norm brn --batch-size 64 --brn-warmup 5" \
  "--norm frn --weight-standardization"; do
  read -ra extra <<<"$variant"
  name=$(echo "$variant" | tr -d ' -')
  args=(--epochs 3 --limit-train 512 --limit-test 200 --threads 1 --seed 5 --device cpu
    --data-dir "$data" --quiet "${extra[@]}")
  "$bin" "${args[@]}" --out "$work/$name-whole"
  status=$(interrupt_after_first_epoch INT "$work/$name-stopped")
  [ "$status" -eq 130 ] || { echo "$variant: Ctrl-C exit status $status"; exit 1; }
  [ "$(wc -l <"$work/$name-stopped/metrics.csv")" -lt 4 ] || { echo "$variant: Ctrl-C too late"; exit 1; }
  "$bin" --resume "$work/$name-stopped" --quiet
  diff <(results "$work/$name-whole") <(results "$work/$name-stopped") ||
    { echo "$variant: resumed after Ctrl-C differs"; exit 1; }
  diff <(cut -d, -f1-5 "$work/$name-whole/steps.csv") <(cut -d, -f1-5 "$work/$name-stopped/steps.csv") ||
    { echo "$variant: resumed steps.csv differs"; exit 1; }
done
args=(--norm gn --groups 4 --epochs 4 --limit-train 512 --limit-test 200 --threads 1 --seed 3
  --device cpu --data-dir "$data" --quiet)

# Extending a finished run to more epochs, and refusing one with nothing left to do.
"$bin" --resume "$work/whole" --epochs 5 --quiet
[ "$(wc -l <"$work/whole/metrics.csv")" -eq 6 ] || { echo "extension did not add epoch 5"; exit 1; }
status=0
"$bin" --resume "$work/whole" --quiet 2>"$work/err" || status=$?
[ "$status" -eq 2 ] && grep -q "already has 5 of 5" "$work/err" || { echo "no-op resume: $status"; exit 1; }
# A one-cycle run's learning rate depends on its total epochs: extending it is refused.
"$bin" --norm ln --scheduler onecycle --epochs 1 --limit-train 128 --limit-test 64 --threads 1 \
  --device cpu --data-dir "$data" --quiet --out "$work/onecycle"
status=0
"$bin" --resume "$work/onecycle" --epochs 2 --quiet 2>"$work/err" || status=$?
[ "$status" -eq 2 ] && grep -q "onecycle" "$work/err" || { echo "onecycle extension: $status"; exit 1; }
echo "resume ok"
