#!/usr/bin/env bash
# Writes DIR/README.md and DIR/batch-size.png from the batch-size study's run folders (see
# scripts/batch-size-study.sh), and the same table and answers into the "Batch size" section of
# the top-level README.md (between its batch-size markers). Every number comes from the runs'
# files through `normtrain report --by-batch-size`; nothing is typed by hand.
# Usage: scripts/batch_size_readme.sh [DIR [README]]
#   DIR     the study's run folders (default results/batch-size)
#   README  the file whose batch-size section is rewritten (default README.md)
set -euo pipefail
export LC_ALL=C
readme=${2:-README.md}
[ $# -lt 2 ] || readme=$(realpath -- "$readme")
[ $# -lt 1 ] || dir=$(realpath -- "$1")
cd "$(dirname "$0")/.."
dir=${dir:-results/batch-size}
normtrain=${NORMTRAIN_BINARY:-build/normtrain}
self=batch_size_readme.sh

runs=()
for run in "$dir"/*/; do
  [ -f "$run/run.json" ] && runs+=("${run%/}")
done
[ ${#runs[@]} -gt 0 ] || {
  echo "$self: no run folders in $dir; run scripts/batch-size-study.sh" >&2
  exit 1
}
command -v gnuplot >/dev/null 2>&1 || {
  echo "$self: gnuplot not found; install it (apt-get install gnuplot-nox)" >&2
  exit 1
}

table=$("$normtrain" report --by-batch-size "${runs[@]}")
data=$(mktemp -d)
trap 'rm -rf "$data"' EXIT
"$normtrain" report --by-batch-size --plot-data "$data" "${runs[@]}"
tsv=$data/batch_size.tsv

# cell LABEL COLUMN: the table's cell in LABEL's row under the column headed COLUMN.
cell() {
  awk -F' [|] ' -v label="$1" -v column="$2" '
    /^[|] Technique/ { for (i = 2; i <= NF; i++) { h = $i; sub(/ [|]$/, "", h); if (h == column) at = i } }
    /^[|] / { name = $1; sub(/^[|] /, "", name)
      if (name == label && at) { value = $at; sub(/ [|]$/, "", value); print value; found = 1; exit } }
    END { if (!found) print "-" }' <<<"$table"
}
smallest=$(cut -f2 "$tsv" | tail -n +2 | sort -n | head -n 1)
largest=$(cut -f2 "$tsv" | tail -n +2 | sort -n | tail -n 1)
change="$smallest vs $largest"

# --- the picture: test error against batch size, a line per norm, log-scale x -------------------
labels=()
while IFS= read -r label; do labels+=("$label"); done < <(tail -n +2 "$tsv" | cut -f1 | awk '!seen[$0]++')
colours=(0072B2 D55E00 009E73 CC79A7 E69F00 56B4E9 000000 8C564B)
plots=()
series=0
for i in "${!labels[@]}"; do
  label=${labels[$i]}
  colour=${colours[$((i % ${#colours[@]}))]}
  # Each line is shifted a little along the log-scale x, so that the error bars stay apart.
  x="(\$2 * 2 ** (($series - $((${#labels[@]} / 2))) * 0.035))"
  pick="(strcol(1) eq \"$label\" ? \$4 : NaN)"
  plots+=("'$tsv' using $x:$pick:5 skip 1 with yerrorlines lw 2 pt 7 ps 1.2 lc rgb '#$colour' title '$label'")
  series=$((series + 1))
  if awk -F'\t' -v label="$label" '$1 == label && $6 != "" { found = 1 } END { exit !found }' "$tsv"; then
    x="(\$2 * 2 ** (($series - $((${#labels[@]} / 2))) * 0.035))"
    pick="(strcol(1) eq \"$label\" ? \$7 : NaN)"
    plots+=("'$tsv' using $x:$pick:8 skip 1 with yerrorlines lw 2 dt 2 pt 6 ps 1.2 lc rgb '#$colour' title '$label, precise statistics'")
    series=$((series + 1))
  fi
done
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
  terminal="pngcairo size 1200,800 noenhanced font 'Sans,12'"
else
  terminal="png size 1200,800 noenhanced font 'Sans,12'"
fi
plot_list=$(printf '%s, ' "${plots[@]}")
gnuplot <<GNUPLOT
set terminal $terminal
set output '$dir/batch-size.png'
set datafile separator '\t'
set datafile missing NaN
set logscale x 2
set xrange [$smallest / 1.4 : $largest * 1.4]
set xtics 2
set format x '%.0f'
set xlabel 'images per batch (learning rate 0.01 x batch / 128)'
set ylabel 'test error (%), last epoch: mean and sample std over seeds'
set title 'Test error against batch size (MNIST, 20,000 training images, 4 epochs)'
set key outside right top box
set grid
plot ${plot_list%, }
GNUPLOT

# --- the text -----------------------------------------------------------------------------------
seeds=$(awk -F'\t' 'NR > 1 && $3 > max { max = $3 } END { print max }' "$tsv")
count=$(awk -F'\t' 'NR > 1 { n++ } END { print n }' "$tsv")
footer=$(tail -n 1 <<<"$table")
machine="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores"

# verdicts: a line per table row: its change from the largest to the smallest batch, and whether
# that change is more than twice its standard error (the seeds' spread) or within it.
verdicts() {
  awk -F' [|] ' -v change="$change" '
    /^[|] Technique/ { for (i = 2; i <= NF; i++) { h = $i; sub(/ [|]$/, "", h); if (h == change) at = i } }
    /^[|] / && !/^[|] Technique/ && !/^[|]---/ && at {
      name = $1; sub(/^[|] /, "", name)
      value = $at; sub(/ [|]$/, "", value)
      if (value == "-") { printf "- %s: no runs at one of the two batch sizes.\n", name; next }
      n = split(value, part, " ± ")
      if (n < 2) { printf "- %s: %s points (one run at one end: no spread to compare with).\n", name, value; next }
      delta = part[1] + 0; se = part[2] + 0
      verdict = (delta > 2 * se) ? "worse at the small batch by more than twice its standard error" : \
        (delta < -2 * se) ? "better at the small batch by more than twice its standard error" : \
        "within twice its standard error: no change the seeds can tell apart"
      printf "- %s: %s points, %s.\n", name, value, verdict
    }' <<<"$table"
}

# answers WHERE: the headline, with links relative to WHERE ("" in DIR/README.md).
answers() {
  cat <<MD
Test error in percent after the last epoch, mean ± sample standard deviation over the seeds
(runs in brackets); the last column is the error at batch $smallest minus the error at batch
$largest, in points. "precise statistics" rows test the same BN and BRN models with running
statistics recomputed from 4,096 training images (\`--precise-bn 4096\`).

$table

![test error against batch size, a line per norm](${1}batch-size.png)

**BN vs GN.** BN: $(cell BN "$smallest") at batch $smallest, $(cell BN "$largest") at batch
$largest ($(cell BN "$change") points). GN (8 groups): $(cell "GN (8 groups)" "$smallest") and
$(cell "GN (8 groups)" "$largest") ($(cell "GN (8 groups)" "$change") points). With precise
statistics, BN's error at batch $smallest is $(cell "BN, precise statistics" "$smallest").

**Batch $smallest against batch $largest, norm by norm** (the change in test error, ± its
standard error over the seeds):

$(verdicts)

In this budget every run sees the same images, so a run at batch $largest takes
$((largest / smallest)) times fewer SGD steps than one at batch $smallest: the large-batch end of each
line is also its least-trained run. Read the small-batch end against the middle of the curve,
too, and BN's running statistics against its precise ones: the gap between them at a batch size
is what the moving averages cost there, not what the weights learned.
MD
}

{
  cat <<MD
# The batch-size study

Wu & He, "Group Normalization" (ECCV 2018, Figure 1): BatchNorm's error grows as the batch
shrinks, GroupNorm's stays flat. This is that experiment on normtrain's 9,752-parameter MNIST
network, with the norms proposed since as answers to it.

- **Runs:** BN, BRN, GN (8 groups), GN + weight standardization, LN and FRN, at batch sizes 2
  to 128, seeds 1, 2 and 3: $count cells with up to $seeds runs each.
- **Same images for every run:** the first 20,000 training images for 4 epochs (augmented as
  usual), tested after each epoch on all 10,000 test images.
- **Learning rate:** the paper's linear rule, 0.01 at batch 128 and 0.01 × B / 128 at batch B
  (\`normtrain sweep --lr-scaling linear\`).
- **Command:** \`scripts/batch-size-study.sh --data-dir DIR\` (the runs, resumable), then
  \`scripts/batch_size_readme.sh\` (this file and the picture), on $machine, 2 runs at a time
  with 1 thread each. $footer

## Results (\`normtrain report --by-batch-size results/batch-size/*/\`)

$(answers "")
MD
} >"$dir/README.md"

# The top-level README's copy, between its markers.
begin='<!-- batch-size study: written by scripts/batch_size_readme.sh -->'
end='<!-- end of batch-size study -->'
if ! grep -qxF "$begin" "$readme" || ! grep -qxF "$end" "$readme"; then
  echo "$self: $readme lacks the batch-size markers" >&2
  exit 1
fi
# Links relative to the README's folder.
answers "$(realpath --relative-to="$(dirname -- "$readme")" -- "$dir")/" >"$data/answers.md"
awk -v begin="$begin" -v end="$end" -v file="$data/answers.md" '
  $0 == begin { print; while ((getline line < file) > 0) print line; skip = 1; next }
  $0 == end { skip = 0 }
  !skip' "$readme" >"$readme.new"
mv "$readme.new" "$readme"
echo "wrote $dir/README.md, $dir/batch-size.png and $readme's batch-size section"
