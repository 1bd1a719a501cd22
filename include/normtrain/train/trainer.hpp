#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "normtrain/cli/config.hpp"
#include "normtrain/data/dataset.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/report/evaluation_report.hpp"
#include "normtrain/train/training_observer.hpp"

namespace normtrain {

class DivergenceWatch;
class EpochBatches;
class GraphedStep;
class GraphedTestPass;
class SlicedGradients;

// A model's performance on a data set, with its per-example predictions (on the CPU) for the
// confusion matrix and the misclassified images.
struct EvalResult {
  double loss = 0.0;      // mean per-sample NLL
  double accuracy = 0.0;  // percent
  std::int64_t correct = 0;
  torch::Tensor predictions;  // int64 [N]
  torch::Tensor confidences;  // float [N], probability of the predicted class
};

// How many images evaluation sends through the network at once. Small enough that a batch's
// activations stay in the CPU caches and in the C library's reused heap: at 1,000 the largest
// (24 x 24 x 24 floats per image) took 55 MB, a fresh mmap() and 13,500 page faults per batch.
// The results do not depend on it (see log_probabilities).
inline constexpr std::int64_t kEvalBatchSize = 128;

// The model's log-probabilities [N, 10] for the images of `data` (normalized, not augmented),
// in evaluation mode and without gradients, at most `batch_size` (at least 2) at a time. No
// batch holds a lone image unless `data` does, so that every row is the same whatever
// `batch_size` is.
torch::Tensor log_probabilities(NormNet& model, const TensorDataset& data,
                                std::int64_t batch_size = kEvalBatchSize);

// The model's loss and accuracy on `data`. Each example's loss is added in double, in example
// order, so that loss, accuracy and predictions are the same whatever `batch_size` is.
EvalResult evaluate(NormNet& model, const TensorDataset& data,
                    std::int64_t batch_size = kEvalBatchSize);

// What evaluate says of `data` given the model's log_probabilities for it.
EvalResult evaluation_of(const torch::Tensor& log_probs, const TensorDataset& data);

// The predictions in the torch-free form the report writers take.
TestPredictions to_test_predictions(const EvalResult& result);

// Where and how training diverged: the step's loss or the parameters after it stopped being
// finite.
struct Divergence {
  int epoch = 0;
  std::int64_t step = 0;  // 1-based over the whole run, as in steps.csv
  // e.g. "loss inf", "loss nan", "a parameter or running statistic became nan", "test loss nan"
  std::string reason;
};

// How often the training loop reads its divergence check off the device: every step on the
// CPU, where the value is at hand; every this many steps on a GPU, where a read waits for the
// device, so that a diverged run stops soon without a host sync per step.
inline constexpr std::int64_t kDeviceDivergenceCheckEvery = 50;

// Eager training steps a run takes on a CUDA device before it captures one as a graph: the
// first creates the momentum buffers and gradients the graph then updates in place, and both
// let cuDNN and the allocator settle outside the capture.
inline constexpr std::int64_t kEagerStepsBeforeCapture = 2;

struct EpochResult {
  EpochMetrics metrics;
  std::vector<StepMetrics> steps;
  std::vector<LayerDiagnostics> layers;   // the rows of the epoch's diagnostics steps
  std::vector<LandscapeProbe> landscape;  // the epoch's probed steps
  EvalResult test;                        // the end-of-epoch evaluation, predictions included
  // The pass stopped early because stop_requested() said so; nothing else is valid then.
  bool interrupted = false;
  // The pass stopped early because training diverged; nothing else is valid then.
  std::optional<Divergence> divergence;
};

// Owns the optimizer and runs one epoch at a time; the caller owns the loop over epochs. Its
// constructor checks the model's convolutions (convolution_check.hpp): the model must be on its
// device by then.
class Trainer {
 public:
  // Called after every batch with (batch, batches); must not read values off the device.
  using BatchCallback = std::function<void(std::int64_t, std::int64_t)>;
  // Asked after every batch; true stops the epoch, unfinished.
  using StopCheck = std::function<bool()>;

  Trainer(NormNet model, const TrainConfig& config);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // One training pass over `train` (shuffled and augmented for `epoch`), then a test pass.
  // Stops at the first step whose loss, updated parameters or running statistics are not
  // finite (on a GPU within kDeviceDivergenceCheckEvery steps of it), or after a test pass
  // whose loss is not, with result.divergence saying where.
  EpochResult run_epoch(int epoch, const TensorDataset& train, const TensorDataset& test,
                        const BatchCallback& on_batch = {}, const StopCheck& stop_requested = {});

  NormNet& model() { return model_; }
  torch::optim::SGD& optimizer() { return optimizer_; }
  // The CPU threads a training step uses (training_thread_count; 1 a slice when it is cut into
  // slices); test passes use every one
  // LibTorch was given. On a GPU: LibTorch's count, unchanged.
  int step_threads() const { return step_threads_; }
  // Into how many concurrent slices, each on its own thread, a CPU training step cuts its batch
  // (training_slice_count): 2 for small batches of models that allow it, else 1.
  int step_slices() const { return step_slices_; }
  // "on" when CUDA training steps replay a captured graph (GraphedStep), else "off: " and why.
  const std::string& cuda_graphs() const { return cuda_graphs_; }

 private:
  // Steps batch `index` by replaying a graphed step; its figures [loss, nll, correct, the
  // divergence check] (float32), or on a diagnostics step (`diagnose`) these in float64 followed
  // by its layer_diagnostics_values; nothing when the step could not be captured under
  // --cuda-graphs auto (graphs are then off for the rest of the run).
  torch::Tensor graphed_step(const EpochBatches& batches, std::int64_t index,
                             const TensorDataset& train, const DivergenceWatch& watch,
                             bool diagnose);

  // The end-of-epoch test pass: replayed from a graph where training steps are.
  EvalResult test_pass(const TensorDataset& test);

  NormNet model_;
  TrainConfig config_;
  std::vector<torch::Tensor> parameters_;
  // Parameters and floating-point buffers, checked for divergence after every step.
  std::vector<torch::Tensor> state_;
  torch::optim::SGD optimizer_;
  int step_slices_;
  int step_threads_;
  std::unique_ptr<SlicedGradients> sliced_;  // when step_slices_ is 2
  // When CUDA steps replay graphs: the plain step, and the diagnostics step with its taps.
  std::unique_ptr<GraphedStep> graphed_;
  std::unique_ptr<GraphedStep> graphed_diagnosed_;
  std::unique_ptr<GraphedTestPass> graphed_test_;  // the end-of-epoch test pass, likewise
  std::string cuda_graphs_;
  std::int64_t steps_taken_ = 0;  // by this trainer, for kEagerStepsBeforeCapture
};

}  // namespace normtrain
