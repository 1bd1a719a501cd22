#pragma once

#include <optional>
#include <string>
#include <vector>

#include "normtrain/commands/sweep/grid.hpp"

namespace normtrain {

// How a sweep ties each run's learning rate to its batch size.
enum class LrScalingKind {
  // Each run's --lr as the grid gives it.
  kNone,
  // The grid's rates are for the reference batch size; a run of batch B gets rate * B / reference
  // (Goyal et al.'s linear scaling rule): --lr, or --max-lr under --scheduler onecycle, whose
  // rates come from it.
  kLinear,
};

struct LrScaling {
  LrScalingKind kind = LrScalingKind::kNone;
  int reference_batch = 128;  // the recipe's batch size, whose rate is --lr's default 0.01
};

// Flag spelling ("none", "linear") and back.
std::string to_flag(LrScalingKind kind);
std::optional<LrScalingKind> lr_scaling_from_flag(const std::string& flag);

// Applies `scaling` to the grid's runs: each run's rate flag gets the scaled value, written with
// twelve significant digits (0.01 at 128 is 0.00015625 at batch 2), in place of the grid's
// value or, when the grid gave none, appended with the default rate scaled; each configuration
// is then read again from the flags. Throws a usage Error naming the run when
// normtrain refuses a scaled run.
void scale_learning_rates(std::vector<GridPoint>& points, const LrScaling& scaling);

}  // namespace normtrain
