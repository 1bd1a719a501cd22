#!/usr/bin/env bash
# The diagnostics study: why the norms differ. Trains BN + L1 0.01, BN, LN, GN (8 groups) and
# no norm for the full 20 epochs on full MNIST (seed 1; more with --seeds) with per-layer
# diagnostics (layers.csv, every 20 steps), precise BatchNorm statistics for the BN runs
# (--precise-bn 10000) and landscape probes every 100 steps, into results/diagnostics/, then
# writes its README.md and diagnostics.png from them (scripts/diagnostics_readme.sh). The runs
# are one `normtrain sweep`: complete runs are skipped and interrupted ones resumed, so the
# command can simply be run again after a stop.
#
# The probes step 0.5 to 16 times the learning rate along the gradient: SGD with momentum 0.9
# moves about ten times the learning rate per step once its velocity has built up, so the
# range brackets the steps training really takes.
#
# Usage: scripts/diagnostics_study.sh [--jobs N] [--seeds LIST] [--data-dir DIR] [--out DIR]
#   --jobs N        runs at a time (default 2); the cores are divided between them
#   --seeds LIST    comma-separated seeds (default 1)
#   --data-dir DIR  full MNIST (default data/mnist; downloaded when missing)
#   --out DIR       where the run folders go (default results/diagnostics)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=2
seeds=1
data_dir=data/mnist
out=results/diagnostics
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "diagnostics_study.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/normtrain ] || scripts/build.sh

# shellcheck disable=SC2054 # the commas are one value of --landscape-steps
probes=(--landscape-every 100 --landscape-steps 0.5,1,2,4,8,16)
# shellcheck disable=SC2054
sweep=(--jobs "$jobs" --out "$out" --default-names --
  --norm bn --l1 0.01 --precise-bn 10000 "${probes[@]}" --seed "$seeds" --data-dir "$data_dir" --
  --norm bn --precise-bn 10000 "${probes[@]}" --seed "$seeds" --data-dir "$data_dir" --
  --norm ln,gn,none --groups 8 "${probes[@]}" --seed "$seeds" --data-dir "$data_dir")

# Fetch the data once, before parallel runs would race to download it.
scripts/fetch_mnist.sh "$data_dir"

status=0
build/normtrain sweep "${sweep[@]}" || status=$?
# 3: a run diverged, which is a result; the README shows it.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "diagnostics_study.sh: the sweep ended with exit $status (see above); $out/README.md not written" >&2
  exit "$status"
fi
scripts/diagnostics_readme.sh "$out"
