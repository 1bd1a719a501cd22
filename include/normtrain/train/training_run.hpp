#pragma once

#include <iosfwd>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// kDiverged: the run worked, the model did not (a non-finite loss or parameter); exit 3.
enum class RunOutcome { kCompleted, kInterrupted, kDiverged };

// A whole training run from a validated configuration: loads the data, builds the model,
// trains, and writes every output file into the run folder. A checkpoint after every epoch
// lets Ctrl-C (or SIGTERM) stop it after the current batch with every finished epoch kept.
// Throws normtrain::Error only; LibTorch's own exceptions become runtime Errors.
// The run folder is locked for the whole run. A folder that already holds a run is refused,
// replaced or continued as config.existing_run says (see plan_run); with config.dry_run the
// plan is printed to `out` and nothing else happens.
RunOutcome run_training(const TrainConfig& config, std::ostream& out);

// Continues the run saved in request.path from its last finished epoch, appending to its files.
// On the CPU with the same thread count the metrics equal those of an uninterrupted run.
RunOutcome resume_training(const ResumeRequest& request);

}  // namespace normtrain
