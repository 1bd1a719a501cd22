#pragma once

#include <torch/torch.h>

namespace normtrain {

// relu(max_pool2d(x, 2)) as one operation with a hand-written backward, for the CPU.
//
// Why: the stock pair costs a pass for the pooling (which also writes 64-bit argmax indices), a
// pass for the ReLU, and in the backward a zero-filled gradient buffer, a scatter through the
// indices and the ReLU's mask: five passes over the largest activations of the network. Here
// the forward is one pass that also notes, per output, where its gradient goes, and
// the backward writes the whole input gradient from those notes in one pass. Windows are 2x2 with
// stride 2. Results equal the stock pair's exactly, ties and NaNs included (the first maximum of a
// window, in row-major order, takes the gradient; a NaN wins its window; where the ReLU blocks,
// even an infinite gradient gives 0). Non-empty channels-last CPU input of even height and width
// takes this path; anything else, the stock operations, with their errors.
torch::Tensor max_pool2_relu(const torch::Tensor& x);

// The module form, for the network's Sequential.
class MaxPool2ReluImpl : public torch::nn::Module {
 public:
  torch::Tensor forward(const torch::Tensor& x) { return max_pool2_relu(x); }
};
TORCH_MODULE(MaxPool2Relu);

}  // namespace normtrain
