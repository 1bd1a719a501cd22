#!/usr/bin/env bash
# The batch-size study of Wu & He, "Group Normalization" (ECCV 2018, Figure 1), on this network:
# BN, batch renormalization, GN (8 groups), GN + weight standardization, LN and FRN, each at
# batch sizes 2, 4, 8, 16, 32, 64 and 128 with seeds 1, 2 and 3. The learning rate follows the
# paper's linear rule, 0.01 at batch 128 (sweep --lr-scaling linear), and every run sees the
# same images: the first 20,000 training images for 4 epochs, tested on all 10,000 test images
# after each. The BN and BRN runs are also tested with precise statistics (--precise-bn 4096),
# which separates "BN trained badly" from "BN's running statistics are bad". The runs go to
# results/batch-size/, then scripts/batch_size_readme.sh writes its README.md and plot.
#
# The runs are one `normtrain sweep`: complete runs are skipped and interrupted ones resumed,
# so the study can be run in parts (stop it with Ctrl-C, run the command again later).
#
# Usage: scripts/batch-size-study.sh [--jobs N] [--data-dir DIR] [--out DIR]
#   --jobs N        runs at a time (default 2); the cores are divided between them
#   --data-dir DIR  full MNIST (default data/mnist; downloaded when missing)
#   --out DIR       where the run folders go (default results/batch-size)
set -euo pipefail
cd "$(dirname "$0")/.."

jobs=2
data_dir=data/mnist
out=results/batch-size
while [ $# -gt 0 ]; do
  case $1 in
    --jobs) jobs=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "batch-size-study.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x build/normtrain ] || scripts/build.sh

# Every run: the same images and batch sizes. One grid per seed and norm group, seed 1 of
# every cell first, so that a study stopped early has whole seeds. --precise-bn applies to bn
# and brn only, so those two norms are a grid of their own.
# shellcheck disable=SC2054 # the commas are lists of a grid's values
runs=(--batch-size 2,4,8,16,32,64,128 --limit-train 20000 --epochs 4 --lr 0.01
  --data-dir "$data_dir")
sweep=(--jobs "$jobs" --out "$out" --lr-scaling linear --lr-reference-batch 128)
for seed in 1 2 3; do
  # shellcheck disable=SC2054
  sweep+=(-- --norm bn,brn --precise-bn 4096 --seed "$seed" "${runs[@]}"
    -- --norm gn --groups 8 --seed "$seed" "${runs[@]}"
    -- --norm gn --groups 8 --weight-standardization --seed "$seed" "${runs[@]}"
    -- --norm ln,frn --seed "$seed" "${runs[@]}")
done

# Fetch the data once, before parallel runs would race to download it.
scripts/fetch_mnist.sh "$data_dir"

status=0
build/normtrain sweep "${sweep[@]}" || status=$?
# 3: a run diverged, which is a result; the README shows it.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  echo "batch-size-study.sh: the sweep ended with exit $status (see above); $out/README.md not written" >&2
  exit "$status"
fi
scripts/batch_size_readme.sh "$out"
