#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// RMS normalization of [N, C, H, W] activations per example over C x H x W, without centering,
// then a learned scale per channel:
//   y = weight[c] * x / sqrt(mean over C x H x W of x^2 + eps).
// No statistic crosses examples, so training and evaluation compute the same function.
torch::Tensor rms_norm2d(const torch::Tensor& x, const torch::Tensor& weight, double eps = 1e-5);

struct RmsNorm2dOptions {
  explicit RmsNorm2dOptions(std::int64_t num_features) : num_features_(num_features) {}
  // Channels C of the input.
  TORCH_ARG(std::int64_t, num_features);
  // As the layer and group norms here (GroupNorm's default).
  TORCH_ARG(double, eps) = 1e-5;
};

// RMS normalization as a module with one parameter, weight (the per-channel scale, initially
// 1); there is no bias.
class RmsNorm2dImpl : public torch::nn::Cloneable<RmsNorm2dImpl> {
 public:
  explicit RmsNorm2dImpl(const RmsNorm2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  RmsNorm2dOptions options;
  torch::Tensor weight;
};
TORCH_MODULE(RmsNorm2d);

}  // namespace normtrain
