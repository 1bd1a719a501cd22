#pragma once

namespace normtrain {

// normtrain's exit statuses, a contract with users and scripts (the README lists them).
inline constexpr int kExitDone = 0;
// Something went wrong at run time: data, a download, a write, a busy folder, a failed run.
inline constexpr int kExitRuntimeError = 1;
// The command line was wrong, or asked for something the run folder does not allow.
inline constexpr int kExitUsageError = 2;
// The run worked, the model did not: training diverged (a non-finite loss or parameter).
inline constexpr int kExitDiverged = 3;
// Stopped by Ctrl-C or SIGTERM (128 + SIGINT, the convention).
inline constexpr int kExitInterrupted = 130;

}  // namespace normtrain
