#!/usr/bin/env bash
# Reproduces the study: the three variants (BN + L1 0.01, LN, GN with 8 groups) for the full
# 20 epochs on full MNIST with seeds 1, 2 and 3, into results/, then writes results/README.md
# and results/comparison.png from them. Each run is  normtrain FLAGS --out FOLDER --continue:
# a folder holding that same run complete is skipped, an interrupted one resumed, so the
# command can simply be run again after a stop. A folder holding a different run (other
# flags) stops the script before it trains anything, naming the flags that differ; a run
# that diverged is shown as diverged in the README and not retried.
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
    -h | --help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
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

# train FOLDER FLAGS...: normtrain FLAGS --out FOLDER --continue, which skips a complete run,
# resumes or extends an unfinished one and refuses a folder holding another run (exit 2).
train() {
  local folder=$1
  shift
  build/normtrain "$@" --out "$folder" --threads "$THREADS" --data-dir "$DATA_DIR" --quiet --continue
}
# run_one FOLDER FLAGS...: train, saying how it ended; a diverged run (exit 3) is a result.
run_one() {
  local status=0
  train "$@" || status=$?
  case $status in
    0) echo "done: $1" ;;
    3) echo "diverged: $1 (see $1/run.json)" ;;
    *) echo "FAILED: $1 (exit $status)"; return 1 ;;
  esac
}
export -f train run_one
export THREADS=$threads DATA_DIR=$data_dir

# Ask normtrain about every folder first (--dry-run prints "start: ...", "skip: ...", ...): a
# folder that holds another run stops everything before anything is trained.
todo=()
refused=0
while read -r folder flags; do
  # shellcheck disable=SC2086  # the flags are words
  plan=$(train "$folder" $flags --dry-run) || { refused=1; continue; }
  echo "$plan"
  case ${plan%%:*} in
    skip | diverged) ;;
    *) todo+=("$folder $flags") ;;
  esac
done < <(runs)
if [ "$refused" -eq 1 ]; then
  echo "reproduce_study.sh: nothing was trained: normtrain refuses the folders above; use another --out or move them away" >&2
  exit 2
fi

if [ ${#todo[@]} -gt 0 ]; then
  # Fetch the data once, before parallel runs would race to download it.
  if ! build/normtrain --verify-data --data-dir "$data_dir" >/dev/null 2>&1; then
    fetch=$(mktemp -d)
    build/normtrain --norm ln --epochs 1 --limit-train 1 --limit-test 1 --batch-size 1 \
      --data-dir "$data_dir" --out "$fetch/run" --quiet
    rm -rf -- "$fetch"
  fi
  printf '%s\n' "${todo[@]}" | xargs -P "$jobs" -L 1 bash -c 'run_one "$@"' _ ||
    { echo "reproduce_study.sh: a run failed (see above); $out/README.md not written" >&2; exit 1; }
fi
scripts/results_readme.sh "$out"
