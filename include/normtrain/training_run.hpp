#pragma once

#include "normtrain/config.hpp"

namespace normtrain {

enum class RunOutcome { kCompleted, kInterrupted };

// A whole training run from a validated configuration: loads the data, builds the model,
// trains, and writes every output file into the run folder. A checkpoint after every epoch
// lets Ctrl-C (or SIGTERM) stop it after the current batch with every finished epoch kept.
// Throws normtrain::Error only; LibTorch's own exceptions become runtime Errors.
RunOutcome run_training(const TrainConfig& config);

// Continues the run saved in request.path from its last finished epoch, appending to its files.
// On the CPU with the same thread count the metrics equal those of an uninterrupted run.
RunOutcome resume_training(const ResumeRequest& request);

}  // namespace normtrain
