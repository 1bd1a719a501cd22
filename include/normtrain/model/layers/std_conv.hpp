#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// Weight standardization (Qiao et al., 2019) as timm's StdConv2d computes it: each output
// channel's weight is standardized over its fan-in (in_channels x kernel x kernel),
//   w_hat = (w - mean(w)) / sqrt(var(w) + eps)   (biased variance),
// and the convolution uses w_hat. Gradients flow through the standardization to w.
torch::Tensor standardize_weight(const torch::Tensor& weight, double eps = 1e-6);

struct StdConv2dOptions {
  StdConv2dOptions(std::int64_t in_channels, std::int64_t out_channels, std::int64_t kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(kernel_size) {}
  TORCH_ARG(std::int64_t, in_channels);
  TORCH_ARG(std::int64_t, out_channels);
  // Square kernels, stride 1, no padding and no bias: what this network's convolutions use.
  TORCH_ARG(std::int64_t, kernel_size);
  // timm's StdConv2d default.
  TORCH_ARG(double, eps) = 1e-6;
};

// A bias-free convolution with a standardized weight; its parameter, weight, is initialised as
// Conv2d's (Kaiming uniform with a = sqrt(5)), so that it maps onto timm's StdConv2d.
class StdConv2dImpl : public torch::nn::Cloneable<StdConv2dImpl> {
 public:
  explicit StdConv2dImpl(const StdConv2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  StdConv2dOptions options;
  torch::Tensor weight;
};
TORCH_MODULE(StdConv2d);

}  // namespace normtrain
