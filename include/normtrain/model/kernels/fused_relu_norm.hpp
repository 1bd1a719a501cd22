#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// norm(relu(x)) as one operation with a hand-written backward, for the CPU.
//
// Why: in the stock path every block runs ReLU, then the norm, each with its own passes over
// memory and its own backward, and LibTorch 1.13 has no channels-last GroupNorm CPU kernel, so
// GroupNorm converts layouts twice a layer. Here the ReLU is folded into the statistics and
// the output pass, and the backward needs two passes over channels-last memory. Inputs in any
// layout are accepted; the result is channels-last. Other devices, more than 64 channels, other
// types and inputs that are not 4-D use the stock operations.
//
// Results match the stock operations' (tests check values and gradients in double). Bad
// arguments throw a c10::Error that names the argument and the expected and actual sizes;
// statistics stay accurate when the mean is large against the spread (centered sums, combined
// in double); the ReLU's backward gives 0, not NaN, where its input is <= 0, whatever the
// incoming gradient.

// Group normalization of relu(x) over (C / groups) x H x W per example, then a per-channel
// affine transform. groups = 1 is layer normalization over C x H x W.
torch::Tensor relu_group_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, std::int64_t groups, double eps = 1e-5);

// Batch normalization of relu(x). In training it normalizes with the batch statistics and
// updates the running ones (running_var with the unbiased variance, as BatchNorm2d does); in
// evaluation it uses the running statistics.
// Training with one value per channel is an error, as in BatchNorm2d.
torch::Tensor relu_batch_norm(const torch::Tensor& x, const torch::Tensor& weight,
                              const torch::Tensor& bias, torch::Tensor running_mean,
                              torch::Tensor running_var, bool training, double momentum = 0.1,
                              double eps = 1e-5);

// ReLU followed by GroupNorm(groups, channels), as one module with GroupNorm's parameters.
class ReluGroupNormImpl : public torch::nn::Module {
 public:
  ReluGroupNormImpl(std::int64_t groups, std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

  std::int64_t groups;
  torch::Tensor weight;
  torch::Tensor bias;
};
TORCH_MODULE(ReluGroupNorm);

// ReLU followed by BatchNorm2d(channels), as one module with BatchNorm2d's parameters and
// buffers (running_mean, running_var, num_batches_tracked).
class ReluBatchNormImpl : public torch::nn::Module {
 public:
  explicit ReluBatchNormImpl(std::int64_t channels);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;
};
TORCH_MODULE(ReluBatchNorm);

}  // namespace normtrain
