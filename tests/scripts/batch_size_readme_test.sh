#!/usr/bin/env bash
# scripts/batch_size_readme.sh on a small batch-size study trained here on the committed tiny
# data (BN with precise statistics and GN, at batch 4 and 16, BN at batch 4 with two seeds):
# it writes DIR/README.md with `normtrain report --by-batch-size`'s table, a 1200x800 PNG, and
# the same table between the markers of the README it is given, leaving the rest of that file
# as it was, also when run again; it refuses a folder without runs and a README without the
# markers. Exits 77 (skipped) when gnuplot is not installed.
# Usage: batch_size_readme_test.sh SOURCE_DIR NORMTRAIN_BINARY
set -u
src=$1
bin=$2
export NORMTRAIN_BINARY=$bin
script=$src/scripts/batch_size_readme.sh
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "gnuplot not installed (apt-get install gnuplot-nox); skipping"
  exit 77
fi

study=$work/study
train=(--epochs 1 --limit-train 64 --limit-test 100 --threads 1 --device cpu --no-download
  --data-dir "$src/data/mnist-tiny" --quiet)
for run in "bn 4 1" "bn 4 2" "bn 16 1" "gn 4 1" "gn 16 1"; do
  read -r norm batch seed <<<"$run"
  extra=(--precise-bn 32)
  [ "$norm" = gn ] && extra=(--groups 8)
  if ! "$bin" --norm "$norm" "${extra[@]}" --batch-size "$batch" --seed "$seed" "${train[@]}" \
    --out "$study/${norm}_batch-$batch-seed-$seed"; then
    echo "FAIL: normtrain could not train the study's run $run"
    exit 1
  fi
done

begin='<!-- batch-size study: written by scripts/batch_size_readme.sh -->'
end='<!-- end of batch-size study -->'
printf '# Before\n\n%s\nstale text\n%s\n\n# After\n' "$begin" "$end" >"$work/README.md"
cp "$work/README.md" "$work/README.orig"

if ! bash "$script" "$study" "$work/README.md" >"$work/out" 2>&1; then
  fail "batch_size_readme.sh exited $? on a study of 5 runs:"
  cat "$work/out"
fi
table=$("$bin" report --by-batch-size "$study"/*/)
bn_row=$(grep '^| BN |' <<<"$table")
case $bn_row in
  "| BN | "*" (2) | "*" (1) | "*) echo "ok:   the table pools BN's two seeds at batch 4: $bn_row" ;;
  *) fail "BN's row is '$bn_row'" ;;
esac
grep -q '^| BN, precise statistics |' <<<"$table" || fail "no precise-statistics row in: $table"
if grep -qxF -- "$bn_row" "$study/README.md"; then
  echo "ok:   $study/README.md holds the report's table"
else
  fail "$study/README.md lacks BN's row"
fi

# The PNG signature, then the IHDR chunk's big-endian width and height at bytes 16-23.
png=$study/batch-size.png
signature=$(od -An -tx1 -N8 "$png" 2>/dev/null | tr -d ' \n')
read -r w1 w2 w3 w4 h1 h2 h3 h4 < <(od -An -tu1 -j16 -N8 "$png" 2>/dev/null | tr '\n' ' ')
size="$(((w1 << 24) | (w2 << 16) | (w3 << 8) | w4))x$(((h1 << 24) | (h2 << 16) | (h3 << 8) | h4))"
if [ "$signature" = 89504e470d0a1a0a ] && [ "$size" = 1200x800 ]; then
  echo "ok:   batch-size.png is a $size PNG"
else
  fail "batch-size.png: signature '$signature', size $size"
fi

# The README: the section holds the table and the picture's link; the rest is unchanged.
section=$(awk -v b="$begin" -v e="$end" '$0 == e { inside = 0 } inside; $0 == b { inside = 1 }' "$work/README.md")
grep -qxF -- "$bn_row" <<<"$section" || fail "the README's section lacks BN's row"
grep -qF '](study/batch-size.png)' <<<"$section" || fail "the README's section does not link study/batch-size.png"
grep -q 'stale text' "$work/README.md" && fail "the section's old text is still there"
outside() { awk -v b="$begin" -v e="$end" '$0 == b { skip = 1; print; next } $0 == e { skip = 0 } !skip' "$1"; }
if [ "$(outside "$work/README.md")" = "$(outside "$work/README.orig")" ]; then
  echo "ok:   the README outside its batch-size section is unchanged"
else
  fail "the README changed outside its section"
fi
cp "$work/README.md" "$work/README.first"
bash "$script" "$study" "$work/README.md" >/dev/null 2>&1
if cmp -s "$work/README.md" "$work/README.first"; then
  echo "ok:   run again, the README is the same"
else
  fail "run again, the README changed"
fi

mkdir "$work/empty"
expect_status batch_size_readme.sh "$script" 1 "no run folders in .*empty" "$work/empty" "$work/README.md"
printf '# No markers\n' >"$work/plain.md"
expect_status batch_size_readme.sh "$script" 1 "plain.md lacks the batch-size markers" "$study" "$work/plain.md"
finish
