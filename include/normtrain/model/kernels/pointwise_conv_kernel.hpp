#pragma once

#include <cstdint>

#include <torch/torch.h>

#include "normtrain/model/layers/pointwise_conv.hpp"

namespace normtrain {

// A bias-free 1x1 convolution of channels-last CPU activations by hand-written loops, forward and
// backward: the network's transition (24 -> 18 channels at 24 x 24) and its head (16 -> 10 at
// 1 x 1).
//
// Why: both are small matrix products, and oneDNN's fixed cost per call dominates them. At batch 4
// on Debian 13 the head's forward and backward took 0.12 ms for 640 multiply-adds, and the two
// layers together 0.27 ms of a 1.1 ms step (build/bench/normtrain_conv_timing); each call pays for
// descriptors, a primitive-cache lookup and a reorder of the weight. Here an output pixel's
// channels are sums of broadcast input values times a weight row, built in registers for three or
// four pixels at a time, in input-channel order; the tail pixels run the same operations one at a
// time. So a pixel's outputs do not depend on the batch, its split between threads or its
// neighbours. The weight gradient sums each example's pixels in order in a slot of its own, then
// the slots in example order: the same for any thread count. The results differ from oneDNN's in
// the last bits, as any other order of the same sums would (tests compare them with the stock
// convolution's, values and gradients).
//
// x: [N, C, H, W] with N, H, W > 0; weight: [O, C, 1, 1]; returns [N, O, H, W], channels-last.
// Both float or both double, on the CPU (can_fuse_pointwise_conv); throws c10::Error otherwise.
torch::Tensor fused_pointwise_conv(const torch::Tensor& x, const torch::Tensor& weight);
bool can_fuse_pointwise_conv(const torch::Tensor& x, const torch::Tensor& weight);

// The module form: PointwiseConv2d in every respect (options, weight and its name,
// initialisation) but the forward above where it can; PointwiseConv2d's elsewhere (a GPU).
class FusedPointwiseConv2dImpl : public PointwiseConv2dImpl {
 public:
  FusedPointwiseConv2dImpl(std::int64_t in_channels, std::int64_t out_channels);
  torch::Tensor forward(const torch::Tensor& x);
};
TORCH_MODULE(FusedPointwiseConv2d);

}  // namespace normtrain
