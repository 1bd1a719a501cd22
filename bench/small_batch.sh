#!/usr/bin/env bash
# Training steps per second at small batches, where per-step costs dominate (the batch-size
# study trains at batch 2 to 16): every norm with its kernels (bn, ln, gn fused and stock; brn,
# frn, rms and gn + weight standardization stock), at each batch size, one epoch of the first
# --images MNIST training images on --threads threads. The rate is steps / train_seconds of
# metrics.csv (batching, augmentation, forward, backward, optimizer and the per-step divergence
# check; not the test pass). Every repetition runs each variant once, in an order that rotates
# from one repetition to the next; the table shows medians. Prints a Markdown table.
# Usage: bench/small_batch.sh [--reps N] [--images N] [--threads N] [--batch-sizes LIST]
#                             [--data-dir DIR] [--normtrain BIN]
set -euo pipefail
cd "$(dirname "$0")/.."

reps=5
images=4000
threads=1
batch_sizes=2,8
data_dir=../shared/data/mnist
normtrain=build/normtrain
while [ $# -gt 0 ]; do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --images) images=$2; shift 2 ;;
    --threads) threads=$2; shift 2 ;;
    --batch-sizes) batch_sizes=$2; shift 2 ;;
    --data-dir) data_dir=$2; shift 2 ;;
    --normtrain) normtrain=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "small_batch.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -x "$normtrain" ] || { echo "small_batch.sh: no normtrain at $normtrain (scripts/build.sh)" >&2; exit 1; }

variants=("bn|fused" "bn|stock" "ln|fused" "ln|stock" "gn --groups 8|fused" "gn --groups 8|stock"
  "gn --groups 8 --weight-standardization|stock" "brn|stock" "frn|stock" "rms|stock")
IFS=, read -r -a batches <<<"$batch_sizes"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
load_before=$(cut -d' ' -f1 /proc/loadavg)

# One line per run: variant, kernels, batch size, steps per second.
runs=$work/runs.tsv
: >"$runs"
count=${#variants[@]}
for ((rep = 0; rep < reps; rep++)); do
  for ((k = 0; k < count; k++)); do
    IFS='|' read -r norm kernels <<<"${variants[$(((k + rep) % count))]}"
    for batch in "${batches[@]}"; do
      out=$work/run
      # shellcheck disable=SC2086 # $norm is the norm and its flags
      "$normtrain" --norm $norm --kernels "$kernels" --batch-size "$batch" --epochs 1 \
        --limit-train "$images" --limit-test 100 --threads "$threads" --data-dir "$data_dir" \
        --no-download --quiet --overwrite --out "$out" >/dev/null
      seconds=$(awk -F, 'NR == 2 { print $7 }' "$out/metrics.csv")
      steps=$(((images + batch - 1) / batch))
      awk -v v="$norm" -v k="$kernels" -v b="$batch" -v s="$steps" -v t="$seconds" \
        'BEGIN { printf "%s\t%s\t%s\t%.1f\n", v, k, b, s / t }' >>"$runs"
    done
  done
done

echo "Training steps per second, median of $reps (one epoch of $images images, $threads thread(s);"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores; load $load_before before, $(cut -d' ' -f1 /proc/loadavg) after)."
echo "Command: bench/small_batch.sh --reps $reps --images $images --threads $threads --batch-sizes $batch_sizes"
echo
header="| Norm | Kernels |"
rule="|---|---|"
for batch in "${batches[@]}"; do
  header+=" batch $batch: steps/s (images/s) |"
  rule+="---:|"
done
echo "$header"
echo "$rule"
for variant in "${variants[@]}"; do
  IFS='|' read -r norm kernels <<<"$variant"
  row="| $norm | $kernels |"
  for batch in "${batches[@]}"; do
    rate=$(awk -F'\t' -v v="$norm" -v k="$kernels" -v b="$batch" '$1 == v && $2 == k && $3 == b { print $4 }' "$runs" |
      sort -g | awk '{ r[NR] = $1 } END { print (NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2) }')
    row+=" $(awk -v r="$rate" -v b="$batch" 'BEGIN { printf "%.0f (%.0f)", r, r * b }') |"
  done
  echo "$row"
done
