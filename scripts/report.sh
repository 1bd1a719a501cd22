#!/usr/bin/env bash
# Summarise normtrain run folders as a Markdown table: `normtrain report`, whose help
# (scripts/report.sh --help) says more.
#
# Usage: scripts/report.sh [--aggregate] RUN_DIR...
#
# Runs $NORMTRAIN_BINARY, or build/normtrain in this repository, with the same arguments and
# exit status: 0 done, 2 usage error, 1 a folder is not a run or cannot be read.
set -euo pipefail
binary=${NORMTRAIN_BINARY:-$(dirname -- "$0")/../build/normtrain}
if [ ! -x "$binary" ]; then
  echo "report.sh: no normtrain at $binary: build it with scripts/build.sh or set NORMTRAIN_BINARY" >&2
  exit 1
fi
exec "$binary" report "$@"
