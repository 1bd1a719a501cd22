#!/usr/bin/env bash
# Exit statuses are a contract: 0 done, 2 usage error, 1 runtime error, 3 diverged; never a
# crash.
# Usage: cli_exit_codes.sh NORMTRAIN_BINARY TINY_DATA_DIR
set -u
bin=$1
data=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
failures=0

# expect STATUS MESSAGE_REGEX ARGS...: runs the binary and checks its status and stderr.
expect() {
  local want=$1 pattern=$2
  shift 2
  "$bin" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne "$want" ] || ! grep -Eq -- "$pattern" "$work/err" "$work/out"; then
    echo "FAIL: normtrain $* -> exit $got (want $want), output:"
    cat "$work/err" "$work/out"
    failures=$((failures + 1))
  else
    echo "ok:   normtrain $* -> $got"
  fi
}

quick=(--epochs 1 --limit-train 64 --limit-test 32 --quiet --threads 1)
expect 0 "--groups" --help
expect 2 "no-such-flag" --no-such-flag
expect 2 "--norm" --norm xn
expect 2 "1, 2, 4 or 8" --norm gn --groups 3
expect 2 "--groups applies only" --norm bn --groups 8
expect 2 "--brn-rmax applies only to --norm brn" --norm bn --brn-rmax 2
expect 2 "--brn-warmup must be" --norm brn --brn-warmup -5
expect 2 "--kernels fused: there are no fused kernels for --norm frn" --norm frn --kernels fused
expect 2 "--epochs" --epochs 0
expect 2 "--epochs" --epochs -1
expect 2 "--batch-size" --batch-size 0
expect 2 "--lr" --lr -1
expect 2 "--l1" --l1 -0.5
expect 2 "--device" --device tpu
expect 2 "--epochs" --epochs lots
expect 2 "--max-lr" --scheduler onecycle --lr 0.05
expect 2 "--mirror has no effect" --mirror "file://$work" --no-download
expect 2 "--norm has no effect with --verify-data" --verify-data --norm ln
expect 2 "contradict" --overwrite --continue
expect 3 "training diverged at epoch" --norm bn --lr 50 --epochs 3 --limit-train 512 \
  --limit-test 100 --threads 1 --device cpu --data-dir "$data" --out "$work/diverged"
expect 1 "not found in $work/nothing-here.*--data-dir" --data-dir "$work/nothing-here" --no-download \
  "${quick[@]}"
mkdir -p "$work/empty-mirror"
expect 1 "file://$work/empty-mirror" --data-dir "$work/fetched" --mirror "file://$work/empty-mirror" \
  "${quick[@]}"
[ -z "$(ls -A "$work/fetched" 2>/dev/null)" ] || { echo "FAIL: failed download left files"; failures=$((failures + 1)); }
expect 2 "--mirror" --mirror "ftp://example" "${quick[@]}"
expect 1 "differs" --verify-data --data-dir "$data"
touch "$work/a-file"
expect 1 "--out $work/a-file/sub" --data-dir "$data" --out "$work/a-file/sub" "${quick[@]}"
expect 1 "no CUDA" --data-dir "$data" --out "$work/cuda" --device cuda "${quick[@]}"

# Broken data: a truncated image file.
mkdir -p "$work/broken"
cp "$data"/* "$work/broken/"
head -c 1000 "$data/t10k-images-idx3-ubyte.gz" >"$work/broken/t10k-images-idx3-ubyte.gz"
expect 1 "t10k-images-idx3-ubyte.gz" --data-dir "$work/broken" --out "$work/o" "${quick[@]}"

if [ "$failures" -ne 0 ]; then
  echo "$failures case(s) failed"
  exit 1
fi
