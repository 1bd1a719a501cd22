#pragma once

#include <iosfwd>

#include "normtrain/cli/config.hpp"

namespace normtrain {

// `normtrain eval`: restores a run's model, tests it, prints its test loss and accuracy to `out`
// and writes confusion.csv and the misclassified images. Throws normtrain::Error only.
void run_eval(const EvalRequest& request, std::ostream& out);

}  // namespace normtrain
