#!/usr/bin/env bash
# Builds the torch-free half of normtrain with AddressSanitizer and UndefinedBehaviorSanitizer
# into build-asan/ and runs its tests there: any memory error, leak or undefined behaviour fails
# the test that caused it, with a stack trace. Extra arguments go to ctest.
# Usage: scripts/sanitize.sh [extra ctest arguments]
#
# Why LibTorch is left out (-DNORMTRAIN_WITH_TORCH=OFF): everything that reads untrusted input
# (IDX files, gzip, the download, the command line) and the CSV, JSON and PNG writers live in
# the torch-free half, normtrain_base, which this covers whole. Debian's libtorch is not built
# with ASan, so instrumenting our code around it would need suppressions for what it does
# inside, and compiling the LibTorch half a second time would double the time CI takes.
set -euo pipefail
cd "$(dirname "$0")/.."

# Defaults that make a failure readable; a caller's own settings win.
export ASAN_OPTIONS=${ASAN_OPTIONS:-halt_on_error=1:detect_leaks=1:detect_stack_use_after_return=1:check_initialization_order=1:strict_init_order=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

# The "asan" preset in CMakePresets.json: -DNORMTRAIN_SANITIZE=ON -DNORMTRAIN_WITH_TORCH=OFF.
cmake --preset asan
cmake --build --preset asan --parallel "$(nproc)"
ctest --preset asan --parallel "$(nproc)" "$@"
