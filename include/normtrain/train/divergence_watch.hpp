#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

namespace normtrain {

// A step of a training pass that diverged: its 0-based index in the pass and why.
struct DivergedStep {
  std::int64_t index = 0;
  // e.g. "loss inf", "loss nan", "a parameter or running statistic became nan"
  std::string reason;
};

// Watches a training pass for the first step whose loss, or whose model state after the
// update, is not finite. With `read_every` 1 and the state on the CPU each step is checked as it
// is recorded, in one pass over the state's memory. Otherwise a step's check is queued where the
// state is (on a GPU: without waiting for it) as one fused reduction, and the checks are read
// every `read_every` steps: a read waits for the device.
class DivergenceWatch {
 public:
  // `state`: the tensors an update can break (parameters and floating-point buffers).
  DivergenceWatch(std::vector<torch::Tensor> state, std::int64_t read_every);

  // Records the next step: its loss (a value without graph), the state just updated.
  void record(const torch::Tensor& loss);
  // The same with the step's check already computed by check_value (inside a captured CUDA
  // graph, say); only when the watch does not check directly.
  void record(const torch::Tensor& loss, const torch::Tensor& check);

  // A step's queued check: the loss plus the sum of every state value, not finite exactly when
  // one of them is not (or when the sum overflows, which is divergence too). Launches work only,
  // reads nothing.
  torch::Tensor check_value(const torch::Tensor& loss) const;

  // The first diverged step, once known. Reads the pending checks when they are due, or when
  // `last` says no step follows.
  std::optional<DivergedStep> poll(bool last);

 private:
  std::optional<DivergedStep> read_pending();

  std::vector<torch::Tensor> state_;
  std::int64_t read_every_;
  bool direct_;  // each step checked as recorded, by one pass over CPU memory
  std::vector<torch::Tensor> pending_;  // device checks of steps [checked_, recorded)
  std::vector<torch::Tensor> losses_;   // their losses, for the reason
  std::int64_t checked_ = 0;            // steps [0, checked_) are known to be finite
  std::optional<DivergedStep> diverged_;
};

}  // namespace normtrain
