#!/usr/bin/env bash
# A disk that fills up mid-run is an error, not a silent loss: training into a small tmpfs that
# runs out of room after epoch 1 must exit 1 with a message naming the file it could not write
# and the system's reason ("No space left on device"), keep the previous checkpoint, and, once
# there is room again, `normtrain --resume` must continue the run to its end.
#
# The disk fills three ways, each at the first write after epoch 1 that needs new room:
#   1. no inode left: the first new file (run.json's temporary) cannot be created;
#   2. no block left: the rewrite of run.json cannot be written;
#   3. one block left: run.json fits, the new checkpoint does not.
# Sizes are measured on the spot (1. finds the inodes a run needs before epoch 1 by trying, and
# the blocks it then holds give 2. and 3.), so new files written at the start do not break it.
#
# Usage: e2e_write_failures.sh NORMTRAIN_BINARY TINY_DATA_DIR
# Needs root and permission to mount a tmpfs; exits 77 (skipped), saying why, without them.
set -euo pipefail
bin=$1
data=$2

[ "$(id -u)" -eq 0 ] || { echo "SKIP: mounting a small tmpfs needs root"; exit 77; }
work=$(mktemp -d)
disk=$work/disk
mkdir "$disk"
mounted=0
cleanup() {
  if [ "$mounted" -eq 1 ]; then umount "$disk" 2>/dev/null || umount -l "$disk" || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
if ! mount -t tmpfs -o size=8m,nr_inodes=1000 normtrain-test "$disk" 2>"$work/mount-error"; then
  echo "SKIP: cannot mount a tmpfs on $disk: $(cat "$work/mount-error")"
  exit 77
fi
mounted=1

run=$disk/run
args=(--norm gn --epochs 3 --limit-train 512 --limit-test 200 --threads 1 --device cpu
  --data-dir "$data" --quiet)

fail() {
  echo "FAIL: $1"
  if [ -f "$work/stderr" ]; then
    echo "--- normtrain's stderr:"
    cat "$work/stderr"
  fi
  exit 1
}
free_blocks() { stat -f -c %f "$disk"; }
used_blocks() { echo $(($(stat -f -c %b "$disk") - $(stat -f -c %f "$disk"))); }
block_size=$(stat -f -c %S "$disk")
epochs_in_csv() {
  if [ -f "$run/metrics.csv" ]; then echo $(($(wc -l <"$run/metrics.csv") - 1)); else echo 0; fi
}
# Trains a new run into $run; sets $status.
train() {
  status=0
  "$bin" "${args[@]}" --out "$run" 2>"$work/stderr" || status=$?
}

# The run stopped at the end of epoch 1 because of the full disk, and said which file and why.
expect_full_disk_error() {
  local case=$1 file=$2
  [ "$status" -eq 1 ] || fail "$case: exit status $status, want 1"
  [ "$(epochs_in_csv)" -eq 1 ] || fail "$case: the run did not stop right after epoch 1"
  grep -q "normtrain: error: .*$run/$file" "$work/stderr" || fail "$case: the error does not name $run/$file"
  grep -q "No space left on device" "$work/stderr" || fail "$case: the error does not give the reason"
  [ -f "$run/checkpoint.pt" ] || fail "$case: the previous checkpoint.pt is gone"
  [ -z "$(find "$run" -name '*.tmp')" ] || fail "$case: temporary files left: $(ls "$run")"
  echo "$case: $(grep 'normtrain: error:' "$work/stderr")"
}

# With room again, the run continues from its epoch-1 checkpoint (so that still loads) to the end.
expect_resume_completes() {
  local case=$1
  status=0
  "$bin" --resume "$run" --quiet 2>"$work/stderr" || status=$?
  [ "$status" -eq 0 ] || fail "$case: --resume after freeing space exited $status"
  [ "$(epochs_in_csv)" -eq 3 ] || fail "$case: metrics.csv has $(epochs_in_csv) epochs after --resume, want 3"
  grep -q '"status": "completed"' "$run/run.json" || fail "$case: run.json does not say completed"
  [ -f "$run/misclassified.png" ] || fail "$case: the resumed run wrote no misclassified.png"
}

# 1. Out of inodes. The smallest budget with which a run gets through its start leaves it none
# for its first new file after epoch 1. Every smaller budget must fail cleanly at the start.
found=0
for inodes in $(seq 2 40); do
  rm -rf "$run"
  mount -o "remount,nr_inodes=$inodes" "$disk"
  train
  [ "$status" -ne 0 ] || fail "a run with $inodes inodes completed: nothing filled the disk"
  [ "$status" -eq 1 ] || fail "with $inodes inodes: exit status $status, want 1"
  if [ "$(epochs_in_csv)" -ge 1 ]; then
    found=1
    break
  fi
done
[ "$found" -eq 1 ] || fail "no inode budget let a run start"
expect_full_disk_error "no inode left" run.json
# What a run holds when its first epoch ends: the room that cases 2 and 3 leave.
start_blocks=$(used_blocks)
mount -o remount,nr_inodes=1000 "$disk"
expect_resume_completes "no inode left"

# Leaves exactly `blocks` free blocks on the disk for a new run.
fill_disk_leaving() {
  rm -rf "$run" "$disk/filler"
  local fill=$(($(free_blocks) - $1))
  dd if=/dev/zero of="$disk/filler" bs="$block_size" count="$fill" status=none
  [ "$(free_blocks)" -eq "$1" ] || fail "could not leave exactly $1 free blocks"
}

# 2. Out of blocks: what the run held after epoch 1 in case 1 fits, a block more does not.
fill_disk_leaving "$start_blocks"
train
expect_full_disk_error "no block left" run.json
rm "$disk/filler"
expect_resume_completes "no block left"

# 3. One block to spare: run.json's rewrite fits, the epoch-1 checkpoint does not.
fill_disk_leaving $((start_blocks + 1))
train
expect_full_disk_error "one block left" checkpoint.pt
rm "$disk/filler"
expect_resume_completes "one block left"
echo "every full disk was an error naming its file, and every run resumed to the end"
