#!/usr/bin/env bash
# Configures (CMake preset "release", or $NORMTRAIN_PRESET) and builds normtrain into build/.
# Usage: scripts/build.sh [--target TARGET]... [CMake arguments]
#   scripts/build.sh                                      # everything: program, tests, tools
#   scripts/build.sh --target normtrain                   # only the program (what training needs)
#   scripts/build.sh -DCMAKE_PREFIX_PATH=/opt/libtorch    # an upstream LibTorch with CUDA
set -euo pipefail
cd "$(dirname "$0")/.."

preset=${NORMTRAIN_PRESET:-release}
targets=()
cmake_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --target) targets+=(--target "$2"); shift 2 ;;
    *) cmake_args+=("$1"); shift ;;
  esac
done
if [ ! -f build/CMakeCache.txt ] || [ ${#cmake_args[@]} -gt 0 ]; then
  cmake --preset "$preset" "${cmake_args[@]}"
fi
cmake --build build --parallel "$(nproc)" "${targets[@]}"
