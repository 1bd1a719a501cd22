#pragma once

#include <iosfwd>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// `normtrain predict`: classifies each image with a run's model and writes, per image, the
// predicted class and its probability: a line each, or one JSON array. Every image is read
// before anything is printed, so a bad one fails the command without partial output.
void run_predict(const PredictRequest& request, std::ostream& out);

}  // namespace normtrain
