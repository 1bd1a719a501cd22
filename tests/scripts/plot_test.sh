#!/usr/bin/env bash
# scripts/plot.sh on the committed fixture runs writes a real PNG of at least 1200x800, and
# refuses a folder that is not a run. Exits 77 (skipped) when gnuplot is not installed.
# Usage: plot_test.sh SOURCE_DIR NORMTRAIN_BINARY
set -u
src=$1
export NORMTRAIN_BINARY=$2
plot=$src/scripts/plot.sh
runs=$src/tests/fixtures/runs
# shellcheck source=tests/scripts/checks.sh
source "$(dirname "${BASH_SOURCE[0]}")/checks.sh"

if ! command -v gnuplot >/dev/null 2>&1; then
  echo "gnuplot not installed (apt-get install gnuplot-nox); skipping"
  exit 77
fi

png=$work/runs.png
if ! bash "$plot" -o "$png" "$runs/bn-l1-0.01" "$runs/ln" "$runs/gn-8" >"$work/out" 2>"$work/err"; then
  fail "plot.sh on the fixture runs failed:"
  cat "$work/err"
elif [ ! -s "$png" ]; then
  fail "plot.sh wrote no image or an empty one"
else
  # A PNG starts with the 8-byte signature, then the IHDR chunk: length, "IHDR", and the
  # width and height as big-endian 32-bit numbers at bytes 16-23.
  signature=$(od -An -tx1 -N8 "$png" | tr -d ' \n')
  read -r w1 w2 w3 w4 h1 h2 h3 h4 < <(od -An -tu1 -j16 -N8 "$png" | tr '\n' ' ')
  width=$(((w1 << 24) | (w2 << 16) | (w3 << 8) | w4))
  height=$(((h1 << 24) | (h2 << 16) | (h3 << 8) | h4))
  if [ "$signature" != 89504e470d0a1a0a ]; then
    fail "not a PNG: it starts with $signature"
  elif [ "$width" -lt 1200 ] || [ "$height" -lt 800 ]; then
    fail "image is ${width}x${height}, want at least 1200x800"
  else
    echo "ok:   plot.sh wrote a ${width}x${height} PNG of 3 runs"
    # gnuplot's warnings (a missing font, say) are shown but do not fail the test.
    cat "$work/err"
  fi
fi

# expect STATUS MESSAGE_REGEX ARGS...: plot.sh ARGS exits STATUS and names the problem.
expect() { expect_status plot.sh "$plot" "$@"; }

mkdir -p "$work/not-a-run"
expect 1 "$work/not-a-run.*metrics.csv" -o "$work/x.png" "$runs/ln" "$work/not-a-run"
[ ! -e "$work/x.png" ] || fail "plot.sh wrote an image despite the bad folder"
expect 2 "-o OUT.png" "$runs/ln"
expect 2 "no run folders" -o "$work/x.png"
expect 0 "^Usage: scripts/plot.sh" --help

finish
