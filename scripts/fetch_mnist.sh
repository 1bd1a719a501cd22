#!/usr/bin/env bash
# Makes sure DATA_DIR holds the four official MNIST files, downloading what is missing, so that
# parallel runs started after it do not race to download them. (normtrain downloads as part of
# a run; a run of one image does that and nothing else worth keeping.)
# Usage: scripts/fetch_mnist.sh DATA_DIR
set -euo pipefail
cd "$(dirname "$0")/.."
data_dir=${1:?usage: scripts/fetch_mnist.sh DATA_DIR}
build/normtrain --verify-data --data-dir "$data_dir" >/dev/null 2>&1 && exit 0
fetch=$(mktemp -d)
trap 'rm -rf -- "$fetch"' EXIT
build/normtrain --norm ln --epochs 1 --limit-train 1 --limit-test 1 --batch-size 1 \
  --data-dir "$data_dir" --out "$fetch/run" --quiet
