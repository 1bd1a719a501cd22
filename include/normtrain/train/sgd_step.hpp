#pragma once

#include <vector>

#include <torch/optim/sgd.h>

namespace normtrain {

// One step of `optimizer`, with results equal to the bit to `optimizer.step()`'s and the same
// state (momentum buffers a checkpoint saves), in a third of the time at this model's size.
// LibTorch's step costs three operator calls a parameter, one of which wraps the momentum in a
// tensor and converts it; at small batches those calls are a measurable share of a step.
void sgd_step(torch::optim::SGD& optimizer);

// Sets the gradients of `parameters` to zero where they are, rather than dropping them as
// LibTorch 2's zero_grad does: a captured CUDA graph keeps writing to the same memory.
void zero_gradients_in_place(const std::vector<torch::Tensor>& parameters);

}  // namespace normtrain
