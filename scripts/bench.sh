#!/usr/bin/env bash
# Benchmark normtrain's CPU training speed against the same recipe in Python PyTorch, written two
# ways: the seed's loop (bench/reference_train.py: torchvision, PIL rotation, DataLoader) and the
# script a performance-minded user writes (bench/expert_train.py: one uint8 tensor, batched
# affine_grid/grid_sample rotation, channels-last). Prints a Markdown report; see bench/README.md.
#
# Usage: scripts/bench.sh [--reps N] [--threads N] [--images N] [--batch-sizes LIST]
#                         [--norms LIST] [--onednn-avx2 auto|yes|no] [--data-dir DIR]
#                         [--out FILE.md] [--full]
#
#   --reps N          repetitions; every peer runs once per repetition, in an order that rotates
#                     from one repetition to the next; the table shows the median (5)
#   --threads N       CPU threads for every peer (2)
#   --images N        training images per run, the first N of MNIST (7680 = 60 batches of 128);
#                     each run trains 2 epochs and the second one is timed
#   --batch-sizes L   comma-separated training batch sizes (128,8)
#   --norms LIST      comma-separated, of bn (with --l1 0.01), ln and gn (with --groups 8)
#                     (bn,ln,gn)
#   --onednn-avx2 X   also time the Python peers with ONEDNN_MAX_CPU_ISA=AVX2 (auto: when
#                     Python's torch is 2.x and the CPU has AVX-512, where Debian 13's oneDNN
#                     otherwise gives NaN)
#   --data-dir DIR    the four MNIST IDX files, raw or .gz (../shared/data/mnist from the repo root)
#   --out FILE.md     also save the report to FILE.md and every run to FILE.tsv
#   --full            instead: one full normtrain epoch per variant (60,000 / 10,000 images) for
#                     the peak memory of a full run, and the start-up time
#
# Norms: bn --l1 0.01, ln, gn --groups 8. Peers: normtrain --kernels fused and stock, and each
# Python script with glibc's default malloc and with GLIBC_TUNABLES set as normtrain's mallopt.
# Run folders go to a temporary folder removed at exit. Python is /usr/bin/python3 (Debian's
# python3-torch and python3-torchvision); set BENCH_PYTHON to use another interpreter, and
# NORMTRAIN_BINARY to measure another normtrain than build/normtrain.
# Exit status: 0 done, 2 usage error, 1 a run failed or something is missing.
set -euo pipefail
export LC_ALL=C  # a decimal point, whatever the user's locale

usage() {
  sed -n '2,32s/^# \{0,1\}//p' "$0"
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

reps=5
threads=2
images=7680
batch_sizes=128,8
norms=bn,ln,gn
onednn_avx2=auto
data_dir=""
out_file=""
full=0
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    --reps | --threads | --images | --batch-sizes | --norms | --onednn-avx2 | --data-dir | --out)
      [ $# -ge 2 ] || die_usage "$1 needs a value"
      case $1 in
        --reps) positive_int "$1" "$2"; reps=$2 ;;
        --threads) positive_int "$1" "$2"; threads=$2 ;;
        --images) positive_int "$1" "$2"; images=$2 ;;
        --batch-sizes)
          [[ $2 =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] ||
            die_usage "--batch-sizes needs positive integers separated by commas, not '$2'"
          batch_sizes=$2 ;;
        --norms)
          [[ $2 =~ ^(bn|ln|gn)(,(bn|ln|gn))*$ ]] ||
            die_usage "--norms needs bn, ln or gn separated by commas, not '$2'"
          norms=$2 ;;
        --onednn-avx2)
          case $2 in auto | yes | no) onednn_avx2=$2 ;; *) die_usage "--onednn-avx2 takes auto, yes or no, not '$2'" ;; esac ;;
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

normtrain=${NORMTRAIN_BINARY:-$repo_root/build/normtrain}
python=${BENCH_PYTHON:-/usr/bin/python3}
[ -x "$normtrain" ] || die "$normtrain is missing: build it first with scripts/build.sh"
[ -d "$data_dir" ] || die "MNIST folder $data_dir not found: pass --data-dir with the four IDX files"
for name in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  [ -f "$data_dir/$name" ] || [ -f "$data_dir/$name.gz" ] ||
    die "MNIST file $name (or $name.gz) not found in $data_dir"
done
if [ "$full" = 1 ]; then
  [ -x /usr/bin/time ] ||
    die "/usr/bin/time is missing: install the Debian package 'time' (scripts/install_deps.sh time)"
else
  python_torch=$("$python" -c 'import torch, torchvision; print(torch.__version__)' 2>/dev/null) ||
    die "$python cannot import torch and torchvision: install python3-torch and python3-torchvision"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/normtrain-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# Measure a private copy, so that a rebuild during the benchmark neither breaks it nor mixes two
# builds in one table.
binary_line="normtrain: $("$normtrain" --version | head -n 1), ${normtrain#"$repo_root"/} of $(date -u -r "$normtrain" '+%Y-%m-%d %H:%M UTC')"
cp "$normtrain" "$tmp/normtrain"
normtrain=$tmp/normtrain

norm_names=()
norm_args=()
IFS=',' read -r -a norm_list <<<"$norms"
for norm in "${norm_list[@]}"; do
  case $norm in
    bn) norm_names+=("BN + L1 0.01"); norm_args+=("--norm bn --l1 0.01") ;;
    ln) norm_names+=("LN"); norm_args+=("--norm ln") ;;
    gn) norm_names+=("GN (8 groups)"); norm_args+=("--norm gn --groups 8") ;;
  esac
done

load_average() { cut -d' ' -f1-3 /proc/loadavg; }

# timed LOG COMMAND...: runs COMMAND with /usr/bin/time -v when there is one (report in
# LOG.time), its output in LOG; on failure shows the end of LOG and stops.
timed() {
  local log=$1
  shift
  local -a time_v=()
  if [ -x /usr/bin/time ]; then time_v=(/usr/bin/time -v -o "$log.time"); fi
  if ! "${time_v[@]}" "$@" >"$log" 2>&1; then
    tail -n 20 "$log" >&2
    die "failed: $*"
  fi
}

# peak_kb LOG: the peak resident memory of timed's run, in KiB ("-" without /usr/bin/time).
peak_kb() {
  if [ -f "$1.time" ]; then awk -F': ' '/Maximum resident set size/ { print $2 }' "$1.time"; else echo -; fi
}

# json_number FILE KEY: a numeric top-level key of a run.json (one key per line, two spaces in).
json_number() {
  sed -n "s/^  \"$2\": \([0-9.eE+-]*\),\{0,1\}$/\1/p" "$1"
}

json_string() {
  sed -n "s/^ *\"$2\": \"\([^\"]*\)\",\{0,1\}$/\1/p" "$1" | head -n 1
}

# csv_column FILE EPOCH NAME: column NAME of metrics.csv's row for EPOCH.
csv_column() {
  awk -F, -v epoch="$2" -v name="$3" \
    'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
     c && $1 == epoch { print $c; found = 1 } END { exit !found }' "$1" ||
    die "no $3 for epoch $2 in $1"
}

# run_normtrain DIR ARGS...: one normtrain run into DIR with the bench's fixed settings.
run_normtrain() {
  local dir=$1
  shift
  timed "$dir.log" "$normtrain" "$@" --threads "$threads" --data-dir "$data_dir" --no-download \
    --quiet --out "$dir"
}

# key_value KEY LINE: the value of KEY=value in LINE.
key_value() {
  local field
  for field in $2; do
    if [ "${field%%=*}" = "$1" ]; then echo "${field#*=}"; fi
  done
}

mib() {
  awk -v kb="$1" 'BEGIN { printf "%.0f MiB", kb / 1024 }'
}

machine_line() {
  local cpu os
  # lscpu's model name, family and model (the name alone can be as vague as "AMD EPYC").
  cpu=$(lscpu 2>/dev/null | awk -F': *' '/^Model name:/ { n = $2 } /^CPU family:/ { f = $2 }
    /^Model:/ { m = $2 } END { if (n != "") printf "%s (family %s, model %s)", n, f, m }')
  [ -n "$cpu" ] || cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  # shellcheck source=/dev/null
  os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-}")
  echo "Machine: ${cpu:-unknown CPU}, $(nproc --all) cores; ${os:-unknown OS}, $(uname -sr)"
}

emit() {
  if [ -n "$out_file" ]; then tee "$out_file"; else cat; fi
}

# --- --full: one full epoch per variant ------------------------------------------------------
if [ "$full" = 1 ]; then
  load_before=$(load_average)
  rows=()
  libtorch=""
  for v in "${!norm_names[@]}"; do
    dir=$tmp/full-$v
    say "full epoch: normtrain ${norm_args[$v]} ..."
    start_ns=$(date +%s%N)
    # shellcheck disable=SC2086  # norm_args holds several words on purpose
    run_normtrain "$dir" ${norm_args[$v]} --epochs 1 --limit-train 0 --limit-test 0
    wall=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.1f", (b - a) / 1e9 }')
    examples=$(json_number "$dir/run.json" train_examples)
    tests=$(json_number "$dir/run.json" test_examples)
    libtorch=$(json_string "$dir/run.json" libtorch)
    train_s=$(csv_column "$dir/metrics.csv" 1 train_seconds)
    test_s=$(csv_column "$dir/metrics.csv" 1 test_seconds)
    rate=$(awk -v n="$examples" -v s="$train_s" 'BEGIN { printf "%.0f", n / s }')
    acc=$(json_number "$dir/run.json" final_test_acc)
    kb=$(peak_kb "$dir.log")
    # Start to first batch: normtrain does not report it, so time a whole tiny run (an upper bound).
    start_ns=$(date +%s%N)
    # shellcheck disable=SC2086
    run_normtrain "$tmp/startup-$v" ${norm_args[$v]} --epochs 1 --limit-train 128 --limit-test 128
    startup=$(awk -v a="$start_ns" -v b="$(date +%s%N)" 'BEGIN { printf "%.2f", (b - a) / 1e9 }')
    rows+=("| ${norm_names[$v]} | $examples | $rate | $(printf '%.1f' "$test_s") s | $(printf '%.2f' "$acc")% | $wall s | $(mib "$kb") | $startup s |")
  done
  {
    echo "## normtrain: one full CPU epoch per variant"
    echo
    echo "$(machine_line); LibTorch $libtorch"
    echo "$binary_line"
    echo "Command: $command_line"
    echo "Workload: 1 epoch over all $examples training and $tests test images in $data_dir, $threads threads; one run per variant; load average (1, 5, 15 min) before $load_before, after $(load_average)"
    echo
    echo "| Variant | Train images | Train images/s | Test pass | Test accuracy | Wall time | Peak RSS | Start to first batch (upper bound) |"
    echo "|---|---|---|---|---|---|---|---|"
    printf '%s\n' "${rows[@]}"
    echo
    echo "Peak RSS is /usr/bin/time -v's \"Maximum resident set size\" of the whole run (target: under 1 GiB = 1024 MiB)."
    echo "Wall time covers everything: start-up, loading the data, training, the test pass and writing the outputs."
    echo "Start to first batch: the wall time of a whole \`--epochs 1 --limit-train 128 --limit-test 128\` run (start-up, one batch, a 128-image test pass and every output file), an upper bound (target: under 2 s)."
  } | emit
  exit 0
fi

# --- default: normtrain vs the two Python peers ----------------------------------------------
# Python's torch 2.x on an AVX-512 CPU: Debian 13's oneDNN gives NaN there unless held to AVX2.
if [ "$onednn_avx2" = auto ]; then
  onednn_avx2=no
  if [ "${python_torch%%.*}" -ge 2 ] && grep -qw avx512f /proc/cpuinfo; then onednn_avx2=yes; fi
fi
tunables="GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=1073741824"
# Each peer: kind|label|environment (space-separated VAR=VALUE, or -)|extra arguments. The Python
# peers run with glibc's default malloc and with it tuned as normtrain's mallopt tunes it.
peers=("normtrain|normtrain --kernels fused|-|--kernels fused"
  "normtrain|normtrain --kernels stock|-|--kernels stock")
for script in expert seed; do
  peers+=("$script|$script, malloc tuned|$tunables|" "$script|$script|-|")
  if [ "$onednn_avx2" = yes ]; then
    peers+=("$script|$script, malloc tuned, oneDNN AVX2|$tunables ONEDNN_MAX_CPU_ISA=AVX2|"
      "$script|$script, oneDNN AVX2|ONEDNN_MAX_CPU_ISA=AVX2|")
  fi
done

# run_peer PEER NORM_INDEX BATCH DIR: trains 2 epochs; prints "images/s loss peak-KB" of epoch 2.
run_peer() {
  local kind label environment extra dir=$4 rate loss line
  IFS='|' read -r kind label environment extra <<<"$1"
  local args="${norm_args[$2]} $extra" batch=$3
  local -a env_args=(env -u GLIBC_TUNABLES -u ONEDNN_MAX_CPU_ISA)
  # shellcheck disable=SC2206  # the environment is space-separated VAR=VALUE words
  if [ "$environment" != - ]; then env_args+=($environment); fi
  case $kind in
    normtrain)
      # shellcheck disable=SC2086  # args holds several words on purpose
      run_normtrain "$dir" $args --epochs 2 --limit-train "$images" --limit-test 100 \
        --batch-size "$batch"
      rate=$(awk -v n="$(json_number "$dir/run.json" train_examples)" \
        -v s="$(csv_column "$dir/metrics.csv" 2 train_seconds)" 'BEGIN { printf "%.3f", n / s }')
      loss=$(csv_column "$dir/metrics.csv" 2 train_loss) ;;
    expert)
      # shellcheck disable=SC2086
      timed "$dir.log" "${env_args[@]}" "$python" bench/expert_train.py $args --epochs 2 \
        --limit-train "$images" --batch-size "$batch" --threads "$threads" --data-dir "$data_dir"
      line=$(grep '^EPOCH epoch=2 ' "$dir.log") || die "no EPOCH epoch=2 line in $dir.log"
      rate=$(key_value images_per_second "$line")
      loss=$(key_value loss "$line") ;;
    seed)
      # shellcheck disable=SC2086
      timed "$dir.log" "${env_args[@]}" "$python" bench/reference_train.py $args --epochs 2 \
        --limit-train "$images" --batch-size "$batch" --threads "$threads" --data-dir "$data_dir" \
        --no-test
      # "epoch 2: train loss L acc A% N images in Ss (R/s)"
      line=$(grep '^epoch 2: ' "$dir.log") || die "no 'epoch 2:' line in $dir.log"
      rate=$(awk '{ for (i = 1; i <= NF; i++) if ($i == "images") { sub(/s$/, "", $(i + 2)); printf "%.3f", $(i - 1) / $(i + 2) } }' <<<"$line")
      loss=$(awk '{ print $5 }' <<<"$line") ;;
  esac
  echo "$rate $loss $(peak_kb "$dir.log")"
}

load_before=$(load_average)
IFS=',' read -r -a batches <<<"$batch_sizes"
say "load average $load_before; $reps repetition(s) of ${#peers[@]} peers x ${#norm_names[@]} norms x ${#batches[@]} batch size(s), $images images, $threads threads"
if awk -v l="${load_before%% *}" 'BEGIN { exit !(l > 0.5) }'; then
  say "warning: the machine is busy (load above 0.5); timings will be noisy"
fi

runs=$tmp/runs.tsv
printf 'kind\tpeer\tnorm\tbatch\trep\timages_per_second\tloss\tpeak_kb\n' >"$runs"
libtorch=""
for ((rep = 1; rep <= reps; rep++)); do
  for batch in "${batches[@]}"; do
    for v in "${!norm_names[@]}"; do
      # Rotate the peers' order every repetition, so that none always follows another.
      for ((k = 0; k < ${#peers[@]}; k++)); do
        p=$(((k + rep - 1) % ${#peers[@]}))
        IFS='|' read -r kind label _ <<<"${peers[$p]}"
        dir=$tmp/run-$rep-$batch-$v-$p
        say "rep $rep/$reps, ${norm_names[$v]}, batch $batch: $label ..."
        result=$(run_peer "${peers[$p]}" "$v" "$batch" "$dir") || exit 1
        read -r rate loss kb <<<"$result"
        if [ "$kind" = normtrain ]; then libtorch=$(json_string "$dir/run.json" libtorch); fi
        printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$kind" "$label" "${norm_names[$v]}" "$batch" \
          "$rep" "$rate" "$loss" "$kb" >>"$runs"
      done
    done
  done
done
load_after=$(load_average)

{
  echo "## normtrain vs PyTorch: CPU training throughput (images/s)"
  echo
  echo "<!-- table -->"
  echo "$(machine_line); LibTorch $libtorch (normtrain), torch $python_torch ($python); $threads threads."
  echo "Epoch 2 of 2 on the first $images MNIST training images; median of $reps alternating repetitions; load average $load_before before, $load_after after. From \`$command_line\`."
  echo
  "$python" bench/bench_table.py table "$runs"
  echo "<!-- /table -->"
  echo
  echo "$binary_line"
  echo
  echo "- images/s: training images / wall time of the second epoch's training pass (normtrain: train_seconds in metrics.csv; the scripts time their own pass). Batching, augmentation, forward, backward and the SGD step count; start-up, reading the data and test passes do not."
  echo "- Peers: normtrain with its fused kernels and with LibTorch's stock operators; bench/expert_train.py (one uint8 tensor, batched affine_grid/grid_sample rotation, channels-last, no DataLoader) and bench/reference_train.py, the seed's loop (torchvision, PIL rotation, DataLoader), each with glibc's default malloc and with \`$tunables\` (malloc tuned), which keeps freed activation memory as normtrain's mallopt does$([ "$onednn_avx2" = yes ] && echo "; oneDNN AVX2: ONEDNN_MAX_CPU_ISA=AVX2")."
  echo "- Threads: every peer is given $threads; normtrain's training steps use one per 8 images of the batch, at most $threads (train_threads in its run.json), as its thread plan decides for any user."
  echo "- Ratios: normtrain --kernels fused ÷ the fastest variant (by median) of each script whose loss stayed finite, taken within each repetition (runs that ran close together), then the median of those ratios."
  echo "- Every run (images/s, in the order they ran):"
  "$python" bench/bench_table.py runs "$runs" | sed 's/^/  /'
} | emit
if [ -n "$out_file" ]; then cp "$runs" "${out_file%.md}.tsv"; fi
