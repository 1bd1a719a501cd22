#!/usr/bin/env bash
# What flags cost in training time: the same normtrain run with two sets of flags, one after
# the other, --reps times, each run's training time being the sum of train_seconds in its
# metrics.csv (the test passes excluded). Prints the medians and their ratio.
# Usage: bench/overhead.sh [--reps N] [--normtrain BIN] BASE_ARGS... -- A_ARGS... -- B_ARGS...
#   bench/overhead.sh --reps 5 --norm bn --epochs 1 --limit-train 25600 \
#     --data-dir ../shared/data/mnist -- --diagnostics-every 0 -- --diagnostics-every 20
set -euo pipefail
cd "$(dirname "$0")/.."

reps=5
normtrain=build/normtrain
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --normtrain) normtrain=$2; shift 2 ;;
    *) break ;;
  esac
done
base=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do base+=("$1"); shift; done
[ $# -gt 0 ] || { echo "overhead.sh: give the two sets of flags after -- and --" >&2; exit 2; }
shift
without=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do without+=("$1"); shift; done
[ $# -gt 0 ] || { echo "overhead.sh: give the second set of flags after a second --" >&2; exit 2; }
shift
extra=("$@")

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
train_seconds() { # train_seconds RUN_DIR
  awk -F, 'NR > 1 { total += $7 } END { printf "%.3f\n", total }' "$1/metrics.csv"
}
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }

for ((i = 1; i <= reps; i++)); do
  "$normtrain" "${base[@]}" "${without[@]}" --quiet --out "$work/base-$i" >/dev/null
  "$normtrain" "${base[@]}" "${extra[@]}" --quiet --out "$work/extra-$i" >/dev/null
  echo "rep $i: $(train_seconds "$work/base-$i") s and $(train_seconds "$work/extra-$i") s" >&2
done
a=$(for ((i = 1; i <= reps; i++)); do train_seconds "$work/base-$i"; done | median)
b=$(for ((i = 1; i <= reps; i++)); do train_seconds "$work/extra-$i"; done | median)
echo "normtrain ${base[*]}: median training time with ${without[*]} $a s; with ${extra[*]} $b s" \
  "($(awk -v a="$a" -v b="$b" 'BEGIN { printf "%+.1f%%", 100 * (b / a - 1) }'), $reps alternating repetitions)"
