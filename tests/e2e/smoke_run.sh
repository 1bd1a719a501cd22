#!/usr/bin/env bash
# A real, short run of the executable on the committed subset: every output file appears and
# has the promised shape. Usage: e2e_smoke_run.sh NORMTRAIN_BINARY TINY_DATA_DIR
set -euo pipefail
bin=$1
data=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

"$bin" --norm gn --groups 4 --epochs 2 --limit-train 512 --limit-test 200 --device cpu \
  --threads 2 --data-dir "$data" --out "$out/run" 2>"$out/log"
cat "$out/log"

for file in metrics.csv steps.csv summary.txt run.json model.pt; do
  [ -s "$out/run/$file" ] || { echo "missing or empty: $file"; exit 1; }
done
head -1 "$out/run/metrics.csv" |
  grep -q '^epoch,train_loss,train_acc,test_loss,test_acc,lr,train_seconds,test_seconds' ||
  { echo "bad metrics.csv header"; exit 1; }
[ "$(wc -l <"$out/run/metrics.csv")" -eq 3 ] || { echo "metrics.csv needs 2 epoch rows"; exit 1; }
# 512 / 128 = 4 batches per epoch, 2 epochs, plus the header.
[ "$(wc -l <"$out/run/steps.csv")" -eq 9 ] || { echo "steps.csv needs 8 rows"; exit 1; }
grep -q '"status": "completed"' "$out/run/run.json" || { echo "run.json not completed"; exit 1; }
grep -q 'Total params: 9,752' "$out/run/summary.txt" || { echo "summary lacks total"; exit 1; }
grep -q 'epoch  2/2' "$out/log" || { echo "no per-epoch log line"; exit 1; }
# stderr is not a terminal here, so no progress bar may appear in the log.
if grep -q $'\r' "$out/log"; then echo "progress bar written to a non-terminal"; exit 1; fi
echo "smoke run ok"
