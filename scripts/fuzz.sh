#!/usr/bin/env bash
# Fuzzes the IDX reader (raw and gzip input) with libFuzzer, AddressSanitizer and
# UndefinedBehaviorSanitizer for SECONDS (default 60): builds fuzz/idx_fuzzer.cpp with clang
# into build-fuzz/ and starts from a copy of the seed corpus in fuzz/corpus/idx/, which stays
# as committed. Fails on any crash, sanitizer report, hang or broken invariant, and keeps the
# input that caused it in build-fuzz/crashes/. See fuzz/README.md.
# Usage: scripts/fuzz.sh [SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
  echo "fuzz.sh: SECONDS must be a positive whole number, not '$seconds'" >&2
  echo "usage: scripts/fuzz.sh [SECONDS]" >&2
  exit 2
fi

# Only the torch-free half and the fuzzer, with clang (the "fuzz" preset): seconds, not minutes.
cmake --preset fuzz
cmake --build --preset fuzz --parallel "$(nproc)"

corpus=$(mktemp -d "${TMPDIR:-/tmp}/idx-corpus.XXXXXX")
log=$corpus.log
trap 'rm -rf "$corpus" "$log"' EXIT
cp fuzz/corpus/idx/* "$corpus/"
mkdir -p build-fuzz/crashes

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
# -timeout: an input that takes over 10 s is a hang (a loop that never ends), and fails too.
build-fuzz/fuzz/idx_fuzzer -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
  -artifact_prefix=build-fuzz/crashes/ "$corpus" >"$log" 2>&1 || status=$?
executions=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
if [ "$status" -ne 0 ]; then
  # The whole report but libFuzzer's progress lines: the stack trace is what matters.
  grep -v '^#[0-9]' "$log" >&2 || true
  echo "fuzz.sh: idx_fuzzer FAILED (exit status $status) after ${executions:-?} executions;" \
    "the input is in build-fuzz/crashes/ (reproduce: build-fuzz/fuzz/idx_fuzzer FILE)" >&2
  exit 1
fi
grep -e '^Done ' -e '^stat::' "$log" || true
echo "fuzz.sh: no crash in ${executions:-?} executions over ${seconds} s" \
  "(corpus grew from $(find fuzz/corpus/idx -type f | wc -l) to $(find "$corpus" -type f | wc -l) inputs)"
