#!/usr/bin/env bash
# Runs a grid of normtrain runs, each in its own folder, here N at a time or on Slurm as job
# arrays: `normtrain sweep` (this repository's build/normtrain) with these arguments. See
# `scripts/sweep.sh --help` for the options and README.md, "Sweeps", for the details.
#
# Usage: scripts/sweep.sh [OPTIONS] -- GRID...
#   e.g. scripts/sweep.sh --jobs 2 --out runs/sweep -- --norm bn,ln,gn --groups 8 --seed 1,2,3
set -euo pipefail
exec "$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)/build/normtrain" sweep "$@"
