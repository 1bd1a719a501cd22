#!/usr/bin/env bash
# bench/gpu_table.py: the README's CUDA section is what the script writes from the committed GPU
# reports (nobody edited a number by hand); running it again changes nothing; it fails, naming
# the report, when a number it needs is missing, and refuses a README without its markers.
# Usage: gpu_table_test.sh SOURCE_DIR
set -u
src=$1
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"
script=$src/bench/gpu_table.py

cp "$src/README.md" "$work/README.md"
if ! python3 "$script" readme "$work/README.md"; then
  fail "gpu_table.py readme README.md failed"
elif ! diff -u "$src/README.md" "$work/README.md"; then
  fail "README.md's CUDA numbers are not what bench/gpu_table.py writes from docs/ (run: python3 bench/gpu_table.py readme README.md)"
else
  echo "ok:   README.md's CUDA section is the generated one"
fi

# A copy of the script beside reports that lack the last call's timeline.
mkdir -p "$work/copy/bench" "$work/copy/docs"
cp "$script" "$work/copy/bench/"
cp "$src"/docs/gpu-check-h200*.md "$work/copy/docs/"
sed -i '/^bn-l1-0.01:$/d' "$work/copy/docs/gpu-check-h200-bn-channels-last.md"
if python3 "$work/copy/bench/gpu_table.py" table >"$work/out" 2>"$work/err"; then
  fail "a report without its timeline was accepted"
elif ! grep -q "gpu-check-h200-bn-channels-last.md has no timeline for bn-l1-0.01" "$work/err"; then
  fail "the error does not name the report: $(cat "$work/err")"
else
  echo "ok:   a missing timeline is an error naming its report"
fi

printf 'no markers here\n' >"$work/plain.md"
if python3 "$script" readme "$work/plain.md" 2>"$work/err" || ! grep -q "lacks the" "$work/err"; then
  fail "a README without markers was not refused: $(cat "$work/err")"
else
  echo "ok:   a README without the markers is refused"
fi
finish
