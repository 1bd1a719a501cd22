#!/usr/bin/env bash
# Benchmark normtrain's CPU training speed against the same recipe in Python PyTorch
# (bench/reference_train.py: torchvision MNIST, RandomRotation, DataLoader) and print a
# Markdown table. See bench/README.md for what it measures and how to read it.
#
# Usage: scripts/bench.sh [--reps N] [--threads N] [--images N] [--data-dir DIR]
#                         [--out FILE.md] [--full]
#
#   --reps N        repetitions per variant and side, normtrain and Python alternating (3);
#                   the table shows the median
#   --threads N     CPU threads for both sides (2)
#   --images N      training images per run, the first N of MNIST, 1 epoch (12800 = 100 batches)
#   --data-dir DIR  the four MNIST IDX files, raw or .gz (../shared/data/mnist from the repo root)
#   --out FILE.md   also save the report to FILE.md
#   --full          instead: one full normtrain epoch per variant (60,000 / 10,000 images) for
#                   the peak memory of a full run; --reps and --images do not apply
#
# Variants: bn --l1 0.01, ln, gn --groups 8. Run folders go to a temporary folder removed at
# exit. The Python side runs with /usr/bin/python3 (Debian's python3-torch and
# python3-torchvision); set BENCH_PYTHON to use another interpreter.
# Exit status: 0 done, 2 usage error, 1 a run failed or something is missing.
set -euo pipefail
export LC_ALL=C  # a decimal point, whatever the user's locale

usage() {
  sed -n '2,22s/^# \{0,1\}//p' "$0"
}

die_usage() {
  echo "bench.sh: $1" >&2
  echo "Try 'scripts/bench.sh --help'." >&2
  exit 2
}

die() {
  echo "bench.sh: $1" >&2
  exit 1
}

say() {
  echo "bench.sh: $*" >&2
}

positive_int() {
  [[ $2 =~ ^[1-9][0-9]*$ ]] || die_usage "$1 needs a positive integer, not '$2'"
}

command_line="scripts/bench.sh"
for arg in "$@"; do command_line+=" $(printf '%q' "$arg")"; done

reps=3
threads=2
images=12800
data_dir=""
out_file=""
full=0
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --reps | --threads | --images | --data-dir | --out)
      [ $# -ge 2 ] || die_usage "$1 needs a value"
      case $1 in
        --reps) positive_int "$1" "$2"; reps=$2 ;;
        --threads) positive_int "$1" "$2"; threads=$2 ;;
        --images) positive_int "$1" "$2"; images=$2 ;;
        --data-dir) data_dir=$2 ;;
        --out) out_file=$2 ;;
      esac
      shift 2 ;;
    --full) full=1; shift ;;
    *) die_usage "unknown argument '$1'" ;;
  esac
done

# Paths the user gave are relative to where they called us from; everything else to the repo.
caller_dir=$PWD
absolute() { case $1 in /*) echo "$1" ;; *) echo "$caller_dir/$1" ;; esac; }
if [ -n "$out_file" ]; then out_file=$(absolute "$out_file"); fi
repo_root=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo_root"
if [ -n "$data_dir" ]; then data_dir=$(absolute "$data_dir"); else data_dir=$repo_root/../shared/data/mnist; fi

normtrain=$repo_root/build/normtrain
reference=$repo_root/bench/reference_train.py
python=${BENCH_PYTHON:-/usr/bin/python3}
[ -x /usr/bin/time ] || die "/usr/bin/time is missing: install the Debian package 'time'"
[ -x "$normtrain" ] || die "$normtrain is missing: build it first with scripts/build.sh"
[ -d "$data_dir" ] || die "MNIST folder $data_dir not found: pass --data-dir with the four IDX files"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$data_dir/$name" ] || [ -f "$data_dir/$name.gz" ] ||
    die "MNIST file $name (or $name.gz) not found in $data_dir"
done
if [ "$full" = 0 ]; then
  python_versions=$("$python" -c 'import torch, torchvision; print(torch.__version__, torchvision.__version__)' 2>/dev/null) ||
    die "$python cannot import torch and torchvision: install python3-torch and python3-torchvision"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/normtrain-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Measure a private copy, so that a rebuild during the benchmark neither breaks it nor mixes two
# builds in one table.
binary_line="normtrain: $("$normtrain" --version | head -n 1), build/normtrain of $(date -u -r "$normtrain" '+%Y-%m-%d %H:%M UTC')"
cp "$normtrain" "$tmp/normtrain"
normtrain=$tmp/normtrain

variant_names=("bn + L1 0.01" "ln" "gn 8")
variant_args=("--norm bn --l1 0.01" "--norm ln" "--norm gn --groups 8")

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# timed LOG COMMAND...: runs COMMAND with /usr/bin/time -v (report in LOG.time), its output in
# LOG; on failure shows the end of LOG and stops.
timed() {
  local log=$1
  shift
  if ! /usr/bin/time -v -o "$log.time" "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "failed: $*"
  fi
}

peak_kb() {
  awk -F': ' '/Maximum resident set size/ { print $2 }' "$1.time"
}

# json_number FILE KEY: a numeric top-level key of a run.json (one key per line, two spaces in).
json_number() {
  sed -n "s/^  \"$2\": \([0-9.eE+-]*\),\{0,1\}$/\1/p" "$1"
}

json_string() {
  sed -n "s/^ *\"$2\": \"\([^\"]*\)\",\{0,1\}$/\1/p" "$1" | head -n 1
}

# train_seconds RUN_DIR: the sum of metrics.csv's train_seconds column over the epochs.
train_seconds() {
  awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "train_seconds") c = i; next }
           c { s += $c } END { if (!c) exit 1; printf "%.6f\n", s }' "$1/metrics.csv" ||
    die "no train_seconds column in $1/metrics.csv"
}

# run_normtrain DIR ARGS...: one normtrain run into DIR with the bench's fixed settings.
run_normtrain() {
  local dir=$1
  shift
  timed "$dir.log" "$normtrain" "$@" --threads "$threads" --data-dir "$data_dir" --no-download \
    --quiet --out "$dir"
}

# result_field KEY LINE: the value of KEY=value in the reference's RESULT line.
result_field() {
  local field
  for field in $2; do
    if [ "${field%%=*}" = "$1" ]; then echo "${field#*=}"; fi
  done
}

median() {
  printf '%s\n' "$@" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maximum() {
  printf '%s\n' "$@" | sort -g | tail -n 1
}

mib() {
  awk -v kb="$1" 'BEGIN { printf "%.0f MiB", kb / 1024 }'
}

machine_line() {
  local cpu cores libtorch=$1
  cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  cores=$(nproc --all)
  echo "Machine: ${cpu:-unknown CPU}, $cores cores ($(uname -sr)); LibTorch $libtorch"
}

emit() {
  if [ -n "$out_file" ]; then tee "$out_file"; else cat; fi
}

# --- --full: one full epoch per variant ------------------------------------------------------
if [ "$full" = 1 ]; then
  load_before=$(load_average)
  rows=()
  libtorch=""
  for v in "${!variant_names[@]}"; do
    dir=$tmp/full-$v
    say "full epoch: normtrain ${variant_args[$v]} ..."
    start_ns=$(date +%s%N)
    # shellcheck disable=SC2086  # variant_args holds several words on purpose
    run_normtrain "$dir" ${variant_args[$v]} --epochs 1 --limit-train 0 --limit-test 0
    wall=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    seconds=$(train_seconds "$dir")
    examples=$(json_number "$dir/run.json" train_examples)
    tests=$(json_number "$dir/run.json" test_examples)
    libtorch=$(json_string "$dir/run.json" libtorch)
    rate=$(awk -v n="$examples" -v s="$seconds" 'BEGIN { printf "%.0f", n / s }')
    acc=$(json_number "$dir/run.json" final_test_acc)
    kb=$(peak_kb "$dir.log")
    rows+=("| ${variant_names[$v]} | $examples | $rate | $(printf '%.2f' "$acc")% | $wall s | $(mib "$kb") |")
  done
  {
    echo "## normtrain: one full CPU epoch per variant"
    echo
    machine_line "$libtorch"
    echo "$binary_line"
    echo "Command: $command_line"
    echo "Workload: 1 epoch over all $examples training and $tests test images in $data_dir, $threads threads; one run per variant; load average (1, 5, 15 min) before $load_before, after $(load_average)"
    echo
    echo "| Variant | Train images | Train images/s | Test accuracy | Wall time | Peak RSS |"
    echo "|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Peak RSS is /usr/bin/time -v's \"Maximum resident set size\" of the whole run (target: under 1 GiB = 1024 MiB)."
    echo "Wall time covers everything: start-up, loading the data, training, the test pass and writing the outputs."
  } | emit
  exit 0
fi

# --- default: normtrain vs the Python reference ---------------------------------------------
load_before=$(load_average)
say "load average $load_before; $reps repetition(s) of 3 variants, $images images, $threads threads"
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  say "warning: the machine is busy (load above 0.5); timings will be noisy"
fi

declare -A nt_rate py_rate nt_kb py_kb startup
libtorch=""
for ((rep = 1; rep <= reps; rep++)); do
  for v in "${!variant_names[@]}"; do
    # Alternate which side goes first, so that neither always follows the other.
    if ((rep % 2)); then order="normtrain python"; else order="python normtrain"; fi
    for side in $order; do
      dir=$tmp/$side-$v-$rep
      say "rep $rep/$reps, ${variant_names[$v]}: $side ..."
      if [ "$side" = normtrain ]; then
        # shellcheck disable=SC2086  # variant_args holds several words on purpose
        run_normtrain "$dir" ${variant_args[$v]} --epochs 1 --limit-train "$images" --limit-test 500
        seconds=$(train_seconds "$dir")
        count=$(($(json_number "$dir/run.json" train_examples) * $(json_number "$dir/run.json" epochs_completed)))
        libtorch=$(json_string "$dir/run.json" libtorch)
        nt_kb[$v]+=" $(peak_kb "$dir.log")"
        nt_count=$count
        nt_rate[$v]+=" $(awk -v n="$count" -v s="$seconds" 'BEGIN { printf "%.3f", n / s }')"
      else
        # shellcheck disable=SC2086
        timed "$dir.log" "$python" "$reference" ${variant_args[$v]} --epochs 1 \
          --limit-train "$images" --threads "$threads" --data-dir "$data_dir" --no-test
        result=$(grep '^RESULT ' "$dir.log") || die "no RESULT line in the output of $reference"
        count=$(result_field images "$result")
        py_count=$count
        py_kb[$v]+=" $(peak_kb "$dir.log")"
        py_rate[$v]+=" $(result_field images_per_second "$result")"
      fi
    done
    [ "$nt_count" = "$py_count" ] ||
      die "normtrain trained $nt_count images but the reference $py_count: the workloads differ"

    # Start to first batch: normtrain does not report it, so time a whole tiny run (an upper bound).
    dir=$tmp/startup-$v-$rep
    start_ns=$(date +%s%N)
    # shellcheck disable=SC2086
    run_normtrain "$dir" ${variant_args[$v]} --epochs 1 --limit-train 128 --limit-test 128
    startup[$v]+=" $(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
  done
done
load_after=$(load_average)

{
  echo "## normtrain vs Python PyTorch: CPU training throughput"
  echo
  echo "$(machine_line "$libtorch") (normtrain); torch ${python_versions% *}, torchvision ${python_versions#* } ($python)"
  echo "$binary_line"
  echo "Command: $command_line"
  echo "Workload: the first $nt_count training images, 1 epoch, batch 128, $threads threads on both sides; median of $reps repetition(s), normtrain and Python alternating; load average (1, 5, 15 min) before $load_before, after $load_after"
  echo
  echo "| Variant | normtrain images/s | Python images/s | Ratio | normtrain peak RSS | Python peak RSS | normtrain start to first batch (upper bound) |"
  echo "|---|---|---|---|---|---|---|"
  for v in "${!variant_names[@]}"; do
    # shellcheck disable=SC2086  # the per-variant lists are space-separated on purpose
    {
      nt=$(median ${nt_rate[$v]})
      py=$(median ${py_rate[$v]})
      ratio=$(awk -v a="$nt" -v b="$py" 'BEGIN { printf "%.2f", a / b }')
      printf '| %s | %.0f | %.0f | %s× | %s | %s | %.2f s |\n' "${variant_names[$v]}" "$nt" "$py" \
        "$ratio" "$(mib "$(maximum ${nt_kb[$v]})")" "$(mib "$(maximum ${py_kb[$v]})")" \
        "$(median ${startup[$v]})"
    }
  done
  echo
  echo "- images/s: training images / wall time of the training pass (normtrain: train_seconds in metrics.csv; Python: the RESULT line). Batching, augmentation, forward, backward and the SGD step count; start-up, reading the IDX files and the test pass do not. Ratio = normtrain / Python (target: at least 3×)."
  echo "- Peak RSS: the largest \"Maximum resident set size\" (/usr/bin/time -v) over the repetitions, whole process, for this workload; run with --full for a full epoch (target: under 1 GiB)."
  for v in "${!variant_names[@]}"; do
    # shellcheck disable=SC2086
    printf -- '- Every run, %s (images/s, in order): normtrain %s; Python %s\n' "${variant_names[$v]}" \
      "$(printf '%.0f\n' ${nt_rate[$v]} | paste -sd, - | sed 's/,/, /g')" \
      "$(printf '%.0f\n' ${py_rate[$v]} | paste -sd, - | sed 's/,/, /g')"
  done
  echo "- Start to first batch: normtrain does not report it; this is the median wall time of a whole \`--epochs 1 --limit-train 128 --limit-test 128\` run (start-up, one batch, a 128-image test pass and all the output files), an upper bound (target: under 2 s)."
} | emit
