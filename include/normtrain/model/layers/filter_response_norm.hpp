#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// Filter response normalization with its thresholded linear unit (Singh & Krishnan, 2020) over
// [N, C, H, W] activations:
//   nu^2 = mean over H x W of x^2, per example and channel,
//   y = weight * x / sqrt(nu^2 + eps) + bias,
//   z = max(y, tau),
// with weight (gamma), bias (beta) and tau one value per channel. No mean is subtracted and no
// statistic crosses examples, so training and evaluation compute the same function. The TLU is
// the activation: a block with FRN has no ReLU.
torch::Tensor filter_response_norm_tlu2d(const torch::Tensor& x, const torch::Tensor& weight,
                                         const torch::Tensor& bias, const torch::Tensor& tau,
                                         double eps = 1e-6);

struct FilterResponseNormTlu2dOptions {
  explicit FilterResponseNormTlu2dOptions(std::int64_t num_features)
      : num_features_(num_features) {}
  // Channels C of the input.
  TORCH_ARG(std::int64_t, num_features);
  // The paper's value for convolutional layers. It matters only where nu^2 can be tiny: with
  // few positions (the paper learns eps for 1x1 maps); this network's smallest maps are 6x6.
  TORCH_ARG(double, eps) = 1e-6;
};

// FRN + TLU as one module, with timm's FilterResponseNormTlu2d parameter names: weight (gamma,
// initially 1), bias (beta, 0) and tau (0).
class FilterResponseNormTlu2dImpl : public torch::nn::Cloneable<FilterResponseNormTlu2dImpl> {
 public:
  explicit FilterResponseNormTlu2dImpl(const FilterResponseNormTlu2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  torch::Tensor forward(const torch::Tensor& x);

  FilterResponseNormTlu2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor tau;
};
TORCH_MODULE(FilterResponseNormTlu2d);

}  // namespace normtrain
