#!/usr/bin/env bash
# Trains the three variants the study compares into runs/ with the original recipe, then
# writes runs/comparison.png and runs/report.md from them.
# Extra arguments go to every run, e.g.  scripts/run_all.sh --epochs 2 --limit-train 2048
# Each run is  normtrain FLAGS --out runs/VARIANT --continue: run it again and complete runs
# are skipped, unfinished ones resumed; a folder holding a run with other flags stops it before
# anything is trained, naming the flags that differ. A run that diverges is reported as such.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -x build/normtrain ] || scripts/build.sh

runs=(runs/bn-l1-0.01 runs/ln runs/gn-8)
flags=("--norm bn --l1 0.01" "--norm ln" "--norm gn --groups 8")
# train K ARGS...: run K with the extra ARGS, --continue.
train() {
  local k=$1
  shift
  # shellcheck disable=SC2086  # the flags are words
  build/normtrain ${flags[k]} --out "${runs[k]}" --continue "$@"
}
refused=0
for k in 0 1 2; do train "$k" "$@" --dry-run || refused=1; done
[ "$refused" -eq 0 ] || { echo "run_all.sh: nothing was trained (see above)" >&2; exit 2; }
for k in 0 1 2; do
  status=0
  train "$k" "$@" || status=$?
  [ "$status" -eq 0 ] || [ "$status" -eq 3 ] || exit "$status"
done

scripts/plot.sh -o runs/comparison.png "${runs[@]}"
scripts/report.sh "${runs[@]}" >runs/report.md
cat runs/report.md
echo "wrote runs/comparison.png and runs/report.md"
