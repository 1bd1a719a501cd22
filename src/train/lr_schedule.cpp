#include "normtrain/train/lr_schedule.hpp"

#include <algorithm>
#include <cmath>

namespace normtrain {
namespace {

// Cosine interpolation from `start` (fraction 0) to `end` (fraction 1), as PyTorch's OneCycleLR.
double cosine_anneal(double start, double end, double fraction) {
  return end + (start - end) / 2.0 * (1.0 + std::cos(M_PI * fraction));
}

}  // namespace

std::string to_flag(SchedulerKind kind) {
  switch (kind) {
    case SchedulerKind::kNone:
      return "none";
    case SchedulerKind::kStep:
      return "step";
    case SchedulerKind::kOneCycle:
      return "onecycle";
  }
  return "?";
}

std::optional<SchedulerKind> scheduler_from_flag(const std::string& flag) {
  for (SchedulerKind kind :
       {SchedulerKind::kNone, SchedulerKind::kStep, SchedulerKind::kOneCycle}) {
    if (to_flag(kind) == flag) return kind;
  }
  return std::nullopt;
}

LearningRateSchedule::LearningRateSchedule(const ScheduleOptions& options, double base_lr,
                                           int epochs, std::int64_t batches_per_epoch)
    : options_(options),
      base_lr_(base_lr),
      total_steps_(static_cast<std::int64_t>(epochs) * batches_per_epoch),
      batches_per_epoch_(batches_per_epoch) {}

double LearningRateSchedule::lr_at(int epoch, std::int64_t batch) const {
  switch (options_.kind) {
    case SchedulerKind::kNone:
      return base_lr_;
    case SchedulerKind::kStep:
      return base_lr_ * std::pow(options_.gamma, (epoch - 1) / options_.step_size);
    case SchedulerKind::kOneCycle: {
      const double step = static_cast<double>((epoch - 1) * batches_per_epoch_ + batch);
      const double initial = options_.max_lr / options_.div_factor;
      const double minimum = initial / options_.final_div_factor;
      // PyTorch's phase ends: the peak at step pct_start * total - 1, the minimum at total - 1.
      const double peak_step = options_.pct_start * static_cast<double>(total_steps_) - 1.0;
      const double last_step = static_cast<double>(total_steps_) - 1.0;
      if (step <= peak_step) {
        return cosine_anneal(initial, options_.max_lr, peak_step > 0 ? step / peak_step : 1.0);
      }
      const double fraction = (step - peak_step) / std::max(last_step - peak_step, 1.0);
      return cosine_anneal(options_.max_lr, minimum, std::min(fraction, 1.0));
    }
  }
  return base_lr_;
}

}  // namespace normtrain
