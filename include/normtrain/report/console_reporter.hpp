#pragma once

#include <optional>

#include "normtrain/report/progress_bar.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

// Logs one line per epoch, and draws a progress bar during an epoch when stderr is a terminal.
class ConsoleReporter : public TrainingObserver {
 public:
  ConsoleReporter(int total_epochs, bool show_progress);

  void on_batch_end(int epoch, std::int64_t batch, std::int64_t batches) override;
  void on_epoch_end(const EpochMetrics& epoch, const std::vector<StepMetrics>& steps) override;

 private:
  int total_epochs_;
  std::optional<ProgressBar> progress_;
};

}  // namespace normtrain
