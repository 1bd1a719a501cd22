#!/usr/bin/env bash
# One command from a fresh clone to a trained model: installs the packages, builds, and runs
# normtrain with the given arguments, e.g.  scripts/train.sh --norm gn --groups 8
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install_deps.sh
scripts/build.sh >/dev/null
exec build/normtrain "$@"
