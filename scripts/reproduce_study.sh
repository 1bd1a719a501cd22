#!/usr/bin/env bash
# Reproduces the study: the three variants (BN + L1 0.01, LN, GN with 8 groups) for the full
# 20 epochs on full MNIST with seeds 1, 2 and 3, into results/, then writes results/README.md
# and results/comparison.png from them. The runs are one `normtrain sweep` with normtrain's own
# folder names (bn-l1-0.01, ln-seed-2, ...): a folder holding that same run complete is
# skipped, an interrupted one resumed, so the command can simply be run again after a stop. A
# folder holding a different run (other flags) stops the sweep before it trains anything,
# naming the flags that differ; a run that diverged is shown as diverged in the README and not
# retried.
#
# Usage: scripts/reproduce_study.sh [--jobs N] [--data-dir DIR] [--out DIR]
#   --jobs N        runs at a time (default 2); the cores are divided between them
#   --data-dir DIR  full MNIST (default data/mnist; downloaded when missing)
#   --out DIR       where the run folders go (default results)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=2
data_dir=data/mnist
out=results
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "reproduce_study.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/normtrain ] || scripts/build.sh

# Two grids, one sweep: BN with the L1 penalty, and LN and GN without it. (Commas separate
# the values of a flag.)
# shellcheck disable=SC2054
sweep=(--jobs "$jobs" --out "$out" --default-names --
  --norm bn --l1 0.01 --seed 1,2,3 --data-dir "$data_dir" --
  --norm ln,gn --groups 8 --seed 1,2,3 --data-dir "$data_dir")

# Fetch the data once, before parallel runs would race to download it (only when a run is to
# train: the dry run says start, resume or extend).
plan=$(build/normtrain sweep --dry-run "${sweep[@]}" 2>/dev/null || true)
if grep -q '^\(start\|resume\|extend\) ' <<<"$plan"; then
  scripts/fetch_mnist.sh "$data_dir"
fi

status=0
build/normtrain sweep "${sweep[@]}" || status=$?
# 3: a run diverged, which is a result; the README shows it as diverged.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "reproduce_study.sh: the sweep ended with exit $status (see above); $out/README.md not written" >&2
  exit "$status"
fi
scripts/results_readme.sh "$out"
