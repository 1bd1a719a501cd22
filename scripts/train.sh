#!/usr/bin/env bash
# One command from a fresh clone to a trained model: installs the packages, builds the normtrain
# program (only it: the tests and tools are not needed to train), and runs it with the given
# arguments, e.g.  scripts/train.sh --norm gn --groups 8
set -euo pipefail
cd "$(dirname "$0")/.."
say() { echo "train.sh: $*" >&2; }

say "step 1/3: packages (scripts/install_deps.sh)"
scripts/install_deps.sh
if [ -x build/normtrain ]; then
  say "step 2/3: bringing build/normtrain up to date"
else
  say "step 2/3: building build/normtrain (the first build has about 60 steps: two to three minutes on two cores; later builds take seconds)"
fi
scripts/build.sh --target normtrain >&2
say "step 3/3: build/normtrain $*"
exec build/normtrain "$@"
