#!/usr/bin/env bash
# scripts/bench.sh and bench/bench_table.py: the table and run list of committed fixture runs
# (medians, ratios within each repetition: LN batch 8 gives 2.60x, where the ratio of the medians
# would be 2.52x; a run whose loss is not finite), README blocks refreshed from a report,
# usage errors, and one tiny real benchmark on the committed subset that must produce a rate
# for every peer. The real run is skipped (exit 77) when /usr/bin/python3
# cannot import torch and torchvision.
# Usage: bench_test.sh SOURCE_DIR NORMTRAIN_BINARY
set -u
src=$1
normtrain=$2
table=$src/bench/bench_table.py
fixtures=$src/tests/fixtures/bench
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

# same EXPECTED_FILE COMMAND...: COMMAND exits 0 and prints exactly EXPECTED_FILE.
same() {
  local expected=$1
  shift
  if ! "$@" >"$work/out" 2>"$work/err"; then
    fail "$* failed:"
    cat "$work/err"
  elif ! diff -u "$expected" "$work/out"; then
    fail "$* differs from $expected (diff above)"
  else
    echo "ok:   $* matches $(basename "$expected")"
  fi
}

same "$fixtures/table_expected.md" python3 "$table" table "$fixtures/runs.tsv"
same "$fixtures/runs_expected.md" python3 "$table" runs "$fixtures/runs.tsv"

# README blocks: the text between the markers is replaced by the report's table part, the rest
# of the file is kept, and a second refresh changes nothing.
mkdir -p "$work/docs"
printf 'Title\n<!-- table -->\nline one\nline two\n<!-- /table -->\nrest of the report\n' \
  >"$work/docs/report.md"
printf 'Intro\n<!-- bench-table: docs/report.md -->\nold table\n<!-- /bench-table -->\nOutro\n' \
  >"$work/README.md"
printf 'Intro\n<!-- bench-table: docs/report.md -->\nline one\nline two\n<!-- /bench-table -->\nOutro\n' \
  >"$work/expected.md"
python3 "$table" readme "$work/README.md" && python3 "$table" readme "$work/README.md"
if diff -u "$work/expected.md" "$work/README.md"; then
  echo "ok:   readme refreshes the block from the report, twice alike"
else
  fail "readme did not refresh the block as expected (diff above)"
fi
printf 'no markers here\n' >"$work/plain.md"
if python3 "$table" readme "$work/plain.md" 2>"$work/err"; then
  fail "readme accepted a file without a bench-table block"
elif ! grep -q 'bench-table' "$work/err"; then
  fail "readme's refusal does not name the marker: $(cat "$work/err")"
else
  echo "ok:   readme refuses a file without a block"
fi

# Usage errors exit 2 before anything runs.
for args in "--reps 0" "--batch-sizes 8,x" "--norms bn,xn" "--onednn-avx2 maybe" "--bogus"; do
  # shellcheck disable=SC2086  # args holds several words on purpose
  NORMTRAIN_BINARY=$normtrain bash "$src/scripts/bench.sh" $args >/dev/null 2>"$work/err"
  status=$?
  if [ "$status" -ne 2 ]; then
    fail "bench.sh $args exited $status, want 2"
  else
    echo "ok:   bench.sh $args exits 2"
  fi
done

if ! /usr/bin/python3 -c 'import torch, torchvision' 2>/dev/null; then
  echo "$failures failure(s) before the real run; /usr/bin/python3 cannot import torch and torchvision (scripts/install_deps.sh installs them): skipping it"
  [ "$failures" -eq 0 ] && exit 77
  exit 1
fi

# One repetition on 256 images of the committed subset: every peer gives a rate.
report=$work/bench.md
if ! NORMTRAIN_BINARY=$normtrain bash "$src/scripts/bench.sh" --reps 1 --images 256 \
  --batch-sizes 64 --norms ln --onednn-avx2 no --data-dir "$src/data/mnist-tiny" --out "$report" \
  >/dev/null 2>"$work/err"; then
  fail "the tiny benchmark failed:"
  tail -n 20 "$work/err"
else
  # normtrain's two cells and the ratio are numbers. A Python peer's cell may say its loss went
  # NaN instead: LibTorch 2.6's oneDNN does that to the seed's loop on AVX-512 CPUs (README).
  peer='([0-9]+|loss not finite)'
  rows=$(grep -cE "^\| [A-Z].* \| 64 \| [0-9]+ \| [0-9]+ \| $peer \| $peer \| $peer \| $peer \| \*\*[0-9.]+×\*\*" "$report")
  # Every run still gives a rate, finite loss or not.
  rates=$(awk -F'\t' 'NR > 1 && $6 ~ /^[0-9]+(\.[0-9]+)?$/ && $6 > 0' "${report%.md}.tsv" | wc -l)
  if [ "$rows" -ne 1 ]; then
    fail "the tiny benchmark's table has $rows complete rows, want 1:"
    cat "$report"
  elif [ "$rates" -ne 6 ]; then
    fail "${report%.md}.tsv holds $rates runs with a rate, want 6:"
    cat "${report%.md}.tsv"
  else
    echo "ok:   a tiny benchmark gives every peer's rate"
  fi
fi

echo "$failures failure(s)"
[ "$failures" -eq 0 ]
