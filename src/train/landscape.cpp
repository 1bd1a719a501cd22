#include "normtrain/train/landscape.hpp"

#include <algorithm>

namespace normtrain {

LandscapeSummary summarize_landscape(const LandscapeProbe& probe) {
  LandscapeSummary summary;
  summary.loss_min = probe.loss;
  summary.loss_max = probe.loss;
  for (const LandscapePoint& point : probe.points) {
    summary.loss_min = std::min(summary.loss_min, point.loss);
    summary.loss_max = std::max(summary.loss_max, point.loss);
    summary.max_grad_change = std::max(summary.max_grad_change, point.grad_change);
    const double distance = point.eta * probe.grad_norm;
    if (distance > 0.0) {
      const double smoothness = point.grad_change / distance;
      summary.beta_smoothness = std::max(summary.beta_smoothness.value_or(smoothness), smoothness);
    }
  }
  return summary;
}

}  // namespace normtrain
