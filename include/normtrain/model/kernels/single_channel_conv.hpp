#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// A bias-free 3x3 convolution (stride 1, no padding) of one-channel images: the network's first
// layer, with a hand-written forward and weight gradient for the CPU.
//
// Why: oneDNN has no good path for a single input channel. It ran this layer at 15-47 GFLOP/s
// where the other 3x3 layers reach 100-300 (build/bench/normtrain_conv_timing): forward and
// backward took 0.66 ms of a 10.8 ms batch-128 step on Debian 13. Here each output pixel's eight
// channels come from nine multiply-adds of broadcast input pixels, in the taps' row-major order,
// and the weight gradient sums each example's contribution in its own slot, then the slots in
// example order: results do not depend on the thread count or, forward, on the batch. They
// differ from oneDNN's in the last bits, as any other order of the same sums would (tests compare
// them with the stock convolution's, values and gradients).
//
// images: [N, 1, H, W]; weight: [C, 1, 3, 3]; returns [N, C, H - 2, W - 2], channels-last.
// Float or double CPU tensors whose images need no gradient take this path; anything else,
// torch::conv2d, with its errors.
torch::Tensor single_channel_conv3x3(const torch::Tensor& images, const torch::Tensor& weight);

// The module form: Conv2d in every respect (options, weight and its name, initialisation) but the
// forward above.
class SingleChannelConv2dImpl : public torch::nn::Conv2dImpl {
 public:
  explicit SingleChannelConv2dImpl(std::int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& images);
};
TORCH_MODULE(SingleChannelConv2d);

}  // namespace normtrain
