#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace normtrain {

enum class SchedulerKind { kNone, kStep, kOneCycle };

std::string to_flag(SchedulerKind kind);
std::optional<SchedulerKind> scheduler_from_flag(const std::string& flag);

// Settings of the learning-rate schedule; the defaults are PyTorch's.
struct ScheduleOptions {
  SchedulerKind kind = SchedulerKind::kNone;
  // step: multiply the rate by `gamma` every `step_size` epochs.
  int step_size = 6;
  double gamma = 0.1;
  // onecycle: cosine rise from max_lr / div_factor to max_lr over the first pct_start of all
  // steps, then cosine fall to max_lr / (div_factor * final_div_factor), per batch.
  double max_lr = 0.1;
  double pct_start = 0.3;
  double div_factor = 25.0;
  double final_div_factor = 1e4;
};

// The learning rate of one SGD step as a pure function of where in training it is, so that a
// resumed run needs no saved scheduler state. `epoch` counts from 1, `batch` from 0.
class LearningRateSchedule {
 public:
  LearningRateSchedule(const ScheduleOptions& options, double base_lr, int epochs,
                       std::int64_t batches_per_epoch);

  double lr_at(int epoch, std::int64_t batch) const;

 private:
  ScheduleOptions options_;
  double base_lr_;
  std::int64_t total_steps_;
  std::int64_t batches_per_epoch_;
};

}  // namespace normtrain
