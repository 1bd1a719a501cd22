#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include <torch/torch.h>

#include "normtrain/train/cuda_graph.hpp"

namespace normtrain {

// A training step on a CUDA device replayed from a captured graph: one launch instead of a few
// hundred operator calls. The step's batch is named by example indices and rotation angles,
// copied before each replay into tensors that stay in place; the step is captured again when
// the learning rate, which the captured update keeps, has changed.
class GraphedStep {
 public:
  // The step's work on the batch these indices and angles draw (EpochBatches::picked/angles):
  // returns the figures to keep, which the replays overwrite.
  using Body =
      std::function<torch::Tensor(const torch::Tensor& picked, const torch::Tensor& angles)>;

  GraphedStep(std::int64_t batch_size, torch::Device device);

  // Runs `body` for this batch at learning rate `lr` (capturing it first when needed) and
  // returns its figures, copied out of the graph's memory. Only for full batches of
  // `batch_size`; on the stream of a CudaStreamScope.
  torch::Tensor run(const torch::Tensor& picked, const torch::Tensor& angles, double lr,
                    const Body& body);

  // How many times the step was captured (once, plus once per change of learning rate).
  std::int64_t captures() const { return captures_; }

 private:
  torch::Tensor picked_;
  torch::Tensor angles_;
  torch::Tensor figures_;
  std::optional<double> captured_lr_;
  CudaGraph graph_;
  std::int64_t captures_ = 0;
};

}  // namespace normtrain
