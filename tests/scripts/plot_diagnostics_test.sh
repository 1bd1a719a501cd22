#!/usr/bin/env bash
# scripts/plot-diagnostics.sh on real runs trained here on the committed tiny data (a BatchNorm
# run with per-block diagnostics, landscape probes and precise BatchNorm; an unnormalized one
# with diagnostics only) writes a 2400x2000 PNG, also for the run without probes alone and
# beside a run without layers.csv, and refuses bad arguments and folders. Exits 77 (skipped)
# when gnuplot is not installed.
# Usage: plot_diagnostics_test.sh SOURCE_DIR NORMTRAIN_BINARY
set -u
src=$1
bin=$2
export NORMTRAIN_BINARY=$bin
plot=$src/scripts/plot-diagnostics.sh
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "gnuplot not installed (apt-get install gnuplot-nox); skipping"
  exit 77
fi

# Two epochs of 4 steps each: diagnostics at every step, probes at steps 1, 3, 5 and 7.
train=(--epochs 2 --limit-train 512 --limit-test 200 --threads 1 --device cpu --no-download
  --data-dir "$src/data/mnist-tiny" --diagnostics-every 1 --quiet)
if ! "$bin" --norm bn "${train[@]}" --landscape-every 2 --precise-bn 256 --out "$work/bn" ||
  ! "$bin" --norm none "${train[@]}" --out "$work/none"; then
  echo "FAIL: normtrain could not train the runs to plot"
  exit 1
fi
for file in bn/layers.csv bn/landscape_summary.csv none/layers.csv; do
  [ -s "$work/$file" ] || fail "normtrain wrote no $file"
done
[ ! -e "$work/none/landscape_summary.csv" ] || fail "the run without probes has landscape_summary.csv"

# check_png FILE WHAT: FILE is a 2400x2000 PNG.
check_png() {
  local png=$1 what=$2
  if [ ! -s "$png" ]; then
    fail "$what: no image or an empty one"
    return
  fi
  # A PNG starts with the 8-byte signature, then the IHDR chunk: length, "IHDR", and the
  # width and height as big-endian 32-bit numbers at bytes 16-23.
  local signature w1 w2 w3 w4 h1 h2 h3 h4 width height
  signature=$(od -An -tx1 -N8 "$png" | tr -d ' \n')
  read -r w1 w2 w3 w4 h1 h2 h3 h4 < <(od -An -tu1 -j16 -N8 "$png" | tr '\n' ' ')
  width=$(((w1 << 24) | (w2 << 16) | (w3 << 8) | w4))
  height=$(((h1 << 24) | (h2 << 16) | (h3 << 8) | h4))
  if [ "$signature" != 89504e470d0a1a0a ]; then
    fail "$what: not a PNG: it starts with $signature"
  elif [ "$width" -ne 2400 ] || [ "$height" -ne 2000 ]; then
    fail "$what: image is ${width}x${height}, want 2400x2000"
  else
    echo "ok:   $what: a ${width}x${height} PNG"
  fi
}

# plot_ok WHAT ERR_REGEX ARGS...: plot-diagnostics.sh -o OUT.png ARGS exits 0 and writes the
# PNG; ERR_REGEX, when not empty, must match what it printed on stderr.
plot_ok() {
  local what=$1 pattern=$2
  shift 2
  local png=$work/plot-$((++plots)).png
  if ! bash "$plot" -o "$png" "$@" >"$work/out" 2>"$work/err"; then
    fail "$what: plot-diagnostics.sh $* failed:"
    cat "$work/err"
    return
  fi
  if [ -n "$pattern" ] && ! grep -Eq -- "$pattern" "$work/err"; then
    fail "$what: no message matching '$pattern' on stderr:"
    cat "$work/err"
  fi
  check_png "$png" "$what"
  # gnuplot's warnings (a missing font, say) are shown but do not fail the test.
  [ -n "$pattern" ] || cat "$work/err"
}
plots=0

plot_ok "all panels" "" "$work/bn" "$work/none"
plot_ok "a run without landscape files or precise BatchNorm" "" "$work/none"
# The committed fixture runs predate layers.csv: a warning, and the other run is drawn.
plot_ok "beside a run without layers.csv" "fixtures/runs/ln.*no layers.csv" \
  "$src/tests/fixtures/runs/ln" "$work/bn"

# expect STATUS MESSAGE_REGEX ARGS...: plot-diagnostics.sh ARGS exits STATUS and names the problem.
expect() { expect_status plot-diagnostics.sh "$plot" "$@"; }

mkdir -p "$work/not-a-run"
expect 1 "$work/not-a-run.*metrics.csv" -o "$work/x.png" "$work/bn" "$work/not-a-run"
expect 1 "no run has diagnostics" -o "$work/x.png" "$src/tests/fixtures/runs/ln"
[ ! -e "$work/x.png" ] || fail "plot-diagnostics.sh wrote an image despite the bad folders"
expect 2 "-o OUT.png" "$work/bn"
expect 2 "no run folders" -o "$work/x.png"
expect 2 "unknown option '--bogus'" --bogus -o "$work/x.png" "$work/bn"
expect 0 "^Usage: scripts/plot-diagnostics.sh" --help

finish
