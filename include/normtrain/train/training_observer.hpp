#pragma once

#include <cstdint>
#include <vector>

namespace normtrain {

// What one finished epoch measured. Losses are per-sample means; accuracies are percentages.
struct EpochMetrics {
  int epoch = 0;
  // The optimised objective: NLL plus the L1 term when --l1 > 0.
  double train_loss = 0.0;
  // Correct / seen over the epoch's batches, as predicted while training.
  double train_acc = 0.0;
  double test_loss = 0.0;
  double test_acc = 0.0;
  double lr = 0.0;
  // Wall time of the training pass alone, and of the test pass.
  double train_seconds = 0.0;
  double test_seconds = 0.0;
  // The NLL part of train_loss, to see how much of the objective the L1 term is.
  double train_nll = 0.0;
};

// One SGD step: its loss and the epoch's running training accuracy after it.
struct StepMetrics {
  std::int64_t step = 0;  // 1-based over the whole run
  int epoch = 0;
  std::int64_t batch = 0;  // 1-based within the epoch
  double loss = 0.0;
  double train_acc = 0.0;
};

// The training loop reports through this interface and knows nothing of files or consoles.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // After each batch; cheap, and called without reading any value off the device.
  virtual void on_batch_end(int /*epoch*/, std::int64_t /*batch*/, std::int64_t /*batches*/) {}
  // After each epoch's test pass, with every step of that epoch.
  virtual void on_epoch_end(const EpochMetrics& /*epoch*/,
                            const std::vector<StepMetrics>& /*steps*/) {}
};

}  // namespace normtrain
