#pragma once

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "normtrain/model/model.hpp"
#include "normtrain/train/helper_thread.hpp"

namespace normtrain {

// The gradient of a batch's mean NLL, computed as two slices at once: the first half of the
// batch on the calling thread, the second on a helper thread, each slice's forward and
// backward pass on one CPU thread. At small batches a CPU step's time goes mostly to the
// overhead of its hundred-odd operators, which a single thread pays in sequence and two
// threads splitting every operator pay in wake-ups; two slices pay it side by side.
//
// Only for models whose output for an example depends on that example alone and which draw no
// random numbers (no batch statistics, no dropout; see thread_plan.hpp): the slices' gradients
// then add up to the batch's, up to rounding, and do not depend on which thread ran which.
//
// The first batch whose slices have a size not seen before runs its two slices one after the
// other on the calling thread. Debian 13's oneDNN 3.7.2 (LibTorch 2.6) sometimes crashes when two
// threads first run a convolution of the same new shape at once (docs/debian13-onednn-conv/);
// once a shape has run, concurrent calls are safe. The results are the same either way.
class SlicedGradients {
 public:
  SlicedGradients(NormNet model, std::vector<torch::Tensor> parameters);

  // Sets every parameter's gradient (in the parameter's layout) to that of the mean NLL of the
  // batch `inputs`, `targets` (at least 2 images); returns the batch's log-probabilities,
  // without a graph.
  torch::Tensor compute(const torch::Tensor& inputs, const torch::Tensor& targets);

  // Whether the last compute() ran its slices at once (false: one after the other, the first
  // time its slice sizes were seen).
  bool last_call_was_concurrent() const { return last_call_was_concurrent_; }

 private:
  struct Slice {
    torch::Tensor log_probs;
    std::vector<torch::Tensor> gradients;
  };
  // Forward and backward pass of images [begin, end) of the batch, for a loss summed over the
  // slice and divided by the batch's size.
  Slice run_slice(const torch::Tensor& inputs, const torch::Tensor& targets, std::int64_t begin,
                  std::int64_t end);
  // Images [0, half) on this thread and [half, size) on the helper, at the same time.
  std::pair<Slice, Slice> run_concurrently(const torch::Tensor& inputs,
                                           const torch::Tensor& targets, std::int64_t half);

  NormNet model_;
  std::vector<torch::Tensor> parameters_;
  HelperThread helper_;
  std::set<std::int64_t> seen_slice_sizes_;
  bool last_call_was_concurrent_ = false;
};

}  // namespace normtrain
