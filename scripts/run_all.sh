#!/usr/bin/env bash
# Trains the three variants the study compares into runs/, with the original recipe.
# Extra arguments go to every run, e.g.  scripts/run_all.sh --epochs 2 --limit-train 2048
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/normtrain ] || scripts/build.sh

build/normtrain --norm bn --l1 0.01 --out runs/bn-l1-0.01 "$@"
build/normtrain --norm ln --out runs/ln "$@"
build/normtrain --norm gn --groups 8 --out runs/gn-8 "$@"
