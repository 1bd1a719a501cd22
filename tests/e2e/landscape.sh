#!/usr/bin/env bash
# Landscape probes observe training without changing it: a run with them writes the same
# steps.csv, layers.csv and metrics.csv (all but the times) as one without, bit for bit, with
# BatchNorm's running statistics, an L1 term and dropout's generator in play. A resumed run
# may start probing.
# Usage: landscape.sh NORMTRAIN_BINARY TINY_DATA_DIR
set -euo pipefail
bin=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# 4 steps an epoch; probes at steps 1, 3, 5 and 7 of the two epochs.
args=(--norm bn --l1 0.01 --dropout 0.1 --epochs 2 --limit-train 512 --limit-test 200
  --threads 1 --device cpu --data-dir "$data" --diagnostics-every 1 --quiet)
fail() { echo "$*"; exit 1; }

"$bin" "${args[@]}" --out "$work/plain"
"$bin" "${args[@]}" --landscape-every 2 --landscape-steps 0,0.5,1,2,4 --out "$work/probed"

# Everything but train_seconds and test_seconds (columns 7 and 8).
results() { cut -d, -f1-6,9- "$1/metrics.csv"; }
diff <(results "$work/plain") <(results "$work/probed") || fail "the probes changed metrics.csv"
cmp "$work/plain/steps.csv" "$work/probed/steps.csv" || fail "the probes changed steps.csv"
cmp "$work/plain/layers.csv" "$work/probed/layers.csv" || fail "the probes changed layers.csv"
[ ! -e "$work/plain/landscape.csv" ] || fail "landscape.csv written without --landscape-every"

head -1 "$work/probed/landscape.csv" | grep -qx 'step,epoch,eta,loss,grad_change' ||
  fail "landscape.csv header: $(head -1 "$work/probed/landscape.csv")"
[ "$(tail -n +2 "$work/probed/landscape.csv" | wc -l)" -eq 20 ] || fail "want 4 probes x 5 sizes"
[ "$(tail -n +2 "$work/probed/landscape_summary.csv" | cut -d, -f1 | tr '\n' ' ')" = "1 3 5 7 " ] ||
  fail "probed steps: $(cut -d, -f1 "$work/probed/landscape_summary.csv" | tr '\n' ' ')"
# At eta 0 the probe is the step itself: its loss is steps.csv's, its gradient unchanged.
awk -F, 'NR == FNR { if (FNR > 1) loss[$1] = $4; next }
  FNR > 1 && $3 == 0 {
    d = $4 - loss[$1]; if (d < 0) d = -d
    if (d > 1e-6 || $5 != 0) { print "step " $1 ": eta 0 gives " $4 ", " $5; bad = 1 }
  }
  END { exit bad }' "$work/probed/steps.csv" "$work/probed/landscape.csv" ||
  fail "the eta 0 probe is not the step"
grep -q '"landscape_every": 2' "$work/probed/run.json" || fail "run.json lacks landscape_every"

# Probing from the third epoch of a resumed run: rows for that epoch only.
"$bin" --resume "$work/plain" --epochs 3 --landscape-every 2 --quiet
[ "$(tail -n +2 "$work/plain/landscape_summary.csv" | cut -d, -f1 | tr '\n' ' ')" = "9 11 " ] ||
  fail "resumed probes: $(cut -d, -f1 "$work/plain/landscape_summary.csv" | tr '\n' ' ')"
echo "landscape probes: OK"
