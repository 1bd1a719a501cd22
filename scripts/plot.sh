#!/usr/bin/env bash
# Plot normtrain runs side by side: one PNG with four panels (training loss and accuracy per
# batch, test loss and accuracy per epoch), one colour per run in every panel.
#
# Usage: scripts/plot.sh -o OUT.png RUN_DIR...
#
#   -o OUT.png   the image to write (1600x1000 pixels)
#   RUN_DIR      a folder written by `normtrain --out RUN_DIR` (metrics.csv, steps.csv, run.json)
#
# Needs gnuplot (Debian/Ubuntu: apt-get install gnuplot-nox) and normtrain ($NORMTRAIN_BINARY,
# build/normtrain in this repository, or the normtrain installed beside this script), which
# checks the folders and lists each run's label and data files (`normtrain report --plot-data`).
# Exit status: 0 done, 2 usage error, 1 a folder is not a run, gnuplot missing or failing.
set -euo pipefail
export LC_ALL=C  # a decimal point, whatever the user's locale
# scripts/plot.sh in the repository; installed (cmake --install, the .deb) it is normtrain-plot.
self=scripts/plot.sh
[ "$(basename -- "$0")" = plot.sh ] || self=$(basename -- "$0")

usage() {
  sed -n '2,13s/^# \{0,1\}//p' "$0" | sed "s|scripts/plot\.sh|$self|"
}

die_usage() {
  echo "plot.sh: $1" >&2
  echo "Try '$self --help'." >&2
  exit 2
}

die() {
  echo "plot.sh: $1" >&2
  exit 1
}

# gp_string TEXT: TEXT as a single-quoted gnuplot string, in which only ' needs escaping.
gp_string() {
  printf "'%s'" "${1//\'/\'\'}"
}

out=
dirs=()
while [ $# -gt 0 ]; do
  case $1 in
    -h | --help) usage; exit 0 ;;
    -o | --output)
      [ $# -ge 2 ] || die_usage "$1 needs a file name"
      out=$2
      shift
      ;;
    -o?*) out=${1#-o} ;;
    --) shift; dirs+=("$@"); break ;;
    -?*) die_usage "unknown option '$1'" ;;
    *) dirs+=("$1") ;;
  esac
  shift
done
[ -n "$out" ] || die_usage "no output file: pass -o OUT.png"
[ ${#dirs[@]} -gt 0 ] || die_usage "no run folders given (usage: $self -o OUT.png RUN_DIR...)"

binary=${NORMTRAIN_BINARY:-$(dirname -- "$0")/../build/normtrain}
if [ -z "${NORMTRAIN_BINARY:-}" ] && [ ! -x "$binary" ] && [ -x "$(dirname -- "$0")/normtrain" ]; then
  binary=$(dirname -- "$0")/normtrain  # installed: bin/normtrain-plot beside bin/normtrain
fi
[ -x "$binary" ] || die "no normtrain at $binary: build it with scripts/build.sh or set NORMTRAIN_BINARY"
data=$(mktemp -d "${TMPDIR:-/tmp}/plot.XXXXXX")
trap 'rm -rf "$data"' EXIT
# normtrain refuses a folder that is not a run (exit 1, naming it) before anything is drawn.
"$binary" report --plot-data "$data" -- "${dirs[@]}" || exit $?

command -v gnuplot >/dev/null 2>&1 ||
  die "gnuplot not found; install it (Debian/Ubuntu: apt-get install gnuplot-nox) and run again"
# pngcairo draws smooth lines and translucent colours; plain png (libgd) is the fallback.
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
  terminal="pngcairo size 1600,1000 noenhanced font 'Sans,11' linewidth 1.5"
  raw_alpha=60  # the raw per-batch loss is drawn translucent, under its moving average
else
  terminal="png size 1600,1000 noenhanced font 'Sans,11'"
  raw_alpha=00
fi

out_dir=$(dirname -- "$out")
if [ ! -d "$out_dir" ] || [ ! -w "$out_dir" ]; then
  die "cannot write '$out': the folder '$out_dir' does not exist or is not writable"
fi

# Colour-blind-safe (Okabe-Ito, then the darker Tableau colours); after ten runs the colours
# repeat with dashes.
colours=(0072B2 D55E00 009E73 CC79A7 E69F00 56B4E9 000000 8C564B 7F7F7F BCBD22)

# Runs without a finished epoch have nothing to draw; they are left out with a warning.
plotted=()  # for each run drawn: its label, metrics.csv and steps.csv, a tab between them
max_epoch=0
max_step=0
while IFS=$'\t' read -r dir label _ epochs steps metrics_csv steps_csv; do
  if [ "$epochs" -eq 0 ] || [ "$steps" -eq 0 ]; then
    echo "plot.sh: warning: '$dir' has no finished epoch yet; left out of the plot" >&2
    continue
  fi
  plotted+=("$label"$'\t'"$metrics_csv"$'\t'"$steps_csv")
  [ "$epochs" -le "$max_epoch" ] || max_epoch=$epochs
  [ "$steps" -le "$max_step" ] || max_step=$steps
done < <(tail -n +2 "$data/runs.tsv")
[ ${#plotted[@]} -gt 0 ] || die "none of the runs has a finished epoch to plot"

# Long runs have a noisy per-batch loss: it is smoothed with an exponential moving average
# spanning about 1/50 of the longest run, drawn over the translucent raw values. Runs under
# 100 steps are drawn raw.
span=$((max_step / 50))
if [ "$span" -ge 2 ]; then
  alpha=$(awk -v span="$span" 'BEGIN { printf "%.6f", 2 / (span + 1) }')
  loss_title="Training loss per batch (incl. L1 penalty term; thin: raw, thick: average of ~$span batches)"
else
  alpha=1
  loss_title="Training loss per batch (incl. L1 penalty term)"
fi

# One legend for the whole figure, under its title: a line and a label per run, five runs a
# row (gnuplot's own key packs a legend by the width of one panel). The panels start below.
legend_cols=$((${#plotted[@]} < 5 ? ${#plotted[@]} : 5))
legend_rows=$(((${#plotted[@]} + 4) / 5))
panels_top=$(awk -v rows="$legend_rows" 'BEGIN { printf "%.3f", 0.88 - 0.03 * (rows - 1) }')

loss_raw=()  # stays empty when the loss is drawn raw
loss_smooth=()
acc_step=()
test_loss=()
test_acc=()
legend_items=()
for i in "${!plotted[@]}"; do
  IFS=$'\t' read -r label metrics_csv steps_csv <<<"${plotted[$i]}"
  colour=${colours[$((i % ${#colours[@]}))]}
  dash=$((i / ${#colours[@]} + 1))
  steps_csv=$(gp_string "$steps_csv")
  metrics_csv=$(gp_string "$metrics_csv")
  style="lc rgb '#$colour' dt $dash"
  read -r x1 x2 x3 y < <(awk -v i="$i" -v cols="$legend_cols" 'BEGIN {
    width = 0.19; x = 0.5 - cols * width / 2 + (i % cols) * width; y = 0.945 - int(i / cols) * 0.03
    printf "%.4f %.4f %.4f %.4f\n", x, x + 0.03, x + 0.036, y
  }')
  legend_items+=("set arrow from screen $x1, screen $y to screen $x2, screen $y nohead lw 3 $style"
    "set label $(gp_string "$label") at screen $x3, screen $y left noenhanced font ',12'")
  [ "$alpha" = 1 ] ||
    loss_raw+=("$steps_csv skip 1 using 1:4 with lines lw 0.6 lc rgb '#$raw_alpha$colour' dt $dash notitle")
  loss_smooth+=("$steps_csv skip 1 using 1:(s$i = (\$0 == 0 ? \$4 : a * \$4 + (1 - a) * s$i)) with lines lw 2 $style notitle")
  acc_step+=("$steps_csv skip 1 using 1:5 with lines lw 1.5 $style notitle")
  test_loss+=("$metrics_csv skip 1 using 1:4 with linespoints lw 2 pt 7 ps 0.9 $style notitle")
  test_acc+=("$metrics_csv skip 1 using 1:5 with linespoints lw 2 pt 7 ps 0.9 $style notitle")
done

join_plots() {
  local IFS=$'\x1f'
  local joined="$*"
  printf '%s' "${joined//$'\x1f'/, \\$'\n'     }"
}

# Epoch axes: whole epochs, one tic each up to 20 epochs.
if [ "$max_epoch" -le 1 ]; then
  epoch_axis="set xrange [0.5:1.5]; set xtics 1"
elif [ "$max_epoch" -le 20 ]; then
  epoch_axis="set xtics 1"
else
  epoch_axis="set xtics autofreq; set format x '%.0f'"
fi
if [ "$max_epoch" -gt 1 ]; then
  # A little room left and right, so that the first and last points are not cut by the frame.
  epoch_axis="$(awk -v n="$max_epoch" 'BEGIN { p = 0.02 * (n - 1); printf "set xrange [%g:%g]", 1 - p, n + p }'); $epoch_axis"
fi

script=$data/plot.gp
cat >"$script" <<EOF
set terminal $terminal
set output $(gp_string "$out")
set datafile separator ','
set grid lc rgb '#DDDDDD'
set autoscale yfix
# Room above and below the lines, so that none hides in the frame.
set offsets 0, 0, graph 0.04, graph 0.04
a = $alpha
set multiplot layout 2,2 title 'normtrain: ${#plotted[@]} run$([ ${#plotted[@]} -eq 1 ] || echo s); the same colour is the same run in every panel' font ',14' \\
  margins 0.06, 0.98, 0.07, $panels_top spacing 0.07, 0.11

set title $(gp_string "$loss_title")
set xlabel 'step (batch)'
set ylabel 'training loss'
set xrange [1:$((max_step > 1 ? max_step : 2))]
unset key
$(printf '%s\n' "${legend_items[@]}")
plot $(join_plots "${loss_raw[@]+"${loss_raw[@]}"}" "${loss_smooth[@]}")
unset arrow
unset label

set title 'Training accuracy per batch (running mean within each epoch)'
set xlabel 'step (batch)'
set ylabel 'training accuracy (%)'
plot $(join_plots "${acc_step[@]}")

set title 'Test loss per epoch (negative log-likelihood)'
set xlabel 'epoch'
set ylabel 'test loss'
$epoch_axis
plot $(join_plots "${test_loss[@]}")

set title 'Test accuracy per epoch'
set xlabel 'epoch'
set ylabel 'test accuracy (%)'
plot $(join_plots "${test_acc[@]}")

unset multiplot
EOF

if ! gnuplot "$script" 2>"$script.err"; then
  cat "$script.err" >&2
  rm -f "$script.err"
  die "gnuplot failed to draw '$out' (its messages are above)"
fi
# gnuplot reports unreadable data as warnings and still succeeds; pass them on.
grep -v '^$' "$script.err" >&2 || true
rm -f "$script.err"
[ -s "$out" ] || die "gnuplot wrote no image to '$out'"
echo "wrote $out (${#plotted[@]} run$([ ${#plotted[@]} -eq 1 ] || echo s))"
