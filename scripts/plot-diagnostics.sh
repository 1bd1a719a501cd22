#!/usr/bin/env bash
# Plot what the normalized blocks of normtrain runs do during training: one PNG with a grid of
# per-block panels (output std, dead ReLU share, gradient norm, update ratio; one column per
# block) and a bottom row with the loss landscape probes and precise BatchNorm, one colour per
# run in every panel.
#
# Usage: scripts/plot-diagnostics.sh -o OUT.png RUN_DIR...
#
#   -o OUT.png   the image to write (2400x2000 pixels)
#   RUN_DIR      a folder written by `normtrain --out RUN_DIR`; drawn from its layers.csv
#                (--diagnostics-every), landscape_summary.csv (--landscape-every) and
#                metrics.csv (test_acc_precise, --precise-bn). A run without one of them is
#                left out of those panels; a panel that no run has data for says so.
#
# Needs gnuplot (Debian/Ubuntu: apt-get install gnuplot-nox) and normtrain ($NORMTRAIN_BINARY,
# build/normtrain in this repository, or the normtrain installed beside this script), which
# checks the folders and lists each run's label and data files (`normtrain report --plot-data`).
# Exit status: 0 done, 2 usage error, 1 a folder is not a run, no run has any of those files,
# gnuplot missing or failing.
set -euo pipefail
export LC_ALL=C  # a decimal point, whatever the user's locale
self=scripts/plot-diagnostics.sh
[ "$(basename -- "$0")" = plot-diagnostics.sh ] || self=$(basename -- "$0")
me=plot-diagnostics.sh

usage() {
  sed -n '2,19s/^# \{0,1\}//p' "$0" | sed "s|scripts/plot-diagnostics\.sh|$self|"
}

die_usage() {
  echo "$me: $1" >&2
  echo "Try '$self --help'." >&2
  exit 2
}

die() {
  echo "$me: $1" >&2
  exit 1
}

warn() {
  echo "$me: warning: $1" >&2
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
  binary=$(dirname -- "$0")/normtrain  # installed beside bin/normtrain
fi
[ -x "$binary" ] || die "no normtrain at $binary: build it with scripts/build.sh or set NORMTRAIN_BINARY"
data=$(mktemp -d "${TMPDIR:-/tmp}/plot-diagnostics.XXXXXX")
trap 'rm -rf "$data"' EXIT
# normtrain refuses a folder that is not a run (exit 1, naming it) before anything is drawn.
"$binary" report --plot-data "$data" -- "${dirs[@]}" || exit $?

command -v gnuplot >/dev/null 2>&1 ||
  die "gnuplot not found; install it (Debian/Ubuntu: apt-get install gnuplot-nox) and run again"
width=2400
height=2000
# pngcairo draws smooth lines and translucent colours; plain png (libgd) is the fallback.
if gnuplot -e 'set terminal' 2>&1 | grep -qw pngcairo; then
  terminal="pngcairo size $width,$height noenhanced font 'Sans,13' linewidth 1.5"
  faint=1  # raw values are drawn translucent, under their moving average
else
  terminal="png size $width,$height noenhanced font 'Sans,13'"
  faint=0  # opaque, they would hide the average: only the average is drawn
fi

out_dir=$(dirname -- "$out")
if [ ! -d "$out_dir" ] || [ ! -w "$out_dir" ]; then
  die "cannot write '$out': the folder '$out_dir' does not exist or is not writable"
fi

# Colour-blind-safe (Okabe-Ito, then the darker Tableau colours), in the order plot.sh uses, so
# that the same runs get the same colours in both pictures; after ten they repeat with dashes.
colours=(0072B2 D55E00 009E73 CC79A7 E69F00 56B4E9 000000 8C564B 7F7F7F BCBD22)

# Runs without a finished epoch have written nothing yet; they are left out with a warning.
run_dirs=()
labels=()
metrics=()
run_epochs=()
run_steps=()
while IFS=$'\t' read -r dir label _ epochs steps metrics_csv _; do
  if [ "$epochs" -eq 0 ] || [ "$steps" -eq 0 ]; then
    warn "'$dir' has no finished epoch yet; left out of the plot"
    continue
  fi
  run_dirs+=("$dir")
  labels+=("$label")
  metrics+=("$metrics_csv")
  run_epochs+=("$epochs")
  run_steps+=("$steps")
done < <(tail -n +2 "$data/runs.tsv")
runs=${#run_dirs[@]}
[ "$runs" -gt 0 ] || die "none of the runs has a finished epoch to plot"

# The awk programs below find their columns by the header's names and take only plain
# numbers, so that a nan, inf or empty field is a gap rather than a zero.
# shellcheck disable=SC2016 # awk code, expanded by awk
awk_lib='
function num(s) { return s ~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/ }
function columns(names,   n, i, k, want) {
  for (i = 1; i <= NF; i++) col[$i] = i
  n = split(names, want, " ")
  for (k = 1; k <= n; k++)
    if (!(want[k] in col)) { print "plot-diagnostics.sh: " FILENAME " has no column " want[k] > "/dev/stderr"; bad = 1; exit 1 }
}
# The exponential moving average of the (log of the) values of series k, with a time constant
# of tau training steps, so that unevenly spaced rows (a resumed run) weigh right.
function ema(k, s, v, logv,   a) {
  if (v == "" || (logv && v <= 0)) return ""
  if (logv) v = log(v)
  if (!(k in avg) || tau <= 0) avg[k] = v
  else { a = 1 - exp(-(s - at[k]) / tau); avg[k] = a * v + (1 - a) * avg[k] }
  at[k] = s
  return logv ? exp(avg[k]) : avg[k]
}
function val(name) { return num($col[name]) ? $col[name] + 0 : "" }
function pos(v) { return v != "" && v > 0 ? v : "" }
'

# count_points FILE COLUMN: how many distinct values of COLUMN (the steps) FILE's rows have.
count_points() {
  awk -F, -v c="$2" "$awk_lib"'
    NR == 1 { columns(c); next }
    num($col[c]) && !seen[$col[c] + 0]++ { n++ }
    END { if (!bad) print n + 0 }' "$1"
}

# smoothing POINTS STEPS: a panel's noisy series is drawn faint with a moving average over it
# when its longest run has at least 80 points: the average spans about 1/40 of them, tau
# training steps of the STEPS its longest run has.
smoothing() {
  if [ "$1" -ge 80 ]; then
    awk -v n="$1" -v steps="$2" 'BEGIN { printf "%d %.3f\n", n / 40, steps / 40 }'
  else
    echo "0 0"
  fi
}

# most ARRAY FLAGS: the largest value in ARRAY (run_steps, run_epochs) over the runs whose
# FLAGS (has_layers, ...) is 1; 1 when none.
most() {
  local -n values=$1 flags=$2
  local i m=1
  for i in "${!values[@]}"; do
    [ "${flags[$i]}" != 1 ] || [ "${values[$i]}" -le "$m" ] || m=${values[$i]}
  done
  echo "$m"
}

# step_axis MAX_STEP: the x axis of a panel over training steps, with at most about six tics,
# so that four-digit steps stay apart in a narrow panel.
step_axis() {
  awk -v n="$1" 'BEGIN {
    raw = n / 6; p = 1; while (p * 10 <= raw) p *= 10
    m = raw / p; inc = (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p
    printf "set xrange [1:%d]; set xtics %d; set mxtics default; set xlabel \"training step\" offset 0, 0.8\n", (n > 1 ? n : 2), inc
  }'
}

# The per-block series: a file per run and block, L-RUN-BLOCK.csv, with
# step, out_std, zero %, grad_norm, update_ratio and their moving averages.
has_layers=()
layer_points=0
for i in "${!run_dirs[@]}"; do
  file=${run_dirs[$i]}/layers.csv
  has_layers[i]=0
  if [ ! -f "$file" ]; then
    warn "'${run_dirs[$i]}' has no layers.csv (per-block diagnostics were off: --diagnostics-every 0); left out of the per-block panels"
    continue
  fi
  points=$(count_points "$file" step) || die "cannot use '$file'"
  if [ "$points" -eq 0 ]; then
    warn "'$file' has no rows yet; left out of the per-block panels"
    continue
  fi
  has_layers[i]=1
  [ "$points" -le "$layer_points" ] || layer_points=$points
done
layer_steps=$(most run_steps has_layers)
read -r layer_span layer_tau < <(smoothing "$layer_points" "$layer_steps")

blocks=0  # the most blocks a run has
declare -A block_name=()
for i in "${!run_dirs[@]}"; do
  [ "${has_layers[$i]}" = 1 ] || continue
  awk -F, -v out="$data/L-$i-" -v tau="$layer_tau" "$awk_lib"'
    NR == 1 { columns("step layer name out_std in_zero_frac grad_norm update_ratio"); next }
    {
      layer = $col["layer"]
      if (layer !~ /^[1-9][0-9]*$/ || !num($col["step"])) next
      s = $col["step"] + 0; layer += 0
      sd = val("out_std"); zero = val("in_zero_frac"); g = pos(val("grad_norm")); u = pos(val("update_ratio"))
      if (zero != "") zero *= 100
      name[layer] = $col["name"]
      file = out layer ".csv"
      print s "," sd "," zero "," g "," u "," ema(layer "sd", s, sd, 0) "," ema(layer "z", s, zero, 0) \
        "," ema(layer "g", s, g, 1) "," ema(layer "u", s, u, 1) > file
    }
    END {
      if (bad) exit 1
      for (layer in name) print layer, (name[layer] == "" ? "block" layer : name[layer])
    }' "${run_dirs[$i]}/layers.csv" >"$data/blocks" || die "cannot use '${run_dirs[$i]}/layers.csv'"
  while read -r block name; do
    block_name[$block]=$name
    [ "$block" -le "$blocks" ] || blocks=$block
  done <"$data/blocks"
done

# scale_note AXIS: " (log scale)" for y_axis's answer AXIS when it is one, else nothing.
scale_note() {
  [ "${1%%$'\n'*}" = linear ] || printf ' (log scale)'
}

# y_axis SCALE "COLUMN..." FILE...: the y axis of a panel drawing those columns of the files,
# on a line "log" or "linear", then the gnuplot commands. The range is set here, not by
# gnuplot, so that a flat series (BatchNorm's output std of 1) is a flat line rather than
# magnified noise or a warning. SCALE log: a log scale where the values span at least a
# factor 3 (an unnormalized run's output std is decades from a normalized one's 1), with tics
# at 1-2-5 steps, as gnuplot would label only powers of 10; percent: 0 to 100 at most.
y_axis() {
  if [ $# -le 2 ]; then  # no data: the panel says so
    printf 'linear\nunset logscale y; set autoscale y; set ytics autofreq\n'
    return
  fi
  awk -F, -v scale="$1" -v cols="$2" '
    BEGIN { n = split(cols, c, " ") }
    {
      for (k = 1; k <= n; k++) {
        v = $c[k]
        if (v == "" || (scale == "log" && v <= 0)) continue
        v += 0
        if (lo == "" || v < lo) lo = v
        if (hi == "" || v > hi) hi = v
      }
    }
    END {
      if (lo == "") { print "linear"; print "unset logscale y; set autoscale y; set ytics autofreq"; exit }
      if (scale == "log" && hi >= 3 * lo) {
        r = hi / lo; pad = exp(log(r) * 0.05)
        split(r > 1000 ? "1" : r > 100 ? "1 3" : r > 10 ? "1 2 5" : "1 1.5 2 3 5 7", m, " ")
        tics = ""
        for (e = int(log(lo) / log(10)) - 1; e <= int(log(hi) / log(10)) + 1; e++)
          for (j = 1; j in m; j++) {
            t = m[j] * exp(e * log(10))
            if (t >= lo / pad && t <= hi * pad) tics = tics (tics == "" ? "" : ", ") sprintf("%g", t)
          }
        print "log"
        printf "set logscale y; set yrange [%g:%g]; set ytics (%s)\n", lo / pad, hi * pad, tics
        exit
      }
      # At least 2% of the values (1 point of a percentage) high, so that noise stays small.
      big = (hi > -lo ? hi : -lo)
      least = (scale == "percent" ? 1 : 0.02 * big)
      if (least == 0) least = 1
      if (hi - lo < least) { mid = (hi + lo) / 2; lo = mid - least / 2; hi = mid + least / 2 }
      if (scale == "percent") {
        # Tics within 0..100 only, but a margin beyond, so that a line at 0 (no ReLU before
        # the norm: frn) shows above the frame.
        if (lo < 0) { hi -= lo; lo = 0 }
        if (hi > 100) { lo -= hi - 100; hi = 100 }
      }
      # About five tics at 1-2-5 steps (gnuplot puts up to ten in these short panels).
      raw = (hi - lo) / 5; p = exp(int(log(raw) / log(10) + 100) * log(10) - 100 * log(10)); f = raw / p
      inc = (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * p
      tics = (scale == "percent" ? sprintf("0, %g, 100", inc) : sprintf("%g", inc))
      pad = 0.05 * (hi - lo); lo -= pad; hi += pad
      print "linear"
      printf "unset logscale y; set yrange [%.8g:%.8g]; set ytics %s\n", lo, hi, tics
    }' "${@:3}"
}

# The landscape probes: S-RUN.csv with step, loss, loss_min, loss_max, beta_smoothness and
# their moving averages (of the logs, as they are drawn on log scales).
has_landscape=()
landscape_points=0
landscape_runs=0
beta_runs=0
for i in "${!run_dirs[@]}"; do
  file=${run_dirs[$i]}/landscape_summary.csv
  has_landscape[i]=0
  [ -f "$file" ] || continue
  points=$(count_points "$file" step) || die "cannot use '$file'"
  [ "$points" -gt 0 ] || continue
  has_landscape[i]=1
  landscape_runs=$((landscape_runs + 1))
  [ "$points" -le "$landscape_points" ] || landscape_points=$points
done
landscape_steps=$(most run_steps has_landscape)
read -r landscape_span landscape_tau < <(smoothing "$landscape_points" "$landscape_steps")
has_beta=()
for i in "${!run_dirs[@]}"; do
  has_beta[i]=0
  [ "${has_landscape[$i]}" = 1 ] || continue
  betas=$(awk -F, -v out="$data/S-$i.csv" -v tau="$landscape_tau" "$awk_lib"'
    NR == 1 { columns("step loss loss_min loss_max beta_smoothness"); next }
    num($col["step"]) {
      s = $col["step"] + 0
      l = pos(val("loss")); lo = pos(val("loss_min")); hi = pos(val("loss_max")); b = pos(val("beta_smoothness"))
      if (b != "") n++
      print s "," l "," lo "," hi "," b "," ema("l", s, l, 1) "," ema("lo", s, lo, 1) "," \
        ema("hi", s, hi, 1) "," ema("b", s, b, 1) > out
    }
    END { if (!bad) print n + 0 }' "${run_dirs[$i]}/landscape_summary.csv") ||
    die "cannot use '${run_dirs[$i]}/landscape_summary.csv'"
  if [ "$betas" -gt 0 ]; then
    has_beta[i]=1
    beta_runs=$((beta_runs + 1))
  fi
done

# Precise BatchNorm: P-RUN.csv with epoch, test_acc, test_acc_precise for the epochs that have both.
has_precise=()
precise_runs=0
for i in "${!run_dirs[@]}"; do
  has_precise[i]=0
  rows=$(awk -F, -v out="$data/P-$i.csv" "$awk_lib"'
    NR == 1 {
      for (i = 1; i <= NF; i++) if ($i == "test_acc_precise") found = 1
      if (!found) exit  # a metrics.csv from before --precise-bn
      columns("epoch test_acc test_acc_precise"); next
    }
    num($col["epoch"]) && val("test_acc") != "" && val("test_acc_precise") != "" {
      print $col["epoch"] + 0 "," val("test_acc") "," val("test_acc_precise") > out; n++
    }
    END { if (!bad) print n + 0 }' "${metrics[$i]}") || die "cannot use '${metrics[$i]}'"
  if [ "$rows" -gt 0 ]; then
    has_precise[i]=1
    precise_runs=$((precise_runs + 1))
  fi
done

layer_runs=0
for i in "${!run_dirs[@]}"; do layer_runs=$((layer_runs + has_layers[i])); done
if [ "$layer_runs" -eq 0 ] && [ "$landscape_runs" -eq 0 ] && [ "$precise_runs" -eq 0 ]; then
  die "no run has diagnostics to plot: train with --diagnostics-every N (layers.csv), --landscape-every N or --precise-bn N"
fi

# The layout, in screen fractions: the figure's title, one legend (five runs a row), then five
# rows of panels, each under a header saying what the row shows.
legend_cols=$((runs < 5 ? runs : 5))
legend_rows=$(((runs + 4) / 5))
read -r grid_top row_height < <(awk -v rows="$legend_rows" 'BEGIN {
  top = 0.925 - 0.022 * (rows - 1); printf "%.4f %.4f\n", top, (top - 0.005) / 5 }')
left=0.05
right=0.985
column_gap=0.03
bottom_gap=0.05  # the bottom row's panels have a y label each

# panel ROW COLUMN COLUMNS [ROWS [GAP]]: the margins that put a panel in column COLUMN (from 0)
# of COLUMNS equal columns GAP apart in row ROW (from 0, the top), ROWS rows high (1).
panel() {
  awk -v r="$1" -v c="$2" -v n="$3" -v rows="${4:-1}" -v top="$grid_top" -v h="$row_height" -v l="$left" \
    -v rt="$right" -v gap="${5:-$column_gap}" 'BEGIN {
    w = (rt - l - (n - 1) * gap) / n; x0 = l + c * (w + gap)
    y1 = top - r * h - 0.042; y0 = top - (r + rows) * h + 0.04
    printf "set lmargin at screen %.4f; set rmargin at screen %.4f\n", x0, x0 + w
    printf "set tmargin at screen %.4f; set bmargin at screen %.4f\n", y1, y0
  }'
}

# row_header ROW TEXT: the line above a row of panels.
row_header() {
  local y
  y=$(awk -v r="$1" -v top="$grid_top" -v h="$row_height" 'BEGIN { printf "%.4f", top - r * h - 0.01 }')
  printf 'set label %s at screen %s, screen %s left font ",15"\n' "$(gp_string "$2")" "$left" "$y"
}

# empty_panel TEXT: a framed panel holding only TEXT, for data that no run has.
empty_panel() {
  cat <<EOF
unset logscale; set xrange [0:1]; set yrange [0:1]; unset xtics; unset ytics; unset xlabel; unset ylabel
set label 999 $(gp_string "$1") at graph 0.5, graph 0.5 center font ',14' tc rgb '#555555'
plot NaN notitle
unset label 999; set xtics; set ytics
EOF
}

# title LINE1 LINE2: a panel title of two lines.
title() {
  printf 'set title %s."\\n".%s offset 0, -0.6\n' "$(gp_string "$1")" "$(gp_string "$2")"
}

join_plots() {
  local IFS=$'\x1f'
  local joined="$*"
  printf '%s' "${joined//$'\x1f'/, \\$'\n'     }"
}

# Each run's line style, and the faint one of its raw values.
style=()
raw_style=()
for i in "${!run_dirs[@]}"; do
  colour=${colours[$((i % ${#colours[@]}))]}
  dash=$((i / ${#colours[@]} + 1))
  style[i]="lc rgb '#$colour' dt $dash"
  raw_style[i]="lc rgb '#A0$colour' dt $dash"
done

legend=()
for i in "${!run_dirs[@]}"; do
  label=${labels[$i]}
  [ "${has_layers[$i]}" = 1 ] || [ "$layer_runs" -eq 0 ] || label="$label (no layers.csv)"
  read -r x1 x2 x3 y < <(awk -v i="$i" -v cols="$legend_cols" 'BEGIN {
    width = 0.19; x = 0.5 - cols * width / 2 + (i % cols) * width; y = 0.955 - int(i / cols) * 0.022
    printf "%.4f %.4f %.4f %.4f\n", x, x + 0.025, x + 0.03, y
  }')
  legend+=("set arrow from screen $x1, screen $y to screen $x2, screen $y nohead lw 3 ${style[$i]}"
    "set label $(gp_string "$label") at screen $x3, screen $y left font ',15'")
done

if [ "$layer_span" -gt 0 ] && [ "$faint" = 1 ]; then
  smooth_note="; faint: each diagnostics step, thick: moving average over ~$(printf '%.0f' "$layer_tau") steps"
elif [ "$layer_span" -gt 0 ]; then
  smooth_note="; moving average over ~$(printf '%.0f' "$layer_tau") steps"
else
  smooth_note="; a point per diagnostics step"
fi
headers=(
  "Output std of each block's norm: std over all values leaving the norm (unitless; 1 = normalized)$smooth_note"
  "Dead ReLU share: exact zeros among the values entering each block's norm (% of values)$smooth_note"
  "Gradient norm of each block's convolution weight (L2 norm of d loss / d w, L1 term included)$smooth_note"
  "Update ratio of each block's convolution weight: |w_after - w_before| / |w_before| per step$smooth_note"
)
ylabels=("output std" "zeros in (%)" "|grad w|" "|dw| / |w|")
raw_columns=(2 3 4 5)
avg_columns=(6 7 8 9)

script=$data/plot.gp
{
  cat <<EOF
set terminal $terminal
set output $(gp_string "$out")
set datafile separator ','
set grid lc rgb '#DDDDDD'
unset key
set multiplot title 'normtrain diagnostics: $runs run$([ "$runs" -eq 1 ] || echo s); the same colour is the same run in every panel' font ',18'
EOF
  printf '%s\n' "${legend[@]}"
  if [ "$layer_runs" -gt 0 ]; then
    for r in 0 1 2 3; do row_header "$r" "${headers[$r]}"; done
  else
    row_header 0 "Per-block diagnostics (layers.csv): output std, dead ReLU share, gradient norm, update ratio"
  fi
  if [ "$landscape_span" -gt 0 ]; then
    landscape_note="moving averages over ~$(printf '%.0f' "$landscape_tau") steps"
  else
    landscape_note="a point per probed step"
  fi
  row_header 4 "Loss landscape along each probed step's gradient (--landscape-every; $landscape_note), and precise BatchNorm statistics (--precise-bn)"

  # The per-block grid.
  if [ "$layer_runs" -eq 0 ]; then
    panel 0 0 1 4
    empty_panel "no run has layers.csv (train with --diagnostics-every N)"
    echo "unset label; unset arrow"
  fi
  for ((block = 1; block <= (layer_runs > 0 ? blocks : 0); block++)); do
    files=()  # written only for the runs with layers.csv
    quoted=()
    for i in "${!run_dirs[@]}"; do
      [ -f "$data/L-$i-$block.csv" ] || continue
      files+=("$data/L-$i-$block.csv")
      quoted[i]=$(gp_string "$data/L-$i-$block.csv")
    done
    for r in 0 1 2 3; do
      panel "$r" $((block - 1)) "$blocks"
      step_axis "$layer_steps"
      echo "set format x '%.0f'; set format y '%g'"
      [ "$block" -eq 1 ] && echo "set ylabel $(gp_string "${ylabels[$r]}")" || echo "unset ylabel"
      axis=$(y_axis "$([ "$r" -eq 1 ] && echo percent || echo log)" "${raw_columns[$r]}" "${files[@]}")
      echo "${axis#*$'\n'}"
      panel_title=${block_name[$block]:-block$block}$(scale_note "$axis")
      echo "set title $(gp_string "$panel_title") offset 0, -0.6"
      plots=()
      for i in "${!quoted[@]}"; do
        file=${quoted[$i]}
        if [ "$layer_span" -gt 0 ] && [ "$faint" = 1 ]; then
          plots+=("$file using 1:${raw_columns[$r]} with lines lw 0.5 ${raw_style[$i]} notitle")
        fi
      done
      for i in "${!quoted[@]}"; do
        file=${quoted[$i]}
        if [ "$layer_span" -gt 0 ]; then
          plots+=("$file using 1:${avg_columns[$r]} with lines lw 2 ${style[$i]} notitle")
        else
          plots+=("$file using 1:${raw_columns[$r]} with linespoints lw 2 pt 7 ps 0.6 ${style[$i]} notitle")
        fi
      done
      if [ ${#plots[@]} -eq 0 ]; then
        empty_panel "no run has $panel_title"
      else
        echo "plot $(join_plots "${plots[@]}")"
      fi
      echo "unset label; unset arrow"
    done
  done

  # The bottom row: the landscape band, beta smoothness, precise BatchNorm.
  files=()
  for i in "${!run_dirs[@]}"; do
    [ "${has_landscape[$i]}" = 0 ] || files+=("$data/S-$i.csv")
  done
  panel 4 0 3 1 "$bottom_gap"
  step_axis "$landscape_steps"
  echo "set ylabel 'loss (NLL + L1 term)'; set format y '%g'"
  axis=$(y_axis log "2 3 4" "${files[@]}")
  echo "${axis#*$'\n'}"
  title "Loss along each probed step's gradient direction$(scale_note "$axis")" \
    "band: min..max of the loss over the probed step sizes; line: the step's own loss"
  if [ "$landscape_runs" -eq 0 ]; then
    empty_panel "no run has landscape_summary.csv (--landscape-every N)"
  else
    plots=()
    if [ "$landscape_span" -gt 0 ]; then c=(6 7 8); else c=(2 3 4); fi
    for i in "${!run_dirs[@]}"; do
      [ "${has_landscape[$i]}" = 1 ] || continue
      file=$(gp_string "$data/S-$i.csv")
      if [ "$faint" = 1 ]; then
        plots+=("$file using 1:${c[1]}:${c[2]} with filledcurves fs transparent solid 0.2 noborder ${style[$i]} notitle")
      else  # no translucency: the band's edges
        plots+=("$file using 1:${c[1]} with lines lw 0.8 ${style[$i]} notitle"
          "$file using 1:${c[2]} with lines lw 0.8 ${style[$i]} notitle")
      fi
    done
    for i in "${!run_dirs[@]}"; do
      [ "${has_landscape[$i]}" = 1 ] || continue
      plots+=("$(gp_string "$data/S-$i.csv") using 1:${c[0]} with lines lw 2 ${style[$i]} notitle")
    done
    echo "plot $(join_plots "${plots[@]}")"
  fi
  echo "unset label; unset arrow"

  files=()
  for i in "${!run_dirs[@]}"; do
    [ "${has_beta[$i]}" = 0 ] || files+=("$data/S-$i.csv")
  done
  panel 4 1 3 1 "$bottom_gap"
  step_axis "$landscape_steps"
  echo "set ylabel 'beta'; set format y '%g'"
  axis=$(y_axis log 5 "${files[@]}")
  echo "${axis#*$'\n'}"
  title "Effective beta-smoothness$(scale_note "$axis"): max over the probed step sizes eta" \
    "of |grad L(w) - grad L(w - eta g)| / |eta g|, g the step's gradient"
  if [ "$beta_runs" -eq 0 ]; then
    if [ "$landscape_runs" -eq 0 ]; then
      empty_panel "no run has landscape_summary.csv (--landscape-every N)"
    else
      empty_panel "no run has a beta_smoothness value (a step size > 0)"
    fi
  else
    plots=()
    for i in "${!run_dirs[@]}"; do
      [ "${has_beta[$i]}" = 1 ] || continue
      file=$(gp_string "$data/S-$i.csv")
      if [ "$landscape_span" -gt 0 ] && [ "$faint" = 1 ]; then
        plots+=("$file using 1:5 with lines lw 0.5 ${raw_style[$i]} notitle")
      fi
    done
    for i in "${!run_dirs[@]}"; do
      [ "${has_beta[$i]}" = 1 ] || continue
      file=$(gp_string "$data/S-$i.csv")
      if [ "$landscape_span" -gt 0 ]; then
        plots+=("$file using 1:9 with lines lw 2 ${style[$i]} notitle")
      else
        plots+=("$file using 1:5 with linespoints lw 2 pt 7 ps 0.6 ${style[$i]} notitle")
      fi
    done
    echo "plot $(join_plots "${plots[@]}")"
  fi
  echo "unset label; unset arrow"

  panel 4 2 3 1 "$bottom_gap"
  title "Test accuracy per epoch, BatchNorm runs with --precise-bn" \
    "solid, filled: running statistics; dashed, open: precise (recomputed)"
  echo "set xlabel 'epoch' offset 0, 0.8; set ylabel 'test accuracy (%)'; set format y '%g'"
  files=()
  for i in "${!run_dirs[@]}"; do
    [ "${has_precise[$i]}" = 0 ] || files+=("$data/P-$i.csv")
  done
  axis=$(y_axis percent "2 3" "${files[@]}")
  echo "${axis#*$'\n'}"
  # Whole epochs, one tic each up to 20, a little room left and right.
  max_epoch=$(most run_epochs has_precise)
  if [ "$max_epoch" -le 1 ]; then
    echo "set xrange [0.5:1.5]; set xtics 1"
  else
    awk -v n="$max_epoch" 'BEGIN { p = 0.02 * (n - 1); printf "set xrange [%g:%g]; ", 1 - p, n + p }'
    if [ "$max_epoch" -le 20 ]; then echo "set xtics 1"; else echo "set xtics autofreq"; fi
  fi
  if [ "$precise_runs" -eq 0 ]; then
    empty_panel "no run has test_acc_precise (BatchNorm, --precise-bn N)"
  else
    plots=()
    for i in "${!run_dirs[@]}"; do
      [ "${has_precise[$i]}" = 1 ] || continue
      file=$(gp_string "$data/P-$i.csv")
      colour=${colours[$((i % ${#colours[@]}))]}
      plots+=("$file using 1:2 with linespoints lw 2 pt 7 ps 1 lc rgb '#$colour' dt 1 notitle"
        "$file using 1:3 with linespoints lw 2 pt 6 ps 1.2 lc rgb '#$colour' dt 2 notitle")
    done
    echo "plot $(join_plots "${plots[@]}")"
  fi
  echo "unset multiplot"
} >"$script"

if ! gnuplot "$script" 2>"$script.err"; then
  cat "$script.err" >&2
  die "gnuplot failed to draw '$out' (its messages are above)"
fi
# gnuplot reports unreadable data as warnings and still succeeds; pass them on.
grep -v '^$' "$script.err" >&2 || true
[ -s "$out" ] || die "gnuplot wrote no image to '$out'"
echo "wrote $out ($runs run$([ "$runs" -eq 1 ] || echo s))"
