#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "normtrain/train/landscape.hpp"

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
  // The test pass with precise BatchNorm statistics (--precise-bn); none otherwise.
  std::optional<double> test_loss_precise;
  std::optional<double> test_acc_precise;
};

// One SGD step: its loss and the epoch's running training accuracy after it.
struct StepMetrics {
  std::int64_t step = 0;  // 1-based over the whole run
  int epoch = 0;
  std::int64_t batch = 0;  // 1-based within the epoch
  double loss = 0.0;
  double train_acc = 0.0;
};

// One normalized block at one step (a row of layers.csv): what entered its norm (after the
// ReLU) and what left it, its convolution's weight, gradient and update, and the norm's affine
// parameters.
struct LayerDiagnostics {
  std::int64_t step = 0;  // 1-based over the whole run
  int epoch = 0;
  int layer = 0;     // 1-based block number
  std::string name;  // "block1" ...
  double in_mean = 0.0;
  double in_std = 0.0;
  double in_zero_frac = 0.0;  // fraction of exact zeros
  double out_mean = 0.0;
  double out_std = 0.0;
  double weight_norm = 0.0;   // L2 norm of the block's convolution weight, before the step
  double grad_norm = 0.0;     // of its gradient (of the optimised objective, L1 term included)
  double update_ratio = 0.0;  // |w_after - w_before| / |w_before| for this step
  std::optional<double> gamma_mean;  // the norm's weight; none for --norm none
  std::optional<double> beta_mean;   // the norm's bias; none for none and rms
};

// The training loop reports through this interface and knows nothing of files or consoles.
class TrainingObserver {
 public:
  virtual ~TrainingObserver() = default;
  // After each batch; cheap, and called without reading any value off the device.
  virtual void on_batch_end(int /*epoch*/, std::int64_t /*batch*/, std::int64_t /*batches*/) {}
  // After each epoch's test pass and before on_epoch_end, with the layers.csv rows of the
  // epoch's diagnostics steps (none when --diagnostics-every is 0).
  virtual void on_layer_diagnostics(const std::vector<LayerDiagnostics>& /*rows*/) {}
  // After each epoch's test pass and before on_epoch_end, with the epoch's landscape probes
  // (none when --landscape-every is 0).
  virtual void on_landscape(const std::vector<LandscapeProbe>& /*probes*/) {}
  // After each epoch's test pass, with every step of that epoch.
  virtual void on_epoch_end(const EpochMetrics& /*epoch*/,
                            const std::vector<StepMetrics>& /*steps*/) {}
};

}  // namespace normtrain
