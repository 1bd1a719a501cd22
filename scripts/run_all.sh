#!/usr/bin/env bash
# Trains the three variants the study compares into runs/ with the original recipe, then
# writes runs/comparison.png and runs/report.md from them.
# Extra arguments go to every run, e.g.  scripts/run_all.sh --epochs 2 --limit-train 2048
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/normtrain ] || scripts/build.sh

runs=(runs/bn-l1-0.01 runs/ln runs/gn-8)
build/normtrain --norm bn --l1 0.01 --out "${runs[0]}" "$@"
build/normtrain --norm ln --out "${runs[1]}" "$@"
build/normtrain --norm gn --groups 8 --out "${runs[2]}" "$@"

scripts/plot.sh -o runs/comparison.png "${runs[@]}"
scripts/report.sh "${runs[@]}" >runs/report.md
cat runs/report.md
echo "wrote runs/comparison.png and runs/report.md"
