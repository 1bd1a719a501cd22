#pragma once

#include <string>

#include "normtrain/model/model.hpp"

namespace normtrain {

// A torchsummary-style table: one row per layer with its type, output shape for a single
// 1 x 28 x 28 input, and parameter count, then the totals.
std::string model_summary(NormNet& model);

}  // namespace normtrain
