#!/usr/bin/env bash
# Reproduces the study: the three variants (BN + L1 0.01, LN, GN with 8 groups) for the full
# 20 epochs on full MNIST with seeds 1, 2 and 3, into results/, then writes results/README.md
# and results/comparison.png from them. Finished runs are skipped and interrupted ones resumed,
# so the command can simply be run again after a stop.
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
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "reproduce_study.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/normtrain ] || scripts/build.sh
threads=$(($(nproc) / jobs))
[ "$threads" -ge 1 ] || threads=1

# One line per run: the folder, then the flags that define it.
runs() {
  for seed in 1 2 3; do
    suffix=$([ "$seed" -eq 1 ] && echo "" || echo "-seed-$seed")
    echo "$out/bn-l1-0.01$suffix --norm bn --l1 0.01 --seed $seed"
    echo "$out/ln$suffix --norm ln --seed $seed"
    echo "$out/gn-8$suffix --norm gn --groups 8 --seed $seed"
  done
}

# Runs one line of runs(): skip when complete, resume when interrupted, else start.
run_one() {
  local folder=$1
  shift
  if grep -q '"status": "completed"' "$folder/run.json" 2>/dev/null; then
    echo "skip (complete): $folder"
  elif [ -f "$folder/checkpoint.pt" ]; then
    echo "resume: $folder"
    build/normtrain --resume "$folder" --threads "$THREADS" --quiet
  else
    echo "start: $folder"
    build/normtrain "$@" --out "$folder" --threads "$THREADS" --data-dir "$DATA_DIR" --quiet
  fi
}
export -f run_one
export THREADS=$threads DATA_DIR=$data_dir

# Fetch the data once, before parallel runs would race to download it.
build/normtrain --verify-data --data-dir "$data_dir" >/dev/null 2>&1 ||
  build/normtrain --epochs 1 --limit-train 1 --limit-test 1 --data-dir "$data_dir" \
    --out "$(mktemp -d)" --quiet
runs | xargs -P "$jobs" -L 1 bash -c 'run_one "$@"' _
scripts/results_readme.sh "$out"
