#pragma once

#include <cstdint>

#include <torch/torch.h>

namespace normtrain {

// Batch renormalization (Ioffe, 2017) over [N, C, H, W] activations, per channel:
//   training:   y = weight * ((x - mu_B) / sigma_B * r + d) + bias,
//               r = clip(sigma_B / sigma, 1 / r_max, r_max),
//               d = clip((mu_B - mu) / sigma, -d_max, d_max),
//   evaluation: y = weight * (x - mu) / sigma + bias,
// with mu_B and sigma_B = sqrt(var_B + eps) the batch's mean and standard deviation (biased
// variance) over N x H x W, and mu = running_mean, sigma = sqrt(running_var + eps) the moving
// averages. r and d are constants in the backward pass: gradients flow through mu_B and sigma_B
// as in batch normalization. In training the moving averages are then updated as BatchNorm2d
// updates its running statistics (running_var with the unbiased variance), so that in
// evaluation the layer is exactly BatchNorm2d with these buffers, and with r_max = 1, d_max = 0
// training is batch normalization too.
//
// Training with one value per channel is an error, as in BatchNorm2d.
torch::Tensor batch_renorm2d(const torch::Tensor& x, const torch::Tensor& weight,
                             const torch::Tensor& bias, const torch::Tensor& running_mean,
                             const torch::Tensor& running_var, bool training, double r_max,
                             double d_max, double momentum = 0.1, double eps = 1e-5);

struct BatchRenorm2dOptions {
  explicit BatchRenorm2dOptions(std::int64_t num_features) : num_features_(num_features) {}
  // Channels C of the input.
  TORCH_ARG(std::int64_t, num_features);
  TORCH_ARG(double, eps) = 1e-5;
  // Weight of the batch's statistics in each update of the moving averages (BatchNorm2d's).
  TORCH_ARG(double, momentum) = 0.1;
  // The limits once warmed up.
  TORCH_ARG(double, r_max) = 3.0;
  TORCH_ARG(double, d_max) = 5.0;
  // Training steps over which the limits rise linearly from r_max = 1 and d_max = 0 (batch
  // normalization) to their values; 0 uses them from the first step.
  TORCH_ARG(std::int64_t, warmup) = 0;
};

// Batch renormalization as a module with BatchNorm2d's parameters and buffers: weight (gamma),
// bias (beta), running_mean (mu), running_var (sigma^2 - eps) and num_batches_tracked, the
// training steps taken, which drives the warm-up. All are saved and loaded with the module.
class BatchRenorm2dImpl : public torch::nn::Cloneable<BatchRenorm2dImpl> {
 public:
  explicit BatchRenorm2dImpl(const BatchRenorm2dOptions& options);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;
  void load(torch::serialize::InputArchive& archive) override;
  torch::Tensor forward(const torch::Tensor& x);

  // (r_max, d_max) in effect after `steps` training steps.
  std::pair<double, double> limits_after(std::int64_t steps) const;

  BatchRenorm2dOptions options;
  torch::Tensor weight;
  torch::Tensor bias;
  torch::Tensor running_mean;
  torch::Tensor running_var;
  torch::Tensor num_batches_tracked;

 private:
  // Whether num_batches_tracked has reached the warm-up's end: from then on it is not read
  // (on a GPU each read waits for the device). Cleared when the buffers are loaded.
  bool warmed_up_ = false;
};
TORCH_MODULE(BatchRenorm2d);

}  // namespace normtrain
