#!/usr/bin/env bash
# scripts/report.sh (normtrain report) on the committed fixture runs (real 2-epoch runs on the
# tiny subset, and one that diverged): the tables match the expected Markdown, unfinished and
# diverged runs are marked and left out of mean ± std, and bad folders or arguments give the
# promised exit codes.
# Usage: report_test.sh SOURCE_DIR NORMTRAIN_BINARY
set -u
src=$1
export NORMTRAIN_BINARY=$2
report=$src/scripts/report.sh
runs=$src/tests/fixtures/runs
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# table EXPECTED_FILE ARGS...: report.sh ARGS exits 0 and prints exactly EXPECTED_FILE.
table() {
  local expected=$1
  shift
  bash "$report" "$@" >"$work/out" 2>"$work/err"
  local got=$?
  if [ "$got" -ne 0 ]; then
    fail "report.sh $* -> exit $got (want 0), stderr:"
    cat "$work/err"
  elif ! diff -u "$expected" "$work/out"; then
    fail "report.sh $* differs from $expected (diff above)"
  else
    echo "ok:   report.sh $* matches $(basename "$expected")"
  fi
}

# expect STATUS MESSAGE_REGEX ARGS...: report.sh ARGS exits STATUS and prints a match.
expect() { expect_status report.sh "$report" "$@"; }

table "$src/tests/fixtures/report_expected.md" "$runs/bn-l1-0.01" "$runs/ln" "$runs/gn-8"
# Two seeds of gn-8 make one row with a standard deviation; single runs show "-".
table "$src/tests/fixtures/report_aggregate_expected.md" --aggregate \
  "$runs/bn-l1-0.01" "$runs/ln" "$runs/gn-8" "$runs/gn-8-seed2"

# Runs that differ in more than the seed (here the learning rate) are separate rows, even with
# the same label; runs that differ only in where they ran are pooled.
cp -r "$runs/gn-8-seed2" "$work/gn-8-lr"
sed -i 's/^    "lr": 0.01,/    "lr": 0.05,/' "$work/gn-8-lr/run.json"
cp -r "$runs/gn-8-seed2" "$work/gn-8-elsewhere"
sed -i -E -e 's/^    "threads": .*$/    "threads": 7/; s/^    "device": .*,$/    "device": "cuda:1",/' \
  -e 's#^    "(out|data_dir)": .*,$#    "\1": "/elsewhere",#' "$work/gn-8-elsewhere/run.json"
bash "$report" --aggregate "$runs/gn-8" "$work/gn-8-lr" "$work/gn-8-elsewhere" >"$work/out" 2>&1
if [ "$(grep -c '^| GN (8 groups) | ' "$work/out")" -eq 2 ] &&
  grep -q '^| GN (8 groups) | 2 (1, 2) | 39.40% ± 3.11 |' "$work/out"; then
  echo "ok:   --aggregate pools one recipe's seeds and keeps other recipes apart"
else
  fail "--aggregate grouping is wrong:"
  cat "$work/out"
fi

# Without the accuracy and time keys in run.json, metrics.csv gives the same row.
cp -r "$runs/bn-l1-0.01" "$work/bare"
sed -i -E '/^  "(best_[a-z_]+|final_test_acc|train_seconds)": /d' "$work/bare/run.json"
head -n 3 "$src/tests/fixtures/report_expected.md" >"$work/bare_expected.md"
table "$work/bare_expected.md" "$work/bare"

# A run that stopped early says so in its row and has no final accuracy; --aggregate counts it
# but leaves it out of mean ± std.
cp -r "$runs/ln" "$work/stopped"
sed -i 's/"status": "completed"/"status": "interrupted"/; s/^    "seed": 1,/    "seed": 2,/' "$work/stopped/run.json"
bash "$report" "$work/stopped" >"$work/out" 2>&1
if grep -qxF '| LN (interrupted, 2/2 epochs) | 36.62% (2) | 39.20% (2) | - | - | - | 1.1 s |' "$work/out"; then
  echo "ok:   an interrupted run is marked"
else
  fail "an interrupted run is not marked:"
  cat "$work/out"
fi
bash "$report" --aggregate "$runs/ln" "$work/stopped" >"$work/out" 2>&1
if grep -qxF '| LN | 2 (1, 2; 1 interrupted) | 39.20% ± - | 39.20% ± - | 36.62% ± - |' "$work/out"; then
  echo "ok:   --aggregate leaves an interrupted run out of mean ± std and says so"
else
  fail "--aggregate with an interrupted run:"
  cat "$work/out"
fi

# A run that diverged (a real one: --norm bn --lr 50 on the tiny subset) shows where instead
# of accuracies; --aggregate leaves diverged runs out of mean ± std and counts them.
diverged='diverged (epoch 2, step 10)'
bash "$report" "$runs/ln" "$runs/bn-lr-50" >"$work/out" 2>&1
if grep -qxF "| BN | $diverged | $diverged | $diverged | - | - | 0.4 s |" "$work/out" &&
  grep -qxF '| LN | 36.62% (2) | 39.20% (2) | 39.20% | - | - | 1.1 s |' "$work/out"; then
  echo "ok:   a diverged run shows diverged (epoch, step), no accuracy"
else
  fail "a diverged run is not shown as diverged:"
  cat "$work/out"
fi
cp -r "$runs/gn-8-seed2" "$work/gn-8-seed3"
sed -i -e 's/"status": "completed"/"status": "diverged"/; s/^    "seed": 2,/    "seed": 3,/' \
  -e '/^  "device": /a\  "diverged": {\n    "epoch": 2,\n    "reason": "the loss became inf",\n    "step": 12\n  },' \
  "$work/gn-8-seed3/run.json"
bash "$report" --aggregate "$runs/gn-8" "$runs/gn-8-seed2" "$work/gn-8-seed3" "$runs/bn-lr-50" >"$work/out" 2>&1
if grep -qxF '| GN (8 groups) | 3 (1, 2, 3; 1 diverged) | 39.40% ± 3.11 | 39.40% ± 3.11 | 34.03% ± 2.55 |' "$work/out" &&
  grep -qxF '| BN | 1 (1; 1 diverged) | - | - | - |' "$work/out"; then
  echo "ok:   --aggregate leaves diverged runs out of mean ± std and counts them"
else
  fail "--aggregate with diverged runs:"
  cat "$work/out"
fi

mkdir -p "$work/not-a-run"
expect 1 "$work/not-a-run.*run.json" "$runs/ln" "$work/not-a-run"
expect 1 "$work/missing.*not a folder" "$work/missing"
touch "$work/not-a-run/run.json"
expect 1 "$work/not-a-run.*metrics.csv" "$work/not-a-run"
expect 2 "no run folders" --aggregate
expect 2 "no run folders"
expect 2 "--bogus" --bogus "$runs/ln"
expect 0 "Usage: .*report" --help

finish
