#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace normtrain {

// The loss landscape along one step's gradient direction, as Santurkar et al. (NeurIPS 2018,
// "How Does Batch Normalization Help Optimization?", section 3.1) probe it: with g the gradient
// of the optimised objective L at the weights w, on the step's batch, L and its gradient at
// w - eta * g for a few step sizes eta.
struct LandscapePoint {
  double eta = 0.0;          // a --landscape-steps multiple of the step's learning rate
  double loss = 0.0;         // L(w - eta * g): NLL plus the L1 term, as steps.csv's loss
  double grad_change = 0.0;  // |grad L(w) - grad L(w - eta * g)| over every parameter
};

// One probed step (a row of landscape.csv per point).
struct LandscapeProbe {
  std::int64_t step = 0;  // 1-based over the whole run, as in steps.csv
  int epoch = 0;
  double lr = 0.0;         // the step's learning rate
  double loss = 0.0;       // L(w), the step's own loss
  double grad_norm = 0.0;  // |g| over every parameter
  std::vector<LandscapePoint> points;
};

// What a probed step says about the landscape (a row of landscape_summary.csv).
struct LandscapeSummary {
  double loss_min = 0.0;  // over the step's own loss and every point's
  double loss_max = 0.0;
  double max_grad_change = 0.0;
  // max over the points with eta > 0 of grad_change / |eta * g|: how fast the gradient
  // changes along the step, the paper's "effective beta-smoothness". None when no point has
  // eta > 0 or g is zero.
  std::optional<double> beta_smoothness;
};

LandscapeSummary summarize_landscape(const LandscapeProbe& probe);

}  // namespace normtrain
