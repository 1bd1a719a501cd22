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

# The norms without fused kernels: the default kernels are the stock ones and say so, and each
# summary counts its parameters (FRN's tau adds 80, RMS norm has no beta: 80 fewer).
for variant in "brn 9,752" "frn 9,832" "rms 9,672"; do
  read -r norm total <<<"$variant"
  "$bin" --norm "$norm" --weight-standardization --epochs 1 --limit-train 256 --limit-test 100 \
    --device cpu --threads 2 --data-dir "$data" --quiet --out "$out/$norm"
  grep -q "Total params: $total" "$out/$norm/summary.txt" || { echo "$norm: not $total parameters"; exit 1; }
  grep -q 'Kernels: stock' "$out/$norm/summary.txt" || { echo "$norm: summary lacks the kernels"; exit 1; }
  grep -q 'StdConv2d' "$out/$norm/summary.txt" || { echo "$norm: no standardized convolutions"; exit 1; }
  grep -q '"kernels": "stock"' "$out/$norm/run.json" || { echo "$norm: run.json lacks the kernels"; exit 1; }
  grep -q '"weight_standardization": true' "$out/$norm/run.json" || { echo "$norm: run.json lacks ws"; exit 1; }
  "$bin" eval --checkpoint "$out/$norm" --threads 2 --quiet >"$out/$norm.eval" ||
    { echo "$norm: eval failed"; exit 1; }
  grep -q "accuracy" "$out/$norm.eval" || { echo "$norm: eval printed no accuracy"; exit 1; }
done
[ -d "$out/frn" ] && grep -q "takes the place of the block's ReLU" "$out/frn/summary.txt" ||
  { echo "frn: the summary does not say the TLU replaces the ReLU"; exit 1; }
"$bin" report "$out/run" "$out/brn" "$out/frn" "$out/rms" >"$out/report.md"
for label in "BRN + WS" "FRN + WS" "RMS norm + WS"; do
  grep -q "| $label |" "$out/report.md" || { echo "report lacks $label"; cat "$out/report.md"; exit 1; }
done
echo "smoke run ok"
