#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

#include "normtrain/data/batches.hpp"
#include "normtrain/model/model.hpp"
#include "normtrain/train/landscape.hpp"

namespace normtrain {

// What a training forward pass reads and changes besides the weights: the model's buffers
// (BatchNorm's running statistics, which batch renormalization also reads) and the default
// generator of the weights' device (dropout). Taken before a forward pass, it replays that
// pass's conditions; taken after, it undoes what later passes changed.
class ForwardPassState {
 public:
  explicit ForwardPassState(NormNet& model);
  void restore(NormNet& model) const;

 private:
  std::vector<torch::Tensor> buffers_;
  at::Generator generator_;
  torch::Tensor generator_state_;
};

// What a probe needs of the step it probes.
struct ProbedStep {
  std::int64_t step = 0;  // 1-based over the whole run
  int epoch = 0;
  const Batch& batch;
  const torch::Tensor& loss;  // the objective at w, as the step computed it
  double l1 = 0.0;            // the objective's L1 weight (--l1)
  double lr = 0.0;  // the step's learning rate; the probe's step sizes are multiples of it
  // Taken before the step's forward pass: each probe's forward pass starts from the same
  // running statistics and draws the same dropout masks as the step's did.
  const ForwardPassState& before_forward;
};

// Probes the loss along the step's gradient g, which `parameters` hold (the objective's,
// L1 term included, after backward and before the optimizer step): for each of `multiples`,
// the objective and its gradient at w - multiple * lr * g, on the step's batch, with the
// model in training mode as the step ran it. Leaves everything as it found it: the weights
// and their gradients, every buffer and the default generator, bit for bit. Reads the device
// once.
LandscapeProbe probe_landscape(NormNet& model, const std::vector<torch::Tensor>& parameters,
                               const ProbedStep& step, const std::vector<double>& multiples);

}  // namespace normtrain
