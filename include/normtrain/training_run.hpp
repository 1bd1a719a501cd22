#pragma once

#include "normtrain/config.hpp"

namespace normtrain {

// A whole training run from a validated configuration: loads the data, builds the model,
// trains, and writes every output file into the run folder. Throws normtrain::Error only;
// LibTorch's own exceptions are turned into runtime Errors with a readable message.
void run_training(const TrainConfig& config);

}  // namespace normtrain
